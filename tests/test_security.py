"""The web layer's edges, tried as an attacker would with Flask's test client (issue 12):
CSRF on cookie-authenticated API writes (and bearer tokens without it), safe post-login
redirects, request size caps, odd input that must never give a 5xx, bounded forwarded
client addresses, /readyz without error detail, no-store caching, and database passwords
redacted from plans, settings and errors. The browser's view of a cross-site form post is
in test_browser.py; sessions and tokens in test_tokens.py."""

from __future__ import annotations

import json

import pytest
from helpers import web_app

from storekit.errors import StorekitError
from storekit.kit import Storekit
from storekit.plan import Plan
from storekit.redact import redact_text, redact_url
from storekit.webapp import create_app
from storekit.tokens import ensure_admin_token

PG_URL = "postgres://storekit:hunter2-db-password@db.internal:5432/state?sslmode=disable"


@pytest.fixture
def app(settings, tmp_path):
    return web_app(settings, tmp_path, MAX_STORES=5, ACTION_LIMIT="100 per minute")


@pytest.fixture
def client(app):
    return app.test_client()


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def login(client, token, next_=None) -> tuple[str, object]:
    """Log in through the form; return the session's CSRF token and the response."""
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login" + (f"?next={next_}" if next_ is not None else ""),
                    data={"token": token, "csrf_token": "t"})
    with client.session_transaction() as s:
        return s.get("csrf"), r


NEW = {"name": "Cookie Shop", "admin_email": "c@b.co"}


# ---- CSRF ------------------------------------------------------------------------------

def test_cookie_writes_to_the_api_need_the_csrf_header_and_json(client, app):
    csrf, _ = login(client, app.admin_token)
    # What a cross-site form can send: the cookie, a form body, no header.
    r = client.post("/api/stores", data=NEW)
    assert r.status_code == 403 and r.json["error"] == "forbidden" and "X-CSRF-Token" in r.json["message"]
    r = client.post("/api/stores", json=NEW)  # a script elsewhere cannot read the token either
    assert r.status_code == 403
    r = client.post("/api/stores", json=NEW, headers={"X-CSRF-Token": "guess"})
    assert r.status_code == 403
    r = client.post("/api/stores", data=NEW, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 415 and r.json["error"] == "unsupported_media_type"
    for method, path in [("delete", "/api/stores/cookie-shop"), ("patch", "/api/stores/cookie-shop"),
                         ("post", "/api/stores/cookie-shop/actions/restart"),
                         ("post", "/api/stores/cookie-shop/actions/reset-password")]:
        assert getattr(client, method)(path).status_code == 403, (method, path)
    assert client.get("/api/stores").status_code == 200, "reads with the cookie still work (the dashboard's JS)"
    r = client.post("/api/stores", json=NEW, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 202, r.json
    page = client.get("/")
    assert f'name="csrf-token" content="{csrf}"'.encode() in page.data, "the dashboard's own script can send it"


def test_bearer_tokens_need_no_csrf_header(app):
    client = app.test_client()  # no cookie at all
    r = client.post("/api/stores", json=NEW, headers=auth(app.admin_token))
    assert r.status_code == 202
    r = client.delete("/api/stores/cookie-shop", headers=auth(app.admin_token))
    assert r.status_code == 202


def test_a_bad_bearer_token_does_not_fall_back_to_the_cookie(client, app):
    csrf, _ = login(client, app.admin_token)
    r = client.post("/api/stores", json=NEW, headers={**auth("sk_wrong"), "X-CSRF-Token": csrf})
    assert r.status_code == 401


# ---- redirects -------------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example", "/\r\nSet-Cookie:x",
    "javascript:alert(1)", "/\x00", "/\t/evil.example", " /x", "/" + "a" * 600, "http:/evil.example",
    "/\u2028x", "%2F%2Fevil.example"])
def test_login_never_redirects_off_site(client, app, target):
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", query_string={"next": target}, data={"token": app.admin_token, "csrf_token": "t"})
    assert r.status_code == 302, r.data[:200]
    assert r.headers["Location"] == "/", (target, r.headers["Location"])


def test_login_keeps_a_local_next_path(client, app):
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", query_string={"next": "/stores/shop?tab=logs"},
                    data={"token": app.admin_token, "csrf_token": "t"})
    assert r.headers["Location"] == "/stores/shop?tab=logs"


# ---- sizes and odd input ---------------------------------------------------------------

def test_request_bodies_are_capped(client, app):
    big = json.dumps({"name": "x" * 200_000, "admin_email": "a@b.co"})
    r = client.post("/api/stores", data=big, content_type="application/json", headers=auth(app.admin_token))
    assert r.status_code == 413 and r.json["error"] == "too_large"
    assert b"xxxx" not in r.data
    r = client.post("/login", data={"token": "x" * 200_000, "csrf_token": "t"})
    assert r.status_code == 413


def test_quoted_values_are_short(client, app):
    r = client.post("/api/stores", json={"name": "Shop", "admin_email": "a@b.co", "tier": "t" * 5000},
                    headers=auth(app.admin_token))
    assert r.status_code == 400 and len(r.data) < 1000


ODD_GETS = [
    "/api/audit?since=\u00b2h", "/api/audit?since=99999999999999999999d", "/api/audit?since=999999999d",
    "/api/audit?since=0001-01-01T00:00%2B05:00", "/api/audit?limit=\u0661", "/api/audit?limit=\u00b2",
    "/api/audit?limit=" + "9" * 400, "/api/audit?store=a%00b", "/api/audit?action=%00",
    "/api/audit?store=" + "s" * 5000, "/api/stores/shop/logs/wordpress?tail=\u00b9",
    "/api/stores/shop/logs/wordpress?tail=" + "9" * 100, "/api/jobs/" + "9" * 40, "/api/jobs/-1",
    "/api/stores/a%00b", "/api/stores/a%00b/events", "/api/stores/" + "a" * 3000, "/api/stores/shop/logs/%00",
    "/audit?since=\u00b2h", "/audit?store=%00", "/stores/a%00b",
]


@pytest.mark.parametrize("path", ODD_GETS)
def test_odd_query_and_path_values_give_4xx(client, app, path):
    r = client.get(path, headers=auth(app.admin_token))
    assert 400 <= r.status_code < 500, (path, r.status_code, r.data[:300])


ODD_BODIES = [
    ("post", "/api/stores", {"name": "Shop", "admin_email": "a@b.co", "tier": ["small"]}),
    ("post", "/api/stores", {"name": "Shop", "admin_email": "a@b.co", "engine": {"x": 1}}),
    ("post", "/api/stores", {"name": "Shop", "admin_email": "a@b.co", "tier": {}}),
    ("post", "/api/stores", {"name": 5, "admin_email": ["a@b.co"]}),
    ("post", "/api/stores", {"name": "Sh\x00op", "admin_email": "a@b.co"}),
    ("post", "/api/stores", {"\x00": 1}),
    ("post", "/api/stores", [1, 2]),
    ("patch", "/api/stores/shop", {"tier": ["medium"]}),
    ("patch", "/api/stores/shop", {"tier": {"a": "b"}}),
    ("post", "/api/stores/shop/plan", {"tier": 7}),
    ("post", "/api/stores/shop/actions/restart", {"component": ["all"]}),
    ("post", "/api/stores/shop/actions/restart", {"component": {}}),
]


@pytest.mark.parametrize("method,path,payload", ODD_BODIES)
def test_odd_json_bodies_give_400(client, app, method, path, payload):
    h = auth(app.admin_token)
    client.post("/api/stores", json={"name": "Shop", "admin_email": "a@b.co"}, headers=h)
    r = getattr(client, method)(path, json=payload, headers=h)
    assert r.status_code == 400 and r.json["fields"], (payload, r.status_code, r.data[:300])


@pytest.mark.parametrize("raw,ctype", [
    ("[" * 20000 + "]" * 20000, "application/json"), ('{"a":' * 5000 + "1" + "}" * 5000, "application/json"),
    ("not json", "text/plain"), ("not json", "application/json"), ("\xff\xfe", "application/json"),
    ("name=x", "application/x-www-form-urlencoded")])
def test_non_json_or_deep_bodies_on_writes_give_400(client, app, raw, ctype):
    h = auth(app.admin_token)
    client.post("/api/stores", json={"name": "Shop", "admin_email": "a@b.co"}, headers=h)
    for method, path in [("post", "/api/stores"), ("patch", "/api/stores/shop"), ("post", "/api/stores/shop/plan"),
                         ("post", "/api/stores/shop/actions/restart")]:
        r = getattr(client, method)(path, data=raw, content_type=ctype, headers=h)
        assert r.status_code == 400 and r.json["fields"][0]["field"] == "body", (method, path, r.data[:300])


# ---- forwarded addresses -----------------------------------------------------------------

@pytest.mark.parametrize("forwarded", ["1" * 5000, "not-an-ip", "203.0.113.7\x00", "::ffff:zz"])
def test_forwarded_client_addresses_are_validated(settings, tmp_path, forwarded):
    local = settings.replace(db_url=f"sqlite:///{tmp_path}/p.db", home=str(tmp_path))
    app = create_app({"TESTING": True, "SETTINGS": local, "SECRET_KEY": "test", "TRUSTED_PROXIES": 1})
    token = ensure_admin_token(app.extensions["storekit"].catalog)
    client = app.test_client()
    r = client.post("/api/stores", json=NEW, headers={**auth(token), "X-Forwarded-For": forwarded},
                    environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert r.status_code == 202
    catalog = app.extensions["storekit"].catalog
    created = lambda: [e.ip_address for e in catalog.audit_entries(action="create-requested")]  # noqa: E731
    assert created() == ["10.0.0.9"], "the proxy's address, not the header"
    client.post("/api/stores", json={**NEW, "name": "Two"},
                headers={**auth(token), "X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert created()[0] == "203.0.113.7"


# ---- small leaks -------------------------------------------------------------------------

def test_readyz_gives_no_error_detail(client, app):
    kit = app.extensions["storekit"]
    kit.catalog.db.close()
    real = kit.catalog.db.execute_sql

    def broken(sql, *a, **k):
        if sql == "SELECT 1":
            raise RuntimeError("FATAL: password authentication failed for user storekit at db.internal")
        return real(sql, *a, **k)
    kit.catalog.db.execute_sql = broken
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json == {"status": "unavailable", "database": "unavailable"}
    assert b"password" not in r.data and b"db.internal" not in r.data


def test_responses_are_not_cached(client, app):
    for path, h in [("/api/stores", auth(app.viewer_token)), ("/readyz", {}), ("/login", {}),
                    ("/api/openapi.json", {})]:
        assert client.get(path, headers=h).headers["Cache-Control"] == "no-store", path
    r = client.post("/api/stores/nope/actions/reset-password", headers=auth(app.admin_token))
    assert r.headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")


# ---- redaction ---------------------------------------------------------------------------

def test_urls_lose_their_passwords():
    assert redact_url(PG_URL) == "postgres://storekit:(sensitive)@db.internal:5432/state?sslmode=disable"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("s3://bucket/path?region=x&secretKey=abc") == "s3://bucket/path?region=x&secretKey=(sensitive)"
    assert redact_url("file:///root/.storekit/state") == "file:///root/.storekit/state"
    text = f"cannot reach {PG_URL}: refused; also 'postgresql://a:b@c/d'"
    assert "hunter2" not in redact_text(text) and ":b@" not in redact_text(text)


def test_plans_settings_and_errors_hide_the_state_password(settings, tmp_path):
    plan = Plan(store="shop", action="noop", spec=None, changes=(), fingerprint="f", state_url=PG_URL)
    doc = plan.to_json()
    assert "hunter2" not in doc and "db.internal" in doc
    saved = Plan.load(plan.save(tmp_path / "plan.json"))
    assert "hunter2" not in (tmp_path / "plan.json").read_text()
    kit = Storekit(settings.replace(state_url=PG_URL, db_url=f"sqlite:///{tmp_path}/c.db", home=str(tmp_path)))
    assert redact_url(saved.state_url) == redact_url(kit.settings.state_url), "still the same backend"
    rows = {row["name"]: row["value"] for row in kit.settings.describe()}
    assert "hunter2" not in rows["state_url"] and rows["state_url"].startswith("postgres://storekit:")
    assert {row["name"]: row["value"] for row in kit.settings.describe(reveal=True)}["state_url"] == PG_URL
    err = StorekitError(f"cannot open the catalog database {PG_URL!r}: refused")
    assert "hunter2" not in str(err) and "hunter2" not in json.dumps(err.to_dict())


def test_the_admin_token_never_comes_from_argv(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from storekit.cli.main import cli
    from storekit.webapp.commands import _given_admin_token

    r = CliRunner().invoke(cli, ["serve", "--admin-token", "sk_in-the-process-list-000001"])
    assert r.exit_code == 2 and "No such option" in r.output
    assert "--admin-token-file" in CliRunner().invoke(cli, ["serve", "--help"]).output
    path = tmp_path / "admin-token"
    path.write_text("sk_from-a-mounted-secret-00001\n")
    monkeypatch.setenv("STOREKIT_ADMIN_TOKEN", "sk_from-the-environment-00001")
    assert _given_admin_token(str(path)) == "sk_from-a-mounted-secret-00001"
    assert _given_admin_token(None) == "sk_from-the-environment-00001"
    monkeypatch.delenv("STOREKIT_ADMIN_TOKEN")
    assert _given_admin_token(None) is None


# ---- expensive reads ---------------------------------------------------------------------

def test_plans_are_rate_limited_per_token(app):
    app.config["PLAN_LIMIT"] = "2 per minute"
    client = app.test_client()
    codes = [client.post("/api/stores/nope/plan", json={"tier": "medium"}, headers=auth(app.viewer_token)).status_code
             for _ in range(3)]
    assert codes == [404, 404, 429]
    r = client.post("/api/stores/nope/plan", json={"tier": "medium"}, headers=auth(app.admin_token))
    assert r.status_code == 404, "another token has its own count"


def test_no_plan_runs_on_a_get(client, app, monkeypatch):
    kit = app.extensions["storekit"]
    calls = []
    monkeypatch.setattr(kit, "plan", lambda *a, **k: calls.append(a))
    client.post("/api/stores", json={"name": "Shop", "admin_email": "a@b.co"}, headers=auth(app.admin_token))
    csrf, _ = login(client, app.viewer_token)
    page = client.get("/stores/shop?tab=changes&tier=medium")
    assert page.status_code == 200 and calls == [], "a link from another site cannot start an engine run"
    assert b'method="post" action="/stores/shop/preview"' in page.data
    assert client.post("/stores/shop/preview", data={"tier": "medium"}).status_code == 400, "needs the form's CSRF"
    client.post("/stores/shop/preview", data={"tier": "medium", "csrf_token": csrf})
    assert len(calls) == 1


def test_values_quoted_in_errors_are_clipped_everywhere():
    from storekit.errors import SpecError
    from storekit.spec import StoreSpec

    problems = StoreSpec(name="Shop", admin_email="x" * 5000 + "\x00").problems()
    err = SpecError(problems)
    assert len(str(err)) < 400 and "\x00" not in str(err) and err.problems[0][0] == "admin_email"
