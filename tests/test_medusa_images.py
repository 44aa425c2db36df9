"""The medusa engine's images built here (kind/images.py: postgres, medusa), run for real on
Debian's docker.io as the store's pods run them.

`postgres` honours the official `postgres` image's environment (POSTGRES_PASSWORD, _USER,
_DB), initialises on first start only, keeps its data, and runs as uid 999. `medusa` carries
the app built by kind/medusa_app.py: the setup Job's command (migrations, then the setup
script) runs in one container, the server in another, as uid 10001, and a shopper buys
Sample Product through the published port while the admin finds the order. Containers
resolve only the test network's own names: nothing leaves the machine.
"""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest
from docker_images import docker_for
from helpers import wait_for
from medusa_shop import MedusaShop, buy_and_check, healthy, refused

# Opt-in (make test-medusa): a cold build of the medusa image takes about 10 minutes.
pytestmark = [pytest.mark.store_images, pytest.mark.medusa_images]
ROOT = Path(__file__).resolve().parent.parent
DB = {"POSTGRES_PASSWORD": "pg-'pw\"1", "POSTGRES_USER": "medusa", "POSTGRES_DB": "medusa"}
ADMIN = {"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "first-password-1"}
KEY = "pk_" + "ab" * 32
SETUP = ("sh", "-c", "medusa db:migrate && medusa exec ./src/scripts/setup.js")


@pytest.fixture(scope="module")
def docker():
    built = subprocess.run(["python3", str(ROOT / "kind" / "medusa_app.py"), "build"], capture_output=True,
                           text=True, timeout=1800)
    assert built.returncode == 0, f"kind/medusa_app.py build failed:\n{built.stderr[-3000:]}"
    d = docker_for(("postgres", "medusa"))
    yield d
    d.cleanup()


def _psql(docker, name: str, sql: str, password: str = DB["POSTGRES_PASSWORD"], user: str = "medusa"):
    """A query over TCP with a password, as a pod would connect."""
    return docker("exec", "-e", f"PGPASSWORD={password}", name, "psql", "-h", "127.0.0.1", "-U", user,
                  "-d", "medusa", "-tAc", sql, check=False)


@pytest.fixture(scope="module")
def database(docker):
    volume = docker.volume("pg")
    name = docker.start("postgres", "postgres", "-v", f"{volume}:/var/lib/postgresql/data", env=DB)
    wait_for(lambda: _psql(docker, name, "SELECT 1").returncode == 0, 90, every=0.5, what="PostgreSQL to answer")
    return {"name": name, "volume": volume}


def test_postgres_initialises_its_user_and_database_as_the_postgres_image(docker, database):
    name = database["name"]
    assert _psql(docker, name, "SELECT current_user, current_database()").stdout.strip() == "medusa|medusa"
    wrong = _psql(docker, name, "SELECT 1", password="not-the-password")
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    remote = docker("run", "--rm", "--network", docker.network, "-e", f"PGPASSWORD={DB['POSTGRES_PASSWORD']}",
                    docker.refs["postgres"], "psql", "-h", "postgres", "-U", "medusa", "-d", "medusa", "-tAc",
                    "SELECT 42")
    assert remote.stdout.strip() == "42", "it listens on the network, by the Service-like name"
    pid1 = docker("exec", name, "sh", "-c", "stat -c %u /proc/1; cat /proc/1/comm").stdout.split()
    assert pid1 == ["999", "postgres"], "postgres is PID 1 and runs as uid 999"
    assert "initialising /var/lib/postgresql/data" in docker("logs", name).stderr


def test_postgres_keeps_its_data_and_stops_cleanly(docker, database):
    name = database["name"]
    assert _psql(docker, name, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')").returncode == 0
    docker("stop", "-t", "30", name)
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    docker("rm", name)
    again = docker.start("postgres", "postgres", "-v", f"{database['volume']}:/var/lib/postgresql/data",
                         env={**DB, "POSTGRES_PASSWORD": "another"})
    wait_for(lambda: _psql(docker, again, "SELECT 1").returncode == 0, 90, every=0.5, what="PostgreSQL again")
    assert _psql(docker, again, "SELECT v FROM kept").stdout.strip() == "survives"
    assert "holds a database: starting it as it is" in docker("logs", again).stderr
    assert _psql(docker, again, "DROP TABLE kept").returncode == 0
    database["name"] = again


def _env(**more: str) -> dict[str, str]:
    password = DB["POSTGRES_PASSWORD"].replace("'", "%27").replace('"', "%22")
    return {"DATABASE_URL": f"postgres://medusa:{password}@postgres:5432/medusa", "JWT_SECRET": "jwt-1",
            "COOKIE_SECRET": "cookie-1", "STORE_URL": "http://shop.storekit.test", "PUBLISHABLE_KEY": KEY,
            "STORE_NAME": "Image Shop", **ADMIN, **more}


@pytest.fixture(scope="module")
def medusa(docker, database):
    setup = docker.start("setup", "medusa", env=_env(), command=SETUP)
    wait_for(lambda: docker("inspect", "-f", "{{.State.Status}}", setup).stdout.strip() == "exited", 600,
             every=2, what="the setup container")
    logs = docker("logs", setup)
    assert docker("inspect", "-f", "{{.State.ExitCode}}", setup).stdout.strip() == "0", logs.stdout[-3000:]
    assert "storekit setup: store ready" in logs.stdout
    server = docker.start("medusa", "medusa", "-p", "127.0.0.1::9000", env=_env())
    port = docker.port(server, 9000)
    wait_for(lambda: healthy(f"http://127.0.0.1:{port}") or docker("inspect", "-f", "{{.State.Running}}", server).stdout.strip() != "true",
             180, what="medusa start")
    assert healthy(f"http://127.0.0.1:{port}"), docker("logs", server).stdout[-3000:]
    return {"server": server, "port": port, "shop": MedusaShop(f"http://127.0.0.1:{port}", KEY)}


def test_medusa_serves_the_store_and_admin_as_uid_10001(docker, medusa):
    assert docker("exec", medusa["server"], "id", "-u").stdout.strip() == "10001"
    with urllib.request.urlopen(f"http://127.0.0.1:{medusa['port']}/app", timeout=10) as resp:
        assert resp.status == 200 and b"<div id=\"medusa\"" in resp.read(), "the admin dashboard is served"


def test_a_shopper_orders_from_the_medusa_image(medusa):
    buy_and_check(medusa["shop"], ADMIN["ADMIN_EMAIL"], ADMIN["ADMIN_PASSWORD"])


def test_the_setup_command_again_resets_the_admin_password(docker, medusa):
    again = docker.start("setup-again", "medusa", env=_env(ADMIN_PASSWORD="second-password-2"), command=SETUP)
    wait_for(lambda: docker("inspect", "-f", "{{.State.Status}}", again).stdout.strip() == "exited", 300,
             every=2, what="the setup container")
    assert docker("inspect", "-f", "{{.State.ExitCode}}", again).stdout.strip() == "0"
    shop = medusa["shop"]
    assert shop.admin_token(ADMIN["ADMIN_EMAIL"], "second-password-2")
    assert refused(shop, ADMIN["ADMIN_EMAIL"], ADMIN["ADMIN_PASSWORD"])


def test_medusa_stops_on_sigterm(docker, medusa):
    docker("stop", "-t", "30", medusa["server"])
    assert docker("inspect", "-f", "{{.State.ExitCode}}", medusa["server"]).stdout.strip() in ("0", "143")
