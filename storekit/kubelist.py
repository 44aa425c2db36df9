"""Listing objects' metadata with the standard library alone, for the engine-free plan.

``storekit.baseline`` decides "no changes" from one LIST per kind; that has to cost far
less than the engine's start-up, and importing lightkube alone takes longer than the
LISTs. So this reads the kubeconfig (or the pod's service account) and asks the API
server for ``PartialObjectMetadataList`` (metadata only: names, resourceVersions, uids and
managedFields; no Secret data crosses the wire) over one kept-alive HTTPS connection.

It supports what kubeconfigs and pods commonly use: CA file or data, client certificate
and key (file or data), bearer token (value or file), the in-cluster service account.
Anything else (exec or auth-provider plugins, basic auth, proxies) raises ``Unsupported``,
and the caller falls back to the engine, which understands them all.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
from pathlib import Path
from urllib.parse import quote, urlsplit

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


class Unsupported(Exception):
    """This cluster or credential cannot be read here; use the engine instead."""


class Lister:
    """``list(path, selector)`` -> {(namespace, name): metadata}; one connection."""

    def __init__(self, server: str, context: ssl.SSLContext | None, token: str | None):
        url = urlsplit(server)
        if url.scheme not in ("https", "http") or not url.hostname:
            raise Unsupported(f"server {server!r}")
        self._prefix = url.path.rstrip("/")
        self._headers = {"Accept": _METADATA_ONLY}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        port = url.port or (443 if url.scheme == "https" else 80)
        self._conn = (http.client.HTTPSConnection(url.hostname, port, context=context, timeout=10)
                      if url.scheme == "https" else http.client.HTTPConnection(url.hostname, port, timeout=10))

    def list(self, path: str, selector: str) -> dict[tuple[str, str], dict]:
        return {(i["metadata"].get("namespace", ""), i["metadata"]["name"]): i["metadata"]
                for i in self.items(path, selector, metadata_only=True)}

    def items(self, path: str, selector: str, *, metadata_only: bool = False) -> list[dict]:
        """The objects at ``path`` matching ``selector`` (whole, unless ``metadata_only``)."""
        headers = self._headers if metadata_only else {**self._headers, "Accept": "application/json"}
        try:
            self._conn.request("GET", f"{self._prefix}{path}?labelSelector={quote(selector)}", headers=headers)
            response = self._conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as e:
            raise Unsupported(f"GET {path}: {e}") from e
        if response.status != 200:
            raise Unsupported(f"GET {path}: HTTP {response.status}")
        return list(json.loads(body).get("items") or ())

    def close(self) -> None:
        self._conn.close()


def lister(kubeconfig: str, context: str | None, *, in_cluster: bool = False) -> Lister:
    if in_cluster:
        return _service_account()
    try:
        import yaml

        config = yaml.load(Path(kubeconfig).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        name = context or config["current-context"]
        ctx = _named(config, "contexts", name)["context"]
        cluster = _named(config, "clusters", ctx["cluster"])["cluster"]
        user = _named(config, "users", ctx["user"])["user"] if ctx.get("user") else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise Unsupported(f"kubeconfig {kubeconfig}: {e}") from e
    if set(user) - {"client-certificate", "client-certificate-data", "client-key", "client-key-data",
                    "token", "tokenFile"} or cluster.get("proxy-url"):
        raise Unsupported("credential plugin, basic auth or proxy")
    base = Path(kubeconfig).parent
    context_ssl = None
    if cluster["server"].startswith("https"):
        context_ssl = _ssl_context(cluster, user, base)
    token = user.get("token") or (_read(base, user["tokenFile"]).strip() if user.get("tokenFile") else None)
    return Lister(cluster["server"], context_ssl, token)


def _service_account() -> Lister:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    folder = Path(SERVICE_ACCOUNT_DIR)
    try:
        token = (folder / "token").read_text().strip()
        context = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    except (OSError, ssl.SSLError) as e:
        raise Unsupported(f"service account: {e}") from e
    if not host:
        raise Unsupported("KUBERNETES_SERVICE_HOST is not set")
    return Lister(f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}", context, token)


def _named(config: dict, section: str, name: str) -> dict:
    for entry in config.get(section) or ():
        if entry.get("name") == name:
            return entry
    raise KeyError(f"no {section[:-1]} named {name!r}")


def _read(base: Path, path: str) -> str:
    return (base / path).read_text()


def _ssl_context(cluster: dict, user: dict, base: Path) -> ssl.SSLContext:
    try:
        if cluster.get("insecure-skip-tls-verify"):
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        elif cluster.get("certificate-authority-data"):
            context = ssl.create_default_context(
                cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif cluster.get("certificate-authority"):
            context = ssl.create_default_context(cafile=str(base / cluster["certificate-authority"]))
        else:
            context = ssl.create_default_context()
        cert, key = _pem(user, "client-certificate", base), _pem(user, "client-key", base)
        if cert and key:
            # ssl loads a client certificate only from files: a private folder, gone at once.
            with tempfile.TemporaryDirectory(prefix="storekit-kube-") as tmp:
                pair = Path(tmp, "client.pem")
                fd = os.open(pair, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(cert + "\n" + key)
                context.load_cert_chain(str(pair))
    except (OSError, ValueError, ssl.SSLError) as e:
        raise Unsupported(f"TLS settings: {e}") from e
    return context


def _pem(user: dict, key: str, base: Path) -> str | None:
    if user.get(f"{key}-data"):
        return base64.b64decode(user[f"{key}-data"]).decode()
    if user.get(key):
        return _read(base, user[key])
    return None
