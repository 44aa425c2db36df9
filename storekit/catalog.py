"""The catalog: stores, their provisioning events, jobs and the audit trail (Peewee).

One catalog for every front end: the library writes it, so an action taken in a terminal
shows up in the dashboard's timeline and audit log. The database comes from
``STOREKIT_DB_URL`` (default SQLite under ``$STOREKIT_HOME`` in WAL mode); PostgreSQL
works through the same URL (``postgresql://...``).

Schema changes are versioned migrations (``MIGRATIONS``): ``Catalog.open()`` applies the
ones an older database lacks, in order, each in a transaction, and records the version.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from peewee import (AutoField, CharField, DatabaseProxy, DateTimeField, FloatField, ForeignKeyField,
                    IntegerField, Model, SqliteDatabase, TextField)
from playhouse.db_url import connect

from .errors import SpecError, StorekitError

database = DatabaseProxy()

SECRET_KEYS = ("password", "passphrase", "secret", "token", "salt")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class JSONField(TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField(default=utcnow)


class Store(BaseModel):
    STATUSES = ("Pending", "Provisioning", "Ready", "Failed", "Deleting", "Deleted")

    id = AutoField()
    name = CharField(max_length=63)
    slug = CharField(max_length=57, unique=True)
    namespace = CharField(max_length=63)
    engine = CharField(max_length=40)
    tier = CharField(max_length=20)
    admin_email = CharField(max_length=254)
    spec = JSONField()
    status = CharField(max_length=20, default="Pending", index=True)
    url = CharField(max_length=300, null=True)
    admin_url = CharField(max_length=300, null=True)
    error_message = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    provisioned_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utcnow)

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "slug": self.slug, "namespace": self.namespace,
                "engine": self.engine, "tier": self.tier, "admin_email": self.admin_email,
                "status": self.status, "url": self.url, "admin_url": self.admin_url,
                "error_message": self.error_message, "created_at": _iso(self.created_at),
                "provisioned_at": _iso(self.provisioned_at), "updated_at": _iso(self.updated_at)}


class ProvisioningEvent(BaseModel):
    id = AutoField()
    store = ForeignKeyField(Store, backref="events", on_delete="CASCADE", index=True)
    step = CharField(max_length=60)
    status = CharField(max_length=20)  # started | finished | failed | info
    resource = CharField(max_length=120, null=True)
    message = TextField(null=True)
    seconds = FloatField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)

    def to_dict(self) -> dict:
        return {"id": self.id, "store_id": self.store_id, "step": self.step, "status": self.status,
                "resource": self.resource, "message": self.message, "seconds": self.seconds,
                "created_at": _iso(self.created_at)}


class AuditEntry(BaseModel):
    id = AutoField()
    action = CharField(max_length=40, index=True)
    resource_type = CharField(max_length=40)
    resource_id = CharField(max_length=80, null=True)
    resource_name = CharField(max_length=120, null=True)
    actor = CharField(max_length=120)
    source = CharField(max_length=20)  # cli | web | api | library | worker
    ip_address = CharField(max_length=64, null=True)
    outcome = CharField(max_length=20, default="ok")  # ok | failed
    details = JSONField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)

    def to_dict(self) -> dict:
        return {"id": self.id, "action": self.action, "resource_type": self.resource_type,
                "resource_id": self.resource_id, "resource_name": self.resource_name,
                "actor": self.actor, "source": self.source, "ip_address": self.ip_address,
                "outcome": self.outcome, "details": self.details, "created_at": _iso(self.created_at)}


class Job(BaseModel):
    """A provisioning job: create, update or delete one store, run by a worker."""

    KINDS = ("create", "update", "delete")
    id = AutoField()
    kind = CharField(max_length=20)
    store_slug = CharField(max_length=57, index=True)
    payload = JSONField(null=True)  # the spec to apply (create/update)
    status = CharField(max_length=20, default="queued", index=True)  # queued|running|succeeded|failed
    error = TextField(null=True)
    actor = CharField(max_length=120)
    source = CharField(max_length=20)
    ip_address = CharField(max_length=64, null=True)
    worker = CharField(max_length=120, null=True)
    attempts = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    heartbeat_at = DateTimeField(null=True)

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "store": self.store_slug, "status": self.status,
                "error": self.error, "actor": self.actor, "source": self.source, "attempts": self.attempts,
                "created_at": _iso(self.created_at), "started_at": _iso(self.started_at),
                "finished_at": _iso(self.finished_at)}


class ApiToken(BaseModel):
    """A bearer token for the API and the dashboard login; only its SHA-256 is stored."""

    ROLES = ("viewer", "admin")
    id = AutoField()
    name = CharField(max_length=80, unique=True)
    role = CharField(max_length=20)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)


def _iso(value: datetime | None) -> str | None:
    return value.replace(tzinfo=timezone.utc).isoformat(timespec="seconds") if value else None


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


# ---- migrations -------------------------------------------------------------------

def _v1(db) -> None:
    db.create_tables([Store, ProvisioningEvent, AuditEntry])


def _v2(db) -> None:
    db.create_tables([Job, ApiToken])


MIGRATIONS: list[Callable] = [_v1, _v2]


class Catalog:
    """An open catalog database (thread-safe: Peewee keeps a connection per thread)."""

    _open_lock = threading.Lock()

    def __init__(self, url: str):
        self.url = url
        self.db = _connect(url)

    @classmethod
    def open(cls, url: str) -> "Catalog":
        catalog = cls(url)
        catalog.migrate()
        return catalog

    def bind(self):
        database.initialize(self.db)
        return self

    def migrate(self) -> int:
        with self._open_lock:
            self.bind()
            with self.db.connection_context():
                self.db.create_tables([SchemaVersion], safe=True)
                current = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
                version = current.version if current else 0
                for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                    with self.db.atomic():
                        step(self.db)
                        SchemaVersion.create(version=number)
                    version = number
        return version

    # ---- stores ----------------------------------------------------------------

    def upsert_store(self, spec, **fields) -> Store:
        self.bind()
        with self.db.atomic():
            store = Store.get_or_none(Store.slug == spec.slug)
            values = dict(name=spec.name, namespace=spec.namespace, engine=spec.engine, tier=spec.tier,
                          admin_email=spec.admin_email, spec=spec.to_dict(), updated_at=utcnow(), **fields)
            if store is None:
                store = Store.create(slug=spec.slug, **values)
            else:
                Store.update(**values).where(Store.id == store.id).execute()
                store = Store.get_by_id(store.id)
        return store

    def set_status(self, slug: str, status: str, **fields) -> None:
        self.bind()
        Store.update(status=status, updated_at=utcnow(), **fields).where(Store.slug == slug).execute()

    def store(self, slug: str) -> Store | None:
        self.bind()
        return Store.get_or_none(Store.slug == slug)

    def stores(self) -> list[Store]:
        self.bind()
        return list(Store.select().where(Store.status != "Deleted").order_by(Store.created_at))

    def count_stores(self) -> int:
        """Stores that exist or are on their way (not deleted): what MAX_STORES limits."""
        self.bind()
        return Store.select().where(Store.status != "Deleted").count()

    def add_event(self, slug: str, step: str, status: str, *, resource: str | None = None,
                  message: str | None = None, seconds: float | None = None) -> None:
        self.bind()
        store = Store.get_or_none(Store.slug == slug)
        if store is not None:
            ProvisioningEvent.create(store=store, step=step, status=status, resource=resource,
                                     message=message, seconds=seconds)

    def events(self, slug: str) -> list[ProvisioningEvent]:
        self.bind()
        return list(ProvisioningEvent.select().join(Store).where(Store.slug == slug)
                    .order_by(ProvisioningEvent.id))

    # ---- audit -----------------------------------------------------------------

    def audit(self, action: str, *, resource_type: str = "store", resource_id: str | None = None,
              resource_name: str | None = None, actor: str, source: str, ip_address: str | None = None,
              outcome: str = "ok", details: dict | None = None) -> AuditEntry:
        self.bind()
        return AuditEntry.create(action=action, resource_type=resource_type, resource_id=resource_id,
                                 resource_name=resource_name, actor=actor, source=source,
                                 ip_address=ip_address, outcome=outcome, details=_scrub_details(details))

    def audit_entries(self, *, store: str | None = None, action: str | None = None,
                      since: datetime | None = None, until: datetime | None = None,
                      limit: int = 200) -> list[AuditEntry]:
        self.bind()
        q = AuditEntry.select()
        if store:
            q = q.where((AuditEntry.resource_id == store) | (AuditEntry.resource_name == store))
        if action:
            q = q.where(AuditEntry.action == action)
        if since:
            q = q.where(AuditEntry.created_at >= since)
        if until:
            q = q.where(AuditEntry.created_at <= until)
        return list(q.order_by(AuditEntry.id.desc()).limit(limit))


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
            return SqliteDatabase(str(path), pragmas={"journal_mode": "wal", "foreign_keys": 1,
                                                      "busy_timeout": 10000, "synchronous": "normal"},
                                  check_same_thread=False, lock_type="IMMEDIATE")
        return connect(url)
    except (RuntimeError, ValueError, ImportError) as e:
        raise StorekitError(f"cannot open the catalog database {url!r}: {e}",
                            hint="Check STOREKIT_DB_URL.") from e
