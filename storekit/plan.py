"""Plans: the diff between a store's desired state and its recorded state, as data.

A ``Plan`` is built from the engine's preview digest (``pulumi preview --json``): one
``ResourceChange`` per resource with its operation and, for updates and replacements,
property-level before/after values and the reasons for a replacement. Secrets are
redacted before anything reaches a Plan: values Pulumi marks secret, and every value of
a Kubernetes Secret's ``data``/``stringData``.

A plan records a fingerprint of the store's recorded state; applying a saved plan refuses
(``StalePlan``) when it no longer matches. JSON: ``format_version``, docs/plan-format.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from . import __version__
from .capacity import CapacityPreview
from .errors import SpecError
from .files import atomic_write
from .policy import PolicyResult
from .redact import redact_url
from .events import is_hidden, urn_name
from .spec import StoreSpec

FORMAT_VERSION = 2  # 2: spec_changes, policy, capacity, hash; fleet groups (docs/plan-format.md)
SENSITIVE = "(sensitive)"
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's secret signature key
_SECRET_DATA_KEYS = ("data", "stringData")

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "same": " ",  # as Terraform's
           "create-replacement": "-/+", "delete-replaced": "-/+", "read": "<=", "refresh": "~"}


def redact(value: Any) -> Any:
    """Replace every secret in a JSON-like value with ``(sensitive)``."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) is not None:
            return SENSITIVE
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if value == "[secret]":
        return SENSITIVE
    return value


_PATH_TOKEN = re.compile(r'\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]|([^.\[\]]+)')


def split_path(path: str) -> list[str | int]:
    """Split a Pulumi property path: ``metadata.labels["a.b/c"]`` -> ["metadata","labels","a.b/c"]."""
    parts: list[str | int] = []
    for quoted, index, plain in _PATH_TOKEN.findall(path):
        if index:
            parts.append(int(index))
        else:
            parts.append(quoted or plain)
    return parts


_MISSING = object()


def lookup(value: Any, path: str) -> Any:
    for part in split_path(path):
        if isinstance(part, int) and isinstance(value, list) and part < len(value):
            value = value[part]
        elif isinstance(part, str) and isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


@dataclass(frozen=True)
class PropertyChange:
    path: str
    kind: str  # add | update | delete (from the engine's detailed diff)
    before: Any = None
    after: Any = None
    forces_replacement: bool = False

    def to_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "before": self.before, "after": self.after,
                "forces_replacement": self.forces_replacement}


@dataclass(frozen=True)
class ResourceChange:
    name: str  # logical name in the stack ("wordpress")
    type: str  # "kubernetes:apps/v1:Deployment"
    op: str  # create | update | replace | delete | same
    properties: tuple[PropertyChange, ...] = ()
    replace_reasons: tuple[str, ...] = ()
    kube_name: str | None = None  # metadata.name when known

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.op, "?")

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "kind": self.kind, "op": self.op,
                "kube_name": self.kube_name, "replace_reasons": list(self.replace_reasons),
                "properties": [p.to_dict() for p in self.properties]}

    @classmethod
    def from_dict(cls, d: dict) -> "ResourceChange":
        return cls(name=d["name"], type=d["type"], op=d["op"], kube_name=d.get("kube_name"),
                   replace_reasons=tuple(d.get("replace_reasons", ())),
                   properties=tuple(PropertyChange(**p) for p in d.get("properties", ())))


@dataclass(frozen=True)
class SpecChange:
    """One field of the desired spec that differs from the spec the store was last applied with."""

    field: str  # "tier", "images.wordpress"
    before: Any
    after: Any

    @property
    def text(self) -> str:
        return f"{self.field} {_short(self.before)} \u2192 {_short(self.after)}"

    def to_dict(self) -> dict:
        return {"field": self.field, "before": self.before, "after": self.after}


def _short(value: Any) -> str:
    return "(none)" if value is None else str(value)


def spec_changes(before: StoreSpec | None, after: StoreSpec | None) -> tuple[SpecChange, ...]:
    """The fields that differ between a recorded and a desired spec (images per key)."""
    if before is None or after is None:
        return ()
    old, new = before.to_dict(), after.to_dict()
    out = []
    for key in new:
        if key == "images":
            for image in sorted(set(old.get("images") or {}) | set(new.get("images") or {})):
                a, b = (old.get("images") or {}).get(image), (new.get("images") or {}).get(image)
                if a != b:
                    out.append(SpecChange(f"images.{image}", a, b))
        elif old.get(key) != new.get(key):
            out.append(SpecChange(key, old.get(key), new.get(key)))
    return tuple(out)


@dataclass(frozen=True)
class PlanSummary:
    add: int = 0
    change: int = 0
    destroy: int = 0
    same: int = 0

    @property
    def text(self) -> str:
        if not (self.add or self.change or self.destroy):
            return "No changes."
        return f"Plan: {self.add} to add, {self.change} to change, {self.destroy} to destroy."

    def to_dict(self) -> dict:
        return {"add": self.add, "change": self.change, "destroy": self.destroy, "same": self.same,
                "text": self.text}

    @classmethod
    def of(cls, changes: Iterable[ResourceChange]) -> "PlanSummary":
        add = change = destroy = same = 0
        for c in changes:
            if c.op == "create":
                add += 1
            elif c.op == "update":
                change += 1
            elif c.op == "delete":
                destroy += 1
            elif c.op == "replace":
                add += 1
                destroy += 1
            else:
                same += 1
        return cls(add, change, destroy, same)


@dataclass(frozen=True)
class Plan:
    """What applying would do to one store."""

    store: str  # slug (the stack name)
    action: str  # create | update | destroy | noop
    spec: StoreSpec | None  # the resolved spec to apply (None for destroy)
    changes: tuple[ResourceChange, ...]
    fingerprint: str  # of the recorded state the plan was made against
    state_url: str
    drift: tuple[ResourceChange, ...] = ()  # changed behind storekit's back (when refreshed)
    refreshed: bool = False  # made against live state; apply refreshes too
    spec_changes: tuple[SpecChange, ...] = ()  # desired fields that differ from the recorded spec
    # Attached by the governance review (storekit.governance); shown, never trusted at apply.
    policy: tuple[PolicyResult, ...] = ()
    capacity: CapacityPreview | None = None
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    storekit_version: str = __version__
    format_version: int = FORMAT_VERSION
    # A new store's preview secrets and engine plan (engineplan.Prepared); never serialized.
    prepared: Any = field(default=None, compare=False, repr=False)

    @property
    def summary(self) -> PlanSummary:
        return PlanSummary.of(self.changes)

    @property
    def has_changes(self) -> bool:
        return any(c.op not in ("same", "read") for c in self.changes)

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else self.store

    @property
    def hash(self) -> str:
        """What the plan does, as a digest: approvals are bound to it. Covers the store, the
        action, the recorded state it was made against, the spec and every change; not
        when it was made, nor the policy results and capacity shown with it."""
        content = {k: v for k, v in self.to_dict(hashed=False).items()
                   if k in ("store", "action", "state_url", "fingerprint", "refreshed", "spec", "spec_changes",
                            "changes", "drift")}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
        return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()

    @property
    def blocked(self) -> bool:
        return any(r.blocks for r in self.policy)

    def to_dict(self, *, hashed: bool = True) -> dict:
        d = {
            "format_version": self.format_version,
            "storekit_version": self.storekit_version,
            "created_at": self.created_at,
            "store": self.store,
            "action": self.action,
            "state_url": redact_url(self.state_url),  # never a password in a plan file or response
            "fingerprint": self.fingerprint,
            "refreshed": self.refreshed,
            "spec": self.spec.to_dict() if self.spec else None,
            "summary": self.summary.to_dict(),
            "has_changes": self.has_changes,
            "spec_changes": [c.to_dict() for c in self.spec_changes],
            "changes": [c.to_dict() for c in self.changes],
            "drift": [c.to_dict() for c in self.drift],
            "policy": [r.to_dict() for r in self.policy],
            "capacity": self.capacity.to_dict() if self.capacity else None,
        }
        if hashed:
            d["hash"] = self.hash
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)

    def save(self, path: str | Path) -> Path:
        return atomic_write(path, self.to_json() + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        if not isinstance(d, dict):
            raise SpecError([("plan", "must be a JSON object")], subject="plan file")
        version = d.get("format_version")
        if version != FORMAT_VERSION:
            raise SpecError([("format_version", f"must be {FORMAT_VERSION} (got {version!r})")],
                            subject="plan file")
        missing = [k for k in ("store", "action", "fingerprint", "state_url", "changes") if k not in d]
        if missing:
            raise SpecError([(k, "is required") for k in missing], subject="plan file")
        try:
            return cls(
                store=d["store"], action=d["action"],
                spec=StoreSpec.from_dict(d["spec"]) if d.get("spec") else None,
                changes=tuple(ResourceChange.from_dict(c) for c in d["changes"]),
                drift=tuple(ResourceChange.from_dict(c) for c in d.get("drift", ())),
                spec_changes=tuple(SpecChange(**c) for c in d.get("spec_changes", ())),
                policy=tuple(PolicyResult.from_dict(r) for r in d.get("policy") or ()),
                capacity=CapacityPreview.from_dict(d.get("capacity")),
                fingerprint=d["fingerprint"], state_url=d["state_url"],
                refreshed=bool(d.get("refreshed", False)),
                created_at=d.get("created_at", ""), storekit_version=d.get("storekit_version", ""),
                format_version=version,
            )
        except (KeyError, TypeError) as e:
            raise SpecError([("changes", f"malformed entry ({e})")], subject="plan file") from e

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise SpecError([(str(path), "does not exist")], subject="plan file") from e
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SpecError([(str(path), f"is not a JSON plan ({e})")], subject="plan file") from e
        return cls.from_dict(data)


# ---- building plans from the engine's preview digest --------------------------------

def _state_inputs(state: dict | None) -> dict:
    if not state:
        return {}
    return state.get("inputs") or {}


def _redacted_inputs(rtype: str, inputs: dict) -> dict:
    inputs = redact(inputs)
    if rtype == "kubernetes:core/v1:Secret":
        inputs = {k: ({kk: SENSITIVE for kk in v} if k in _SECRET_DATA_KEYS and isinstance(v, dict) else v)
                  for k, v in inputs.items()}
    return inputs


def _kind_of(diff: dict) -> str:
    kind = (diff.get("kind") or "update").lower()
    return kind.replace("-replace", "")


def _property_changes(rtype: str, step: dict) -> tuple[PropertyChange, ...]:
    old = _redacted_inputs(rtype, _state_inputs(step.get("oldState")))
    new = _redacted_inputs(rtype, _state_inputs(step.get("newState")))
    detailed = step.get("detailedDiff") or {}
    if not detailed:  # providers without detailed diffs: fall back to top-level keys
        detailed = {k: {"kind": "update"} for k in step.get("diffReasons") or ()}
    changes = []
    for path, diff in sorted(detailed.items()):
        kind_raw = (diff.get("kind") or "").lower()
        if rtype == "kubernetes:core/v1:Secret" and split_path(path)[:1] in (["data"], ["stringData"]):
            before = after = SENSITIVE
        else:
            before, after = lookup(old, path), lookup(new, path)
        changes.append(PropertyChange(
            path=path, kind=_kind_of(diff),
            before=None if before is _MISSING else before,
            after=None if after is _MISSING else after,
            forces_replacement=kind_raw.endswith("-replace")))
    return tuple(changes)


_OP_MAP = {"create-replacement": "replace", "replace": "replace", "delete-replaced": None,
           "create": "create", "update": "update", "delete": "delete", "same": "same",
           "read": "read", "refresh": None, "discard": "delete", "import": "create"}


def _kube_name(inputs: dict | None) -> str | None:
    metadata = inputs.get("metadata") if isinstance(inputs, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None


def changes_from_digest(digest: dict, recorded: dict | None = None) -> tuple[ResourceChange, ...]:
    """One ResourceChange per resource from ``pulumi preview --json`` output.

    The digest lists only resources that change (plus refresh steps, which are not
    changes); every other resource of the recorded state is reported as ``same``.
    """
    out: dict[str, ResourceChange] = {}
    for step in digest.get("steps") or ():
        state = step.get("newState") or step.get("oldState") or {}
        rtype = state.get("type") or step.get("type") or ""
        urn = step.get("urn", "")
        op = _OP_MAP.get(step.get("op", ""), step.get("op"))
        if op is None or is_hidden(rtype):
            continue  # refresh reads, and the delete half of a replacement (its create half reports it)
        inputs = _state_inputs(step.get("newState")) or _state_inputs(step.get("oldState"))
        out[urn] = ResourceChange(
            name=urn_name(urn), type=rtype, op=op,
            properties=_property_changes(rtype, step) if op in ("update", "replace") else (),
            replace_reasons=tuple(step.get("replaceReasons") or ()),
            kube_name=_kube_name(inputs))
    same = [ResourceChange(name=urn_name(r["urn"]), type=r["type"], op="same", kube_name=_kube_name(r.get("inputs")))
            for r in (recorded or {}).get("resources") or ()
            if r.get("custom") and not is_hidden(r["type"]) and r["urn"] not in out]
    return tuple(out.values()) + tuple(same)


def fingerprint(deployment: dict | None) -> str:
    """A digest of a stack's recorded resources (``absent`` when there is no stack)."""
    if deployment is None:
        return "absent"
    relevant = {"resources": deployment.get("resources") or [],
                "pending_operations": deployment.get("pending_operations") or []}
    blob = json.dumps(relevant, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()
