"""Deterministic layers: sorted entries, fixed mtimes, numeric owners, gzip without a timestamp;
the recipe's own files as the image's top layer."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .common import EPOCH, ImageError, store
from .recipes import Recipe, compiler_version, tool_path, tree_path


class _HashingWriter(io.RawIOBase):
    """A write-only stream that hashes and counts what goes through it into ``target``."""

    def __init__(self, target):
        self.target, self.sha, self.size = target, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.sha.update(b)
        self.size += len(b)
        self.target.write(b)
        return len(b)


@dataclass
class Layer:
    digest: str      # sha256 of the gzip blob
    diff_id: str     # sha256 of the uncompressed tar
    size: int        # blob size
    unpacked: int    # uncompressed tar size


def walk(root: Path, rel: str = ""):
    """Every path under root, depth first, sorted by name at each level (stable across runs)."""
    with os.scandir(root / rel if rel else root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        yield path
        if entry.is_dir(follow_symlinks=False):
            yield from walk(root, path)


def write_layer(root: Path, extra: list[tarfile.TarInfo] | None = None) -> Layer:
    """Pack ``root`` (and ``extra`` directory entries, already sorted) into a gzip'd layer blob."""
    blobs = store() / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=blobs, prefix=".layer-")
    with os.fdopen(fd, "wb") as raw:
        compressed = _HashingWriter(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=6) as gz:
            plain = _HashingWriter(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for info in extra or []:
                    tar.addfile(info)
                for rel in walk(root):
                    info = tar.gettarinfo(str(root / rel), arcname=rel)
                    if info is None or info.ischr() or info.isblk() or info.isfifo():
                        continue  # device nodes and fifos: the runtime makes its own /dev
                    info.mtime, info.uname, info.gname = EPOCH, "", ""
                    info.pax_headers = {}
                    if info.isreg():
                        with open(root / rel, "rb") as f:
                            tar.addfile(info, f)
                    else:
                        tar.addfile(info)
    digest = compressed.sha.hexdigest()
    os.replace(tmp, blobs / digest)
    return Layer(digest=f"sha256:{digest}", diff_id=f"sha256:{plain.sha.hexdigest()}",
                 size=compressed.size, unpacked=plain.size)


def dir_entry(path: str, mode: int, uid: int, gid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(path.strip("/"))
    info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, mode, uid, gid, EPOCH
    return info



def files_layer(recipe: Recipe, base_dirs: dict) -> Layer | None:
    """The recipe's files (and directories) as one layer; parents keep the base's metadata."""
    if not recipe.files and not recipe.dirs:
        return None
    if os.geteuid() != 0:
        raise ImageError("building an image needs root (files keep their numeric owners)")
    with tempfile.TemporaryDirectory(dir=store() / "tmp", prefix=f"{recipe.name}-files-") as tmp:
        root = Path(tmp)
        wanted = set()
        for spec in recipe.dirs:
            (root / spec.dest.strip("/")).mkdir(parents=True, exist_ok=True)
        for spec in recipe.files:
            target = root / spec.dest.strip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if spec.src:
                shutil.copyfile(recipe.folder / spec.src, target)
            elif spec.tool:
                shutil.copyfile(tool_path(spec.tool), target)
            elif spec.tree:
                shutil.copytree(tree_path(spec.tree), target, symlinks=True, dirs_exist_ok=True)
            else:
                compile_static(recipe.folder / spec.cc, target)
        # Ownership and modes exactly as declared; directories as in the base image.
        for spec in recipe.files + recipe.dirs:
            path = root / spec.dest.strip("/")
            path.chmod(spec.mode)
            os.chown(path, *spec.owner)
            wanted.add(spec.dest.strip("/"))
        for rel in walk(root):
            path = root / rel
            if path.is_dir() and rel not in wanted:
                mode, uid, gid = base_dirs.get(rel, [0o755, 0, 0])
                path.chmod(mode)
                os.chown(path, uid, gid)
        return write_layer(root)


def compile_static(source: Path, target: Path) -> None:
    compiler_version()
    result = subprocess.run(["gcc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", str(target),
                             str(source)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ImageError(f"gcc -static {source.name} failed: {result.stderr.strip().splitlines()[-1:]}")
