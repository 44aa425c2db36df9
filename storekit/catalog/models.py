"""The catalog's tables, as Peewee models bound to one database.

``define(db)`` makes a fresh set of model classes bound to ``db``: each ``Catalog`` calls
it once, so two catalogs in one process (a test's, a worker's) never share a binding and
nothing re-binds a global proxy before a query. Only ``storekit.catalog`` uses these.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from peewee import (AutoField, CharField, DateTimeField, FloatField, ForeignKeyField, IntegerField, Model,
                    TextField)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class JSONField(TextField):
    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


def define(db) -> SimpleNamespace:
    """Model classes bound to ``db`` (table names are the same for every binding)."""

    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = True

    class SchemaVersion(Base):
        version = IntegerField()
        applied_at = DateTimeField(default=utcnow)

    class Store(Base):
        id = AutoField()
        name = CharField(max_length=63)
        slug = CharField(max_length=57, unique=True)
        namespace = CharField(max_length=63)
        engine = CharField(max_length=40)
        tier = CharField(max_length=20)
        admin_email = CharField(max_length=254)
        spec = JSONField()
        status = CharField(max_length=20, default="pending", index=True)
        url = CharField(max_length=300, null=True)
        admin_url = CharField(max_length=300, null=True)
        error_message = TextField(null=True)
        created_at = DateTimeField(default=utcnow)
        provisioned_at = DateTimeField(null=True)
        updated_at = DateTimeField(default=utcnow)

    class ProvisioningEvent(Base):
        id = AutoField()
        store = ForeignKeyField(Store, backref="events", on_delete="CASCADE", index=True)
        step = CharField(max_length=60)
        status = CharField(max_length=20)
        resource = CharField(max_length=120, null=True)
        message = TextField(null=True)
        seconds = FloatField(null=True)
        created_at = DateTimeField(default=utcnow, index=True)

    class AuditEntry(Base):
        id = AutoField()
        action = CharField(max_length=40, index=True)
        resource_type = CharField(max_length=40)
        resource_id = CharField(max_length=80, null=True)
        resource_name = CharField(max_length=120, null=True)
        actor = CharField(max_length=120)
        source = CharField(max_length=20)
        ip_address = CharField(max_length=64, null=True)
        outcome = CharField(max_length=20, default="ok")
        details = JSONField(null=True)
        created_at = DateTimeField(default=utcnow, index=True)

    class Job(Base):
        id = AutoField()
        kind = CharField(max_length=20)
        store_slug = CharField(max_length=57, index=True)
        payload = JSONField(null=True)
        status = CharField(max_length=20, default="queued", index=True)
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

    class ApiToken(Base):
        id = AutoField()
        name = CharField(max_length=80, unique=True)
        role = CharField(max_length=20)
        token_hash = CharField(max_length=64, unique=True)
        created_at = DateTimeField(default=utcnow)
        last_used_at = DateTimeField(null=True)
        expires_at = DateTimeField(null=True)
        revoked_at = DateTimeField(null=True)

    class WebSession(Base):
        """A dashboard login: the cookie holds a secret, this row its SHA-256 (``id``)."""
        id = CharField(max_length=64, primary_key=True)
        token_id = IntegerField(index=True)
        token_hash = CharField(max_length=64)  # the token's hash at login: a rotation ends the session
        created_at = DateTimeField(default=utcnow)
        expires_at = DateTimeField()
        ended_at = DateTimeField(null=True)

    class SavedPlan(Base):
        """A plan as it was shown (dashboard, API), so that exactly it can be applied."""

        id = CharField(max_length=32, primary_key=True)
        store_slug = CharField(max_length=57, index=True)
        payload = JSONField()
        created_at = DateTimeField(default=utcnow, index=True)

    class PlanApproval(Base):
        """A plan submitted for the two-person rule (``id`` is its saved plan's), and who approved it."""

        id = CharField(max_length=32, primary_key=True)
        store_slug = CharField(max_length=57, index=True)
        plan_hash = CharField(max_length=80, index=True)
        submitted_by = CharField(max_length=120)
        submitted_at = DateTimeField(default=utcnow)
        approved_by = CharField(max_length=120, null=True)
        approved_at = DateTimeField(null=True)

    class Rollout(Base):
        """A staged rollout of a fleet plan: its waves, where it stands, what it changed."""

        id = AutoField()
        status = CharField(max_length=20, index=True)  # running | halted | done | rolled-back
        actor = CharField(max_length=120)
        source = CharField(max_length=20)
        options = JSONField()
        waves = JSONField()  # [{"number", "stores", "status", "failed", "started_at", "finished_at"}]
        plans = JSONField()  # slug -> the plan document applied in its wave
        previous = JSONField()  # slug -> the spec before the rollout (for rollback), None for new stores
        message = TextField(null=True)
        created_at = DateTimeField(default=utcnow)
        updated_at = DateTimeField(default=utcnow)

    class DriftCheck(Base):
        """The latest drift check of a store: when, how severe, what drifted."""

        store_slug = CharField(max_length=57, primary_key=True)
        checked_at = DateTimeField(default=utcnow, index=True)
        severity = CharField(max_length=20)  # none | info | warning | critical | error
        changes = JSONField()
        method = CharField(max_length=20)  # engine | fast
        error = TextField(null=True)

    return SimpleNamespace(SchemaVersion=SchemaVersion, Store=Store, ProvisioningEvent=ProvisioningEvent,
                           AuditEntry=AuditEntry, Job=Job, ApiToken=ApiToken, WebSession=WebSession,
                           SavedPlan=SavedPlan, PlanApproval=PlanApproval, Rollout=Rollout,
                           DriftCheck=DriftCheck)
