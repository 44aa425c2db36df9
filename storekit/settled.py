"""Ready only once the store's Deployments say so themselves.

The Kubernetes plugin's Deployment await can finish as soon as the new ReplicaSet's pods are
ready, a moment before the Deployment controller writes that into the Deployment's own status
(``updatedReplicas``, ``availableReplicas``). Anything reading the Deployment at the instant
storekit says Ready (a health check, a rollout gate, ``kubectl rollout status``) would then
see an unfinished rollout. So after an update, storekit reads the store's Deployments (one
LIST, ``kubelist``) until each one's status shows its current generation rolled out: usually
the first read; a status a controller has not written yet costs a few tenths of a second.
"""

from __future__ import annotations

import time

STORE_LABEL = "storekit.io/store"


def rolled_out(deployment: dict) -> bool:
    """Its status reports the current generation rolled out and available."""
    meta, spec, status = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    want = spec.get("replicas", 1)
    return (status.get("observedGeneration", 0) >= meta.get("generation", 0)
            and status.get("updatedReplicas", 0) == want and status.get("availableReplicas", 0) == want
            and status.get("replicas", 0) == want)


def wait_rolled_out(settings, slug: str, namespace: str, timeout: float = 60.0) -> list[str]:
    """Wait until every Deployment of the store is ``rolled_out``; the names still not
    (empty when all are, or when the cluster cannot be read this way: the engine's own
    await stands then)."""
    from .kubelist import Unsupported, lister

    try:
        client = lister(settings.kubeconfig, settings.context, in_cluster=settings.in_cluster)
    except Unsupported:
        return []
    deadline = time.monotonic() + timeout
    try:
        while True:
            pending = [d["metadata"]["name"] for d in client.items(
                f"/apis/apps/v1/namespaces/{namespace}/deployments", f"{STORE_LABEL}={slug}") if not rolled_out(d)]
            if not pending or time.monotonic() > deadline:
                return pending
            time.sleep(0.2)
    except Unsupported:
        return []
    finally:
        client.close()
