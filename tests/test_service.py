"""The one service layer both edges use, without the engine: the CLI and the API list the
same stores and read the audit trail with the same limits; restart and password reset are
jobs; the dashboard and the API apply exactly the plan they showed, and a stale one gets a
409 with a fresh preview. The engine's two answers these need (a plan, the recorded
state's fingerprint) are stood in for; the same flows run for real in
test_webapp_cluster.py."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import web_app

from storekit.cli.main import cli
from storekit.plan import Plan, PropertyChange, ResourceChange
from storekit.spec import StoreSpec
from storekit.vocabulary import AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT


@pytest.fixture
def app(settings, tmp_path):
    return web_app(settings, tmp_path)


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def a_plan(kit, slug: str, tier: str, fingerprint: str) -> Plan:
    spec = kit.resolve(StoreSpec(name=slug.replace("-", " ").title(), admin_email="a@b.co", tier=tier))[0]
    return Plan(store=slug, action="update", spec=spec, fingerprint=fingerprint, state_url=kit.settings.state_url,
                changes=(ResourceChange("resource-quota", "kubernetes:core/v1:ResourceQuota", "update",
                                        (PropertyChange('spec.hard["limits.cpu"]', "update", "2", "4"),),
                                        kube_name="store-quota"),))


@pytest.fixture
def engine(app, monkeypatch):
    """Stand-ins for the engine: ``plan`` answers with a plan made against ``state["fp"]``,
    the gateway reports ``state["fp"]`` as the recorded state's fingerprint."""
    kit = app.extensions["storekit"]
    state = {"fp": "sha256:one", "plans": 0}

    def plan(spec, refresh=True):
        state["plans"] += 1
        return a_plan(kit, spec.slug, spec.tier, state["fp"])
    monkeypatch.setattr(kit, "plan", plan)
    monkeypatch.setattr(kit.gateway, "fingerprint", lambda slug: state["fp"])
    return state


def test_cli_and_api_list_the_same_stores_from_one_catalog(app, monkeypatch):
    client = app.test_client()
    for name in ("Alpha Shop", "Beta Shop"):
        assert client.post("/api/stores", json={"name": name, "admin_email": "a@b.co"},
                           headers=auth(app.admin_token)).status_code == 202
    api = [s["slug"] for s in client.get("/api/stores", headers=auth(app.viewer_token)).json["stores"]]
    kit = app.extensions["storekit"]
    monkeypatch.setenv("STOREKIT_DB_URL", kit.settings.db_url)
    listed = CliRunner().invoke(cli, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [s["slug"] for s in json.loads(listed.output)] == api == ["alpha-shop", "beta-shop"]
    assert {s["status"] for s in json.loads(listed.output)} == {"pending"}


def test_one_set_of_audit_limits(app, monkeypatch):
    kit = app.extensions["storekit"]
    for i in range(AUDIT_DEFAULT_LIMIT + 5):
        kit.catalog.audit("apply", resource_id=f"s{i}", actor="a", source="cli")
    client = app.test_client()
    h = auth(app.viewer_token)
    assert len(client.get("/api/audit", headers=h).json["entries"]) == AUDIT_DEFAULT_LIMIT
    assert client.get(f"/api/audit?limit={AUDIT_MAX_LIMIT + 1}", headers=h).status_code == 400
    monkeypatch.setenv("STOREKIT_DB_URL", kit.settings.db_url)
    runner = CliRunner()
    assert len(json.loads(runner.invoke(cli, ["audit", "--json"]).output)) == AUDIT_DEFAULT_LIMIT
    assert runner.invoke(cli, ["audit", "--limit", str(AUDIT_MAX_LIMIT + 1)]).exit_code == 2
    with client.session_transaction() as s:
        s["csrf"] = "t"
    client.post("/login", data={"token": app.viewer_token, "csrf_token": "t"})
    page = client.get("/audit")
    assert page.data.count(b"<tr><td>") == AUDIT_DEFAULT_LIMIT


def test_restart_and_password_reset_are_jobs(app):
    client = app.test_client()
    h = auth(app.admin_token)
    client.post("/api/stores", json={"name": "Job Shop", "admin_email": "a@b.co"}, headers=h)
    r = client.post("/api/stores/job-shop/actions/restart", json={"component": "wordpress"}, headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "restart" and r.json["job"]["status"] == "queued"
    r = client.post("/api/stores/job-shop/actions/reset-password", headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "reset-password" and "admin_password" not in r.json
    assert [j["kind"] for j in client.get("/api/stores/job-shop", headers=h).json["jobs"]] == [
        "create", "restart", "reset-password"]
    assert client.post("/api/stores/job-shop/actions/reveal-password",
                       headers=auth(app.viewer_token)).status_code == 403
    actions = [e["action"] for e in client.get("/api/audit?store=job-shop", headers=h).json["entries"]]
    assert actions == ["reset-password-requested", "restart-requested", "create-requested"]


def test_the_api_applies_exactly_the_plan_it_showed(app, engine):
    client = app.test_client()
    h = auth(app.admin_token)
    client.post("/api/stores", json={"name": "Plan Shop", "admin_email": "a@b.co"}, headers=h)
    shown = client.post("/api/stores/plan-shop/plan", json={"tier": "medium"}, headers=h).json
    assert shown["plan_id"] and shown["spec"]["tier"] == "medium"
    r = client.patch("/api/stores/plan-shop", json={"plan_id": shown["plan_id"]}, headers=h)
    assert r.status_code == 202 and r.json["job"]["kind"] == "update"
    job = app.extensions["storekit"].catalog.jobs.get(r.json["job"]["id"])
    assert job.payload["plan"]["fingerprint"] == shown["fingerprint"], "the job carries exactly the shown plan"
    assert client.patch("/api/stores/plan-shop", json={"plan_id": "nope"}, headers=h).status_code == 400
    assert client.patch("/api/stores/plan-shop", json={"plan_id": shown["plan_id"], "tier": "large"},
                        headers=h).status_code == 400


def test_a_stale_plan_gets_409_and_a_fresh_preview(app, engine):
    client = app.test_client()
    h = auth(app.admin_token)
    client.post("/api/stores", json={"name": "Stale Shop", "admin_email": "a@b.co"}, headers=h)
    shown = client.post("/api/stores/stale-shop/plan", json={"tier": "medium"}, headers=h).json
    engine["fp"] = "sha256:two"  # someone changed the store since
    r = client.patch("/api/stores/stale-shop", json={"plan_id": shown["plan_id"]}, headers=h)
    assert r.status_code == 409 and r.json["error"] == "stale_plan"
    fresh = r.json["plan"]
    assert fresh["plan_id"] != shown["plan_id"] and fresh["fingerprint"] == "sha256:two"
    assert client.patch("/api/stores/stale-shop", json={"plan_id": fresh["plan_id"]}, headers=h).status_code == 202


def test_the_dashboard_applies_the_plan_it_showed_or_shows_a_fresh_one(app, engine):
    client = app.test_client()
    client.post("/api/stores", json={"name": "Web Shop", "admin_email": "a@b.co"}, headers=auth(app.admin_token))
    with client.session_transaction() as s:
        s["csrf"] = "t"
    client.post("/login", data={"token": app.admin_token, "csrf_token": "t"})
    with client.session_transaction() as s:
        csrf = s["csrf"]
    page = client.post("/stores/web-shop/preview", data={"tier": "medium", "csrf_token": csrf})
    assert page.status_code == 200 and b'name="plan_id"' in page.data
    plan_id = page.data.split(b'name="plan_id" value="')[1].split(b'"')[0].decode()
    engine["fp"] = "sha256:changed"
    stale = client.post("/stores/web-shop/apply", data={"plan_id": plan_id, "csrf_token": csrf})
    assert stale.status_code == 409 and b"fresh plan" in stale.data
    fresh_id = stale.data.split(b'name="plan_id" value="')[1].split(b'"')[0].decode()
    assert fresh_id != plan_id
    done = client.post("/stores/web-shop/apply", data={"plan_id": fresh_id, "csrf_token": csrf})
    assert done.status_code == 302
    kit = app.extensions["storekit"]
    update = [j for j in kit.catalog.jobs.for_store("web-shop") if j.kind == "update"]
    assert [j.payload["plan"]["fingerprint"] for j in update] == ["sha256:changed"]
