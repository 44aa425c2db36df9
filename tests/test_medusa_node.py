"""A Medusa store that really runs: `storekit apply --engine medusa` on the real node
storekit-node (make node; part of make test), and an order placed through the store's Ingress.

The platform is set as a production cluster would be for the node: the node pool `real`
(STOREKIT_NODE_POOL), its StorageClass `node-local` and Traefik (IngressClass `traefik`).
The images are this machine's `postgres` and `medusa` (make image-medusa), imported into the
node's containerd. Through Traefik at 10.250.0.2 (a `Host:` header picks the store) when the
node's Traefik serves, else through `kubectl port-forward` to the store's Service (the
Ingress is then not awaited; the test says which path it took): a shopper buys Sample
Product from cart to completed checkout, the admin finds the order with the generated
credentials, also in Chromium; a password reset lets the admin in with the new password only.
Then its data (docs/backups.md), to the S3-compatible server of tests/test_backup_node.py
(versitygw on the node, tests/s3server.py): the Sample Product renamed after a backup, the
backup restored, the original title back and the store still sells; a clone with the order,
its own admin password (the source's refused) and its own publishable key; the store's backup
CronJob run now, its backup listed verified (retention keeping the newest) and restored. A
tier change keeps the orders; destroy removes everything. One store for the module (and the
clone): a Medusa store takes 1.5 to 2.5 minutes to create here. Traffic stays on this machine.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace, Secret

import s3server
from helpers import free_port, wait_for
from medusa_shop import MedusaShop, ShopError, admin_sees_order_in_browser, buy_and_check, refused
from storekit import Storekit, StoreSpec
from storekit.errors import BackupNotFound, SpecError, StoreNotFound

pytestmark = [pytest.mark.node, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
NODE_IP = "10.250.0.2"
SHOTS = ROOT / "docs" / "screenshots"
EMAIL = "owner@example.com"
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


# ---- backups, restore, clone and scheduled backups of the same store (docs/backups.md) ----

@pytest.fixture(scope="module")
def node_images() -> dict[str, str]:
    """The backup image (scheduled backups) and versitygw's, built (cached) and imported."""
    return s3server.node_images()


@pytest.fixture(scope="module")
def s3(node_images):
    """versitygw run on the node (the CronJob's pod uploads from there)."""
    server = s3server.start_on_node(node_images["versitygw"])
    yield server
    s3server.stop(server)


@pytest.fixture(scope="module")
def backups(kit, s3) -> Storekit:
    return Storekit(kit.settings.replace(**s3.settings(), backup_location=f"{s3.bucket('backups')}/stores"))


def _sample(shop, token: str) -> dict:
    query = urllib.parse.urlencode({"q": "Sample Product", "fields": "id,title,handle"})
    found = [p for p in shop.request("GET", f"/admin/products?{query}", token=token, store=False)["products"]
             if p["handle"] == "sample-product"]
    assert len(found) == 1, found
    return found[0]


def test_a_backup_to_s3_restores_the_renamed_sample_product_and_the_store_still_sells(kit, store, backups):
    spec, shop = store["spec"], store["shop"]
    location = backups.settings.backup_location
    password = kit.reveal_admin_password(spec.name)
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa before the backup")
    token = shop.admin_token(EMAIL, password)
    product = _sample(shop, token)
    assert product["title"] == "Sample Product"

    started = time.monotonic()
    info = backups.backup(spec.name)
    print(f"\nbackup of a Medusa store (seeded): {time.monotonic() - started:.1f} s, {info.size} bytes "
          f"({', '.join(f'{p.file} {p.size}' for p in info.parts)})")
    assert info.verified and info.engine == "medusa"
    assert {p.file for p in info.parts} == {"database.sql.gz", "uploads.tar.gz"}

    shop.request("POST", f"/admin/products/{product['id']}", {"title": "Renamed after the backup"},
                 token=token, store=False)
    assert _sample(shop, token)["title"] == "Renamed after the backup"

    started = time.monotonic()
    result = backups.restore(spec.name, info.id, location=location)
    print(f"restore: {time.monotonic() - started:.1f} s, {result.downtime_seconds:.1f} s stopped "
          "(database closed, then the medusa pod replaced)")
    assert result.healthy
    store["forward"].restart()  # a port-forward is bound to the replaced pod
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa after the restore")
    token = shop.admin_token(EMAIL, password)
    assert _sample(shop, token)["title"] == "Sample Product"
    buy_and_check(shop, EMAIL, password)  # the restored store takes orders
    actions = [a.action for a in kit.catalog.audit_entries(store=kit.resolve(spec)[0].slug)]
    assert "backup" in actions and "restore" in actions


def _shop_of(kit, name: str, key: str) -> tuple[MedusaShop, Forward | None]:
    """A store's shop, the way the module's store is reached (Traefik, else a port-forward)."""
    resolved = kit.resolve(kit.spec_of(name))[0]
    if kit.settings.await_ingress:
        return MedusaShop(f"http://{NODE_IP}", key, host=resolved.host), None
    forward = Forward(resolved.namespace)
    return MedusaShop(f"http://127.0.0.1:{forward.start()}", key), forward


def _dump_of(backups: Storekit, slug: str, backup_id: str) -> str:
    """A backup's database dump, as text."""
    from storekit.backups.location import open_location

    location = open_location(backups.settings.backup_location, backups.settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "database.sql.gz")
        location.get(f"{slug}/{backup_id}/database.sql.gz", path)
        return gzip.decompress(path.read_bytes()).decode()


def _bad_clones_are_one_line_and_make_no_store(kit, backups: Storekit, source: str, name: str) -> None:
    with pytest.raises(SpecError, match="exists already: a clone makes a new store"):
        backups.clone(source, source)
    with pytest.raises(StoreNotFound):
        backups.clone("No Such Store", name)
    with pytest.raises(BackupNotFound, match="no backup '20200101T000000Z-dead'"):
        backups.clone(source, name, from_backup="20200101T000000Z-dead")
    from storekit.cli.main import cli

    settings = backups.settings
    env = {"STOREKIT_STATE_URL": settings.state_url, "STOREKIT_PASSPHRASE": settings.passphrase,
           "STOREKIT_DB_URL": settings.db_url, "STOREKIT_PROFILE": "node", "STOREKIT_S3_ENDPOINT": settings.s3_endpoint,
           "STOREKIT_S3_ACCESS_KEY": settings.s3_access_key, "STOREKIT_S3_SECRET_KEY": settings.s3_secret_key,
           "STOREKIT_BACKUP_LOCATION": settings.backup_location}
    done = CliRunner().invoke(cli, ["clone", source, name, "--from-backup", "nope", "--auto-approve"], env=env)
    errors = [line for line in done.output.splitlines() if line.startswith("Error")]
    assert done.exit_code == 3 and len(errors) == 1 and "no backup 'nope'" in errors[0], done.output
    with pytest.raises(StoreNotFound):
        kit.spec_of(name)  # none of them made the store


def test_a_clone_has_the_order_and_its_own_admin_password_and_publishable_key(kit, store, backups):
    source, shop = store["spec"], store["shop"]
    source_password = kit.reveal_admin_password(source.name)
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa before the clone")
    order = buy_and_check(shop, EMAIL, source_password)
    name = f"Medusa Clone {uuid.uuid4().hex[:6]}"
    _bad_clones_are_one_line_and_make_no_store(kit, backups, source.name, name)
    forward = None
    try:
        started = time.monotonic()
        result = backups.clone(source.name, name)
        seconds = time.monotonic() - started
        print(f"\nclone of a Medusa store with an order (back up, create the store, restore): {seconds:.1f} s, "
              f"of which the restore {result.restore.seconds:.1f} s")
        assert result.restore.healthy and result.url and result.url != kit.outputs(source.name).url
        own = kit.reveal_outputs(name)
        assert own["admin_password"] != source_password
        assert own["publishable_key"] != kit.reveal_outputs(source.name)["publishable_key"]
        clone, forward = _shop_of(kit, name, own["publishable_key"])
        wait_for(lambda: healthy_through(clone), timeout=180, what="the clone")
        # The source's data: its order, seen by the clone's own admin with the clone's own password.
        assert order.id in {o["id"] for o in clone.admin_orders(EMAIL, own["admin_password"])}
        assert refused(clone, EMAIL, source_password)
        # The storefront answers with the clone's own key (its output), not with the source's.
        handles = [p["handle"] for p in clone.request("GET", "/store/products?fields=handle")["products"]]
        assert "sample-product" in handles
        with pytest.raises(ShopError, match="HTTP 40[01]"):
            MedusaShop(clone.base, shop.key, host=clone.host).request("GET", "/store/products")
        # Nothing of the source's URL is stored in its database: there is nothing to rewrite.
        dump = _dump_of(backups, kit.resolve(source)[0].slug, result.backup_id)
        assert kit.resolve(source)[0].host not in dump and "Sample Product" in dump
        # The clone changes apart from its source.
        token = clone.admin_token(EMAIL, own["admin_password"])
        product = _sample(clone, token)
        clone.request("POST", f"/admin/products/{product['id']}", {"title": "Renamed in the clone"}, token=token,
                      store=False)
        assert _sample(shop, shop.admin_token(EMAIL, source_password))["title"] == "Sample Product"
        assert any(a.action == "clone" for a in backups.catalog.audit_entries(store=result.store))
    finally:
        if forward:
            forward.stop()
        try:
            kit.destroy(name)
        except StoreNotFound:
            pass


def test_a_scheduled_backup_runs_as_a_cronjob_is_listed_verified_and_restores(kit, store, backups, node_images):
    spec, shop = store["spec"], store["shop"]
    scheduled = kit.spec_of(spec.name).with_changes(images={**kit.spec_of(spec.name).images,
                                                            "backup": node_images["backup"]},
                                                    backup={"schedule": "0 3 * * *", "keep": 1})
    plan = backups.plan(scheduled)
    created = {(c.type.rsplit(":", 1)[-1], c.op) for c in plan.changes}
    assert ("CronJob", "create") in created and ("Secret", "create") in created, plan.summary.text
    backups.apply(plan)
    ns = kit.resolve(spec)[0].namespace
    made = []
    for run in ("run-1", "run-2"):
        backup_id, line, seconds = s3server.run_backup_cronjob(ns, run)
        print(f"\nscheduled backup {run} of a Medusa store: {seconds:.1f} s from the Job's creation: {line}")
        made.append(backup_id)
    listed = backups.backups(spec.name)
    # keep: 1 -> only the newest stays (the older scheduled one and the module's on-demand ones removed).
    assert [b.id for b in listed] == [made[-1]] and listed[0].verified, (made, listed)
    assert listed[0].engine == "medusa" and {p.file for p in listed[0].parts} == {"database.sql.gz",
                                                                                 "uploads.tar.gz"}
    password = kit.reveal_admin_password(spec.name)
    token = shop.admin_token(EMAIL, password)
    product = _sample(shop, token)
    shop.request("POST", f"/admin/products/{product['id']}", {"title": "Renamed after the scheduled backup"},
                 token=token, store=False)
    started = time.monotonic()
    result = backups.restore(spec.name, made[-1])
    print(f"restore of the scheduled backup: {time.monotonic() - started:.1f} s")
    assert result.healthy
    store["forward"].restart()
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa after restoring the scheduled backup")
    assert _sample(shop, shop.admin_token(EMAIL, password))["title"] == "Sample Product"


def test_a_tier_change_keeps_the_orders(kit, store, backups):
    """A bigger tier grows the volumes (StorageClass node-local allows expansion; the node's
    kind/node/resizer.py finishes each resize) and restarts the pods: the orders stay. Applied
    with the backup location's settings: the store keeps the backup schedule set above."""
    spec, shop = store["spec"], store["shop"]
    password = kit.reveal_admin_password(spec.name)
    before = {o["id"] for o in shop.admin_orders("owner@example.com", password)}
    assert before
    assert backups.apply(kit.spec_of(spec.name).with_changes(tier="medium")).action == "update"

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
