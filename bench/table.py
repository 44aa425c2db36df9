"""The one table format every benchmark prints (bench/*.py run as scripts import it)."""

from __future__ import annotations

import time


def timed(label: str, rows: list, fn):
    """Run ``fn``, append (label, seconds) to ``rows``, return what ``fn`` returned."""
    started = time.monotonic()
    result = fn()
    rows.append((label, time.monotonic() - started))
    return result


def print_table(first: str, second: str, rows: list[tuple[str, float | str]]) -> None:
    width = max(len(first), *(len(label) for label, _ in rows))
    print(f"{first:<{width}}  {second}")
    print(f"{'-' * width}  -------")
    for label, value in rows:
        print(f"{label:<{width}}  {value:7.1f}" if isinstance(value, float) else f"{label:<{width}}  {value:>7}")


def print_columns(header: list[str], rows: list[list[str]]) -> None:
    """A table of text columns, as Markdown (it pastes into the README as it is)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(f"{str(c):<{w}}" for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
