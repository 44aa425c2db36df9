"""The dashboard's Fleet pages: paste a fleet file, read its plan grouped by identical change;
follow staged rollouts wave by wave (``/rollouts``), resume a halted one or roll its waves
back (queued as jobs for the workers); drift with revert and accept.

A plan runs the engine for every store, so it runs on the form's POST only, rate limited
like a store's preview; the groups come from the library (``storekit.grouping``) and the
lines from its views (``storekit.views.group_lines``), as ``storekit plan -f`` prints them.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for

from storekit.errors import StorekitError
from storekit.views import group_lines

from .auth import actor, require
from .extensions import caller_key, limiter, plan_limit
from .service import svc

bp = Blueprint("fleet", __name__)
EXAMPLE = """defaults:
  tier: small
stores:
  - name: My Test Shop
    admin_email: owner@example.com
"""


@bp.app_template_global("group_lines")
def _group_lines(group, expand=True):
    return group_lines(group, expand=expand)


@bp.get("/fleet")
@require("viewer", ui=True)
def fleet():
    return render_template("fleet.html", text=EXAMPLE, fleet=None, error=None)


@bp.post("/fleet/plan")
@require("viewer", ui=True)
@limiter.limit(plan_limit, key_func=caller_key)
def plan():
    text = request.form.get("fleet", "")[:60000]
    try:
        return render_template("fleet.html", text=text, fleet=svc().plan_fleet(text), error=None)
    except StorekitError as e:
        return render_template("fleet.html", text=text, fleet=None, error=str(e)), e.http_status


@bp.get("/rollouts")
@require("viewer", ui=True)
def rollouts():
    return render_template("rollouts.html", rollouts=g.kit.catalog.rollouts.recent(), rollout=None)


@bp.get("/rollouts/<int(max=2147483647):rollout_id>")
@require("viewer", ui=True)
def rollout(rollout_id):
    """One rollout's waves; the page refreshes itself while the rollout runs (live progress)."""
    record = g.kit.catalog.rollouts.get(rollout_id)
    if record is None:
        abort(404)
    jobs = [j for j in svc().jobs(f"rollout-{rollout_id}") if j.status in ("queued", "running")]
    return render_template("rollouts.html", rollouts=None, rollout=record, jobs=jobs)


@bp.post("/rollouts/<int(max=2147483647):rollout_id>/resume")
@require("admin", ui=True)
def rollout_resume(rollout_id):
    return _queued(rollout_id, lambda: svc().resume_rollout(rollout_id, actor("web")),
                   f"Resuming rollout {rollout_id}: its failed stores converge, then the later waves follow")


@bp.post("/rollouts/<int(max=2147483647):rollout_id>/rollback")
@require("admin", ui=True)
def rollout_rollback(rollout_id):
    all_waves = request.form.get("all") == "1"
    return _queued(rollout_id, lambda: svc().rollback_rollout(rollout_id, actor("web"), all_waves=all_waves),
                   f"Rolling back {'every applied wave' if all_waves else 'the latest applied wave'} of "
                   f"rollout {rollout_id}")


def _queued(rollout_id: int, submit, said: str):
    """Queue a rollout's job, say so (or why not), back to the rollout's page."""
    try:
        flash(f"{said} (job {submit().id}).", "ok")
    except StorekitError as e:
        flash(str(e), "error")
    return redirect(url_for("fleet.rollout", rollout_id=rollout_id))


@bp.get("/drift")
@require("viewer", ui=True)
def drift():
    """The latest drift check of every store, worst first (the workers' scheduled checks,
    `storekit drift --all`), with revert and accept per store."""
    from storekit.driftwatch import SEVERITIES

    checks = sorted(g.kit.catalog.drift.all(), key=lambda c: (-(SEVERITIES.index(c.severity)
                                                               if c.severity in SEVERITIES else 9), c.store))
    return render_template("drift.html", checks=checks, preview=None, slug=None)


@bp.post("/drift/<slug:slug>/revert")
@require("admin", ui=True)
def drift_revert(slug):
    try:
        job = svc().revert_drift(slug, actor("web"))
        flash(f"Reverting the drift of '{slug}': the desired spec is applied again (job {job.id}).", "ok")
    except StorekitError as e:
        flash(str(e), "error")
    return redirect(url_for("fleet.drift"))


@bp.post("/drift/<slug:slug>/accept")
@require("admin", ui=True)
@limiter.limit(plan_limit, key_func=caller_key)
def drift_accept(slug):
    """Show the plan that takes the live size into the spec; its Apply button applies exactly it."""
    try:
        preview = svc().accept_drift_preview(slug)
    except StorekitError as e:
        flash(str(e), "error")
        return redirect(url_for("fleet.drift"))
    return render_template("drift.html", checks=g.kit.catalog.drift.all(), preview=preview, slug=slug)


@bp.post("/drift/<slug:slug>/accept/apply")
@require("admin", ui=True)
def drift_accept_apply(slug):
    try:
        job = svc().accept_drift(slug, request.form.get("plan_id", ""), actor("web"))
        flash(f"Accepting the live size of '{slug}' into its spec (job {job.id}).", "ok")
    except StorekitError as e:
        flash(str(e), "error")
    return redirect(url_for("fleet.drift"))


@bp.app_template_global("expiry")
def _expiry(store):
    """("none" | "ok" | "expiring" | "expired", expires_at) of a store record."""
    from storekit.schedule import expiry_state

    return expiry_state(store.spec, current_app.extensions["storekit"].settings.expiry_grace)
