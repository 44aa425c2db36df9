#!/usr/bin/env python3
"""Build the Medusa application of the medusa engine from npm, cached by its inputs.

    kind/medusa_app.py build     build (or find) it; print the folder of the built server
    kind/medusa_app.py path      the folder of the current build, or exit 1 if not built
    kind/medusa_app.py inputs    the inputs hash the build is named after

The sources are ``kind/images/medusa/app/`` (package.json with its lock file, medusa-config.ts,
the setup script). A build is ``npm ci`` (everything from the npm registry, pinned by the lock
file), ``medusa build`` (the server compiled and the admin dashboard bundled with Vite), and
the production node_modules (``npm prune --omit=dev``) moved beside the compiled server. The
result is ``$STOREKIT_HOME/medusa/app-<hash>/`` (``medusa/current`` points at it), named by the hash of the sources, this script,
Node's major version and the machine's architecture, so a build whose inputs did not change
costs one hash of a few files. Run it from that folder: ``medusa db:migrate``, ``medusa exec
./src/scripts/setup.js``, ``medusa start``. The image recipe (kind/images/medusa) copies it.

npm's cache is ``$STOREKIT_HOME/cache/npm``; builds run under ``nice`` (the machine is shared).
Only the standard library: any Python 3.11 runs it.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "images" / "medusa" / "app"
# Bump when the way the app is built changes (the hash covers this file too, but say it).
BUILDER_VERSION = "2"
EXCLUDE = {"node_modules", ".medusa", ".cache"}


class BuildError(Exception):
    """A one-line reason the app cannot be built."""


def home() -> Path:
    return Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")


def root() -> Path:
    return home() / "medusa"


def say(msg: str) -> None:
    print(f"[medusa-app] {msg}", file=sys.stderr, flush=True)


def source_files() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*")
                  if p.is_file() and not EXCLUDE & set(p.relative_to(SOURCE).parts))


def node_major() -> str:
    node = shutil.which("node")
    if not node:
        raise BuildError("node is missing: Node.js 20 or newer with npm (Debian: apt-get install nodejs npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = version.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < 20:
        raise BuildError(f"Medusa needs Node.js 20 or newer, found {version or 'an unknown version'}")
    return major


def inputs_hash() -> str:
    h = hashlib.sha256(f"storekit-medusa-app/{BUILDER_VERSION}\0node{node_major()}\0{platform.machine()}\0".encode())
    h.update(hashlib.sha256(Path(__file__).read_bytes()).digest())
    for path in source_files():
        h.update(f"{path.relative_to(SOURCE).as_posix()}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def built_path(inputs: str | None = None) -> Path:
    return root() / f"app-{(inputs or inputs_hash())[:16]}"


def _run(argv: list[str], cwd: Path, log: Path, what: str) -> None:
    env = {**os.environ, "MEDUSA_DISABLE_TELEMETRY": "true", "NEXT_TELEMETRY_DISABLED": "1",
           "npm_config_cache": str(home() / "cache" / "npm"), "npm_config_audit": "false",
           "npm_config_fund": "false", "npm_config_update_notifier": "false", "NODE_ENV": "development"}
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%F %T')} {what}\n".encode())
        out.flush()
        result = subprocess.run(["nice", "-n", "10", *argv], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        print("\n".join(tail), file=sys.stderr)
        raise BuildError(f"{what} failed with exit code {result.returncode} (log: {log})")


def _point_current(target: Path) -> None:
    """``current`` names the build of the present sources (the image recipe copies it)."""
    link = root() / "current"
    if link.is_symlink() and os.readlink(link) == target.name:
        return
    tmp = root() / f".current-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.name)
    os.replace(tmp, link)


def build(force: bool = False) -> tuple[Path, bool]:
    """The built server folder, and whether it was built now (False: it was there)."""
    inputs = inputs_hash()
    target = built_path(inputs)
    if not force and (target / ".storekit-build.json").is_file():
        _point_current(target)
        return target, False
    if not shutil.which("npm"):
        raise BuildError("npm is missing (Debian: apt-get install npm)")
    root().mkdir(parents=True, exist_ok=True)
    with open(root() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a second waits, then finds it built
        if not force and (target / ".storekit-build.json").is_file():
            _point_current(target)
            return target, False
        started = time.monotonic()
        log = root() / "build.log"
        (root() / "tmp").mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root() / "tmp", prefix="build-") as tmp:
            work = Path(tmp) / "app"
            work.mkdir()
            for path in source_files():
                dest = work / path.relative_to(SOURCE)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
            say(f"npm ci ({len(json.loads((SOURCE / 'package-lock.json').read_text())['packages'])} packages, "
                f"log {log})")
            _run(["npm", "ci"], work, log, "npm ci")
            say("medusa build (server and admin dashboard)")
            _run(["npx", "--no-install", "medusa", "build"], work, log, "medusa build")
            if "completed with errors" in log.read_text(errors="replace").rsplit("==== ", 1)[-1]:
                raise BuildError(f"medusa build reported errors in the sources (log: {log})")
            server = work / ".medusa" / "server"
            for needed in ("medusa-config.js", "src/scripts/setup.js", "public/admin/index.html"):
                if not (server / needed).is_file():
                    raise BuildError(f"medusa build made no {needed} (log: {log})")
            say("production node_modules (npm prune --omit=dev)")
            (work / "node_modules").rename(server / "node_modules")
            _run(["npm", "prune", "--omit=dev"], server, log, "npm prune --omit=dev")
            # `medusa db:migrate` makes each module's dist/migrations folder when it is missing. In
            # the image /app belongs to root and the server runs as uid 10001, so they are made here
            # (empty: those modules have no migrations). Without them a store's setup Job fails
            # with EACCES, unless a migration once ran as root in this very folder.
            for dist in (server / "node_modules" / "@medusajs").glob("*/dist"):
                (dist / "migrations").mkdir(exist_ok=True)
            seconds = time.monotonic() - started
            (server / ".storekit-build.json").write_text(json.dumps(
                {"inputs": inputs, "seconds": round(seconds, 1), "node": node_major(),
                 "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2) + "\n")
            if target.exists():
                shutil.rmtree(target)
            server.rename(target)
        _point_current(target)
        for old in root().glob("app-*"):  # one build kept: the current one
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
        say(f"built {target} in {seconds:.0f} s")
        return target, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kind/medusa_app.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the app (cached by its inputs) and print its folder")
    b.add_argument("--force", action="store_true", help="build again even when the inputs did not change")
    sub.add_parser("path", help="print the folder of the current build; exit 1 when it is not built")
    sub.add_parser("inputs", help="print the inputs hash")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            path, _ = build(args.force)
            print(path)
        elif args.command == "path":
            path = built_path()
            if not (path / ".storekit-build.json").is_file():
                say(f"not built: {path} (kind/medusa_app.py build)")
                return 1
            print(path)
        else:
            print(inputs_hash())
        return 0
    except BuildError as e:
        say(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
