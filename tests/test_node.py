"""The real node storekit-node, running (make node; make test-node): containers really run.

Every test sends traffic only to loopback and to addresses inside the node's network namespace
(10.250.0.2, the pod range). Pods run the `busybox` image built by kind/images.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from helpers import wait_for

pytestmark = [pytest.mark.node, pytest.mark.cluster]

HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
KUBECONFIG = HOME / "kubeconfig"
NODE = "storekit-node"
NODE_IP = "10.250.0.2"
HOST_IP = "10.250.0.1"
PLACEMENT = {"nodeSelector": {"storekit.io/node-pool": "real"},
             "tolerations": [{"key": "storekit.io/node-pool", "operator": "Equal", "value": "real",
                              "effect": "NoSchedule"}]}


def kubectl(*args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(["kubectl", "--kubeconfig", str(KUBECONFIG), *args], input=input,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()[-1000:]}")
    return result.stdout


def apply(*docs: dict) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))


def exec_in(ns: str, pod: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", "--kubeconfig", str(KUBECONFIG), "exec", "-n", ns, pod, "--", *command],
                          capture_output=True, text=True, timeout=timeout)


def fetch(ns: str, pod: str, url: str, seconds: int = 5) -> subprocess.CompletedProcess:
    """GET ``url`` from inside a pod (BusyBox wget; its own -T crashes, so `timeout` bounds it)."""
    return exec_in(ns, pod, "timeout", str(seconds), "wget", "-q", "-O", "-", url, timeout=seconds + 30)


def connects(ns: str, pod: str, host: str, port: int | str) -> bool:
    """Whether a pod can open a TCP connection to host:port within 3 s (BusyBox nc)."""
    return exec_in(ns, pod, "sh", "-c", f"nc -w 3 {host} {port} </dev/null").returncode == 0


def http_get(url: str, host: str | None = None, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def busybox() -> str:
    index = json.loads((HOME / "images" / "index.json").read_text())
    if "busybox" not in index:
        pytest.fail("the busybox image is not built: make node (or kind/images.py build busybox)", pytrace=False)
    return index["busybox"]


@pytest.fixture(scope="module")
def node(busybox) -> str:
    ready = subprocess.run(["kubectl", "--kubeconfig", str(KUBECONFIG), "get", "node", NODE, "-o",
                            "jsonpath={.status.conditions[?(@.type=='Ready')].status}"],
                           capture_output=True, text=True)
    if ready.stdout != "True":
        pytest.fail(f"the real node {NODE} is not Ready: run `make node` (kind/node.sh status says why)",
                    pytrace=False)
    return NODE


def pod(name: str, ns: str, image: str, script: str, labels: dict | None = None, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
            "spec": {**PLACEMENT, "terminationGracePeriodSeconds": 1,
                     "securityContext": {"runAsUser": 65534, "runAsGroup": 65534},
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                                     "command": ["sh", "-c", script], **spec}]}}


def web_pod(name: str, ns: str, image: str, marker: str) -> dict:
    script = (f"mkdir -p /tmp/www && echo {marker} > /tmp/www/index.html && echo serving {marker} "
              "&& exec httpd -f -p 8080 -h /tmp/www")
    return pod(name, ns, image, script, ports=[{"containerPort": 8080}],
               readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1})


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(name: str, ns: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"port": 8080, "targetPort": 8080}]}}


def ingress(name: str, ns: str, host: str) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": ns},
            "spec": {"ingressClassName": "traefik", "rules": [{"host": host, "http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": name, "port": {"number": 8080}}}}]}}]}}


def wait_ready(ns: str, *pods: str, timeout: int = 120) -> None:
    kubectl("wait", "-n", ns, "--for=condition=Ready", f"--timeout={timeout}s", *[f"pod/{p}" for p in pods],
            timeout=timeout + 10)


@pytest.fixture(scope="module")
def stores(node, busybox):
    """Two namespaces like two stores: `a` (web + client) and `b` (web), each with a Service."""
    run = uuid.uuid4().hex[:6]
    a, b = f"tnode-a-{run}", f"tnode-b-{run}"
    apply(namespace(a), namespace(b))
    apply(web_pod("web", a, busybox, f"marker-{a}"), service("web", a),
          pod("client", a, busybox, "exec sleep 3600"),
          web_pod("web", b, busybox, f"marker-{b}"), service("web", b))
    wait_ready(a, "web", "client")
    wait_ready(b, "web")
    yield {"a": a, "b": b}
    kubectl("delete", "namespace", a, b, "--wait=false", check=False)


def pod_ip(ns: str, name: str) -> str:
    return kubectl("get", "pod", "-n", ns, name, "-o", "jsonpath={.status.podIP}")


def test_a_pod_runs_real_containers_on_the_real_node(stores):
    a = stores["a"]
    assert kubectl("get", "pod", "-n", a, "web", "-o", "jsonpath={.spec.nodeName}") == NODE
    ip = pod_ip(a, "web")
    assert ip.startswith("10.244.0."), ip
    # The container's own output, through the kubelet.
    assert f"serving marker-{a}" in kubectl("logs", "-n", a, "web")
    # Its HTTP server, reached from the host through the node's namespace.
    assert http_get(f"http://{ip}:8080/") == (200, f"marker-{a}\n")
    # A real process, in a cgroup under the node's cgroup root.
    cgroup = exec_in(a, "web", "cat", "/proc/1/cgroup")
    assert cgroup.returncode == 0 and "/storekit-node/kubepods" in cgroup.stdout, cgroup.stdout + cgroup.stderr


def test_dns_resolves_service_names_and_nothing_outside(stores):
    a = stores["a"]
    cluster_ip = kubectl("get", "service", "-n", a, "web", "-o", "jsonpath={.spec.clusterIP}")
    looked_up = exec_in(a, "client", "nslookup", f"web.{a}.svc.cluster.local")
    assert looked_up.returncode == 0 and cluster_ip in looked_up.stdout, looked_up.stdout + looked_up.stderr
    # The short name through the pod's search path, and the Service through kube-proxy.
    fetched = fetch(a, "client", "http://web:8080/")
    assert fetched.stdout == f"marker-{a}\n", fetched.stderr
    outside = exec_in(a, "client", "nslookup", "example.com")
    assert outside.returncode != 0 or "Address" not in outside.stdout.split("example.com", 1)[-1]


def test_an_ingress_answers_through_traefik_on_the_node_address(stores):
    a = stores["a"]
    host = f"{a}.storekit.test"
    apply(ingress("web", a, host))
    status = wait_for(lambda: kubectl("get", "ingress", "-n", a, "web", "-o",
                                      "jsonpath={.status.loadBalancer.ingress[0].ip}"),
                      timeout=60, what="Traefik to admit the Ingress")
    assert status == NODE_IP
    answer = wait_for(lambda: (r := http_get(f"http://{NODE_IP}/", host=host))[0] == 200 and r,
                      timeout=60, what=f"http://{NODE_IP}/ with Host: {host} to answer")
    assert answer == (200, f"marker-{a}\n")
    assert http_get(f"http://{NODE_IP}/", host="unknown.storekit.test")[0] == 404


def test_network_policy_is_enforced(stores):
    a, b = stores["a"], stores["b"]
    target = f"http://{pod_ip(b, 'web')}:8080/"
    before = fetch(a, "client", target)
    assert before.stdout == f"marker-{b}\n", f"reachable before the policy: {before.stderr}"
    # What a store's namespace gets: ingress from its own pods and the ingress controller only.
    apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "default-deny-ingress", "namespace": b},
           "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
               {"podSelector": {}},
               {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "traefik"}}}]}]}})
    wait_for(lambda: fetch(a, "client", target, seconds=2).returncode != 0,
             timeout=30, what="kube-router to block store a's pod from store b's")
    host = f"{b}.storekit.test"
    apply(ingress("web", b, host))
    answer = wait_for(lambda: (r := http_get(f"http://{NODE_IP}/", host=host))[0] == 200 and r,
                      timeout=60, what="the ingress controller to still reach store b")
    assert answer == (200, f"marker-{b}\n")


def test_metrics_server_reports_the_pod(stores):
    a = stores["a"]
    path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{a}/pods/web"

    def usage():
        raw = kubectl("get", "--raw", path, check=False)
        return raw and json.loads(raw)["containers"][0]["usage"]
    found = wait_for(usage, timeout=120, every=3, what="metrics-server to report the pod")
    assert found["memory"].endswith("Ki") and "cpu" in found


def test_node_local_volumes_are_directories_that_go_with_their_claim(stores, busybox):
    a = stores["a"]
    apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": a},
           "spec": {"storageClassName": "node-local", "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "10Mi"}}}})
    writer = pod("writer", a, busybox, "echo kept > /data/file && exec sleep 3600",
                 volumeMounts=[{"name": "data", "mountPath": "/data"}])
    writer["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    apply(writer)
    wait_ready(a, "writer")
    volume = kubectl("get", "pvc", "-n", a, "data", "-o", "jsonpath={.spec.volumeName}")
    folder = HOME / "node" / "volumes" / volume
    assert (folder / "file").read_text() == "kept\n"
    kubectl("delete", "pod", "-n", a, "writer", "--wait=true", timeout=120)
    kubectl("delete", "pvc", "-n", a, "data", "--wait=true", timeout=120)
    wait_for(lambda: not folder.exists(), timeout=60, what=f"{folder} to be removed with its claim")


def test_pods_reach_neither_the_host_nor_the_kubelet(stores):
    a = stores["a"]
    listener = socket.socket()
    listener.bind((HOST_IP, 0))
    listener.listen(1)
    with listener:
        port = listener.getsockname()[1]
        assert not connects(a, "client", HOST_IP, port), "a pod opened a connection to the host"
    assert not connects(a, "client", NODE_IP, 10250), "a pod reached the kubelet's port"
    assert connects(a, "client", pod_ip(a, "web"), 8080)  # while pod to pod works
    # The API server (on the host) still reaches the kubelet: logs and exec above went through it.
    assert exec_in(a, "client", "true").returncode == 0
