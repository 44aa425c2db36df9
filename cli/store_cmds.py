"""plan, apply, destroy, drift: changing stores the Terraform way."""

from __future__ import annotations

import click

from storekit.errors import SpecError, StoreNotFound
from storekit.fleet import FleetPlan, load_fleet, load_plan_file
from storekit.plan import Plan
from storekit.engines import registry, tier_names
from storekit.spec import StoreSpec
from storekit.views import drift_text

from . import render
from .context import AppContext, Progress, confirm

json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print a JSON document (see docs/plan-format.md) instead of text.")
detailed_option = click.option("--detailed-exitcode", is_flag=True,
                               help="Exit 0 for no changes, 2 for changes, 1 for errors.")


def spec_options(f):
    f = click.option("--email", "admin_email", metavar="EMAIL", help="Admin email (required for a new store).")(f)
    f = click.option("--tier", type=click.Choice(tier_names()), help="Size of the store (default small).")(f)
    f = click.option("--engine", type=click.Choice(sorted(registry())),
                     help="Store engine (default woocommerce).")(f)
    return f


def desired_spec(app: AppContext, name: str, **flags) -> StoreSpec:
    """The spec for NAME: the recorded one with the given flags changed, or a new one."""
    try:
        base = app.kit.spec_of(name)
    except StoreNotFound:
        if not flags.get("admin_email"):
            raise SpecError([("admin_email", "is required for a new store (use --email)")]) from None
        return StoreSpec(name=name, **{k: v for k, v in flags.items() if v is not None})
    return base.with_changes(**flags)


def make_plan(app: AppContext, name, file, prune, refresh, flags) -> Plan | FleetPlan:
    if file and name:
        raise click.UsageError("give a store NAME or -f FLEET_FILE, not both")
    if prune and not file:
        raise click.UsageError("--prune applies to a fleet file (-f)")
    if file:
        return app.kit.plan_fleet(load_fleet(file), prune=prune, refresh=refresh)
    if not name:
        raise click.UsageError("give a store NAME or -f FLEET_FILE")
    return app.kit.plan(desired_spec(app, name, **flags), refresh=refresh)


def show_plan(app: AppContext, plan: Plan | FleetPlan) -> None:
    if isinstance(plan, FleetPlan):
        for p in plan.plans:
            if p.has_changes or p.drift:
                click.echo(render.plan_text(p, color=app.color))
                click.echo()
        for store, message in plan.errors:
            click.echo(f"Error planning store '{store}': {message}", err=True)
        click.echo(plan.summary.text + ("" if plan.has_changes else " Every store matches its spec."))
    else:
        click.echo(render.plan_text(plan, color=app.color))


@click.command("plan")
@click.argument("name", required=False)
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="Fleet file (YAML) declaring many stores.")
@click.option("--prune", is_flag=True, help="With -f: also plan to destroy stores the file does not list.")
@spec_options
@click.option("--destroy", is_flag=True, help="Plan the destruction of store NAME.")
@click.option("--refresh/--no-refresh", default=None,
              help="--refresh: always run the engine's refresh against the live cluster. --no-refresh: "
                   "compare with the recorded state only. Default: refreshed, but without the engine when "
                   "the store's live objects provably are those of its last apply.")
@click.option("--out", type=click.Path(dir_okay=False), help="Save the plan to apply it later.")
@json_option
@detailed_option
@click.pass_context
def plan_cmd(ctx, name, file, prune, admin_email, tier, engine, destroy, refresh, out, as_json,
             detailed_exitcode):
    """Show what applying would change, without changing anything.

    For an existing store, give only what changes; for a new one, --email too.

    \b
    Examples:
      storekit plan "My Shop" --email owner@example.com --out plan.json
      storekit plan "My Shop" --tier medium --detailed-exitcode
      storekit plan -f stores.yaml --prune --out fleet.json
      storekit plan "My Shop" --destroy --out destroy.json
    """
    ctx.meta["storekit.detailed_exitcode"] = detailed_exitcode
    app: AppContext = ctx.obj
    if destroy:
        if not name or file:
            raise click.UsageError("--destroy needs a store NAME")
        plan = app.kit.plan_destroy(name)
    else:
        plan = make_plan(app, name, file, prune, refresh,
                         {"admin_email": admin_email, "tier": tier, "engine": engine})
    if out:
        plan.save(out)
    if as_json:
        click.echo(render.to_json(plan.to_dict()))
    else:
        show_plan(app, plan)
        if out:
            click.echo(f"\nSaved the plan to {out}. Apply exactly this plan with: storekit apply {out}")
    if isinstance(plan, FleetPlan) and plan.errors:
        ctx.exit(1)
    if detailed_exitcode and plan.has_changes:
        ctx.exit(2)


def apply_and_report(app: AppContext, ctx, plan: Plan | FleetPlan, as_json: bool) -> None:
    if isinstance(plan, FleetPlan):
        progress = Progress(not as_json, prefix=True)
        result = app.kit.apply_many([p for p in plan.plans if p.has_changes], on_event=progress)
        if as_json:
            click.echo(render.to_json(result.to_dict()))
        else:
            for item in result.items:
                status = "ok" if item.ok else f"FAILED: {item.error}"
                click.echo(f"{item.store}: {status}")
            click.echo(f"Apply complete: {len(result.items) - len(result.failed)} of {len(result.items)} "
                       f"stores in {result.seconds:.1f}s.")
        if not result.ok:
            ctx.exit(1)
        return
    result = app.kit.apply(plan, on_event=Progress(not as_json, prefix=False))
    if as_json:
        click.echo(render.to_json(result.to_dict()))
        return
    s = result.summary
    if result.action == "noop":
        click.echo(f"Nothing to apply: store '{result.store}' already matches the plan.")
    elif result.action == "destroy":
        click.echo(f"\nDestroy complete! Store '{result.store}': {s['destroy']} destroyed in {result.seconds:.1f}s.")
        return
    else:
        click.echo(f"\nApply complete! Resources: {s['add']} added, {s['change']} changed, "
                   f"{s['destroy']} destroyed in {result.seconds:.1f}s.")
    if result.outputs:
        o = result.outputs
        click.echo(f"\nStore:     {o.name} ({o.slug}, {o.tier})\nURL:       {o.url}\nAdmin URL: {o.admin_url}"
                   f"\nAdmin:     {o.admin_user} (password: storekit outputs {o.slug} --reveal)")


@click.command("apply")
@click.argument("target", required=False, metavar="[PLAN_FILE | NAME]")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="Fleet file (YAML) declaring many stores.")
@click.option("--prune", is_flag=True, help="With -f: also destroy stores the file does not list.")
@spec_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking for 'yes'.")
@json_option
@click.pass_context
def apply_cmd(ctx, target, file, prune, admin_email, tier, engine, auto_approve, as_json):
    """Apply a saved plan exactly, or plan and apply a store or a fleet.

    A saved plan is refused when its store changed since the plan was made.

    \b
    Examples:
      storekit apply plan.json
      storekit apply "My Shop" --email owner@example.com --auto-approve
      storekit apply -f stores.yaml --prune
    """
    app: AppContext = ctx.obj
    if target and target.endswith(".json") and not file:
        plan = load_plan_file(target)
        apply_and_report(app, ctx, plan, as_json)
        return
    plan = make_plan(app, target, file, prune, None, {"admin_email": admin_email, "tier": tier, "engine": engine})
    review_and_apply(app, ctx, plan, auto_approve, as_json)


def review_and_apply(app: AppContext, ctx, plan: Plan | FleetPlan, auto_approve: bool, as_json: bool) -> None:
    """Show the plan, ask for 'yes' (unless auto-approved), apply it; nothing to do stops early."""
    if as_json and not plan.has_changes:
        click.echo(render.to_json(plan.to_dict()))
    if not as_json:
        show_plan(app, plan)
    if not plan.has_changes:
        return
    confirm(app, auto_approve)
    apply_and_report(app, ctx, plan, as_json)


@click.command("destroy")
@click.argument("name")
@click.option("--auto-approve", is_flag=True, help="Destroy without asking for 'yes'.")
@json_option
@click.pass_context
def destroy_cmd(ctx, name, auto_approve, as_json):
    """Remove every object of a store and its stack.

    \b
    Example:
      storekit destroy "My Shop" --auto-approve
    """
    app: AppContext = ctx.obj
    review_and_apply(app, ctx, app.kit.plan_destroy(name), auto_approve, as_json)


@click.command("drift")
@click.argument("name")
@click.option("--refresh", is_flag=True, help="Always run the engine's refresh (by default it is skipped "
                                              "when the live objects provably are those of the last apply).")
@json_option
@detailed_option
@click.pass_context
def drift_cmd(ctx, name, refresh, as_json, detailed_exitcode):
    """Show what changed in the cluster behind storekit's back.

    \b
    Example:
      storekit drift "My Shop" --detailed-exitcode   # exit 2 when drifted
    """
    ctx.meta["storekit.detailed_exitcode"] = detailed_exitcode
    report = ctx.obj.kit.drift(name, refresh=True if refresh else None)
    if as_json:
        click.echo(render.to_json(report.to_dict()))
    elif report.has_drift:
        click.echo(f"Store '{report.store}' drifted:")
        for c in report.changes:
            click.echo("  " + drift_text(c))
        click.echo("Run `storekit apply` for the store to restore it.")
    else:
        click.echo(f"No drift: store '{report.store}' matches its recorded state.")
    if detailed_exitcode and report.has_drift:
        ctx.exit(2)


COMMANDS = [plan_cmd, apply_cmd, destroy_cmd, drift_cmd]
