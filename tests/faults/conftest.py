"""The fault suite's figures: each case adds to ``FIGURES`` (faultlib), and the run ends with
one table of them (crash points tried, converged, orphans, duplicate stacks, what the
crashes left to repair, lost audit entries)."""

from __future__ import annotations

from faultlib import FIGURES


def pytest_terminal_summary(terminalreporter):
    if not any(FIGURES.values()):
        return
    terminalreporter.section("fault suite figures")
    width = max(len(k) for k in FIGURES)
    for key, value in FIGURES.items():
        terminalreporter.write_line(f"{key:<{width}}  {value}")
