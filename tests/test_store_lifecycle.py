"""A WooCommerce store's whole life through the library, against the local control plane
with the real pulumi CLI and Kubernetes plugin.

One store is created for the module and taken through: the objects and their labels and
tier sizes, a no-change plan, a tier change (only what follows from it; secrets kept), a
stale saved plan, concurrent applies (one gets StoreBusy), drift (an object deleted
behind storekit's back is reported and restored), and destroy (namespace and stack gone).
"""

from __future__ import annotations

import base64
import threading

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import (ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota,
                                         Secret, Service)
from lightkube.resources.networking_v1 import Ingress, NetworkPolicy

from storekit import (ApplyResult, Plan, ResourceFinished, ResourceStarted, SpecError, StalePlan, StoreBusy, Storekit,
                      StoreNotFound, StoreSpec)

pytestmark = pytest.mark.cluster

MANAGED = {"app.kubernetes.io/managed-by": "storekit"}


@pytest.fixture(scope="module")
def kit(settings, kube) -> Storekit:
    return Storekit(settings)


@pytest.fixture(scope="module")
def store(kit, kube):
    """A created store: (spec, the ApplyResult, the events it emitted)."""
    import uuid

    spec = StoreSpec(name=f"Lifecycle Shop {uuid.uuid4().hex[:6]}", admin_email="owner@example.com")
    events = []
    result = kit.apply(spec, on_event=events.append)
    yield spec, result, events
    try:
        kit.destroy(spec.name)
    except StoreNotFound:
        pass


def secret_data(kube, ns) -> dict:
    return kube.get(Secret, "store-credentials", namespace=ns).data


def test_create_makes_every_object(store, kube):
    spec, result, events = store
    ns = spec.namespace
    assert result.action == "create"
    assert result.summary["add"] == 15
    assert result.outputs.url == f"http://{spec.slug}.stores.localhost"
    assert result.outputs.admin_url.endswith("/wp-admin/")
    assert "password" not in str(result.to_dict()).lower()

    namespace = kube.get(Namespace, ns)
    assert namespace.metadata.labels["storekit.io/store"] == spec.slug
    assert namespace.metadata.labels["app.kubernetes.io/managed-by"] == "storekit"
    for res, name in [(Deployment, "mysql"), (Deployment, "wordpress"), (Service, "mysql"),
                      (Service, "wordpress"), (PersistentVolumeClaim, "mysql-data"),
                      (PersistentVolumeClaim, "wordpress-data"), (Job, "woocommerce-setup"),
                      (Ingress, "wordpress"), (NetworkPolicy, "default-deny-ingress"),
                      (ResourceQuota, "store-quota"), (LimitRange, "store-limits"),
                      (Secret, "store-credentials"), (Secret, "wordpress-salts"),
                      (ConfigMap, "woocommerce-setup")]:
        obj = kube.get(res, name, namespace=ns)
        assert obj.metadata.labels.items() >= MANAGED.items(), name
        assert obj.metadata.labels["storekit.io/store"] == spec.slug, name

    # Ready for real: awaited by the provider, visible in the API server.
    assert kube.get(Deployment, "wordpress", namespace=ns).status.availableReplicas == 1
    assert kube.get(Deployment, "mysql", namespace=ns).status.availableReplicas == 1
    assert kube.get(Job, "woocommerce-setup", namespace=ns).status.succeeded == 1
    assert kube.get(PersistentVolumeClaim, "mysql-data", namespace=ns).status.phase == "Bound"
    assert kube.get(Ingress, "wordpress", namespace=ns).spec.rules[0].host == f"{spec.slug}.stores.localhost"

    # Small tier sizes.
    hard = kube.get(ResourceQuota, "store-quota", namespace=ns).spec.hard
    assert hard["limits.cpu"] == "2" and hard["requests.memory"] == "1Gi" and hard["pods"] == "10"
    policy = kube.get(NetworkPolicy, "default-deny-ingress", namespace=ns).spec
    assert policy.policyTypes == ["Ingress"]

    # Events: each resource started and finished, with the timeline steps.
    started = {e.resource for e in events if isinstance(e, ResourceStarted)}
    finished = {e.resource: e for e in events if isinstance(e, ResourceFinished)}
    assert started == set(finished) and "wordpress" in finished
    assert {e.step for e in finished.values()} >= {"Namespace", "Isolation", "Secrets", "MySQL",
                                                    "WordPress", "WooCommerce setup", "Ingress"}


def test_plan_right_after_create_has_no_changes(kit, store):
    spec, _, _ = store
    plan = kit.plan(spec)
    assert not plan.has_changes, [c.to_dict() for c in plan.changes if c.op != "same"]
    assert plan.summary.text == "No changes."
    assert plan.action == "noop"


def test_tier_change_plans_only_what_follows(kit, store, kube, tmp_path):
    spec, _, _ = store
    before = secret_data(kube, spec.namespace)
    plan = kit.plan(spec.with_changes(tier="medium"))
    changed = {c.name: c for c in plan.changes if c.op != "same"}
    assert set(changed) == {"resource-quota", "limit-range", "mysql", "wordpress",
                            "mysql-data", "wordpress-data"}
    assert all(c.op == "update" for c in changed.values())
    quota = {p.path: (p.before, p.after) for p in changed["resource-quota"].properties}
    assert quota['spec.hard["limits.cpu"]'] == ("2", "4")
    # Round-trip through a saved plan, then apply it.
    path = plan.save(tmp_path / "plan.json")
    result = kit.apply(Plan.load(path))
    assert result.summary["change"] == 6
    assert kube.get(ResourceQuota, "store-quota", namespace=spec.namespace).spec.hard["limits.cpu"] == "4"
    assert secret_data(kube, spec.namespace) == before, "secrets must survive updates"
    assert kit.outputs(spec.name).tier == "medium"


def test_shrinking_tier_is_refused_before_anything_runs(kit, store):
    spec, _, _ = store
    with pytest.raises(SpecError) as err:
        kit.plan(kit.spec_of(spec.name).with_changes(tier="small"))
    assert "volumes can grow but not shrink" in str(err.value)


def test_saved_plan_is_refused_when_store_changed(kit, store):
    spec, _, _ = store
    current = kit.spec_of(spec.name)
    stale = kit.plan(current.with_changes(tier="large"))
    kit.apply(current.with_changes(admin_email="new-owner@example.com"))  # someone else changes it
    with pytest.raises(StalePlan) as err:
        kit.apply(stale)
    assert "storekit plan" in str(err.value)
    assert kit.outputs(spec.name).tier == "medium"


def test_concurrent_applies_one_gets_store_busy(kit, store, settings):
    spec, _, _ = store
    current = kit.spec_of(spec.name)
    other = Storekit(settings)  # a second instance: the engine's lock decides, not ours
    outcomes = {}
    running = threading.Event()

    def first():
        def note(event):
            if isinstance(event, ResourceStarted):
                running.set()
        try:
            outcomes["first"] = kit.apply(current.with_changes(tier="large"), on_event=note)
        except Exception as e:  # noqa: BLE001 - recorded for the assertion below
            outcomes["first"] = e
        finally:
            running.set()

    second_plan = other.plan(current.with_changes(tier="large"), refresh=False)
    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert running.wait(120)
        with pytest.raises(StoreBusy) as err:
            other.apply(second_plan)
    finally:
        thread.join(300)
    assert isinstance(outcomes["first"], ApplyResult), outcomes["first"]
    assert "being changed" in str(err.value)
    assert kit.outputs(spec.name).tier == "large"
    assert not kit.plan(current.with_changes(tier="large")).has_changes, "state stays consistent"


def test_drift_is_reported_and_apply_restores(kit, store, kube):
    spec, _, _ = store
    kube.delete(Service, "wordpress", namespace=spec.namespace)
    report = kit.drift(spec.name)
    assert report.has_drift
    assert [(c.kind, c.kube_name) for c in report.changes] == [("Service", "wordpress")]
    result = kit.apply(kit.spec_of(spec.name))
    assert result.action == "update"
    assert kube.get(Service, "wordpress", namespace=spec.namespace).spec.clusterIP
    assert not kit.drift(spec.name).has_drift


def test_reveal_admin_password_is_separate(kit, store, kube):
    spec, _, _ = store
    password = kit.reveal_admin_password(spec.name)
    stored = base64.b64decode(secret_data(kube, spec.namespace)["admin-password"]).decode()
    assert password == stored and len(password) >= 24


def test_destroy_removes_namespace_and_stack(kit, store, kube):
    spec, _, _ = store
    assert spec.slug in {s.slug for s in kit.list()}
    result = kit.destroy(spec.name)
    assert result.action == "destroy"
    with pytest.raises(ApiError) as err:
        kube.get(Namespace, spec.namespace)
    assert err.value.status.code == 404
    assert spec.slug not in {s.slug for s in kit.list()}
    with pytest.raises(StoreNotFound):
        kit.outputs(spec.name)
