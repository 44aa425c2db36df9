"""Provisioning jobs: persisted in the catalog, run by workers, surviving restarts.

Creating, changing and deleting a store from the dashboard or API is a ``Job`` row
(queued -> running -> succeeded | failed). Workers (threads in ``storekit serve``, or
separate ``storekit worker`` processes sharing the catalog) claim the oldest queued job
whose store has no running job, so jobs on one store run one at a time, and different
stores run in parallel up to the pool size.

A running job's worker writes a heartbeat every few seconds. A job whose heartbeat is
older than ``stale_after`` belongs to a worker that died: it is queued again, and the
stack lock its process may have left is cleared first when that process is provably
gone. Re-running is safe because a job applies a desired spec (a plan made afresh),
which converges whatever the crash left half done.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

from . import procs
from .catalog import Catalog, Job, utcnow
from .errors import SpecError, StoreBusy, StoreNotFound, StorekitError
from .kit import Actor, Storekit
from .spec import StoreSpec

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 3


class JobQueue:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def enqueue(self, kind: str, spec: StoreSpec | None, slug: str, actor: Actor) -> Job:
        if kind not in Job.KINDS:
            raise SpecError([("kind", f"must be one of {', '.join(Job.KINDS)}")], subject="job")
        self.catalog.bind()
        return Job.create(kind=kind, store_slug=slug, payload=spec.to_dict() if spec else None,
                          actor=actor.name, source=actor.source, ip_address=actor.ip)

    def get(self, job_id: int) -> Job | None:
        self.catalog.bind()
        return Job.get_or_none(Job.id == job_id)

    def active(self, slug: str) -> list[Job]:
        self.catalog.bind()
        return list(Job.select().where((Job.store_slug == slug) & Job.status.in_(("queued", "running"))))

    def counts(self) -> dict:
        self.catalog.bind()
        return {status: Job.select().where(Job.status == status).count() for status in ("queued", "running")}

    def claim(self, worker: str) -> Job | None:
        """Take the oldest queued job whose store has no running job (atomically)."""
        self.catalog.bind()
        busy = Job.select(Job.store_slug).where(Job.status == "running")
        candidates = (Job.select().where((Job.status == "queued") & ~(Job.store_slug.in_(busy)))
                      .order_by(Job.id).limit(5))
        for job in candidates:
            now = utcnow()
            taken = (Job.update(status="running", worker=worker, started_at=now, heartbeat_at=now,
                                attempts=Job.attempts + 1)
                     .where((Job.id == job.id) & (Job.status == "queued")).execute())
            if taken:
                return Job.get_by_id(job.id)
        return None

    def heartbeat(self, job_id: int) -> None:
        self.catalog.bind()
        Job.update(heartbeat_at=utcnow()).where((Job.id == job_id) & (Job.status == "running")).execute()

    def finish(self, job_id: int, error: str | None = None) -> None:
        self.catalog.bind()
        Job.update(status="failed" if error else "succeeded", error=error,
                   finished_at=utcnow()).where(Job.id == job_id).execute()

    def requeue_running(self, is_orphan) -> list[Job]:
        """Queue again every running job for which ``is_orphan(job)`` is true."""
        self.catalog.bind()
        orphans = [j for j in Job.select().where(Job.status == "running") if is_orphan(j)]
        for job in orphans:
            Job.update(status="queued", worker=None).where((Job.id == job.id) & (Job.status == "running")).execute()
        return orphans


def _lock_holder_process(holder: str) -> tuple[str, int] | None:
    """(host, pid) from a lock holder "user@host (pid N)"."""
    try:
        return holder.split("@", 1)[1].split(" ", 1)[0], int(holder.rsplit("pid ", 1)[1].rstrip(")"))
    except (IndexError, ValueError):
        return None


def _worker_gone(worker: str | None) -> bool:
    """Whether a worker named "host:pid/n" is a process of this host that no longer runs."""
    try:
        host, rest = (worker or "").split(":", 1)
        pid = int(rest.split("/", 1)[0])
    except ValueError:
        return False
    return pid != os.getpid() and procs.gone(host, pid)


class WorkerPool:
    """``size`` worker threads running jobs from the catalog with one ``Storekit``."""

    def __init__(self, kit: Storekit, *, size: int = 3, poll: float = 1.0, stale_after: float = 20.0):
        self.kit = kit
        self.queue = JobQueue(kit.catalog)
        self.size, self.poll, self.stale_after = size, poll, stale_after
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "WorkerPool":
        self.recover(at_start=True)
        for i in range(self.size):
            t = threading.Thread(target=self._loop, name=f"storekit-worker-{i}", args=(f"{self.name}/{i}",),
                                 daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking jobs; wait up to ``timeout`` seconds in all for running ones."""
        self._stop.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def recover(self, *, at_start: bool = False) -> list[Job]:
        """Queue again the jobs of dead workers: a heartbeat older than ``stale_after``, or
        (at start) a worker process of this host that no longer runs."""
        cutoff = utcnow() - timedelta(seconds=self.stale_after)

        def orphan(job: Job) -> bool:
            return (job.heartbeat_at is None or job.heartbeat_at < cutoff
                    or (at_start and _worker_gone(job.worker)))
        jobs = self.queue.requeue_running(orphan)
        for job in jobs:
            log.warning("job %s: worker %s is gone, queued again", job.id, job.worker)
            self._clear_dead_lock(job)
        if at_start:  # plugins of engines that died with their worker
            procs.reap_orphans(str(Path(self.kit.settings.pulumi_home, "plugins")))
        return jobs

    def _clear_dead_lock(self, job: Job) -> None:
        """Free the stack lock a dead worker left: stop its orphaned engine, then unlock."""
        holder = self.kit.backend.lock_holder(job.store_slug)
        if not holder:
            return
        process = _lock_holder_process(holder[0])
        if process and procs.orphaned(process[1]):
            # The engine of a killed worker runs on without its program; stopping it makes
            # it cancel its update and write what it did, as Ctrl-C would.
            procs.stop(process[1], grace=30)
        holder = self.kit.backend.lock_holder(job.store_slug)
        process = _lock_holder_process(holder[0]) if holder else None
        if process and procs.gone(*process):
            try:
                self.kit.unlock(job.store_slug, actor=Actor(name="storekit-worker", source="worker"))
            except StorekitError:
                pass

    def _loop(self, worker: str) -> None:
        last_recover = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - last_recover > self.stale_after:
                self.recover()
                last_recover = time.monotonic()
            job = self.queue.claim(worker)
            if job is None:
                self._stop.wait(self.poll)
                continue
            self.run(job)

    def run(self, job: Job) -> None:
        beat = threading.Event()

        def heartbeat():
            while not beat.wait(HEARTBEAT_SECONDS):
                self.queue.heartbeat(job.id)
        pulse = threading.Thread(target=heartbeat, daemon=True)
        pulse.start()
        actor = Actor(name=job.actor, source=job.source, ip=job.ip_address)
        log.info("job %s: %s %s (attempt %s, by %s)", job.id, job.kind, job.store_slug, job.attempts, job.actor)
        try:
            if job.kind == "delete":
                try:
                    self.kit.destroy(job.store_slug, actor=actor)
                except StoreNotFound:  # never created, or a previous attempt got there
                    self.kit.catalog.set_status(job.store_slug, "Deleted")
            else:
                self.kit.apply(StoreSpec.from_dict(job.payload), actor=actor)
            self.queue.finish(job.id)
            log.info("job %s: %s %s succeeded", job.id, job.kind, job.store_slug)
        except StoreBusy as e:
            # Another process changes this store right now: try again later.
            self.kit.catalog.bind()
            Job.update(status="queued", worker=None, error=e.message).where(Job.id == job.id).execute()
            log.info("job %s: %s is busy, queued again", job.id, job.store_slug)
            self._stop.wait(self.poll * 5)
        except StorekitError as e:
            self.queue.finish(job.id, error=str(e))
            log.warning("job %s: %s %s failed: %s", job.id, job.kind, job.store_slug, e)
        except Exception as e:  # a bug must fail the job, not kill the worker
            self.queue.finish(job.id, error=f"internal error: {type(e).__name__}: {e}")
            log.exception("job %s: internal error", job.id)
        finally:
            beat.set()
