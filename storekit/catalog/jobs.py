"""Job and token queries: the parts of the catalog workers and the web's access control use.

Jobs: queued -> running -> succeeded | failed. ``claim`` takes the oldest queued job whose
store has no running job, with an atomic ``UPDATE ... WHERE status='queued'``, so jobs on
one store run one at a time across every worker process sharing the catalog.
Tokens: rows of (name, role, SHA-256 of the token); what a token is and how it is checked
is the caller's business (``storekit.tokens``).
"""

from __future__ import annotations

from typing import Callable

from ..errors import SpecError
from .models import utcnow
from .records import JOB_KINDS, TOKEN_ROLES, JobRecord, TokenRecord


def _job(row) -> JobRecord:
    return JobRecord(id=row.id, kind=row.kind, store=row.store_slug, payload=row.payload, status=row.status,
                     error=row.error, actor=row.actor, source=row.source, ip_address=row.ip_address,
                     worker=row.worker, attempts=row.attempts, created_at=row.created_at,
                     started_at=row.started_at, finished_at=row.finished_at, heartbeat_at=row.heartbeat_at)


def _token(row) -> TokenRecord:
    return TokenRecord(id=row.id, name=row.name, role=row.role, token_hash=row.token_hash,
                       created_at=row.created_at, last_used_at=row.last_used_at)


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
        """Take the oldest queued job whose store has no running job (atomically)."""
        Job = self.Job
        busy = Job.select(Job.store_slug).where(Job.status == "running")
        candidates = (Job.select().where((Job.status == "queued") & ~(Job.store_slug.in_(busy)))
                      .order_by(Job.id).limit(5))
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

    def requeue_running(self, is_orphan: Callable[[JobRecord], bool]) -> list[JobRecord]:
        """Queue again every running job for which ``is_orphan(job)`` is true."""
        orphans = [j for j in map(_job, self.Job.select().where(self.Job.status == "running")) if is_orphan(j)]
        for job in orphans:
            self.requeue(job.id)
        return orphans


class TokenRepository:
    def __init__(self, db, models):
        self.db, self.ApiToken = db, models.ApiToken

    def add(self, name: str, role: str, token_hash: str) -> TokenRecord:
        if role not in TOKEN_ROLES:
            raise SpecError([("role", f"must be one of {', '.join(TOKEN_ROLES)}")], subject="token")
        with self.db.atomic():
            if self.ApiToken.get_or_none(self.ApiToken.name == name):
                raise SpecError([("name", f"a token named {name!r} exists")], subject="token")
            row = self.ApiToken.create(name=name, role=role, token_hash=token_hash)
        return _token(row)

    def by_hash(self, token_hash: str, *, touch: bool = False) -> TokenRecord | None:
        row = self.ApiToken.get_or_none(self.ApiToken.token_hash == token_hash)
        if row is not None and touch:
            self.ApiToken.update(last_used_at=utcnow()).where(self.ApiToken.id == row.id).execute()
        return _token(row) if row else None

    def by_id(self, token_id: int) -> TokenRecord | None:
        row = self.ApiToken.get_or_none(self.ApiToken.id == token_id)
        return _token(row) if row else None

    def by_name(self, name: str) -> TokenRecord | None:
        row = self.ApiToken.get_or_none(self.ApiToken.name == name)
        return _token(row) if row else None

    def all(self) -> list[TokenRecord]:
        return [_token(r) for r in self.ApiToken.select().order_by(self.ApiToken.id)]

    def any(self) -> bool:
        return self.ApiToken.select().exists()

    def update(self, token_id: int, **fields) -> None:
        self.ApiToken.update(**fields).where(self.ApiToken.id == token_id).execute()

    def remove(self, token_id: int) -> bool:
        return bool(self.ApiToken.delete().where(self.ApiToken.id == token_id).execute())
