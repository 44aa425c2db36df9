"""A store's timeline as data: one line per engine step, resources folded inside.

The catalog keeps one row per thing that happened (an operation started, a resource
started or finished, the operation finished). ``build_timeline`` folds them into what a
person reads: the operations, newest first, each with one ``StepLine`` per engine step
(Namespace → Isolation → Secrets → MySQL → WordPress → Setup → Ingress → Ready) carrying
its status, duration and the resources it touched, plus the progress of a running one.
Every renderer (the CLI's text, the dashboard's HTML fragments, the API's JSON) reads this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing the catalog package loads peewee: every CLI start would pay it
    from .catalog.records import EventRecord

# The first line of each operation, as the recorder writes it (recorder.START_STEP).
OPERATION_STEPS = {"Apply": "apply", "Destroy": "destroy", "Restart": "restart", "Password reset": "reset-password"}
FINAL_STEPS = ("Ready", "Deleted", "Restarted", "Failed")


@dataclass(frozen=True)
class ResourceLine:
    name: str
    status: str  # started | finished | failed
    seconds: float | None
    message: str | None


@dataclass(frozen=True)
class StepLine:
    name: str
    status: str  # pending | running | done | failed
    seconds: float | None = None
    started_at: datetime | None = None
    resources: tuple[ResourceLine, ...] = ()
    message: str | None = None


@dataclass(frozen=True)
class Operation:
    operation: str  # apply | destroy | restart | reset-password (or "history" for rows before any start line)
    status: str  # running | done | failed
    started_at: datetime | None
    seconds: float | None
    steps: tuple[StepLine, ...] = ()
    message: str | None = None

    @property
    def progress(self) -> int:
        """Percent of the engine's steps done (100 once the operation ended well)."""
        if self.status == "done":
            return 100
        planned = [s for s in self.steps if s.name not in FINAL_STEPS]
        if not planned:
            return 0
        return int(100 * sum(s.status == "done" for s in planned) / len(planned))

    def to_dict(self) -> dict:
        from .catalog.records import iso

        d = asdict(self)
        d["progress"] = self.progress
        d["started_at"] = iso(self.started_at)
        for step in d["steps"]:
            step["started_at"] = iso(step["started_at"])
        return d


@dataclass(frozen=True)
class Timeline:
    store: str
    status: str  # the store's status in the catalog
    operations: tuple[Operation, ...] = field(default_factory=tuple)  # newest first

    @property
    def current(self) -> Operation | None:
        return self.operations[0] if self.operations else None

    @property
    def provisioning(self) -> bool:
        return self.current is not None and self.current.status == "running"

    def to_dict(self) -> dict:
        return {"store": self.store, "status": self.status, "provisioning": self.provisioning,
                "operations": [o.to_dict() for o in self.operations]}


def _operation(kind: str, rows: list[EventRecord], *, planned: tuple[str, ...]) -> Operation:
    steps: dict[str, dict] = {name: {"status": "pending", "resources": {}} for name in planned}
    first, final = rows[0], None
    for row in rows:
        if row.step in OPERATION_STEPS and row is first:
            continue
        if row.step in FINAL_STEPS:
            final = row
            continue
        step = steps.setdefault(row.step, {"status": "pending", "resources": {}})
        step.setdefault("started_at", row.created_at)
        if row.resource:
            step["resources"][row.resource] = ResourceLine(row.resource, row.status, row.seconds,
                                                           row.message if row.status == "failed" else None)
        if row.status == "failed":
            step["status"], step["message"] = "failed", row.message
        elif step["status"] != "failed":
            running = [r for r in step["resources"].values() if r.status == "started"]
            step["status"] = "running" if running else "done"
    lines = []
    for name, s in steps.items():
        seconds = max((r.seconds or 0 for r in s["resources"].values()), default=None) if s["resources"] else None
        if s["status"] == "done" and s.get("started_at") and s["resources"]:
            ends = [r for r in rows if r.step == name and r.seconds is not None]
            if ends:
                wall = (max(r.created_at for r in ends) - s["started_at"]).total_seconds()
                seconds = round(max(wall, seconds or 0), 1)
        lines.append(StepLine(name=name, status=s["status"], seconds=seconds, started_at=s.get("started_at"),
                              resources=tuple(s["resources"].values()), message=s.get("message")))
    if final is not None:
        ok = final.status != "failed"
        lines.append(StepLine(name=final.step, status="done" if ok else "failed", seconds=final.seconds,
                              started_at=final.created_at, message=final.message))
        status = "done" if ok else "failed"
        seconds = final.seconds
    else:
        status, seconds = "running", None
    return Operation(operation=kind, status=status, started_at=first.created_at, seconds=seconds, steps=tuple(lines),
                     message=final.message if final is not None and final.status == "failed" else None)


def build_timeline(store: str, status: str, rows: list[EventRecord]) -> Timeline:
    """Fold catalog rows (oldest first) into operations (newest first)."""
    runs: list[tuple[str, list[EventRecord]]] = []
    for row in rows:
        if row.step in OPERATION_STEPS and row.status == "started" or not runs:
            runs.append((OPERATION_STEPS.get(row.step, "history"), [row]))
        else:
            runs[-1][1].append(row)
    operations = []
    for kind, group in runs:
        start = group[0]
        planned = tuple(s.strip() for s in (start.message or "").split("→") if s.strip()) \
            if start.step in OPERATION_STEPS else ()
        operations.append(_operation(kind, group, planned=planned))
    return Timeline(store=store, status=status, operations=tuple(reversed(operations)))
