"""No credential in any output (issue 12), over a whole store's life with the real engine.

A real `storekit serve` (catalog and stack state on PostgreSQL, with passwords in both
URLs, a passphrase, a handed-in admin token and session key) and the real CLI create a
store, plan a tier change (text, --json, a plan file), apply it, reset the admin password
and destroy the store. Every generated secret (the store's passwords and salts, read with
`render --reveal`; the new password; tokens) and every configured one is then looked for
in: the server's log, every CLI output (text and --json), every API response, every
catalog row, the plan file, the stack state as stored in PostgreSQL, and the files under
the stack's work folder. The only places allowed to hold one are the outputs that exist
to show it (`render --reveal`, `outputs --reveal`, `reveal-password`, `token create`)
and the stack's encrypted config.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.request
import uuid

import psycopg2
import pytest
import yaml
from helpers import answers, free_port, wait_for

pytestmark = pytest.mark.cluster


def _dump_database(address: str) -> str:
    """Every row of every table of a database, as text (binary columns decoded)."""
    user_host, dbname = address.split("/", 1)
    host, port = user_host.split("@", 1)[1].split(":")
    conn = psycopg2.connect(host=host, port=int(port), user="postgres", dbname=dbname)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            out = []
            for (table,) in cur.fetchall():
                cur.execute(f'SELECT * FROM "{table}"')
                for row in cur.fetchall():
                    out.append(f"{table}: " + " | ".join(
                        bytes(v).decode("utf-8", "replace") if isinstance(v, (memoryview, bytes)) else str(v)
                        for v in row))
            return "\n".join(out)
    finally:
        conn.close()


class Lifecycle:
    def __init__(self, settings, postgres, tmp_path):
        self.catalog_db, self.state_db = postgres("scan_catalog"), postgres("scan_state")
        self.configured = {
            "catalog password": "catpw-" + secrets.token_hex(10),
            "state password": "statepw-" + secrets.token_hex(10),
            "passphrase": "passphrase-" + secrets.token_hex(10),
            "admin token": "sk_admin-" + secrets.token_hex(16),
            "session key": "session-" + secrets.token_hex(20),
        }
        host = lambda address: address.split("@", 1)[1]  # noqa: E731  "127.0.0.1:port/db"
        self.env = {**os.environ, "STOREKIT_HOME": settings.home,
                    "STOREKIT_DB_URL": f"postgresql://postgres:{self.configured['catalog password']}@"
                                       f"{host(self.catalog_db)}",
                    "STOREKIT_STATE_URL": f"postgres://postgres:{self.configured['state password']}@"
                                          f"{host(self.state_db)}?sslmode=disable",
                    "STOREKIT_PASSPHRASE": self.configured["passphrase"],
                    "STOREKIT_WEB_SECRET_KEY": self.configured["session key"], "NO_COLOR": "1"}
        self.tmp = tmp_path
        self.outputs: list[tuple[str, str]] = []  # (what, text) to scan
        self.allowed: list[tuple[str, str]] = []  # outputs whose job is to show a secret
        self.server = None

    def cli(self, *args, allowed: bool = False, ok: bool = True) -> str:
        result = subprocess.run([sys.executable, "-m", "storekit.cli", *args], env=self.env, capture_output=True,
                                text=True, timeout=600, stdin=subprocess.DEVNULL)
        text = result.stdout + result.stderr
        (self.allowed if allowed else self.outputs).append((f"storekit {' '.join(args)}", text))
        if ok:
            assert result.returncode == 0, f"storekit {' '.join(args)}: {text}"
        return result.stdout

    def serve(self) -> None:
        self.port = free_port()
        env = {**self.env, "STOREKIT_ADMIN_TOKEN": self.configured["admin token"]}
        self.log = (self.tmp / "server.log").open("w+")
        self.server = subprocess.Popen([sys.executable, "-m", "storekit.cli", "serve", "--port", str(self.port),
                                        "--workers", "1", "--log-level", "debug"],
                                       env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: answers(self.port), timeout=60, every=0.3, what="the server")

    def api(self, method: str, path: str, body=None, *, allowed: bool = False):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.configured['admin token']}"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            text = resp.read().decode()
        (self.allowed if allowed else self.outputs).append((f"{method} {path}", text))
        return json.loads(text)

    def wait_job(self, job_id: int) -> dict:
        wait_for(lambda: self.api("GET", f"/api/jobs/{job_id}")["status"] in ("succeeded", "failed"), timeout=400)
        job = self.api("GET", f"/api/jobs/{job_id}")
        assert job["status"] == "succeeded", job
        return job

    def stop(self) -> str:
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(30)
        self.log.seek(0)
        return self.log.read()


def _store_secrets(rendered: str) -> dict[str, str]:
    """Every value of every Secret in `storekit render --reveal` output."""
    found = {}
    for doc in yaml.safe_load_all(rendered):
        if doc and doc.get("kind") == "Secret":
            for key, value in (doc.get("stringData") or {}).items():
                found[f"{doc['metadata']['name']}.{key}"] = str(value)
            for key, value in (doc.get("data") or {}).items():
                found[f"{doc['metadata']['name']}.{key}"] = base64.b64decode(value).decode()
    return found


def test_no_secret_in_any_output_over_a_store_lifecycle(settings, kube, postgres, tmp_path):
    run = Lifecycle(settings, postgres, tmp_path)
    name = f"Scan Shop {uuid.uuid4().hex[:5]}"
    generated: dict[str, str] = {}
    try:
        run.serve()
        # create (API, through the worker), then read everything a viewer could
        created = run.api("POST", "/api/stores", {"name": name, "admin_email": "scan@example.com"})
        slug = created["store"]["slug"]
        run.wait_job(created["job"]["id"])
        for path in ("/api/stores", f"/api/stores/{slug}", f"/api/stores/{slug}/events",
                     f"/api/stores/{slug}/health", "/api/audit", "/api/tokens", "/api/openapi.json"):
            run.api("GET", path)
        run.api("POST", f"/api/stores/{slug}/plan", {"tier": "medium"})
        generated.update(_store_secrets(run.cli("render", name, "--reveal", allowed=True)))
        assert len(generated) >= 4, generated.keys()
        generated["viewer token"] = run.cli("token", "create", "scan-viewer", allowed=True).strip()

        # plan (text, --json, a plan file) and apply the tier change (CLI)
        plan_file = tmp_path / "plan.json"
        run.cli("plan", name, "--tier", "medium", "--out", str(plan_file))
        run.cli("plan", name, "--tier", "medium", "--json")
        run.cli("apply", str(plan_file))
        run.outputs.append(("plan file", plan_file.read_text()))
        for args in (("show", name), ("show", name, "--json"), ("outputs", name), ("outputs", name, "--json"),
                     ("list",), ("list", "--json"), ("config",), ("config", "--json"), ("doctor",),
                     ("health", name), ("audit",), ("audit", "--json"), ("render", name), ("render", name, "--json"),
                     ("token", "list"), ("token", "list", "--json"), ("drift", name), ("drift", name, "--json")):
            run.cli(*args)
        run.cli("outputs", name, "--reveal", allowed=True)

        # reset the admin password (API, a job); the new one is shown only when asked for
        run.wait_job(run.api("POST", f"/api/stores/{slug}/actions/reset-password")["job"]["id"])
        reset = run.api("POST", f"/api/stores/{slug}/actions/reveal-password", allowed=True)
        assert reset["admin_password"] not in generated.values(), "a new password"
        generated["new admin password"] = reset["admin_password"]
        run.outputs.append(("stack state (PostgreSQL)", _dump_database(run.state_db)))
        work = settings.home_path / "work" / slug
        for path in sorted(p for p in work.rglob("*") if p.is_file()):
            run.outputs.append((f"work file {path.name}", path.read_text(errors="replace")))

        # destroy (CLI), and read what is left
        run.cli("destroy", name, "--auto-approve")
        run.cli("destroy", name, "--auto-approve", ok=False)  # an error message, too
        run.api("GET", f"/api/audit?store={slug}")
    finally:
        run.outputs.append(("server log", run.stop()))
        run.cli("destroy", name, "--auto-approve", ok=False)
    run.outputs.append(("catalog (PostgreSQL)", _dump_database(run.catalog_db)))

    wanted = {**run.configured, **generated}
    leaks = [f"{what!r} shows the {secret}" for what, text in run.outputs
             for secret, value in wanted.items() if len(value) >= 8 and value in text]
    assert not leaks, "\n".join(leaks)
    # The scan looked at what it meant to.
    whats = {what for what, _ in run.outputs}
    assert {"server log", "catalog (PostgreSQL)", "plan file", "stack state (PostgreSQL)"} <= whats
    assert any("store-credentials" in k or "password" in k for k in generated)
    assert any(reset["admin_password"] in text for _, text in run.allowed)
