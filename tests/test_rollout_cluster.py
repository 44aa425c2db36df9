"""Staged rollouts against the local cluster with the real engine: a 12-store fleet's tier
change rolls out in waves 1,10%,50%,100% (1, 1, 4, 6 stores) behind a health gate; a store of
wave 2 held by another operation fails its wave, which halts the rollout with the later
waves untouched; resume finishes it. Every wave is audited."""

from __future__ import annotations

import time
import uuid

import pytest

from storekit.kit import Storekit
from storekit.rollout import RolloutOptions, Rollouts
from storekit.spec import StoreSpec

pytestmark = pytest.mark.cluster


def test_a_12_store_fleet_rolls_out_in_waves_halts_and_resumes(settings, kube):
    kit = Storekit(settings.replace(parallel=3))
    tag = uuid.uuid4().hex[:4]
    specs = [StoreSpec(name=f"Roll {tag} {i:02}", admin_email=f"r{i}@example.com") for i in range(12)]
    lines: list[str] = []
    try:
        started = time.monotonic()
        created = kit.apply_many(specs, parallel=3)
        assert created.ok, [i.error for i in created.failed]
        print(f"\n12 stores created in {time.monotonic() - started:.0f}s")

        fleet = kit.plan_fleet([s.with_changes(tier="medium") for s in specs], refresh=False)
        assert fleet.groups_text == "12 stores: tier small \u2192 medium"
        rollouts = Rollouts(kit, progress=lines.append)
        options = RolloutOptions(waves="1,10%,50%,100%", max_unavailable=3, bake=60, gate="ready")
        held = specs[1].slug  # the store of wave 2
        started = time.monotonic()
        with kit._store_lock(held):  # another operation holds it: its apply fails at once
            record = rollouts.start(fleet, options)
        assert record.status == "halted", record
        assert [(len(w["stores"]), w["status"]) for w in record.waves] == [
            (1, "passed"), (1, "failed"), (4, "pending"), (6, "pending")]
        assert record.waves[1]["failed"][0]["store"] == held and "being changed" in record.waves[1]["failed"][0]["reason"]
        tiers = {s.slug: kit.spec_of(s.slug).tier for s in specs}
        assert tiers[specs[0].slug] == "medium" and tiers[held] == "small"
        assert all(tiers[s] == "small" for w in record.waves[2:] for s in w["stores"]), tiers  # untouched
        assert any("HALTED" in line for line in lines)

        record = rollouts.resume(record.id)
        assert record.status == "done", record
        assert [w["status"] for w in record.waves] == ["passed"] * 4
        assert {kit.spec_of(s.slug).tier for s in specs} == {"medium"}
        print(f"rollout of 12 stores in 4 waves (halt and resume) in {time.monotonic() - started:.0f}s")

        actions = [a.action for a in reversed(kit.catalog.audit_entries(store=f"rollout-{record.id}"))]
        assert actions == ["rollout-started", "rollout-wave", "rollout-wave", "rollout-halted", "rollout-resumed",
                           "rollout-wave", "rollout-wave", "rollout-wave", "rollout-finished"], actions
        failed_wave = kit.catalog.audit_entries(store=f"rollout-{record.id}", action="rollout-wave")[-2]
        assert failed_wave.outcome == "failed" and failed_wave.details["failed"] == [held]
    finally:
        kit.apply_many([kit.plan_destroy(s.slug) for s in specs if s.slug in {x.slug for x in kit.list()}],
                       parallel=3)
