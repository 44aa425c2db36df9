"""Where storekit's time goes inside the engine, and which of the engine's levers pay.

    .venv/bin/python bench/engine.py               # make bench-engine: 2 rounds per variant
    .venv/bin/python bench/engine.py --rounds 3

Runs stores through the library with every pulumi CLI process timed (the Automation API's
``PulumiCommand.run`` wrapped in this process only), every engine event time-stamped as it
arrives, the Kubernetes plugin processes counted (/proc, this process's descendants) and
the file backend's checkpoint writes counted (inotify on the state folder). Prints:

1. fixed costs: the storekit CLI's start, the pulumi CLI's start, the plugin's start;
2. the breakdown of one create: storekit before the engine, each pulumi process, inside
   the update the time to its first event (CLI, plugin and program start), each resource's
   wait, the time from the last resource event to the process exit (last checkpoint,
   plugin shutdown, exit), and the processes after the update;
3. the levers, create and destroy of fresh stores interleaved round by round (so the
   machine's noise falls on every variant alike): the default; checkpoint backups off
   (``PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS``); ``--parallel 1``; and, to bound
   what all checkpoint writes cost, ``PULUMI_SKIP_CHECKPOINTS`` (unsafe: measured, never
   used).

Noisy on a shared machine: read medians and proportions, and the load printed with them.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import struct
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from table import print_columns

from pulumi.automation import _cmd, _stack

from storekit import Settings, Storekit, StoreSpec
from storekit.toolchain import check_plugin, find_pulumi

ROOT = Path(__file__).resolve().parent.parent
PROCS: list[tuple[str, float, float]] = []  # (command, started, ended), monotonic
EVENTS: dict[str, float] = {}  # first, last resource event of the latest engine run
RESOURCES: dict[str, list[float]] = {}  # resource -> [pre event, outputs event]
LEVER: dict = {"parallel": None}
_run = _cmd.PulumiCommand.run


def _timed_run(self, args, *rest, **kw):
    words = [a for a in args if not a.startswith("-")][:2]
    if words and words[0] not in ("stack", "config", "plugin"):  # `up --color never`: one word
        words = words[:1]
    started = time.monotonic()
    try:
        return _run(self, args, *rest, **kw)
    finally:
        PROCS.append((" ".join(words), started, time.monotonic()))


def _with_events(method):
    def wrapped(self, *args, on_event=None, **kw):
        EVENTS.clear()
        RESOURCES.clear()

        def seen(event):
            now = time.monotonic()
            EVENTS.setdefault("first", now)
            for kind, at in (("resource_pre_event", 0), ("res_outputs_event", 1)):
                step = getattr(event, kind, None)
                if step is not None and step.metadata.type.startswith("kubernetes:"):
                    name = step.metadata.urn.rsplit("::", 1)[-1]
                    RESOURCES.setdefault(name, [now, now])[at] = now
                    EVENTS["last"] = now
            if on_event:
                on_event(event)
        if LEVER["parallel"] and method.__name__ in ("up", "destroy"):
            kw["parallel"] = LEVER["parallel"]
        return method(self, *args, on_event=seen, **kw)
    return wrapped


_cmd.PulumiCommand.run = _timed_run
_stack.Stack.up = _with_events(_stack.Stack.up)
_stack.Stack.destroy = _with_events(_stack.Stack.destroy)


class Watch:
    """Plugin processes started under this process, and checkpoint writes under ``state``."""

    def __init__(self, state: Path):
        self.plugins: set[int] = set()
        self.writes: dict[str, int] = {}
        self._stop = threading.Event()
        self._fd = _inotify(state)
        self._threads = [threading.Thread(target=self._procs, daemon=True)]
        if self._fd is not None:
            self._threads.append(threading.Thread(target=self._files, daemon=True))
        for t in self._threads:
            t.start()

    def reset(self) -> None:
        self.plugins.clear()
        self.writes.clear()

    def _procs(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.05):
            for entry in os.listdir("/proc"):
                if entry.isdigit() and int(entry) not in self.plugins:
                    try:
                        if Path(f"/proc/{entry}/comm").read_text().startswith("pulumi-resource") \
                                and _descends(int(entry), me):
                            self.plugins.add(int(entry))
                    except OSError:
                        continue

    def _files(self) -> None:
        while not self._stop.is_set():
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                return
            offset = 0
            while offset < len(data):
                _, mask, _, size = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + size].rstrip(b"\0").decode()
                offset += 16 + size
                kind = "backup" if name.endswith(".json.bak") else "checkpoint" if name.endswith(".json") else ""
                if kind:  # the file itself (not a temporary one renamed into place, not .attrs)
                    self.writes[kind] = self.writes.get(kind, 0) + 1

    def stop(self) -> None:
        self._stop.set()


def _inotify(state: Path) -> int | None:
    """An inotify descriptor on the backend's stacks folder (file renamed into place)."""
    libc = ctypes.CDLL(None, use_errno=True)
    folder = state / ".pulumi" / "stacks" / "storekit"
    folder.mkdir(parents=True, exist_ok=True)
    fd = libc.inotify_init()
    if fd < 0 or libc.inotify_add_watch(fd, str(folder).encode(), 0x00000080 | 0x00000008) < 0:  # MOVED_TO|CLOSE_WRITE
        return None
    return fd


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(10):
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def median_text(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" + (f" ({min(values):.2f}-{max(values):.2f})" if len(values) > 1 else "")


def fixed_costs(settings: Settings, runs: int = 5) -> list[list[str]]:
    pulumi, plugin = str(find_pulumi(settings)), str(check_plugin(settings))
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_HOME": settings.pulumi_home}

    def timed(args: list[str]) -> float:
        started = time.monotonic()
        subprocess.run(args, capture_output=True, check=True, env=env)
        return time.monotonic() - started

    def plugin_start() -> float:
        started = time.monotonic()
        proc = subprocess.Popen([plugin], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        proc.stdout.readline()  # the port: the engine can talk to it from here on
        seconds = time.monotonic() - started
        proc.kill()
        proc.wait()
        return seconds

    rows = []
    for label, fn in (("storekit CLI start (`storekit --version`)", lambda: timed([str(ROOT / ".venv/bin/storekit"),
                                                                                   "--version"])),
                      ("pulumi CLI start (`pulumi version`)", lambda: timed([pulumi, "version"])),
                      ("Kubernetes plugin start (to its port)", plugin_start)):
        rows.append([label, median_text([fn() for _ in range(runs)])])
    return rows


def breakdown(started: float, ended: float, plugins: int, writes: dict) -> list[list[str]]:
    """One create, phase by phase (seconds)."""
    procs = sorted((p for p in PROCS if p[1] >= started), key=lambda p: p[1])
    up = next((p for p in procs if p[0] == "up"), None)
    rows = [["storekit before the first pulumi process (spec, catalog, lock, SDK import)",
             f"{(procs[0][1] if procs else ended) - started:.2f}"]]
    for command, a, b in procs:
        if up and (command, a, b) == up and EVENTS.get("first"):
            rows.append([f"`pulumi up` process", f"{b - a:.2f}"])
            rows.append(["`pulumi up`: CLI + plugin start + program, to its first event", f"{EVENTS['first'] - a:.2f}"])
            first = min(v[0] for v in RESOURCES.values())
            rows.append(["`pulumi up`: first event to first resource", f"{first - EVENTS['first']:.2f}"])
            for name, (pre, out) in sorted(RESOURCES.items(), key=lambda kv: kv[1][0]):
                rows.append([f"    resource {name}: start +{pre - first:.2f} s, wait", f"{out - pre:.2f}"])
            rows.append(["`pulumi up`: resources, first start to last done", f"{EVENTS['last'] - first:.2f}"])
            rows.append(["`pulumi up`: last resource event to process exit", f"{b - EVENTS['last']:.2f}"])
        else:
            rows.append([f"`pulumi {command}` process", f"{b - a:.2f}"])
    rows.append(["storekit after the last pulumi process (outputs, baseline, catalog)",
                 f"{ended - (procs[-1][2] if procs else started):.2f}"])
    rows.append([f"total ({len(procs)} pulumi processes, {plugins} plugin starts, "
                 f"{writes.get('checkpoint', 0)} checkpoint + {writes.get('backup', 0)} backup writes)",
                 f"{ended - started:.2f}"])
    return rows


VARIANTS = {
    "default": {},
    "checkpoint backups off": {"PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS": "true"},
    "--parallel 1": {"parallel": 1},
    "no checkpoints at all (unsafe: a bound only)": {"PULUMI_SKIP_CHECKPOINTS": "true"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="create + destroy rounds per variant (default 2)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="storekit-engine-"))
    settings = Settings.load().replace(state_url=f"file://{tmp}/state", db_url=f"sqlite:///{tmp}/catalog.db",
                                       passphrase="bench")
    kit = Storekit(settings)
    watch = Watch(tmp / "state")
    print(f"engine costs, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; state in {tmp}")
    print_columns(["fixed cost", "seconds, median (min-max)"], fixed_costs(settings))
    samples: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    counts: dict[str, dict[str, list[int]]] = {v: {} for v in VARIANTS}
    first_breakdown = None
    tag = uuid.uuid4().hex[:4]
    for round_no in range(args.rounds):
        for variant, lever in VARIANTS.items():
            env = {k: v for k, v in lever.items() if k != "parallel"}
            os.environ.update(env)
            LEVER["parallel"] = lever.get("parallel")
            spec = StoreSpec(name=f"Engine {tag} {round_no} {list(VARIANTS).index(variant)}",
                             admin_email="bench@example.com")
            try:
                for operation, fn in (("create", lambda: kit.apply(spec)), ("destroy", lambda: kit.destroy(spec.name))):
                    watch.reset()
                    started = time.monotonic()
                    fn()
                    ended = time.monotonic()
                    samples[variant].setdefault(operation, []).append(ended - started)
                    for what, n in (("plugins", len(watch.plugins)), ("checkpoints", watch.writes.get("checkpoint", 0)),
                                    ("backups", watch.writes.get("backup", 0))):
                        counts[variant].setdefault(f"{operation} {what}", []).append(n)
                    if variant == "default" and operation == "create" and first_breakdown is None:
                        first_breakdown = breakdown(started, ended, len(watch.plugins), dict(watch.writes))
            finally:
                for k in env:
                    os.environ.pop(k, None)
                LEVER["parallel"] = None
    watch.stop()
    print(f"\none create, phase by phase (default settings; load {os.getloadavg()[0]:.1f} at the end)")
    print_columns(["phase", "seconds"], first_breakdown or [])
    print(f"\nlevers: {args.rounds} rounds, variants interleaved in each round")
    base = statistics.median(samples["default"]["create"])
    rows = []
    for variant in VARIANTS:
        create, destroy = samples[variant]["create"], samples[variant]["destroy"]
        c = counts[variant]
        rows.append([variant, median_text(create), f"{statistics.median(create) / base:.2f}", median_text(destroy),
                     f"{statistics.median(c['create plugins']):.0f} / {statistics.median(c['destroy plugins']):.0f}",
                     f"{statistics.median(c['create checkpoints']):.0f} + {statistics.median(c['create backups']):.0f}"])
    print_columns(["variant", "create s, median (min-max)", "create / default", "destroy s",
                   "plugin starts create / destroy", "create checkpoint + backup writes"], rows)


if __name__ == "__main__":
    main()
