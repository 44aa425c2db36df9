"""The real node's files (kind/node.sh, kind/node/*) without root or a cluster (unit tier).

`kind/node.sh render` writes what `up` would write; these tests read those files as the
daemons will (TOML, YAML, JSON) and check the contracts other work relies on: the names,
addresses and ranges, the containerd socket the Makefile imports into, the taint, the
containment (no masquerading, no DNS forwarding, no pulls). The node itself, running, is
tested by tests/test_node.py (make test-node).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KIND = ROOT / "kind"
IMAGES = {name: f"storekit.local/{name}:test" for name in ("pause", "coredns", "traefik", "metrics-server")}

sys.path.insert(0, str(KIND / "node"))
import apiproxy  # noqa: E402
import resizer  # noqa: E402
import volumes  # noqa: E402


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, Path]:
    """(the files `kind/node.sh up` would write, its STOREKIT_HOME)."""
    home = tmp_path_factory.mktemp("home")
    (home / "images").mkdir()
    (home / "images" / "index.json").write_text(json.dumps(IMAGES))
    out = home / "rendered"
    result = subprocess.run([str(KIND / "node.sh"), "render", str(out)], capture_output=True, text=True,
                            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "STOREKIT_HOME": str(home),
                                 "CLUSTER_DNS": "10.0.0.53", "SERVICE_CIDR": "10.0.0.0/24"})
    assert result.returncode == 0, result.stderr
    return out, home


def _addons(rendered) -> list[dict]:
    return [d for d in yaml.safe_load_all((rendered[0] / "addons.yaml").read_text()) if d]


def _pod_specs(rendered) -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"] for d in _addons(rendered) if d["kind"] == "Deployment"}


def test_every_placeholder_is_filled(rendered):
    for path in rendered[0].iterdir():
        assert "@" not in path.read_text().replace("@...@", ""), path.name


def test_containerd_listens_where_the_makefile_imports_and_pulls_nothing(rendered):
    out, home = rendered
    config = tomllib.loads((out / "containerd.toml").read_text())
    assert config["version"] == 3
    socket_path = home / "node" / "run" / "containerd" / "containerd.sock"
    assert config["grpc"]["address"] == str(socket_path)
    makefile = (ROOT / "Makefile").read_text()
    assert "NODE_CONTAINERD ?= $(STOREKIT_HOME)/node/run/containerd/containerd.sock" in makefile
    assert config["root"].startswith(str(home / "node")) and config["state"].startswith(str(home / "node"))
    plugins = config["plugins"]
    assert plugins["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"] == IMAGES["pause"]
    runtime = plugins["io.containerd.cri.v1.runtime"]
    assert runtime["netns_mounts_under_state_dir"] is True
    runc = runtime["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False
    # runc behind our wrapper: new containers' negative oom_score_adj clamped (no CAP_SYS_RESOURCE)
    assert runc["options"]["BinaryName"] == str(KIND / "node" / "runc.sh")
    assert runtime["cni"]["conf_dir"] == str(home / "node" / "cni" / "net.d")
    assert plugins["io.containerd.grpc.v1.cri"]["stream_server_address"] == "127.0.0.1"


def test_kubelet_runs_on_cgroup_v1_leaves_the_kernel_alone_and_taints_its_node(rendered):
    config = yaml.safe_load((rendered[0] / "kubelet.yaml").read_text())
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["cgroupRoot"] == "/storekit-node"
    assert config["protectKernelDefaults"] is False  # it reads our values instead (mountns.sh)
    assert config["address"] == "10.250.0.2" and config["readOnlyPort"] == 0
    assert config["healthzBindAddress"] == "127.0.0.1"
    assert config["clusterDNS"] == ["10.0.0.53"]
    assert config["resolvConf"] == ""  # the host's resolver never reaches a pod
    assert config["registerWithTaints"] == [{"key": "storekit.io/node-pool", "value": "real", "effect": "NoSchedule"}]
    socket_uri = f"unix://{rendered[1] / 'node' / 'run' / 'containerd' / 'containerd.sock'}"
    assert config["containerRuntimeEndpoint"] == socket_uri


def test_the_kubelet_sees_the_kernel_values_it_wants_so_it_writes_none():
    script = (KIND / "node" / "mountns.sh").read_text()
    node = (KIND / "node.sh").read_text()
    for path, value in (("kernel/panic", "10"), ("kernel/panic_on_oops", "1"), ("vm/overcommit_memory", "1")):
        name = path.split("/")[1]
        assert f'mount --bind "$dir/sysctl/{name}" /proc/sys/{path}' in script
        assert f'echo {value} >"$DIR/sysctl/{name}"' in node


def test_pod_network_is_contained(rendered):
    conf = json.loads((rendered[0] / "cni.conflist").read_text())
    bridge, portmap = conf["plugins"]
    assert bridge["type"] == "bridge" and bridge["ipMasq"] is False and bridge["hairpinMode"] is True
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.0.0/24"}]]
    assert portmap["type"] == "portmap" and portmap["capabilities"] == {"portMappings": True}
    proxy = yaml.safe_load((rendered[0] / "kube-proxy.yaml").read_text())
    assert proxy["mode"] == "iptables" and proxy["clusterCIDR"] == "10.244.0.0/24"
    assert proxy["nodePortAddresses"] == ["10.250.0.2/32"]
    assert proxy["metricsBindAddress"].startswith("127.0.0.1:")
    corefile = next(d for d in _addons(rendered) if d["metadata"]["name"] == "coredns" and d["kind"] == "ConfigMap")
    assert "forward" not in corefile["data"]["Corefile"]  # cluster names only
    assert "kubernetes cluster.local" in corefile["data"]["Corefile"]


def test_node_script_keeps_the_contract():
    script = (KIND / "node.sh").read_text()
    for line in ("NODE_NAME=storekit-node", "NETNS=storekit-node", "HOST_IP=10.250.0.1", "NODE_IP=10.250.0.2",
                 "POD_CIDR=10.244.0.0/24", "POOL_LABEL=storekit.io/node-pool", "POOL=real"):
        assert f"\n{line}\n" in script, line
    # No rule ever touches the host's tables: every iptables call runs inside the namespace.
    for number, line in enumerate(script.splitlines(), 1):
        if " iptables -" in line and not line.lstrip().startswith("#"):
            assert "in_ns iptables" in line, f"kind/node.sh:{number} runs iptables outside the namespace"


def test_addons_run_only_on_the_real_node_from_local_images(rendered):
    specs = _pod_specs(rendered)
    assert set(specs) == {"coredns", "traefik", "metrics-server"}
    for name, template in specs.items():
        spec = template["spec"]
        assert template["metadata"]["labels"]["storekit.io/node-addon"] == name
        assert spec["nodeSelector"] == {"kubernetes.io/hostname": "storekit-node"}
        assert {"key": "storekit.io/node-pool", "operator": "Equal", "value": "real",
                "effect": "NoSchedule"} in spec["tolerations"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            assert container["imagePullPolicy"] == "Never"
            assert container["image"] == IMAGES[name]
    # The kubelet's port is closed to the pod network, so the metrics scraper is not on it.
    assert specs["metrics-server"]["spec"]["hostNetwork"] is True
    assert "--node-selector=storekit.io/node-pool=real" in specs["metrics-server"]["spec"]["containers"][0]["args"]


def test_traefik_serves_its_class_on_the_node_address(rendered):
    docs = _addons(rendered)
    ingress_class = next(d for d in docs if d["kind"] == "IngressClass")
    assert ingress_class["metadata"]["name"] == "traefik"
    assert ingress_class["spec"]["controller"] == "traefik.io/ingress-controller"
    container = _pod_specs(rendered)["traefik"]["spec"]["containers"][0]
    assert {"name": "web", "containerPort": 8000, "hostPort": 80, "protocol": "TCP"} in container["ports"]
    assert "--providers.kubernetesIngress.ingressClass=traefik" in container["args"]
    assert "--providers.kubernetesIngress.ingressEndpoint.ip=10.250.0.2" in container["args"]
    assert "--global.checkNewVersion=false" in container["args"]  # offline
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"KUBERNETES_SERVICE_HOST": "", "KUBECONFIG": "/etc/storekit-node/pod-network"}


def test_storage_class_and_kubeconfigs(rendered):
    sc = next(d for d in _addons(rendered) if d["kind"] == "StorageClass")
    assert (sc["metadata"]["name"], sc["provisioner"]) == ("node-local", volumes.PROVISIONER)
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer" and sc["reclaimPolicy"] == "Delete"
    assert sc["allowVolumeExpansion"] is True  # kind/node/resizer.py
    pod = yaml.safe_load((rendered[0] / "pod-network.kubeconfig").read_text())
    cluster = pod["clusters"][0]["cluster"]
    assert cluster["server"] == "https://10.250.0.2:6443" and cluster["tls-server-name"] == "kubernetes"
    host = yaml.safe_load((rendered[0] / "host-network.kubeconfig").read_text())
    assert host["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"


def test_volume_directories_stay_under_their_root(tmp_path):
    assert volumes.volume_dir(tmp_path, "pvc-1") == tmp_path / "pvc-1"
    for bad in ("", ".", "..", "../etc", "a/b"):
        with pytest.raises(ValueError, match="not a volume name"):
            volumes.volume_dir(tmp_path, bad)
    term = volumes.affinity("storekit-node").required.nodeSelectorTerms[0].matchExpressions[0]
    assert (term.key, term.operator, term.values) == ("kubernetes.io/hostname", "In", ["storekit-node"])


def test_the_resizer_grows_bound_claims_only_and_finishes_their_resize():
    from lightkube.models.core_v1 import (PersistentVolumeClaimCondition, PersistentVolumeClaimSpec,
                                          PersistentVolumeClaimStatus, VolumeResourceRequirements)
    from lightkube.resources.core_v1 import PersistentVolumeClaim

    def claim(requested, recorded, phase="Bound"):
        return PersistentVolumeClaim(
            spec=PersistentVolumeClaimSpec(resources=VolumeResourceRequirements(requests={"storage": requested})),
            status=PersistentVolumeClaimStatus(phase=phase, capacity={"storage": recorded} if recorded else None,
                                               conditions=[PersistentVolumeClaimCondition(type="Resizing", status="True"),
                                                           PersistentVolumeClaimCondition(type="Other", status="True")]))
    assert resizer.wanted_size(claim("5Gi", "1Gi")) == "5Gi"
    assert resizer.wanted_size(claim("1024Mi", "1Gi")) is None  # the same size, spelled otherwise
    assert resizer.wanted_size(claim("5Gi", None, phase="Pending")) is None  # not provisioned yet
    status = resizer.finished_status(claim("5Gi", "1Gi"), "5Gi")["status"]
    assert status["capacity"] == status["allocatedResources"] == {"storage": "5Gi"}
    assert status["allocatedResourceStatuses"] is None and [c["type"] for c in status["conditions"]] == ["Other"]


@pytest.mark.parametrize("text", ["6443", "host", ":6443", "h:0", "h:70000", "h:x"])
def test_apiproxy_refuses_bad_addresses(text):
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        apiproxy.parse_address(text)


def test_apiproxy_forwards_both_ways():
    """Listening in a namespace (here: our own) and forwarding to an upstream, bytes intact."""
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(1)

    def echo():
        conn, _ = upstream.accept()
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data[::-1])
    threading.Thread(target=echo, daemon=True).start()
    listener = apiproxy.listen_in("/proc/self/ns/net", [("127.0.0.1", 0)])[0]
    threading.Thread(target=apiproxy._accept_loop, args=(listener, upstream.getsockname()), daemon=True).start()
    with socket.create_connection(listener.getsockname(), timeout=5) as client:
        client.sendall(b"storekit")
        assert client.recv(100) == b"tikerots"


def test_node_script_usage_and_tool_set(tmp_path):
    result = subprocess.run([str(KIND / "node.sh")], capture_output=True, text=True)
    assert result.returncode == 2 and "usage:" in result.stderr and "up|down|status" in result.stderr
    check = subprocess.run([str(KIND / "tools.sh"), "--check", "node"], capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "STOREKIT_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert check.returncode == 1
    for binary in ("kubelet", "kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr", "coredns", "traefik",
                   "metrics-server", "kube-router"):
        assert binary in check.stderr
    unknown = subprocess.run([str(KIND / "tools.sh"), "nope"], capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin", "STOREKIT_HOME": str(tmp_path), "HOME": str(tmp_path)})
    assert unknown.returncode == 2 and "node = kube-node containerd" in unknown.stderr
