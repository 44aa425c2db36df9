"""Policies and the capacity preview, the pure logic: the policy file's rules and their
errors, each rule against plan data, the capacity arithmetic and its text, governance
with no cluster (capacity unknown), and apply refusing a plan file whose recorded results
were edited to dodge a rule (exit code 8). The same against the local cluster is in
test_governance_cluster.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from test_grouping import FP, new, tier_change

from storekit.capacity import GI, Amounts, CapacityPreview, plan_delta, tier_amounts
from storekit.errors import PolicyViolation, SpecError
from storekit.plan import Plan, ResourceChange
from storekit.policy import PolicyContext, in_window, parse_policy

POLICY = """
rules:
  - name: keep-isolation
    type: required_objects
    kinds: [NetworkPolicy, ResourceQuota, LimitRange]
    enforcement: mandatory
  - name: tier-cap
    type: max_tier
    tier: medium
    owners: ["*@example.com"]
    enforcement: mandatory
  - name: images
    type: image_allowlist
    allow: ["wordpress:*", "mysql:*"]
  - name: per-owner
    type: max_stores_per_owner
    max: 2
    enforcement: mandatory
  - name: office-hours
    type: change_window
    hours: "08:00-18:00"
    enforcement: mandatory
  - name: fits
    type: capacity_fits
"""


def results(plan, **ctx):
    return {r.rule: r for r in parse_policy(POLICY).evaluate(plan, PolicyContext(**ctx))}


def isolated(plan: Plan, drop: str | None = None) -> Plan:
    kinds = {"NetworkPolicy": "networking.k8s.io/v1", "ResourceQuota": "core/v1", "LimitRange": "core/v1"}
    extra = tuple(ResourceChange(name=k.lower(), type=f"kubernetes:{v}:{k}", op="delete" if k == drop else "same")
                  for k, v in kinds.items())
    return replace(plan, changes=plan.changes + extra)


def test_the_policy_file_names_every_bad_field():
    with pytest.raises(SpecError) as e:
        parse_policy("rules:\n  - {name: a, type: max_tier}\n  - {name: a, type: max_tier, tier: x, size: 3}\n"
                     "  - {name: b, type: nope}\n  - {name: c, type: change_window, hours: late, "
                     "enforcement: sometimes}\n")
    fields = {f for f, _ in e.value.problems}
    assert fields == {"rules[0].tier", "rules[1].name", "rules[1].size", "rules[2].type", "rules[3].hours",
                      "rules[3].enforcement"}
    assert parse_policy("").rules == () and len(parse_policy(POLICY).rules) == 6


def test_each_rule_against_plan_data():
    monday_noon = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    ok = isolated(tier_change("a"))
    assert all(r.passed for r in results(ok, now=monday_noon).values())

    lost = results(isolated(tier_change("a"), drop="NetworkPolicy"), now=monday_noon)["keep-isolation"]
    assert not lost.passed and lost.blocks and "NetworkPolicy" in lost.message

    large = results(isolated(tier_change("a", "medium", "large")), now=monday_noon)["tier-cap"]
    assert large.blocks and "above the cap medium" in large.message
    other = isolated(tier_change("a", "medium", "large"))
    other = replace(other, spec=replace(other.spec, admin_email="o@other.org"))
    assert results(other, now=monday_noon)["tier-cap"].passed  # the cap is for *@example.com

    image = isolated(replace(tier_change("a"), spec=replace(tier_change("a").spec, images={"wordpress": "evil:1"})))
    bad = results(image, now=monday_noon)["images"]
    assert not bad.passed and not bad.blocks and "evil:1" in bad.message  # advisory: warns only

    crowded = results(isolated(new("n")), now=monday_noon, stores_per_owner={"o@example.com": 3})["per-owner"]
    assert crowded.blocks and "would have 3 stores (at most 2)" in crowded.message

    saturday = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)
    gone = Plan(store="x", action="destroy", spec=None, fingerprint=FP, state_url="file:///s",
                changes=(ResourceChange(name="namespace", type="kubernetes:core/v1:Namespace", op="delete"),))
    window = results(gone, now=saturday)["office-hours"]
    assert window.blocks and "only 08:00-18:00 UTC on mon, tue, wed, thu, fri" in window.message
    assert results(isolated(tier_change("a")), now=saturday)["office-hours"].passed  # only destroys
    assert in_window(datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc), "22:00-02:00", ["tue"])


def test_capacity_arithmetic_and_the_rule():
    small, large = tier_amounts("woocommerce", "small"), tier_amounts("woocommerce", "large")
    assert (small.cpu, small.memory, large.storage) == (1, GI, 100 * GI)
    assert plan_delta(tier_change("a", "small", "large")) == large - small
    assert plan_delta(new("n", "large")) == large
    # Medusa's tiers reserve their quota's requests too, so its stores count in every preview.
    medusa = [tier_amounts("medusa", t) for t in ("small", "medium", "large")]
    assert [(a.cpu, a.memory / GI, a.storage / GI) for a in medusa] == [(1, 1, 10), (2, 2, 30), (4, 4, 100)]
    thirty = CapacityPreview(delta=Amounts(120, 120 * GI, 0), allocatable=Amounts(64, 512 * GI, 0),
                             requested=Amounts(2, 2 * GI, 0))
    assert not thirty.fits and thirty.short() == ["cpu"]
    assert "WOULD NOT FIT: cpu 122 of 64 allocatable (short by 58)" in thirty.text
    assert CapacityPreview.from_dict(json.loads(json.dumps(thirty.to_dict()))) == thirty
    r = results(isolated(new("n", "large")), now=datetime(2026, 11, 30, 12, tzinfo=timezone.utc),
                capacity=thirty)["fits"]
    assert not r.passed and not r.blocks and "WOULD NOT FIT" in r.message
    unknown = CapacityPreview(delta=large)
    assert unknown.fits and "unknown" in unknown.text


def test_apply_refuses_a_plan_file_edited_to_dodge_a_policy(settings, tmp_path):
    from click.testing import CliRunner

    from storekit.cli.main import cli

    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - {name: tier-cap, type: max_tier, tier: small, enforcement: mandatory}\n")
    plan = isolated(tier_change("edited-shop", "small", "large"))
    doc = plan.to_dict()
    doc["policy"] = [{"rule": "tier-cap", "type": "max_tier", "enforcement": "mandatory", "passed": True,
                      "message": "looks fine to me"}]  # the hand edit
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    env = {"STOREKIT_POLICY_FILE": str(policy), "STOREKIT_HOME": str(tmp_path),
           "STOREKIT_DB_URL": f"sqlite:///{tmp_path}/c.db", "STOREKIT_KUBECONFIG": str(tmp_path / "none")}
    result = CliRunner().invoke(cli, ["--state-url", f"file://{tmp_path}/state", "apply", str(path)], env=env)
    assert result.exit_code == 8, result.output
    assert "policy 'tier-cap' (max_tier): tier large is above the cap small" in result.output


def test_governance_without_a_cluster_reviews_and_enforces(settings, tmp_path):
    from storekit.kit import Storekit

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    kit = Storekit(settings.replace(policy_file=str(policy), kubeconfig=str(tmp_path / "none"),
                                    db_url=f"sqlite:///{tmp_path}/c.db"))
    (plan,), whole = kit.governance.review([isolated(tier_change("a", "medium", "large"))])
    assert plan.blocked and not whole.known and "unknown" in plan.capacity.text
    assert plan.to_dict()["policy"][1]["passed"] is False
    with pytest.raises(PolicyViolation) as e:
        kit.governance.check(plan)
    assert e.value.exit_code == 8 and e.value.http_status == 403 and e.value.to_dict()["policy"][0]["rule"] == "tier-cap"
    with pytest.raises(PolicyViolation):
        kit.governance.precheck(plan.spec, "update", before_tier="medium")
    kit.governance.precheck(replace(plan.spec, tier="small"), "update", before_tier="medium")


def test_which_nodes_count_for_capacity():
    from lightkube.models.core_v1 import NodeSpec, NodeStatus, Taint
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Node

    from storekit.capacity import _schedulable

    def node(labels=None, taint=False, cordoned=False):
        return Node(metadata=ObjectMeta(name="n", labels=labels or {}),
                    spec=NodeSpec(unschedulable=cordoned,
                                  taints=[Taint(key="storekit.io/node-pool", value="real", effect="NoSchedule")]
                                  if taint else None),
                    status=NodeStatus(allocatable={"cpu": "2"}))
    sim, real = node(), node({"storekit.io/node-pool": "real"}, taint=True)
    assert _schedulable(sim) and not _schedulable(real) and not _schedulable(node(cordoned=True))
    assert _schedulable(real, "real") and not _schedulable(sim, "real")
