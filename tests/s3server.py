"""A real S3-compatible server for the backup tests: versitygw v1.8.0 (built from its Go module
by kind/tools.sh, cached by version under $STOREKIT_HOME) with its posix backend and random root
credentials. No mocks.

* ``start(folder)``: a process on loopback, its buckets under ``folder``.
* ``start_on_node(kube)``: a pod on the real node (image kind/images/versitygw), reached at its
  pod IP both from this machine (the host routes the pod range to the node) and from the
  stores' pods, whose scheduled backups upload to it (pods may not open connections to the host).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from storekit.backups.s3 import S3Client, S3Credentials

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
KUBECTL = ["kubectl", "--kubeconfig", str(HOME / "kubeconfig")]


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen | None = None
    namespace: str | None = None
    buckets: set = field(default_factory=set)

    @property
    def client(self) -> S3Client:
        return S3Client(self.endpoint, S3Credentials(self.access_key, self.secret_key))

    def bucket(self, name: str) -> str:
        """Create a bucket (once) and return its s3:// URL."""
        if name not in self.buckets:
            self.client.create_bucket(name)
            self.buckets.add(name)
        return f"s3://{name}"

    def settings(self) -> dict:
        return {"s3_endpoint": self.endpoint, "s3_access_key": self.access_key, "s3_secret_key": self.secret_key}


def versitygw() -> Path:
    binary = HOME / "tools" / "bin" / "versitygw"
    if not binary.exists():
        done = subprocess.run(["nice", "-n", "10", str(ROOT / "kind" / "tools.sh"), "versitygw"],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"building versitygw failed:\n{done.stderr[-2000:]}")
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _credentials() -> tuple[str, str]:
    return "storekit" + secrets.token_hex(4), secrets.token_urlsafe(24)


def _wait_open(host: str, port: int, alive, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            if not alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.2)


def start(folder: Path) -> S3Server:
    root, meta = folder / "gw", folder / "meta"
    root.mkdir()
    meta.mkdir()
    port = _free_port()
    access, secret = _credentials()
    env = {**os.environ, "ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret}
    log = open(folder / "versitygw.log", "wb")
    process = subprocess.Popen([str(versitygw()), "--port", f"127.0.0.1:{port}", "posix", "--sidecar", str(meta),
                                str(root)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_open("127.0.0.1", port, lambda: process.poll() is None, "versitygw")
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"versitygw did not start: {(folder / 'versitygw.log').read_text()[-2000:]}") from None
    return S3Server(f"http://127.0.0.1:{port}", access, secret, process=process)


def start_on_node(image: str) -> S3Server:
    """versitygw as a pod on the real node, in a namespace of its own."""
    namespace = f"tbackup-s3-{uuid.uuid4().hex[:6]}"
    access, secret = _credentials()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "versitygw", "namespace": namespace},
           "spec": {"nodeSelector": {"storekit.io/node-pool": "real"}, "terminationGracePeriodSeconds": 1,
                    "tolerations": [{"key": "storekit.io/node-pool", "operator": "Equal", "value": "real",
                                     "effect": "NoSchedule"}],
                    "containers": [{"name": "versitygw", "image": image, "imagePullPolicy": "Never",
                                    "args": ["--port", ":7070", "posix", "--sidecar", "/meta", "/data"],
                                    "env": [{"name": "ROOT_ACCESS_KEY_ID", "value": access},
                                            {"name": "ROOT_SECRET_ACCESS_KEY", "value": secret}],
                                    "readinessProbe": {"tcpSocket": {"port": 7070}, "periodSeconds": 1},
                                    "volumeMounts": [{"name": "data", "mountPath": "/data"},
                                                     {"name": "meta", "mountPath": "/meta"}]}],
                    "volumes": [{"name": "data", "emptyDir": {}}, {"name": "meta", "emptyDir": {}}]}}
    subprocess.run([*KUBECTL, "create", "namespace", namespace], check=True, capture_output=True, timeout=60)
    server = S3Server("", access, secret, namespace=namespace)
    try:
        subprocess.run([*KUBECTL, "apply", "-f", "-"], input=json.dumps(pod), check=True, capture_output=True,
                       text=True, timeout=60)
        subprocess.run([*KUBECTL, "wait", "-n", namespace, "--for=condition=Ready", "--timeout=120s", "pod/versitygw"],
                       check=True, capture_output=True, timeout=130)
        ip = subprocess.run([*KUBECTL, "get", "pod", "-n", namespace, "versitygw", "-o", "jsonpath={.status.podIP}"],
                            check=True, capture_output=True, text=True, timeout=60).stdout.strip()
        _wait_open(ip, 7070, lambda: True, f"versitygw on the node ({ip})")
    except (subprocess.SubprocessError, RuntimeError):
        stop(server)
        raise
    server.endpoint = f"http://{ip}:7070"
    return server


def stop(server: S3Server) -> None:
    if server.process is not None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
    if server.namespace:
        subprocess.run([*KUBECTL, "delete", "namespace", server.namespace, "--wait=false"], capture_output=True,
                       timeout=60)


def run_backup_cronjob(namespace: str, run: str, *, timeout: int = 300) -> tuple[str, str, float]:
    """A store's backup CronJob run now (``kubectl create job --from=cronjob/backup``), awaited:
    (the new backup's id, the job's "backup ..." line, seconds from the Job's creation)."""
    import re

    started = time.monotonic()
    subprocess.run([*KUBECTL, "create", "job", "-n", namespace, "--from=cronjob/backup", run], check=True,
                   capture_output=True, timeout=60)
    waited = subprocess.run([*KUBECTL, "wait", "-n", namespace, "--for=condition=complete", f"--timeout={timeout}s",
                             f"job/{run}"], capture_output=True, text=True, timeout=timeout + 20)
    seconds = time.monotonic() - started
    logs = subprocess.run([*KUBECTL, "logs", "-n", namespace, f"job/{run}"], capture_output=True, text=True,
                          timeout=60)
    assert waited.returncode == 0, waited.stderr + logs.stdout + logs.stderr
    line = re.search(r"^backup (\S+): .*$", logs.stdout, re.M)
    assert line, logs.stdout
    return line[1], line[0], seconds


def node_images() -> dict[str, str]:
    """The backup image (scheduled backups) and versitygw's, built (cached) and imported into
    the real node's containerd; the index of images built here."""
    python, script = str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "kind" / "images.py")
    versitygw()
    for argv in ([python, script, "build", "backup", "versitygw"],
                 [python, script, "import", "--address", str(HOME / "node" / "run" / "containerd" / "containerd.sock"),
                  "backup", "versitygw"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3000)
        assert done.returncode == 0, f"{' '.join(argv[1:3])} failed:\n{done.stderr[-3000:]}"
    return json.loads((HOME / "images" / "index.json").read_text())
