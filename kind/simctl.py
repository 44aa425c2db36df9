"""Simulated add-on controllers for storekit's local control plane.

kwok simulates nodes and the kubelet, but a cluster also relies on add-ons that kwok
does not provide. This process plays two of them, doing exactly what the real ones do
through the API so that the Kubernetes provider's await logic stays fully on:

* a volume provisioner for StorageClasses whose provisioner is ``storekit.io/simulated``:
  for each Pending claim it creates a PersistentVolume pre-bound to the claim (the
  controller-manager's binder then binds both, as with any external provisioner), and it
  deletes its volumes once they are Released (reclaim policy Delete). No data is stored:
  pods are simulated too.
* an ingress controller for the IngressClass ``sim`` (controller
  ``storekit.io/simulated-ingress``): it writes ``status.loadBalancer.ingress`` with
  127.0.0.1, which is what an ingress controller reports once it serves the Ingress.

It polls (every ``--interval`` seconds) instead of watching: the local cluster is small and
a poll loop has no reconnect logic to get wrong. Run by ``kind/cluster.sh up``.
"""

from __future__ import annotations

import argparse
import logging
import time

from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.core_v1 import (
    HostPathVolumeSource,
    ObjectReference,
    PersistentVolumeSpec,
)
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import PersistentVolume, PersistentVolumeClaim
from lightkube.resources.networking_v1 import Ingress, IngressClass
from lightkube.resources.storage_v1 import StorageClass

PROVISIONER = "storekit.io/simulated"
INGRESS_CONTROLLER = "storekit.io/simulated-ingress"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
LOAD_BALANCER_IP = "127.0.0.1"

log = logging.getLogger("simctl")


def our_storage_classes(client: Client) -> tuple[set[str], str | None]:
    """Names of the StorageClasses we provision, and the default class's name."""
    ours, default = set(), None
    for sc in client.list(StorageClass):
        annotations = sc.metadata.annotations or {}
        if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
            default = sc.metadata.name
        if sc.provisioner == PROVISIONER:
            ours.add(sc.metadata.name)
    return ours, default


def provision(client: Client) -> None:
    classes, default = our_storage_classes(client)
    for pvc in client.list(PersistentVolumeClaim, namespace="*"):
        if pvc.status is None or pvc.status.phase != "Pending" or pvc.spec.volumeName:
            continue
        if pvc.metadata.deletionTimestamp is not None:
            continue
        sc = pvc.spec.storageClassName or default
        if sc not in classes:
            continue
        name = f"pvc-{pvc.metadata.uid}"
        pv = PersistentVolume(
            metadata=ObjectMeta(name=name, annotations={PROVISIONED_BY: PROVISIONER}),
            spec=PersistentVolumeSpec(
                capacity={"storage": pvc.spec.resources.requests["storage"]},
                accessModes=pvc.spec.accessModes,
                persistentVolumeReclaimPolicy="Delete",
                storageClassName=sc,
                volumeMode=pvc.spec.volumeMode,
                hostPath=HostPathVolumeSource(path=f"/var/lib/storekit-sim/{name}"),
                claimRef=ObjectReference(
                    kind="PersistentVolumeClaim",
                    apiVersion="v1",
                    namespace=pvc.metadata.namespace,
                    name=pvc.metadata.name,
                    uid=pvc.metadata.uid,
                ),
            ),
        )
        try:
            client.create(pv)
            log.info("provisioned %s for %s/%s", name, pvc.metadata.namespace, pvc.metadata.name)
        except ApiError as e:
            if e.status.code != 409:  # already provisioned on an earlier pass
                raise


def reclaim(client: Client) -> None:
    for pv in client.list(PersistentVolume):
        annotations = pv.metadata.annotations or {}
        if annotations.get(PROVISIONED_BY) != PROVISIONER:
            continue
        if pv.status and pv.status.phase in ("Released", "Failed"):
            try:
                client.delete(PersistentVolume, pv.metadata.name)
                log.info("deleted released volume %s", pv.metadata.name)
            except ApiError as e:
                if e.status.code != 404:
                    raise


def ingress_classes(client: Client) -> tuple[set[str], bool]:
    """Names of IngressClasses we serve, and whether one of them is the default."""
    ours, default_is_ours = set(), False
    for ic in client.list(IngressClass):
        if ic.spec and ic.spec.controller == INGRESS_CONTROLLER:
            ours.add(ic.metadata.name)
            annotations = ic.metadata.annotations or {}
            if annotations.get("ingressclass.kubernetes.io/is-default-class") == "true":
                default_is_ours = True
    return ours, default_is_ours


def serve_ingresses(client: Client) -> None:
    classes, default_is_ours = ingress_classes(client)
    for ing in client.list(Ingress, namespace="*"):
        cls = ing.spec.ingressClassName
        if not (cls in classes or (cls is None and default_is_ours)):
            continue
        lb = ing.status.loadBalancer if ing.status else None
        if lb and lb.ingress:
            continue
        client.patch(
            Ingress.Status,
            ing.metadata.name,
            {"status": {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}},
            namespace=ing.metadata.namespace,
        )
        log.info("admitted ingress %s/%s", ing.metadata.namespace, ing.metadata.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request otherwise
    logging.getLogger("httpx").setLevel(logging.WARNING)
    client = Client(KubeConfig.from_file(args.kubeconfig), field_manager="storekit-simctl")
    log.info("serving StorageClass provisioner %s and IngressClass controller %s",
             PROVISIONER, INGRESS_CONTROLLER)
    while True:
        try:
            provision(client)
            reclaim(client)
            serve_ingresses(client)
        except Exception as e:  # the API server restarting must not kill the loop
            log.warning("pass failed: %s", e)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
