"""Governance against the local cluster with the real engine: a mandatory policy blocks a
plan in the CLI (exit 8), the API (403) and a fleet, also a plan file edited to dodge it;
the two-person rule (the submitter cannot approve, apply waits for a second admin, an
approved plan gone stale is refused, both actors audited); and the capacity preview read
from the simulated nodes, warning when a fleet of large stores would not fit."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from storekit.capacity import Amounts
from storekit.errors import ApprovalRequired, PolicyViolation, StalePlan
from storekit.kit import Storekit
from storekit.plan import Plan
from storekit.recorder import Actor
from storekit.spec import StoreSpec

pytestmark = pytest.mark.cluster

POLICY = """rules:
  - {name: keep-isolation, type: required_objects, kinds: [NetworkPolicy, ResourceQuota, LimitRange],
     enforcement: mandatory}
  - {name: tier-cap, type: max_tier, tier: small, owners: ["*@capped.example"], enforcement: mandatory}
"""


@pytest.fixture(scope="module")
def store(settings, kube, tmp_path_factory):
    """One small store of a capped owner, made with no policy; destroyed at the end."""
    kit = Storekit(settings)
    spec = StoreSpec(name=f"Gov {uuid.uuid4().hex[:6]}", admin_email="owner@capped.example")
    kit.apply(spec)
    yield spec
    kit.destroy(spec.name)


def test_a_mandatory_policy_blocks_in_the_cli_the_api_and_a_fleet(settings, store, tmp_path, monkeypatch):
    from storekit.cli.main import cli

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    governed = settings.replace(policy_file=str(policy))
    kit = Storekit(governed)
    plan = kit.plan(store.with_changes(tier="medium"))
    results = {r.rule: r for r in plan.policy}
    assert results["keep-isolation"].passed and results["tier-cap"].blocks, plan.policy
    assert plan.capacity.known and plan.capacity.delta == Amounts(1, 1024 ** 3, 20 * 1024 ** 3)

    # CLI: the plan shows the rule, apply exits 8 naming it; a plan file edited to say "passed" too.
    for var, value in (("STOREKIT_STATE_URL", settings.state_url), ("STOREKIT_DB_URL", settings.db_url),
                       ("STOREKIT_PASSPHRASE", settings.passphrase), ("STOREKIT_POLICY_FILE", str(policy))):
        monkeypatch.setenv(var, value)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    shown = runner.invoke(cli, ["plan", store.name, "--tier", "medium", "--out", "p.json"])
    assert shown.exit_code == 0 and "Policy 'tier-cap' (mandatory) BLOCKS" in shown.output, shown.output
    assert "Capacity: +1 CPU, +1Gi memory, +20Gi storage requested; fits" in shown.output
    refused = runner.invoke(cli, ["apply", store.name, "--tier", "medium", "--auto-approve"])
    assert refused.exit_code == 8 and "policy 'tier-cap' (max_tier)" in refused.output, refused.output
    doc = json.loads((tmp_path / "p.json").read_text())
    doc["policy"] = [dict(r, passed=True) for r in doc["policy"]]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    edited = runner.invoke(cli, ["apply", "p.json"])
    assert edited.exit_code == 8 and "tier-cap" in edited.output, edited.output

    # API: the preview carries the results; applying it and a direct tier change are 403.
    from storekit.tokens import ensure_admin_token
    from storekit.webapp import create_app

    local = governed.replace(db_url=f"sqlite:///{tmp_path}/web.db")
    web_kit = Storekit(local, actor=Actor(name="dashboard", source="web"))
    app = create_app({"TESTING": True, "SETTINGS": local, "KIT": web_kit, "SECRET_KEY": "t"})
    h = {"Authorization": f"Bearer {ensure_admin_token(web_kit.catalog)}"}
    client = app.test_client()
    web_kit.catalog.upsert_store(web_kit.spec_of(store.name), status="ready")
    preview = client.post(f"/api/stores/{store.slug}/plan", json={"tier": "medium"}, headers=h)
    assert preview.status_code == 200 and any(r["rule"] == "tier-cap" and not r["passed"]
                                              for r in preview.json["policy"])
    r = client.patch(f"/api/stores/{store.slug}", json={"plan_id": preview.json["plan_id"]}, headers=h)
    assert r.status_code == 403 and r.json["error"] == "policy_violation" and r.json["policy"][0]["rule"] == "tier-cap"
    r = client.patch(f"/api/stores/{store.slug}", json={"tier": "medium"}, headers=h)
    assert r.status_code == 403 and "tier-cap" in r.json["message"]

    # A fleet: the blocked store is reported, not applied.
    fleet = kit.plan_fleet([store.with_changes(tier="medium")])
    assert fleet.blocked and fleet.to_dict()["policy"]["blocked"] == [store.slug]
    result = kit.apply_many(fleet.plans)
    assert [i.error_kind for i in result.items] == [PolicyViolation.kind]
    assert Storekit(settings).spec_of(store.name).tier == "small"


def test_two_person_rule(settings, store):
    two = settings.replace(two_person=True)
    alice = Storekit(two, actor=Actor("alice", "cli"))
    bob = alice.as_actor(Actor("bob", "cli"))
    from storekit import approvals

    plan = alice.plan(store.with_changes(tier="medium"))
    with pytest.raises(ApprovalRequired):
        alice.apply(plan)
    submitted = approvals.submit(alice, plan, alice.actor)
    with pytest.raises(ApprovalRequired, match="cannot approve it too"):
        approvals.approve(alice, submitted.id, alice.actor)
    approved = approvals.approve(bob, submitted.id, bob.actor)
    assert (approved.submitted_by, approved.approved_by) == ("alice", "bob")
    result = alice.apply(Plan.from_dict(alice.catalog.plans.get(submitted.id)[1]))
    assert result.action == "update" and alice.spec_of(store.name).tier == "medium"
    entry = next(a for a in alice.catalog.audit_entries(store=store.slug, action="apply"))
    assert entry.details["submitted_by"] == "alice" and entry.details["approved_by"] == "bob"

    # An approved plan that went stale is refused.
    later = alice.plan(store.with_changes(tier="large"))
    second = approvals.submit(alice, later, alice.actor)
    approvals.approve(bob, second.id, bob.actor)
    Storekit(settings).apply(store.with_changes(tier="large"))  # the store changes meanwhile (no rule here)
    with pytest.raises(StalePlan):
        alice.apply(later)


def test_capacity_preview_warns_when_a_fleet_of_large_stores_does_not_fit(settings, kube):
    """One real plan of a new large store (the engine), copied for as many more names as
    the cluster's free CPU holds plus one: the fleet's capacity read from the simulated
    nodes does not fit, one store alone does. The count follows the cluster, so a machine
    whose cluster was scaled out (STOREKIT_CLUSTER_NODES) or holds other stores still
    tests the edge."""
    from dataclasses import replace

    kit = Storekit(settings)
    first = kit.plan(StoreSpec(name=f"Cap {uuid.uuid4().hex[:5]}", admin_email="c@example.com", tier="large"),
                     refresh=False)
    alone = kit.governance.review([first])[0][0].capacity
    assert alone.known and alone.fits, alone.text
    per_store = alone.delta.cpu
    count = int((alone.allocatable.cpu - alone.requested.cpu) // per_store) + 1
    planned = [first] + [replace(first, store=f"{first.store}-{i}", spec=first.spec.with_changes(name=f"{first.name} {i}"))
                         for i in range(1, count)]
    fleet = kit.governance.review(planned)
    (one, *_), whole = fleet
    assert whole.known and one.capacity.fits, one.capacity.text
    assert per_store == 4 and whole.delta.cpu == count * per_store, whole.text
    assert not whole.fits and "cpu" in whole.short(), whole.text
    assert "WOULD NOT FIT: cpu" in whole.text
    print(f"\n{whole.text}")
