"""A store reported Ready is ready, whatever waits storekit skips to be fast.

At the moment storekit reports success (the apply's ``OperationFinished`` event, when the
timeline already says Ready) the live objects are checked: both Deployments rolled out to
their current generation and available, every volume Bound, the setup Job complete, the
Ingress admitted. Once for a create, once for a tier change (both Deployments roll out
again). Real pulumi CLI and Kubernetes plugin against the local control plane.
"""

from __future__ import annotations

import uuid

import pytest
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import PersistentVolumeClaim
from lightkube.resources.networking_v1 import Ingress

from storekit import OperationFinished, Storekit, StoreNotFound, StoreSpec

pytestmark = pytest.mark.cluster


def not_ready(kube, namespace: str) -> list[str]:
    """Every reason the store in ``namespace`` is not ready yet (empty: ready)."""
    problems = []
    deployments = {d.metadata.name: d for d in kube.list(Deployment, namespace=namespace)}
    problems += [f"deployment {n} missing" for n in ("mysql", "wordpress") if n not in deployments]
    for name, d in deployments.items():
        status, want = d.status, d.spec.replicas
        conditions = {c.type: c.status for c in (status.conditions or ())} if status else {}
        if conditions.get("Available") != "True":
            problems.append(f"deployment {name} not Available")
        if status is None or status.observedGeneration != d.metadata.generation:
            problems.append(f"deployment {name}: generation {d.metadata.generation} not observed yet")
        elif (status.updatedReplicas, status.availableReplicas, status.replicas) != (want, want, want):
            problems.append(f"deployment {name}: rollout unfinished ({status.updatedReplicas} updated, "
                            f"{status.availableReplicas} available, {status.replicas} total of {want})")
    jobs = list(kube.list(Job, namespace=namespace))
    if not jobs:
        problems.append("setup job missing")
    for job in jobs:
        conditions = {c.type: c.status for c in (job.status.conditions or ())} if job.status else {}
        if conditions.get("Complete") != "True":
            problems.append(f"job {job.metadata.name} not Complete")
    for claim in kube.list(PersistentVolumeClaim, namespace=namespace):
        if claim.status is None or claim.status.phase != "Bound":
            problems.append(f"volume {claim.metadata.name} not Bound")
    for ingress in kube.list(Ingress, namespace=namespace):
        if not (ingress.status and ingress.status.loadBalancer and ingress.status.loadBalancer.ingress):
            problems.append(f"ingress {ingress.metadata.name} not admitted")
    return problems


@pytest.fixture
def store(settings, kube):
    kit = Storekit(settings)
    spec = StoreSpec(name=f"Ready Shop {uuid.uuid4().hex[:6]}", admin_email="owner@example.com")
    yield kit, spec
    try:
        kit.destroy(spec.name)
    except StoreNotFound:
        pass


def apply_checking_at_report(kit, spec, kube) -> list[str]:
    """Apply; return what was not ready live at the instant storekit reported success."""
    seen: dict[str, list[str]] = {}

    def on_event(event):
        if isinstance(event, OperationFinished) and event.ok:
            seen["problems"] = not_ready(kube, spec.namespace)
            seen["timeline"] = [e.step for e in kit.catalog.events(spec.slug)]
    result = kit.apply(spec, on_event=on_event)
    assert "problems" in seen, f"no success event ({result.action})"
    assert seen["timeline"][-1] == "Ready", seen["timeline"][-3:]
    return seen["problems"]


def test_ready_means_deployments_available_and_setup_complete(store, kube):
    kit, spec = store
    assert apply_checking_at_report(kit, spec, kube) == []
    assert kit.catalog.store(spec.slug).status == "ready"

    # A tier change rolls both Deployments out again: Ready again only once they have.
    assert apply_checking_at_report(kit, spec.with_changes(tier="medium"), kube) == []
    limits = {d.metadata.name: d.spec.template.spec.containers[0].resources.limits["cpu"]
              for d in kube.list(Deployment, namespace=spec.namespace)}
    assert limits == {"mysql": "1", "wordpress": "1"}
