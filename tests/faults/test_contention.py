"""Many operations on one store at the same moment (12 in make test, 50 in make soak): from the API of two `storekit serve`
replicas (each with its worker) and from `storekit apply` processes, all asking for the
same tier change, sharing one catalog and one state backend.

Exactly one engine update runs at a time (the stack's update history has no overlapping
updates, and only one of them changed anything); every other caller got StoreBusy, a
stale-plan refusal, a no-op, or a job in the queue, never an error of another kind; no
job is left queued or running; and the store converged to the change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from faultlib import assert_converged
from helpers import answers, free_port, wait_for

from storekit import Storekit, StoreSpec
from storekit.errors import StoreNotFound

pytestmark = pytest.mark.cluster

TOKEN = "sk_contention-admin-token-000000001"
# (API calls, split over both replicas; `storekit apply` processes), all at once: the bounded
# case in make test, fifty in make soak.
CALLS = [pytest.param((9, 3), id="12-calls"), pytest.param((44, 6), id="50-calls", marks=pytest.mark.soak)]


def _serve(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "storekit.cli", "serve", "--port", str(port), "--workers", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _patch(port: int, slug: str) -> tuple[int, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/stores/{slug}", method="PATCH",
                                 data=json.dumps({"tier": "medium"}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.mark.parametrize("calls", CALLS)
def test_concurrent_operations_on_one_store(settings, kube, tmp_path, calls):
    api_calls, cli_calls = calls
    db_url = f"sqlite:///{tmp_path}/catalog.db"
    kit = Storekit(settings.replace(db_url=db_url))
    spec = StoreSpec(name=f"Busy Shop {uuid.uuid4().hex[:5]}", admin_email="busy@example.com")
    env = {**os.environ, "STOREKIT_STATE_URL": settings.state_url, "STOREKIT_DB_URL": db_url,
           "STOREKIT_PASSPHRASE": settings.passphrase, "STOREKIT_HOME": settings.home,
           "STOREKIT_ADMIN_TOKEN": TOKEN, "STOREKIT_WEB_ACTION_LIMIT": "1000 per minute"}
    ports = [free_port(), free_port()]
    replicas = []
    try:
        kit.apply(spec)
        created_updates = len(kit.gateway.select(spec.slug).history())
        replicas = [_serve(env, port) for port in ports]
        for port in ports:
            wait_for(lambda: answers(port), timeout=60, every=0.2, what=f"replica on {port}")

        start = threading.Barrier(api_calls + cli_calls)
        api_results: list[tuple[int, dict]] = []
        cli_results: list[subprocess.CompletedProcess] = []

        def api(port):
            start.wait()
            api_results.append(_patch(port, spec.slug))

        def cli():
            start.wait()
            cli_results.append(subprocess.run(
                [sys.executable, "-m", "storekit.cli", "apply", spec.name, "--tier", "medium", "--auto-approve",
                 "--json"], env=env, capture_output=True, text=True, timeout=900))
        threads = [threading.Thread(target=api, args=(ports[i % 2],)) for i in range(api_calls)]
        threads += [threading.Thread(target=cli) for _ in range(cli_calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(900)

        assert sorted({status for status, _ in api_results}) == [202], api_results
        jobs = {body["job"]["id"] for _, body in api_results}
        assert len(jobs) < api_calls, "identical requests waiting in the queue joined one job"
        codes = sorted(r.returncode for r in cli_results)
        assert set(codes) <= {0, 4, 5}, [(r.returncode, r.stderr[-400:]) for r in cli_results]
        wait_for(lambda: not kit.catalog.jobs.for_store(spec.slug), timeout=900, every=1,
                 what="every job of the store to end")
        ended = kit.catalog.jobs.for_store(spec.slug, active=False)
        assert {j.status for j in ended if j.id in jobs} == {"succeeded"}, [(j.id, j.status, j.error) for j in ended]

        history = kit.gateway.select(spec.slug).history()
        updates = sorted(history[: len(history) - created_updates], key=lambda u: u.start_time)
        for before, after in zip(updates, updates[1:]):
            assert before.end_time <= after.start_time, "two engine updates of the store overlapped"
        changed = [u for u in updates if u.kind == "update" and any(
            k != "same" for k in (u.resource_changes or {}))]
        assert len(changed) == 1, f"the change was applied once, not {len(changed)} times: {updates}"
        assert_converged(kit, kube, spec.with_changes(tier="medium"))
    finally:
        for proc in replicas:
            proc.terminate()
            proc.wait(30)
        try:
            kit.destroy(spec.name)
        except StoreNotFound:
            pass
