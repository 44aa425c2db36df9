"""Outages of what storekit depends on, in the middle of its work.

- **Catalog:** PostgreSQL (Debian's server, the ``postgres`` fixture) stops at once and
  comes back: catalog writes wait it out and land (none lost); a provisioning job running
  through it finishes (or is tried once more), and every audit entry is there.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from faultlib import FIGURES, assert_converged
from helpers import wait_for

from storekit import Storekit, StoreSpec
from storekit.catalog import Catalog
from storekit.errors import StoreNotFound
from storekit.jobs import WorkerPool
from storekit.recorder import Actor
from storekit.service import StoreService

pytestmark = pytest.mark.cluster


def _restart_later(postgres, down_for: float) -> threading.Thread:
    postgres.stop()

    def start():
        time.sleep(down_for)
        postgres.start()
    thread = threading.Thread(target=start)
    thread.start()
    return thread


def test_catalog_writes_wait_out_a_postgres_restart(postgres):
    catalog = Catalog.open(f"postgresql://{postgres('outage')}")
    spec = StoreSpec(name="Outage Shop", admin_email="o@example.com")
    catalog.upsert_store(spec, status="ready")
    restarting = _restart_later(postgres, 3)
    started = time.monotonic()
    catalog.audit("apply", resource_id=spec.slug, actor="t", source="library")  # waits for the server
    waited = time.monotonic() - started
    restarting.join()
    assert waited >= 2, "the write really met the outage"
    catalog.upsert_store(spec, status="provisioning")  # a transaction on a new connection
    restarting = _restart_later(postgres, 2)
    catalog.upsert_store(spec, status="ready")  # a transaction retried whole
    restarting.join()
    assert [e.action for e in catalog.audit_entries(store=spec.slug)] == ["apply"]
    assert catalog.store(spec.slug).status == "ready"


def test_a_job_runs_through_a_postgres_restart_and_no_audit_entry_is_lost(settings, kube, postgres):
    kit = Storekit(settings.replace(db_url=f"postgresql://{postgres('jobs')}"),
                   actor=Actor(name="storekit-worker", source="worker"))
    service = StoreService(kit)
    name = f"PG Outage {uuid.uuid4().hex[:5]}"
    store, job = service.create({"name": name, "admin_email": "o@example.com"}, Actor(name="api", source="api"),
                                max_stores=1000)
    pool = WorkerPool(kit, size=1, poll=0.2).start()
    try:
        wait_for(lambda: any(e.step == "MySQL" for e in kit.catalog.events(store.slug)), every=0.2,
                 what="the job reaching MySQL")
        _restart_later(postgres, 5).join()
        done = wait_for(lambda: (j := kit.catalog.jobs.get(job.id)).status in ("succeeded", "failed") and j,
                        timeout=300, what="the job finishing")
        assert done.status == "succeeded", done
        assert done.attempts <= 2, "finished, or tried once more"
        assert_converged(kit, kube, StoreSpec(name=name, admin_email="o@example.com"))
        audit = [(e.action, e.outcome) for e in reversed(kit.catalog.audit_entries(store=store.slug))]
        FIGURES["lost audit entries"] += 2 - len(audit)
        assert audit == [("create-requested", "ok"), ("apply", "ok")], audit
        steps = [e.step for e in kit.catalog.events(store.slug)]
        assert steps[-1] == "Ready" and "WordPress" in steps, "the timeline went on after the restart"
    finally:
        pool.stop(timeout=30)
        try:
            kit.destroy(name)
        except StoreNotFound:
            pass


def test_replicas_starting_together_on_a_new_postgresql_migrate_once(postgres):
    """Regression: three replicas started at once on an empty PostgreSQL raced in their
    migrations (a duplicate key in pg_type), then in making the admin token (a duplicate
    name), and died at start."""
    import subprocess
    import sys

    url = f"postgresql://{postgres('fresh')}"
    code = ("from storekit.catalog import Catalog; from storekit.tokens import ensure_admin_token; "
            f"c = Catalog.open({url!r}); ensure_admin_token(c, 'sk_replicas-shared-admin-token-01'); "
            "print(c.schema_versions()[-1])")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    results = [(p.wait(120), p.stdout.read().strip(), p.stderr.read()[-500:]) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), results
    assert len({out for _, out, _ in results}) == 1
    assert Catalog.open(url).schema_versions() == list(range(1, int(results[0][1]) + 1)), "each migration once"
