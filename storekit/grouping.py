"""Fleet plans grouped by identical change: "14 stores: tier small → medium; 3 stores: new".

A platform engineer reviewing a plan for a fleet reads one change once, not fourteen
times. Two store plans belong to one group when they would do the same thing: the same
action, the same spec fields changed from the same values to the same values, and the
same resource changes with the same property before/after values (a store's own name
never differs inside a group's changes, because a tier change or an image bump does not
touch names). Drift is part of the signature, so a store whose NetworkPolicy was deleted
is not hidden among stores that merely change tier.

Every group keeps its stores, so a renderer can expand it into the stores and each
store's property changes; ``key`` is a short stable digest of the signature, for links.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterable

from .plan import Plan, ResourceChange, SpecChange

ACTION_ORDER = {"create": 0, "update": 1, "destroy": 2, "noop": 3}


@dataclass(frozen=True)
class ChangeGroup:
    """Stores whose plans make the identical change."""

    key: str
    label: str  # "tier small → medium", "new (small)", "destroy", "no changes"
    action: str
    stores: tuple[str, ...]
    spec_changes: tuple[SpecChange, ...]
    changes: tuple[ResourceChange, ...]  # the shared resource changes (ops other than same)
    drift: tuple[ResourceChange, ...] = ()

    @property
    def count(self) -> int:
        return len(self.stores)

    @property
    def headline(self) -> str:
        return f"{self.count} store{'s' if self.count != 1 else ''}: {self.label}"

    def to_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "headline": self.headline, "action": self.action,
                "count": self.count, "stores": list(self.stores),
                "spec_changes": [c.to_dict() for c in self.spec_changes],
                "changes": [c.to_dict() for c in self.changes], "drift": [c.to_dict() for c in self.drift]}


def _changed(plan: Plan) -> tuple[ResourceChange, ...]:
    return tuple(c for c in plan.changes if c.op not in ("same", "read"))


def _value(v) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def signature(plan: Plan) -> tuple:
    """What makes two plans the same change (see the module docstring)."""
    changes = tuple(sorted(
        (c.type, c.name, c.op, tuple(sorted((p.path, p.kind, _value(p.before), _value(p.after), p.forces_replacement)
                                            for p in c.properties)))
        for c in _changed(plan)))
    drift = tuple(sorted((c.type, c.name, c.op, tuple(sorted(p.path for p in c.properties))) for c in plan.drift))
    specs = tuple((c.field, _value(c.before), _value(c.after)) for c in plan.spec_changes)
    tier = plan.spec.tier if plan.spec is not None and plan.action == "create" else None
    return (plan.action, tier, specs, changes, drift)


def label(plan: Plan) -> str:
    if plan.action == "create":
        return f"new ({plan.spec.tier})" if plan.spec else "new"
    if plan.action == "destroy":
        return "destroy"
    if not plan.has_changes and not plan.drift:
        return "no changes"
    parts = [c.text for c in plan.spec_changes if c.field not in ("admin_email",)]
    parts += [c.text for c in plan.spec_changes if c.field == "admin_email"]
    if plan.drift:
        kinds = sorted({c.kind for c in plan.drift})
        parts.append(f"restore drift ({', '.join(kinds)})")
    if not parts:
        parts.append(plan.summary.text.removeprefix("Plan: ").rstrip("."))
    return "; ".join(parts)


def group_plans(plans: Iterable[Plan]) -> tuple[ChangeGroup, ...]:
    """The plans' groups: creates first, then updates, destroys and unchanged stores; the
    larger group first within an action; stores in the order given."""
    buckets: dict[tuple, list[Plan]] = {}
    for plan in plans:
        buckets.setdefault(signature(plan), []).append(plan)
    groups = []
    for sig, members in buckets.items():
        first = members[0]
        key = hashlib.sha256(repr(sig).encode()).hexdigest()[:12]
        groups.append(ChangeGroup(key=key, label=label(first), action=first.action,
                                  stores=tuple(p.store for p in members), spec_changes=first.spec_changes,
                                  changes=_changed(first), drift=first.drift))
    groups.sort(key=lambda g: (ACTION_ORDER.get(g.action, 9), -g.count, g.label))
    return tuple(groups)


def groups_text(groups: Iterable[ChangeGroup]) -> str:
    """"14 stores: tier small → medium; 3 stores: new (small); 1 store: destroy"."""
    return "; ".join(g.headline for g in groups if g.action != "noop") or "No changes."
