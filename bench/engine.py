"""Where storekit's time goes inside the engine: every pulumi process of each operation.

    .venv/bin/python bench/engine.py          # make bench-engine

Runs one store's life through the library (create, no-op plan, refreshed no-op plan,
tier change, destroy) with every pulumi CLI invocation timed (the Automation API's
``PulumiCommand.run`` wrapped in this process only), and measures the fixed costs
underneath: the CLI's start (`pulumi version`), the Kubernetes plugin's start (until it
prints its port), and a checkpoint write of the file backend. A table per operation: how
many pulumi processes, which commands, and their seconds against the operation's total.
Noisy on a shared machine: read the proportions.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

from table import print_columns

from pulumi.automation import _cmd

from storekit import Settings, Storekit, StoreSpec
from storekit.toolchain import check_plugin, find_pulumi

CALLS: list[tuple[str, float]] = []
_run = _cmd.PulumiCommand.run


def _timed_run(self, args, *rest, **kw):
    words = [a for a in args if not a.startswith("-")][:2]
    if words and words[0] not in ("stack", "config", "plugin"):  # `up --color never`: one word
        words = words[:1]
    started = time.monotonic()
    try:
        return _run(self, args, *rest, **kw)
    finally:
        CALLS.append((" ".join(words), time.monotonic() - started))


_cmd.PulumiCommand.run = _timed_run


def fixed_costs(settings: Settings, runs: int = 5) -> list[list[str]]:
    pulumi, plugin = str(find_pulumi(settings)), str(check_plugin(settings))
    env = {**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_HOME": settings.pulumi_home}

    def cli() -> float:
        started = time.monotonic()
        subprocess.run([pulumi, "version"], capture_output=True, check=True, env=env)
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
    for label, fn in (("pulumi CLI start (`pulumi version`)", cli), ("Kubernetes plugin start (to its port)",
                                                                      plugin_start)):
        values = [fn() for _ in range(runs)]
        rows.append([label, f"{min(values):.3f} / {statistics.median(values):.3f}", "", ""])
    return rows


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="storekit-engine-")
    settings = Settings.load().replace(state_url=f"file://{tmp}/state", db_url=f"sqlite:///{tmp}/catalog.db",
                                       passphrase="bench")
    kit = Storekit(settings)
    spec = StoreSpec(name=f"Engine {uuid.uuid4().hex[:4]}", admin_email="bench@example.com")
    rows = fixed_costs(settings)
    operations = (("create (plan + apply)", lambda: kit.apply(spec)),
                  ("no-op plan", lambda: kit.plan(spec)),
                  ("no-op plan, refresh forced", lambda: kit.plan(spec, refresh=True)),
                  ("tier change (plan + apply)", lambda: kit.apply(spec.with_changes(tier="medium"))),
                  ("destroy", lambda: kit.destroy(spec.name)))
    for label, fn in operations:
        CALLS.clear()
        started = time.monotonic()
        fn()
        total = time.monotonic() - started
        by_command: dict[str, list[float]] = defaultdict(list)
        for command, seconds in CALLS:
            by_command[command].append(seconds)
        in_pulumi = sum(s for _, s in CALLS)
        detail = ", ".join(f"{c} {len(v)}x {sum(v):.1f}s" for c, v in sorted(by_command.items(),
                                                                             key=lambda kv: -sum(kv[1])))
        rows.append([label, f"{total:.2f}", f"{len(CALLS)} ({in_pulumi:.1f} s)", detail])
    print(f"engine costs, {os.cpu_count()} CPUs; state in {Path(tmp)}")
    print_columns(["operation or fixed cost", "seconds (min / median)", "pulumi processes", "by command"], rows)


if __name__ == "__main__":
    main()
