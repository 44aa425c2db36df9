"""kind/ for Docker hosts and the platform scripts: shellcheck, the kind config's shape,
the pinned ingress manifest through a server-side dry run on the local cluster, the
scripts' usage and errors, and `deploy-local` installing the chart for real."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KIND = ROOT / "kind"
MANIFESTS = sorted((KIND / "ingress").glob("traefik-v*.yaml"))


@pytest.mark.shellcheck
def test_every_script_passes_shellcheck():
    scripts = sorted(KIND.glob("**/*.sh")) + [ROOT / ".ci" / "run"]
    result = subprocess.run(["shellcheck", "-x", *map(str, scripts)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout
    assert len(scripts) >= 6


def test_kind_config_has_a_control_plane_two_workers_and_the_ingress_ports():
    config = yaml.safe_load((KIND / "kind-config.yaml").read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["kind"] == "Cluster"
    roles = [n["role"] for n in config["nodes"]]
    assert roles == ["control-plane", "worker", "worker"]
    control = config["nodes"][0]
    assert {(m["containerPort"], m["hostPort"]) for m in control["extraPortMappings"]} == {(80, 80), (443, 443)}
    # The ingress controller lands on exactly that node.
    deployment = next(d for d in yaml.safe_load_all(MANIFESTS[0].read_text()) if d["kind"] == "Deployment")
    selector = deployment["spec"]["template"]["spec"]["nodeSelector"]
    assert selector.items() <= control["labels"].items()
    host_ports = {p.get("hostPort") for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {80, 443} <= host_ports


def test_ingress_manifest_is_pinned_and_serves_the_default_class():
    assert len(MANIFESTS) == 1, "one pinned ingress manifest"
    version = re.fullmatch(r"traefik-(v[\d.]+)\.yaml", MANIFESTS[0].name).group(1)
    docs = list(yaml.safe_load_all(MANIFESTS[0].read_text()))
    images = [c["image"] for d in docs if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]]
    assert images == [f"docker.io/library/traefik:{version}"]
    ingress_class = next(d for d in docs if d["kind"] == "IngressClass")
    assert ingress_class["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
    # The chart's values for kind point stores at this class and namespace.
    values = yaml.safe_load((ROOT / "charts" / "store-platform" / "values.yaml").read_text())
    namespace = next(d for d in docs if d["kind"] == "Namespace")["metadata"]["name"]
    assert values["stores"]["ingressClass"] == ingress_class["metadata"]["name"] == values["ingress"]["className"]
    assert values["stores"]["ingressNamespace"] == namespace


@pytest.mark.cluster
def test_ingress_manifest_passes_a_server_side_dry_run(settings, kube, tmp_path, unique_name):
    # Into a namespace of its own: the real node runs its own Traefik in `traefik`, whose
    # Deployment selector differs (immutable), and a dry run must not depend on it.
    from lightkube.resources.core_v1 import Namespace

    kube.create(Namespace(metadata={"name": unique_name}))
    manifest = tmp_path / "ingress.yaml"
    manifest.write_text(MANIFESTS[0].read_text().replace("namespace: traefik", f"namespace: {unique_name}"))
    try:
        result = subprocess.run(["kubectl", "--kubeconfig", settings.kubeconfig, "apply", "--dry-run=server",
                                 "-f", str(manifest)], capture_output=True, text=True, timeout=60)
    finally:
        kube.delete(Namespace, unique_name)
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/traefik" in result.stdout and "ingressclass.networking.k8s.io/traefik" in result.stdout


def _script(name: str, *args: str, env: dict | None = None, timeout: float = 60):
    return subprocess.run([str(KIND / name), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("script", ["platform.sh", "image.sh"])
def test_scripts_teach_their_usage(script):
    result = _script(script)
    assert result.returncode == 2
    assert "Usage: kind/" in result.stderr


def test_kind_steps_name_the_missing_cluster(tmp_path):
    """`load` and `deploy` without a kind cluster say what to run, and change nothing."""
    for step in ("load", "deploy"):
        result = _script("platform.sh", step, env={"STOREKIT_HOME": str(tmp_path)})
        assert result.returncode == 1
        assert "no kind cluster 'storekit' (run: make setup)" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.cluster
def test_deploy_local_installs_the_chart_on_the_simulated_cluster(settings, kube):
    release, namespace = f"dl{uuid.uuid4().hex[:6]}", f"deploy-local-{uuid.uuid4().hex[:6]}"
    helm = [str(settings.home_path / "tools" / "bin" / "helm"), "--kubeconfig", settings.kubeconfig]
    env = {"RELEASE": release, "NAMESPACE": namespace}
    try:
        result = _script("platform.sh", "deploy-local", env=env, timeout=400)
        assert result.returncode == 0, result.stderr
        status = json.loads(subprocess.run([*helm, "status", release, "-n", namespace, "-o", "json"],
                                           capture_output=True, text=True, check=True).stdout)
        assert status["info"]["status"] == "deployed"
        values = json.loads(subprocess.run([*helm, "get", "values", release, "-n", namespace, "-o", "json"],
                                           capture_output=True, text=True, check=True).stdout)
        assert values["ingress"]["className"] == values["stores"]["ingressClass"] == "sim"
        # A second run is an upgrade, not an error.
        again = _script("platform.sh", "deploy-local", env=env, timeout=400)
        assert again.returncode == 0, again.stderr
        history = json.loads(subprocess.run([*helm, "history", release, "-n", namespace, "-o", "json"],
                                            capture_output=True, text=True, check=True).stdout)
        assert [h["revision"] for h in history] == [1, 2]
    finally:
        subprocess.run([*helm, "uninstall", release, "-n", namespace, "--wait"], capture_output=True)
        subprocess.run(["kubectl", "--kubeconfig", settings.kubeconfig, "delete", "namespace", namespace,
                        "--wait=false"], capture_output=True)


def test_after_a_restart_the_cluster_is_up_only_once_kwok_plays_the_simulated_nodes(tmp_path):
    """Regression (tests/faults/test_api_outage.py timed out in CI): after a control plane
    restart the nodes still say Ready (their status in etcd), but the new kwok controller
    plays no simulated node before its predecessor's lease on it expires (200 s then, 40 s
    now), so the first store's pods never started. ``up`` now also waits for leases kwok renewed since the
    start; the real node's own lease (held by its kubelet) never counts."""
    leases = tmp_path / "leases"
    check = ('source <(sed -n "/^kwok_plays_nodes()/,/^}/p" kind/cluster.sh); '
             f'kc() {{ cat {leases}; }}; NODES=2; kwok_plays_nodes 2026-12-02T01:08:39')

    def played(lines: str) -> bool:
        leases.write_text(lines)
        return subprocess.run(["bash", "-c", check], cwd=ROOT).returncode == 0

    stale = ("node-000000 vm_b19f 2026-12-02T01:06:59.610000Z\nnode-000001 vm_b19f 2026-12-02T01:07:01.870000Z\n"
             "storekit-node storekit-node 2026-12-02T01:08:50.000000Z\n")
    taken = ("node-000000 vm_b277 2026-12-02T01:10:19.869000Z\nnode-000001 vm_b277 2026-12-02T01:10:21.957000Z\n"
             "storekit-node storekit-node 2026-12-02T01:10:30.000000Z\n")
    assert not played(stale), "Ready in etcd is not enough: kwok does not play these nodes yet"
    assert not played(stale.replace("node-000001 vm_b19f 2026-12-02T01:07:01", "node-000001 vm_b277 2026-12-02T01:10:21"))
    assert played(taken)


def test_kwok_plays_only_the_nodes_it_made_never_another(settings, kube, unique_name):
    """Regression (CI: `make node` refused, "the lease kube-node-lease/storekit-node is held by
    vm_...(kwok?)"): kwokctl's binary runtime has kwok manage every node, so a real node whose
    kubelet was down past its lease (a new session) was taken over by kwok. kind/kwok.yaml now
    limits kwok to nodes annotated kwok.x-k8s.io/node=fake. Two Nodes are registered at once,
    one annotated; once kwok has made that one Ready, the other has neither a Ready status nor
    a lease."""
    kc = ["kubectl", "--kubeconfig", settings.kubeconfig]
    played, other = f"{unique_name}-fake", f"{unique_name}-other"

    def node(name: str, annotations: dict) -> dict:
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "annotations": annotations,
                             "labels": {"storekit.io/test": "kwok-scope"}},
                "spec": {"taints": [{"key": "storekit.io/test", "value": "kwok-scope", "effect": "NoSchedule"}]}}

    objects = {"apiVersion": "v1", "kind": "List",
               "items": [node(played, {"kwok.x-k8s.io/node": "fake"}), node(other, {})]}
    try:
        subprocess.run([*kc, "create", "-f", "-"], input=json.dumps(objects), text=True, check=True,
                       capture_output=True)
        subprocess.run([*kc, "wait", "--for=condition=Ready", f"node/{played}", "--timeout=60s"],
                       check=True, capture_output=True)
        status = json.loads(subprocess.run([*kc, "get", "node", other, "-o", "json"], check=True,
                                           capture_output=True, text=True).stdout)["status"]
        assert not [c for c in status.get("conditions", []) if c["type"] == "Ready"], status
        lease = subprocess.run([*kc, "get", "lease", "-n", "kube-node-lease", other], capture_output=True, text=True)
        assert lease.returncode != 0 and "NotFound" in lease.stderr, lease.stdout
    finally:
        subprocess.run([*kc, "delete", "node", played, other, "--ignore-not-found", "--wait=false"],
                       capture_output=True)
