"""Measure kind/images.py: what a build costs when nothing changed, when only our files
changed, and (with --cold) from nothing; print a table with the images' sizes.

    .venv/bin/python bench/images.py [--cold] [NAME ...]     (default: pause mariadb wordpress)

Warm rows build the real recipes in $STOREKIT_HOME (built first if needed). The "files
changed" row edits a copy of the recipe (one more line in its folder) and rebuilds: only the
small files layer is packed again. --cold builds every image into an empty temporary
STOREKIT_HOME: debootstrap, apt, packing, everything. Wall-clock seconds of the command as
a person types it (Python start included); run it on an otherwise idle machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from table import print_table, timed

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BUILDER = str(ROOT / "kind" / "images.py")


def build(name: str, **env: str) -> None:
    subprocess.run([PYTHON, BUILDER, "build", name], check=True, capture_output=True, env={**os.environ, **env})


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--cold"]
    names = args or ["pause", "mariadb", "wordpress"]
    rows: list[tuple[str, float | str]] = []
    home = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
    if "--cold" in sys.argv:
        with tempfile.TemporaryDirectory(prefix="storekit-images-cold-") as cold:
            (Path(cold) / "tools").symlink_to(home / "tools")
            for name in names:
                timed(f"{name}: cold (empty STOREKIT_HOME)", rows, lambda: build(name, STOREKIT_HOME=cold))
    for name in names:
        build(name)  # whatever the cache holds, the rows below start from a built image
        timed(f"{name}: nothing changed", rows, lambda: build(name))
        with tempfile.TemporaryDirectory(prefix="storekit-recipes-") as copy:
            shutil.copytree(ROOT / "kind" / "images" / name, Path(copy) / name)
            (Path(copy) / name / "bench-edit.txt").write_text("an edit\n")
            timed(f"{name}: files changed", rows, lambda: build(name, STOREKIT_IMAGE_RECIPES=copy))
        build(name)  # the real recipe's archive back in place
    builds = json.loads((home / "images" / "builds.json").read_text())
    for name in names:
        rows.append((f"{name}: size packed / unpacked (MB)",
                     f"{builds[name]['size'] / 1e6:.1f} / {builds[name]['unpacked'] / 1e6:.1f}"))
    print_table("kind/images.py build", "seconds", rows)


if __name__ == "__main__":
    main()
