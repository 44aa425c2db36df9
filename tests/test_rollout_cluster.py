"""Staged rollouts against the local cluster with the real engine: a 6-store fleet's tier
change rolls out in waves 1,2,50%,100% (1, 1, 1, 3 stores) behind a health gate; a store of
wave 2 held by another operation fails its wave, which halts the rollout with the later
waves untouched; resume, pressed in the dashboard and run by a worker's job, finishes it.
Every wave is audited."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from storekit.jobs import run_job
from storekit.kit import Storekit
from storekit.recorder import Actor
from storekit.rollout import RolloutOptions, Rollouts
from storekit.spec import StoreSpec
from storekit.tokens import ensure_admin_token
from storekit.webapp import create_app

pytestmark = pytest.mark.cluster


def test_a_fleet_rolls_out_in_waves_halts_and_resumes(settings, kube, tmp_path):
    kit = Storekit(settings.replace(parallel=3, db_url=f"sqlite:///{tmp_path}/catalog.db"))
    app = create_app({"TESTING": True, "SETTINGS": kit.settings, "KIT": kit, "SECRET_KEY": "test"})
    tag = uuid.uuid4().hex[:4]
    specs = [StoreSpec(name=f"Roll {tag} {i:02}", admin_email=f"r{i}@example.com") for i in range(6)]
    lines: list[str] = []
    try:
        started = time.monotonic()
        created = kit.apply_many(specs, parallel=3)
        assert created.ok, [i.error for i in created.failed]
        print(f"\n6 stores created in {time.monotonic() - started:.0f}s")

        fleet = kit.plan_fleet([s.with_changes(tier="medium") for s in specs], refresh=False)
        assert fleet.groups_text == "6 stores: tier small \u2192 medium"
        rollouts = Rollouts(kit, progress=lines.append)
        options = RolloutOptions(waves="1,2,50%,100%", max_unavailable=3, bake=60, gate="ready")
        held = specs[1].slug  # the store of wave 2
        started = time.monotonic()
        with kit._store_lock(held):  # another operation holds it: its apply fails at once
            record = rollouts.start(fleet, options)
        assert record.status == "halted", record
        assert [(len(w["stores"]), w["status"]) for w in record.waves] == [
            (1, "passed"), (1, "failed"), (1, "pending"), (3, "pending")]
        assert record.waves[1]["failed"][0]["store"] == held and "being changed" in record.waves[1]["failed"][0]["reason"]
        tiers = {s.slug: kit.spec_of(s.slug).tier for s in specs}
        assert tiers[specs[0].slug] == "medium" and tiers[held] == "small"
        assert all(tiers[s] == "small" for w in record.waves[2:] for s in w["stores"]), tiers  # untouched
        assert any("HALTED" in line for line in lines)

        # Resumed from the dashboard, as an admin with the form's token: a job for the workers.
        client = app.test_client()
        with client.session_transaction() as session:
            session["csrf"] = "t"
        client.post("/login", data={"token": ensure_admin_token(kit.catalog), "csrf_token": "t"})
        page = client.get(f"/rollouts/{record.id}").data.decode()
        assert "Resume</button>" in page and "Roll back the latest wave</button>" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert client.post(f"/rollouts/{record.id}/resume", data={"csrf_token": token}).status_code == 302
        job = kit.catalog.jobs.claim("test-worker")
        assert (job.kind, job.store) == ("rollout-resume", f"rollout-{record.id}")
        run_job(kit, job, Actor(job.actor, job.source))
        record = kit.catalog.rollouts.get(record.id)
        assert record.status == "done", record
        assert kit.catalog.jobs.get(job.id).status == "succeeded"
        assert [w["status"] for w in record.waves] == ["passed"] * 4
        assert {kit.spec_of(s.slug).tier for s in specs} == {"medium"}
        print(f"rollout of 6 stores in 4 waves (halt and resume) in {time.monotonic() - started:.0f}s")

        actions = [a.action for a in reversed(kit.catalog.audit_entries(store=f"rollout-{record.id}"))]
        assert actions == ["rollout-started", "rollout-wave", "rollout-wave", "rollout-halted",
                           "rollout-resume-requested", "rollout-resumed",
                           "rollout-wave", "rollout-wave", "rollout-wave", "rollout-finished"], actions
        failed_wave = kit.catalog.audit_entries(store=f"rollout-{record.id}", action="rollout-wave")[-2]
        assert failed_wave.outcome == "failed" and failed_wave.details["failed"] == [held]
    finally:
        kit.apply_many([kit.plan_destroy(s.slug) for s in specs if s.slug in {x.slug for x in kit.list()}],
                       parallel=3)
