"""The OpenAPI description of /api, served at /api/openapi.json.

Kept in step with the routes by tests/test_webapp.py: every /api route is described
here and every path here is a route. Engines, tiers and components are not written here:
they come from the registered engines (``storekit.engines``), as the CLI's choices do.
"""

from __future__ import annotations

from storekit import __version__
from storekit.engines import DEFAULT_ENGINE, components, log_components, registry, tier_names
from storekit.vocabulary import STORE_PAGE_DEFAULT, STORE_PAGE_MAX, STORE_STATUSES


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
_APPLY = {"oneOf": [_CHANGE, {"type": "object", "additionalProperties": False, "required": ["plan_id"],
                              "properties": {"plan_id": {"type": "string", "description":
                                             "apply exactly this previewed plan (409 and a fresh plan when stale)"}}}]}
_FLEET = {"type": "object", "required": ["fleet"], "additionalProperties": False,
          "properties": {"fleet": {"type": "string", "maxLength": 60000,
                                   "description": "a fleet file's YAML: defaults and a stores list"}}}
_RESTART = {"type": "object", "properties": {"component": {"enum": ["all", *components()]}}}
_RESTORE = {"type": "object", "required": ["backup"], "additionalProperties": False,
            "properties": {"backup": {"type": "string", "pattern": "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$"}}}
_CLONE = {"type": "object", "required": ["name"], "additionalProperties": False,
          "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 63},
                         "backup": _RESTORE["properties"]["backup"]}}
_DURATION = {"type": "string", "pattern": "^[0-9]{1,5}[mhd]$", "description": "90m, 12h, 30d"}
_NEW_TOKEN = {"type": "object", "required": ["name"], "additionalProperties": False,
              "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"},
                             "role": {"enum": ["viewer", "admin"], "default": "viewer"},
                             "expires_in": _DURATION}}
_ROTATE = {"type": "object", "additionalProperties": False, "properties": {"expires_in": _DURATION}}
_TOKEN = {"parameters": [{"name": "name", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"}}]}
_PLAN = {"parameters": [{"name": "plan_id", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": "^[0-9a-f]{32}$"}}]}
_ROLLOUT = {"parameters": [{"name": "rollout_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}]}
_ACCEPT = {"type": "object", "additionalProperties": False, "properties": {"plan_id": {
    "type": "string", "description": "the plan_id of the accept plan shown first: apply exactly it"}}}
_ROLLBACK = {"type": "object", "additionalProperties": False,
             "properties": {"all": {"type": "boolean", "default": False}}}
_STORE = {"parameters": [{"name": "slug", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,55}[a-z0-9])?$"}}]}

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "storekit API", "version": __version__,
             "description": "Isolated WooCommerce stores on Kubernetes. Send `Authorization: Bearer <token>`. "
                            "A write with the dashboard's login cookie instead needs the page's CSRF token "
                            "in `X-CSRF-Token` and a JSON body."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string"}, "message": {"type": "string"}, "hint": {"type": ["string", "null"]},
            "fields": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "rule": {"type": "string"}}}}}}},
        "responses": {f"E{code}": {"description": text, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}}
            for code, text in ((400, "invalid input: every bad field and its rule"), (401, "no or bad token"),
                               (403, "the admin role is needed, or a mandatory policy or the two-person rule refuses"), (404, "no such store or job"),
                               (409, "store busy, or the name is taken"), (413, "the body is over 64 KiB"),
                               (415, "a write with the login cookie that is not JSON"),
                               (429, "rate limited, or MAX_STORES reached"),
                               (502, "the backup location refused (missing bucket, credentials) or failed"),
                               (503, "cluster unreachable"), (507, "a disk storekit writes to is full"))},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/stores": {
            "get": {**_op("A page of the stores (searched, filtered), how many match, and the job queue size",
                          errors=(400, 401)),
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 63},
                         "description": "part of the name or slug, any case"},
                        {"name": "status", "in": "query", "schema": {"enum": list(STORE_STATUSES)}},
                        {"name": "tier", "in": "query", "schema": {"enum": tier_names()}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                   "maximum": STORE_PAGE_MAX,
                                                                   "default": STORE_PAGE_DEFAULT}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                    "maximum": 10_000_000, "default": 0}}]},
            "post": _op("Create a store (queued as a job)", role="admin", body=_NEW_STORE, ok=202,
                        errors=(400, 401, 403, 409, 429)),
        },
        "/api/stores/{slug}": {
            **_STORE,
            "get": _op("A store and its active jobs"),
            "patch": _op("Apply a previewed plan ({plan_id}) or change the tier ({tier}); queued as a job",
                         role="admin", body=_APPLY, ok=202, errors=(400, 401, 403, 404, 409, 429)),
            "delete": _op("Destroy a store (queued as a job)", role="admin", ok=202, errors=(401, 403, 404, 429)),
        },
        "/api/stores/{slug}/plan": {**_STORE, "post": _op("Preview a change: the plan document and its plan_id", body=_CHANGE,
                                                          errors=(400, 401, 404, 409, 503))},
        "/api/fleet/plan": {"post": _op(
            "Plan a fleet file: every store's plan, grouped by identical change (nothing changes)",
            body=_FLEET, errors=(400, 401, 409, 503))},
        "/api/drift": {"get": _op("The latest drift check of every store: severity and changes", errors=(401,))},
        "/api/stores/{slug}/drift/revert": {**_STORE, "post": _op(
            "Revert a store's drift: apply its desired spec again (queued as a job)", role="admin", ok=202,
            errors=(401, 403, 404, 429))},
        "/api/stores/{slug}/drift/accept": {**_STORE, "post": {**_op(
            "Accept a store's drift: without plan_id, the plan that takes the live size into the spec (with its "
            "plan_id; 400 when the spec cannot express it); with plan_id, exactly that plan queued as a job (202)",
            role="admin", body=_ACCEPT, errors=(400, 401, 403, 404, 409, 429)),
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ACCEPT}}}}},
        "/api/rollouts": {"get": _op("The latest staged rollouts", errors=(401,))},
        "/api/rollouts/{rollout_id}": {**_ROLLOUT,
                                       "get": _op("A staged rollout: its waves, their stores and failures")},
        "/api/rollouts/{rollout_id}/resume": {**_ROLLOUT, "post": _op(
            "Resume a halted rollout: its failed stores converge to their planned spec, then the later waves "
            "(queued as a job; 409 unless halted)", role="admin", ok=202, errors=(400, 401, 403, 404, 409, 429))},
        "/api/rollouts/{rollout_id}/rollback": {**_ROLLOUT, "post": {**_op(
            "Roll back the latest applied wave, or every one with {\"all\": true}: each store back to the spec it "
            "had, a store the rollout created destroyed (queued as a job; 409 while running)", role="admin",
            body=_ROLLBACK, ok=202, errors=(400, 401, 403, 404, 409, 429)),
            "requestBody": {"required": False, "content": {"application/json": {"schema": _ROLLBACK}}}}},
        "/api/plans/{plan_id}": {**_PLAN, "get": _op("A saved plan as shown, with its approval", errors=(400, 401))},
        "/api/plans/{plan_id}/approve": {**_PLAN, "post": _op(
            "Approve a submitted plan (two-person rule); 403 for its submitter", role="admin",
            errors=(400, 401, 403, 404, 409, 429))},
        "/api/stores/{slug}/events": {**_STORE, "get": _op("The timeline: raw events, and one line per engine step")},
        "/api/stores/{slug}/health": {**_STORE, "get": _op("Pods, volumes and quota usage", errors=(401, 404, 503))},
        "/api/stores/{slug}/logs/{pod}": {
            "parameters": _STORE["parameters"] + [
                {"name": "pod", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"},
                 "description": "a pod name or a component of the store's engine: "
                                + ", ".join(log_components())},
                {"name": "tail", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000}}],
            "get": _op("Log lines of a pod", errors=(400, 401, 404, 503))},
        "/api/stores/{slug}/actions/restart": {**_STORE, "post": _op(
            "Rollout-restart pods (queued as a job)", role="admin", body=_RESTART, ok=202,
            errors=(400, 401, 403, 404, 409, 429))},
        "/api/stores/{slug}/actions/reset-password": {**_STORE, "post": _op(
            "A new admin password (queued as a job; read it with reveal-password)", role="admin", ok=202,
            errors=(401, 403, 404, 409, 429))},
        "/api/stores/{slug}/backups": {
            "parameters": _STORE["parameters"] + [
                {"name": "verify", "in": "query", "schema": {"enum": ["true", "false"]},
                 "description": "read every part back and compare its SHA-256 (default true)"}],
            "get": _op("The store's backups in STOREKIT_BACKUP_LOCATION, newest first", errors=(400, 401, 404, 502))},
        "/api/stores/{slug}/actions/backup": {**_STORE, "post": _op(
            "Back up the database and uploads to STOREKIT_BACKUP_LOCATION (queued as a job)", role="admin", ok=202,
            errors=(401, 403, 404, 409, 429))},
        "/api/stores/{slug}/actions/restore": {**_STORE, "post": _op(
            "Restore a backup into the store (queued as a job): checked, maintenance, load, health", role="admin",
            body=_RESTORE, ok=202, errors=(400, 401, 403, 404, 409, 429))},
        "/api/stores/{slug}/actions/clone": {**_STORE, "post": _op(
            "A new store from a backup of this one, its URL rewritten (queued as a job of the new store)",
            role="admin", body=_CLONE, ok=202, errors=(400, 401, 403, 404, 409, 429))},
        "/api/stores/{slug}/actions/reveal-password": {**_STORE, "post": _op(
            "The admin password, on an explicit, audited request", role="admin", errors=(401, 403, 404, 429))},
        "/api/jobs/{job_id}": {"parameters": [{"name": "job_id", "in": "path", "required": True,
                                               "schema": {"type": "integer", "minimum": 0,
                                                          "maximum": 2**31 - 1}}],
                               "get": _op("A job's status")},
        "/api/audit": {"parameters": [
            {"name": "store", "in": "query", "schema": {"type": "string", "maxLength": 120}},
            {"name": "action", "in": "query", "schema": {"type": "string", "maxLength": 120}},
            {"name": "since", "in": "query", "description": "30m, 2h, 7d or an ISO date", "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
            "get": _op("The audit trail", errors=(400, 401))},
        "/api/tokens": {
            "get": _op("Every token (never its value), with its state", role="admin", errors=(401, 403)),
            "post": _op("Make a token; its value is returned once", role="admin", body=_NEW_TOKEN, ok=201,
                        errors=(400, 401, 403, 429))},
        "/api/tokens/{name}": {**_TOKEN, "delete": _op(
            "Revoke a token; its dashboard logins end", role="admin", errors=(401, 403, 404, 429))},
        "/api/tokens/{name}/rotate": {**_TOKEN, "post": _op(
            "A new value for a token, returned once; the old one and its logins stop working", role="admin",
            body=_ROTATE, errors=(400, 401, 403, 404, 429))},
        "/api/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "success"}}}},
    },
}
