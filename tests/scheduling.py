"""The suite's order on two workers: the longest test files first.

`make test` runs on pytest-xdist with ``--dist loadfile`` (a file's tests stay on one worker,
so a module's store is made once). xdist hands files out in the order they are collected,
and by default it first reorders them by their number of tests, which puts the slowest files
(one or two long tests on the real node or a fleet rollout) last: one worker then runs them
alone while the other is idle. Longest first is the classic remedy (LPT scheduling): the
files are sorted by their measured time, kept in ``tests/durations.json``, and `make test`
passes ``--no-loadscope-reorder`` so xdist keeps that order.

Every run writes what it measured, per file (setup + call + teardown), to
``$STOREKIT_HOME/logs/test-durations.json``; copy it over ``tests/durations.json`` when the
suite's shape changes. A file not in the table goes after the known ones, in collection order.
``test-timeline.json`` beside it lists which worker ran which test phase when.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from storekit.files import atomic_write

TABLE = Path(__file__).with_name("durations.json")


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def load_table(path: Path = TABLE) -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def longest_first(items: list, table: dict[str, float]) -> list:
    """The items with their files in descending measured time (stable: a file's tests keep
    their order, unknown files keep theirs, after the known ones)."""
    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(module_of(item.nodeid), len(first_seen))

    def key(item) -> tuple:
        module = module_of(item.nodeid)
        return (module not in table, -table.get(module, 0.0), first_seen[module])
    return sorted(items, key=key)


class Recorder:
    """Sums each file's measured time from the reports the controller receives."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.timeline: list[tuple] = []  # (worker, start, stop, phase, test): who ran what when
        self.enabled = False

    def add(self, report) -> None:
        self.seconds[module_of(report.nodeid)] += report.duration
        gateway = getattr(getattr(report, "node", None), "gateway", None)
        self.timeline.append((getattr(gateway, "id", "main"), round(report.start, 2), round(report.stop, 2),
                              report.when, report.nodeid))

    def write(self, path: Path) -> None:
        """Merge this run's files into PATH (a partial run updates only the files it ran)."""
        if not self.seconds:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {**load_table(path), **{m: round(s, 1) for m, s in self.seconds.items()}}
        ordered = dict(sorted(merged.items(), key=lambda kv: -kv[1]))
        atomic_write(path, json.dumps(ordered, indent=1) + "\n")
        atomic_write(path.with_name("test-timeline.json"), json.dumps(sorted(self.timeline, key=lambda t: t[1])) + "\n")


def measured_path() -> Path:
    home = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
    return home / "logs" / "test-durations.json"
