"""What the API and the UI both do, written once: queue store jobs with their checks,
and read a store's page data. Raises storekit errors; the edges render them."""

from __future__ import annotations

from flask import current_app, g

from storekit.catalog import JobRecord, StoreRecord
from storekit.errors import SpecError, StorekitError, StoreNotFound
from storekit.recorder import Actor
from storekit.redact import clip
from storekit.spec import StoreSpec

from .guards import string_fields

# What a store's fields may be at the edge: strings, short enough to quote in an error.
FIELD_LIMITS = {"name": 200, "admin_email": 254, "email": 254, "engine": 40, "tier": 40}


class Conflict(StorekitError):
    http_status = 409
    kind = "conflict"


class QuotaExceeded(StorekitError):
    http_status = 429
    kind = "max_stores"


def queue():
    return g.kit.catalog.jobs


def store_or_404(slug: str) -> StoreRecord:
    store = g.kit.catalog.store(slug)
    if store is None or store.status == "deleted":
        raise StoreNotFound(slug)
    return store


def create_store(data: dict, actor: Actor) -> tuple[StoreRecord, JobRecord]:
    if not isinstance(data, dict):
        raise SpecError([("body", "must be a JSON object with name and admin_email")])
    fields = {k: v for k, v in data.items() if k in ("name", "admin_email", "email", "engine", "tier")}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SpecError([(clip(k, 40), "is not a field of a new store") for k in unknown])
    string_fields(fields, FIELD_LIMITS)
    spec = StoreSpec.from_dict(fields)
    spec, _ = g.kit.resolve(spec)  # every bad field at once, before anything is queued
    existing = g.kit.catalog.store(spec.slug)
    if existing is not None and existing.status != "deleted":
        raise Conflict(f"a store named '{existing.name}' already uses the slug '{spec.slug}'",
                       hint="Choose another name.")
    limit = int(current_app.config["MAX_STORES"])
    if g.kit.catalog.count_stores() >= limit:
        raise QuotaExceeded(f"the platform already has {limit} stores (MAX_STORES)",
                            hint="Delete a store or raise STOREKIT_WEB_MAX_STORES.")
    store = g.kit.catalog.upsert_store(spec, status="pending", error_message=None, provisioned_at=None)
    job = _enqueue("create", spec.slug, actor, {"spec": spec.to_dict()})
    g.kit.catalog.audit("create-requested", resource_id=spec.slug, resource_name=spec.name, actor=actor.name,
                        source=actor.source, ip_address=actor.ip, details={"job": job.id, "tier": spec.tier})
    return store, job


def change_store(slug: str, data: dict, actor: Actor) -> JobRecord:
    store = store_or_404(slug)
    if not isinstance(data, dict) or set(data) - {"tier"} or not data:
        raise SpecError([("body", "may change only: tier")])
    string_fields(data, FIELD_LIMITS)
    spec = StoreSpec.from_dict(store.spec).with_changes(tier=data.get("tier"))
    g.kit.resolve(spec)
    job = _enqueue("update", slug, actor, {"spec": spec.to_dict()})
    g.kit.catalog.audit("update-requested", resource_id=slug, resource_name=store.name, actor=actor.name,
                        source=actor.source, ip_address=actor.ip, details={"job": job.id, "tier": spec.tier})
    return job


def _enqueue(kind: str, slug: str, actor: Actor, payload: dict | None = None) -> JobRecord:
    return queue().enqueue(kind, slug, actor=actor.name, source=actor.source, ip_address=actor.ip, payload=payload)


def delete_store(slug: str, actor: Actor) -> JobRecord:
    store = store_or_404(slug)
    g.kit.catalog.set_status(slug, "deleting")
    job = _enqueue("destroy", slug, actor)
    g.kit.catalog.audit("delete-requested", resource_id=slug, resource_name=store.name, actor=actor.name,
                        source=actor.source, ip_address=actor.ip, details={"job": job.id})
    return job


def plan_change(slug: str, data: dict):
    store = store_or_404(slug)
    if not isinstance(data, dict) or set(data) - {"tier"}:
        raise SpecError([("body", "may change only: tier")])
    string_fields(data, FIELD_LIMITS)
    return g.kit.plan(StoreSpec.from_dict(store.spec).with_changes(tier=data.get("tier")))
