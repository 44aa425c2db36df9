"""Small helpers shared by the tests (imported as ``helpers``: pytest puts tests/ on the path)."""

from __future__ import annotations

import base64
import socket
import time
from pathlib import Path

import yaml


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, path: str = "/healthz") -> bool:
    """True when an HTTP server on 127.0.0.1:``port`` answers ``path``."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
            return True
    except OSError:
        return False


def wait_for(predicate, timeout: float = 240, every: float = 1.0, what: str = "the condition"):
    """Poll ``predicate`` until it returns something true; return that, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


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


def web_app(settings, tmp_path, *, db_url: str | None = None, **config):
    """A dashboard app on its own catalog (``db_url``, default SQLite under ``tmp_path``),
    with an admin and a viewer token (``app.admin_token``, ``app.viewer_token``)."""
    from storekit.kit import Storekit
    from storekit.recorder import Actor
    from storekit.webapp import create_app
    from storekit.tokens import create_token, ensure_admin_token

    local = settings.replace(db_url=db_url or f"sqlite:///{tmp_path}/catalog.db", home=str(tmp_path))
    kit = Storekit(local, actor=Actor(name="dashboard", source="web"))
    app = create_app({"TESTING": True, "SETTINGS": local, "KIT": kit, "SECRET_KEY": "test",
                      "CREATE_LIMIT": "100 per minute", **config})
    app.admin_token = ensure_admin_token(kit.catalog)
    app.viewer_token = create_token(kit.catalog, "viewer", "viewer")
    return app
