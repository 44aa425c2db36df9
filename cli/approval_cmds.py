"""approve, approvals: the two-person rule (``STOREKIT_TWO_PERSON``), bound to a plan's hash."""

from __future__ import annotations

import click

from . import render
from .context import AppContext, confirm


@click.command("approve")
@click.argument("plan_id")
@click.option("--yes", "auto_approve", is_flag=True, help="Approve without asking for 'yes'.")
@click.option("--json", "as_json", is_flag=True, help="Print the approval as JSON.")
@click.pass_obj
def approve_cmd(app: AppContext, plan_id, auto_approve, as_json):
    """Approve a submitted plan, as a different admin than the one who submitted it.

    The approval is bound to the plan's hash: only exactly that plan can then be applied
    (`storekit apply PLAN_ID`), and only while its store has not changed since.

    \b
    Example:
      STOREKIT_ACTOR=bob storekit approve 3f1c0d8e9a7b4c2d1e0f9a8b7c6d5e4f --yes
    """
    from storekit import approvals

    slug, plan = approvals.saved_plan(app.kit, plan_id)
    if not as_json:
        click.echo(render.plan_text(plan, color=app.color))
        click.echo(f"\nHash: {plan.hash}")
    confirm(app, auto_approve)
    record = approvals.approve(app.kit, plan_id, app.kit.actor)
    if as_json:
        click.echo(render.to_json({**record.to_dict(), "hash": plan.hash}))
    else:
        click.echo(f"Approved plan {record.id} of store '{slug}' (submitted by {record.submitted_by}, "
                   f"approved by {record.approved_by}). Apply it with: storekit apply {record.id}")


@click.command("approvals")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def approvals_cmd(app: AppContext, as_json):
    """List submitted plans and who approved them.

    \b
    Example:
      storekit approvals
    """
    rows = [{**r.to_dict(), "state": "approved" if r.approved else "waiting"}
            for r in app.kit.catalog.approvals.pending()]
    if as_json:
        click.echo(render.to_json(rows))
    else:
        click.echo(render.table(rows, ["id", "store", "state", "submitted_by", "approved_by", "submitted_at"]))


COMMANDS = [approve_cmd, approvals_cmd]
