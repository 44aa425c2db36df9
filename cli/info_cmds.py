"""list, show, outputs, audit: reading stores and their history."""

from __future__ import annotations

import click

from . import render
from storekit.vocabulary import AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT

from .context import AppContext

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.command("list")
@json_option
@click.pass_obj
def list_cmd(app: AppContext, as_json):
    """List the stores in the catalog, with their status (the same list the dashboard shows).

    \b
    Example:
      storekit list --json | jq '.[].slug'
    """
    rows = [s.to_dict() for s in app.service.stores()]
    if as_json:
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(render.table(rows, ["slug", "name", "status", "tier", "url", "updated_at"],
                                ["SLUG", "NAME", "STATUS", "TIER", "URL", "UPDATED"]))
    else:
        click.echo("No stores. Create one with: storekit apply NAME --email EMAIL")


@click.command("show")
@click.argument("name")
@json_option
@click.pass_obj
def show_cmd(app: AppContext, name, as_json):
    """Show a store: outputs, catalog record and its timeline (one line per step).

    \b
    Example:
      storekit show "My Shop"
    """
    outputs = app.kit.outputs(name)
    record = app.kit.catalog.store(outputs.slug)
    timeline = app.service.timeline(outputs.slug) if record else None
    if as_json:
        click.echo(render.to_json({"outputs": outputs.to_dict(), "catalog": record.to_dict() if record else None,
                                   "timeline": timeline.to_dict() if timeline else None}))
        return
    for key, value in outputs.to_dict().items():
        click.echo(f"{key + ':':<13}{'' if value is None else value}")
    if record:
        click.echo(f"{'created:':<13}{record.to_dict()['created_at']}")
        if record.error_message:
            click.echo(f"{'error:':<13}{record.error_message}")
    if timeline and timeline.operations:
        click.echo("\nTimeline:")
        click.echo(render.timeline_text(timeline, color=app.color))


@click.command("outputs")
@click.argument("name")
@click.option("--reveal", is_flag=True,
              help="Also print the secrets: the admin password and the engine's secret outputs (Medusa's publishable key).")
@json_option
@click.pass_obj
def outputs_cmd(app: AppContext, name, reveal, as_json):
    """Print a store's URLs and admin user; its secrets (the admin password, a Medusa
    store's publishable key) only with --reveal, named otherwise.

    \b
    Examples:
      storekit outputs "My Shop" --reveal
      storekit outputs "Medusa Shop" --reveal --json | jq -r .publishable_key
    """
    data = app.kit.outputs(name).to_dict()
    if reveal:
        data.update(app.kit.reveal_outputs(name))
    if as_json:
        click.echo(render.to_json(data))
    else:
        hidden = data.pop("secret_outputs")
        if not reveal:
            data.update({key: "(secret: --reveal shows it)" for key in hidden})
        for key, value in data.items():
            if key == "notices":
                value = "; ".join(value) or None
            click.echo(f"{key + ':':<17}{'' if value is None else value}")


@click.command("audit")
@click.option("--store", help="Only entries about this store (name or slug).")
@click.option("--action", help="Only this action (apply, destroy, restart, reset-password, unlock).")
@click.option("--since", help="Only entries newer than this: 30m, 2h, 7d or an ISO date.")
@click.option("--limit", type=click.IntRange(1, AUDIT_MAX_LIMIT), default=AUDIT_DEFAULT_LIMIT, show_default=True,
              help="At most this many entries, newest first.")
@json_option
@click.pass_obj
def audit_cmd(app: AppContext, store, action, since, limit, as_json):
    """The audit trail: who did what to which store, from where, and how it went.

    \b
    Examples:
      storekit audit --store "My Shop" --since 1h
      storekit audit --action destroy --json
    """
    entries = app.service.audit(store=store, action=action, since=since, limit=limit)
    rows = [e.to_dict() for e in entries]
    if as_json:
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(render.table(rows, ["created_at", "action", "resource_id", "actor", "source", "outcome",
                                       "ip_address"], ["TIME", "ACTION", "STORE", "ACTOR", "SOURCE", "OUTCOME", "IP"]))
    else:
        click.echo("No audit entries match.")


COMMANDS = [list_cmd, show_cmd, outputs_cmd, audit_cmd]
