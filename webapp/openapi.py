"""The OpenAPI description of /api, served at /api/openapi.json.

Kept in step with the routes by tests/test_webapp.py: every /api route is described
here and every path here is a route. Engines, tiers and components are not written here:
they come from the registered engines (``storekit.engines``), as the CLI's choices do.
"""

from __future__ import annotations

from storekit import __version__
from storekit.engines import DEFAULT_ENGINE, components, registry, tier_names


def _op(summary: str, *, role: str = "viewer", body: dict | None = None, ok: int = 200,
        errors: tuple[int, ...] = (401, 404)) -> dict:
    responses = {str(ok): {"description": "success"}}
    for code in errors:
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    op = {"summary": summary, "description": f"Role: {role}.", "responses": responses}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_NEW_STORE = {"type": "object", "required": ["name", "admin_email"], "additionalProperties": False,
              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 63},
                             "admin_email": {"type": "string", "format": "email"},
                             "engine": {"enum": sorted(registry()), "default": DEFAULT_ENGINE},
                             "tier": {"enum": tier_names(), "default": tier_names()[0]}}}
_CHANGE = {"type": "object", "additionalProperties": False,
           "properties": {"tier": {"enum": tier_names()}}}
_RESTART = {"type": "object", "properties": {"component": {"enum": ["all", *components()]}}}
_STORE = {"parameters": [{"name": "slug", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,55}[a-z0-9])?$"}}]}

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "storekit API", "version": __version__,
             "description": "Isolated WooCommerce stores on Kubernetes. Send `Authorization: Bearer <token>`."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": ["string", "null"]},
            "fields": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "rule": {"type": "string"}}}}}}},
        "responses": {f"E{code}": {"description": text, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
            for code, text in ((400, "invalid input: every bad field and its rule"), (401, "no or bad token"),
                               (403, "the admin role is needed"), (404, "no such store or job"),
                               (409, "store busy, or the name is taken"),
                               (429, "rate limited, or MAX_STORES reached"), (503, "cluster unreachable"))},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/stores": {
            "get": _op("List stores and the job queue size"),
            "post": _op("Create a store (queued as a job)", role="admin", body=_NEW_STORE, ok=202,
                        errors=(400, 401, 403, 409, 429)),
        },
        "/api/stores/{slug}": {
            **_STORE,
            "get": _op("A store and its active jobs"),
            "patch": _op("Change a store's tier (queued as a job)", role="admin", body=_CHANGE, ok=202,
                         errors=(400, 401, 403, 404, 429)),
            "delete": _op("Delete a store (queued as a job)", role="admin", ok=202, errors=(401, 403, 404, 429)),
        },
        "/api/stores/{slug}/plan": {**_STORE, "post": _op("Preview a change (the plan document)", body=_CHANGE,
                                                          errors=(400, 401, 404, 409, 503))},
        "/api/stores/{slug}/events": {**_STORE, "get": _op("The provisioning timeline")},
        "/api/stores/{slug}/health": {**_STORE, "get": _op("Pods, volumes and quota usage", errors=(401, 404, 503))},
        "/api/stores/{slug}/logs/{pod}": {
            "parameters": _STORE["parameters"] + [
                {"name": "pod", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"},
                 "description": "a pod name or a component: wordpress, mysql, woocommerce-setup"},
                {"name": "tail", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
            "get": _op("Log lines of a pod", errors=(400, 401, 404, 503))},
        "/api/stores/{slug}/actions/restart": {**_STORE, "post": _op(
            "Rollout-restart pods and wait until ready", role="admin", body=_RESTART, errors=(400, 401, 403, 404, 409, 429))},
        "/api/stores/{slug}/actions/reset-password": {**_STORE, "post": _op(
            "New admin password, returned once", role="admin", errors=(401, 403, 404, 409, 429))},
        "/api/jobs/{job_id}": {"parameters": [{"name": "job_id", "in": "path", "required": True,
                                               "schema": {"type": "integer", "minimum": 0,
                                                          "maximum": 2**31 - 1}}],
                               "get": _op("A job's status")},
        "/api/audit": {"get": _op("The audit trail (filters: store, action, since, limit)", errors=(400, 401))},
        "/api/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "success"}}}},
    },
}
