"""The engine-free no-op plan (storekit.fastpath) against the local control plane, with
the real pulumi CLI and Kubernetes plugin deciding whenever it does not.

One store for the module. Covered: the first no-op plan after an apply answers "no
changes" without the engine (the controllers' writes since the apply are admitted by
their managedFields), and the engine agrees; so do later plans; a field another client
owns that the engine ignores stays engine-free, and the engine agrees; a different spec,
--refresh, another client owning list elements, a value storekit set changed out of band
(the engine finds it) or an object deleted (drift) all go to the engine; a saved
engine-free plan is applied as a no-op, and refused as stale once the store changed;
drift checks are engine-free too.
"""

from __future__ import annotations

import uuid

import pytest
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, ResourceQuota
from lightkube.resources.networking_v1 import NetworkPolicy

from storekit import StalePlan, Storekit, StoreNotFound, StoreSpec, baseline

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


def test_first_plan_after_the_apply_is_engine_free_and_the_engine_agrees(kit, spec):
    # Runs first: nothing but the apply and the controllers have touched the store. Objects
    # were written after the engine's last read of them (claims bound, quota usage)...
    recorded = baseline.load(kit.settings, spec.slug)
    found = baseline.live(kit.settings, spec.slug, baseline.kinds_of(recorded.objects))
    assert any(found[k][0] != v for k, v in recorded.objects.items()), "no object moved since the apply"
    with pytest.MonkeyPatch.context() as m:
        for name in ("snapshot", "select", "preview", "up"):
            m.setattr(kit.gateway, name, lambda *a, **k: (_ for _ in ()).throw(AssertionError("the engine ran")))
        plan = kit.plan(spec)
    # ...and the apply's own record still proves "no changes": the engine agrees.
    assert engine_free(plan) and plan.action == "noop" and not plan.has_changes
    engine = kit.plan(spec, refresh=True)
    assert not engine_free(engine) and not engine.has_changes and not engine.drift


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


def test_field_another_client_owns_stays_engine_free_and_the_engine_agrees(kit, spec, kube):
    settle(kit, spec)
    # A field storekit does not set: the resourceVersion moves, the plugin's own fields do not.
    kube.patch(Deployment, "wordpress", {"metadata": {"annotations": {"example.com/note": uuid.uuid4().hex}}},
               namespace=spec.namespace)
    assert engine_free(kit.plan(spec))
    engine = kit.plan(spec, refresh=True)
    assert not engine.has_changes and not engine.drift


def test_list_elements_another_client_owns_go_to_the_engine_then_fast_again(kit, spec, kube):
    settle(kit, spec)
    # A list element (a finalizer): it could shift the positions the plugin compares.
    kube.patch(ConfigMap, "woocommerce-setup", {"metadata": {"finalizers": ["example.com/hold"]}},
               namespace=spec.namespace)
    try:
        plan = kit.plan(spec)
        assert not engine_free(plan) and not plan.has_changes and not plan.drift
        assert engine_free(kit.plan(spec)), "the engine's finding became the new baseline"
    finally:
        kube.patch(ConfigMap, "woocommerce-setup", {"metadata": {"finalizers": None}}, namespace=spec.namespace)


def test_value_storekit_set_changed_out_of_band_goes_to_the_engine(kit, spec, kube):
    settle(kit, spec)
    kube.patch(ResourceQuota, "store-quota", {"spec": {"hard": {"limits.cpu": "64"}}}, namespace=spec.namespace)
    plan = kit.plan(spec)
    assert not engine_free(plan) and plan.has_changes
    assert [(c.kind, c.kube_name) for c in plan.drift] == [("ResourceQuota", "store-quota")]
    kit.apply(plan)
    assert engine_free(kit.plan(spec)), "the revert's own record proves the next plan"


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
    kube.patch(ResourceQuota, "store-quota", {"spec": {"hard": {"pods": "99"}}}, namespace=spec.namespace)
    with pytest.raises(StalePlan):
        kit.apply(plan)
    kit.apply(kit.plan(spec))  # put it back
