"""Local processes, for crash recovery: is a process gone, orphaned, whose are its children.

A worker killed with SIGKILL leaves its pulumi engine (and that engine's provider plugins)
running without a parent; they are reparented to init. These helpers let the worker pool
recognise and stop them, through psutil (which knows each platform's process table).
"""

from __future__ import annotations

import socket

from .toolchain import LazyModule

psutil = LazyModule("psutil")  # loaded when a process is looked at (start-up time)


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def gone(host: str, pid: int) -> bool:
    """Whether process ``pid`` of ``host`` provably no longer runs (only this host can tell)."""
    return host == socket.gethostname() and not psutil.pid_exists(pid)


def parse_holder(holder: str) -> tuple[str, int] | None:
    """(host, pid) from a stack lock holder "user@host (pid N)"."""
    try:
        return holder.split("@", 1)[1].split(" ", 1)[0], int(holder.rsplit("pid ", 1)[1].rstrip(")"))
    except (IndexError, ValueError):
        return None


def orphaned(pid: int) -> bool:
    """A process whose parent died (it was reparented to init)."""
    process = _process(pid)
    try:
        return process is not None and process.ppid() == 1
    except psutil.Error:
        return False


def stop(pid: int, grace: float) -> None:
    """SIGTERM a process (SIGKILL after ``grace`` seconds), then the orphaned children it
    leaves behind (an engine's provider plugins)."""
    process = _process(pid)
    if process is None:
        return
    try:
        kids = process.children()
        process.terminate()
        process.wait(grace)
    except psutil.TimeoutExpired:
        process.kill()
    except psutil.NoSuchProcess:
        kids = []
    for kid in kids:
        if orphaned(kid.pid):
            try:
                kid.terminate()
            except psutil.NoSuchProcess:
                pass


def reap_orphans(executable_prefix: str) -> None:
    """SIGTERM every orphaned process whose executable path starts with the prefix."""
    for process in psutil.process_iter(["cmdline", "ppid"]):
        argv0 = (process.info.get("cmdline") or [""])[0]
        if argv0.startswith(executable_prefix) and process.info.get("ppid") == 1:
            try:
                process.terminate()
            except psutil.NoSuchProcess:
                pass
