"""Provisioning jobs: persisted in the catalog, run by workers, surviving restarts.

Creating, changing and destroying a store, restarting it and resetting its admin password
from the dashboard or API is a job (``catalog.jobs``)
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

import contextvars
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from . import procs
from .catalog import JobRecord, utcnow
from .errors import EngineInterrupted, SpecError, StoreBusy, StoreNotFound, StorekitError
from .kit import Storekit
from .plan import Plan
from .recorder import Actor
from .runtime import log_context
from .spec import StoreSpec

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 3
# A job is tried at most this many times (its worker or engine dying under it counts):
# a job that kills whatever runs it fails instead of going round for ever.
MAX_ATTEMPTS = 3


def execute(kit: Storekit, job: JobRecord, actor: Actor) -> object:
    """Run one job's operation with ``kit``; what the operation returns.

    create/update apply the job's plan (exactly that plan: a stale one fails the job) or,
    without one, plan its spec afresh; destroy removes the store; restart and
    reset-password are the day-2 operations. Every one writes the store's timeline.
    rollout-resume and rollout-rollback resume a halted staged rollout or roll its waves
    back (``storekit.rollout``), queued from the dashboard and the API.
    """
    payload = job.payload or {}
    if job.kind in ("create", "update"):
        if "plan" in payload:
            plan = Plan.from_dict(payload["plan"])
            if job.attempts <= 1:
                return kit.apply(plan, actor=actor)
            # A retry after a crash: the cut-off attempt changed the state the plan was made
            # against, so converge to the approved plan's spec instead.
            return kit.apply(plan.spec, actor=actor)
        return kit.apply(StoreSpec.from_dict(payload.get("spec", payload)), actor=actor)
    if job.kind == "destroy":
        try:  # an expired store's destroy was decided by its spec: no policy or approval check
            return kit.destroy(job.store, actor=actor, governed=not payload.get("expired"))
        except StoreNotFound:  # never created, or a previous attempt got there
            kit.catalog.set_status(job.store, "deleted")
            return None
    if job.kind == "restart":
        return kit.restart(job.store, payload.get("component", "all"), actor=actor)
    if job.kind == "reset-password":
        return kit.reset_admin_password(job.store, actor=actor)  # workers drop it: read by an explicit reveal
    if job.kind == "backup":
        return kit.backup(job.store, to=payload.get("location"), actor=actor)
    if job.kind == "restore":
        return kit.restore(job.store, payload["backup"], location=payload.get("location"), actor=actor)
    if job.kind == "clone":
        return kit.clone(payload["source"], payload.get("name") or job.store, from_backup=payload.get("backup"),
                         location=payload.get("location"), actor=actor)
    if job.kind in ("rollout-resume", "rollout-rollback"):  # job.store is "rollout-<id>": one at a time
        from .rollout import Rollouts

        rollouts, number = Rollouts(kit, actor=actor), int(payload["rollout"])
        if job.kind == "rollout-rollback":
            return rollouts.rollback(number, all_waves=bool(payload.get("all")))
        record = kit.catalog.rollouts.get(number)
        if job.attempts > 1 and record is not None and record.status == "running":
            return rollouts.run(number)  # the worker resuming it died: go on where it stopped
        return rollouts.resume(number)
    raise SpecError([("kind", f"no runner for jobs of kind {job.kind!r}")], subject="job")


@contextmanager
def _heartbeat(queue, job_id: int):
    """Beat every few seconds while the block runs, so recovery knows the job is alive."""
    stop = threading.Event()

    def beat():
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                queue.heartbeat(job_id)
            except Exception as e:  # the catalog is away: beat again when it is back
                log.warning("job %s: heartbeat failed: %s", job_id, e)
    context = contextvars.copy_context()  # its log lines carry the job's fields
    threading.Thread(target=context.run, args=(beat,), daemon=True, name=f"storekit-heartbeat-{job_id}").start()
    try:
        yield
    finally:
        stop.set()


def run_job(kit: Storekit, job: JobRecord, actor: Actor, *, busy_requeues: bool = False):
    """Run a claimed (running) job with heartbeats and record how it ended; its result.

    Errors are recorded on the job and raised again. With ``busy_requeues`` (workers), a
    store another process is changing puts the job back in the queue instead.
    """
    queue = kit.catalog.jobs
    try:
        with _heartbeat(queue, job.id):
            result = execute(kit, job, actor)
    except StoreBusy as e:
        if busy_requeues:
            queue.requeue(job.id, error=e.message)
        else:
            queue.finish(job.id, error=str(e))
        raise
    except EngineInterrupted as e:
        # The engine was killed under the job: the next attempt repairs what it left.
        if busy_requeues and job.attempts < MAX_ATTEMPTS:
            queue.requeue(job.id, error=e.message)
        else:
            queue.finish(job.id, error=str(e))
        raise
    except StorekitError as e:
        queue.finish(job.id, error=str(e))
        raise
    except Exception as e:
        queue.finish(job.id, error=f"internal error: {type(e).__name__}: {e}")
        raise
    queue.finish(job.id)
    return result


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
        self.queue = kit.catalog.jobs
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
        # Expired leases are looked for by a thread of their own: with every worker busy on a
        # long job, a dead worker's job would otherwise wait for one of them to finish.
        reaper = threading.Thread(target=self._reap, name="storekit-lease-reaper", daemon=True)
        reaper.start()
        self._threads.append(reaper)
        return self

    def _reap(self) -> None:
        while not self._stop.wait(max(0.2, self.stale_after / 2)):
            try:
                self.recover()
            except Exception as e:  # the catalog is away: look again next time
                log.warning("lease reaper: %s", e)

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking jobs; wait up to ``timeout`` seconds in all for running ones."""
        self._stop.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def recover(self, *, at_start: bool = False) -> list[JobRecord]:
        """Queue again the jobs of dead workers: a heartbeat older than ``stale_after``, or
        (at start) a worker process of this host that no longer runs."""
        cutoff = utcnow() - timedelta(seconds=self.stale_after)

        def orphan(job: JobRecord) -> bool:
            return (job.heartbeat_at is None or job.heartbeat_at < cutoff
                    or (at_start and _worker_gone(job.worker)))
        jobs = self.queue.requeue_running(orphan, max_attempts=MAX_ATTEMPTS)
        for job in jobs:
            with log_context(job=job.id, store=job.store):
                self._recovered(job)
        if at_start:  # plugins of engines that died with their worker
            procs.reap_orphans(str(Path(self.kit.settings.pulumi_home, "plugins")))
        return jobs

    def _recovered(self, job: JobRecord) -> None:
        """Log a dead worker's job taken back, and free the stack lock it left."""
        if job.attempts >= MAX_ATTEMPTS:
            log.warning("job %s: worker %s is gone, and it was attempt %s: failed", job.id, job.worker,
                        job.attempts)
        else:
            log.warning("job %s: worker %s is gone, queued again", job.id, job.worker)
        self._clear_dead_lock(job)

    def _clear_dead_lock(self, job: JobRecord) -> None:
        """Free the stack lock a dead worker left: stop its orphaned engine, then unlock."""
        holder = self.kit.gateway.lock_holder(job.store)
        if not holder:
            return
        process = procs.parse_holder(holder[0])
        if process and procs.orphaned(process[1]):
            # The engine of a killed worker runs on without its program; stopping it makes
            # it cancel its update and write what it did, as Ctrl-C would.
            procs.stop(process[1], grace=30)
        holder = self.kit.gateway.lock_holder(job.store)
        process = procs.parse_holder(holder[0]) if holder else None
        if process and procs.gone(*process):
            try:
                self.kit.unlock(job.store, actor=Actor(name="storekit-worker", source="worker"))
            except StorekitError:
                pass

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            try:
                job = self.queue.claim(worker)
            except Exception as e:  # the catalog is away: a worker waits, it does not die
                log.warning("worker %s: cannot reach the catalog: %s", worker, e)
                self._stop.wait(self.poll * 5)
                continue
            if job is None:
                self._stop.wait(self.poll)
                continue
            self.run(job)

    def run(self, job: JobRecord) -> None:
        with log_context(job=job.id, store=job.store):
            self._run(job)

    def _run(self, job: JobRecord) -> None:
        actor = Actor(name=job.actor, source=job.source, ip=job.ip_address)
        log.info("job %s: %s %s (attempt %s, by %s)", job.id, job.kind, job.store, job.attempts, job.actor)
        try:
            run_job(self.kit, job, actor, busy_requeues=True)
            log.info("job %s: %s %s succeeded", job.id, job.kind, job.store)
        except StoreBusy:
            log.info("job %s: %s is busy, queued again", job.id, job.store)
            self._stop.wait(self.poll * 5)
        except EngineInterrupted as e:
            log.warning("job %s: %s %s: %s (attempt %s of %s)", job.id, job.kind, job.store, e.message,
                        job.attempts, MAX_ATTEMPTS)
        except StorekitError as e:
            log.warning("job %s: %s %s failed: %s", job.id, job.kind, job.store, e)
        except Exception:  # a bug must fail the job, not kill the worker
            log.exception("job %s: internal error", job.id)
