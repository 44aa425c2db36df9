"""The catalog: stores, their timeline, jobs, tokens and the audit trail, as a repository.

One catalog for every front end: the library writes it, so an action taken in a terminal
shows up in the dashboard's timeline and audit log. The database comes from
``STOREKIT_DB_URL`` (default SQLite under ``$STOREKIT_HOME`` in WAL mode); PostgreSQL
works through the same URL (``postgresql://...``).

A ``Catalog`` binds its own model classes once (``models.define``), and is the only code
that touches them: everyone else calls its methods and gets frozen records back
(``records``). Job queries live in ``catalog.jobs``, token queries in ``catalog.tokens``,
plans as shown (to apply exactly them) in ``catalog.plans``; approvals, rollouts and drift
checks in ``catalog.approvals``, ``catalog.rollouts`` and ``catalog.drift``.

Schema changes are versioned migrations (``MIGRATIONS``): ``Catalog.open()`` applies the
ones an older database lacks, in order, each in a transaction, and records the version.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from peewee import OperationalError, PostgresqlDatabase, SqliteDatabase, fn
from playhouse.db_url import connect, parse

from ..errors import SpecError, StorageFull, StorekitError, no_space
from . import models as _models
from .fleetops import ApprovalRepository, DriftRepository, RolloutRepository
from .jobs import JobRepository, PlanRepository
from .models import utcnow
from .resilient import ResilientPostgres, retrying
from .tokens import TokenRepository
from .records import (JOB_KINDS, STORE_STATUSES, TOKEN_ROLES, AuditRecord, EventRecord, JobRecord,
                      SessionRecord, StoreRecord, TokenRecord)

__all__ = ["AuditRecord", "Catalog", "EventRecord", "JOB_KINDS", "JobRecord", "MIGRATIONS", "STORE_STATUSES",
           "SessionRecord", "StoreRecord", "TOKEN_ROLES", "TokenRecord", "parse_since", "utcnow"]

MIGRATION_LOCK = 0x5704E417  # PostgreSQL advisory lock key held while migrating

SECRET_KEYS = ("password", "passphrase", "secret", "token", "salt")


def _scrub_details(value: Any) -> Any:
    """Audit details never hold secrets: drop every key that names one."""
    if isinstance(value, dict):
        return {k: ("(sensitive)" if any(s in k.lower() for s in SECRET_KEYS) else _scrub_details(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_details(v) for v in value]
    return value


def parse_since(text: str | None) -> datetime | None:
    """``30m``, ``2h``, ``7d`` ago, or an ISO date/time."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text[-1:] in units and re.fullmatch(r"[0-9]{1,9}", text[:-1]):  # ASCII digits only
            ago = timedelta(seconds=int(text[:-1]) * units[text[-1]])
            return (datetime.now(timezone.utc) - ago).replace(tzinfo=None)
        value = datetime.fromisoformat(text)
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    except (ValueError, OverflowError) as e:
        raise SpecError([("since", "must be like 30m, 2h, 7d or an ISO date (2026-11-26T10:00)")],
                        subject="audit filter") from e


# ---- migrations: each step gets the database and this catalog's models --------------

def _v1(db, m) -> None:
    db.create_tables([m.Store, m.ProvisioningEvent, m.AuditEntry])


def _v2(db, m) -> None:
    db.create_tables([m.Job, m.ApiToken])


def _v3(db, m) -> None:
    """Lowercase store statuses; jobs say "destroy", as plans and the audit trail do."""
    m.Store.update(status=fn.LOWER(m.Store.status)).execute()
    m.Job.update(kind="destroy").where(m.Job.kind == "delete").execute()


def _v4(db, m) -> None:
    """Tokens expire and are revoked; dashboard sessions live in the catalog, so they can end."""
    from peewee import DateTimeField
    from playhouse.migrate import SchemaMigrator, migrate

    migrator = SchemaMigrator.from_database(db)
    have = {c.name for c in db.get_columns("apitoken")}  # a new database made them in _v2 already
    migrate(*(migrator.add_column("apitoken", name, DateTimeField(null=True))
              for name in ("expires_at", "revoked_at") if name not in have))
    db.create_tables([m.WebSession])


def _v5(db, m) -> None:
    """Plans as shown by the dashboard and the API, so that exactly they can be applied."""
    db.create_tables([m.SavedPlan])


def _v6(db, m) -> None:
    """Fleet governance: approvals of plans (two-person rule), staged rollouts, drift checks."""
    db.create_tables([m.PlanApproval, m.Rollout, m.DriftCheck])


MIGRATIONS: list[Callable] = [_v1, _v2, _v3, _v4, _v5, _v6]


def _store(row) -> StoreRecord:
    return StoreRecord(**{f: getattr(row, f) for f in StoreRecord.__dataclass_fields__})


def _event(row) -> EventRecord:
    return EventRecord(id=row.id, store_id=row.store_id, step=row.step, status=row.status, resource=row.resource,
                       message=row.message, seconds=row.seconds, created_at=row.created_at)


def _audit(row) -> AuditRecord:
    return AuditRecord(**{f: getattr(row, f) for f in AuditRecord.__dataclass_fields__})


class Catalog:
    """An open catalog database (thread-safe: Peewee keeps a connection per thread)."""

    _open_lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url
        self.db = _connect(url)
        self._m = _models.define(self.db)
        self.jobs = JobRepository(self.db, self._m)
        self.tokens = TokenRepository(self.db, self._m)
        self.plans = PlanRepository(self.db, self._m)
        self.approvals = ApprovalRepository(self._m)
        self.rollouts = RolloutRepository(self._m)
        self.drift = DriftRepository(self._m)

    @classmethod
    def open(cls, url: str) -> "Catalog":
        catalog = cls(url)
        catalog.migrate()
        return catalog

    def migrate(self) -> int:
        m = self._m
        with self._open_lock, self.db.connection_context(), self._migrating():
            self.db.create_tables([m.SchemaVersion], safe=True)
            current = m.SchemaVersion.select().order_by(m.SchemaVersion.version.desc()).first()
            version = current.version if current else 0
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                with self.db.atomic():
                    step(self.db, m)
                    m.SchemaVersion.create(version=number)
                version = number
        return version

    @contextmanager
    def _migrating(self):
        """One process migrates at a time. Replicas starting together on a new PostgreSQL
        would otherwise race: CREATE TABLE IF NOT EXISTS is not safe against a concurrent
        one there (a duplicate key in pg_type). SQLite serializes writers by itself."""
        if not isinstance(self.db, PostgresqlDatabase):
            yield
            return
        self.db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            yield
        finally:
            self.db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    def schema_versions(self) -> list[int]:
        with self.db.connection_context():
            return [v.version for v in self._m.SchemaVersion.select().order_by(self._m.SchemaVersion.version)]

    # ---- connections (the web app opens one per request) -------------------------

    def connect(self) -> None:
        self.db.connect(reuse_if_open=True)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    def ping(self) -> None:
        """Raise the database's own error unless it answers."""
        self.db.execute_sql("SELECT 1")

    # ---- stores ----------------------------------------------------------------

    def upsert_store(self, spec, **fields) -> StoreRecord:
        Store = self._m.Store

        def transaction():
            with self.db.atomic():
                row = Store.get_or_none(Store.slug == spec.slug)
                values = dict(name=spec.name, namespace=spec.namespace, engine=spec.engine, tier=spec.tier,
                              admin_email=spec.admin_email, spec=spec.to_dict(), updated_at=utcnow(), **fields)
                if row is None:
                    row = Store.create(slug=spec.slug, **values)
                else:
                    Store.update(**values).where(Store.id == row.id).execute()
                    row = Store.get_by_id(row.id)
            return _store(row)
        return retrying(self.db, transaction)

    def set_status(self, slug: str, status: str, **fields) -> None:
        if status not in STORE_STATUSES:
            raise ValueError(f"not a store status: {status!r}")
        Store = self._m.Store
        Store.update(status=status, updated_at=utcnow(), **fields).where(Store.slug == slug).execute()

    def store(self, slug: str) -> StoreRecord | None:
        row = self._m.Store.get_or_none(self._m.Store.slug == slug)
        return _store(row) if row else None

    def stores(self) -> list[StoreRecord]:
        Store = self._m.Store
        return [_store(r) for r in Store.select().where(Store.status != "deleted").order_by(Store.created_at)]

    def store_page(self, *, q: str | None = None, status: str | None = None, tier: str | None = None,
                   limit: int = 100, offset: int = 0) -> tuple[list[StoreRecord], int]:
        """One page of the stores that are not deleted, oldest first, optionally only those
        whose name or slug contains ``q`` (any case), of one ``status`` or ``tier``; with
        how many match in all."""
        Store = self._m.Store
        where = Store.status != "deleted"
        if q:
            where &= fn.LOWER(Store.name).contains(q.lower()) | Store.slug.contains(q.lower())
        if status:
            where &= Store.status == status
        if tier:
            where &= Store.tier == tier
        total = Store.select().where(where).count()
        rows = Store.select().where(where).order_by(Store.created_at, Store.id).limit(limit).offset(offset)
        return [_store(r) for r in rows], total

    def count_stores(self) -> int:
        """Stores that exist or are on their way (not deleted): what MAX_STORES limits."""
        return self._m.Store.select().where(self._m.Store.status != "deleted").count()

    def add_event(self, slug: str, step: str, status: str, *, resource: str | None = None,
                  message: str | None = None, seconds: float | None = None) -> None:
        row = self._m.Store.get_or_none(self._m.Store.slug == slug)
        if row is not None:
            self._m.ProvisioningEvent.create(store=row, step=step, status=status, resource=resource,
                                             message=message, seconds=seconds)

    def events(self, slug: str) -> list[EventRecord]:
        E, Store = self._m.ProvisioningEvent, self._m.Store
        return [_event(r) for r in E.select().join(Store).where(Store.slug == slug).order_by(E.id)]

    def figures(self) -> dict:
        """Counts for monitoring: jobs by (kind, status), the queue, stores by status."""
        Job, Store = self._m.Job, self._m.Store
        jobs = {(r.kind, r.status): r.n for r in Job.select(Job.kind, Job.status, fn.COUNT(Job.id).alias("n"))
                .group_by(Job.kind, Job.status)}
        oldest = Job.select(fn.MIN(Job.created_at)).where(Job.status == "queued").scalar()
        if isinstance(oldest, str):  # SQLite hands an aggregate back as text
            oldest = datetime.fromisoformat(oldest)
        stores = {r.status: r.n for r in Store.select(Store.status, fn.COUNT(Store.id).alias("n"))
                  .group_by(Store.status)}
        return {"jobs": jobs, "queued": sum(n for (_, status), n in jobs.items() if status == "queued"),
                "oldest_queued_seconds": max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0,
                "stores": stores}

    # ---- audit -----------------------------------------------------------------

    def audit(self, action: str, *, resource_type: str = "store", resource_id: str | None = None,
              resource_name: str | None = None, actor: str, source: str, ip_address: str | None = None,
              outcome: str = "ok", details: dict | None = None) -> AuditRecord:
        row = self._m.AuditEntry.create(action=action, resource_type=resource_type, resource_id=resource_id,
                                        resource_name=resource_name, actor=actor, source=source,
                                        ip_address=ip_address, outcome=outcome, details=_scrub_details(details))
        return _audit(self._m.AuditEntry.get_by_id(row.id))

    def audit_entries(self, *, store: str | None = None, action: str | None = None,
                      since: datetime | None = None, until: datetime | None = None,
                      outcome: str | None = None, limit: int = 100) -> list[AuditRecord]:
        A = self._m.AuditEntry
        q = A.select()
        if store:
            q = q.where((A.resource_id == store) | (A.resource_name == store))
        if action:
            q = q.where(A.action == action)
        if outcome:
            q = q.where(A.outcome == outcome)
        if since:
            q = q.where(A.created_at >= since)
        if until:
            q = q.where(A.created_at <= until)
        return [_audit(r) for r in q.order_by(A.id.desc()).limit(limit)]


class GuardedSqlite(SqliteDatabase):
    """SQLite whose full disk is ``StorageFull`` naming the file. SQLite rolls a transaction
    back by itself when its disk is full, so peewee's own rollback after that finds none:
    that is not a second error to report."""

    @contextmanager
    def _writing(self):
        try:
            yield
        except OperationalError as e:
            if no_space(e):
                raise StorageFull("the catalog database", self.database) from e
            raise

    def execute_sql(self, sql, params=None):
        with self._writing():
            return super().execute_sql(sql, params)

    def commit(self):
        with self._writing():
            return super().commit()

    def rollback(self):
        try:
            return super().rollback()
        except OperationalError as e:
            if "no transaction is active" not in str(e):
                raise


def _connect(url: str):
    if not isinstance(url, str) or "://" not in url:
        raise SpecError([("db_url", "must be a URL like sqlite:///path or postgresql://...")], subject="setting")
    try:
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            if str(path) != ":memory:":
                path.parent.mkdir(parents=True, exist_ok=True)
            # BEGIN IMMEDIATE: a transaction that reads and then writes (upsert_store) takes
            # the write lock up front and waits its turn (busy_timeout); a deferred one fails
            # at once with "database is locked" when another writer got in between.
            return GuardedSqlite(str(path), pragmas={"journal_mode": "wal", "foreign_keys": 1,
                                                      "busy_timeout": 10000, "synchronous": "normal"},
                                  check_same_thread=False, lock_type="IMMEDIATE")
        if url.startswith(("postgres://", "postgresql://")):  # rides out a server restart
            return ResilientPostgres(**parse(url))
        return connect(url)
    except (RuntimeError, ValueError, ImportError) as e:
        raise StorekitError(f"cannot open the catalog database {url!r}: {e}",
                            hint="Check STOREKIT_DB_URL.") from e
