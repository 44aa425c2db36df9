"""list, show, outputs, audit: reading stores and their history."""

from __future__ import annotations

import click

from . import render
from .main import AppContext, cli

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@cli.command("list")
@json_option
@click.pass_obj
def list_cmd(app: AppContext, as_json):
    """List the stores the state backend knows, with their catalog status.

    \b
    Example:
      storekit list --json | jq '.[].slug'
    """
    catalog = {s.slug: s for s in app.kit.catalog.stores()}
    rows = []
    for s in app.kit.list():
        record = catalog.get(s.slug)
        rows.append({"slug": s.slug, "name": record.name if record else None,
                     "status": record.status if record else None,
                     "tier": record.tier if record else None, "url": record.url if record else None,
                     "resources": s.resource_count, "last_update": s.last_update,
                     "updating": s.update_in_progress})
    if as_json:
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(render.table(rows, ["slug", "name", "status", "tier", "url", "last_update"]))
    else:
        click.echo("No stores. Create one with: storekit apply NAME --email EMAIL")


@cli.command("show")
@click.argument("name")
@json_option
@click.pass_obj
def show_cmd(app: AppContext, name, as_json):
    """Show a store: outputs, catalog record and recent timeline.

    \b
    Example:
      storekit show "My Shop"
    """
    outputs = app.kit.outputs(name)
    record = app.kit.catalog.store(outputs.slug)
    events = app.kit.catalog.events(outputs.slug)[-20:]
    data = {"outputs": outputs.to_dict(), "catalog": record.to_dict() if record else None,
            "events": [e.to_dict() for e in events]}
    if as_json:
        click.echo(render.to_json(data))
        return
    for key, value in outputs.to_dict().items():
        click.echo(f"{key + ':':<13}{'' if value is None else value}")
    if record:
        click.echo(f"{'created:':<13}{record.to_dict()['created_at']}")
        if record.error_message:
            click.echo(f"{'error:':<13}{record.error_message}")
    if events:
        click.echo("\nTimeline:")
        click.echo(render.table([e.to_dict() for e in events], ["created_at", "step", "status", "resource",
                                                                  "seconds"]))


@cli.command("outputs")
@click.argument("name")
@click.option("--reveal", is_flag=True, help="Also print the admin password.")
@json_option
@click.pass_obj
def outputs_cmd(app: AppContext, name, reveal, as_json):
    """Print a store's URLs and admin user (the password only with --reveal).

    \b
    Example:
      storekit outputs "My Shop" --reveal
    """
    data = app.kit.outputs(name).to_dict()
    if reveal:
        data["admin_password"] = app.kit.reveal_admin_password(name)
    if as_json:
        click.echo(render.to_json(data))
    else:
        for key, value in data.items():
            click.echo(f"{key + ':':<16}{'' if value is None else value}")


@cli.command("audit")
@click.option("--store", help="Only entries about this store (name or slug).")
@click.option("--action", help="Only this action (apply, destroy, restart, reset-password, unlock).")
@click.option("--since", help="Only entries newer than this: 30m, 2h, 7d or an ISO date.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@json_option
@click.pass_obj
def audit_cmd(app: AppContext, store, action, since, limit, as_json):
    """The audit trail: who did what to which store, from where, and how it went.

    \b
    Examples:
      storekit audit --store "My Shop" --since 1h
      storekit audit --action destroy --json
    """
    from storekit.catalog import parse_since
    from storekit.spec import slugify

    entries = app.kit.catalog.audit_entries(store=slugify(store) if store else None, action=action,
                                            since=parse_since(since), limit=limit)
    rows = [e.to_dict() for e in entries]
    if as_json:
        click.echo(render.to_json(rows))
    elif rows:
        click.echo(render.table(rows, ["created_at", "action", "resource_id", "actor", "source", "outcome",
                                       "ip_address"], ["TIME", "ACTION", "STORE", "ACTOR", "SOURCE", "OUTCOME", "IP"]))
    else:
        click.echo("No audit entries match.")
