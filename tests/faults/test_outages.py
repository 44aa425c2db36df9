"""Outages of what storekit depends on, in the middle of its work.

- **Catalog:** PostgreSQL (Debian's server, the ``postgres`` fixture) stops at once and
  comes back: catalog writes wait it out and land (none lost); a provisioning job running
  through it finishes (or is tried once more), and every audit entry is there.
"""

from __future__ import annotations

import threading
import time

import pytest

from storekit.catalog import Catalog
from storekit.spec import StoreSpec

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
