"""A store whose pods no node can take, against the local cluster with the real engine: the
platform's node pool (STOREKIT_NODE_POOL) names a pool no node is in, so the scheduler
leaves every pod Pending. The apply still waits out its (short) timeout, as a cluster
autoscaler might add a node, and then the timeout names the pods and the scheduler's own
message; the API's job and the catalog record the same words (storekit.scheduling)."""

from __future__ import annotations

import uuid

import pytest

from storekit.errors import OperationTimeout
from storekit.jobs import run_job
from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.tokens import ensure_admin_token
from storekit.webapp import create_app

pytestmark = pytest.mark.cluster


def test_a_store_no_node_can_take_times_out_naming_its_pods_and_the_scheduler(settings, kube, tmp_path):
    kit = Storekit(settings.replace(node_pool=f"nowhere-{uuid.uuid4().hex[:4]}", timeout=15,
                                    db_url=f"sqlite:///{tmp_path}/catalog.db"))
    name = f"Nowhere {uuid.uuid4().hex[:6]}"
    app = create_app({"TESTING": True, "SETTINGS": kit.settings, "KIT": kit, "SECRET_KEY": "test"})
    client, admin = app.test_client(), {"Authorization": f"Bearer {ensure_admin_token(kit.catalog)}"}
    queued = client.post("/api/stores", headers=admin, json={"name": name, "admin_email": "n@example.com"})
    assert queued.status_code == 202, queued.json
    job = kit.catalog.jobs.claim("test-worker")
    try:
        with pytest.raises(OperationTimeout) as timed_out:
            run_job(kit, job, Actor(job.actor, job.source))
        error = timed_out.value
        print(f"\n{error}")
        assert "did not become ready in time" in error.message, error.message
        assert error.unschedulable, error.message
        for pod, reason, said in error.unschedulable:
            assert pod.startswith(("mysql-", "wordpress-")) and reason == "Unschedulable", error.unschedulable
            assert "nodes are available" in said and "didn't match" in said, said
            assert f"pod {pod}: Unschedulable: {said}" in error.message
        assert error.to_dict()["unschedulable"][0]["pod"] == error.unschedulable[0][0]
        assert "STOREKIT_NODE_POOL" in error.hint
        recorded = client.get(f"/api/jobs/{job.id}", headers=admin).json
        assert recorded["status"] == "failed" and error.message in recorded["error"], recorded
        store = kit.catalog.store(queued.json["store"]["slug"])
        assert store.status == "failed" and store.error_message == error.message, store
    finally:
        kit.destroy(name)
