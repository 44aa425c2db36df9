"""A real S3-compatible server for the backup tests: versitygw (built from its Go module by
kind/tools.sh, cached by version under $STOREKIT_HOME) with its posix backend in a temporary
folder, on a loopback port, with random root credentials. No mocks."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    root: Path
    process: subprocess.Popen

    def bucket(self, name: str) -> str:
        """Create a bucket (a folder of the posix backend) and return its s3:// URL."""
        (self.root / name).mkdir(exist_ok=True)
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


def start(folder: Path) -> S3Server:
    root, meta = folder / "gw", folder / "meta"
    root.mkdir()
    meta.mkdir()
    port = _free_port()
    access, secret = "storekit" + secrets.token_hex(4), secrets.token_urlsafe(24)
    env = {**os.environ, "ROOT_ACCESS_KEY_ID": access, "ROOT_SECRET_ACCESS_KEY": secret}
    log = open(folder / "versitygw.log", "wb")
    process = subprocess.Popen([str(versitygw()), "--port", f"127.0.0.1:{port}", "posix", "--sidecar", str(meta),
                                str(root)], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"versitygw did not start: {(folder / 'versitygw.log').read_text()[-2000:]}")
            time.sleep(0.1)
    return S3Server(f"http://127.0.0.1:{port}", access, secret, root, process)


def stop(server: S3Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
