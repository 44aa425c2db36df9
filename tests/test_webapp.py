"""The dashboard and REST API through Flask's test client: every endpoint, each error
status (400, 401, 403, 404, 409, 429), security headers, the OpenAPI document kept in
step with the routes, login with CSRF, and the job queue's ordering and recovery.
(The same API against the local cluster, with workers, is in test_webapp_cluster.py.)"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers import web_app

from storekit.catalog import Catalog, utcnow
from storekit.jobs import WorkerPool
from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.errors import SpecError
from storekit.spec import StoreSpec
from storekit.tokens import create_token, ensure_admin_token
from storekit.webapp import create_app
from storekit.webapp.openapi import SPEC


@pytest.fixture
def app(settings, tmp_path):
    return web_app(settings, tmp_path, MAX_STORES=2)


@pytest.fixture
def client(app):
    return app.test_client()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_probes_and_security_headers(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json["database"] == "ok"
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_session_key_is_generated_and_kept(settings, tmp_path):
    local = settings.replace(db_url=f"sqlite:///{tmp_path}/k.db", home=str(tmp_path))
    first = create_app({"SETTINGS": local}).config["SECRET_KEY"]
    assert first and len(first) > 40
    assert create_app({"SETTINGS": local}).config["SECRET_KEY"] == first
    assert (tmp_path / "webapp-secret").stat().st_mode & 0o777 == 0o600


def test_first_admin_token_is_made_once(app):
    assert app.admin_token.startswith("sk_")
    assert ensure_admin_token(app.extensions["storekit"].catalog) is None


def test_given_admin_token_becomes_the_admin_token_and_rotates(client, app):
    catalog = app.extensions["storekit"].catalog
    given = "sk_from-a-kubernetes-secret-0001"
    assert ensure_admin_token(catalog, given) is None  # known to whoever gave it: not shown
    assert client.get("/api/stores", headers=auth(given)).status_code == 200
    assert client.get("/api/stores", headers=auth(app.admin_token)).status_code == 401, "replaced"
    assert ensure_admin_token(catalog, given) is None  # a restart changes nothing
    rotated = "sk_from-a-kubernetes-secret-0002"
    ensure_admin_token(catalog, rotated)
    assert client.get("/api/stores", headers=auth(given)).status_code == 401
    assert client.post("/api/stores", headers=auth(rotated), json={}).status_code == 400  # admin may create
    for bad in ("short", " sk_padded-token-with-spaces-0001 "):
        with pytest.raises(SpecError) as err:
            ensure_admin_token(catalog, bad)
        assert "admin_token" in str(err.value)
    assert client.get("/api/stores", headers=auth(rotated)).status_code == 200, "a bad value changes nothing"


def test_tokens_and_roles(client, app):
    assert client.get("/api/stores").status_code == 401
    assert client.get("/api/stores", headers=auth("sk_wrong")).json["error"] == "unauthorized"
    r = client.get("/api/stores", headers=auth(app.viewer_token))
    assert r.status_code == 200 and r.json == {"stores": [], "total": 0, "limit": 100, "offset": 0,
                                               "queue": {"queued": 0, "running": 0}}
    r = client.post("/api/stores", json={"name": "Shop", "admin_email": "a@b.co"}, headers=auth(app.viewer_token))
    assert r.status_code == 403 and r.json["error"] == "forbidden"


def test_create_validates_every_field_and_queues_a_job(client, app):
    h = auth(app.admin_token)
    r = client.post("/api/stores", json={"name": "", "admin_email": "nope", "tier": "huge", "colour": "red"}, headers=h)
    assert r.status_code == 400
    fields = {f["field"] for f in r.json["fields"]}
    assert fields == {"colour"} or fields >= {"name", "admin_email", "tier"}
    r = client.post("/api/stores", json={"name": "", "admin_email": "nope", "tier": "huge"}, headers=h)
    assert r.status_code == 400 and {f["field"] for f in r.json["fields"]} == {"name", "admin_email", "tier"}
    r = client.post("/api/stores", data="not json", headers=h)
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "body"

    r = client.post("/api/stores", json={"name": "My Shop", "admin_email": "a@b.co"}, headers=h)
    assert r.status_code == 202
    assert r.json["store"]["status"] == "pending" and r.json["job"]["status"] == "queued"
    job_id = r.json["job"]["id"]
    assert client.get(f"/api/jobs/{job_id}", headers=h).json["kind"] == "create"
    assert client.get("/api/jobs/999", headers=h).status_code == 404
    assert client.get("/api/stores", headers=h).json["queue"] == {"queued": 1, "running": 0}

    r = client.post("/api/stores", json={"name": "my shop!", "admin_email": "a@b.co"}, headers=h)
    assert r.status_code == 409 and "slug" in r.json["message"]
    assert client.post("/api/stores", json={"name": "Other", "admin_email": "a@b.co"}, headers=h).status_code == 202
    r = client.post("/api/stores", json={"name": "Third", "admin_email": "a@b.co"}, headers=h)
    assert r.status_code == 429 and r.json["error"] == "max_stores"

    audit = client.get("/api/audit?action=create-requested", headers=h).json["entries"]
    assert [e["resource_id"] for e in audit] == ["other", "my-shop"]
    assert all(e["source"] == "api" and e["actor"] == "admin" and e["ip_address"] for e in audit)


def test_store_endpoints_and_404s(client, app):
    h = auth(app.admin_token)
    client.post("/api/stores", json={"name": "My Shop", "admin_email": "a@b.co"}, headers=h)
    r = client.get("/api/stores/my-shop", headers=h)
    assert r.status_code == 200 and r.json["store"]["name"] == "My Shop" and len(r.json["jobs"]) == 1
    events = client.get("/api/stores/my-shop/events", headers=h).json
    assert (events["status"], events["events"], events["timeline"]["operations"]) == ("pending", [], [])
    r = client.patch("/api/stores/my-shop", json={"tier": "gigantic"}, headers=h)
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "tier"
    assert client.patch("/api/stores/my-shop", json={"name": "x"}, headers=h).status_code == 400
    r = client.patch("/api/stores/my-shop", json={"tier": "medium"}, headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "update"
    r = client.delete("/api/stores/my-shop", headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "destroy"
    for method, path in [("get", "/api/stores/nope"), ("get", "/api/stores/nope/events"),
                         ("get", "/api/stores/nope/health"), ("get", "/api/stores/nope/logs/wordpress"),
                         ("post", "/api/stores/nope/actions/restart"), ("post", "/api/stores/nope/actions/reset-password"),
                         ("patch", "/api/stores/nope"), ("delete", "/api/stores/nope"), ("post", "/api/stores/nope/plan")]:
        r = getattr(client, method)(path, headers=h, json={"tier": "small"})
        assert r.status_code == 404 and r.json["error"] == "not_found", (method, path, r.json)
    r = client.get("/api/stores/my-shop/logs/wordpress?tail=lots", headers=h)
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "tail"
    assert client.get("/api/audit?since=yesterday", headers=h).status_code == 400
    assert client.get("/api/audit?limit=0", headers=h).status_code == 400
    assert client.put("/api/stores", headers=h).status_code == 405


def test_openapi_matches_the_routes(client, app):
    doc = client.get("/api/openapi.json").json
    assert doc["openapi"].startswith("3.") and doc == SPEC
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {p: {m for m in ops if m in ("get", "post", "patch", "delete", "put")} for p, ops in doc["paths"].items()}
    assert described == routes


def test_ui_login_csrf_and_inline_errors(client, app):
    assert client.get("/").status_code == 302
    page = client.get("/login")
    assert page.status_code == 200 and b"Access token" in page.data and b"<script>" not in page.data
    assert client.post("/login", data={"token": app.admin_token}).status_code == 400  # no CSRF token
    with client.session_transaction() as s:
        s["csrf"] = "t"
    bad = client.post("/login", data={"token": "sk_nope", "csrf_token": "t"})
    assert bad.status_code == 401 and b"not valid" in bad.data
    ok = client.post("/login", data={"token": app.admin_token, "csrf_token": "t"})
    assert ok.status_code == 302
    with client.session_transaction() as s:
        csrf = s["csrf"]
    r = client.post("/stores", data={"name": "", "admin_email": "bad", "tier": "small", "csrf_token": csrf})
    assert r.status_code == 400 and b"Name is required" in r.data and b"aria-invalid" in r.data
    r = client.post("/stores", data={"name": "Web Shop", "admin_email": "w@b.co", "tier": "small", "csrf_token": csrf})
    assert r.status_code == 302 and r.headers["Location"].endswith("/stores/web-shop")
    page = client.get("/stores/web-shop")
    assert b"Web Shop" in page.data and b"Waiting for a worker" in page.data
    assert client.post("/stores", data={"name": "X", "admin_email": "x@b.co"}).status_code == 400
    assert client.get("/audit").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_store_creations_are_rate_limited(app):
    app.config["CREATE_LIMIT"] = "1 per minute"
    client = app.test_client()
    h = auth(app.admin_token)
    assert client.post("/api/stores", json={"name": "One", "admin_email": "a@b.co"}, headers=h).status_code == 202
    r = client.post("/api/stores", json={"name": "Two", "admin_email": "a@b.co"}, headers=h)
    assert r.status_code == 429 and r.json["error"] == "rate_limited" and "Retry-After" in r.headers


def test_failed_logins_are_rate_limited(app):
    app.config["LOGIN_LIMIT"] = "2 per minute"
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "t"
    codes = [client.post("/login", data={"token": "sk_bad", "csrf_token": "t"}).status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def _failed_logins(client, forwarded_for: str, times: int) -> list[int]:
    with client.session_transaction() as s:
        s["csrf"] = "t"
    return [client.post("/login", data={"token": "sk_bad", "csrf_token": "t"},
                        headers={"X-Forwarded-For": forwarded_for}).status_code for _ in range(times)]


def test_behind_a_trusted_proxy_limits_count_per_client(settings, tmp_path, app):
    local = settings.replace(db_url=f"sqlite:///{tmp_path}/p.db", home=str(tmp_path))
    proxied = create_app({"TESTING": True, "SETTINGS": local, "SECRET_KEY": "test", "TRUSTED_PROXIES": 1,
                          "LOGIN_LIMIT": "2 per minute"})
    client = proxied.test_client()
    assert _failed_logins(client, "203.0.113.7", 3) == [401, 401, 429]
    assert _failed_logins(client, "203.0.113.8", 1) == [401], "another client has its own count"
    # Without a trusted proxy the header is ignored: anyone could forge it.
    app.config["LOGIN_LIMIT"] = "2 per minute"
    direct = app.test_client()
    assert _failed_logins(direct, "198.51.100.1", 2) + _failed_logins(direct, "198.51.100.2", 1) == [401, 401, 429]


def test_job_queue_serializes_a_store_and_recovers_dead_workers(tmp_path, settings):
    catalog = Catalog.open(f"sqlite:///{tmp_path}/q.db")
    q = catalog.jobs
    who = {"actor": "t", "source": "api"}
    a1 = q.enqueue("create", "a", payload={"spec": StoreSpec(name="A", admin_email="a@b.co").to_dict()}, **who)
    a2 = q.enqueue("update", "a", payload={"spec": StoreSpec(name="A", admin_email="a@b.co", tier="medium").to_dict()},
                   **who)
    b1 = q.enqueue("create", "b", payload={"spec": StoreSpec(name="B", admin_email="b@b.co").to_dict()}, **who)
    assert q.claim("w1").id == a1.id
    assert q.claim("w2").id == b1.id, "a's second job waits while a's first runs"
    assert q.claim("w3") is None
    q.finish(a1.id)
    assert q.claim("w3").id == a2.id
    # A job whose heartbeat stopped is queued again.
    q.heartbeat(b1.id, at=utcnow() - timedelta(minutes=5))
    pool = WorkerPool(Storekit(settings.replace(db_url=f"sqlite:///{tmp_path}/q.db")), stale_after=20)
    assert [j.id for j in pool.recover()] == [b1.id]
    assert q.get(b1.id).status == "queued" and q.get(a2.id).status == "running"


def test_backup_endpoints_queue_jobs_with_the_roles_of_other_actions(client, app):
    h, viewer = auth(app.admin_token), auth(app.viewer_token)
    client.post("/api/stores", json={"name": "My Shop", "admin_email": "a@b.co"}, headers=h)
    r = client.get("/api/stores/my-shop/backups?verify=false", headers=viewer)
    assert r.status_code == 200 and isinstance(r.json["backups"], list)
    assert client.post("/api/stores/my-shop/actions/backup", headers=viewer).status_code == 403
    r = client.post("/api/stores/my-shop/actions/backup", headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "backup"
    r = client.post("/api/stores/my-shop/actions/restore", json={"backup": "../x"}, headers=h)
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "backup"
    r = client.post("/api/stores/my-shop/actions/restore", json={"backup": "20261202T013000Z-3f9a"}, headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "restore"
    for method, path in (("get", "/api/stores/nope/backups"), ("post", "/api/stores/nope/actions/backup")):
        assert getattr(client, method)(path, headers=h).status_code == 404
    actions = [e["action"] for e in client.get("/api/audit?store=my-shop", headers=h).json["entries"]]
    assert "backup-requested" in actions and "restore-requested" in actions
    r = client.post("/api/stores/my-shop/actions/clone", json={"name": "My Shop Staging"}, headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "clone" and r.json["job"]["store"] == "my-shop-staging"
    assert client.get("/api/stores/my-shop-staging", headers=h).json["store"]["status"] == "pending"
    r = client.post("/api/stores/my-shop/actions/clone", json={"name": "My Shop"}, headers=h)
    assert r.status_code == 409
    r = client.post("/api/stores/my-shop/actions/clone", json={"name": "!!"}, headers=h)
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "name"


def test_the_backups_tab_lists_and_queues_backup_restore_and_clone(settings, tmp_path):
    import json as _json
    from pathlib import Path

    location = tmp_path / "backups"
    app = web_app(settings.replace(backup_location=str(location)), tmp_path, MAX_STORES=5)
    client = app.test_client()

    with client.session_transaction() as s:
        s["csrf"] = "t"
    assert client.post("/login", data={"token": app.admin_token, "csrf_token": "t"}).status_code == 302
    with client.session_transaction() as s:
        csrf = s["csrf"]
    client.post("/stores", data={"name": "Tab Shop", "admin_email": "w@b.co", "tier": "small", "csrf_token": csrf})
    # One backup of the store in the platform's location (a directory here).
    folder = Path(location) / "tab-shop" / "20261201T030000Z-abcd"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(_json.dumps({
        "id": "20261201T030000Z-abcd", "store": "tab-shop", "engine": "woocommerce",
        "created_at": "2026-12-01T03:00:00Z", "images": {"wordpress": "wordpress:6"}, "parts": {}}))
    page = client.get("/stores/tab-shop?tab=backups")
    assert page.status_code == 200 and b"20261201T030000Z-abcd" in page.data and b"Back up now" in page.data
    assert b"not checked" in client.get("/stores/tab-shop?tab=backups").data
    assert b"yes" in client.get("/stores/tab-shop?tab=backups&verify=1").data
    r = client.post("/stores/tab-shop/backup", data={"csrf_token": csrf}, follow_redirects=True)
    assert b"The backup is queued" in r.data
    r = client.post("/stores/tab-shop/restore", data={"csrf_token": csrf, "backup": "20261201T030000Z-abcd"},
                    follow_redirects=True)
    assert b"to confirm" in r.data  # the slug must be typed
    r = client.post("/stores/tab-shop/restore", data={"csrf_token": csrf, "backup": "20261201T030000Z-abcd",
                                                      "confirm": "tab-shop"}, follow_redirects=True)
    assert b"The restore of backup 20261201T030000Z-abcd is queued" in r.data
    r = client.post("/stores/tab-shop/clone", data={"csrf_token": csrf, "name": "Tab Shop Staging"},
                    follow_redirects=True)
    assert b"Tab Shop Staging" in r.data and b"is queued" in r.data
    kinds = [e["action"] for e in client.get("/api/audit", headers=auth(app.admin_token)).json["entries"]]
    assert {"backup-requested", "restore-requested", "clone-requested"} <= set(kinds)
