"""Apply equals plan: an applied plan performs exactly the changes it showed.

One store on the real engine and the local cluster. A tier change is planned (refreshed);
then a NetworkPolicy is deleted behind storekit's back, so an apply would now also
re-create it, which the plan did not show. Applied from a file on a machine without the
engine's update plan, the fresh preview differs and the apply is refused before anything
changes; applied where the plan was made, the engine itself refuses the step its update
plan (``up --plan``) does not contain. Neither re-creates the NetworkPolicy; a new plan
shows it, and applying that converges.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
from faultlib import assert_converged
from lightkube import ApiError
from lightkube.resources.core_v1 import ResourceQuota
from lightkube.resources.networking_v1 import NetworkPolicy
from pulumi.automation.errors import CommandError

from storekit import Plan, PlanMismatch, Storekit, StoreSpec

pytestmark = pytest.mark.cluster


def _gone(kube, name: str, namespace: str) -> bool:
    try:
        kube.get(NetworkPolicy, name, namespace=namespace)
        return False
    except ApiError as e:
        return e.status.code == 404


def test_an_apply_refuses_what_its_plan_did_not_show(settings, kube, tmp_path):
    kit = Storekit(settings.replace(db_url=f"sqlite:///{tmp_path}/c.db"))
    spec = StoreSpec(name=f"Exact Plan {uuid.uuid4().hex[:5]}", admin_email="e@example.com")
    namespace = f"store-{spec.slug}"
    try:
        kit.apply(spec)  # a creation: previewed again at apply time and bound to that engine plan
        plan = kit.plan(spec.with_changes(tier="medium"), refresh=True)
        kept = kit.planner.engine_plans.find(plan)
        assert kept is not None, "planning an existing store keeps the engine's update plan"
        assert {c.kind for c in plan.changes if c.op != "same"} >= {"ResourceQuota", "Deployment"}
        quota_before = kube.get(ResourceQuota, "store-quota", namespace=namespace).spec.hard

        kube.delete(NetworkPolicy, "default-deny-ingress", namespace=namespace)  # after the plan was shown

        # Another machine (no engine plan here): the fresh preview differs, nothing changes.
        aside = shutil.copy(kept, tmp_path / "engine-plan.json")
        kit.planner.engine_plans.discard(kept)
        with pytest.raises(PlanMismatch) as refused:
            kit.apply(Plan.load(plan.save(tmp_path / "plan.json")))
        assert "NetworkPolicy network-policy: would create, which the plan did not show" in refused.value.message
        assert refused.value.exit_code == 5 and refused.value.http_status == 409
        assert kit.gateway.fingerprint(spec.slug) == plan.fingerprint, "the recorded state is untouched"
        assert kube.get(ResourceQuota, "store-quota", namespace=namespace).spec.hard == quota_before
        assert _gone(kube, "default-deny-ingress", namespace)

        # Where the plan was made: the engine, bound to its update plan, refuses the create.
        shutil.copy(aside, kept)
        with pytest.raises(PlanMismatch) as refused:
            kit.apply(plan)
        assert isinstance(refused.value.__cause__, CommandError), "refused by the engine"
        assert "NetworkPolicy network-policy" in refused.value.message, refused.value.message
        assert _gone(kube, "default-deny-ingress", namespace), "the apply did not do what the plan did not show"
        assert kit.planner.engine_plans.find(plan) is None, "an engine plan serves one update"

        fresh = kit.plan(spec.with_changes(tier="medium"), refresh=True)
        assert ("NetworkPolicy", "create") in {(c.kind, c.op) for c in fresh.changes}
        kit.apply(fresh)
        assert not _gone(kube, "default-deny-ingress", namespace)
        assert_converged(kit, kube, spec.with_changes(tier="medium"))
    finally:
        if spec.slug in {s.name for s in kit.gateway.list()}:
            kit.destroy(spec.name, governed=False)
