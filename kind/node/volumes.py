"""The real node's volume provisioner: StorageClass ``node-local`` (provisioner
``storekit.io/node-local``), a directory per volume under ``$STOREKIT_HOME/node/volumes``.

The class binds WaitForFirstConsumer: once the scheduler has put a claim's first pod on
``storekit-node`` (annotation ``volume.kubernetes.io/selected-node``), this makes the directory
(mode 0777, so any container user can write it; the pods' own entrypoints chown what they need)
and a ``local`` PersistentVolume pinned to the node, pre-bound to the claim. When the claim is
deleted (reclaim policy Delete), it removes the volume and its directory. Claims scheduled to
another node are left alone: no other node has these directories.

    python kind/node/volumes.py --kubeconfig FILE --root DIR --node storekit-node

Run (and stopped) by kind/node.sh; shares the claim and volume helpers of kind/simctl.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lightkube import Client, KubeConfig  # noqa: E402
from lightkube.models.core_v1 import (  # noqa: E402
    LocalVolumeSource,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    VolumeNodeAffinity,
)

import simctl  # noqa: E402

PROVISIONER = "storekit.io/node-local"
SELECTED_NODE = "volume.kubernetes.io/selected-node"

log = logging.getLogger("node-volumes")


def volume_dir(root: Path, name: str) -> Path:
    """The directory of volume ``name``; refuses names that would leave ``root``."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a volume name: {name!r}")
    return root / name


def affinity(node: str) -> VolumeNodeAffinity:
    return VolumeNodeAffinity(required=NodeSelector(nodeSelectorTerms=[NodeSelectorTerm(matchExpressions=[
        NodeSelectorRequirement(key="kubernetes.io/hostname", operator="In", values=[node])])]))


def provision(client: Client, root: Path, node: str) -> None:
    for pvc, sc in simctl.pending_claims(client, PROVISIONER):
        selected = (pvc.metadata.annotations or {}).get(SELECTED_NODE)
        if selected != node:
            continue  # not scheduled yet, or on a node without these directories
        path = volume_dir(root, f"pvc-{pvc.metadata.uid}")
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o777)
        simctl.create_volume(client, pvc, sc, PROVISIONER,
                             local=LocalVolumeSource(path=str(path)), nodeAffinity=affinity(node))


def reclaim(client: Client, root: Path) -> None:
    for pv in simctl.released_volumes(client, PROVISIONER):
        path = volume_dir(root, pv.metadata.name)
        if path.exists():
            shutil.rmtree(path)
        simctl.delete_volume(client, pv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--root", required=True, type=Path, help="where the volumes' directories go")
    parser.add_argument("--node", default="storekit-node")
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("httpx", "httpx2"):  # one line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    client = Client(KubeConfig.from_file(args.kubeconfig), field_manager="storekit-node-volumes")
    args.root.mkdir(parents=True, exist_ok=True)
    log.info("provisioning %s volumes for node %s under %s", PROVISIONER, args.node, args.root)
    while True:
        try:
            provision(client, args.root, args.node)
            reclaim(client, args.root)
        except Exception as e:  # the API server restarting must not kill the loop
            log.warning("pass failed: %s", e)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
