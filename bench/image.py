"""Measure the platform image on the local Docker daemon; print a table.

    .venv/bin/python bench/image.py

Rows: a cached rebuild (nothing changed), a rebuild after a source change (the last
layers only), `docker run` to a healthy /healthz, SIGTERM to exit, and the image size.
Builds on the locally made base image (kind/image.sh base), as the image test does.
Wall-clock seconds; run it on an otherwise idle machine.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from table import print_table, timed

ROOT = Path(__file__).resolve().parent.parent
BASE = "storekit-base:bookworm"


def sh(*args: str, **kw) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True, **kw).stdout


def main() -> None:
    script = str(ROOT / "kind" / "image.sh")
    sh(script, "daemon")
    sh(script, "base")
    docker = sh("bash", "-c", f". {ROOT}/kind/docker-cli.sh && docker_cli").strip()
    rows: list[tuple[str, float | str]] = []
    sh(script, "build", "--base", BASE)  # make sure the cache is warm
    timed("rebuild, nothing changed", rows, lambda: sh(script, "build", "--base", BASE))

    # A source change, in a copy of the tree so the checkout stays as it is.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "docs"))
        with open(copy / "webapp" / "health.py", "a") as f:
            f.write(f"\n# bench {uuid.uuid4().hex}\n")
        timed("rebuild after a source change", rows,
              lambda: sh(str(copy / "kind" / "image.sh"), "build", "--base", BASE,
                         env={"IMAGE": "storekit:bench", "PATH": "/usr/local/bin:/usr/bin:/bin",
                              "HOME": str(Path.home())}))
    sh(docker, "image", "rm", "storekit:bench")

    version = sh("sed", "-n", 's/^__version__ = "\\(.*\\)"/\\1/p', str(ROOT / "storekit" / "__init__.py")).strip()
    image = f"storekit:{version}"
    name = f"storekit-bench-{uuid.uuid4().hex[:6]}"

    def healthy():
        sh(docker, "run", "-d", "--name", name, "-p", "127.0.0.1::8080", image)
        port = sh(docker, "port", name, "8080").split(":")[-1].strip()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
    try:
        timed("docker run to /healthz answering", rows, healthy)
        timed("docker stop (SIGTERM to exit)", rows, lambda: sh(docker, "stop", name))
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True)
    size = int(sh(docker, "image", "inspect", "-f", "{{.Size}}", image))
    rows.append(("image size (MB)", f"{size / 1e6:.0f}"))
    print_table("measure", "seconds", rows)


if __name__ == "__main__":
    main()
