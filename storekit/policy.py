"""Policies on every plan: a small declarative file of rules, evaluated against plan data.

The platform loads the file named by ``STOREKIT_POLICY_FILE``:

    rules:
      - name: keep-isolation          # every store keeps its isolation objects
        type: required_objects
        kinds: [NetworkPolicy, ResourceQuota, LimitRange]
        enforcement: mandatory        # mandatory blocks apply; advisory (the default) warns
      - name: tier-cap
        type: max_tier
        tier: medium
        owners: ["*@example.com"]     # admin_email globs; all owners when absent
      - name: images
        type: image_allowlist
        allow: ["wordpress:*", "mysql:*", "medusa:*"]
      - name: stores-per-owner
        type: max_stores_per_owner
        max: 5
      - name: no-destroys-at-night
        type: change_window
        actions: [destroy]            # default: destroy
        hours: "08:00-18:00"          # UTC
        days: [mon, tue, wed, thu, fri]
      - name: fits
        type: capacity_fits           # the capacity preview says the change fits the cluster

Rules read only the plan (its action, resolved spec and resource changes) and a small
context (the time, how many stores each owner has, the capacity preview), so the same
rule gives the same answer in the CLI, the API, the dashboard and a fleet. Results are
data (``PolicyResult``); the plan carries them, and apply evaluates them again from the
plan's content, never trusting results written in a plan file.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import PolicyViolation, SpecError  # noqa: F401 (PolicyViolation: re-exported)
from .toolchain import LazyModule

yaml = LazyModule("yaml")  # loaded when a policy file is read (start-up time)

ENFORCEMENTS = ("advisory", "mandatory")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class PolicyResult:
    rule: str
    type: str
    enforcement: str
    passed: bool
    message: str

    @property
    def blocks(self) -> bool:
        return not self.passed and self.enforcement == "mandatory"

    def to_dict(self) -> dict:
        return {"rule": self.rule, "type": self.type, "enforcement": self.enforcement, "passed": self.passed,
                "message": self.message}

    @classmethod
    def from_dict(cls, d: Mapping) -> "PolicyResult":
        return cls(**{k: d[k] for k in ("rule", "type", "enforcement", "passed", "message")})


@dataclass(frozen=True)
class PolicyContext:
    """What rules may read beside the plan."""

    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    stores_per_owner: Mapping[str, int] = field(default_factory=dict)  # after the plan(s)
    capacity: Any = None  # storekit.capacity.CapacityPreview, when known


# ---- rules: each (rule, plan, context) -> (passed, message) -------------------------

def _kinds_kept(plan, rule) -> tuple[bool, str]:
    if plan.action == "destroy":
        return True, "the whole store is destroyed"
    present = {c.kind for c in plan.changes if c.op != "delete"}
    deleted = sorted({c.kind for c in plan.changes if c.op == "delete"} & set(rule["kinds"]))
    missing = sorted(set(rule["kinds"]) - present)
    if deleted or missing:
        return False, f"the store would lack {', '.join(sorted(set(deleted) | set(missing)))}"
    return True, f"keeps {', '.join(rule['kinds'])}"


def _owner_matches(plan, rule) -> bool:
    owners = rule.get("owners")
    email = plan.spec.admin_email if plan.spec else ""
    return not owners or any(fnmatch.fnmatch(email.lower(), o.lower()) for o in owners)


def _max_tier(plan, rule, tiers: Callable[[str], list[str]]) -> tuple[bool, str]:
    if plan.spec is None or not _owner_matches(plan, rule):
        return True, "does not apply"
    order = tiers(plan.spec.engine)
    if rule["tier"] not in order or plan.spec.tier not in order:
        return True, f"tier {plan.spec.tier} is not ranked against {rule['tier']}"
    if order.index(plan.spec.tier) > order.index(rule["tier"]):
        return False, f"tier {plan.spec.tier} is above the cap {rule['tier']} for {plan.spec.admin_email}"
    return True, f"tier {plan.spec.tier} is within {rule['tier']}"


def _images(plan, rule) -> tuple[bool, str]:
    if plan.spec is None:
        return True, "does not apply"
    bad = sorted(ref for ref in dict(plan.spec.images).values()
                 if not any(fnmatch.fnmatch(ref, pattern) for pattern in rule["allow"]))
    return (False, f"image {', '.join(bad)} is not on the allow-list") if bad else (True, "every image is allowed")


def _per_owner(plan, rule, ctx: PolicyContext) -> tuple[bool, str]:
    if plan.spec is None or plan.action != "create":
        return True, "does not apply"
    owner = plan.spec.admin_email.lower()
    count = ctx.stores_per_owner.get(owner, 1)
    if count > rule["max"]:
        return False, f"{owner} would have {count} stores (at most {rule['max']})"
    return True, f"{owner} would have {count} of {rule['max']} stores"


def in_window(now: datetime, hours: str, days: Sequence[str]) -> bool:
    start, end = (dtime.fromisoformat(t.strip()) for t in hours.split("-"))
    moment = now.astimezone(timezone.utc)
    clock = moment.time().replace(tzinfo=None)
    inside = start <= clock < end if start <= end else (clock >= start or clock < end)
    return inside and DAYS[moment.weekday()] in days


def _window(plan, rule, ctx: PolicyContext) -> tuple[bool, str]:
    if plan.action not in rule["actions"] or not plan.has_changes:
        return True, "does not apply"
    if in_window(ctx.now, rule["hours"], rule["days"]):
        return True, f"inside the change window {rule['hours']} UTC"
    return False, (f"{plan.action} is allowed only {rule['hours']} UTC on {', '.join(rule['days'])} "
                   f"(now {ctx.now.astimezone(timezone.utc):%a %H:%M} UTC)")


def _capacity(plan, rule, ctx: PolicyContext) -> tuple[bool, str]:
    preview = ctx.capacity
    if preview is None or not getattr(preview, "known", False):
        return True, "the cluster's capacity is unknown"
    return (True, "fits the cluster") if preview.fits else (False, preview.text)


RULE_TYPES: dict[str, dict] = {
    "required_objects": {"required": {"kinds": list}},
    "max_tier": {"required": {"tier": str}, "optional": {"owners": list}},
    "image_allowlist": {"required": {"allow": list}},
    "max_stores_per_owner": {"required": {"max": int}},
    "change_window": {"required": {"hours": str}, "optional": {"days": list, "actions": list}},
    "capacity_fits": {},
}


@dataclass(frozen=True)
class Policy:
    rules: tuple[dict, ...] = ()
    source: str = ""

    def evaluate(self, plan, ctx: PolicyContext | None = None) -> tuple[PolicyResult, ...]:
        """Every rule's result for ``plan`` (a noop plan passes every rule)."""
        from .engines import registry

        ctx = ctx or PolicyContext()

        def tiers(engine: str) -> list[str]:
            e = registry().get(engine)
            return e.tier_names if e else []
        out = []
        for rule in self.rules:
            kind = rule["type"]
            if not plan.has_changes and kind != "capacity_fits":
                ok, message = True, "no changes"
            elif kind == "required_objects":
                ok, message = _kinds_kept(plan, rule)
            elif kind == "max_tier":
                ok, message = _max_tier(plan, rule, tiers)
            elif kind == "image_allowlist":
                ok, message = _images(plan, rule)
            elif kind == "max_stores_per_owner":
                ok, message = _per_owner(plan, rule, ctx)
            elif kind == "change_window":
                ok, message = _window(plan, rule, ctx)
            else:
                ok, message = _capacity(plan, rule, ctx)
            out.append(PolicyResult(rule["name"], kind, rule["enforcement"], ok, message))
        return tuple(out)


def blocking(results: Sequence[PolicyResult]) -> list[PolicyResult]:
    return [r for r in results if r.blocks]


def parse_policy(text: str, source: str = "policy file") -> Policy:
    """A policy from YAML; one SpecError names every bad rule field and its rule."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError([(source, f"is not valid YAML: {getattr(e, 'problem', e)}")], subject="policy file") from e
    if data is None:
        return Policy(source=source)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or set(data) - {"rules"}:
        raise SpecError([(source, "must be a mapping with a 'rules' list")], subject="policy file")
    problems, rules, names = [], [], set()
    for i, rule in enumerate(data["rules"]):
        where = f"rules[{i}]"
        if not isinstance(rule, dict):
            problems.append((where, "must be a mapping"))
            continue
        kind = rule.get("type")
        if kind not in RULE_TYPES:
            problems.append((f"{where}.type", f"must be one of {', '.join(RULE_TYPES)} (got {kind!r})"))
            continue
        shape = RULE_TYPES[kind]
        allowed = {"name", "type", "enforcement", *shape.get("required", {}), *shape.get("optional", {})}
        problems += [(f"{where}.{k}", f"is not a field of a {kind} rule") for k in sorted(set(rule) - allowed)]
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append((f"{where}.name", "is required"))
        elif name in names:
            problems.append((f"{where}.name", f"'{name}' names another rule too"))
        names.add(name)
        enforcement = rule.get("enforcement", "advisory")
        if enforcement not in ENFORCEMENTS:
            problems.append((f"{where}.enforcement", "must be advisory or mandatory"))
        for key, typ in {**shape.get("required", {}), **shape.get("optional", {})}.items():
            if key in rule and not isinstance(rule[key], typ):
                problems.append((f"{where}.{key}", f"must be a {typ.__name__}"))
            elif key not in rule and key in shape.get("required", {}):
                problems.append((f"{where}.{key}", "is required"))
        normal = {"days": list(DAYS[:5]), "actions": ["destroy"], **rule, "enforcement": enforcement}
        if kind == "change_window" and isinstance(rule.get("hours"), str):
            try:
                if len([dtime.fromisoformat(t.strip()) for t in rule["hours"].split("-")]) != 2:
                    raise ValueError(rule["hours"])
            except ValueError:
                problems.append((f"{where}.hours", "must be like 08:00-18:00 (UTC)"))
            bad_days = [d for d in normal["days"] if d not in DAYS]
            if bad_days:
                problems.append((f"{where}.days", f"must be among {', '.join(DAYS)}"))
        rules.append(normal)
    if problems:
        raise SpecError(problems, subject="policy file")
    return Policy(rules=tuple(rules), source=source)


_cache: dict[str, tuple[float, Policy]] = {}


def load_policy(path: str | None) -> Policy:
    """The policy of ``path`` (re-read when the file changes); no path: no rules."""
    if not path:
        return Policy()
    file = Path(path)
    try:
        mtime = file.stat().st_mtime
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
        policy = parse_policy(file.read_text(), str(file))
    except FileNotFoundError as e:
        raise SpecError([("policy_file", f"{path} does not exist")], subject="setting") from e
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([("policy_file", f"{path} cannot be read: {e}")], subject="setting") from e
    _cache[path] = (mtime, policy)
    return policy
