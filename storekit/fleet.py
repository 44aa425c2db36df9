"""Fleet files: many stores declared in one YAML file, planned and applied together.

    # stores.yaml
    defaults:            # optional; every store inherits these fields
      tier: small
    stores:
      - name: My Test Shop
        admin_email: owner@example.com
      - name: Big Shop
        admin_email: big@example.com
        tier: large

An optional ``rollout:`` section says how ``apply`` rolls the fleet out in waves
(``load_rollout``, ``storekit.rollout``).

A fleet plan holds one ``Plan`` per store in the file and, with ``prune``, a destroy plan
for every store the backend has that the file lacks. Saved, it is a JSON document of
kind ``fleet`` with the same ``format_version`` as a single plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .capacity import CapacityPreview
from .errors import SpecError
from .files import atomic_write
from .grouping import ChangeGroup, group_plans, groups_text
from .plan import FORMAT_VERSION, Plan, PlanSummary
from .spec import StoreSpec
from .toolchain import LazyModule

yaml = LazyModule("yaml")  # loaded when a fleet file is read (start-up time)

FLEET_KEYS = {"defaults", "stores", "rollout"}
ROLLOUT_KEYS = {"waves", "max_unavailable", "bake", "gate"}


def parse_fleet(text: str, source: str = "fleet file") -> list[StoreSpec]:
    """Specs from a fleet file's text; one ``SpecError`` lists every problem found."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError([(source, f"is not valid YAML{where}: {getattr(e, 'problem', e)}")],
                        subject="fleet file") from e
    if not isinstance(data, dict) or not isinstance(data.get("stores"), list):
        raise SpecError([(source, "must be a mapping with a 'stores' list")], subject="fleet file")
    problems = [(k, "is not a fleet file key (known: defaults, stores, rollout)") for k in sorted(set(data) - FLEET_KEYS)]
    rollout = data.get("rollout")
    if rollout is not None and (not isinstance(rollout, dict) or set(rollout) - ROLLOUT_KEYS):
        problems.append(("rollout", f"must be a mapping of {', '.join(sorted(ROLLOUT_KEYS))}"))
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(("defaults", "must be a mapping of store fields"))
        defaults = {}
    specs, seen = [], {}
    for i, entry in enumerate(data["stores"]):
        if not isinstance(entry, dict):
            problems.append((f"stores[{i}]", "must be a mapping of store fields"))
            continue
        try:
            spec = StoreSpec.from_dict({**defaults, **entry})
            spec.validate()
        except SpecError as e:
            problems += [(f"stores[{i}].{f}", rule) for f, rule in e.problems]
            continue
        if spec.slug in seen:
            problems.append((f"stores[{i}].name", f"slugs to '{spec.slug}' like stores[{seen[spec.slug]}]"))
            continue
        seen[spec.slug] = i
        specs.append(spec)
    if problems:
        raise SpecError(problems, subject="fleet file")
    return specs


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError as e:
        raise SpecError([(str(path), "does not exist")], subject="fleet file") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([(str(path), f"cannot be read: {e}")], subject="fleet file") from e


def load_fleet(path: str | Path) -> list[StoreSpec]:
    path = Path(path)
    return parse_fleet(_read(path), str(path))


def load_rollout(path: str | Path) -> dict:
    """The fleet file's ``rollout:`` section (waves, max_unavailable, bake, gate), or {}.

        rollout:
          waves: 1,10%,50%,100%
          max_unavailable: 2
          bake: 60        # seconds each wave's stores have to pass the health gate
          gate: http      # ready: pods and volumes only; http: and the home page answers
    """
    path = Path(path)
    parse_fleet(_read(path), str(path))  # the whole file is valid, its rollout section included
    return dict((yaml.safe_load(_read(path)) or {}).get("rollout") or {})


@dataclass(frozen=True)
class FleetPlan:
    plans: tuple[Plan, ...]
    errors: tuple[tuple[str, str], ...] = ()  # (store, message) for stores that could not be planned
    capacity: CapacityPreview | None = None  # the whole fleet's effect on the cluster
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def summary(self) -> PlanSummary:
        return PlanSummary.of(c for p in self.plans for c in p.changes)

    @property
    def has_changes(self) -> bool:
        return any(p.has_changes for p in self.plans)

    @property
    def blocked(self) -> bool:
        return any(p.blocked for p in self.plans)

    @property
    def groups(self) -> tuple[ChangeGroup, ...]:
        """The stores grouped by identical change (``storekit.grouping``)."""
        return group_plans(self.plans)

    @property
    def groups_text(self) -> str:
        return groups_text(self.groups)

    def to_dict(self) -> dict:
        groups = self.groups
        return {"format_version": FORMAT_VERSION, "kind": "fleet", "created_at": self.created_at,
                "summary": self.summary.to_dict(), "has_changes": self.has_changes,
                "groups_text": groups_text(groups), "groups": [g.to_dict() for g in groups],
                "capacity": self.capacity.to_dict() if self.capacity else None,
                "policy": {"blocked": [p.store for p in self.plans if p.blocked],
                           "warnings": sum(1 for p in self.plans for r in p.policy if not r.passed and not r.blocks)},
                "plans": [p.to_dict() for p in self.plans],
                "errors": [{"store": s, "message": m} for s, m in self.errors]}

    def save(self, path: str | Path) -> Path:
        return atomic_write(path, json.dumps(self.to_dict(), indent=2, default=str) + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> "FleetPlan":
        if d.get("format_version") != FORMAT_VERSION:
            raise SpecError([("format_version", f"must be {FORMAT_VERSION} (got {d.get('format_version')!r})")],
                            subject="plan file")
        if not isinstance(d.get("plans"), list):
            raise SpecError([("plans", "must be a list of plans")], subject="plan file")
        return cls(plans=tuple(Plan.from_dict(p) for p in d["plans"]), created_at=d.get("created_at", ""),
                   capacity=CapacityPreview.from_dict(d.get("capacity")))


def load_plan_file(path: str | Path) -> Plan | FleetPlan:
    """A saved single-store plan or fleet plan."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise SpecError([(str(path), "does not exist")], subject="plan file") from e
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise SpecError([(str(path), f"is not a JSON plan ({e})")], subject="plan file") from e
    if isinstance(data, dict) and data.get("kind") == "fleet":
        return FleetPlan.from_dict(data)
    return Plan.from_dict(data)
