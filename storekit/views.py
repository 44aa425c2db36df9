"""Views: what a person reads of a plan, an event or a timeline, as lines of data.

Terraform keeps its differ apart from its renderers, and its human and JSON views read
one plan object. Here the library computes the lines once (``plan_view``, ``event_text``,
``timeline_view``); the renderers only dress them: the CLI's text renderer adds colour,
the dashboard's HTML templates add markup, and the JSON view is the object's ``to_dict()``.
So the terminal and the dashboard can never show two different plans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .events import Event, OperationFinished, OperationStarted, ResourceFailed, ResourceFinished, ResourceStarted
from .grouping import ChangeGroup
from .plan import Plan, ResourceChange
from .timeline import Timeline

PROPERTY_SYMBOLS = {"add": "+", "delete": "-"}


@dataclass(frozen=True)
class Line:
    """One line of a view: its text, the Terraform-style symbol it starts with (for colour),
    and its role (heading, resource, property, drift, summary, blank, step)."""

    text: str
    role: str = "text"
    symbol: str = ""
    indent: int = 0

    def render(self) -> str:
        return "  " * self.indent + self.text


def value_text(v: Any) -> str:
    if isinstance(v, str):
        return v if v == "(sensitive)" else json.dumps(v)
    if v is None:
        return "(none)"
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def change_lines(change: ResourceChange) -> list[Line]:
    """``~ Deployment wordpress`` and, below it, each changed property: before -> after."""
    head = f"{change.symbol:>3} {change.kind:<22} {change.kube_name or change.name}"
    if change.op == "replace" and change.replace_reasons:
        head += f"   (replaced: {', '.join(change.replace_reasons)} changed)"
    lines = [Line(head, "resource", change.symbol, 1)]
    for p in change.properties:
        symbol = PROPERTY_SYMBOLS.get(p.kind, "~")
        if p.kind == "add":
            text = f"{p.path}: {value_text(p.after)}"
        elif p.kind == "delete":
            text = f"{p.path}: {value_text(p.before)}"
        else:
            text = f"{p.path}: {value_text(p.before)} -> {value_text(p.after)}"
        note = "   # forces replacement" if p.forces_replacement else ""
        lines.append(Line(f"{symbol} {text}{note}", "property", symbol, 4))
    return lines


def drift_text(change: ResourceChange) -> str:
    what = "was deleted" if change.op == "create" else "was changed"
    return f"{change.kind} {change.kube_name or change.name} {what} outside storekit"


def plan_view(plan: Plan) -> list[Line]:
    lines: list[Line] = []
    if plan.drift:
        lines.append(Line(f"Drift: objects of store '{plan.store}' changed outside storekit (apply restores them):",
                          "heading"))
        lines += [Line(drift_text(c), "drift", "!", 1) for c in plan.drift]
        lines.append(Line("", "blank"))
    changed = [c for c in plan.changes if c.op not in ("same", "read")]
    if not changed and plan.action == "destroy":
        lines.append(Line(f"storekit will destroy store '{plan.store}': it has no objects, only its stack.",
                          "summary"))
        return lines
    if not changed:
        lines.append(Line(f"No changes. Store '{plan.store}' matches its spec.", "summary"))
        return lines
    verb = {"destroy": "destroy", "create": "create"}.get(plan.action, "change")
    lines += [Line(f"storekit will {verb} store '{plan.store}':", "heading"), Line("", "blank")]
    for c in changed:
        lines += change_lines(c)
    lines += [Line("", "blank"), Line(plan.summary.text, "summary", "~")]
    return lines + governance_lines(plan.policy, plan.capacity)


def governance_lines(policy, capacity) -> list[Line]:
    """The capacity preview, then each policy rule that did not pass (or that all passed)."""
    lines = []
    if capacity is not None:
        lines.append(Line(capacity.text, "capacity", "" if capacity.fits else "!"))
    failed = [r for r in policy if not r.passed]
    for r in failed:
        word = "BLOCKS" if r.blocks else "warns"
        lines.append(Line(f"Policy '{r.rule}' ({r.enforcement}) {word}: {r.message}", "policy",
                          "-" if r.blocks else "!"))
    if policy and not failed:
        lines.append(Line(f"Policy: all {len(policy)} rules pass.", "policy", "+"))
    return lines


STORES_SHOWN = 8  # store names listed under a group unless expanded


def group_lines(group: ChangeGroup, *, expand: bool = False) -> list[Line]:
    """A fleet plan's group: its headline, its stores, and (expanded) the shared changes."""
    symbol = {"create": "+", "destroy": "-", "update": "~"}.get(group.action, " ")
    lines = [Line(group.headline, "group", symbol, 0)]
    names = group.stores if expand else group.stores[:STORES_SHOWN]
    more = len(group.stores) - len(names)
    lines.append(Line(", ".join(names) + (f" and {more} more" if more else ""), "stores", "", 2))
    if expand:
        for c in group.drift:
            lines.append(Line(drift_text(c), "drift", "!", 2))
        for c in group.changes:
            lines += [Line(line.text, line.role, line.symbol, line.indent + 1) for line in change_lines(c)]
    return lines


def fleet_view(groups: tuple[ChangeGroup, ...], summary_text: str, *, expand: bool = False,
               plans: tuple[Plan, ...] = (), capacity=None) -> list[Line]:
    """A fleet plan as groups of identical change, the Terraform-style summary, the fleet's
    capacity preview and each store's policy results that did not pass."""
    lines: list[Line] = []
    for group in groups:
        lines += group_lines(group, expand=expand)
    if groups and not expand and any(g.changes or g.drift for g in groups):
        lines.append(Line("(--expand shows each group's stores and property changes)", "hint"))
    lines += [Line("", "blank"), Line(summary_text, "summary", "~")]
    if capacity is not None:
        lines.append(Line(capacity.text, "capacity", "" if capacity.fits else "!"))
    for plan in plans:
        for line in governance_lines([r for r in plan.policy if not r.passed], None):
            lines.append(Line(f"{plan.store}: {line.text}", line.role, line.symbol))
    return lines


def event_text(event: Event) -> str | None:
    """One progress line for a live event (None for events not shown)."""
    kind = getattr(event, "type", "").rsplit(":", 1)[-1]
    if isinstance(event, ResourceStarted):
        return f"{event.step}: {event.op} {kind} {event.resource} ..."
    if isinstance(event, ResourceFinished):
        return f"{event.step}: {event.op} {kind} {event.resource} done ({event.seconds:.1f}s)"
    if isinstance(event, ResourceFailed):
        return f"{event.step}: {event.op} {kind} {event.resource} FAILED ({event.seconds:.1f}s): {event.message}"
    if isinstance(event, OperationStarted):
        return f"{event.operation.capitalize()} of store '{event.store}' started"
    if isinstance(event, OperationFinished):
        state = "finished" if event.ok else "failed"
        return f"{event.operation.capitalize()} of store '{event.store}' {state} in {event.seconds:.1f}s"
    return None


STEP_MARKS = {"done": "✓", "running": "…", "failed": "✗", "pending": "·"}


def timeline_view(timeline: Timeline, *, operations: int = 3) -> list[Line]:
    """The latest operations, one line per engine step with its duration and resources."""
    lines: list[Line] = []
    for op in timeline.operations[:operations]:
        state = {"running": f"running, {op.progress}%", "done": "done", "failed": "failed"}[op.status]
        took = f" in {op.seconds:.1f}s" if op.seconds is not None else ""
        lines.append(Line(f"{op.operation} ({state}){took}", "heading"))
        for step in op.steps:
            seconds = f"{step.seconds:.1f}s" if step.seconds is not None else ""
            names = ", ".join(r.name for r in step.resources)
            text = f"{STEP_MARKS[step.status]} {step.name:<18} {seconds:>7}  {names}".rstrip()
            if step.message and step.status == "failed":
                text += f" — {step.message}"
            lines.append(Line(text, "step", STEP_MARKS[step.status], 1))
    return lines
