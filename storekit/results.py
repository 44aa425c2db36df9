"""Result objects: every library operation returns one of these (all have ``to_dict()``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .plan import Plan, ResourceChange


@dataclass(frozen=True)
class ResourceOutcome:
    resource: str
    type: str
    op: str
    step: str
    status: str  # ok | failed
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class StoreOutputs:
    """What a store exposes. Never includes a password (see ``reveal_admin_password``)."""

    name: str
    slug: str
    namespace: str
    url: str
    admin_url: str
    admin_user: str
    engine: str
    tier: str
    status: str  # ready | failed | updating
    last_update: str | None = None
    notices: tuple[str, ...] = ()  # what its setup said a person must know ("WooCommerce not installed: ...")
    secret_outputs: tuple[str, ...] = ()  # the engine's secret outputs, by name (see ``reveal_outputs``)

    def to_dict(self) -> dict:
        return {**asdict(self), "notices": list(self.notices), "secret_outputs": list(self.secret_outputs)}


@dataclass(frozen=True)
class ApplyResult:
    store: str
    action: str  # create | update | destroy | noop (a failure raises instead)
    seconds: float
    summary: dict
    resources: tuple[ResourceOutcome, ...] = ()
    outputs: StoreOutputs | None = None

    def to_dict(self) -> dict:
        return {"store": self.store, "action": self.action, "seconds": self.seconds,
                "summary": self.summary, "resources": [asdict(r) for r in self.resources],
                "outputs": self.outputs.to_dict() if self.outputs else None}


@dataclass(frozen=True)
class DriftReport:
    store: str
    changes: tuple[ResourceChange, ...]

    @property
    def has_drift(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict:
        return {"store": self.store, "has_drift": self.has_drift,
                "changes": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True)
class StoreSummary:
    slug: str
    last_update: str | None
    resource_count: int
    update_in_progress: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FleetItem:
    """One store's result within a fleet operation: a plan/result, or the error it raised."""

    store: str
    plan: Plan | None = None
    result: ApplyResult | None = None
    error: str | None = None
    error_kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {"store": self.store, "ok": self.ok,
                "plan": self.plan.to_dict() if self.plan else None,
                "result": self.result.to_dict() if self.result else None,
                "error": self.error, "error_kind": self.error_kind}


@dataclass(frozen=True)
class FleetResult:
    items: tuple[FleetItem, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def failed(self) -> tuple[FleetItem, ...]:
        return tuple(i for i in self.items if not i.ok)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "seconds": self.seconds, "items": [i.to_dict() for i in self.items]}
