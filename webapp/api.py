"""The REST API under /api (see /api/openapi.json). Bearer tokens; JSON in and out.

Every route is a few lines over the library's service layer (``storekit.service``), the
one the CLI uses: the same store list, the same desired spec, the same audit limits.
Long work is a job (202 with the job); ``GET /api/jobs/<id>`` follows it.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, jsonify

from storekit.errors import SpecError
from storekit.redact import clip
from storekit.service import AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, STORE_PAGE_DEFAULT, STORE_PAGE_MAX

from .auth import actor, require
from .extensions import action_limit, caller_key, limiter, plan_limit
from .guards import int_arg, json_body, text_arg
from .openapi import SPEC
from .service import fields, svc

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_ID = 2**31 - 1  # job ids fit a 32-bit column on every database
BACKUP_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}")


def _create_limit() -> str:
    return current_app.config["CREATE_LIMIT"]


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)


@bp.get("/stores")
@require("viewer")
def list_stores():
    """A page of the stores (``limit``, ``offset``), searched by name or slug (``q``) and
    filtered by ``status`` and ``tier``; ``total`` says how many match."""
    subject = "store filter"
    limit = int_arg("limit", STORE_PAGE_DEFAULT, 1, STORE_PAGE_MAX, subject=subject)
    offset = int_arg("offset", 0, 0, 10_000_000, subject=subject)
    stores, total = svc().store_page(q=text_arg("q", max_length=63, subject=subject),
                                     status=text_arg("status", max_length=20, subject=subject),
                                     tier=text_arg("tier", max_length=20, subject=subject), limit=limit, offset=offset)
    return jsonify(stores=[s.to_dict() for s in stores], total=total, limit=limit, offset=offset,
                   queue=svc().queue())


@bp.post("/stores")
@require("admin")
@limiter.limit(_create_limit)
def create_store():
    store, job = svc().create(fields(json_body(), "store spec"), actor("api"),
                              max_stores=int(current_app.config["MAX_STORES"]))
    return jsonify(store=store.to_dict(), job=job.to_dict()), 202


@bp.get("/stores/<slug:slug>")
@require("viewer")
def get_store(slug):
    store = svc().store(slug)
    return jsonify(store=store.to_dict(), jobs=[j.to_dict() for j in svc().jobs(slug)])


@bp.patch("/stores/<slug:slug>")
@require("admin")
@limiter.limit(action_limit)
def change_store(slug):
    """``{"plan_id"}``: apply exactly a previewed plan (409 with a fresh one when stale);
    ``{"tier"}``: a change the worker plans afresh."""
    data = fields(json_body(), "store spec")
    if "plan_id" in data:
        if set(data) != {"plan_id"}:
            raise SpecError([("body", "give either plan_id or the fields to change, not both")])
        job = svc().apply_previewed(slug, data["plan_id"], actor("api"))
    else:
        job = svc().change(slug, data, actor("api"))
    return jsonify(job=job.to_dict()), 202


@bp.delete("/stores/<slug:slug>")
@require("admin")
@limiter.limit(action_limit)
def delete_store(slug):
    return jsonify(job=svc().destroy(slug, actor("api")).to_dict()), 202


@bp.post("/stores/<slug:slug>/plan")
@require("viewer")
@limiter.limit(plan_limit, key_func=caller_key)
def plan_store(slug):
    return jsonify(svc().preview(slug, fields(json_body(), "store spec")).to_dict())


@bp.post("/fleet/plan")
@require("viewer")
@limiter.limit(plan_limit, key_func=caller_key)
def plan_fleet():
    """``{"fleet": "<fleet file YAML>"}``: every store's plan, grouped by identical change."""
    data = json_body()
    problems = [(clip(k, 40), "is not a field of a fleet plan request") for k in sorted(set(data) - {"fleet"})]
    if not isinstance(data.get("fleet"), str) or len(data["fleet"]) > 60000:
        problems.append(("fleet", "is required: a fleet file's YAML text (at most 60000 characters)"))
    if problems:
        raise SpecError(problems, subject="fleet plan request")
    return jsonify(svc().plan_fleet(data["fleet"]).to_dict())


@bp.get("/drift")
@require("viewer")
def drift():
    """The latest drift check of every store: severity and what drifted."""
    return jsonify(checks=[c.to_dict() for c in g.kit.catalog.drift.all()])


@bp.post("/stores/<slug:slug>/drift/revert")
@require("admin")
@limiter.limit(action_limit)
def drift_revert(slug):
    return jsonify(job=svc().revert_drift(slug, actor("api")).to_dict()), 202


@bp.post("/stores/<slug:slug>/drift/accept")
@require("admin")
@limiter.limit(plan_limit, key_func=caller_key)
def drift_accept(slug):
    """``{}``: the plan that takes the live size into the spec, shown first (with its
    ``plan_id``); ``{"plan_id"}``: exactly that plan, queued as a job (202)."""
    data = _only(json_body(required=False), ("plan_id",), "drift accept request")
    if "plan_id" in data and not isinstance(data["plan_id"], str):
        raise SpecError([("plan_id", "must be the plan_id of an accept plan (a string)")],
                        subject="drift accept request")
    if "plan_id" not in data:
        return jsonify(svc().accept_drift_preview(slug).to_dict())
    return jsonify(job=svc().accept_drift(slug, data["plan_id"], actor("api")).to_dict()), 202


@bp.post(f"/rollouts/<int(max={MAX_ID}):rollout_id>/resume")
@require("admin")
@limiter.limit(action_limit)
def rollout_resume(rollout_id):
    """Resume a halted rollout: its failed stores converge to their planned spec, then the
    later waves follow (queued as a job, 202; 409 unless halted)."""
    _only(json_body(required=False), (), "rollout request")
    return jsonify(job=svc().resume_rollout(rollout_id, actor("api")).to_dict()), 202


@bp.post(f"/rollouts/<int(max={MAX_ID}):rollout_id>/rollback")
@require("admin")
@limiter.limit(action_limit)
def rollout_rollback(rollout_id):
    """Roll back the latest applied wave (``{"all": true}``: every one), queued as a job."""
    data = _only(json_body(required=False), ("all",), "rollout request")
    if not isinstance(data.get("all", False), bool):
        raise SpecError([("all", "must be true or false")], subject="rollout request")
    job = svc().rollback_rollout(rollout_id, actor("api"), all_waves=data.get("all", False))
    return jsonify(job=job.to_dict()), 202


def _only(data: dict, allowed: tuple, subject: str) -> dict:
    """``data`` when it has no field but ``allowed``; else one 400 naming each stranger."""
    strangers = sorted(set(data) - set(allowed))
    if strangers:
        raise SpecError([(clip(k, 40), f"is not a field of a {subject}"
                          + (f" (only {', '.join(allowed)})" if allowed else " (send no body)"))
                         for k in strangers], subject=subject)
    return data


@bp.get("/rollouts")
@require("viewer")
def rollouts():
    return jsonify(rollouts=[r.to_dict() for r in g.kit.catalog.rollouts.recent()])


@bp.get(f"/rollouts/<int(max={MAX_ID}):rollout_id>")
@require("viewer")
def rollout(rollout_id):
    """A staged rollout's waves and where it stands (live while it runs)."""
    record = g.kit.catalog.rollouts.get(rollout_id)
    if record is None:
        from werkzeug.exceptions import NotFound

        raise NotFound(f"no rollout {rollout_id}")
    return jsonify(record.to_dict())


@bp.get("/plans/<planid:plan_id>")
@require("viewer")
def saved_plan(plan_id):
    """A saved plan as it was shown, with its approval (two-person rule)."""
    return jsonify(svc().saved_plan(plan_id))


@bp.post("/plans/<planid:plan_id>/approve")
@require("admin")
@limiter.limit(action_limit)
def approve_plan(plan_id):
    """Approve a submitted plan; 403 for the admin who submitted it."""
    return jsonify(approval=svc().approve(plan_id, actor("api")).to_dict())


@bp.get("/stores/<slug:slug>/events")
@require("viewer")
def events(slug):
    timeline = svc().timeline(slug)  # a deleted store keeps its history
    return jsonify(status=timeline.status, events=[e.to_dict() for e in g.kit.catalog.events(timeline.store)],
                   timeline=timeline.to_dict())


@bp.get("/stores/<slug:slug>/health")
@require("viewer")
def health(slug):
    svc().store(slug)
    return jsonify(g.kit.health(slug).to_dict())


@bp.get("/stores/<slug:slug>/logs/<name:pod>")
@require("viewer")
def logs(slug, pod):
    svc().store(slug)
    tail = int_arg("tail", 200, 1, 5000, subject="logs request")
    lines = list(g.kit.logs(slug, pod, tail=tail))
    return jsonify(pod=pod, lines=[line.rstrip("\n") for line in lines])


@bp.post("/stores/<slug:slug>/actions/restart")
@require("admin")
@limiter.limit(action_limit)
def restart(slug):
    data = fields(json_body(required=False), "restart request")
    job = svc().restart(slug, data.get("component", "all"), actor("api"))
    return jsonify(job=job.to_dict()), 202


@bp.post("/stores/<slug:slug>/actions/reset-password")
@require("admin")
@limiter.limit(action_limit)
def reset_password(slug):
    job = svc().reset_password(slug, actor("api"))
    return jsonify(job=job.to_dict()), 202


@bp.get("/stores/<slug:slug>/backups")
@require("viewer")
def backups(slug):
    """The store's backups in the configured location, each read back (``verify=false`` skips it)."""
    svc().store(slug)
    verify = text_arg("verify", max_length=5, subject="backups request") != "false"
    return jsonify(backups=[b.to_dict() for b in g.kit.backups(slug, verify=verify)])


@bp.post("/stores/<slug:slug>/actions/backup")
@require("admin")
@limiter.limit(action_limit)
def backup(slug):
    json_body(required=False)
    job = svc().backup(slug, actor("api"))
    return jsonify(job=job.to_dict()), 202


def _backup_id(data: dict, subject: str, *, required: bool = True) -> str | None:
    """The request's ``backup`` field: a backup id (``GET .../backups`` lists them)."""
    backup_id = data.get("backup")
    if backup_id is None and not required:
        return None
    if not isinstance(backup_id, str) or not BACKUP_ID.fullmatch(backup_id):
        raise SpecError([("backup", "must be a backup id like 20261202T013000Z-3f9a (`GET .../backups`)")],
                        subject=subject)
    return backup_id


@bp.post("/stores/<slug:slug>/actions/restore")
@require("admin")
@limiter.limit(action_limit)
def restore(slug):
    data = fields(json_body(), "restore request")
    job = svc().restore(slug, _backup_id(data, "restore request"), actor("api"))
    return jsonify(job=job.to_dict()), 202


@bp.post("/stores/<slug:slug>/actions/clone")
@require("admin")
@limiter.limit(_create_limit)
def clone(slug):
    data = fields(json_body(), "clone request")
    backup_id = _backup_id(data, "clone request", required=False)
    if not isinstance(data.get("name"), str) or set(data) - {"name", "backup"}:
        raise SpecError([("name", "must be the new store's name (fields: name, backup)")], subject="clone request")
    job = svc().clone(slug, data["name"], actor("api"), backup=backup_id)
    return jsonify(job=job.to_dict()), 202


@bp.post("/stores/<slug:slug>/actions/reveal-password")
@require("admin")
@limiter.limit(action_limit)
def reveal_password(slug):
    svc().store(slug)
    return jsonify(admin_password=svc().reveal_password(slug, actor("api")), shown="once")


@bp.get(f"/jobs/<int(max={MAX_ID}):job_id>")
@require("viewer")
def job(job_id):
    found = svc().job(job_id)
    if found is None:
        from werkzeug.exceptions import NotFound

        raise NotFound(f"no job {job_id}")
    return jsonify(found.to_dict())


@bp.get("/audit")
@require("viewer")
def audit():
    entries = svc().audit(store=text_arg("store", subject="audit filter"),
                          action=text_arg("action", subject="audit filter"),
                          since=text_arg("since", subject="audit filter"),
                          limit=int_arg("limit", AUDIT_DEFAULT_LIMIT, 1, AUDIT_MAX_LIMIT, subject="audit filter"))
    return jsonify(entries=[e.to_dict() for e in entries])
