"""Drift over the whole fleet: checks with severities, on a schedule, and two ways out.

``check`` asks the store's drift the cheapest sound way the kit offers (``Storekit.drift``:
the engine's refresh preview, or an engine-free check where one proves the live objects are
those of the last apply) and rates it:

- **critical**: an isolation object (NetworkPolicy, ResourceQuota, LimitRange) changed or
  missing: the store is no longer fenced in;
- **info**: only labels or annotations changed;
- **warning**: anything else (sizes, a deleted Service, ...).

The result is kept per store in the catalog (``catalog.drift``); ``sweep`` checks many
stores, those whose last check is older than ``older_than`` seconds, so several workers
sharing a catalog share the work. Per store, two actions, both audited:

- ``revert``: apply the desired spec again (drift-revert);
- ``accept``: take the live value into the desired spec where the spec can say it. The
  spec's size is its tier, so accept looks for the tier whose plan no longer touches the
  drifted properties, shows that plan (``accept_plan``), and applies it (drift-accept).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Sequence

from .errors import SpecError, StorekitError
from .plan import Plan, ResourceChange

ISOLATION_KINDS = ("NetworkPolicy", "ResourceQuota", "LimitRange")
SEVERITIES = ("none", "info", "warning", "critical")
_META = ("metadata.labels", "metadata.annotations")


def change_severity(change: ResourceChange) -> str:
    if change.kind in ISOLATION_KINDS:
        return "critical"
    if change.properties and all(p.path.startswith(_META) for p in change.properties):
        return "info"
    return "warning"


def severity(changes: Iterable[ResourceChange]) -> str:
    return max((change_severity(c) for c in changes), key=SEVERITIES.index, default="none")


@dataclass(frozen=True)
class DriftResult:
    store: str
    severity: str  # none | info | warning | critical | error
    changes: tuple[ResourceChange, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict:
        return {"store": self.store, "severity": self.severity, "error": self.error,
                "changes": [{**c.to_dict(), "severity": change_severity(c)} for c in self.changes]}


def check(kit, slug: str, *, refresh: bool | None = None) -> DriftResult:
    """One store's drift, rated and recorded."""
    try:
        report = kit.drift(slug, **({"refresh": refresh} if refresh is not None else {}))
    except StorekitError as e:
        result = DriftResult(store=slug, severity="error", error=e.message)
    else:
        result = DriftResult(store=slug, severity=severity(report.changes), changes=report.changes)
    kit.catalog.drift.record(slug, severity=result.severity, changes=result.to_dict()["changes"],
                             method="engine", error=result.error)
    return result


def due(kit, older_than: float | None) -> list[str]:
    """The ready stores whose last check is older than ``older_than`` seconds (all when None)."""
    from .catalog import utcnow

    checks = {c.store: c.checked_at for c in kit.catalog.drift.all()}
    cutoff = utcnow() - timedelta(seconds=older_than) if older_than else None
    return [s.slug for s in kit.catalog.stores() if s.status == "ready"
            and (cutoff is None or s.slug not in checks or checks[s.slug] < cutoff)]


def sweep(kit, stores: Sequence[str] | None = None, *, parallel: int | None = None,
          older_than: float | None = None) -> list[DriftResult]:
    """Check ``stores`` (default: every ready store that is due), ``parallel`` at a time."""
    names = list(stores) if stores is not None else due(kit, older_than)
    with ThreadPoolExecutor(max_workers=max(1, parallel or kit.settings.parallel),
                            thread_name_prefix="storekit-drift") as pool:
        return list(pool.map(lambda slug: check(kit, slug), names))


def revert(kit, name: str, *, actor=None, on_event=None):
    """Put the store back to its desired spec (audited drift-revert)."""
    from .spec import slugify

    slug = slugify(name) or name
    with kit.audited("drift-revert", slug, name, actor, {}) as details:
        spec = kit.spec_of(slug)
        plan = kit.plan(spec, refresh=True)
        details.update(drift=[f"{c.kind} {c.kube_name or c.name}" for c in plan.drift], summary=plan.summary.text)
        result = kit.apply(plan, actor=actor, on_event=on_event)
    check(kit, slug)
    return result


def accept_plan(kit, name: str) -> Plan:
    """The plan that takes the live size into the spec: the tier whose plan no longer touches
    the drifted properties. SpecError when no tier does (revert instead)."""
    from .engines import get_engine
    from .spec import slugify

    slug = slugify(name) or name
    report = kit.drift(slug, refresh=True)
    drifted = {(c.name, p.path) for c in report.changes for p in c.properties}
    if not report.changes:
        raise SpecError([("store", f"'{slug}' has no drift to accept")], subject="drift")
    if not drifted or any(c.op in ("create", "delete") for c in report.changes):
        raise SpecError([("drift", "objects were deleted or added behind storekit's back; the spec cannot "
                                   "express that: revert instead")], subject="drift")
    spec = kit.spec_of(slug)
    for tier in get_engine(spec.engine).tier_names:
        if tier == spec.tier:
            continue
        try:
            plan = kit.plan(spec.with_changes(tier=tier), refresh=True)
        except SpecError:  # e.g. volumes would shrink
            continue
        touched = {(c.name, p.path) for c in plan.changes for p in c.properties}
        if not drifted & touched:
            return plan
    raise SpecError([("drift", "no tier matches the live sizes; only the tier is expressible in a spec: "
                               "revert instead")], subject="drift")


def accept(kit, plan: Plan, *, actor=None, on_event=None):
    """Apply an ``accept_plan`` (audited drift-accept): the spec now says what runs."""
    with kit.audited("drift-accept", plan.store, plan.name, actor,
                     {"spec_changes": [c.text for c in plan.spec_changes], "summary": plan.summary.text}):
        result = kit.apply(plan, actor=actor, on_event=on_event)
    check(kit, plan.store)
    return result
