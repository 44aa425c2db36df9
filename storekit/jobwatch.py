"""Failing an update at once when a Job the engine waits for has failed.

The Kubernetes provider (4.25, through pulumi/cloud-ready-checks 1.3) ends its wait for a Job
with an error only when the Job failed with reason ``BackoffLimitExceeded`` or
``DeadlineExceeded``. A Job failed by its ``podFailurePolicy`` (reason ``PodFailurePolicy``:
a setup script's "retrying will not help" exit code) is not one of them, so the update waited
for the whole timeout, and then said only that it timed out.

``JobWatch`` sits between the engine's events and the translator: it knows which Jobs the
engine is creating or updating (their ``metadata`` from the step's inputs), and while it
runs it reads them every ``every`` seconds. Once one of them is Failed, it interrupts the
engine (SIGINT to this stack's ``pulumi up``, as Ctrl-C does: the engine cancels what is in
flight and saves its state) and keeps a ``FailedJob``: the Job, its reason and message, and
its pod's last words (the container's termination message). The gateway raises ``JobFailed``
from it instead of the engine's cancellation.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass
from typing import Callable

import psutil

from .errors import JobFailed

JOB_TYPE = "kubernetes:batch/v1:Job"
AWAITED_OPS = ("create", "update", "replace", "create-replacement")
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


@dataclass(frozen=True)
class FailedJob:
    namespace: str
    name: str
    reason: str
    message: str
    pod_message: str = ""

    def error(self, store: str, scrub: Callable[[str], str] = str) -> JobFailed:
        return JobFailed(store, self.name, self.reason, scrub(self.message), scrub(self.pod_message),
                         namespace=self.namespace)


def failure_of(job) -> tuple[str, str] | None:
    """(reason, message) of a Job whose ``Failed`` condition is true, else None."""
    for condition in (job.status.conditions or []) if job.status else []:
        if condition.type == "Failed" and condition.status == "True":
            return condition.reason or "Failed", condition.message or ""
    return None


def pod_message(client, namespace: str, name: str) -> str:
    """The termination message of the Job's last failed container, or ''."""
    from lightkube.resources.core_v1 import Pod

    said = []
    for pod in client.list(Pod, namespace=namespace, labels={JOB_NAME_LABEL: name}):
        for status in (pod.status.containerStatuses or []) if pod.status else []:
            terminated = status.state.terminated if status.state else None
            if terminated and terminated.exitCode and terminated.message:
                said.append((terminated.finishedAt or terminated.startedAt, terminated.message.strip()))
    return max(said, key=lambda s: str(s[0]))[1] if said else ""


def engine_processes(stack_name: str) -> list[psutil.Process]:
    """This process's ``pulumi up`` children for the stack (the Automation API's subprocess)."""
    found = []
    for child in psutil.Process(os.getpid()).children():
        try:
            argv = child.cmdline()
        except psutil.Error:
            continue
        if argv and os.path.basename(argv[0]) == "pulumi" and "up" in argv and \
                any(a == "--stack" and b == stack_name for a, b in zip(argv, argv[1:])):
            found.append(child)
    return found


def interrupt(stack_name: str) -> None:
    """Ctrl-C for the stack's engine: it cancels its operations and saves the state."""
    for process in engine_processes(stack_name):
        try:
            process.send_signal(signal.SIGINT)
        except psutil.Error:
            pass


class JobWatch:
    """Forwards engine events to ``sink`` and watches the Jobs they say are being awaited."""

    def __init__(self, client_factory: Callable, stack_name: str, sink: Callable, *, every: float = 2.0,
                 stop_engine: Callable[[str], None] = interrupt):
        self.client_factory, self.stack_name, self.sink = client_factory, stack_name, sink
        self.every, self.stop_engine = every, stop_engine
        self.failure: FailedJob | None = None
        self._awaited: dict[str, tuple[str, str]] = {}  # urn -> (namespace, name)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = None

    # ---- the engine's events ------------------------------------------------------------

    def __call__(self, raw) -> None:
        if raw.resource_pre_event is not None:
            meta = raw.resource_pre_event.metadata
            op = meta.op.value if hasattr(meta.op, "value") else str(meta.op)
            if meta.type == JOB_TYPE and op in AWAITED_OPS and meta.new is not None:
                metadata = (meta.new.inputs or {}).get("metadata") or {}
                if metadata.get("name") and metadata.get("namespace"):
                    with self._lock:
                        self._awaited[meta.urn] = (metadata["namespace"], metadata["name"])
        else:
            done = raw.res_outputs_event or raw.res_op_failed_event
            if done is not None:
                with self._lock:
                    self._awaited.pop(done.metadata.urn, None)
        self.sink(raw)

    # ---- the watch ----------------------------------------------------------------------

    def __enter__(self) -> "JobWatch":
        self._thread = threading.Thread(target=self._run, name=f"jobwatch-{self.stack_name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._done.wait(self.every):
            with self._lock:
                awaited = list(self._awaited.values())
            for namespace, name in awaited:
                try:
                    failed = self.check(namespace, name)
                except Exception:  # noqa: BLE001 - a watch that cannot read leaves the engine's own wait
                    continue
                if failed is not None:
                    self.failure = failed
                    self.stop_engine(self.stack_name)
                    return

    def check(self, namespace: str, name: str) -> FailedJob | None:
        from lightkube.core.exceptions import ApiError
        from lightkube.resources.batch_v1 import Job

        if self._client is None:
            self._client = self.client_factory()
        try:
            job = self._client.get(Job, name, namespace=namespace)
        except ApiError as e:
            if e.status.code in (403, 404):  # not made yet / replaced
                return None
            raise
        failed = failure_of(job)
        if failed is None:
            return None
        try:
            said = pod_message(self._client, namespace, name)
        except ApiError:
            said = ""
        return FailedJob(namespace, name, failed[0], failed[1], said)
