"""The production data path: the catalog and the Pulumi stack state on a real PostgreSQL.

values-prod.yaml points both at PostgreSQL, so a store's whole life runs here against a
server from Debian's packages (the `postgres` fixture of conftest.py: loopback, as the `postgres` user),
with the real engine and plugin on the local cluster. The job queue's atomic claim is
checked on PostgreSQL too: two workers racing for the same jobs take each exactly once.
"""

from __future__ import annotations

import threading
import uuid

import psycopg2
import pytest

from storekit import Storekit, StoreSpec
from storekit.recorder import Actor

pytestmark = pytest.mark.cluster


def _query(address: str, sql: str) -> list[tuple]:
    user_host, dbname = address.split("/", 1)
    host, port = user_host.split("@", 1)[1].split(":")
    conn = psycopg2.connect(host=host, port=int(port), user="postgres", dbname=dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def test_store_life_with_catalog_and_state_on_postgresql(settings, kube, postgres):
    catalog, state = postgres("catalog"), postgres("state")
    kit = Storekit(settings.replace(db_url=f"postgresql://{catalog}",
                                    state_url=f"postgres://{state}?sslmode=disable"))
    spec = StoreSpec(name=f"PG Shop {uuid.uuid4().hex[:4]}", admin_email="pg@example.com")
    try:
        created = kit.apply(spec)
        assert created.action == "create"
        assert not kit.plan(spec).has_changes, "the state in PostgreSQL matches the cluster"
        assert [s.slug for s in kit.list()] == [spec.slug]
        assert kit.catalog.store(spec.slug).status == "ready"
        assert {e.step for e in kit.catalog.events(spec.slug)} >= {"Namespace", "MySQL", "WordPress"}
        # Both really live in PostgreSQL.
        tables = {t for (t,) in _query(catalog, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"store", "provisioningevent", "auditentry", "job", "apitoken"} <= tables
        assert _query(catalog, "SELECT count(*) FROM auditentry WHERE action = 'apply'") == [(1,)]
        state_tables = _query(state, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert state_tables, "the Pulumi backend made its tables"
        dump = str(_query(state, f"SELECT * FROM {state_tables[0][0]}"))
        assert spec.slug in dump
        tier = kit.apply(spec.with_changes(tier="medium"))
        assert tier.action == "update"
    finally:
        destroyed = kit.destroy(spec.name)
    assert destroyed.action == "destroy"
    assert kit.list() == []


def test_job_claims_are_atomic_on_postgresql(settings, postgres):
    kit = Storekit(settings.replace(db_url=f"postgresql://{postgres('jobs')}"))
    queue = kit.catalog.jobs
    actor = Actor(name="t", source="test")
    jobs = [queue.enqueue("destroy", f"store-{i}", actor=actor.name, source=actor.source) for i in range(20)]
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def worker(name):
        start.wait()
        while (job := queue.claim(name)) is not None:
            claimed[name].append(job.id)
    threads = [threading.Thread(target=worker, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = claimed["a"] + claimed["b"]
    assert sorted(taken) == sorted(j.id for j in jobs), "every job claimed exactly once"
    assert queue.counts() == {"queued": 0, "running": 20}
