"""The catalog: versioned migrations that upgrade an older database in place, stores,
timeline events, and audit entries that never hold secrets. Fast: SQLite in tmp."""

from __future__ import annotations

import sqlite3
import threading

from storekit import catalog as cat
from storekit.catalog import Catalog
from storekit.spec import StoreSpec


def test_fresh_database_gets_every_migration(tmp_path):
    c = Catalog.open(f"sqlite:///{tmp_path}/a.db")
    assert c.migrate() == len(cat.MIGRATIONS)
    assert c.schema_versions() == list(range(1, len(cat.MIGRATIONS) + 1))
    mode = sqlite3.connect(tmp_path / "a.db").execute("pragma journal_mode").fetchone()[0]
    assert mode == "wal"


def test_older_database_is_upgraded_in_place(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/old.db"
    applied = []

    def v2(db, models):
        applied.append(2)
        db.execute_sql("ALTER TABLE store ADD COLUMN note TEXT")

    monkeypatch.setattr(cat, "MIGRATIONS", cat.MIGRATIONS[:1])
    old = Catalog.open(url)
    old.upsert_store(StoreSpec(name="Kept Shop", admin_email="a@b.co"), status="ready")
    monkeypatch.setattr(cat, "MIGRATIONS", cat.MIGRATIONS[:1] + [v2])
    new = Catalog.open(url)
    assert applied == [2]
    assert new.store("kept-shop").name == "Kept Shop", "data survives the upgrade"
    cols = [r[1] for r in sqlite3.connect(tmp_path / "old.db").execute("pragma table_info(store)")]
    assert "note" in cols
    Catalog.open(url)
    assert applied == [2], "a migration runs once"


def test_audit_details_never_hold_secrets(tmp_path):
    c = Catalog.open(f"sqlite:///{tmp_path}/b.db")
    entry = c.audit("reset-password", resource_id="shop", actor="alice", source="cli",
                    details={"admin_password": "s3cret-value", "nested": {"token": "t0k3n"}, "tier": "small"})
    stored = c.audit_entries(store="shop")[0].details
    assert entry.details == stored
    assert stored == {"admin_password": "(sensitive)", "nested": {"token": "(sensitive)"}, "tier": "small"}


def test_events_and_filters(tmp_path):
    c = Catalog.open(f"sqlite:///{tmp_path}/c.db")
    c.upsert_store(StoreSpec(name="Shop", admin_email="a@b.co"))
    c.add_event("shop", "MySQL", "started", resource="mysql")
    c.add_event("shop", "MySQL", "finished", resource="mysql", seconds=1.5)
    c.add_event("unknown", "X", "started")  # no such store: ignored
    assert [(e.step, e.status) for e in c.events("shop")] == [("MySQL", "started"), ("MySQL", "finished")]
    c.audit("apply", resource_id="shop", actor="a", source="cli")
    c.audit("destroy", resource_id="other", actor="b", source="api", ip_address="10.0.0.1")
    assert [e.action for e in c.audit_entries(store="shop")] == ["apply"]
    assert [e.actor for e in c.audit_entries(action="destroy")] == ["b"]


def test_concurrent_writers_wait_their_turn_on_sqlite(tmp_path):
    """Parallel applies write to one SQLite catalog from several threads; a read-then-write
    transaction must wait for the lock, not fail with "database is locked"."""
    catalog = Catalog.open(f"sqlite:///{tmp_path}/race.db")
    errors: list[str] = []

    def work(i: int) -> None:
        try:
            for n in range(40):
                spec = StoreSpec(name=f"Race {i} {n % 3}", admin_email="r@example.com")
                catalog.upsert_store(spec, status="provisioning")
                catalog.add_event(spec.slug, "Namespace", "started")
                catalog.set_status(spec.slug, "ready")
        except Exception as e:  # the failure this guards against is an OperationalError
            errors.append(repr(e))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(catalog.stores()) == 18 and {s.status for s in catalog.stores()} == {"ready"}
