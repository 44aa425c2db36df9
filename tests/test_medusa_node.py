"""A Medusa store that really runs: `storekit apply --engine medusa` on the real node
storekit-node (make node; part of make test), and an order placed through the store's Ingress.

The platform is set as a production cluster would be for the node: the node pool `real`
(STOREKIT_NODE_POOL), its StorageClass `node-local` and Traefik (IngressClass `traefik`).
The images are this machine's `postgres` and `medusa` (make image-medusa), imported into the
node's containerd. Through Traefik at 10.250.0.2 (a `Host:` header picks the store) when the
node's Traefik serves, else through `kubectl port-forward` to the store's Service (the
Ingress is then not awaited; the test says which path it took): a shopper buys Sample
Product from cart to completed checkout, the admin finds the order with the generated
credentials; a password reset lets the admin in with the new password only; a tier change
keeps the order; destroy removes everything. Traffic stays on this machine.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace, Secret

from helpers import free_port, wait_for
from medusa_shop import MedusaShop, admin_sees_order_in_browser, buy_and_check, refused
from storekit import Storekit, StoreSpec
from storekit.errors import StoreNotFound

pytestmark = [pytest.mark.node, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
NODE_IP = "10.250.0.2"
SHOTS = ROOT / "docs" / "screenshots"
CONTAINERD = HOME / "node" / "run" / "containerd" / "containerd.sock"


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    python = str(ROOT / ".venv" / "bin" / "python")
    for argv in (["python3", str(ROOT / "kind" / "medusa_app.py"), "build"],
                 [python, str(ROOT / "kind" / "images.py"), "build", "medusa", "postgres"],
                 [python, str(ROOT / "kind" / "images.py"), "import", "--address", str(CONTAINERD),
                  "medusa", "postgres"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3000)
        assert done.returncode == 0, f"{' '.join(argv[1:3])} failed:\n{done.stderr[-3000:]}"
    index = json.loads((HOME / "images" / "index.json").read_text())
    return {"medusa": index["medusa"], "postgres": index["postgres"]}


def traefik_serves() -> bool:
    ready = subprocess.run(["kubectl", "--kubeconfig", str(HOME / "kubeconfig"), "get", "pods", "-n", "traefik",
                            "-o", "jsonpath={.items[*].status.containerStatuses[*].ready}"],
                           capture_output=True, text=True)
    return "true" in ready.stdout.split()


@pytest.fixture(scope="module")
def kit(settings, kube):
    if not CONTAINERD.is_socket():
        pytest.fail("the real node is not running: make node", pytrace=False)
    # State outside pytest's temporary folders: other test runs on the machine rotate those away.
    state = tempfile.mkdtemp(prefix="storekit-medusa-node-")
    yield Storekit(settings.replace(node_pool="real", storage_class="node-local", ingress_class="traefik",
                                    ingress_namespace="traefik", timeout=900, await_ingress=traefik_serves(),
                                    state_url=f"file://{state}", db_url=f"sqlite:///{state}/catalog.db"))
    shutil.rmtree(state, ignore_errors=True)


class Forward:
    """kubectl port-forward to the store's medusa Service (bound to one pod: restart it after
    the pod is replaced)."""

    def __init__(self, namespace: str):
        self.namespace, self.port, self.process = namespace, free_port(), None

    def start(self) -> int:
        self.stop()
        self.process = subprocess.Popen(["kubectl", "--kubeconfig", str(HOME / "kubeconfig"), "port-forward", "-n",
                                         self.namespace, "svc/medusa", f"{self.port}:9000"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self.port

    def restart(self) -> None:
        if self.process:
            self.start()

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="module")
def store(kit, images, kube):
    spec = StoreSpec(name=f"Medusa Node {uuid.uuid4().hex[:6]}", admin_email="owner@example.com",
                     engine="medusa", images=images)
    started = time.monotonic()
    resolved = kit.resolve(spec)[0]
    forward = Forward(resolved.namespace)
    try:
        result = kit.apply(spec)
        key = _key(kube, resolved.namespace)
    except BaseException:
        kit.destroy(spec.name)  # nothing may outlive a failed start
        raise
    if kit.settings.await_ingress:
        shop = MedusaShop(f"http://{NODE_IP}", key, host=resolved.host)
        browse = {"base_url": f"http://{resolved.host}", "resolve_to": NODE_IP}
        print("\nshopping through Traefik's Ingress")
    else:
        shop = MedusaShop(f"http://127.0.0.1:{forward.start()}", key)
        browse = {"base_url": shop.base, "resolve_to": None}
        print("\nthe node's Traefik does not serve: shopping through kubectl port-forward to the Service")
    yield {"spec": spec, "result": result, "seconds": time.monotonic() - started, "shop": shop, "forward": forward,
           "browse": browse}
    forward.stop()
    try:
        kit.destroy(spec.name)
    except StoreNotFound:
        pass


def _key(kube, namespace: str) -> str:
    """The store's publishable key, from its Secret."""
    return base64.b64decode(kube.get(Secret, "store-credentials", namespace=namespace).data["publishable-key"]).decode()


def test_a_shopper_orders_through_the_ingress_and_the_admin_sees_it(kit, store):
    spec, result = store["spec"], store["result"]
    assert result.action == "create" and result.outputs.admin_user == "owner@example.com"
    shop = store["shop"]
    wait_for(lambda: healthy_through(shop), timeout=120, what="Medusa through Traefik")
    buy_and_check(shop, "owner@example.com", kit.reveal_admin_password(spec.name))
    print(f"\napply to first order possible: {store['seconds']:.0f} s")


def test_the_admin_sees_the_order_in_a_browser_through_the_ingress(kit, store):
    """Medusa's admin dashboard in Chromium, at the store's own host name (resolved to the
    node's Traefik): log in with the generated credentials, open an order, a screenshot."""
    spec, shop = store["spec"], store["shop"]
    order = shop.place_order("Sample Product", email="browser@example.com")
    admin_sees_order_in_browser(store["browse"]["base_url"], spec.admin_email, kit.reveal_admin_password(spec.name),
                                order, SHOTS / "11-node-medusa-admin-order.png",
                                resolve_to=store["browse"]["resolve_to"])


def test_the_store_answers_only_with_its_own_publishable_key(store):
    stranger = MedusaShop(store["shop"].base, "pk_" + "0" * 64, host=store["shop"].host)
    with pytest.raises(AssertionError, match="HTTP 401|HTTP 400"):
        stranger.request("GET", "/store/products")


def healthy_through(shop: MedusaShop) -> bool:
    """Medusa's health check, the way the shop reaches the store (Host header included)."""
    request = urllib.request.Request(f"{shop.base}/health", headers={"Host": shop.host} if shop.host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_password_reset_lets_the_new_password_in_only(kit, store):
    spec, shop = store["spec"], store["shop"]
    old = kit.reveal_admin_password(spec.name)
    new = kit.reset_admin_password(spec.name)
    assert shop.admin_token("owner@example.com", new)
    assert refused(shop, "owner@example.com", old)
    products = shop.request("GET", "/store/products?handle=sample-product")["products"]
    assert len(products) == 1, "the setup Job ran again and duplicated nothing"


def test_a_tier_change_keeps_the_orders(kit, store):
    """A bigger tier grows the volumes (StorageClass node-local allows expansion; the node's
    kind/node/resizer.py finishes each resize) and restarts the pods: the orders stay."""
    spec, shop = store["spec"], store["shop"]
    password = kit.reveal_admin_password(spec.name)
    before = {o["id"] for o in shop.admin_orders("owner@example.com", password)}
    assert before
    assert kit.apply(spec.with_changes(tier="medium")).action == "update"

    def grown():
        volumes = kit.health(spec.name).volumes
        return volumes and all(v.capacity == v.requested for v in volumes)
    wait_for(grown, timeout=60, what="the store's volumes to grow to the medium tier's sizes")
    store["forward"].restart()
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa after the tier change")
    assert before <= {o["id"] for o in shop.admin_orders("owner@example.com", password)}


def test_destroy_removes_everything(kit, store, kube):
    spec = store["spec"]
    assert kit.destroy(spec.name).action == "destroy"
    with pytest.raises(ApiError):
        kube.get(Namespace, kit.resolve(spec)[0].namespace)
