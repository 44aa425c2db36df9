"""The API server goes away in the middle of an apply run by a worker.

storekit reaches the shared control plane through a relay this test cuts (``netcut``),
so no other test loses its cluster: the job fails (it does not stay "running") with
``ClusterUnreachable`` naming the cluster, an apply while it is down fails at once the same
way, and the same operation after the API returns converges.
"""

from __future__ import annotations

import uuid

import pytest
from faultlib import EngineKiller, Point, assert_converged
from helpers import wait_for
from netcut import relayed_kubeconfig

from storekit import ClusterUnreachable, OperationFailed, Storekit, StoreSpec
from storekit.errors import StoreNotFound
from storekit.jobs import WorkerPool
from storekit.service import StoreService

pytestmark = pytest.mark.cluster


def test_api_server_outage_mid_apply_names_the_cluster_and_a_retry_converges(settings, kube, tmp_path):
    kubeconfig, relay = relayed_kubeconfig(settings.kubeconfig, tmp_path)
    relayed = settings.replace(kubeconfig=kubeconfig, db_url=f"sqlite:///{tmp_path}/c.db")
    # The store is created with the usual patience; the outage part waits at most 60 s for what
    # cannot come. (Its CI failure, the first apply timing out with MinimumReplicasUnavailable, was
    # not this timeout: right after a control plane restart kwok played no simulated node until
    # its predecessor's 200-second node leases expired; `make cluster` now waits for that,
    # kind/cluster.sh kwok_plays_nodes. The pods were on node-000000/1, never on the tainted real node.)
    kit = Storekit(relayed.replace(timeout=60))
    spec = StoreSpec(name=f"Outage Shop {uuid.uuid4().hex[:5]}", admin_email="o@example.com")
    service = StoreService(kit)
    try:
        Storekit(relayed).apply(spec)
        bigger = spec.with_changes(tier="medium")
        job = kit.catalog.jobs.enqueue("update", spec.slug, actor="t", source="api",
                                       payload={"spec": bigger.to_dict()})
        cut = Point("mysql")

        class Cutter(EngineKiller):  # at the point, the API server goes away instead of the engine
            def __call__(self, event):
                if not self.killed.is_set() and self.point.matches(event):
                    relay.cut()
                    self.killed.set()
        cutter = Cutter(cut)
        kit.subscribers.append(cutter)
        pool = WorkerPool(kit, size=1, poll=0.2).start()
        try:
            failed = wait_for(lambda: (j := kit.catalog.jobs.get(job.id)).status not in ("queued", "running") and j,
                              timeout=300, what="the job ending")
        finally:
            pool.stop(timeout=30)
            kit.subscribers.remove(cutter)
        assert cutter.killed.is_set()
        assert failed.status == "failed"
        assert f"cluster 'storekit' at https://127.0.0.1:{relay.port} is unreachable" in failed.error \
            or "is unreachable" in failed.error, failed.error
        with pytest.raises((ClusterUnreachable, OperationFailed)) as raised:
            kit.apply(bigger)  # still down: the same clear error at once
        assert isinstance(raised.value, ClusterUnreachable), raised.value
        assert f"127.0.0.1:{relay.port}" in raised.value.message
        relay.restore()
        kit.apply(bigger)
        assert_converged(kit, kube, bigger)
        assert not [j for j in service.jobs(spec.slug) if j.status == "running"], "no job left running"
    finally:
        relay.restore() if relay._listener is None else None
        try:
            kit.destroy(spec.name)
        except StoreNotFound:
            pass
        relay.close()
