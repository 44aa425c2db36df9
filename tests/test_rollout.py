"""Staged rollouts, the pure logic: waves from "1,10%,50%,100%", the stores of each wave, the
spec a store goes back to on rollback, the options' rules and a fleet file's rollout:
section. Rollouts against the local cluster (6 stores in waves, a failed wave halting
with the rest untouched, resume) are in test_rollout_cluster.py."""

from __future__ import annotations

import re

import pytest
from test_grouping import new, tier_change

from storekit.errors import SpecError
from storekit.fleet import load_rollout
from storekit.rollout import RolloutOptions, parse_waves, previous_spec, split_waves


def test_waves_are_cumulative_and_reach_every_store():
    assert parse_waves("1,10%,50%,100%", 12) == [1, 2, 6, 12]
    assert parse_waves("1,10%,50%,100%", 50) == [1, 5, 25, 50]
    assert parse_waves("1,25%", 4) == [1, 4]  # 25% of 4 adds nothing after the canary; the rest follows
    assert parse_waves("3", 2) == [2]
    assert split_waves([f"s{i}" for i in range(12)], [1, 2, 6, 12]) == [
        ["s0"], ["s1"], ["s2", "s3", "s4", "s5"], [f"s{i}" for i in range(6, 12)]]
    for bad in ("", "1,,2", "0", "150%", "50%,10%", "ten"):
        with pytest.raises(SpecError) as e:
            parse_waves(bad, 10)
        assert e.value.problems[0][0] == "waves"


def test_rollback_goes_back_to_the_previous_spec():
    assert previous_spec(tier_change("a", "small", "medium"))["tier"] == "small"
    assert previous_spec(new("b")) is None  # a store the rollout created is destroyed instead


def test_options_and_the_fleet_files_rollout_section(tmp_path):
    with pytest.raises(SpecError) as e:
        RolloutOptions(max_unavailable=0, bake=-1, gate="ping").check()
    assert {f for f, _ in e.value.problems} == {"max_unavailable", "bake", "gate"}
    fleet = tmp_path / "stores.yaml"
    fleet.write_text("rollout:\n  waves: 1,50%,100%\n  max_unavailable: 2\nstores:\n"
                     "  - {name: A, admin_email: a@example.com}\n")
    assert load_rollout(fleet) == {"waves": "1,50%,100%", "max_unavailable": 2}
    fleet.write_text("rollout:\n  speed: fast\nstores: []\n")
    with pytest.raises(SpecError, match="rollout: must be a mapping of bake, gate, max_unavailable, waves"):
        load_rollout(fleet)


def test_cli_refuses_waves_without_a_fleet(tmp_path):
    from click.testing import CliRunner

    from storekit.cli.main import cli

    result = CliRunner().invoke(cli, ["apply", "shop", "--waves", "1,100%"],
                                env={"STOREKIT_HOME": str(tmp_path)})
    assert result.exit_code == 2 and "--waves rolls out a fleet" in result.output


def test_rollouts_show_in_the_dashboard_and_the_api(settings, tmp_path):
    from helpers import web_app

    app = web_app(settings, tmp_path)
    catalog = app.extensions["storekit"].catalog
    record = catalog.rollouts.create(actor="alice", source="cli", options=RolloutOptions().to_dict(), plans={},
                                     previous={}, waves=[
                                         {"number": 1, "stores": ["a"], "status": "passed", "failed": []},
                                         {"number": 2, "stores": ["b"], "status": "failed",
                                          "failed": [{"store": "b", "reason": "gate: not ready"}]}])
    catalog.rollouts.update(record.id, status="halted", message="wave 2 failed")
    client = app.test_client()
    h = {"Authorization": f"Bearer {app.viewer_token}"}
    doc = client.get(f"/api/rollouts/{record.id}", headers=h).json
    assert doc["status"] == "halted" and doc["waves"][1]["failed"][0]["reason"] == "gate: not ready"
    assert client.get("/api/rollouts/999", headers=h).status_code == 404
    with client.session_transaction() as s:
        s["csrf"] = "t"
    client.post("/login", data={"token": app.viewer_token, "csrf_token": "t"})
    page = client.get(f"/rollouts/{record.id}").data.decode()
    assert "halted" in page and "b: gate: not ready" in page and "storekit rollout resume" in page
    assert "1/2 passed" in client.get("/rollouts").data.decode()


def _halted(catalog):
    record = catalog.rollouts.create(actor="alice", source="cli", options=RolloutOptions().to_dict(), plans={},
                                     previous={}, waves=[
                                         {"number": 1, "stores": ["a"], "status": "passed", "failed": []},
                                         {"number": 2, "stores": ["b"], "status": "failed",
                                          "failed": [{"store": "b", "reason": "gate: not ready"}]},
                                         {"number": 3, "stores": ["c"], "status": "pending", "failed": []}])
    return catalog.rollouts.update(record.id, status="halted", message="wave 2 failed")


def test_a_halted_rollout_is_resumed_and_rolled_back_from_the_api(settings, tmp_path):
    """Resume and rollback are jobs for the workers (kinds rollout-resume, rollout-rollback,
    one at a time per rollout); admins only; 409 where the rollout's state forbids them."""
    from helpers import web_app

    app = web_app(settings, tmp_path)
    catalog = app.extensions["storekit"].catalog
    record = _halted(catalog)
    client = app.test_client()
    admin, viewer = ({"Authorization": f"Bearer {t}"} for t in (app.admin_token, app.viewer_token))
    assert client.post(f"/api/rollouts/{record.id}/resume", headers=viewer).status_code == 403
    r = client.post(f"/api/rollouts/{record.id}/resume", headers=admin)
    assert r.status_code == 202, r.json
    job = r.json["job"]
    assert (job["kind"], job["store"], job["status"]) == ("rollout-resume", f"rollout-{record.id}", "queued")
    assert catalog.jobs.get(job["id"]).payload == {"rollout": record.id}
    assert client.post(f"/api/rollouts/{record.id}/resume", headers=admin).json["job"]["id"] == job["id"], \
        "a second click joins the queued job"
    r = client.post(f"/api/rollouts/{record.id}/rollback", headers=admin, json={"all": True})
    assert r.status_code == 202 and catalog.jobs.get(r.json["job"]["id"]).payload == {"rollout": record.id, "all": True}
    bad = client.post(f"/api/rollouts/{record.id}/rollback", headers=admin, json={"all": "yes", "waves": 2})
    assert bad.status_code == 400 and {f["field"] for f in bad.json["fields"]} == {"waves"}
    bad = client.post(f"/api/rollouts/{record.id}/rollback", headers=admin, json={"all": "yes"})
    assert bad.status_code == 400 and bad.json["fields"] == [{"field": "all", "rule": "must be true or false"}]
    assert client.post("/api/rollouts/999/resume", headers=admin).status_code == 404
    catalog.rollouts.update(record.id, status="running")
    r = client.post(f"/api/rollouts/{record.id}/rollback", headers=admin)
    assert r.status_code == 409 and "is running" in r.json["message"]
    catalog.rollouts.update(record.id, status="done")
    assert "only a halted rollout resumes" in client.post(f"/api/rollouts/{record.id}/resume", headers=admin).json["message"]
    requested = [e.action for e in catalog.audit_entries(store=f"rollout-{record.id}")]
    assert requested.count("rollout-resume-requested") == 2 and "rollout-rollback-requested" in requested


def test_the_rollout_page_resumes_and_rolls_back_for_admins_with_the_forms_token(settings, tmp_path):
    from helpers import web_app

    app = web_app(settings, tmp_path)
    catalog = app.extensions["storekit"].catalog
    record = _halted(catalog)
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "t"
    client.post("/login", data={"token": app.viewer_token, "csrf_token": "t"})
    page = client.get(f"/rollouts/{record.id}").data.decode()
    assert "halted" in page and 'id="rollout-actions"' not in page, "a viewer sees no buttons"
    assert client.post(f"/rollouts/{record.id}/resume", data={"csrf_token": "t"}).status_code == 403

    client.post("/logout", data={"csrf_token": "t"})
    with client.session_transaction() as s:
        s["csrf"] = "t"
    client.post("/login", data={"token": app.admin_token, "csrf_token": "t"})
    page = client.get(f"/rollouts/{record.id}").data.decode()
    assert "Resume</button>" in page and "Roll back the latest wave</button>" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # the login's own
    assert client.post(f"/rollouts/{record.id}/resume", data={}).status_code == 400, "no form token, no change"
    assert not catalog.jobs.queued_like("rollout-resume", f"rollout-{record.id}", {"rollout": record.id})
    r = client.post(f"/rollouts/{record.id}/resume", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/rollouts/{record.id}")
    page = client.get(f"/rollouts/{record.id}").data.decode()
    assert f"Resuming rollout {record.id}" in page and "rollout-resume queued" in page
    assert 'http-equiv="refresh"' in page, "the page follows the queued job"
    job = catalog.jobs.queued_like("rollout-resume", f"rollout-{record.id}", {"rollout": record.id})
    assert job is not None and job.actor != "alice"
    r = client.post(f"/rollouts/{record.id}/rollback", data={"csrf_token": token, "all": "1"})
    assert r.status_code == 302
    assert catalog.jobs.queued_like("rollout-rollback", f"rollout-{record.id}", {"rollout": record.id, "all": True})
