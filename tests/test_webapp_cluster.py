"""The API against the local cluster with the real engine: a store created through the
API reaches Ready through the worker pool, with its timeline and audit entries; restart
and password reset work; delete removes it. And a server killed while a job runs
finishes that job when it starts again, without duplicating anything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid

import pytest
import urllib.request
import json
from helpers import answers, free_port, wait_for
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace

from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.tokens import ensure_admin_token
from storekit.webapp import create_app

pytestmark = pytest.mark.cluster


def test_api_store_lifecycle_with_workers(settings, kube, tmp_path):
    local = settings.replace(db_url=f"sqlite:///{tmp_path}/catalog.db")
    kit = Storekit(local, actor=Actor(name="dashboard", source="web"))
    app = create_app({"TESTING": True, "SETTINGS": local, "KIT": kit, "SECRET_KEY": "t",
                      "START_WORKERS": True, "WORKERS": 2})
    token = ensure_admin_token(kit.catalog)
    h = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    name = f"API Shop {uuid.uuid4().hex[:5]}"
    try:
        r = client.post("/api/stores", json={"name": name, "admin_email": "api@example.com"}, headers=h)
        assert r.status_code == 202, r.json
        slug, job_id = r.json["store"]["slug"], r.json["job"]["id"]
        wait_for(lambda: client.get(f"/api/jobs/{job_id}", headers=h).json["status"] in ("succeeded", "failed"))
        job = client.get(f"/api/jobs/{job_id}", headers=h).json
        assert job["status"] == "succeeded", job
        store = client.get(f"/api/stores/{slug}", headers=h).json["store"]
        assert store["status"] == "ready" and store["url"] == f"http://{slug}.stores.localhost"
        steps = [e["step"] for e in client.get(f"/api/stores/{slug}/events", headers=h).json["events"]]
        for step in ("Namespace", "Isolation", "Secrets", "MySQL", "WordPress", "WooCommerce setup", "Ingress", "Ready"):
            assert step in steps, step
        assert steps[-1] == "Ready"

        health = client.get(f"/api/stores/{slug}/health", headers=h).json
        assert health["healthy"]
        logs = client.get(f"/api/stores/{slug}/logs/wordpress?tail=5", headers=h).json
        assert logs["lines"] and "simulated" in logs["lines"][-1]
        # Restart and password reset are jobs, with their lines in the timeline.
        def finished(job):
            wait_for(lambda: client.get(f"/api/jobs/{job['id']}", headers=h).json["status"] in ("succeeded", "failed"))
            return client.get(f"/api/jobs/{job['id']}", headers=h).json
        r = client.post(f"/api/stores/{slug}/actions/restart", json={"component": "mysql"}, headers=h)
        assert r.status_code == 202 and r.json["job"]["kind"] == "restart"
        assert finished(r.json["job"])["status"] == "succeeded"
        before = kit.reveal_admin_password(slug)
        r = client.post(f"/api/stores/{slug}/actions/reset-password", headers=h)
        assert r.status_code == 202 and "admin_password" not in r.json
        assert finished(r.json["job"])["status"] == "succeeded"
        reset = client.post(f"/api/stores/{slug}/actions/reveal-password", headers=h).json
        assert reset["admin_password"] == kit.reveal_admin_password(slug) != before
        kinds = [o["operation"] for o in client.get(f"/api/stores/{slug}/events", headers=h).json["timeline"]["operations"]]
        assert kinds[:3] == ["reset-password", "restart", "apply"]

        # The API and the CLI list the same stores, from the same catalog.
        from click.testing import CliRunner
        from storekit.cli.main import cli
        listed = CliRunner().invoke(cli, ["--db-url", local.db_url, "--state-url", local.state_url, "list", "--json"])
        api_stores = client.get("/api/stores", headers=h).json["stores"]
        assert [s["slug"] for s in json.loads(listed.output)] == [s["slug"] for s in api_stores] == [slug]

        # The change applied is exactly the plan shown; a stale plan is refused with a fresh one.
        shown = client.post(f"/api/stores/{slug}/plan", json={"tier": "medium"}, headers=h).json
        assert shown["summary"]["change"] == 6 and shown["action"] == "update" and shown["plan_id"]
        kit.apply(kit.spec_of(slug).with_changes(admin_email="other@example.com"))  # someone changes it
        r = client.patch(f"/api/stores/{slug}", json={"plan_id": shown["plan_id"]}, headers=h)
        assert r.status_code == 409 and r.json["error"] == "stale_plan", r.json
        fresh = r.json["plan"]
        assert fresh["plan_id"] != shown["plan_id"] and fresh["fingerprint"] != shown["fingerprint"]
        r = client.patch(f"/api/stores/{slug}", json={"plan_id": fresh["plan_id"]}, headers=h)
        assert r.status_code == 202
        assert finished(r.json["job"])["status"] == "succeeded"
        assert kit.outputs(slug).tier == "medium"

        r = client.delete(f"/api/stores/{slug}", headers=h)
        assert r.status_code == 202
        wait_for(lambda: client.get(f"/api/jobs/{r.json['job']['id']}", headers=h).json["status"] == "succeeded")
        with pytest.raises(ApiError):
            kube.get(Namespace, f"store-{slug}")
        assert client.get(f"/api/stores/{slug}", headers=h).status_code == 404

        actions = [e["action"] for e in client.get(f"/api/audit?store={slug}", headers=h).json["entries"]]
        assert actions == ["destroy", "destroy-requested", "apply", "update-requested", "apply", "reveal-password",
                           "reset-password", "reset-password-requested", "restart", "restart-requested", "apply",
                           "create-requested"]
        assert reset["admin_password"] not in json.dumps(client.get("/api/audit", headers=h).json)
    finally:
        app.extensions["storekit.workers"].stop(timeout=5)


def test_killed_server_finishes_its_job_after_restart(settings, kube, tmp_path):
    port = free_port()
    env = {**os.environ, "STOREKIT_STATE_URL": settings.state_url, "STOREKIT_DB_URL": f"sqlite:///{tmp_path}/c.db",
           "STOREKIT_PASSPHRASE": settings.passphrase, "STOREKIT_HOME": settings.home}

    def serve():
        return subprocess.Popen([sys.executable, "-m", "storekit.cli", "serve", "--port", str(port), "--workers", "1"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def api(method, path, body=None, token=None):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    server = serve()
    token = None
    for line in server.stdout:
        if line.startswith("Admin token"):
            token = line.rsplit(" ", 1)[-1].strip()
            break
    assert token
    wait_for(lambda: answers(port), timeout=30, every=0.2)
    name = f"Crash Shop {uuid.uuid4().hex[:5]}"
    created = api("POST", "/api/stores", {"name": name, "admin_email": "c@example.com"}, token)
    slug, job_id = created["store"]["slug"], created["job"]["id"]
    try:
        # Kill the server in the middle of the job: once the MySQL step has started.
        wait_for(lambda: any(e["step"] in ("MySQL", "WordPress") for e in
                             api("GET", f"/api/stores/{slug}/events", token=token)["events"]), every=0.2)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        assert api_job_status(env, job_id) == "running", "the job was cut off while running"

        server = serve()
        wait_for(lambda: answers(port), timeout=30, every=0.2)
        wait_for(lambda: api("GET", f"/api/jobs/{job_id}", token=token)["status"] in ("succeeded", "failed"),
                 timeout=300)
        job = api("GET", f"/api/jobs/{job_id}", token=token)
        assert job["status"] == "succeeded" and job["attempts"] >= 2, job
        assert api("GET", f"/api/stores/{slug}", token=token)["store"]["status"] == "ready"
        kit = Storekit(settings.replace(db_url=env["STOREKIT_DB_URL"]))
        assert not kit.plan(kit.spec_of(slug)).has_changes, "the store converged"
        assert len(kit.catalog.jobs.for_store(slug, active=False)) == 1, "no duplicate job"
        assert len(kit.catalog.audit_entries(store=slug, action="apply", outcome="ok")) == 1
        # SIGTERM stops the server cleanly; its log tells the recovery and the outcome.
        server.send_signal(signal.SIGTERM)
        assert server.wait(25) == 0
        log = server.stdout.read()
        assert re.search(rf"job {job_id}: worker \S+ is gone, queued again", log), log
        assert re.search(rf"job {job_id}: \w+ {slug} succeeded", log), log
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(25)
        Storekit(settings.replace(db_url=env["STOREKIT_DB_URL"])).destroy(slug)


def api_job_status(env, job_id) -> str:
    from storekit.catalog import Catalog

    return Catalog.open(env["STOREKIT_DB_URL"]).jobs.get(job_id).status
