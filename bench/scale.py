"""Scale-out: `storekit serve` replicas and `storekit worker` processes sharing PostgreSQL
(catalog, job queue and Pulumi state) and Redis (rate limits, sessions) provision stores
on the simulated nodes; print tables.

    .venv/bin/python bench/scale.py                        # 10 stores at 1, 2 and 3 workers
    .venv/bin/python bench/scale.py --stores 200 --workers 1,2,3
    .venv/bin/python bench/scale.py --stores 20 --kill     # and a worker SIGKILLed mid-job

Each round: N stores are asked for through the API of 3 replicas (round robin), W worker
processes (1 job each) run the jobs, and the round ends when every job ended; then the
stores are destroyed (through the API, timed too). Reported: stores per minute, and the
double applies, checked twice: from the engine's own update history (exactly one update per
store) and from the catalog (one job attempt and one `apply` audit entry per store). With
--kill one worker is SIGKILLed while it runs a job: its job must be taken over by another
after its lease (20 s) and still be applied once.

Needs Debian's postgresql and redis-server (make packages), root (PostgreSQL runs as the
`postgres` user), the tools and the local cluster. Uses its own databases in a temporary
folder, never your stores. Wall-clock figures: run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from table import print_columns

from storekit import Settings, Storekit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import answers, free_port, wait_for  # noqa: E402  (the tests' own polling helpers)

TOKEN = "sk_scale-bench-admin-token-00000001"


def postgres(stack: ExitStack, folder: Path) -> int:
    """A PostgreSQL server of its own (Debian's binaries, as `postgres`); its port."""
    bindir = os.path.dirname(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1])
    data, port = folder / "pg", free_port()
    shutil.chown(folder, "postgres")
    run = lambda *a: subprocess.run(["runuser", "-u", "postgres", "--", *a], check=True, cwd=folder,  # noqa: E731
                                    capture_output=True, timeout=120)
    run(f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres")
    run(f"{bindir}/pg_ctl", "-D", str(data), "-l", str(folder / "pg.log"), "-w", "start", "-o",
        f"-p {port} -h 127.0.0.1 -k {folder} -c max_connections=300")
    stack.callback(run, f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "stop")
    for db in ("catalog", "state"):
        subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-h", "127.0.0.1", "-p", str(port), "-c",
                        f"CREATE DATABASE {db}"], check=True, capture_output=True)
    return port


def spawn(stack: ExitStack, args: list[str], env: dict, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "storekit.cli", *args], env=env, stdout=log.open("a"),
                            stderr=subprocess.STDOUT)
    stack.callback(stop, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def api(port: int, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def round_of(kit: Storekit, ports: list[int], workers: list, n: int, tag: str, kill: bool) -> dict:
    """Ask for ``n`` stores, wait for every job, check double applies, destroy them."""
    catalog = kit.catalog
    started = time.monotonic()
    jobs = {}
    for i in range(n):
        body = api(ports[i % len(ports)], "POST", "/api/stores",
                   {"name": f"Scale {tag} {i:03d}", "admin_email": "scale@example.com"})
        jobs[body["job"]["id"]] = body["store"]["slug"]
    killed_at = taken_over = None
    if kill:  # SIGKILL the worker of the first job seen running; time until another takes it
        running = wait_for(lambda: [j for j in map(catalog.jobs.get, jobs) if j.status == "running"],
                           timeout=300, what="a running job")[0]
        victim = next(p for p in workers if f":{p.pid}/" in (running.worker or ""))
        victim.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        # taken over: claimed again by another worker (a second attempt), however short it runs
        wait_for(lambda: catalog.jobs.get(running.id).attempts > running.attempts, every=0.2,
                 timeout=600, what=f"job {running.id} taken over")
        taken_over = time.monotonic() - killed_at
    wait_for(lambda: all(catalog.jobs.get(j).status in ("succeeded", "failed") for j in jobs),
             timeout=3600, every=2, what="every job to end")
    seconds = time.monotonic() - started
    ended = [catalog.jobs.get(j) for j in jobs]
    failed = [j for j in ended if j.status == "failed"]
    history_doubles = catalog_doubles = 0
    for job in ended:
        stack = kit.gateway.select(job.store)
        updates = [u for u in stack.history() if u.kind == "update"] if stack else []
        history_doubles += max(0, len(updates) - 1)
        applies = catalog.audit_entries(store=job.store, action="apply", outcome="ok")
        catalog_doubles += max(0, len(applies) - 1)
    retried = sum(1 for j in ended if j.attempts > 1)
    destroy_started = time.monotonic()
    destroys = [api(ports[i % len(ports)], "DELETE", f"/api/stores/{slug}")["job"]["id"]
                for i, slug in enumerate(jobs.values())]
    wait_for(lambda: all(catalog.jobs.get(j).status in ("succeeded", "failed") for j in destroys),
             timeout=3600, every=2, what="every destroy to end")
    return {"seconds": seconds, "failed": len(failed), "history_doubles": history_doubles,
            "catalog_doubles": catalog_doubles, "retried": retried, "taken_over": taken_over,
            "destroy_seconds": time.monotonic() - destroy_started,
            "errors": [j.error for j in failed][:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=10, help="stores per round")
    parser.add_argument("--workers", default="1,2,3", help="worker processes per round, comma separated")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--kill", action="store_true", help="SIGKILL a worker mid-job in the last round")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (servers, databases) as on Ctrl-C
    base = Settings.load()
    folder = Path(tempfile.mkdtemp(prefix="storekit-scale-"))
    rows = []
    with ExitStack() as stack:
        stack.callback(lambda: shutil.rmtree(folder, True) if sys.exc_info()[0] is None else
                       print(f"kept the logs and databases' folder {folder}", file=sys.stderr))
        pg = postgres(stack, folder)
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL)
        stack.callback(stop, redis)
        db_url = f"postgresql://postgres@127.0.0.1:{pg}/catalog"
        state_url = f"postgres://postgres@127.0.0.1:{pg}/state?sslmode=disable"
        env = {**os.environ, "STOREKIT_DB_URL": db_url, "STOREKIT_STATE_URL": state_url,
               "STOREKIT_PASSPHRASE": "scale-bench", "STOREKIT_HOME": base.home,  # the tools, the cluster
               "STOREKIT_ADMIN_TOKEN": TOKEN, "STOREKIT_WEB_MAX_STORES": "100000",
               "STOREKIT_WEB_CREATE_LIMIT": "100000 per minute", "STOREKIT_WEB_ACTION_LIMIT": "100000 per minute",
               "STOREKIT_WEB_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{redis_port}/0",
               "STOREKIT_WEB_SECRET_KEY": "scale-bench-shared-session-key"}
        kit = Storekit(base.replace(db_url=db_url, state_url=state_url, passphrase="scale-bench"))
        ports = [free_port() for _ in range(args.replicas)]
        for port in ports:
            spawn(stack, ["serve", "--port", str(port), "--workers", "0", "--threads", "16"], env,
                  folder / f"serve-{port}.log")
        for port in ports:
            try:
                wait_for(lambda: answers(port), timeout=300, what=f"replica on {port}")
            except AssertionError:
                print((folder / f"serve-{port}.log").read_text()[-3000:], file=sys.stderr)
                raise
        for r, count in enumerate(counts):
            workers = [spawn(stack, ["worker", "--size", "1"], env, folder / f"worker-{r}-{i}.log")
                       for i in range(count)]
            result = round_of(kit, ports, workers, args.stores, f"w{count} {os.getpid() % 1000}",
                              kill=args.kill and r == len(counts) - 1 and count > 1)
            for proc in workers:
                stop(proc)
            rows.append([str(count), str(args.stores), f"{result['seconds']:.0f}",
                         f"{args.stores / result['seconds'] * 60:.1f}", str(result["failed"]),
                         f"{result['history_doubles']} / {result['catalog_doubles']}", str(result["retried"]),
                         "-" if result["taken_over"] is None else f"{result['taken_over']:.0f} s",
                         f"{result['destroy_seconds']:.0f}"])
            if result["errors"]:
                print("failed jobs, for example:", *result["errors"], sep="\n  ", file=sys.stderr)
    print(f"{args.replicas} replicas, PostgreSQL (catalog, queue, state) and Redis; {os.cpu_count()} cores")
    print_columns(["workers", "stores", "seconds", "stores/min", "failed", "double applies (engine / catalog)",
                   "retried", "worker killed: taken over after", "destroy seconds"], rows)


if __name__ == "__main__":
    main()
