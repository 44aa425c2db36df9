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
from .plan import Plan, ResourceChange
from .timeline import Timeline

PROPERTY_SYMBOLS = {"add": "+", "delete": "-"}


@dataclass(frozen=True)
class Line:
    """One line of a view: its text, the Terraform-style symbol it starts with (for colour),
    and what it is (heading, resource, property, drift, summary, blank)."""

    text: str
    kind: str = "text"
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
    if not changed:
        lines.append(Line(f"No changes. Store '{plan.store}' matches its spec.", "summary"))
        return lines
    verb = {"destroy": "destroy", "create": "create"}.get(plan.action, "change")
    lines += [Line(f"storekit will {verb} store '{plan.store}':", "heading"), Line("", "blank")]
    for c in changed:
        lines += change_lines(c)
    lines += [Line("", "blank"), Line(plan.summary.text, "summary", "~")]
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
        lines.append(Line(f"{op.kind} ({state}){took}", "heading"))
        for step in op.steps:
            seconds = f"{step.seconds:.1f}s" if step.seconds is not None else ""
            names = ", ".join(r.name for r in step.resources)
            text = f"{STEP_MARKS[step.status]} {step.name:<18} {seconds:>7}  {names}".rstrip()
            if step.message and step.status == "failed":
                text += f" — {step.message}"
            lines.append(Line(text, "step", STEP_MARKS[step.status], 1))
    return lines
