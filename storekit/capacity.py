"""The capacity preview in every plan: its effect on requested CPU, memory and storage,
against what the cluster can still give.

A store reserves what its tier declares (``Tier.requests``: the store's quota requests).
A plan's delta is what it adds (a new store), removes (a destroy) or changes (a tier
change, read from its ``spec_changes``). The cluster side is read once per plan or fleet:
the allocatable CPU and memory of the nodes stores can land on (untainted, not cordoned),
and what stores already reserve (the requests in the ResourceQuotas of storekit's
namespaces). Storage is compared only where the cluster says how much there is: a
StorageClass without a provisioner, over a fixed pool of PersistentVolumes; a dynamic
provisioner has no fixed size, so storage is then reported but not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from .engine import quantity

RESOURCES = ("cpu", "memory", "storage")
GI = 1024 ** 3


@dataclass(frozen=True)
class Amounts:
    cpu: float = 0.0  # cores
    memory: float = 0.0  # bytes
    storage: float = 0.0  # bytes

    def __add__(self, other: "Amounts") -> "Amounts":
        return Amounts(*(getattr(self, r) + getattr(other, r) for r in RESOURCES))

    def __sub__(self, other: "Amounts") -> "Amounts":
        return Amounts(*(getattr(self, r) - getattr(other, r) for r in RESOURCES))

    @classmethod
    def of(cls, quantities: Mapping[str, str] | None) -> "Amounts":
        q = quantities or {}
        return cls(*(float(quantity(q.get(r)) or 0) for r in RESOURCES))

    def to_dict(self) -> dict:
        return {"cpu": round(self.cpu, 3), "memory": int(self.memory), "storage": int(self.storage)}

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "Amounts | None":
        return None if d is None else cls(*(float(d.get(r, 0)) for r in RESOURCES))

    def text(self, *, signed: bool = False) -> str:
        return ", ".join(f"{amount_text(r, getattr(self, r), signed=signed)} {label}"
                         for r, label in zip(RESOURCES, ("CPU", "memory", "storage")))


def amount_text(resource: str, value: float, *, signed: bool = False) -> str:
    sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
    value = abs(value)
    if resource == "cpu":
        return f"{sign}{value:g}"
    return f"{sign}{value / GI:g}Gi"


@dataclass(frozen=True)
class CapacityPreview:
    delta: Amounts
    allocatable: Amounts | None = None  # None: the cluster was not read
    requested: Amounts | None = None  # reserved by stores before the change
    storage_known: bool = False  # the cluster has a fixed amount of store storage

    @property
    def known(self) -> bool:
        return self.allocatable is not None and self.requested is not None

    @property
    def after(self) -> Amounts | None:
        return self.requested + self.delta if self.requested is not None else None

    def short(self) -> list[str]:
        """The resources that would not fit: "cpu", ..."""
        if not self.known:
            return []
        checked = RESOURCES if self.storage_known else RESOURCES[:2]
        return [r for r in checked if getattr(self.after, r) > getattr(self.allocatable, r)
                and getattr(self.delta, r) > 0]

    @property
    def fits(self) -> bool:
        return not self.short()

    @property
    def text(self) -> str:
        head = f"Capacity: {self.delta.text(signed=True)} requested"
        if not self.known:
            asks = any(getattr(self.delta, r) > 0 for r in RESOURCES)
            return head + (" (the cluster's capacity is unknown)." if asks else ".")
        shorts = self.short()
        if not shorts:
            free = self.allocatable - self.after
            return head + f"; fits ({amount_text('cpu', free.cpu)} CPU, {amount_text('memory', free.memory)} memory left)."
        parts = [f"{r} {amount_text(r, getattr(self.after, r))} of {amount_text(r, getattr(self.allocatable, r))} "
                 f"allocatable (short by {amount_text(r, getattr(self.after - self.allocatable, r))})"
                 for r in shorts]
        return head + "; WOULD NOT FIT: " + "; ".join(parts) + "."

    def to_dict(self) -> dict:
        return {"delta": self.delta.to_dict(),
                "allocatable": self.allocatable.to_dict() if self.allocatable else None,
                "requested": self.requested.to_dict() if self.requested else None,
                "after": self.after.to_dict() if self.after else None,
                "storage_checked": self.storage_known, "fits": self.fits, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping | None) -> "CapacityPreview | None":
        if not isinstance(d, Mapping) or "delta" not in d:
            return None
        return cls(delta=Amounts.from_dict(d["delta"]), allocatable=Amounts.from_dict(d.get("allocatable")),
                   requested=Amounts.from_dict(d.get("requested")), storage_known=bool(d.get("storage_checked")))


def tier_amounts(engine: str | None, tier: str | None) -> Amounts:
    from .engines import registry

    e = registry().get(engine) if engine else None
    t = e.tier(tier) if e and tier else None
    return Amounts.of(t.requests) if t else Amounts()


def plan_delta(plan, recorded_tier: Callable[[str], tuple[str, str] | None] = lambda slug: None) -> Amounts:
    """What applying ``plan`` adds to (or frees from) what stores reserve.

    ``recorded_tier(slug)`` gives a store's (engine, tier) before the plan, for destroys."""
    if not plan.has_changes:
        return Amounts()
    if plan.action == "create":
        return tier_amounts(plan.spec.engine, plan.spec.tier)
    if plan.action == "destroy":
        before = recorded_tier(plan.store)
        return Amounts() - tier_amounts(*before) if before else Amounts()
    change = next((c for c in plan.spec_changes if c.field == "tier"), None)
    if change is None or plan.spec is None:
        return Amounts()
    return tier_amounts(plan.spec.engine, change.after) - tier_amounts(plan.spec.engine, change.before)


def total(amounts: Iterable[Amounts]) -> Amounts:
    out = Amounts()
    for a in amounts:
        out = out + a
    return out


POOL_LABEL = "storekit.io/node-pool"


def _schedulable(node, pool: str | None = None) -> bool:
    """Stores' pods may land on it: not cordoned, reports what it can allocate, and either in
    the platform's node pool (``STOREKIT_NODE_POOL``: stores go there only, tolerating its
    taint) or, without a pool, free of NoSchedule/NoExecute taints (stores tolerate none)."""
    if (node.spec and node.spec.unschedulable) or not (node.status and node.status.allocatable):
        return False
    if pool:
        return (node.metadata.labels or {}).get(POOL_LABEL) == pool
    return not (node.spec and any(t.effect in ("NoSchedule", "NoExecute") for t in node.spec.taints or ()))


def read_cluster(kube, *, storage_class: str, node_pool: str | None = None) -> tuple[Amounts, Amounts, bool]:
    """(allocatable, reserved by stores, storage known) from the cluster: schedulable nodes'
    allocatable CPU and memory; storage only for a StorageClass without a provisioner (a
    fixed pool of PersistentVolumes); what store quotas request."""
    from lightkube.core.exceptions import ApiError
    from lightkube.resources.core_v1 import Node, PersistentVolume, ResourceQuota
    from lightkube.resources.storage_v1 import StorageClass

    cpu = memory = 0.0
    for node in kube.list(Node):
        if _schedulable(node, node_pool):
            cpu += float(quantity(node.status.allocatable.get("cpu")) or 0)
            memory += float(quantity(node.status.allocatable.get("memory")) or 0)
    try:
        fixed = kube.get(StorageClass, storage_class).provisioner == "kubernetes.io/no-provisioner"
    except ApiError:
        fixed = False
    storage = 0.0
    if fixed:
        for pv in kube.list(PersistentVolume):
            if pv.spec and pv.spec.storageClassName == storage_class and pv.spec.capacity:
                storage += float(quantity(pv.spec.capacity.get("storage")) or 0)
    reserved = Amounts()
    for quota in kube.list(ResourceQuota, namespace="*", labels={"app.kubernetes.io/managed-by": "storekit"}):
        hard = (quota.spec.hard if quota.spec else None) or {}
        reserved = reserved + Amounts.of({"cpu": hard.get("requests.cpu"), "memory": hard.get("requests.memory"),
                                          "storage": hard.get("requests.storage")})
    return Amounts(cpu, memory, storage), reserved, fixed and storage > 0
