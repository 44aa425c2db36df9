"""A WooCommerce store that really runs: the real pulumi engine creates it on the real node
storekit-node (make node; make test-node), and its pages are served through Traefik.

The platform is the `node` profile (STOREKIT_PROFILE=node): the images built here from
Debian packages (storekit.local/mariadb, storekit.local/wordpress; make images), the node
pool `real`, StorageClass `node-local`, IngressClass `traefik`. The setup Job runs
woocommerce-setup.php in the WordPress image; WooCommerce's source (wordpress.org) is not
reachable from these machines, and the profile allows stores without it, so the store runs
WordPress and says "WooCommerce not installed" with the reason. Traffic goes only to
10.250.0.2 (Traefik's hostPort in the node's network namespace), a `Host:` header picking
the store, and to pods inside that namespace.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, PersistentVolume, Pod

from helpers import wait_for
from storekit import Storekit, StoreSpec
from storekit.errors import JobFailed, StoreNotFound
from storekit.settings import PROFILES

pytestmark = [pytest.mark.node, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
NODE_IP = "10.250.0.2"
CONTAINERD = HOME / "node" / "run" / "containerd" / "containerd.sock"
KUBECTL = ["kubectl", "--kubeconfig", str(HOME / "kubeconfig")]
SHOTS = ROOT / "docs" / "screenshots"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Site:
    """A browser of one store through Traefik: requests to the node's address with the
    store's Host header, cookies kept, redirects not followed (they name the store's host)."""

    def __init__(self, host: str):
        self.host = host
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect)

    def get(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(f"http://{NODE_IP}{path}", data=body, headers={"Host": self.host})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except OSError as e:
            return 0, str(e)

    def login(self, user: str, password: str) -> bool:
        """A real wp-admin login: the form (sets the test cookie), the POST, then /wp-admin/."""
        self.get("/wp-login.php")
        status, _ = self.get("/wp-login.php", {"log": user, "pwd": password, "wp-submit": "Log In",
                                               "redirect_to": f"http://{self.host}/wp-admin/", "testcookie": "1"})
        if status != 302:
            return False
        status, page = self.get("/wp-admin/")
        return status == 200 and "wp-admin-bar" in page and 'id="loginform"' not in page


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    """mariadb and wordpress built (cached) and imported into the node's containerd."""
    if not CONTAINERD.is_socket():
        pytest.fail("the real node is not running: make node", pytrace=False)
    python = str(ROOT / ".venv" / "bin" / "python")
    for argv in ([python, str(ROOT / "kind" / "images.py"), "build", "mariadb", "wordpress"],
                 [python, str(ROOT / "kind" / "images.py"), "import", "--address", str(CONTAINERD),
                  "mariadb", "wordpress"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3000)
        assert done.returncode == 0, f"{' '.join(argv[1:3])} failed:\n{done.stderr[-3000:]}"
    return json.loads((HOME / "images" / "index.json").read_text())


@pytest.fixture(scope="module")
def kit(settings, kube, images) -> Storekit:
    from lightkube.resources.networking_v1 import IngressClass
    from lightkube.resources.storage_v1 import StorageClass

    for kind, name in ((StorageClass, "node-local"), (IngressClass, "traefik")):
        try:
            kube.get(kind, name)
        except ApiError:
            pytest.fail(f"the real node's add-ons are not there ({kind.__name__} {name}): make node", pytrace=False)
    return Storekit(settings.replace(profile="node", **PROFILES["node"], timeout=600))


@pytest.fixture(scope="module")
def store(kit):
    spec = StoreSpec(name=f"Node Shop {uuid.uuid4().hex[:6]}", admin_email="owner@example.com")
    started = time.monotonic()
    try:
        result = kit.apply(spec)
        resolved = kit.resolve(spec)[0]
        site = Site(resolved.host)
        wait_for(lambda: site.get("/")[0] == 200, timeout=120, what=f"the home page through Traefik ({resolved.host})")
        seconds = time.monotonic() - started
        print(f"\napply to the home page answering through the ingress: {seconds:.0f} s")
        yield {"spec": spec, "resolved": resolved, "result": result, "site": site, "seconds": seconds}
    finally:
        try:
            kit.destroy(spec.name)
        except StoreNotFound:
            pass


def test_the_store_runs_real_containers_from_the_local_images(kit, store, kube, images):
    ns = store["resolved"].namespace
    pods = {p.metadata.labels.get("app.kubernetes.io/name"): p for p in kube.list(Pod, namespace=ns)}
    for component, image in (("mysql", images["mariadb"]), ("wordpress", images["wordpress"])):
        pod = pods[component]
        assert pod.spec.nodeName == "storekit-node" and pod.status.phase == "Running"
        assert pod.spec.containers[0].image == image
        assert pod.status.containerStatuses[0].ready
    setup = pods["woocommerce-setup"]
    assert setup.status.phase == "Succeeded"
    assert setup.spec.securityContext.runAsUser == 33 and setup.spec.containers[0].image == images["wordpress"]
    # Every volume is a real directory on the node (StorageClass node-local).
    for claim in ("mysql-data", "wordpress-data"):
        volume = kube.get(PersistentVolume, _volume_name(kube, ns, claim))
        assert volume.spec.storageClassName == "node-local"


def serving_pod(kube, ns: str, component: str) -> Pod:
    """The component's pod that serves now: Running, its container ready, not being deleted
    (right after a rollout the old pod may still be listed)."""
    def ready(p: Pod) -> bool:
        statuses = p.status.containerStatuses or []
        return p.metadata.deletionTimestamp is None and p.status.phase == "Running" and \
            bool(statuses) and all(c.ready for c in statuses)
    return wait_for(lambda: next((p for p in kube.list(Pod, namespace=ns, labels={"app.kubernetes.io/name": component})
                                  if ready(p)), None), timeout=120, what=f"a ready {component} pod in {ns}")


def _volume_name(kube, ns: str, claim: str) -> str:
    from lightkube.resources.core_v1 import PersistentVolumeClaim

    return kube.get(PersistentVolumeClaim, claim, namespace=ns).spec.volumeName


def test_the_home_page_answers_through_traefik_with_the_store_name(store):
    status, page = store["site"].get("/")
    assert status == 200
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title and store["spec"].name in title.group(1), page[:500]
    # Another host is not this store.
    assert Site(f"nothing-{uuid.uuid4().hex[:6]}.stores.localhost").get("/")[0] == 404


def test_woocommerce_not_installed_is_said_with_its_reason(kit, store):
    notices = kit.outputs(store["spec"].name).notices
    assert len(notices) == 1 and notices[0].startswith("WooCommerce not installed: "), notices
    assert "downloads.wordpress.org" in notices[0]
    assert kit.health(store["spec"].name).notices == notices


def test_wp_admin_login_with_the_generated_password_then_after_a_reset(kit, store):
    spec = store["spec"]
    user, old = spec.admin_user, kit.reveal_admin_password(spec.name)
    assert Site(store["resolved"].host).login(user, old)
    assert not Site(store["resolved"].host).login(user, old + "-wrong")
    new = kit.reset_admin_password(spec.name)
    assert new != old
    assert Site(store["resolved"].host).login(user, new)
    assert not Site(store["resolved"].host).login(user, old)


def test_health_reads_pod_usage_from_metrics_server(kit, store):
    def measured():
        h = kit.health(store["spec"].name)
        serving = [p for p in h.pods if p.component in ("wordpress", "mysql")]
        return h.metrics and all(p.cpu and p.memory for p in serving) and h
    health = wait_for(measured, timeout=180, every=5, what="metrics-server to report the store's pods")
    assert health.healthy
    mysql = next(p for p in health.pods if p.component == "mysql")
    assert mysql.memory.endswith("Mi") and int(mysql.memory[:-2]) > 10  # a real MariaDB uses real memory


def test_screenshots_of_the_store_and_its_dashboard(kit, store):
    """In Chromium (Playwright, headless): the store's home page through Traefik, its wp-admin
    after a real login, and the dashboard's Health tab with the real pods' CPU and memory. They
    go to docs/screenshots/ (the README shows them)."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is needed for this test: make packages"
    from playwright.sync_api import expect, sync_playwright
    from werkzeug.serving import make_server

    from storekit.tokens import ensure_admin_token
    from storekit.webapp import create_app

    spec, resolved = store["spec"], store["resolved"]
    app = create_app({"SETTINGS": kit.settings, "KIT": kit, "SECRET_KEY": "node-screenshots"})
    token = ensure_admin_token(kit.catalog)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dashboard = f"http://127.0.0.1:{server.server_port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", f"--host-resolver-rules=MAP {resolved.host} {NODE_IP}"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(f"http://{resolved.host}/")
            expect(page).to_have_title(re.compile(re.escape(spec.name)))
            page.screenshot(path=str(SHOTS / "08-node-store-home.png"), full_page=True)
            page.goto(f"http://{resolved.host}/wp-login.php")
            page.fill("#user_login", spec.admin_user)
            page.fill("#user_pass", kit.reveal_admin_password(spec.name))
            page.click("#wp-submit")
            expect(page.locator("#wpadminbar")).to_be_visible(timeout=60_000)
            page.screenshot(path=str(SHOTS / "09-node-store-wp-admin.png"))
            page.goto(dashboard + "/login")
            page.get_by_label("Access token").fill(token)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Stores")).to_be_visible()
            page.goto(f"{dashboard}/stores/{spec.slug}?tab=health")
            expect(page.get_by_text("Healthy", exact=True)).to_be_visible()
            expect(page.locator("meter").first).to_be_visible()
            page.screenshot(path=str(SHOTS / "10-node-store-health.png"), full_page=True)
        finally:
            browser.close()
            server.shutdown()


def test_logs_are_the_containers_own_output(kit, store):
    setup = "\n".join(kit.logs(store["spec"].name, "woocommerce-setup"))
    assert "setup: WordPress" in setup and "WOOCOMMERCE_OPTIONAL=true" in setup
    assert "simulated" not in setup
    mysql = list(kit.logs(store["spec"].name, "mysql", tail=None))
    assert any("[entrypoint]" in line or "ready for connections" in line for line in mysql), mysql[-20:]


def test_restart_brings_new_pods_and_the_page_back(kit, store, kube):
    ns, site = store["resolved"].namespace, store["site"]
    before = {p.metadata.name for p in kube.list(Pod, namespace=ns, labels={"app.kubernetes.io/name": "wordpress"})}
    kit.restart(store["spec"].name)
    after = {p.metadata.name for p in kube.list(Pod, namespace=ns, labels={"app.kubernetes.io/name": "wordpress"})
             if p.metadata.deletionTimestamp is None}
    assert after and not after & before
    wait_for(lambda: site.get("/")[0] == 200, timeout=120, what="the home page after the restart")


def node_resizes(kube) -> bool:
    """StorageClass node-local allows expansion and the node's resizer runs (a node started
    before kind/node/resizer.py gets both from `make node`)."""
    from lightkube.resources.storage_v1 import StorageClass

    try:
        pid = int((HOME / "node" / "run" / "pids" / "resizer.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return bool(kube.get(StorageClass, "node-local").allowVolumeExpansion)


def test_a_tier_change_is_enforced_by_the_kubelet_and_grows_the_volumes(kit, store, kube):
    if not node_resizes(kube):
        pytest.fail("the real node cannot grow volumes yet (StorageClass node-local without allowVolumeExpansion, "
                    "or kind/node/resizer.py not running): make node", pytrace=False)
    spec, ns = store["spec"], store["resolved"].namespace
    assert kit.apply(spec.with_changes(tier="medium")).action == "update"
    limits = kube.get(Deployment, "wordpress", namespace=ns).spec.template.spec.containers[0].resources.limits
    assert limits["memory"] == "1Gi"
    # The running container's cgroup has the new limit (cgroup v1: memory.limit_in_bytes).
    def memory_limit():
        read = subprocess.run([*KUBECTL, "exec", "-n", ns, serving_pod(kube, ns, "wordpress").metadata.name, "--",
                               "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"],
                              capture_output=True, text=True, timeout=60)
        return read.returncode == 0 and int(read.stdout)
    assert wait_for(memory_limit, timeout=60, what="the WordPress container's memory limit") == 2**30
    # The volumes grew to the tier's sizes, claim and volume (node-local allows expansion;
    # kind/node/resizer.py finishes each resize), and the data on them is still there.
    sizes = {"wordpress-data": "5Gi", "mysql-data": "10Gi"}

    def grown():
        volumes = {v.name: v.capacity for v in kit.health(spec.name).volumes}
        return volumes == sizes and volumes
    wait_for(grown, timeout=60, what=f"the store's volumes to grow to {sizes}")
    for claim, size in sizes.items():
        assert kube.get(PersistentVolume, _volume_name(kube, ns, claim)).spec.capacity["storage"] == size
    wait_for(lambda: store["site"].get("/")[0] == 200, timeout=120, what="the home page after the tier change")
    status, page = store["site"].get("/")
    assert spec.name in page  # still the store's own site, from its own database


def test_another_namespace_cannot_reach_the_store_database(kit, store, kube, images):
    ns = store["resolved"].namespace
    other = f"tnode-probe-{uuid.uuid4().hex[:6]}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", "namespace": other},
           "spec": {"nodeSelector": {"storekit.io/node-pool": "real"}, "terminationGracePeriodSeconds": 1,
                    "tolerations": [{"key": "storekit.io/node-pool", "operator": "Equal", "value": "real",
                                     "effect": "NoSchedule"}],
                    "containers": [{"name": "main", "image": images["busybox"], "imagePullPolicy": "Never",
                                    "command": ["sleep", "3600"]}]}}
    subprocess.run([*KUBECTL, "create", "namespace", other], check=True, capture_output=True)
    try:
        subprocess.run([*KUBECTL, "apply", "-f", "-"], input=json.dumps(pod), check=True, capture_output=True,
                       text=True)
        subprocess.run([*KUBECTL, "wait", "-n", other, "--for=condition=Ready", "--timeout=120s", "pod/probe"],
                       check=True, capture_output=True, timeout=130)
        mysql_ip = serving_pod(kube, ns, "mysql").status.podIP

        def opens(host: str) -> bool:
            return subprocess.run([*KUBECTL, "exec", "-n", other, "probe", "--", "sh", "-c",
                                   f"nc -w 3 {host} 3306 </dev/null"], capture_output=True, timeout=60).returncode == 0
        assert not opens(f"mysql.{ns}.svc.cluster.local"), "another namespace opened the store's MySQL Service"
        assert not opens(mysql_ip), "another namespace opened the store's MySQL pod"
        # While inside the store, WordPress reaches it (the home page is rendered from it).
        assert store["site"].get("/")[0] == 200
    finally:
        subprocess.run([*KUBECTL, "delete", "namespace", other, "--wait=false"], capture_output=True)


def test_the_quota_and_the_limit_range_refuse_an_over_limit_pod(store, kube, images):
    """The API server refuses, naming the rule: a container over the LimitRange's maximum, and
    a pod within it that the namespace's ResourceQuota has no room left for."""
    from lightkube.models.core_v1 import Container, PodSpec, ResourceRequirements
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import LimitRange, ResourceQuota
    from lightkube.utils.quantity import parse_quantity

    ns = store["resolved"].namespace
    most = next(item for item in kube.get(LimitRange, "store-limits", namespace=ns).spec.limits
                if item.type == "Container").max
    quota = kube.get(ResourceQuota, "store-quota", namespace=ns).status
    room = parse_quantity(quota.hard["limits.memory"]) - parse_quantity(quota.used["limits.memory"])

    def refusal(containers: int, cpu: str, memory: str) -> str:
        pod = Pod(metadata=ObjectMeta(name=f"over-{uuid.uuid4().hex[:6]}", namespace=ns), spec=PodSpec(
            restartPolicy="Never", nodeSelector={"storekit.io/node-pool": "real"},
            containers=[Container(name=f"c{i}", image=images["busybox"], imagePullPolicy="Never", command=["true"],
                                  resources=ResourceRequirements(limits={"cpu": cpu, "memory": memory}))
                        for i in range(containers)]))
        try:
            kube.create(pod)
        except ApiError as e:
            assert e.status.code == 403, e.status
            return e.status.message
        kube.delete(Pod, pod.metadata.name, namespace=ns)
        raise AssertionError(f"a pod over the limits was admitted: {pod.spec.containers[0].resources}")

    too_big = refusal(1, f"{parse_quantity(most['cpu']) * 4}", most["memory"])
    assert f"maximum cpu usage per Container is {most['cpu']}" in too_big, too_big
    # Containers at the LimitRange's maximum memory, enough of them to exceed what the quota has left.
    containers = int(room / parse_quantity(most["memory"])) + 1
    over_quota = refusal(containers, most["cpu"], most["memory"])
    assert "exceeded quota: store-quota" in over_quota and "limits.memory" in over_quota, over_quota


def test_a_setup_job_that_fails_stops_the_apply_at_once(kit, store):
    """WooCommerce required (woocommerce_optional false) while its source is unreachable: the
    setup script exits 3 and the Job's podFailurePolicy fails the Job (reason PodFailurePolicy),
    which the provider's own wait for the Job never notices (it would wait out the timeout and
    raise OperationTimeout). storekit stops the update and names the Job, the reason and what
    its pod said."""
    name = store["spec"].name
    strict = Storekit(kit.settings.replace(woocommerce_optional=False))
    started = time.monotonic()
    with pytest.raises(JobFailed) as failed:
        strict.apply(kit.spec_of(name))
    print(f"\nthe failed setup Job stopped the apply after {time.monotonic() - started:.0f} s "
          f"(timeout {kit.settings.timeout} s)")
    error = failed.value
    assert (error.job, error.reason) == ("woocommerce-setup", "PodFailurePolicy")
    assert "exit code 3" in error.message and "downloads.wordpress.org" in error.message, error.message
    assert "storekit logs" in error.hint and "woocommerce-setup" in error.hint
    assert kit.outputs(name).status == "failed"


def test_destroy_leaves_nothing(kit, store, kube):
    spec, ns = store["spec"], store["resolved"].namespace
    volumes = [_volume_name(kube, ns, c) for c in ("mysql-data", "wordpress-data")]
    assert kit.destroy(spec.name).action == "destroy"
    with pytest.raises(ApiError):
        kube.get(Namespace, ns)
    for volume in volumes:
        wait_for(lambda: not (HOME / "node" / "volumes" / volume).exists(), timeout=60,
                 what=f"the volume folder {volume} to be removed")
        with pytest.raises(ApiError):
            kube.get(PersistentVolume, volume)
    # No container of the store is left on the node.
    def containers() -> str:
        listed = subprocess.run([str(HOME / "tools" / "bin" / "ctr"), "--address", str(CONTAINERD), "-n", "k8s.io",
                                 "containers", "ls", "-q", f'labels."io.kubernetes.pod.namespace"=={ns}'],
                                capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        return listed.stdout.strip()
    wait_for(lambda: containers() == "", timeout=120, what=f"the node to remove the containers of {ns}")
    assert Site(store["resolved"].host).get("/")[0] == 404

