"""The REST API under /api (see /api/openapi.json). Bearer tokens; JSON in and out."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from storekit.catalog import parse_since

from . import service
from .auth import actor, require
from .extensions import caller_key, limiter, plan_limit
from .guards import int_arg, json_body, string_fields, text_arg
from .openapi import SPEC

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_ID = 2**31 - 1  # job ids fit a 32-bit column on every database


def _create_limit() -> str:
    return current_app.config["CREATE_LIMIT"]


def _action_limit() -> str:
    return current_app.config["ACTION_LIMIT"]


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)


@bp.get("/stores")
@require("viewer")
def list_stores():
    stores = [s.to_dict() for s in g.kit.catalog.stores()]
    return jsonify(stores=stores, queue=service.queue().counts())


@bp.post("/stores")
@require("admin")
@limiter.limit(_create_limit)
def create_store():
    store, job = service.create_store(json_body(), actor("api"))
    return jsonify(store=store.to_dict(), job=job.to_dict()), 202


@bp.get("/stores/<slug:slug>")
@require("viewer")
def get_store(slug):
    store = service.store_or_404(slug)
    return jsonify(store=store.to_dict(), jobs=[j.to_dict() for j in service.queue().for_store(slug)])


@bp.patch("/stores/<slug:slug>")
@require("admin")
@limiter.limit(_action_limit)
def change_store(slug):
    job = service.change_store(slug, json_body(), actor("api"))
    return jsonify(job=job.to_dict()), 202


@bp.delete("/stores/<slug:slug>")
@require("admin")
@limiter.limit(_action_limit)
def delete_store(slug):
    job = service.delete_store(slug, actor("api"))
    return jsonify(job=job.to_dict()), 202


@bp.post("/stores/<slug:slug>/plan")
@require("viewer")
@limiter.limit(plan_limit, key_func=caller_key)
def plan_store(slug):
    return jsonify(service.plan_change(slug, json_body()).to_dict())


@bp.get("/stores/<slug:slug>/events")
@require("viewer")
def events(slug):
    store = g.kit.catalog.store(slug)  # a deleted store keeps its history
    if store is None:
        service.store_or_404(slug)
    return jsonify(status=store.status, events=[e.to_dict() for e in g.kit.catalog.events(slug)])


@bp.get("/stores/<slug:slug>/health")
@require("viewer")
def health(slug):
    service.store_or_404(slug)
    return jsonify(g.kit.health(slug).to_dict())


@bp.get("/stores/<slug:slug>/logs/<name:pod>")
@require("viewer")
def logs(slug, pod):
    service.store_or_404(slug)
    tail = int_arg("tail", 200, 1, 5000, subject="logs request")
    lines = list(g.kit.logs(slug, pod, tail=tail))
    return jsonify(pod=pod, lines=[line.rstrip("\n") for line in lines])


@bp.post("/stores/<slug:slug>/actions/restart")
@require("admin")
@limiter.limit(_action_limit)
def restart(slug):
    service.store_or_404(slug)
    data = json_body(required=False)
    string_fields(data, {"component": 40}, subject="restart request")
    return jsonify(g.kit.restart(slug, data.get("component", "all"), actor=actor("api")).to_dict())


@bp.post("/stores/<slug:slug>/actions/reset-password")
@require("admin")
@limiter.limit(_action_limit)
def reset_password(slug):
    service.store_or_404(slug)
    password = g.kit.reset_admin_password(slug, actor=actor("api"))
    return jsonify(admin_password=password, shown="once")


@bp.get(f"/jobs/<int(max={MAX_ID}):job_id>")
@require("viewer")
def job(job_id):
    found = service.queue().get(job_id)
    if found is None:
        from werkzeug.exceptions import NotFound

        raise NotFound(f"no job {job_id}")
    return jsonify(found.to_dict())


@bp.get("/audit")
@require("viewer")
def audit():
    limit = int_arg("limit", 200, 1, 1000, subject="audit filter")
    entries = g.kit.catalog.audit_entries(store=text_arg("store", subject="audit filter"),
                                          action=text_arg("action", subject="audit filter"),
                                          since=parse_since(text_arg("since", subject="audit filter")),
                                          limit=limit)
    return jsonify(entries=[e.to_dict() for e in entries])
