"""Approvals bound to a plan's hash: the optional two-person rule (``STOREKIT_TWO_PERSON``).

An admin submits a plan (``storekit plan ... --submit``, or applying a previewed plan in
the dashboard or API, which submits it); it is saved under an id with its hash
(``Plan.hash``: what the plan does, not when it was made). A *different* admin approves
that id (``storekit approve ID``, the dashboard, ``POST /api/plans/ID/approve``); the same
admin approving their own plan is refused. Only then can a plan with that exact hash be
applied, by anyone. An approved plan that went stale is still refused at apply: the hash
covers the fingerprint of the recorded state, and apply checks it (``StalePlan``).

Each step is audited with both actors: ``plan-submitted``, ``plan-approved``, and the
apply's own entry names who submitted and who approved.
"""

from __future__ import annotations

from .errors import ApprovalRequired, SpecError
from .plan import Plan
from .recorder import Actor


def saved_plan(kit, plan_id: str) -> tuple[str, Plan]:
    """(slug, plan) of a saved plan id; SpecError naming ``plan_id`` when unknown or expired."""
    saved = kit.catalog.plans.get(plan_id) if isinstance(plan_id, str) else None
    if saved is None:
        raise SpecError([("plan_id", "is not a saved plan (unknown, or older than a day): plan it again")],
                        subject="approval")
    return saved[0], Plan.from_dict(saved[1])


def submit(kit, plan: Plan, actor: Actor, plan_id: str | None = None):
    """Record ``plan`` (saved under ``plan_id``, or saved now) as submitted by ``actor``."""
    plan_id = plan_id or kit.catalog.plans.save(plan.store, plan.to_dict())
    with kit.audited("plan-submitted", plan.store, plan.name, actor, {"plan": plan_id, "hash": plan.hash}):
        record = kit.catalog.approvals.submit(plan_id, plan.store, plan.hash, actor.name)
    return record


def approve(kit, plan_id: str, actor: Actor):
    """Approve a submitted plan as ``actor``, who must not be its submitter."""
    slug, plan = saved_plan(kit, plan_id)
    details = {"plan": plan_id, "hash": plan.hash}
    with kit.audited("plan-approved", slug, plan.name, actor, details):
        record = kit.catalog.approvals.get(plan_id)
        if record is None:
            raise ApprovalRequired(f"plan {plan_id} was not submitted for approval",
                                   hint="Submit it first: storekit plan ... --submit.")
        details["submitted_by"] = record.submitted_by
        if record.submitted_by == actor.name:
            raise ApprovalRequired(f"{actor.name} submitted plan {plan_id} and cannot approve it too",
                                   hint="The two-person rule needs a different admin to approve it.")
        if record.approved:
            raise ApprovalRequired(f"plan {plan_id} is already approved by {record.approved_by}")
        if kit.gateway.fingerprint(slug) != plan.fingerprint:
            from .errors import StalePlan

            raise StalePlan(slug)
        record = kit.catalog.approvals.approve(plan_id, actor.name)
        details["approved_by"] = record.approved_by
    return record


def require(kit, plan: Plan, details: dict) -> None:
    """Under the two-person rule, refuse a plan no second admin approved (by its hash);
    record who submitted and who approved in the apply's audit ``details``."""
    if not kit.settings.two_person:
        return
    record = kit.catalog.approvals.approved_for(plan.hash)
    if record is None:
        raise ApprovalRequired(
            f"the two-person rule is on and this plan of store '{plan.store}' ({plan.hash[:19]}...) "
            "has no approval",
            hint="Submit it (storekit plan ... --submit) and have a different admin run `storekit approve ID`.")
    details.update(plan=record.id, submitted_by=record.submitted_by, approved_by=record.approved_by)
