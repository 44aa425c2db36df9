"""The platform image (Dockerfile), built and run for real on Debian's docker.io.

The image is built by kind/image.sh on a base image made from Debian packages (no image
registry is reachable here), so a warm machine rebuilds only the changed source layer.
The container must serve /healthz through its own HEALTHCHECK, run as a non-root user
under an init, stop cleanly on SIGTERM, and — with nothing but a service account token,
as in a pod — create and destroy a store on the local cluster with the real engine and
plugin it carries, under exactly the RBAC the chart grants.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from helpers import service_account_folder, wait_for
from lightkube.resources.core_v1 import Namespace

from storekit import __version__
from storekit.spec import StoreSpec

pytestmark = [pytest.mark.image, pytest.mark.cluster]
ROOT = Path(__file__).resolve().parent.parent
IMAGE = f"storekit:{__version__}"
BASE = "storekit-base:bookworm"


def _sh(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def docker():
    """The docker client, with a daemon running and the image built (cached layers)."""
    for step in (["daemon"], ["base"], ["build", "--base", BASE]):
        result = _sh(str(ROOT / "kind" / "image.sh"), *step, timeout=3600)
        assert result.returncode == 0, f"kind/image.sh {' '.join(step)} failed:\n{result.stderr[-3000:]}"
    client = _sh("bash", "-c", f". {ROOT}/kind/docker-cli.sh && docker_cli").stdout.strip()

    def run(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        result = _sh(client, *args, timeout=timeout)
        if check:
            assert result.returncode == 0, f"docker {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result
    return run


@pytest.fixture
def container(docker):
    """Start the image as `docker run` would by default; remove it afterwards."""
    names = []

    def start(*args: str) -> str:
        name = f"storekit-test-{uuid.uuid4().hex[:8]}"
        names.append(name)
        docker("run", "-d", "--name", name, *args, IMAGE)
        return name
    yield start
    for name in names:
        docker("rm", "-f", name, check=False)


def test_container_is_healthy_non_root_under_init_and_stops_cleanly(docker, container):
    token = f"sk_{uuid.uuid4().hex}"  # as the chart hands it in from its Secret
    name = container("-p", "127.0.0.1::8080", "-e", f"STOREKIT_ADMIN_TOKEN={token}")
    port = docker("port", name, "8080").stdout.split(":")[-1].strip()

    def healthz():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return r.status == 200 and json.load(r)
        except OSError:
            return None
    assert wait_for(healthz, 60, what="/healthz") == {"status": "ok"}
    # The image's own HEALTHCHECK agrees.
    status = wait_for(lambda: (s := docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip())
                      in ("healthy", "unhealthy") and s, 90, what="the Docker health status")
    assert status == "healthy"

    assert docker("exec", name, "id", "-u").stdout.strip() == "10001"
    init = docker("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
    assert init[0] == "/usr/bin/tini" and init[2:4] == ["storekit", "serve"]
    # The engine and its plugin are there, at the versions storekit pins.
    versions = docker("exec", name, "pulumi", "version").stdout.strip()
    assert versions == "v3.274.1"
    plugins = docker("exec", name, "ls", "/home/storekit/.pulumi/plugins").stdout.split()
    assert "resource-kubernetes-v4.25.0" in plugins
    logs = docker("logs", name)
    assert "storekit dashboard: http://0.0.0.0:8080/" in logs.stdout
    assert token not in logs.stdout + logs.stderr and "Admin token" not in logs.stdout, "a given token is not shown"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/stores", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as r:
        assert json.load(r)["stores"] == []

    started = time.monotonic()
    docker("stop", "-t", "20", name)
    assert time.monotonic() - started < 15, "SIGTERM did not stop the server promptly"
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"


@pytest.fixture
def service_account(settings, tmp_path):
    """The chart's ServiceAccount, ClusterRoles, binding and admission policy on the local
    cluster, and a folder laid out as Kubernetes mounts a pod's service account."""
    namespace = f"sk-image-{uuid.uuid4().hex[:6]}"
    helm = settings.home_path / "tools" / "bin" / "helm"
    rendered = _sh(str(helm), "template", "imagetest", str(ROOT / "charts" / "store-platform"),
                   "--namespace", namespace, "--show-only", "templates/serviceaccount.yaml",
                   "--show-only", "templates/clusterrole.yaml", "--show-only", "templates/clusterrolebinding.yaml",
                   "--show-only", "templates/admission-policy.yaml")
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert sorted(d["kind"] for d in docs) == ["ClusterRole", "ClusterRole", "ClusterRoleBinding", "ServiceAccount",
                                               "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    kubectl = ["kubectl", "--kubeconfig", settings.kubeconfig]

    def kc(*args: str, input: str | None = None) -> str:
        result = subprocess.run([*kubectl, *args], input=input, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout
    kc("create", "namespace", namespace)
    try:
        kc("-n", namespace, "apply", "-f", "-", input=rendered.stdout)
        folder = tmp_path / "serviceaccount"
        token = kc("-n", namespace, "create", "token", "imagetest-store-platform", "--duration", "1h")
        host, port = service_account_folder(folder, settings.kubeconfig, token, namespace)
        yield folder, host, port, namespace
    finally:
        for doc in docs:
            if doc["kind"] != "ServiceAccount":
                kc("delete", doc["kind"].lower(), doc["metadata"]["name"], "--ignore-not-found")
        kc("delete", "namespace", namespace, "--wait=false")


def test_image_creates_and_destroys_a_store_in_cluster(docker, service_account, kube, tmp_path):
    """The image's engine, with only the chart's RBAC and a service account, as in a pod."""
    folder, host, port, namespace = service_account
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)  # the container's user (10001) writes its state and catalog here
    name = f"Image {uuid.uuid4().hex[:4]}"
    slug = StoreSpec(name=name, admin_email="img@example.com").slug
    base = ["run", "--rm", "--network", "host", "-e", f"KUBERNETES_SERVICE_HOST={host}",
            "-e", f"KUBERNETES_SERVICE_PORT={port}",
            # As the chart's Deployment says: the store role bound in each store namespace.
            "-e", "STOREKIT_STORE_ROLE=imagetest-store-platform-store-manager",
            "-e", f"STOREKIT_SERVICE_ACCOUNT={namespace}/imagetest-store-platform",
            "-v", f"{folder}:/var/run/secrets/kubernetes.io/serviceaccount:ro", "-v", f"{data}:/data", IMAGE]

    doctor = docker(*base, "doctor", check=False)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"https://{host}:{port}" in doctor.stdout
    try:
        applied = docker(*base, "apply", name, "--email", "img@example.com", "--auto-approve", "--json",
                         timeout=600)
        result = json.loads(applied.stdout)
        assert result["action"] == "create", result
        assert result["outputs"]["slug"] == slug
        ns = kube.get(Namespace, f"store-{slug}")
        assert ns.metadata.labels["storekit.io/store"] == slug
        listed = json.loads(docker(*base, "list", "--json").stdout)
        assert [s["slug"] for s in listed] == [slug] and listed[0]["status"] == "ready"
    finally:
        destroyed = docker(*base, "destroy", name, "--auto-approve", "--json", check=False, timeout=600)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr

    def gone():
        try:
            kube.get(Namespace, f"store-{slug}")
        except Exception:
            return True
        return False
    wait_for(gone, 120, what=f"namespace store-{slug} to go")


def test_in_cluster_outside_a_pod_names_the_fix(docker):
    """STOREKIT_KUBECONFIG=in-cluster (the image's default) without a service account."""
    result = docker("run", "--rm", IMAGE, "doctor", check=False)
    assert result.returncode == 6, result.stdout + result.stderr
    assert "in-cluster" in result.stderr and "STOREKIT_KUBECONFIG" in result.stderr
    assert "Traceback" not in result.stderr
