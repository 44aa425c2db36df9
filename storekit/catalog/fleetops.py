"""Fleet governance queries: approvals of plans, staged rollouts, drift checks.

Records out are frozen dataclasses; nobody outside the catalog touches the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import utcnow
from .records import _Record


@dataclass(frozen=True)
class ApprovalRecord(_Record):
    id: str
    store: str
    plan_hash: str
    submitted_by: str
    submitted_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    _times = ("submitted_at", "approved_at")

    @property
    def approved(self) -> bool:
        return self.approved_by is not None


@dataclass(frozen=True)
class RolloutRecord(_Record):
    id: int
    status: str
    actor: str
    source: str
    options: dict
    waves: list
    plans: dict
    previous: dict
    message: str | None
    created_at: datetime
    updated_at: datetime
    _times = ("created_at", "updated_at")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.pop("plans")  # large; the rollout's own view shows them
        d.pop("previous")
        return d


@dataclass(frozen=True)
class DriftRecord(_Record):
    store: str
    checked_at: datetime
    severity: str
    changes: list
    method: str
    error: str | None
    _times = ("checked_at",)


def _approval(row) -> ApprovalRecord:
    return ApprovalRecord(id=row.id, store=row.store_slug, plan_hash=row.plan_hash, submitted_by=row.submitted_by,
                          submitted_at=row.submitted_at, approved_by=row.approved_by, approved_at=row.approved_at)


class ApprovalRepository:
    def __init__(self, models):
        self.A = models.PlanApproval

    def submit(self, plan_id: str, slug: str, plan_hash: str, actor: str) -> ApprovalRecord:
        row = self.A.get_or_none(self.A.id == plan_id)
        if row is None:
            self.A.create(id=plan_id, store_slug=slug, plan_hash=plan_hash, submitted_by=actor)
        return self.get(plan_id)

    def approve(self, plan_id: str, actor: str) -> ApprovalRecord:
        self.A.update(approved_by=actor, approved_at=utcnow()).where(
            (self.A.id == plan_id) & self.A.approved_by.is_null()).execute()
        return self.get(plan_id)

    def get(self, plan_id: str) -> ApprovalRecord | None:
        row = self.A.get_or_none(self.A.id == plan_id)
        return _approval(row) if row else None

    def approved_for(self, plan_hash: str) -> ApprovalRecord | None:
        row = (self.A.select().where((self.A.plan_hash == plan_hash) & self.A.approved_by.is_null(False))
               .order_by(self.A.approved_at.desc()).first())
        return _approval(row) if row else None

    def pending(self, limit: int = 100, *, store: str | None = None) -> list[ApprovalRecord]:
        """Submitted plans, newest first (of one store with ``store``)."""
        q = self.A.select()
        if store:
            q = q.where(self.A.store_slug == store)
        return [_approval(r) for r in q.order_by(self.A.submitted_at.desc()).limit(limit)]


def _rollout(row) -> RolloutRecord:
    return RolloutRecord(id=row.id, status=row.status, actor=row.actor, source=row.source, options=row.options,
                         waves=row.waves, plans=row.plans, previous=row.previous, message=row.message,
                         created_at=row.created_at, updated_at=row.updated_at)


class RolloutRepository:
    def __init__(self, models):
        self.R = models.Rollout

    def create(self, *, actor: str, source: str, options: dict, waves: list, plans: dict,
               previous: dict) -> RolloutRecord:
        row = self.R.create(status="running", actor=actor, source=source, options=options, waves=waves,
                            plans=plans, previous=previous)
        return self.get(row.id)

    def update(self, rollout_id: int, **fields) -> RolloutRecord:
        self.R.update(updated_at=utcnow(), **fields).where(self.R.id == rollout_id).execute()
        return self.get(rollout_id)

    def get(self, rollout_id: int) -> RolloutRecord | None:
        row = self.R.get_or_none(self.R.id == rollout_id)
        return _rollout(row) if row else None

    def recent(self, limit: int = 20) -> list[RolloutRecord]:
        return [_rollout(r) for r in self.R.select().order_by(self.R.id.desc()).limit(limit)]


def _drift(row) -> DriftRecord:
    return DriftRecord(store=row.store_slug, checked_at=row.checked_at, severity=row.severity, changes=row.changes,
                       method=row.method, error=row.error)


class DriftRepository:
    def __init__(self, models):
        self.D = models.DriftCheck

    def record(self, slug: str, *, severity: str, changes: list, method: str, error: str | None = None) -> None:
        values = dict(checked_at=utcnow(), severity=severity, changes=changes, method=method, error=error)
        if not self.D.update(**values).where(self.D.store_slug == slug).execute():
            self.D.create(store_slug=slug, **values)

    def get(self, slug: str) -> DriftRecord | None:
        row = self.D.get_or_none(self.D.store_slug == slug)
        return _drift(row) if row else None

    def all(self) -> list[DriftRecord]:
        return [_drift(r) for r in self.D.select().order_by(self.D.checked_at.desc())]

    def forget(self, slug: str) -> None:
        self.D.delete().where(self.D.store_slug == slug).execute()
