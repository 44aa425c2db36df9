"""Scheduled drift and expiring stores against the local cluster with the real engine: the
schedule's drift check finds a NetworkPolicy deleted behind storekit's back and rates it
critical, revert restores it; accept adopts a changed size into the spec (a tier), through
the API the dashboard's Accept button uses (the plan first, then exactly it); an
expired store is reaped by the schedule and the workers, with its audit and timeline."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.networking_v1 import NetworkPolicy

from storekit import driftwatch
from storekit.jobs import run_job
from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.schedule import Scheduler
from storekit.spec import StoreSpec
from storekit.tokens import ensure_admin_token
from storekit.webapp import create_app

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def kit(settings, kube, tmp_path_factory):
    db = tmp_path_factory.mktemp("drift") / "catalog.db"
    return Storekit(settings.replace(db_url=f"sqlite:///{db}", drift_interval=60))


@pytest.fixture(scope="module")
def store(kit):
    spec = StoreSpec(name=f"Drift {uuid.uuid4().hex[:6]}", admin_email="d@example.com")
    kit.apply(spec)
    yield spec
    if spec.slug in {s.slug for s in kit.list()}:
        kit.destroy(spec.name, governed=False)


def test_scheduled_drift_finds_a_deleted_network_policy_critical_and_revert_restores_it(kit, store, kube):
    schedule = Scheduler(kit)
    assert schedule.once()["checked"] == [store.slug]
    assert kit.catalog.drift.get(store.slug).severity == "none"
    assert schedule.once()["checked"] == []  # checked less than an interval ago

    kube.delete(NetworkPolicy, "default-deny-ingress", namespace=store.namespace)
    kit.catalog.drift.forget(store.slug)  # due again at once
    assert schedule.once()["checked"] == [store.slug]
    found = kit.catalog.drift.get(store.slug)
    assert found.severity == "critical", found
    assert [(c["kind"], c["severity"]) for c in found.changes] == [("NetworkPolicy", "critical")]

    driftwatch.revert(kit, store.name, actor=Actor("ops", "cli"))
    assert kube.get(NetworkPolicy, "default-deny-ingress", namespace=store.namespace)
    assert kit.catalog.drift.get(store.slug).severity == "none"
    assert kit.catalog.audit_entries(store=store.slug, action="drift-revert")[0].outcome == "ok"


def test_accept_adopts_a_changed_size_into_the_spec(kit, store, kube):
    medium = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "wordpress", "resources": medium}]}}}}
    kube.patch(Deployment, "wordpress", patch, namespace=store.namespace)
    result = driftwatch.check(kit, store.slug, refresh=True)
    assert result.severity == "warning" and [c.kube_name for c in result.changes] == ["wordpress"], result
    # Through the API, as the dashboard's Accept button does: the plan first, then exactly it.
    app = create_app({"TESTING": True, "SETTINGS": kit.settings, "KIT": kit, "SECRET_KEY": "test"})
    admin = {"Authorization": f"Bearer {ensure_admin_token(kit.catalog)}"}
    client = app.test_client()
    shown = client.post(f"/api/stores/{store.slug}/drift/accept", headers=admin)
    assert shown.status_code == 200, shown.json
    assert [(c["field"], c["before"], c["after"]) for c in shown.json["spec_changes"]] == [("tier", "small", "medium")]
    queued = client.post(f"/api/stores/{store.slug}/drift/accept", headers=admin, json={"plan_id": shown.json["plan_id"]})
    assert queued.status_code == 202, queued.json
    job = kit.catalog.jobs.claim("test-worker")
    assert job.id == queued.json["job"]["id"] and job.payload["plan"]["hash"] == shown.json["hash"]
    run_job(kit, job, Actor(job.actor, job.source))
    assert kit.spec_of(store.name).tier == "medium"
    assert not kit.drift(store.name).has_drift
    assert kit.catalog.audit_entries(store=store.slug, action="drift-accept")[0].outcome == "ok"


def test_an_expired_store_is_reaped(settings, kube, tmp_path):
    kit = Storekit(settings.replace(db_url=f"sqlite:///{tmp_path}/catalog.db"))  # no scheduled drift checks
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat(timespec="seconds")
    spec = StoreSpec(name=f"Preview {uuid.uuid4().hex[:6]}", admin_email="p@example.com", expires_at=past)
    kit.apply(spec)
    assert Scheduler(kit).once() == {"reaped": [spec.slug], "checked": []}
    job = kit.catalog.jobs.claim("test-worker")
    assert (job.kind, job.store, job.payload) == ("destroy", spec.slug, {"expired": True})
    run_job(kit, job, Actor(job.actor, job.source))
    with pytest.raises(ApiError):
        kube.get(Namespace, spec.namespace)
    assert kit.catalog.store(spec.slug).status == "deleted"
    actions = [(a.action, a.actor) for a in reversed(kit.catalog.audit_entries(store=spec.slug))]
    assert actions[-3:] == [("destroy-requested", "storekit-reaper"), ("expire", "storekit-reaper"),
                            ("destroy", "storekit-reaper")], actions
    assert "Expired" in [e.step for e in kit.catalog.events(spec.slug)]
