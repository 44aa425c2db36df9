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


def storage_classes_of(client: Client, provisioner: str) -> tuple[set[str], str | None]:
    """Names of the StorageClasses ``provisioner`` serves, and the default class's name."""
    ours, default = set(), None
    for sc in client.list(StorageClass):
        annotations = sc.metadata.annotations or {}
        if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
            default = sc.metadata.name
        if sc.provisioner == provisioner:
            ours.add(sc.metadata.name)
    return ours, default


def pending_claims(client: Client, provisioner: str):
    """(claim, class name) for each Pending, unbound, live claim of a class ``provisioner`` serves."""
    classes, default = storage_classes_of(client, provisioner)
    for pvc in client.list(PersistentVolumeClaim, namespace="*"):
        if pvc.status is None or pvc.status.phase != "Pending" or pvc.spec.volumeName:
            continue
        if pvc.metadata.deletionTimestamp is not None:
            continue
        sc = pvc.spec.storageClassName or default
        if sc in classes:
            yield pvc, sc


def create_volume(client: Client, pvc: PersistentVolumeClaim, sc: str, provisioner: str, **source) -> str:
    """A PersistentVolume pre-bound to ``pvc`` (the binder then binds both, as with any external
    provisioner); ``source`` is the volume's source and placement (hostPath=..., local=...,
    nodeAffinity=...). Returns its name; an existing one (an earlier pass) is kept."""
    name = f"pvc-{pvc.metadata.uid}"
    pv = PersistentVolume(
        metadata=ObjectMeta(name=name, annotations={PROVISIONED_BY: provisioner}),
        spec=PersistentVolumeSpec(
            capacity={"storage": pvc.spec.resources.requests["storage"]},
            accessModes=pvc.spec.accessModes,
            persistentVolumeReclaimPolicy="Delete",
            storageClassName=sc,
            volumeMode=pvc.spec.volumeMode,
            claimRef=ObjectReference(
                kind="PersistentVolumeClaim",
                apiVersion="v1",
                namespace=pvc.metadata.namespace,
                name=pvc.metadata.name,
                uid=pvc.metadata.uid,
            ),
            **source,
        ),
    )
    try:
        client.create(pv)
        log.info("provisioned %s for %s/%s", name, pvc.metadata.namespace, pvc.metadata.name)
    except ApiError as e:
        if e.status.code != 409:  # already provisioned on an earlier pass
            raise
    return name


def released_volumes(client: Client, provisioner: str):
    """The volumes ``provisioner`` made whose claim is gone (reclaim policy Delete)."""
    for pv in client.list(PersistentVolume):
        annotations = pv.metadata.annotations or {}
        if annotations.get(PROVISIONED_BY) == provisioner and pv.status and pv.status.phase in ("Released", "Failed"):
            yield pv


def delete_volume(client: Client, pv: PersistentVolume) -> None:
    try:
        client.delete(PersistentVolume, pv.metadata.name)
        log.info("deleted released volume %s", pv.metadata.name)
    except ApiError as e:
        if e.status.code != 404:
            raise


def provision(client: Client) -> None:
    for pvc, sc in pending_claims(client, PROVISIONER):
        path = f"/var/lib/storekit-sim/pvc-{pvc.metadata.uid}"
        create_volume(client, pvc, sc, PROVISIONER, hostPath=HostPathVolumeSource(path=path))


def reclaim(client: Client) -> None:
    for pv in released_volumes(client, PROVISIONER):
        delete_volume(client, pv)


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
