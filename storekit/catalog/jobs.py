"""Job and saved-plan queries: what workers and previews use.

Jobs: queued -> running -> succeeded | failed. ``claim`` takes the oldest queued job whose
store has no running job, with an atomic ``UPDATE ... WHERE status='queued'``, so jobs on
one store run one at a time across every worker process sharing the catalog.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Callable

from ..errors import SpecError
from .models import utcnow
from .records import JOB_KINDS, JobRecord


def _job(row) -> JobRecord:
    return JobRecord(id=row.id, kind=row.kind, store=row.store_slug, payload=row.payload, status=row.status,
                     error=row.error, actor=row.actor, source=row.source, ip_address=row.ip_address,
                     worker=row.worker, attempts=row.attempts, created_at=row.created_at,
                     started_at=row.started_at, finished_at=row.finished_at, heartbeat_at=row.heartbeat_at)


class JobRepository:
    def __init__(self, db, models):
        self.db, self.Job = db, models.Job

    def enqueue(self, kind: str, slug: str, *, actor: str, source: str, ip_address: str | None = None,
                payload: dict | None = None, status: str = "queued", worker: str | None = None) -> JobRecord:
        """A new job; ``status="running"`` with ``worker`` records a job run at once by its caller."""
        if kind not in JOB_KINDS:
            raise SpecError([("kind", f"must be one of {', '.join(JOB_KINDS)}")], subject="job")
        now = utcnow() if status == "running" else None
        row = self.Job.create(kind=kind, store_slug=slug, payload=payload, actor=actor, source=source,
                              ip_address=ip_address, status=status, worker=worker, started_at=now,
                              heartbeat_at=now, attempts=1 if status == "running" else 0)
        return _job(self.Job.get_by_id(row.id))

    def queued_like(self, kind: str, slug: str, payload: dict | None) -> JobRecord | None:
        """A job of the store still waiting in the queue that would do exactly the same."""
        Job = self.Job
        for row in Job.select().where((Job.store_slug == slug) & (Job.kind == kind) & (Job.status == "queued")
                                      ).order_by(Job.id):
            if (row.payload or None) == (payload or None):
                return _job(row)
        return None

    def get(self, job_id: int) -> JobRecord | None:
        row = self.Job.get_or_none(self.Job.id == job_id)
        return _job(row) if row else None

    def for_store(self, slug: str, *, active: bool = True) -> list[JobRecord]:
        Job = self.Job
        q = Job.select().where(Job.store_slug == slug)
        if active:
            q = q.where(Job.status.in_(("queued", "running")))
        return [_job(r) for r in q.order_by(Job.id)]

    def counts(self) -> dict:
        return {status: self.Job.select().where(self.Job.status == status).count()
                for status in ("queued", "running")}

    def claim(self, worker: str) -> JobRecord | None:
        """Take the oldest queued job whose store has no running job (atomically).

        A job put back with an error (its store was busy, its engine was interrupted) comes
        after the jobs not tried yet: the oldest job of a store another process holds would
        otherwise be taken again and again by every worker while the rest of the queue
        waited (bench/scale.py: 186 attempts in 10 minutes, no other store made). A job
        queued again because its worker died has no error and keeps its place."""
        Job = self.Job
        busy = Job.select(Job.store_slug).where(Job.status == "running")
        candidates = (Job.select().where((Job.status == "queued") & ~(Job.store_slug.in_(busy)))
                      .order_by(Job.error.is_null(False), Job.id).limit(5))
        for job in candidates:
            now = utcnow()
            taken = (Job.update(status="running", worker=worker, started_at=now, heartbeat_at=now,
                                attempts=Job.attempts + 1)
                     .where((Job.id == job.id) & (Job.status == "queued")).execute())
            if taken:
                return _job(Job.get_by_id(job.id))
        return None

    def heartbeat(self, job_id: int, *, at=None) -> None:
        Job = self.Job
        Job.update(heartbeat_at=at or utcnow()).where((Job.id == job_id) & (Job.status == "running")).execute()

    def finish(self, job_id: int, error: str | None = None) -> None:
        self.Job.update(status="failed" if error else "succeeded", error=error,
                        finished_at=utcnow()).where(self.Job.id == job_id).execute()

    def requeue(self, job_id: int, *, error: str | None = None) -> None:
        """Put a running job back in the queue (its store was busy, or its worker died)."""
        Job = self.Job
        Job.update(status="queued", worker=None, error=error).where(
            (Job.id == job_id) & (Job.status == "running")).execute()

    def requeue_running(self, is_orphan: Callable[[JobRecord], bool], *,
                        max_attempts: int | None = None) -> list[JobRecord]:
        """Queue again every running job for which ``is_orphan(job)`` is true; one that has
        had ``max_attempts`` already fails instead (its lease expired once too often)."""
        orphans = [j for j in map(_job, self.Job.select().where(self.Job.status == "running")) if is_orphan(j)]
        for job in orphans:
            if max_attempts is not None and job.attempts >= max_attempts:
                self.Job.update(status="failed", finished_at=utcnow(),
                                error=f"its worker stopped answering on attempt {job.attempts} of "
                                      f"{max_attempts}; not tried again").where(
                    (self.Job.id == job.id) & (self.Job.status == "running")).execute()
            else:
                self.requeue(job.id)
        return orphans


class PlanRepository:
    """Plans as they were shown, kept a day so that exactly they can be applied."""

    KEEP = timedelta(days=1)

    def __init__(self, db, models):
        self.db, self.SavedPlan = db, models.SavedPlan

    def save(self, slug: str, payload: dict) -> str:
        plan_id = secrets.token_hex(16)
        with self.db.atomic():
            self.SavedPlan.delete().where(self.SavedPlan.created_at < utcnow() - self.KEEP).execute()
            self.SavedPlan.create(id=plan_id, store_slug=slug, payload=payload)
        return plan_id

    def get(self, plan_id: str) -> tuple[str, dict] | None:
        """(store slug, plan document) of a saved plan, or None (unknown or expired)."""
        row = self.SavedPlan.get_or_none(self.SavedPlan.id == plan_id)
        if row is None or row.created_at < utcnow() - self.KEEP:
            return None
        return row.store_slug, row.payload
