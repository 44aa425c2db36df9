"""The real node's volume resizer: grows the claims of StorageClass ``node-local``
(``allowVolumeExpansion: true``), as an external resizer does for a CSI driver.

A node-local volume is a directory (kind/node/volumes.py): it has no size of its own to grow,
and the kubelet's expansion of a directory-backed ``local`` volume is a no-op. What a resize
changes is what the cluster records, which is what quotas, ``kubectl get pvc`` and storekit
read: once the API server has accepted a bigger request on a bound claim (the admission
plugin checks the class allows expansion), the controller-manager's expand controller leaves
it to an external controller ("waiting for an external controller to expand this PVC"). This
is that controller: it sets the volume's ``spec.capacity`` to the request, then finishes the
claim's resize in its status (``capacity`` and ``allocatedResources`` the new size, no resize
condition left), as a resizer whose volumes need no node expansion does. Shrinking is refused
by the API server before it gets here.

    python kind/node/resizer.py --kubeconfig FILE

Run (and stopped) by kind/node.sh beside the provisioner, as its own process: a node that is
already up gets it from the next ``make node`` without restarting the provisioner.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lightkube import Client, KubeConfig  # noqa: E402
from lightkube.core.exceptions import ApiError  # noqa: E402
from lightkube.resources.core_v1 import PersistentVolume, PersistentVolumeClaim  # noqa: E402
from lightkube.types import PatchType  # noqa: E402
from lightkube.utils.quantity import parse_quantity  # noqa: E402

import simctl  # noqa: E402
from volumes import PROVISIONER  # noqa: E402

RESIZE_CONDITIONS = ("Resizing", "FileSystemResizePending", "ControllerResizeError", "NodeResizeError")

log = logging.getLogger("node-resizer")


def wanted_size(pvc: PersistentVolumeClaim) -> str | None:
    """The claim's requested size when it is bigger than what its status records, else None."""
    requested = ((pvc.spec.resources.requests or {}) if pvc.spec.resources else {}).get("storage")
    recorded = ((pvc.status.capacity or {}) if pvc.status else {}).get("storage")
    if not requested or not recorded or pvc.status.phase != "Bound":
        return None
    return requested if parse_quantity(requested) > parse_quantity(recorded) else None


def finished_status(pvc: PersistentVolumeClaim, size: str) -> dict:
    """The claim's status patch once its volume has ``size``: the resize is done."""
    conditions = [c.to_dict() for c in (pvc.status.conditions or []) if c.type not in RESIZE_CONDITIONS]
    return {"status": {"capacity": {"storage": size}, "allocatedResources": {"storage": size},
                       "allocatedResourceStatuses": None, "conditions": conditions}}


def resize(client: Client) -> None:
    for pv in client.list(PersistentVolume):
        annotations = pv.metadata.annotations or {}
        ref = pv.spec.claimRef
        if annotations.get(simctl.PROVISIONED_BY) != PROVISIONER or ref is None or \
                pv.status is None or pv.status.phase != "Bound":
            continue
        try:
            pvc = client.get(PersistentVolumeClaim, ref.name, namespace=ref.namespace)
        except ApiError as e:
            if e.status.code == 404:
                continue
            raise
        if pvc.metadata.uid != ref.uid or pvc.metadata.deletionTimestamp is not None:
            continue
        size = wanted_size(pvc)
        if size is None:
            continue
        if parse_quantity(pv.spec.capacity["storage"]) < parse_quantity(size):
            client.patch(PersistentVolume, pv.metadata.name, {"spec": {"capacity": {"storage": size}}},
                         patch_type=PatchType.MERGE)
        client.patch(PersistentVolumeClaim.Status, ref.name, finished_status(pvc, size), namespace=ref.namespace,
                     patch_type=PatchType.MERGE)
        log.info("resized %s (%s/%s) to %s", pv.metadata.name, ref.namespace, ref.name, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("httpx", "httpx2"):  # one line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    client = Client(KubeConfig.from_file(args.kubeconfig), field_manager="storekit-node-resizer")
    log.info("resizing %s volumes", PROVISIONER)
    while True:
        try:
            resize(client)
        except Exception as e:  # the API server restarting must not kill the loop
            log.warning("pass failed: %s", e)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
