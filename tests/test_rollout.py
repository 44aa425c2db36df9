"""Staged rollouts, the pure logic: waves from "1,10%,50%,100%", the stores of each wave, the
spec a store goes back to on rollback, the options' rules and a fleet file's rollout:
section. Rollouts against the local cluster (12 stores in waves, a failed wave halting
with the rest untouched, resume) are in test_rollout_cluster.py."""

from __future__ import annotations

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
