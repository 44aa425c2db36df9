"""What every part of the image builder shares: paths, constants, errors, small helpers."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

KIND = Path(__file__).resolve().parent.parent
REGISTRY = "storekit.local"
# Bump when the way images are made changes, so every cached layer and archive is remade.
BUILDER_VERSION = "1"
EPOCH = 1735689600  # 2025-01-01T00:00:00Z: every file's mtime and the images' creation time
CREATED = "2025-01-01T00:00:00Z"
SUITES = ("bookworm", "trixie")
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageError(Exception):
    """A one-line reason an image cannot be built or imported."""


def home() -> Path:
    return Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")


def store() -> Path:
    return home() / "images"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def say(msg: str) -> None:
    print(f"[images] {msg}", file=sys.stderr, flush=True)


def recipes_dir() -> Path:
    """The recipe folders (STOREKIT_IMAGE_RECIPES: another folder; benchmarks and tests edit copies)."""
    return Path(os.environ.get("STOREKIT_IMAGE_RECIPES") or KIND / "images")


def arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def need(command: str, *packages: str) -> None:
    """Install the Debian packages that bring ``command`` when it is missing (as root)."""
    if shutil.which(command):
        return
    if os.geteuid() != 0:
        raise ImageError(f"{command} is missing (apt-get install {' '.join(packages)})")
    say(f"installing Debian's {' '.join(packages)}")
    run_logged(["apt-get", "update", "-q"], "apt-get update")
    run_logged(["apt-get", "install", "-y", "-q", *packages], "apt-get install " + " ".join(packages),
               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def run_logged(argv: list[str], what: str, env: dict | None = None, log: Path | None = None) -> None:
    log = log or store() / "logs" / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%F %T')} {what}\n".encode())
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        raise ImageError(f"{what} failed with exit code {result.returncode} (log: {log})")


def read_json(path: Path) -> dict:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads(path.read_text())
    return {}


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
