"""Renderers: plans, results, events and tables as text. The differ lives in the library;
these only turn its data into lines (the JSON view is ``Plan.to_dict()``)."""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import click

from storekit.events import (Event, OperationFinished, OperationStarted, ResourceFailed,
                             ResourceFinished, ResourceStarted)
from storekit.plan import Plan, ResourceChange

COLORS = {"+": "green", "~": "yellow", "-": "red", "-/+": "magenta", "<=": "cyan"}


def _value(v: Any) -> str:
    if isinstance(v, str):
        return v if v == "(sensitive)" else json.dumps(v)
    if v is None:
        return "(none)"
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _paint(text: str, symbol: str, color: bool) -> str:
    return click.style(text, fg=COLORS.get(symbol)) if color else text


def change_lines(change: ResourceChange, *, color: bool, indent: str = "  ") -> list[str]:
    """``~ Deployment wordpress`` and, below it, each changed property: before -> after."""
    sym = change.symbol
    head = f"{indent}{sym:>3} {change.kind:<22} {change.kube_name or change.name}"
    if change.op == "replace" and change.replace_reasons:
        head += f"   (replaced: {', '.join(change.replace_reasons)} changed)"
    lines = [_paint(head, sym, color)]
    for p in change.properties:
        psym = {"add": "+", "delete": "-"}.get(p.kind, "~")
        note = "   # forces replacement" if p.forces_replacement else ""
        if p.kind == "add":
            text = f"{p.path}: {_value(p.after)}"
        elif p.kind == "delete":
            text = f"{p.path}: {_value(p.before)}"
        else:
            text = f"{p.path}: {_value(p.before)} -> {_value(p.after)}"
        lines.append(_paint(f"{indent}        {psym} {text}{note}", psym, color))
    return lines


def drift_line(change: ResourceChange) -> str:
    what = "was deleted" if change.op == "create" else "was changed"
    return f"  {change.kind} {change.kube_name or change.name} {what} outside storekit"


def plan_text(plan: Plan, *, color: bool = False) -> str:
    lines: list[str] = []
    if plan.drift:
        lines.append(f"Drift: objects of store '{plan.store}' changed outside storekit (apply restores them):")
        lines.extend(drift_line(c) for c in plan.drift)
        lines.append("")
    changed = [c for c in plan.changes if c.op not in ("same", "read")]
    if changed:
        verb = {"destroy": "destroy", "create": "create"}.get(plan.action, "change")
        lines.append(f"storekit will {verb} store '{plan.store}':")
        lines.append("")
        for c in changed:
            lines.extend(change_lines(c, color=color))
        lines.append("")
        lines.append(_paint(plan.summary.text, "~", color))
    else:
        lines.append(f"No changes. Store '{plan.store}' matches its spec.")
    return "\n".join(lines)


def event_line(event: Event) -> str | None:
    """One progress line for a live event (None for events not shown)."""
    if isinstance(event, ResourceStarted):
        return f"{event.step}: {event.op} {event.type.rsplit(':', 1)[-1]} {event.resource} ..."
    if isinstance(event, ResourceFinished):
        return f"{event.step}: {event.op} {event.type.rsplit(':', 1)[-1]} {event.resource} done ({event.seconds:.1f}s)"
    if isinstance(event, ResourceFailed):
        return f"{event.step}: {event.op} {event.type.rsplit(':', 1)[-1]} {event.resource} FAILED ({event.seconds:.1f}s): {event.message}"
    if isinstance(event, OperationStarted):
        return f"{event.operation.capitalize()} of store '{event.store}' started"
    if isinstance(event, OperationFinished):
        state = "finished" if event.ok else "failed"
        return f"{event.operation.capitalize()} of store '{event.store}' {state} in {event.seconds:.1f}s"
    return None


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


def table(rows: Sequence[dict], columns: Sequence[str], headers: Iterable[str] | None = None) -> str:
    headers = list(headers or [c.upper() for c in columns])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(out)
