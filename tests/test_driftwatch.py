"""Scheduled drift and expiring stores, the logic without the engine: severities, which
stores are due, the drift view and API, expiry states and the reaper queueing an audited
destroy job with a timeline entry. Against the local cluster (a NetworkPolicy deleted behind
storekit's back found critical and reverted, a changed size accepted, an expired store
reaped) see test_driftwatch_cluster.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from helpers import web_app

from storekit.driftwatch import change_severity, due, severity
from storekit.plan import PropertyChange, ResourceChange
from storekit.schedule import Scheduler, expiry_state, reap
from storekit.spec import StoreSpec


def change(kind, *paths, op="update"):
    return ResourceChange(name=kind.lower(), type=f"kubernetes:core/v1:{kind}", op=op,
                          properties=tuple(PropertyChange(p, "update", "a", "b") for p in paths))


def test_severities():
    assert change_severity(change("NetworkPolicy", op="create")) == "critical"  # deleted behind our back
    assert change_severity(change("ResourceQuota", 'spec.hard["requests.cpu"]')) == "critical"
    assert change_severity(change("Deployment", "spec.template.spec.containers[0].resources.limits.cpu")) == "warning"
    assert change_severity(change("Service", op="create")) == "warning"
    assert change_severity(change("Deployment", 'metadata.labels["team"]', "metadata.annotations.x")) == "info"
    assert severity([change("Deployment", "metadata.labels.a"), change("LimitRange", "spec.limits")]) == "critical"
    assert severity([]) == "none"


@pytest.fixture
def app(settings, tmp_path):
    return web_app(settings, tmp_path)


def test_due_stores_and_the_drift_view(app):
    kit = app.extensions["storekit"]
    for name in ("Alpha", "Beta"):
        kit.catalog.upsert_store(StoreSpec(name=name, admin_email="a@example.com"), status="ready")
    kit.catalog.drift.record("alpha", severity="critical", method="engine", changes=[
        {**change("NetworkPolicy", op="create").to_dict(), "severity": "critical"}])
    assert due(kit, 3600) == ["beta"] and due(kit, None) == ["alpha", "beta"]
    h = {"Authorization": f"Bearer {app.viewer_token}"}
    client = app.test_client()
    checks = client.get("/api/drift", headers=h).json["checks"]
    assert checks[0]["store"] == "alpha" and checks[0]["severity"] == "critical"
    with client.session_transaction() as s:
        s["csrf"] = "t"
    client.post("/login", data={"token": app.viewer_token, "csrf_token": "t"})
    page = client.get("/drift").data.decode()
    assert "[critical] NetworkPolicy networkpolicy was deleted" in page


def test_expiry_states_and_the_reaper(app):
    kit = app.extensions["storekit"]
    now = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
    soon = (now + timedelta(minutes=30)).isoformat()
    assert expiry_state({"expires_at": soon}, 3600, now) == ("expiring", "2026-12-01T12:30:00+00:00")
    assert expiry_state({"expires_at": soon}, 60, now)[0] == "ok"
    assert expiry_state({"expires_at": "2026-12-01T11:00:00Z"}, 60, now)[0] == "expired"
    assert expiry_state({}, 60, now) == ("none", None)
    old = StoreSpec(name="Preview", admin_email="p@example.com", expires_at="2026-12-01T11:00:00+00:00")
    kit.catalog.upsert_store(old, status="ready")
    later = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    kit.catalog.upsert_store(StoreSpec(name="Keeper", admin_email="k@example.com", expires_at=later), status="ready")
    schedule = Scheduler(kit)
    assert reap(kit, schedule.service, now=now) == ["preview"]
    assert reap(kit, schedule.service, now=now) == []  # once: it is being destroyed
    jobs = kit.catalog.jobs.for_store("preview")
    assert [(j.kind, j.actor, j.payload) for j in jobs] == [("destroy", "storekit-reaper", {"expired": True})]
    assert kit.catalog.store("preview").status == "deleting"
    assert [e.step for e in kit.catalog.events("preview")] == ["Expired"]
    actions = [(a.action, a.actor) for a in reversed(kit.catalog.audit_entries(store="preview"))]
    assert actions == [("destroy-requested", "storekit-reaper"), ("expire", "storekit-reaper")]
    assert schedule.once() == {"reaped": [], "checked": []}  # no drift interval: no checks


def test_a_spec_with_ttl(tmp_path):
    spec = StoreSpec.from_dict({"name": "P", "admin_email": "p@example.com", "ttl": "2h"})
    left = datetime.fromisoformat(spec.expires_at) - datetime.now(timezone.utc)
    assert timedelta(minutes=119) < left <= timedelta(hours=2)
    from storekit.errors import SpecError

    with pytest.raises(SpecError) as e:
        StoreSpec.from_dict({"name": "P", "admin_email": "p@example.com", "ttl": "2h", "expires_at": "x"})
    assert [f for f, _ in e.value.problems] == ["ttl", "expires_at"]


def test_the_drift_accept_api_checks_its_input_before_any_engine_run(app):
    """The accept plan itself needs the engine (test_driftwatch_cluster.py); its edge: admins
    only, no field but plan_id, and a plan_id that is not this store's accept plan is a 400."""
    kit = app.extensions["storekit"]
    kit.catalog.upsert_store(StoreSpec(name="Alpha", admin_email="a@example.com"), status="ready")
    client = app.test_client()
    admin, viewer = ({"Authorization": f"Bearer {t}"} for t in (app.admin_token, app.viewer_token))
    assert client.post("/api/stores/alpha/drift/accept", headers=viewer).status_code == 403
    r = client.post("/api/stores/alpha/drift/accept", headers=admin, json={"tier": "large"})
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "tier", r.json
    r = client.post("/api/stores/alpha/drift/accept", headers=admin, json={"plan_id": 7})
    assert r.status_code == 400 and r.json["fields"][0]["field"] == "plan_id"
    r = client.post("/api/stores/alpha/drift/accept", headers=admin, json={"plan_id": "0" * 32})
    assert r.status_code == 400 and "is not a plan of this store" in r.json["fields"][0]["rule"], r.json
    assert client.post("/api/stores/nope/drift/accept", headers=admin, json={"plan_id": "0" * 32}).status_code == 404
    assert [e.outcome for e in kit.catalog.audit_entries(store="alpha", action="drift-accept")] == ["failed"]
