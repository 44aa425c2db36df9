"""storekit against the floor: the same objects sent straight to the API server with kubectl.

    .venv/bin/python bench/compare.py                 # make bench: 3 rounds, fleets of 20 and 100
    .venv/bin/python bench/compare.py --quick         # 1 round, fleets of 4 and 10
    .venv/bin/python bench/compare.py --json out.json # also write every sample
    .venv/bin/python bench/compare.py --node-rounds 2 # also create/destroy on the real node

One run, one cluster ($STOREKIT_HOME/kubeconfig), the same objects: each store storekit
creates is rendered (`storekit render --reveal`) and applied again with
`kubectl apply --server-side` into its own `floor-<slug>` namespace, then awaited with
`kubectl wait` (volumes Bound, Deployments Available, the setup Job Complete, the Ingress
admitted), which is what storekit guarantees when it says Ready. Rows, each paired in
time with its floor:

- create to ready: `storekit apply NAME --email ... --auto-approve` (plan + apply);
- no-op plan: `storekit plan NAME --detailed-exitcode` against `kubectl diff --server-side`:
  the first after an apply, the next ones (both engine-free when the store provably
  matches), and `--refresh` (always the engine);
- tier change: `storekit apply NAME --tier medium` against `kubectl apply` of the changed
  objects and `kubectl rollout status` of both Deployments;
- destroy: `storekit destroy` against `kubectl delete namespace --wait`;
- CLI start-up: `storekit --version` against `kubectl version --client`;
- on the real node (`--node-rounds`, STOREKIT_PROFILE=node: real containers from the local
  images, its volumes, its Traefik), create to ready and destroy, the floor's copy on the
  same node (container start then dominates both);
- fleets: `storekit apply -f` of new stores at parallel 1, 2 and 4 (peak memory of the
  whole process tree: Python, pulumi, plugins), and the no-op plan of a fleet against as
  many `kubectl diff` runs.

Every figure is wall-clock seconds of the commands as a person types them (process
start included). The state backend and catalog live in a temporary folder, so your
stores are never touched. On a shared 2-core machine the figures are noisy: compare the
ratios of one run, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from table import print_columns

ROOT = Path(__file__).resolve().parent.parent
STOREKIT = str(ROOT / ".venv" / "bin" / "storekit")
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
EMAIL = "bench@example.com"


def kubectl_path() -> str:
    for candidate in (HOME / "tools" / "bin" / "kubectl", shutil.which("kubectl")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    sys.exit("kubectl not found: build it with `kind/tools.sh kubectl` or install it")


class Bench:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.kubectl = kubectl_path()
        self.env = {**os.environ, "STOREKIT_STATE_URL": f"file://{tmp}/state",
                    "STOREKIT_DB_URL": f"sqlite:///{tmp}/catalog.db", "STOREKIT_PASSPHRASE": "bench",
                    "STOREKIT_ACTOR": "bench", "KUBECONFIG": str(HOME / "kubeconfig")}
        self.samples: dict[str, dict[str, list[float]]] = {}
        self.notes: dict[str, str] = {}
        self.stores: set[str] = set()
        self.node_stores: set[str] = set()
        self.floors: set[str] = set()
        self._load: list[float] = []
        self._load_stop = threading.Event()
        threading.Thread(target=self._sample_load, daemon=True).start()

    def _sample_load(self) -> None:
        while True:
            self._load.append(os.getloadavg()[0])
            if self._load_stop.wait(10):
                return

    @property
    def loads(self) -> tuple[float, float, float]:
        """The 1-minute load average over the run: min, median, max."""
        values = self._load or [os.getloadavg()[0]]
        return min(values), statistics.median(values), max(values)

    # ---- running and timing ----------------------------------------------------

    def run(self, *args: str, ok=(0,), memory: list | None = None, env: dict | None = None) -> tuple[float, str]:
        """Run a command; (seconds, stdout). ``memory`` gets the peak RSS (MB) of its tree."""
        started = time.monotonic()
        proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**self.env, **(env or {})}, stdin=subprocess.DEVNULL)
        sampler = RssSampler(proc.pid) if memory is not None else None
        out, err = proc.communicate()
        seconds = time.monotonic() - started
        if sampler:
            memory.append(sampler.stop())
        self._last_ok = proc.returncode == 0
        if proc.returncode not in ok:
            raise SystemExit(f"`{' '.join(args)}` exited {proc.returncode}:\n{err[-2000:]}")
        return seconds, out

    def sample(self, figure: str, side: str, seconds: float) -> None:
        self.samples.setdefault(figure, {}).setdefault(side, []).append(seconds)

    def storekit(self, *args: str, ok=(0,), memory=None, env=None) -> tuple[float, str]:
        return self.run(STOREKIT, *args, ok=ok, memory=memory, env=env)

    def kube(self, *args: str, ok=(0,)) -> tuple[float, str]:
        return self.run(self.kubectl, *args, ok=ok)

    # ---- the floor's objects ---------------------------------------------------

    def floor_file(self, slug: str, namespace: str | None = None, env: dict | None = None) -> Path:
        """The store's objects (rendered, secrets revealed) in ``namespace`` (default floor-<slug>)."""
        _, out = self.storekit("render", slug, "--reveal", "--json", env=env)
        objects = json.loads(out)
        namespace = namespace or f"floor-{slug}"
        for obj in objects:
            meta = obj["metadata"]
            if namespace != f"store-{slug}":  # not one of the store's objects: not its label either
                meta.setdefault("labels", {})["storekit.io/store"] = namespace
            if obj["kind"] == "Namespace":
                meta["name"] = namespace
            else:
                meta["namespace"] = namespace
            if obj["kind"] == "Ingress" and namespace != f"store-{slug}":
                for rule in obj["spec"].get("rules", ()):
                    rule["host"] = f"{namespace}.{rule['host']}"
                for tls in obj["spec"].get("tls", ()):
                    tls["hosts"] = [f"{namespace}.{h}" for h in tls["hosts"]]
        path = self.tmp / f"{namespace}.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        return path

    def floor_wait(self, namespace: str, ingress_ip: str = "127.0.0.1") -> None:
        for kind, condition in (("pvc", "jsonpath={.status.phase}=Bound"), ("deployment", "condition=Available"),
                                ("job", "condition=Complete"),
                                ("ingress", f"jsonpath={{.status.loadBalancer.ingress[0].ip}}={ingress_ip}")):
            self.kube("wait", "-n", namespace, kind, "--all", f"--for={condition}", "--timeout=600s")

    def ingress_ip(self, slug: str) -> str:
        """The address the store's own Ingress was admitted with (what storekit waited for)."""
        _, out = self.kube("get", "ingress", "-n", f"store-{slug}", "-o",
                           "jsonpath={.items[0].status.loadBalancer.ingress[0].ip}", ok=(0, 1))
        return out.strip() or "127.0.0.1"

    def floor_create(self, slug: str, env: dict | None = None) -> float:
        path, namespace = self.floor_file(slug, env=env), f"floor-{slug}"
        ip = self.ingress_ip(slug)
        self.floors.add(namespace)
        started = time.monotonic()
        self.kube("apply", "--server-side", "-f", str(path))
        self.floor_wait(namespace, ip)
        return time.monotonic() - started

    def floor_tier_change(self, slug: str) -> float:
        path, namespace = self.floor_file(slug), f"floor-{slug}"
        started = time.monotonic()
        # A grown volume can be refused until the quota controller has seen the new quota
        # applied with it (admission reads the quota's status): apply again, as a person would.
        for attempt in range(5):
            if self.run(self.kubectl, "apply", "--server-side", "-f", str(path), ok=(0, 1))[0] is not None \
                    and self._last_ok:
                break
            time.sleep(0.5)
        for deployment in ("mysql", "wordpress"):
            self.kube("rollout", "status", "-n", namespace, f"deployment/{deployment}", "--timeout=300s")
        self.kube("wait", "-n", namespace, "job", "--all", "--for=condition=Complete", "--timeout=300s")
        return time.monotonic() - started

    # ---- one store's life, paired with the floor ---------------------------------

    def store_round(self, tag: str, round_no: int, plans: int) -> None:
        name = f"bench {tag} r{round_no}"
        slug = name.replace(" ", "-")
        self.stores.add(slug)
        seconds, _ = self.storekit("apply", name, "--email", EMAIL, "--auto-approve")
        self.sample("create to ready", "storekit", seconds)
        self.sample("create to ready", "floor", self.floor_create(slug))

        floor = self.tmp / f"floor-{slug}.json"
        # The first plan after an apply: engine-free when the writes since the apply are the
        # controllers' alone (storekit.baseline.signature); the plans after it too.
        self.sample("no-op plan, first after an apply", "storekit",
                    self.storekit("plan", slug, "--detailed-exitcode")[0])
        self.sample("no-op plan, first after an apply", "floor",
                    self.kube("diff", "--server-side", "-f", str(floor))[0])
        for _ in range(plans):  # paired: one of each, in turn
            self.sample("no-op plan", "storekit", self.storekit("plan", slug, "--detailed-exitcode")[0])
            self.sample("no-op plan", "floor", self.kube("diff", "--server-side", "-f", str(floor))[0])
        self.sample("no-op plan --refresh (engine)", "storekit",
                    self.storekit("plan", slug, "--refresh", "--detailed-exitcode")[0])
        self.sample("no-op plan --refresh (engine)", "floor",
                    self.kube("diff", "--server-side", "-f", str(floor))[0])

        self.sample("tier change (plan + apply)", "storekit",
                    self.storekit("apply", slug, "--tier", "medium", "--auto-approve")[0])
        self.sample("tier change (plan + apply)", "floor", self.floor_tier_change(slug))

        self.sample("destroy", "storekit", self.storekit("destroy", slug, "--auto-approve")[0])
        self.stores.discard(slug)
        self.sample("destroy", "floor", self.kube("delete", "namespace", f"floor-{slug}", "--wait=true")[0])
        self.floors.discard(f"floor-{slug}")

    def node_round(self, tag: str, round_no: int) -> None:
        """Create to ready and destroy on the real node, each paired with the floor there."""
        env = {"STOREKIT_PROFILE": "node", "STOREKIT_TIMEOUT": "600"}
        name = f"bench {tag} n{round_no}"
        slug = name.replace(" ", "-")
        self.stores.add(slug)
        self.node_stores.add(slug)
        self.sample("create to ready, real node", "storekit",
                    self.storekit("apply", name, "--email", EMAIL, "--auto-approve", env=env)[0])
        self.sample("create to ready, real node", "floor", self.floor_create(slug, env=env))
        self.sample("no-op plan, first after an apply, real node", "storekit",
                    self.storekit("plan", slug, "--detailed-exitcode", env=env)[0])
        self.sample("no-op plan, first after an apply, real node", "floor",
                    self.kube("diff", "--server-side", "-f", str(self.tmp / f"floor-{slug}.json"))[0])
        self.sample("destroy, real node", "storekit", self.storekit("destroy", slug, "--auto-approve", env=env)[0])
        self.stores.discard(slug)
        self.sample("destroy, real node", "floor", self.kube("delete", "namespace", f"floor-{slug}", "--wait=true")[0])
        self.floors.discard(f"floor-{slug}")

    def startup(self, runs: int) -> None:
        for _ in range(runs):
            self.sample("CLI start-up", "storekit", self.storekit("--version")[0])
            self.sample("CLI start-up", "floor", self.kube("version", "--client")[0])

    # ---- fleets ------------------------------------------------------------------

    def fleet_file(self, names: list[str], label: str) -> Path:
        path = self.tmp / f"fleet-{label}.yaml"
        path.write_text("stores:\n" + "".join(f"  - name: {n}\n    admin_email: {EMAIL}\n" for n in names))
        return path

    def fleets(self, tag: str, apply_size: int, plan_size: int) -> None:
        names: list[str] = []
        for parallel in (1, 2, 4):
            batch = [f"bench {tag} f{parallel} {i}" for i in range(apply_size)]
            self.stores.update(n.replace(" ", "-") for n in batch)
            memory: list[float] = []
            seconds, _ = self.storekit("--parallel", str(parallel), "apply", "-f",
                                       str(self.fleet_file(batch, f"p{parallel}")), "--auto-approve",
                                       memory=memory)
            figure = f"fleet apply, {apply_size} new stores, parallel {parallel}"
            self.sample(figure, "storekit", seconds)
            self.notes[figure] = f"peak {memory[0]:.0f} MB"
            names += batch
        if len(names) < plan_size:  # more stores for the fleet plan (not timed)
            extra = [f"bench {tag} x {i}" for i in range(plan_size - len(names))]
            self.stores.update(n.replace(" ", "-") for n in extra)
            self.storekit("--parallel", "4", "apply", "-f", str(self.fleet_file(extra, "extra")), "--auto-approve")
            names += extra
        names = names[:plan_size]
        fleet = self.fleet_file(names, "all")
        first = f"fleet no-op plan, {plan_size} stores, first after the applies"
        self.sample(first, "storekit", self.storekit("plan", "-f", str(fleet), "--detailed-exitcode")[0])
        figure = f"fleet no-op plan, {plan_size} stores"
        self.sample(figure, "storekit", self.storekit("plan", "-f", str(fleet), "--detailed-exitcode")[0])
        files = [self.floor_file(n.replace(" ", "-"), f"store-{n.replace(' ', '-')}") for n in names]
        started = time.monotonic()
        for path in files:
            self.kube("diff", "--server-side", "-f", str(path))
        self.sample(figure, "floor", time.monotonic() - started)
        self.samples[first]["floor"] = self.samples[figure]["floor"]

    def cleanup(self) -> None:
        """Destroy what a run (or a failed run) left behind."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda s: self.storekit("destroy", s, "--auto-approve", ok=(0, 1, 3),
                                                  env={"STOREKIT_PROFILE": "node"} if s in self.node_stores else None),
                          sorted(self.stores)))
        for namespace in self.floors:
            self.kube("delete", "namespace", namespace, "--wait=false", ok=(0, 1))


class RssSampler:
    """Peak resident memory (MB) of a process and all its descendants, sampled every 0.2 s."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, tree_rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def tree_rss_mb(root: int) -> float:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e6


TARGETS = {"create to ready": "2x", "no-op plan": "1.5x", "no-op plan, first after an apply": "1.5x", "destroy": "1x",
           "CLI start-up": "2x", "create to ready, real node": "1.3x", "destroy, real node": "1x"}


def report(bench: Bench, started: datetime, seconds: float) -> list[list[str]]:
    def stats(values: list[float]) -> str:
        return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}" if values else ""

    rows = []
    for figure, sides in bench.samples.items():
        ours, floor = sides.get("storekit", []), sides.get("floor", [])
        ratio = f"{statistics.median(ours) / statistics.median(floor):.1f}x" if ours and floor else ""
        target = TARGETS.get(figure, "<2x" if figure.startswith("fleet no-op") else "")
        rows.append([figure, stats(ours), stats(floor), ratio, target, bench.notes.get(figure, "")])
    speedups = [r for r in rows if r[0].startswith("fleet apply")]
    if len(speedups) == 3:
        p1, p4 = (statistics.median(bench.samples[r[0]]["storekit"]) for r in (speedups[0], speedups[2]))
        rows.append(["fleet apply speed-up, parallel 1 -> 4", f"{p1 / p4:.1f}x", "", "", ">=1.7x", ""])
    print(f"storekit vs kubectl, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
          f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, "
          f"{platform.machine()}, simulated nodes (kwok) and the real node where marked; {seconds / 60:.0f} min; "
          f"load average {' / '.join(f'{x:.1f}' for x in bench.loads)} (min / median / max of samples)")
    print_columns(["figure", "storekit s (min / median / max)", "floor s (min / median / max)", "ratio",
                   "target", "note"], rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one store's life (default 3)")
    parser.add_argument("--plans", type=int, default=5, help="paired no-op plans per round (default 5)")
    parser.add_argument("--fleet-apply", type=int, default=20, help="new stores per fleet apply (0: no fleets)")
    parser.add_argument("--fleet-plan", type=int, default=100, help="stores in the fleet no-op plan")
    parser.add_argument("--node-rounds", type=int, default=1, help="rounds on the real node (0: none)")
    parser.add_argument("--quick", action="store_true", help="1 round, 3 plans, fleets of 4 and 10")
    parser.add_argument("--json", metavar="FILE", help="also write every sample as JSON")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.plans, args.fleet_apply, args.fleet_plan = 1, 3, 4, 10
    started, clock = datetime.now(timezone.utc), time.monotonic()
    tag = uuid.uuid4().hex[:4]
    with tempfile.TemporaryDirectory(prefix="storekit-compare-") as tmp:
        bench = Bench(Path(tmp))
        try:
            bench.startup(10)
            for round_no in range(args.rounds):
                bench.store_round(tag, round_no, args.plans)
            for round_no in range(args.node_rounds):
                bench.node_round(tag, round_no)
            if args.fleet_apply:
                bench.fleets(tag, args.fleet_apply, args.fleet_plan)
        finally:
            bench.cleanup()
        report(bench, started, time.monotonic() - clock)
        if args.json:
            Path(args.json).write_text(json.dumps({"started": started.isoformat(), "samples": bench.samples,
                                                   "notes": bench.notes}, indent=2))


if __name__ == "__main__":
    main()
