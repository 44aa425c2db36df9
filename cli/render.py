"""The text renderer: the library's views (``storekit.views``) as terminal lines, with colour.

Nothing here decides what a plan, an event or a timeline says; it only paints the lines
the library computed, and lays out tables. The JSON renderer is ``to_json`` of a result's
``to_dict()``; the dashboard's HTML templates read the same views.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import click

from storekit.events import Event
from storekit.plan import Plan
from storekit.timeline import Timeline
from storekit.views import Line, event_text, fleet_view, plan_view, timeline_view

COLORS = {"+": "green", "~": "yellow", "-": "red", "-/+": "magenta", "<=": "cyan", "!": "yellow",
          "✓": "green", "✗": "red", "…": "yellow"}


def _paint(line: Line, color: bool) -> str:
    text = line.render()
    if color and line.symbol in COLORS and line.role in ("resource", "property", "summary", "drift", "step", "group", "policy",
                                                          "capacity"):
        return click.style(text, fg=COLORS[line.symbol])
    return text


def lines_text(lines: Iterable[Line], *, color: bool = False) -> str:
    return "\n".join(_paint(line, color) for line in lines)


def plan_text(plan: Plan, *, color: bool = False) -> str:
    return lines_text(plan_view(plan), color=color)


def fleet_text(fleet, *, expand: bool = False, color: bool = False) -> str:
    summary = fleet.summary.text + ("" if fleet.has_changes else " Every store matches its spec.")
    return lines_text(fleet_view(fleet.groups, summary, expand=expand, plans=fleet.plans, capacity=fleet.capacity),
                      color=color)


def timeline_text(timeline: Timeline, *, color: bool = False) -> str:
    return lines_text(timeline_view(timeline), color=color)


def event_line(event: Event) -> str | None:
    return event_text(event)


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


def table(rows: Sequence[dict], columns: Sequence[str], headers: Iterable[str] | None = None) -> str:
    headers = list(headers or [c.upper() for c in columns])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(out)
