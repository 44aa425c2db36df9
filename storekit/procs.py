"""Local processes, for crash recovery: is a process gone, orphaned, whose are its children.

A worker killed with SIGKILL leaves its pulumi engine (and that engine's provider plugins)
running without a parent; they are reparented to init. These helpers let the worker pool
recognise and stop them. Linux only (they read /proc); elsewhere nothing is orphaned.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def gone(host: str, pid: int) -> bool:
    """Whether process ``pid`` of ``host`` provably no longer runs (only this host can tell)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def parse_holder(holder: str) -> tuple[str, int] | None:
    """(host, pid) from a stack lock holder "user@host (pid N)"."""
    try:
        return holder.split("@", 1)[1].split(" ", 1)[0], int(holder.rsplit("pid ", 1)[1].rstrip(")"))
    except (IndexError, ValueError):
        return None


def orphaned(pid: int) -> bool:
    """A process whose parent died (it was reparented to init)."""
    return _ppid(pid) == 1


def children(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if _ppid(int(p.name)) == pid]


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop(pid: int, grace: float) -> None:
    """SIGTERM a process (SIGKILL after ``grace`` seconds), then the orphaned children it
    leaves behind (an engine's provider plugins)."""
    kids = children(pid)
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not gone(socket.gethostname(), pid):
        time.sleep(0.5)
    _signal(pid, signal.SIGKILL)
    for kid in kids:
        if orphaned(kid):
            _signal(kid, signal.SIGTERM)


def reap_orphans(executable_prefix: str) -> None:
    """SIGTERM every orphaned process whose executable path starts with the prefix."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv0 = cmdline.read_bytes().split(b"\0", 1)[0].decode(errors="replace")
            pid = int(cmdline.parent.name)
        except (OSError, ValueError):
            continue
        if argv0.startswith(executable_prefix) and orphaned(pid):
            _signal(pid, signal.SIGTERM)
