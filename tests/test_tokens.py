"""Tokens and dashboard sessions (issue 12): a login ends on logout (a copied cookie too),
when its token is revoked, rotated or expires, and after its bounded lifetime; the cookie
is Secure with HSTS over TLS; `storekit token list | rotate | revoke` and /api/tokens do the
same through the library; older catalogs migrate."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from helpers import web_app

from storekit.catalog import Catalog, utcnow
from storekit.cli.main import cli
from storekit.errors import SpecError
from storekit.tokens import (create_token, find_token, list_tokens, parse_duration, revoke_token, rotate_token)


@pytest.fixture
def app(settings, tmp_path):
    return web_app(settings, tmp_path, ACTION_LIMIT="100 per minute")


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def login(app, token):
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"token": token, "csrf_token": "t"})
    assert r.status_code == 302, r.data[:300]
    return client


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s cookie."""
    other = app.test_client()
    cookie = client.get_cookie("session")
    other.set_cookie("session", cookie.value)
    return other


def test_logout_ends_the_session_on_the_server(app):
    client = login(app, app.admin_token)
    stolen = copy_of(app, client)
    assert logged_in(client) and logged_in(stolen)
    with client.session_transaction() as s:
        csrf = s["csrf"]
    client.post("/logout", data={"csrf_token": csrf})
    assert not logged_in(client)
    assert not logged_in(stolen), "a copy of the cookie stops working at logout"


@pytest.mark.parametrize("end", ["rotate", "revoke", "expire"])
def test_a_session_ends_with_its_token(app, end):
    catalog = app.extensions["storekit"].catalog
    viewer = create_token(catalog, "ops", "viewer")
    client = login(app, viewer)
    other = login(app, app.admin_token)
    assert logged_in(client)
    if end == "rotate":
        new = rotate_token(catalog, "ops")
        assert find_token(catalog, new) and not find_token(catalog, viewer)
    elif end == "revoke":
        assert revoke_token(catalog, "ops")["sessions_ended"] == 1
    else:
        catalog.tokens.update(catalog.tokens.by_name("ops").id, expires_at=utcnow() - timedelta(seconds=1))
    assert not logged_in(client), f"the session outlives its token's {end}"
    assert client.get("/api/stores").status_code == 401
    assert app.test_client().get("/api/stores", headers=auth(viewer)).status_code == 401
    assert logged_in(other), "other tokens' sessions go on"


def test_sessions_have_a_bounded_lifetime(settings, tmp_path):
    app = web_app(settings, tmp_path, SESSION_HOURS=1 / 3600)  # one second
    client = login(app, app.admin_token)
    cookie = client.get_cookie("session")
    assert cookie.expires is not None, "the cookie expires with the session"
    assert logged_in(client)
    time.sleep(1.5)
    assert not logged_in(client)


def test_an_expiring_token_bounds_its_sessions(app):
    catalog = app.extensions["storekit"].catalog
    token = create_token(catalog, "brief", "viewer", expires_in=timedelta(hours=1))
    row = catalog.tokens.by_name("brief")
    assert row.expires_at is not None and list_tokens(catalog)[-1]["state"] == "active"
    client = login(app, token)
    assert logged_in(client)


def test_cookie_is_secure_and_hsts_is_sent_over_tls(settings, tmp_path):
    app = web_app(settings, tmp_path, TRUSTED_PROXIES=1)
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"token": app.admin_token, "csrf_token": "t"},
                    headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = app.test_client()
    with plain.session_transaction() as s:
        s["csrf"] = "t"
    r = plain.post("/login", data={"token": app.admin_token, "csrf_token": "t"})
    assert "Secure" not in r.headers["Set-Cookie"] and "Strict-Transport-Security" not in r.headers


def test_tokens_over_the_api_are_for_admins(app):
    client = app.test_client()
    admin, viewer = auth(app.admin_token), auth(app.viewer_token)
    assert client.get("/api/tokens", headers=viewer).status_code == 403
    assert client.post("/api/tokens", json={"name": "x"}, headers=viewer).status_code == 403
    assert client.delete("/api/tokens/viewer", headers=viewer).status_code == 403
    r = client.post("/api/tokens", json={"name": "ci-bot", "role": "viewer", "expires_in": "30d"}, headers=admin)
    assert r.status_code == 201 and r.json["token"].startswith("sk_") and r.json["shown"] == "once"
    assert r.headers["Cache-Control"] == "no-store"
    bot = r.json["token"]
    listed = client.get("/api/tokens", headers=admin).json["tokens"]
    assert {t["name"]: t["state"] for t in listed} == {"admin": "active", "viewer": "active", "ci-bot": "active"}
    assert "token_hash" not in json.dumps(listed) and bot not in json.dumps(listed)
    r = client.post("/api/tokens/ci-bot/rotate", headers=admin)
    assert r.status_code == 200 and r.json["token"] != bot
    assert client.get("/api/stores", headers=auth(bot)).status_code == 401
    assert client.get("/api/stores", headers=auth(r.json["token"])).status_code == 200
    assert client.delete("/api/tokens/ci-bot", headers=admin).json["state"] == "revoked"
    assert client.get("/api/stores", headers=auth(r.json["token"])).status_code == 401
    assert client.delete("/api/tokens/nope", headers=admin).status_code == 404
    for bad in ({"name": "x y"}, {"name": "ok", "role": "root"}, {"name": "ok", "expires_in": "soon"},
                {"name": "ok", "colour": 1}, {"name": ["x"]}):
        r = client.post("/api/tokens", json=bad, headers=admin)
        assert r.status_code == 400 and r.json["fields"], bad
    actions = [e.action for e in app.extensions["storekit"].catalog.audit_entries()]
    assert {"token-create", "token-rotate", "token-revoke"} <= set(actions)


def test_token_commands(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("STOREKIT_HOME", str(tmp_path))
    monkeypatch.setenv("STOREKIT_DB_URL", f"sqlite:///{tmp_path}/cli.db")
    run = CliRunner().invoke
    made = run(cli, ["token", "create", "ci-bot", "--role", "viewer", "--expires-in", "12h"])
    assert made.exit_code == 0, made.output
    value = made.output.strip()
    rows = json.loads(run(cli, ["token", "list", "--json"]).output)
    assert [(r["name"], r["role"], r["state"]) for r in rows] == [("ci-bot", "viewer", "active")]
    assert rows[0]["expires_at"] and value not in json.dumps(rows)
    assert "ci-bot" in run(cli, ["token", "list"]).output
    rotated = run(cli, ["token", "rotate", "ci-bot"])
    assert rotated.exit_code == 0 and rotated.output.strip() not in ("", value)
    revoked = run(cli, ["token", "revoke", "ci-bot", "--json"])
    assert json.loads(revoked.output)["state"] == "revoked"
    assert json.loads(run(cli, ["token", "list", "--json"]).output)[0]["state"] == "revoked"
    missing = run(cli, ["token", "revoke", "nope"])
    assert missing.exit_code == 3 and "no token named 'nope'" in missing.output
    bad = run(cli, ["token", "create", "x", "--expires-in", "forever"])
    assert bad.exit_code == 7 and "expires_in" in bad.output
    again = run(cli, ["token", "rotate", "ci-bot"])
    assert again.exit_code == 7 and "revoked" in again.output


def test_durations():
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration("30d") == timedelta(days=30)
    assert parse_duration(None) is None
    for bad in ("0d", "1w", "\u00b2d", "999999d", "-1h", 5):
        with pytest.raises(SpecError):
            parse_duration(bad)


def test_an_older_catalog_gains_expiry_revocation_and_sessions(tmp_path):
    url = f"sqlite:///{tmp_path}/old.db"
    catalog = Catalog.open(url)
    create_token(catalog, "kept", "admin")
    with catalog.db.connection_context():  # back to schema 3: no expiry, no revocation, no sessions
        for sql in ("ALTER TABLE apitoken DROP COLUMN expires_at", "ALTER TABLE apitoken DROP COLUMN revoked_at",
                    "DROP TABLE websession", "DROP TABLE savedplan", "DELETE FROM schemaversion WHERE version >= 4"):
            catalog.db.execute_sql(sql)
    reopened = Catalog.open(url)
    assert reopened.schema_versions()[3:5] == [4, 5]
    assert [t["state"] for t in list_tokens(reopened)] == ["active"]
    assert revoke_token(reopened, "kept")["state"] == "revoked"
