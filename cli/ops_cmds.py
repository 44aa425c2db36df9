"""health, logs, restart, reset-password, unlock: day-2 operations on a store."""

from __future__ import annotations

import click

from storekit.engines import components

from . import render
from .context import AppContext, confirm


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@click.command("health")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def health_cmd(ctx, name, as_json):
    """Pods (with CPU and memory from metrics-server, where the cluster has it), volumes and
    quota usage of a store, read live, and what its setup said a person must know
    ("WooCommerce not installed: <reason>"). Exit 1 when unhealthy.

    \b
    Example:
      storekit health "My Shop"
    """
    h = ctx.obj.kit.health(name)
    if as_json:
        click.echo(render.to_json(h.to_dict()))
    else:
        click.echo(f"Store '{h.store}' ({h.namespace}): {'healthy' if h.healthy else 'UNHEALTHY'}\n")
        for notice in h.notices:
            click.echo(f"Note: {notice}\n")
        columns = ["name", "component", "phase", "ready", "restarts", "age", "node"]
        click.echo(render.table([{**p.__dict__, "age": _age(p.age_seconds)} for p in h.pods],
                                columns + (["cpu", "memory"] if h.metrics else [])))
        click.echo()
        click.echo(render.table([v.__dict__ for v in h.volumes],
                                ["name", "phase", "capacity", "requested", "storage_class"]))
        click.echo()
        click.echo(render.table([{**q.__dict__, "percent": f"{q.percent}%" if q.percent is not None else ""}
                                 for q in h.quota], ["resource", "used", "hard", "percent"]))
    if not h.healthy:
        ctx.exit(1)


@click.command("logs")
@click.argument("name")
@click.argument("component", required=False)
@click.option("--tail", type=click.IntRange(0, None), default=200, show_default=True, help="Lines from the end.")
@click.option("--since", type=click.IntRange(1, None), help="Only lines newer than this many seconds.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.pass_obj
def logs_cmd(app: AppContext, name, component, tail, since, follow):
    """Print the logs of a store's COMPONENT (default: its engine's main one) or of a pod.

    \b
    Examples:
      storekit logs "My Shop" mysql --tail 50
      storekit logs "My Shop" -f
    """
    for line in app.kit.logs(name, component, tail=tail, since=since, follow=follow):
        click.echo(line, nl=not line.endswith("\n"))


@click.command("restart")
@click.argument("name")
@click.option("--component", type=click.Choice(["all", *components()]), default="all", show_default=True,
              help="What to restart: all of the store's components, or one.")
@click.pass_obj
def restart_cmd(app: AppContext, name, component):
    """Rollout-restart a store's pods and wait until the new ones are ready.

    \b
    Example:
      storekit restart "My Shop" --component wordpress
    """
    click.echo(f"Restarting {component} of store '{name}' ...", err=True)
    click.echo(app.service.restart(name, component, app.kit.actor, now=True).text)


@click.command("reset-password")
@click.argument("name")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def reset_password_cmd(app: AppContext, name, auto_approve):
    """Give the store's WordPress admin a new password, shown once.

    \b
    Example:
      storekit reset-password "My Shop" --auto-approve
    """
    click.echo(f"This replaces the admin password of store '{name}'.", err=True)
    confirm(app, auto_approve)
    password = app.service.reset_password(name, app.kit.actor, now=True)
    click.echo("New admin password (shown once; `storekit outputs NAME --reveal` shows it again):")
    click.echo(password)


@click.command("unlock")
@click.argument("name")
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def unlock_cmd(app: AppContext, name, auto_approve):
    """Clear a lock left by a crashed storekit process (never while one runs).

    \b
    Example:
      storekit unlock "My Shop"
    """
    click.echo(f"Only clear the lock of store '{name}' if no storekit process is changing it.", err=True)
    confirm(app, auto_approve)
    app.kit.unlock(name)
    click.echo("Lock cleared.")


COMMANDS = [health_cmd, logs_cmd, restart_cmd, reset_password_cmd, unlock_cmd]
