#!/usr/bin/env python3
"""Build the real node's container images here, from Debian packages and our own files.

No container registry is reachable from these machines, so every image a pod runs on the
real node (the pause sandbox, the cluster add-ons, the stores' MariaDB and WordPress) is
made on the machine from what the package registries serve, and imported into containerd.

    kind/images.py build [NAME ...] [--refresh]    build (cached) and write index.json
    kind/images.py import --address SOCK [NAME ...] load them into containerd (namespace k8s.io)
    kind/images.py list                            what is built: reference, sizes, archive
    kind/images.py archive NAME                    the OCI archive of one built image

A recipe is a folder ``kind/images/<name>/`` with an ``image.yaml`` and its files. Two kinds:

- ``debian``: a Debian root file system made with ``debootstrap --variant=minbase`` (cached
  per suite), the recipe's packages installed with apt and its ``run`` script run in a
  chroot; that base layer is cached by suite + package set + script. Our files go in a
  second, small layer, so editing an entrypoint repacks only that.
- ``binary``: ``scratch`` plus files: a C program compiled static with Debian's gcc (the
  pause image), or a static binary from ``$STOREKIT_HOME/tools/bin`` (built by kind/tools.sh).

Output, under ``$STOREKIT_HOME/images/``: one OCI image layout tar per image, named by the
hash of its inputs (recipe, files, package list, suite, tool binaries), which
``ctr images import`` and ``docker load`` both accept (it carries the docker
``manifest.json`` beside the OCI ``index.json``); ``index.json`` maps each name to its
reference ``storekit.local/<name>:<tag>`` (the tag ends with the inputs hash, so a changed
image gets a new reference and ``imagePullPolicy: IfNotPresent`` picks it up); and
``builds.json`` with the details. A build whose inputs did not change reads two small
files and does nothing else. Layers are deterministic: sorted entries, fixed mtimes,
numeric uid/gid kept, device nodes skipped, gzip without a timestamp.

Only the standard library and PyYAML: the node script runs it with the repo's .venv. This file is
the command line and the build/index/import steps; the parts live in ``kind/imagebuild/`` by
domain: ``recipes`` (image.yaml, inputs hash), ``layers`` (deterministic tars, our files),
``debian`` (debootstrap, packages in a chroot), ``archive`` (OCI layout + docker manifest).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # kind/imagebuild, when run or loaded by path

from imagebuild.archive import image_config, write_archive  # noqa: E402
from imagebuild.common import (EPOCH, REGISTRY, ImageError, home, read_json, recipes_dir, say,  # noqa: E402,F401
                               store, write_json)
from imagebuild.debian import package_layer  # noqa: E402
from imagebuild.layers import files_layer, write_layer  # noqa: E402,F401
from imagebuild.recipes import inputs_hash, load_recipe, recipe_names  # noqa: E402

# ---- build, index, import --------------------------------------------------------------------

@contextlib.contextmanager
def locked():
    """One builder at a time per $STOREKIT_HOME (the team shares the machine)."""
    store().mkdir(parents=True, exist_ok=True)
    (store() / "tmp").mkdir(exist_ok=True)
    with open(store() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def build_one(name: str, refresh: bool = False) -> dict:
    started = time.monotonic()
    recipe = load_recipe(name)
    inputs = inputs_hash(recipe)
    tag = f"{recipe.version}-{inputs[:12]}" if recipe.version else inputs[:12]
    ref = f"{REGISTRY}/{name}:{tag}"
    archive = store() / f"{name}-{inputs[:16]}.oci.tar"
    builds = read_json(store() / "builds.json")
    known = builds.get(name)
    if not refresh and known and known.get("ref") == ref and archive.is_file():
        return {**known, "cached": True, "seconds": time.monotonic() - started}
    layers = []
    base_dirs: dict = {}
    if recipe.kind == "debian":
        if refresh:
            for record in (store() / "cache" / "layers").glob("*.json"):
                if json.loads(record.read_text()).get("packages") == recipe.packages:
                    record.unlink()
        base, base_dirs = package_layer(recipe)
        layers.append(base)
    top = files_layer(recipe, base_dirs)
    if top:
        layers.append(top)
    if not layers:
        raise ImageError(f"{name}: the image would be empty (no packages, no files)")
    digest = write_archive(archive, ref, layers, image_config(recipe, layers, inputs))
    for old in store().glob(f"{name}-*.oci.tar"):  # one archive per image: the current one
        if old != archive:
            old.unlink()
    entry = {"ref": ref, "archive": str(archive), "manifest": digest, "inputs": inputs,
             "size": archive.stat().st_size, "unpacked": sum(l.unpacked for l in layers),
             "layers": [l.digest for l in layers]}
    builds[name] = entry
    write_json(store() / "builds.json", builds)
    index = read_json(store() / "index.json")
    index[name] = ref
    write_json(store() / "index.json", index)
    collect_garbage(builds)
    return {**entry, "cached": False, "seconds": time.monotonic() - started}


def collect_garbage(builds: dict) -> None:
    """Drop blobs no current image and no cached base layer uses."""
    keep = {d[7:] for b in builds.values() for d in b.get("layers", [])}
    for record in (store() / "cache" / "layers").glob("*.json"):
        keep.add(json.loads(record.read_text())["layer"]["digest"][7:])
    for blob in (store() / "blobs" / "sha256").glob("*"):
        if blob.name not in keep and not blob.name.startswith("."):
            # config and manifest blobs are tiny and remade on demand
            blob.unlink()


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def cmd_build(names: list[str], refresh: bool) -> int:
    explicit = bool(names)
    names = names or recipe_names()
    with locked():
        for name in names:
            try:
                result = build_one(name, refresh)
            except ImageError as e:
                if explicit or "is not built" not in str(e):
                    raise
                say(f"skipped {e}")
                continue
            state = "cached" if result["cached"] else "built"
            print(f"{name:16} {result['ref']:48} {human(result['size']):>9} packed "
                  f"{human(result['unpacked']):>9} unpacked  {state} in {result['seconds']:.1f} s", flush=True)
    return 0


def find_ctr(explicit: str | None) -> str:
    for candidate in (explicit, str(home() / "tools" / "bin" / "ctr"), shutil.which("ctr")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise ImageError("ctr is missing: build the node's tools (kind/tools.sh) or pass --ctr PATH")


def cmd_import(address: str, names: list[str], ctr: str | None, snapshotter: str | None) -> int:
    binary = find_ctr(ctr)
    builds = read_json(store() / "builds.json")
    names = names or sorted(builds)
    missing = [n for n in names if n not in builds]
    if missing:
        raise ImageError(f"{missing[0]} is not built (kind/images.py build {missing[0]})")
    base = [binary, "--address", address, "--namespace", "k8s.io"]
    listed = subprocess.run([*base, "images", "ls", "-q"], capture_output=True, text=True)
    if listed.returncode != 0:
        raise ImageError(f"ctr cannot list images at {address}: {listed.stderr.strip()[-300:]}")
    present = set(listed.stdout.split())
    for name in names:
        ref = builds[name]["ref"]
        if ref in present:
            print(f"{name:16} {ref:48} present", flush=True)
            continue
        started = time.monotonic()
        argv = [*base, "images", "import"]
        if snapshotter:
            argv += ["--snapshotter", snapshotter]
        result = subprocess.run([*argv, builds[name]["archive"]], capture_output=True, text=True)
        if result.returncode != 0:
            raise ImageError(f"ctr images import {name} failed: {result.stderr.strip()[-300:]}")
        print(f"{name:16} {ref:48} imported in {time.monotonic() - started:.1f} s", flush=True)
    return 0


def cmd_list() -> int:
    builds = read_json(store() / "builds.json")
    for name, b in sorted(builds.items()):
        print(f"{name:16} {b['ref']:48} {human(b['size']):>9} packed {human(b['unpacked']):>9} unpacked  "
              f"{b['archive']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kind/images.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build images (all recipes by default), cached by their inputs")
    b.add_argument("names", nargs="*")
    b.add_argument("--refresh", action="store_true", help="remake the package layers too (new Debian updates)")
    i = sub.add_parser("import", help="import built images into containerd (namespace k8s.io)")
    i.add_argument("names", nargs="*")
    i.add_argument("--address", required=True, help="containerd's socket")
    i.add_argument("--ctr", help="the ctr binary (default: $STOREKIT_HOME/tools/bin/ctr, then PATH)")
    i.add_argument("--snapshotter", help="unpack for this snapshotter (default: containerd's)")
    sub.add_parser("list", help="the built images, their sizes and archives")
    a = sub.add_parser("archive", help="print the OCI archive path of a built image")
    a.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            return cmd_build(args.names, args.refresh)
        if args.command == "import":
            return cmd_import(args.address, args.names, args.ctr, args.snapshotter)
        if args.command == "list":
            return cmd_list()
        entry = read_json(store() / "builds.json").get(args.name)
        if not entry:
            raise ImageError(f"{args.name} is not built (kind/images.py build {args.name})")
        print(entry["archive"])
        return 0
    except ImageError as e:
        say(f"error: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
