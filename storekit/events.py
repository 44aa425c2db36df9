"""Progress of long work as small typed events, through one choke point.

The engine's raw Pulumi events go through ``EventTranslator``, which turns them into
``ResourceStarted`` / ``ResourceFinished`` / ``ResourceFailed`` (with timings, the
timeline step and the operation) and ``OperationStarted`` / ``OperationFinished`` for
the whole operation. Operations emit them and write nothing else: the catalog's store
status, timeline and audit trail subscribe to them (``recorder.CatalogRecorder``), callers
receive them through ``on_event``, the CLI renders them live. Messages are scrubbed of
every known secret.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:  # only in annotations: importing pulumi costs a CLI start ~0.4 s
    from pulumi.automation import events as pe

HIDDEN_TYPES = ("pulumi:pulumi:Stack",)
HIDDEN_PREFIXES = ("pulumi:providers:",)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def is_hidden(resource_type: str) -> bool:
    return resource_type in HIDDEN_TYPES or resource_type.startswith(HIDDEN_PREFIXES)


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def scrub(text: str, secrets: Iterable[str]) -> str:
    for value in secrets:
        if value and len(value) >= 6:
            text = text.replace(value, "(sensitive)")
    return text


@dataclass(frozen=True)
class Event:
    store: str
    at: str = field(default_factory=now_iso)

    @property
    def name(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict:
        return {"event": self.name, **asdict(self)}


OPERATIONS = ("apply", "destroy", "restart", "reset-password", "backup", "restore")


@dataclass(frozen=True)
class OperationStarted(Event):
    operation: str = "apply"  # one of OPERATIONS
    spec: Any = None  # the resolved StoreSpec being applied (apply only)
    steps: tuple[str, ...] = ()  # the engine's timeline steps, in order


@dataclass(frozen=True)
class OperationFinished(Event):
    operation: str = "apply"
    ok: bool = True
    seconds: float = 0.0
    message: str = ""
    outputs: Any = None  # StoreOutputs after a successful apply


@dataclass(frozen=True)
class StoreInSync(Event):
    """An apply found nothing to do; the catalog learns of a store made before it existed."""

    spec: Any = None
    outputs: Any = None


@dataclass(frozen=True)
class Recovered(Event):
    """An interrupted run's leftovers were repaired before an operation (``recovery``)."""

    message: str = ""
    lock_cleared: str | None = None
    adopted: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftChecked(Event):
    """A drift check ran: how many objects drifted (for metrics)."""

    changes: int = 0


@dataclass(frozen=True)
class Audited(Event):
    """One mutating call, done or refused: what the audit trail records."""

    action: str = ""
    name: str | None = None
    actor: str = ""
    source: str = "library"
    ip: str | None = None
    outcome: str = "ok"  # ok | failed
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceEvent(Event):
    resource: str = ""  # logical name in the stack, e.g. "wordpress"
    type: str = ""
    op: str = ""  # create | update | replace | delete | same | refresh ...
    step: str = ""  # timeline step, e.g. "WordPress"


@dataclass(frozen=True)
class ResourceStarted(ResourceEvent):
    pass


@dataclass(frozen=True)
class ResourceFinished(ResourceEvent):
    seconds: float = 0.0


@dataclass(frozen=True)
class ResourceFailed(ResourceEvent):
    seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class Diagnostic(Event):
    severity: str = "info"
    resource: str = ""
    message: str = ""


EventCallback = Callable[[Event], None]


class EventTranslator:
    """Turns Pulumi engine events of one operation into storekit events.

    Also keeps what an ``ApplyResult`` needs: per-resource outcomes with timings, and the
    error diagnostics for the failure message.
    """

    def __init__(self, store: str, step_of: Callable[[str, str], str], secrets: Iterable[str],
                 sink: EventCallback | None):
        self.store = store
        self.step_of = step_of
        self.secrets = [s for s in secrets if s]
        self.sink = sink
        self.started: dict[str, tuple[float, ResourceEvent]] = {}
        self.outcomes: dict[str, dict] = {}
        self.errors: list[str] = []
        self.warnings: dict[str, str] = {}  # resource -> its last warning
        # urn -> (type, outputs) as the engine last reported each resource (storekit.baseline)
        self.states: dict[str, tuple[str, dict]] = {}

    def emit(self, event: Event) -> None:
        if self.sink is not None:
            self.sink(event)

    def _base(self, meta: pe.StepEventMetadata) -> dict:
        name = urn_name(meta.urn)
        return {"store": self.store, "resource": name, "type": meta.type,
                "op": meta.op.value if hasattr(meta.op, "value") else str(meta.op),
                "step": self.step_of(meta.type, name)}

    def __call__(self, raw: pe.EngineEvent) -> None:
        if raw.resource_pre_event is not None:
            meta = raw.resource_pre_event.metadata
            if is_hidden(meta.type):
                return
            event = ResourceStarted(**self._base(meta))
            self.started[meta.urn] = (time.monotonic(), event)
            if event.op != "same":
                self.emit(event)
        elif raw.res_outputs_event is not None:
            meta = raw.res_outputs_event.metadata
            if is_hidden(meta.type):
                return
            seconds = self._elapsed(meta.urn)
            base = self._base(meta)
            self.outcomes[base["resource"]] = {**base, "status": "ok", "seconds": seconds}
            if base["op"] == "delete":  # a replacement's old half ("delete-replaced") keeps the urn
                self.states.pop(meta.urn, None)
            elif meta.new is not None and base["op"] != "delete-replaced":
                self.states[meta.urn] = (meta.type, dict(meta.new.outputs or {}))
            if base["op"] != "same":
                self.emit(ResourceFinished(**base, seconds=seconds))
        elif raw.res_op_failed_event is not None:
            meta = raw.res_op_failed_event.metadata
            base = self._base(meta)
            seconds = self._elapsed(meta.urn)
            message = self.errors[-1] if self.errors else "failed"
            self.outcomes[base["resource"]] = {**base, "status": "failed", "seconds": seconds,
                                               "message": message}
            self.emit(ResourceFailed(**base, seconds=seconds, message=message))
        elif raw.diagnostic_event is not None:
            d = raw.diagnostic_event
            if d.severity not in ("error", "warning"):
                return
            message = scrub(d.message.strip(), self.secrets)
            resource = urn_name(d.urn) if d.urn else ""
            if d.severity == "error":
                self.errors.append(message)
            elif resource:
                self.warnings[resource] = message
            self.emit(Diagnostic(store=self.store, severity=d.severity, resource=resource,
                                 message=message))

    def failure_warnings(self) -> list[str]:
        """The last warning of each resource that failed: usually the cause."""
        return [f"{name}: {self.warnings[name]}" for name, o in self.outcomes.items()
                if o["status"] == "failed" and name in self.warnings]

    def _elapsed(self, urn: str) -> float:
        started = self.started.get(urn)
        return round(time.monotonic() - started[0], 3) if started else 0.0
