"""The engine-free no-op plan (storekit.fastpath) against the local control plane, with
the real pulumi CLI and Kubernetes plugin deciding whenever it does not.

One store for the module. Covered: a no-op plan answers "no changes" without the engine
once a baseline exists, and the engine agrees; a different spec, --refresh, a live object
changed (even where the engine finds nothing) or drift (the engine finds it) all go to the
engine; a saved engine-free plan is applied as a no-op, and refused as stale once the store
changed; drift checks are engine-free too.
"""

from __future__ import annotations

import uuid

import pytest
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.networking_v1 import NetworkPolicy

from storekit import StalePlan, Storekit, StoreNotFound, StoreSpec

pytestmark = pytest.mark.cluster


def engine_free(plan) -> bool:
    return plan.fingerprint.startswith("baseline:")


@pytest.fixture(scope="module")
def kit(settings, kube) -> Storekit:
    return Storekit(settings)


@pytest.fixture(scope="module")
def spec(kit):
    spec = StoreSpec(name=f"Fast Shop {uuid.uuid4().hex[:6]}", admin_email="owner@example.com")
    kit.apply(spec)
    yield kit.spec_of(spec.name)
    try:
        kit.destroy(spec.name)
    except StoreNotFound:
        pass


@pytest.fixture
def no_engine(kit, monkeypatch):
    """Fail the test if the engine is asked anything."""
    def refuse(*args, **kwargs):
        raise AssertionError("the engine ran")
    for name in ("snapshot", "select", "preview", "up"):
        monkeypatch.setattr(kit.gateway, name, refuse)
    yield
    monkeypatch.undo()


def settle(kit, spec):
    """A refreshed engine plan that finds nothing leaves a baseline (controllers may have
    touched objects after the apply's last read: then the apply's own baseline is stale)."""
    plan = kit.plan(spec, refresh=True)
    assert not engine_free(plan) and not plan.has_changes and not plan.drift
    return plan


def test_no_op_plan_without_the_engine_agrees_with_it(kit, spec, request):
    settle(kit, spec)
    request.getfixturevalue("no_engine")
    plan = kit.plan(spec)
    assert engine_free(plan) and plan.action == "noop" and not plan.has_changes
    assert plan.summary.text == "No changes."
    assert {c.kind for c in plan.changes} >= {"Namespace", "Deployment", "Job", "Service", "Ingress"}
    assert kit.spec_of(spec.name) == spec
    assert not kit.drift(spec.name).has_drift


def test_other_spec_and_forced_refresh_run_the_engine(kit, spec):
    settle(kit, spec)
    changed = kit.plan(spec.with_changes(tier="medium"))
    assert not engine_free(changed) and changed.has_changes
    forced = kit.plan(spec, refresh=True)
    assert not engine_free(forced) and not forced.has_changes


def test_live_change_the_engine_ignores_goes_to_the_engine_then_is_fast_again(kit, spec, kube):
    settle(kit, spec)
    # A field storekit does not manage: the resourceVersion moves, the engine finds nothing.
    kube.patch(Deployment, "wordpress", {"metadata": {"annotations": {"example.com/note": uuid.uuid4().hex}}},
               namespace=spec.namespace)
    plan = kit.plan(spec)
    assert not engine_free(plan) and not plan.has_changes and not plan.drift
    assert engine_free(kit.plan(spec)), "the engine's finding became the new baseline"


def test_drift_goes_to_the_engine_and_is_reported(kit, spec, kube):
    settle(kit, spec)
    kube.delete(NetworkPolicy, "default-deny-ingress", namespace=spec.namespace)
    plan = kit.plan(spec)
    assert not engine_free(plan) and plan.has_changes
    assert [(c.kind, c.kube_name) for c in plan.drift] == [("NetworkPolicy", "default-deny-ingress")]
    assert [(c.kind, c.kube_name) for c in kit.drift(spec.name).changes] == [("NetworkPolicy",
                                                                               "default-deny-ingress")]
    kit.apply(plan)
    assert kube.get(NetworkPolicy, "default-deny-ingress", namespace=spec.namespace)
    settle(kit, spec)
    assert engine_free(kit.plan(spec))


def test_saved_engine_free_plan_is_a_no_op_until_the_store_changes(kit, spec, kube):
    settle(kit, spec)
    plan = kit.plan(spec)
    assert engine_free(plan)
    assert kit.apply(plan).action == "noop"
    kube.patch(Deployment, "wordpress", {"metadata": {"annotations": {"example.com/note": uuid.uuid4().hex}}},
               namespace=spec.namespace)
    with pytest.raises(StalePlan):
        kit.apply(plan)
