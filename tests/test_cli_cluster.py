"""The CLI end to end against the local cluster, with the real engine: a store's day
one and day two as a platform engineer types them, fleets with --prune, and every kind
of bad input that needs the engine (unknown store, bad email, stale plan, busy store,
unreachable cluster) answered with one line and the right exit code."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest
from click.testing import CliRunner
from lightkube.resources.core_v1 import Pod

from storekit import Settings
from storekit.gateway import StackGateway
from storekit.cli.main import cli

pytestmark = pytest.mark.cluster


@pytest.fixture
def env(settings, kube, tmp_path, monkeypatch):
    """The CLI pointed at this session's state and catalog, as the user 'alice'."""
    monkeypatch.setenv("STOREKIT_STATE_URL", settings.state_url)
    monkeypatch.setenv("STOREKIT_DB_URL", settings.db_url)
    monkeypatch.setenv("STOREKIT_PASSPHRASE", settings.passphrase)
    monkeypatch.setenv("STOREKIT_ACTOR", "alice")
    monkeypatch.delenv("STOREKIT_PARALLEL", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sk(*args, input=None):
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), result.output
    return lines[-1]


def wordpress_pods(kube, ns) -> set[str]:
    return {p.metadata.name for p in kube.list(Pod, namespace=ns, labels={"app.kubernetes.io/name": "wordpress"})
            if p.metadata.deletionTimestamp is None}


def test_a_store_from_creation_to_destruction(env, kube):
    name = f"CLI Shop {uuid.uuid4().hex[:5]}"
    slug = name.lower().replace(" ", "-")
    ns = f"store-{slug}"

    created = sk("apply", name, "--email", "owner@example.com", "--auto-approve")
    assert created.exit_code == 0, created.output
    assert "Apply complete! Resources: 15 added" in created.output
    assert f"URL:       http://{slug}.stores.localhost" in created.output
    assert "password:" in created.output and "--reveal" in created.output

    planned = sk("plan", name, "--tier", "medium", "--out", "tier.json", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "~ ResourceQuota" in planned.output and '"2" -> "4"' in planned.output
    assert "Plan: 0 to add, 6 to change, 0 to destroy." in planned.output
    document = json.loads((env / "tier.json").read_text())
    assert document["format_version"] == 2 and document["spec"]["tier"] == "medium"

    applied = sk("apply", "tier.json")
    assert applied.exit_code == 0 and "6 changed" in applied.output
    again = sk("plan", name, "--detailed-exitcode")
    assert again.exit_code == 0 and "No changes." in again.output

    health = sk("health", name, "--json")
    assert health.exit_code == 0
    report = json.loads(health.output)
    assert report["healthy"] and {p["component"] for p in report["pods"]} >= {"wordpress", "mysql"}
    assert {v["name"]: v["phase"] for v in report["volumes"]} == {"mysql-data": "Bound", "wordpress-data": "Bound"}
    assert any(q["resource"] == "limits.cpu" and q["hard"] == "4" for q in report["quota"])

    logs = sk("logs", name, "mysql", "--tail", "3")
    assert logs.exit_code == 0 and "ready for connections" in logs.output

    before = wordpress_pods(kube, ns)
    restarted = sk("restart", name, "--component", "wordpress")
    assert restarted.exit_code == 0, restarted.output
    after = wordpress_pods(kube, ns)
    assert after and not (after & before), "restart must bring new pods"

    reset = sk("reset-password", name, "--auto-approve")
    assert reset.exit_code == 0, reset.output
    password = reset.output.strip().splitlines()[-1]
    revealed = json.loads(sk("outputs", name, "--reveal", "--json").output)
    assert revealed["admin_password"] == password
    assert "admin_password" not in json.loads(sk("outputs", name, "--json").output)
    assert password not in sk("show", name).output

    destroyed = sk("destroy", name, "--auto-approve")
    assert destroyed.exit_code == 0 and "Destroy complete!" in destroyed.output, destroyed.output
    assert slug not in sk("list").output

    audit = json.loads(sk("audit", "--store", name, "--json").output)
    actions = [(e["action"], e["actor"], e["source"], e["outcome"]) for e in reversed(audit)]
    assert actions == [("apply", "alice", "cli", "ok"), ("apply", "alice", "cli", "ok"),
                       ("restart", "alice", "cli", "ok"), ("reset-password", "alice", "cli", "ok"),
                       ("destroy", "alice", "cli", "ok")]
    assert password not in json.dumps(audit)


def test_fleet_file_with_prune(env, kube):
    tag = uuid.uuid4().hex[:4]
    names = [f"Fleet CLI {tag} {i}" for i in range(3)]
    fleet = env / "stores.yaml"
    fleet.write_text("defaults:\n  tier: small\nstores:\n" + "".join(
        f"  - name: {n}\n    admin_email: owner{i}@example.com\n" for i, n in enumerate(names)))

    planned = sk("plan", "-f", str(fleet), "--json")
    assert planned.exit_code == 0, planned.output
    doc = json.loads(planned.output)
    assert doc["kind"] == "fleet" and [p["action"] for p in doc["plans"]] == ["create"] * 3
    assert doc["summary"]["add"] == 45

    try:
        applied = sk("apply", "-f", str(fleet), "--auto-approve")
        assert applied.exit_code == 0, applied.output
        assert "Apply complete: 3 of 3 stores" in applied.output

        small = fleet.read_text()
        fleet.write_text(small.replace("tier: small", "tier: medium"))  # one identical change, three stores
        grouped = sk("plan", "-f", str(fleet), "--no-refresh")
        assert grouped.exit_code == 0, grouped.output
        assert grouped.output.startswith("3 stores: tier small \u2192 medium\n"), grouped.output
        expanded = sk("plan", "-f", str(fleet), "--no-refresh", "--expand")
        assert expanded.output.count('spec.hard["limits.cpu"]: "2" -> "4"') == 1, expanded.output
        fleet.write_text(small)

        fleet.write_text(fleet.read_text().rsplit("  - name:", 1)[0])  # drop the last store
        kept = sk("plan", "-f", str(fleet), "--detailed-exitcode")
        assert kept.exit_code == 0, kept.output
        pruned = sk("plan", "-f", str(fleet), "--prune", "--json")
        doc = json.loads(pruned.output)
        destroy = [p for p in doc["plans"] if p["action"] == "destroy"]
        assert [p["store"] for p in destroy] == [names[2].lower().replace(" ", "-")]
        assert doc["summary"]["destroy"] == 15
    finally:
        for n in names:
            sk("destroy", n, "--auto-approve")


def test_bad_input_needing_the_engine(env, settings):
    missing = sk("show", "No Such Shop")
    assert missing.exit_code == 3 and "does not exist" in error_line(missing)
    assert sk("logs", "No Such Shop").exit_code == 3

    bad_email = sk("plan", "New Shop", "--email", "not-an-email")
    assert bad_email.exit_code == 7 and "admin_email: must be an email address" in error_line(bad_email)
    no_email = sk("plan", "New Shop")
    assert no_email.exit_code == 7 and "--email" in error_line(no_email)
    unknown_engine = sk("plan", "New Shop", "--email", "a@b.co", "--engine", "shopify")
    assert unknown_engine.exit_code == 2 and "woocommerce" in unknown_engine.output

    no_tty = sk("apply", "New Shop", "--email", "a@b.co")  # CliRunner's stdin is not a terminal
    assert no_tty.exit_code == 2 and "--auto-approve" in no_tty.output

    unreachable = sk("--kubeconfig", str(env / "missing"), "health", "No Such Shop")
    assert unreachable.exit_code in (3, 6)


def test_stale_and_busy_stores(env, kube):
    name = f"Busy Shop {uuid.uuid4().hex[:5]}"
    assert sk("apply", name, "--email", "owner@example.com", "--auto-approve").exit_code == 0
    try:
        assert sk("plan", name, "--tier", "medium", "--out", "stale.json").exit_code == 0
        assert sk("plan", name, "--tier", "large", "--out", "busy.json").exit_code == 0
        assert sk("apply", name, "--email", "new@example.com", "--auto-approve").exit_code == 0
        stale = sk("apply", "stale.json")
        assert stale.exit_code == 5 and "is stale" in error_line(stale) and "storekit plan" in error_line(stale)

        assert sk("plan", name, "--tier", "medium", "--out", "first.json").exit_code == 0
        assert sk("plan", name, "--tier", "medium", "--out", "second.json").exit_code == 0
        # The first apply runs in another process; the second meets its lock in the backend.
        first = subprocess.Popen([sys.executable, "-m", "storekit.cli", "apply", "first.json"], cwd=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            gateway = StackGateway(Settings.load())
            deadline = time.monotonic() + 60
            while gateway.lock_holder(name.lower().replace(" ", "-")) is None and time.monotonic() < deadline:
                time.sleep(0.1)
            busy = sk("apply", "second.json")
        finally:
            output, _ = first.communicate(timeout=300)
        assert first.returncode == 0, output
        assert busy.exit_code == 4 and "is being changed by" in error_line(busy)
    finally:
        sk("destroy", name, "--auto-approve")
