"""Apply equals plan, the pure parts (``storekit.engineplan``, ``classify``): how a fresh
preview is compared with the plan shown, how the engine's refusals ("violates plan") become
``PlanMismatch``, and how engine plans are kept per store and pruned. Real engine output
recorded in tests/fixtures; no tools, no cluster. The end-to-end proof is
tests/faults/test_apply_equals_plan.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pulumi.automation import CommandResult
from pulumi.automation.errors import create_command_error

from storekit.classify import translate
from storekit.engineplan import KEEP, EnginePlans, differences
from storekit.errors import PlanMismatch, StalePlan
from storekit.plan import Plan, changes_from_digest, fingerprint

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "engine"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def changes(preview: str):
    return changes_from_digest(load(preview), load("state-created.json"))


def test_the_same_preview_again_agrees_with_the_plan():
    assert differences(changes("preview-tier.json"), changes("preview-tier.json")) == []


def test_a_preview_that_would_also_recreate_an_object_is_named():
    tier, drift = changes("preview-tier.json"), changes("preview-drift.json")
    found = differences(tier, tier + tuple(c for c in drift if c.op == "create"))
    assert found == ["Service wordpress-service: would create, which the plan did not show"]


def test_a_change_no_longer_needed_and_other_values_are_differences():
    tier = changes("preview-tier.json")
    assert any("no longer what the store needs" in f for f in differences(tier, changes("preview-drift.json")))
    quota = next(c for c in tier if c.name == "resource-quota")
    bumped = [p.__class__(**{**p.to_dict(), "after": "99"}) for p in quota.properties]
    other = tuple(c.__class__(**{**c.__dict__, "properties": tuple(bumped)}) if c is quota else c for c in tier)
    assert [f.split(":")[0] for f in differences(tier, other)] == ["ResourceQuota resource-quota"]


ENGINE_REFUSAL = """\
Updating (exact-plan-1a2b3):
 ~  kubernetes:core/v1:ResourceQuota resource-quota **refreshing failed (0.04s)** error: resource \
urn:pulumi:exact-plan-1a2b3::storekit::kubernetes:core/v1:ResourceQuota::resource-quota violates plan: \
properties changed: ~~spec[{map[hard:{map[limits.cpu:{4}]}]}!={map[hard:{map[limits.cpu:{8}]}]}]
Diagnostics:
  kubernetes:networking.k8s.io/v1:NetworkPolicy (network-policy):
    error: create is not allowed by the plan: no steps were expected for this resource
  kubernetes:core/v1:Secret (credentials):
    error: resource urn:pulumi:exact-plan-1a2b3::storekit::kubernetes:core/v1:Secret::credentials violates \
plan: properties changed: ++data[{[secret]}!={[secret]}]
"""


def test_the_engines_refusals_become_a_plan_mismatch_naming_each_resource():
    error = create_command_error(CommandResult(ENGINE_REFUSAL, "", 255))
    translated = translate(error, "exact-plan-1a2b3")
    assert isinstance(translated, PlanMismatch) and isinstance(translated, StalePlan)
    assert (translated.exit_code, translated.http_status, translated.kind) == (5, 409, "plan_mismatch")
    assert [d.split(":")[0] for d in translated.differences] == [
        "ResourceQuota resource-quota", "Secret credentials", "NetworkPolicy network-policy"]
    assert "create is not allowed by the plan" in translated.message
    assert "ResourceQuota resource-quota: properties changed: spec;" in translated.message
    assert "Secret credentials: properties changed: data;" in translated.message
    assert translated.to_dict()["differences"] == list(translated.differences)


def test_engine_plans_are_bound_to_a_plans_hash_and_pruned(tmp_path):
    plans = EnginePlans(lambda slug: tmp_path / slug)
    plan = Plan(store="shop", action="update", spec=None, changes=changes("preview-tier.json"),
                fingerprint=fingerprint(load("state-created.json")), state_url="file:///x")
    saved = plans.scratch("shop")
    saved.write_text("{}")
    plans.keep(plan, saved)
    found = plans.find(plan)
    assert found is not None and found.name == plan.hash.split(":")[1] + ".json" and not saved.exists()
    assert plans.find(Plan.from_dict({**plan.to_dict(), "store": "shop", "fingerprint": "sha256:other"})) is None

    noop = Plan(store="shop", action="noop", spec=None, changes=(), fingerprint="x", state_url="file:///x")
    empty = plans.scratch("shop")
    empty.write_text("{}")
    plans.keep(noop, empty)
    assert not empty.exists(), "nothing to apply: nothing kept"

    for i in range(KEEP + 3):
        old = tmp_path / "shop" / "plans" / f"old-{i}.json"
        old.write_text("{}")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))  # older than a day
    plans.scratch("shop")
    assert list((tmp_path / "shop" / "plans").glob("old-*")) == [], "plans nobody applied are pruned"
    assert plans.find(plan) is not None, "a recent one is kept"


def test_of_several_applies_of_one_plan_one_claims_its_engine_plan(tmp_path):
    """Regression (tests/faults/test_contention.py): six `storekit apply` processes made the same
    plan, so one engine plan file; the first update deleted it after use and another failed
    with "could not validate ...: no such file" instead of meeting the stack's lock."""
    import threading

    plans = EnginePlans(lambda slug: tmp_path / slug)
    plan = Plan(store="shop", action="update", spec=None, changes=changes("preview-tier.json"),
                fingerprint="sha256:x", state_url="file:///x")
    saved = plans.scratch("shop")
    saved.write_text("{}")
    plans.keep(plan, saved)
    got, start = [], threading.Barrier(8)

    def claim():
        start.wait()
        got.append(plans.claim(plans.find(plan)))
    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mine = [p for p in got if p is not None]
    assert len(mine) == 1 and mine[0].read_text() == "{}" and plans.find(plan) is None
    assert plans.claim(None) is None
