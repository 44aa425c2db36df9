"""plan, apply, destroy, drift: changing stores the Terraform way."""

from __future__ import annotations

import re

import click

from storekit.errors import ApprovalRequired, PolicyViolation, SpecError, StoreNotFound
from storekit.policy import blocking
from storekit.fleet import FleetPlan, load_fleet, load_plan_file
from storekit.plan import Plan
from storekit.engines import registry, tier_names
from storekit.spec import StoreSpec, expiry_from_ttl

from . import render
from .context import AppContext, Progress, confirm
from .rollout_cmds import rollout_options, rollout_settings, run_rollout

PLAN_ID = re.compile(r"[0-9a-f]{32}")
GOVERNANCE_ERRORS = (PolicyViolation.kind, ApprovalRequired.kind)
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print a JSON document (see docs/plan-format.md) instead of text.")
detailed_option = click.option("--detailed-exitcode", is_flag=True,
                               help="Exit 0 for no changes, 2 for changes, 1 for errors.")


def spec_options(f):
    f = click.option("--ttl", metavar="DURATION",
                     help="A preview store: destroyed by the reaper after 90m, 12h, 7d (sets expires_at).")(f)
    f = click.option("--email", "admin_email", metavar="EMAIL", help="Admin email (required for a new store).")(f)
    f = click.option("--tier", type=click.Choice(tier_names()), help="Size of the store (default small).")(f)
    f = click.option("--engine", type=click.Choice(sorted(registry())),
                     help="Store engine (default woocommerce).")(f)
    return f


def desired_spec(app: AppContext, name: str, **flags) -> StoreSpec:
    """The spec for NAME: its desired spec (the service's one source, as the dashboard's)
    with the given flags changed, or a new one."""
    ttl = flags.pop("ttl", None)
    if ttl is not None:
        flags["expires_at"] = expiry_from_ttl(ttl)
        if flags["expires_at"] is None:
            raise SpecError([("ttl", "must be a duration like 90m, 12h or 7d")])
    try:
        base = app.service.desired_spec(name)
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


expand_option = click.option("--expand", is_flag=True,
                             help="Fleets: list every store of each group and the group's property changes.")


def show_plan(app: AppContext, plan: Plan | FleetPlan, expand: bool = False) -> None:
    if isinstance(plan, FleetPlan):
        for store, message in plan.errors:
            click.echo(f"Error planning store '{store}': {message}", err=True)
        click.echo(render.fleet_text(plan, expand=expand, color=app.color))
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
@click.option("--submit", is_flag=True,
              help="Submit the plan for approval (two-person rule): prints its id for `storekit approve`.")
@expand_option
@json_option
@detailed_option
@click.pass_context
def plan_cmd(ctx, name, file, prune, admin_email, ttl, tier, engine, destroy, refresh, out, submit, expand, as_json,
             detailed_exitcode):
    """Show what applying would change, without changing anything.

    For an existing store, give only what changes; for a new one, --email too.

    \b
    Examples:
      storekit plan "My Shop" --email owner@example.com --out plan.json
      storekit plan "My Shop" --tier medium --detailed-exitcode
      storekit plan -f stores.yaml --prune --out fleet.json
      storekit plan -f stores.yaml --expand    # every store of each group of identical change
      storekit plan "My Shop" --destroy --out destroy.json

    A fleet's plan is shown grouped by identical change ("14 stores: tier small →
    medium; 3 stores: new (small)"); --json has the groups and every store's plan.
    """
    ctx.meta["storekit.detailed_exitcode"] = detailed_exitcode
    app: AppContext = ctx.obj
    if destroy:
        if not name or file:
            raise click.UsageError("--destroy needs a store NAME")
        plan = app.kit.plan_destroy(name)
    else:
        plan = make_plan(app, name, file, prune, refresh,
                         {"admin_email": admin_email, "tier": tier, "engine": engine, "ttl": ttl})
    if out:
        plan.save(out)
    submitted = None
    if submit:
        if isinstance(plan, FleetPlan):
            raise click.UsageError("--submit takes one store's plan; a fleet is approved store by store")
        from storekit import approvals

        submitted = approvals.submit(app.kit, plan, app.kit.actor)
    if as_json:
        click.echo(render.to_json({**plan.to_dict(), **({"plan_id": submitted.id} if submitted else {})}))
    else:
        show_plan(app, plan, expand)
        if out:
            click.echo(f"\nSaved the plan to {out}. Apply exactly this plan with: storekit apply {out}")
        if submitted:
            click.echo(f"\nSubmitted for approval as plan {submitted.id} ({submitted.plan_hash[:19]}...). "
                       f"A different admin approves it with: storekit approve {submitted.id}")
    if isinstance(plan, FleetPlan) and plan.errors:
        ctx.exit(1)
    if detailed_exitcode and plan.has_changes:
        ctx.exit(2)


def apply_and_report(app: AppContext, ctx, plan: Plan | FleetPlan, as_json: bool) -> None:
    if isinstance(plan, FleetPlan):
        progress = Progress(not as_json, prefix=True)
        result = app.kit.apply_many([p for p in plan.plans if p.has_changes], on_event=progress)
        unplanned = plan.errors  # stores that could not be planned were not applied: they failed too
        if as_json:
            doc = result.to_dict()
            if unplanned:
                doc.update(ok=False, plan_errors=[{"store": s, "message": m} for s, m in unplanned])
            click.echo(render.to_json(doc))
        else:
            for item in result.items:
                status = "ok" if item.ok else f"FAILED: {item.error}"
                click.echo(f"{item.store}: {status}")
            for store, message in unplanned:
                click.echo(f"{store}: FAILED to plan: {message}")
            click.echo(f"Apply complete: {len(result.items) - len(result.failed)} of "
                       f"{len(result.items) + len(unplanned)} stores in {result.seconds:.1f}s.")
        if not result.ok or unplanned:
            governed = not unplanned and all(i.error_kind in GOVERNANCE_ERRORS for i in result.failed)
            ctx.exit(PolicyViolation.exit_code if governed else 1)
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
@click.argument("target", required=False, metavar="[PLAN_FILE | PLAN_ID | NAME]")
@click.option("-f", "--file", type=click.Path(dir_okay=False), help="Fleet file (YAML) declaring many stores.")
@click.option("--prune", is_flag=True, help="With -f: also destroy stores the file does not list.")
@spec_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking for 'yes'.")
@rollout_options
@json_option
@click.pass_context
def apply_cmd(ctx, target, file, prune, admin_email, ttl, tier, engine, auto_approve, waves, max_unavailable, bake, gate,
              as_json):
    """Apply a saved plan exactly, or plan and apply a store or a fleet.

    A saved plan is refused when its store changed since the plan was made, when a
    mandatory policy blocks it (exit 8), and, under the two-person rule, until a second
    admin approved it (PLAN_ID is the id `plan --submit` printed).

    \b
    Examples:
      storekit apply plan.json
      storekit apply 3f1c0d8e9a7b4c2d1e0f9a8b7c6d5e4f      # an approved plan, by its id
      storekit apply "My Shop" --email owner@example.com --auto-approve
      storekit apply -f stores.yaml --prune
      storekit apply -f stores.yaml --waves 1,10%,50%,100% --max-unavailable 2

    With --waves (or a fleet file's rollout: section) a fleet rolls out in waves, each
    followed by a health gate; a failed gate halts it (see `storekit rollout`).
    """
    app: AppContext = ctx.obj
    rollout = rollout_settings(file, waves=waves, max_unavailable=max_unavailable, bake=bake, gate=gate)
    if target and target.endswith(".json") and not file:
        plan = load_plan_file(target)
        if rollout is not None:
            if not isinstance(plan, FleetPlan):
                raise click.UsageError("--waves rolls out a fleet: give -f FLEET_FILE or a saved fleet plan")
            run_rollout(app, ctx, plan, rollout, as_json)
            return
        apply_and_report(app, ctx, plan, as_json)
        return
    if rollout is not None:
        if not file:
            raise click.UsageError("--waves rolls out a fleet: give -f FLEET_FILE or a saved fleet plan")
        plan = make_plan(app, None, file, prune, None, {})
        if not as_json:
            show_plan(app, plan)
        if plan.has_changes:
            confirm(app, auto_approve)
            run_rollout(app, ctx, plan, rollout, as_json)
        return
    if target and PLAN_ID.fullmatch(target) and not file:  # a saved (submitted) plan, by its id
        from storekit import approvals

        apply_and_report(app, ctx, approvals.saved_plan(app.kit, target)[1], as_json)
        return
    plan = make_plan(app, target, file, prune, None,
                     {"admin_email": admin_email, "tier": tier, "engine": engine, "ttl": ttl})
    review_and_apply(app, ctx, plan, auto_approve, as_json)


def review_and_apply(app: AppContext, ctx, plan: Plan | FleetPlan, auto_approve: bool, as_json: bool) -> None:
    """Show the plan, ask for 'yes' (unless auto-approved), apply it; nothing to do stops
    early, except a destroy: a store whose first apply failed before creating anything
    still has a stack (and a catalog entry) to remove."""
    removes_a_stack = isinstance(plan, Plan) and plan.action == "destroy"
    if as_json and not plan.has_changes and not removes_a_stack:
        click.echo(render.to_json(plan.to_dict()))
    if not as_json:
        show_plan(app, plan)
    if not plan.has_changes and not removes_a_stack:
        if isinstance(plan, FleetPlan) and plan.errors:
            ctx.exit(1)  # nothing else to do, but some stores could not even be planned
        return
    if isinstance(plan, Plan) and plan.blocked:  # no point asking for 'yes'
        raise PolicyViolation(plan.store, blocking(plan.policy))
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


COMMANDS = [plan_cmd, apply_cmd, destroy_cmd]
