"""Small helpers shared by the tests (imported as ``helpers``: pytest puts tests/ on the path)."""

from __future__ import annotations

import base64
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float = 240, every: float = 1.0, what: str = "the condition"):
    """Poll ``predicate`` until it returns something true; return that, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class PostgresServer:
    port: int

    def database(self, name: str) -> str:
        """Create database ``name``; return its address ``postgres@127.0.0.1:PORT/NAME``."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return f"postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def postgres_server():
    """A throwaway PostgreSQL server from Debian's packages on 127.0.0.1 (trust auth, user
    ``postgres``), run as the ``postgres`` user and removed afterwards."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins or os.geteuid() != 0:
        pytest.fail("needs Debian's postgresql and root to run it as `postgres` (make packages)", pytrace=False)
    bindir = os.path.dirname(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="storekit-pg-"))  # pytest's folders are root's alone
    shutil.chown(root, "postgres")
    port = free_port()

    def as_postgres(*args: str) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                                cwd=root, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    as_postgres(f"{bindir}/initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres")
    as_postgres(f"{bindir}/pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "start",
                "-o", f"-p {port} -h 127.0.0.1 -k {root}")
    try:
        yield PostgresServer(port)
    finally:
        as_postgres(f"{bindir}/pg_ctl", "-D", str(root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def service_account_folder(folder: Path, kubeconfig: str, token: str, namespace: str) -> tuple[str, str]:
    """Lay out ``folder`` as Kubernetes mounts a pod's service account (token, namespace, and
    the cluster's CA from ``kubeconfig``); return the API's (host, port) for
    KUBERNETES_SERVICE_HOST/PORT."""
    cluster = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(token)
    (folder / "namespace").write_text(namespace)
    (folder / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    for f in folder.iterdir():
        f.chmod(0o644)
    host, port = cluster["server"].removeprefix("https://").rsplit(":", 1)
    return host, port


def web_app(settings, tmp_path, **config):
    """A dashboard app on its own SQLite catalog under ``tmp_path``, with an admin and a
    viewer token (``app.admin_token``, ``app.viewer_token``)."""
    from storekit.kit import Actor, Storekit
    from storekit.webapp import create_app
    from storekit.webapp.auth import create_token, ensure_admin_token

    local = settings.replace(db_url=f"sqlite:///{tmp_path}/catalog.db", home=str(tmp_path))
    kit = Storekit(local, actor=Actor(name="dashboard", source="web"))
    app = create_app({"TESTING": True, "SETTINGS": local, "KIT": kit, "SECRET_KEY": "test",
                      "CREATE_LIMIT": "100 per minute", **config})
    app.admin_token = ensure_admin_token(kit.catalog)
    app.viewer_token = create_token(kit.catalog, "viewer", "viewer")
    return app
