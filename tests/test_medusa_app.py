"""The Medusa application of the medusa engine, run for real on this machine.

The app is built from npm (kind/medusa_app.py, cached by its inputs under $STOREKIT_HOME),
then run exactly as the store's pods run it, against a PostgreSQL server from Debian's
packages on loopback: ``medusa db:migrate``, the setup script (admin user, region, sales
channel, stock location, shipping option, publishable key, Sample Product at $19.99 with
stock, the manual payment provider), ``medusa start``. A shopper then buys Sample Product
from cart to completed checkout, and the admin finds the order with the right total. The
setup script is idempotent and converges the admin password (a password reset re-runs it).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import free_port, wait_for
from medusa_shop import MedusaShop, admin_sees_order_in_browser, buy_and_check, healthy, refused

# The same checks run on the real node in make test (tests/test_medusa_node.py); this host run is
# the fast loop of the app's development (make test-medusa).
pytestmark = [pytest.mark.medusa, pytest.mark.medusa_host]

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "admin@example.com"
SHOTS = ROOT / "docs" / "screenshots"


def _builder():
    spec = importlib.util.spec_from_file_location("medusa_app", ROOT / "kind" / "medusa_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def app() -> Path:
    builder = _builder()
    try:
        path, _ = builder.build()
    except builder.BuildError as e:
        pytest.fail(f"building the Medusa app: {e}", pytrace=False)
    return path


def _medusa(app: Path, env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(app / "node_modules" / ".bin" / "medusa"), *args], cwd=app, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def store(app, postgres, tmp_path_factory):
    """A migrated and set-up Medusa store, served on a free loopback port."""
    address = postgres("medusa")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path_factory.mktemp("home")), "NODE_ENV": "production",
           "MEDUSA_DISABLE_TELEMETRY": "true", "DATABASE_URL": f"postgres://{address}", "PORT": str(port),
           "STORE_URL": url, "JWT_SECRET": secrets.token_hex(16), "COOKIE_SECRET": secrets.token_hex(16),
           "ADMIN_EMAIL": ADMIN, "ADMIN_PASSWORD": secrets.token_urlsafe(18),
           "PUBLISHABLE_KEY": "pk_" + secrets.token_hex(32), "STORE_NAME": "Host Shop"}
    migrated = _medusa(app, env, "db:migrate")
    assert migrated.returncode == 0, migrated.stdout[-3000:] + migrated.stderr[-3000:]
    setup = _medusa(app, env, "exec", "./src/scripts/setup.js")
    assert setup.returncode == 0 and "storekit setup: store ready" in setup.stdout, setup.stdout[-3000:]
    log = open(tmp_path_factory.mktemp("medusa") / "server.log", "w")
    server = subprocess.Popen([str(app / "node_modules" / ".bin" / "medusa"), "start"], cwd=app, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: healthy(url) or server.poll() is not None, timeout=120, what="medusa start")
        assert server.poll() is None, f"medusa start exited: {Path(log.name).read_text()[-3000:]}"
        yield {"url": url, "env": env, "app": app, "shop": MedusaShop(url, env["PUBLISHABLE_KEY"])}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def test_the_built_app_is_cached_by_its_inputs(app):
    builder = _builder()
    assert app == builder.built_path() and app.name == f"app-{builder.inputs_hash()[:16]}"
    again, built = builder.build()
    assert (again, built) == (app, False), "a second build with the same inputs does nothing"
    assert (app / "public" / "admin" / "index.html").is_file(), "the admin dashboard is bundled"


def test_a_shopper_orders_sample_product_and_the_admin_sees_it(store):
    shop, env = store["shop"], store["env"]
    order = buy_and_check(shop, ADMIN, env["ADMIN_PASSWORD"])
    assert order.email == "shopper@example.com" and order.id.startswith("order_")
    assert [s.split()[0] for s in order.steps] == ["region", "found", "cart", "shipping", "payment", "order"]


def test_the_store_answers_only_with_its_publishable_key(store):
    stranger = MedusaShop(store["url"], "pk_" + "0" * 64)
    with pytest.raises(AssertionError, match="HTTP 401|HTTP 400"):
        stranger.request("GET", "/store/products")


def test_setup_again_converges_the_admin_password_and_duplicates_nothing(store):
    shop, env = store["shop"], store["env"]
    old, new = env["ADMIN_PASSWORD"], secrets.token_urlsafe(18)
    again = _medusa(store["app"], {**env, "ADMIN_PASSWORD": new}, "exec", "./src/scripts/setup.js")
    assert again.returncode == 0, again.stdout[-3000:]
    assert "admin password of" in again.stdout and "Sample Product at" not in again.stdout
    assert shop.admin_token(ADMIN, new)
    assert refused(shop, ADMIN, old), "the old password no longer logs in"
    env["ADMIN_PASSWORD"] = new
    products = shop.request("GET", "/store/products?handle=sample-product")["products"]
    assert len(products) == 1


def test_setup_without_an_admin_password_fails_naming_it(store):
    env = {k: v for k, v in store["env"].items() if k != "ADMIN_PASSWORD"}
    failed = _medusa(store["app"], env, "exec", "./src/scripts/setup.js")
    assert failed.returncode != 0
    assert "ADMIN_PASSWORD must be set" in failed.stdout + failed.stderr


def test_the_admin_logs_in_to_the_dashboard_and_sees_the_order(store):
    """Medusa's admin dashboard in a real browser: log in with the store's credentials, open
    the order; a screenshot goes to docs/screenshots/."""
    order = store["shop"].place_order("Sample Product", email="browser@example.com")
    admin_sees_order_in_browser(store["url"], ADMIN, store["env"]["ADMIN_PASSWORD"], order,
                                SHOTS / "medusa-admin-order.png")
