"""Approvals bound to a plan's hash (the two-person rule), without the engine: the hash
covers what a plan does and not when it was made, a submitter cannot approve their own
plan (CLI, API), apply needs an approval of that exact hash, and the audit trail names both
actors. The whole flow against the local cluster is in test_governance_cluster.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import web_app
from test_grouping import tier_change

from storekit import approvals
from storekit.errors import ApprovalRequired
from storekit.kit import Storekit
from storekit.recorder import Actor

ALICE, BOB = Actor("alice", "cli"), Actor("bob", "cli")


@pytest.fixture
def kit(settings, tmp_path):
    return Storekit(settings.replace(two_person=True, db_url=f"sqlite:///{tmp_path}/c.db",
                                     kubeconfig=str(tmp_path / "none")))


def test_the_hash_is_what_the_plan_does():
    plan = tier_change("shop")
    assert plan.hash == replace(plan, created_at="2020-01-01").hash  # not when
    assert plan.hash != replace(plan, fingerprint="sha256:" + "1" * 64).hash  # against which state
    assert plan.hash != tier_change("shop", "small", "large").hash  # what
    assert plan.to_dict()["hash"] == plan.hash


def test_a_submitter_cannot_approve_their_own_plan_and_apply_needs_an_approval(kit):
    plan = tier_change("shop")
    record = approvals.submit(kit, plan, ALICE)
    assert record.submitted_by == "alice" and record.plan_hash == plan.hash and not record.approved
    with pytest.raises(ApprovalRequired) as e:
        approvals.approve(kit, record.id, ALICE)
    assert "alice submitted plan" in str(e.value) and e.value.exit_code == 8 and e.value.http_status == 403
    details: dict = {}
    with pytest.raises(ApprovalRequired, match="has no approval"):
        approvals.require(kit, plan, details)
    kit.catalog.approvals.approve(record.id, "bob")  # (the fingerprint check needs the engine)
    approvals.require(kit, plan, details)
    assert details == {"plan": record.id, "submitted_by": "alice", "approved_by": "bob"}
    with pytest.raises(ApprovalRequired):  # a different plan: no approval carries over
        approvals.require(kit, tier_change("shop", "small", "large"), {})
    audit = kit.catalog.audit_entries(store="shop")
    assert [(a.action, a.actor, a.outcome) for a in reversed(audit)] == [
        ("plan-submitted", "alice", "ok"), ("plan-approved", "alice", "failed")]


def test_the_api_refuses_self_approval_with_403(settings, tmp_path):
    from storekit.tokens import create_token

    app = web_app(settings, tmp_path, SETTINGS=settings.replace(two_person=True))
    kit = app.extensions["storekit"]
    plan = tier_change("shop")
    record = approvals.submit(kit, plan, Actor("admin", "api"))
    client = app.test_client()
    r = client.post(f"/api/plans/{record.id}/approve", headers={"Authorization": f"Bearer {app.admin_token}"})
    assert r.status_code == 403 and r.json["error"] == "approval_required", r.json
    other = create_token(kit.catalog, "second-admin", "admin")
    shown = client.get(f"/api/plans/{record.id}", headers={"Authorization": f"Bearer {app.viewer_token}"})
    assert shown.status_code == 200 and shown.json["hash"] == plan.hash
    assert shown.json["approval"]["submitted_by"] == "admin" and shown.json["approval"]["approved_by"] is None
    assert client.post(f"/api/plans/{record.id}/approve",
                       headers={"Authorization": f"Bearer {app.viewer_token}"}).status_code == 403
    assert other.startswith("sk_")
