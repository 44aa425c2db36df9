"""drift: what changed behind storekit's back, for one store or all, rated; revert or accept it."""

from __future__ import annotations

import click

from storekit.views import drift_text

from . import render
from .context import AppContext, Progress, confirm


@click.command("drift")
@click.argument("name", required=False)
@click.option("--all", "all_stores", is_flag=True, help="Check every ready store (in parallel) and rate each.")
@click.option("--revert", is_flag=True, help="Put the store back to its desired spec (audited drift-revert).")
@click.option("--accept", is_flag=True,
              help="Take the live size into the spec: shows the plan (a tier change), then applies it.")
@click.option("--auto-approve", is_flag=True, help="With --revert or --accept: do not ask for 'yes'.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 for no drift, 2 for drift, 1 for errors.")
@click.pass_context
def drift_cmd(ctx, name, all_stores, revert, accept, auto_approve, as_json, detailed_exitcode):
    """Show what changed in the cluster behind storekit's back, rated by severity.

    critical: an isolation object (NetworkPolicy, ResourceQuota, LimitRange) changed or
    missing; warning: sizes and other objects; info: labels and annotations only. Every
    check is kept in the catalog (the dashboard's Drift page); workers check every store
    each STOREKIT_DRIFT_INTERVAL seconds.

    \b
    Examples:
      storekit drift "My Shop" --detailed-exitcode   # exit 2 when drifted
      storekit drift --all
      storekit drift "My Shop" --revert               # apply the desired spec again
      storekit drift "My Shop" --accept               # adopt the live size into the spec
    """
    from storekit import driftwatch

    ctx.meta["storekit.detailed_exitcode"] = detailed_exitcode
    app: AppContext = ctx.obj
    if bool(name) == all_stores:
        raise click.UsageError("give a store NAME or --all")
    if all_stores and (revert or accept) or revert and accept:
        raise click.UsageError("--revert and --accept take one store NAME, and one of them")
    if revert or accept:
        act(app, ctx, name, accept, auto_approve, as_json)
        return
    if all_stores:
        results = driftwatch.sweep(app.kit)
        if as_json:
            click.echo(render.to_json([r.to_dict() for r in results]))
        else:
            rows = [{"store": r.store, "severity": r.severity,
                     "drift": r.error or "; ".join(drift_text(c) for c in r.changes) or "-"} for r in results]
            click.echo(render.table(rows, ["store", "severity", "drift"]) if rows else "No ready stores.")
        drifted = any(r.severity not in ("none",) for r in results)
    else:
        result = driftwatch.check(app.kit, name)
        if result.error:
            from storekit.errors import StorekitError

            raise StorekitError(result.error)
        if as_json:
            click.echo(render.to_json(result.to_dict()))
        elif result.changes:
            click.echo(f"Store '{result.store}' drifted ({result.severity}):")
            for c in result.changes:
                click.echo(f"  [{driftwatch.change_severity(c)}] {drift_text(c)}")
            click.echo("Revert it with `storekit drift NAME --revert`, or adopt a changed size with --accept.")
        else:
            click.echo(f"No drift: store '{result.store}' matches its recorded state.")
        drifted = bool(result.changes)
    if detailed_exitcode and drifted:
        ctx.exit(2)


def act(app: AppContext, ctx, name: str, accept: bool, auto_approve: bool, as_json: bool) -> None:
    from storekit import driftwatch

    progress = Progress(not as_json, prefix=False)
    if accept:
        plan = driftwatch.accept_plan(app.kit, name)
        if not as_json:
            click.echo(render.plan_text(plan, color=app.color))
        confirm(app, auto_approve)
        result = driftwatch.accept(app.kit, plan, on_event=progress)
    else:
        confirm(app, auto_approve)
        result = driftwatch.revert(app.kit, name, on_event=progress)
    if as_json:
        click.echo(render.to_json(result.to_dict()))
    else:
        verb = "accepted into the spec" if accept else "reverted"
        click.echo(f"Drift of store '{result.store}' {verb} in {result.seconds:.1f}s.")


COMMANDS = [drift_cmd]
