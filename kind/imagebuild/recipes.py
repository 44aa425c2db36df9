"""Recipes: ``kind/images/<name>/image.yaml`` read and checked, and the hash of everything an
image is made from."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .common import BUILDER_VERSION, SUITES, ImageError, arch, home, need, recipes_dir, sha256_file


@dataclass
class FileSpec:
    dest: str
    src: str | None = None     # a file of the recipe folder
    cc: str | None = None      # a C source of the recipe folder, compiled static
    tool: str | None = None    # a binary from $STOREKIT_HOME/tools/bin
    tree: str | None = None    # a folder under $STOREKIT_HOME made by its own builder (medusa/current)
    mode: int = 0o644
    owner: tuple[int, int] = (0, 0)


@dataclass
class Recipe:
    name: str
    folder: Path
    kind: str
    version: str = ""
    suite: str = "bookworm"
    packages: list[str] = field(default_factory=list)
    run: str = ""
    files: list[FileSpec] = field(default_factory=list)
    dirs: list[FileSpec] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    user: str = ""
    workdir: str = ""
    ports: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    stop_signal: str = ""


RECIPE_FIELDS = {"kind", "version", "suite", "packages", "run", "files", "dirs", "entrypoint", "cmd",
                 "env", "user", "workdir", "ports", "volumes", "stop_signal"}


def _owner(value, where: str) -> tuple[int, int]:
    try:
        uid, gid = str(value).split(":")
        return int(uid), int(gid)
    except ValueError:
        raise ImageError(f"{where}.owner must be numeric 'UID:GID', got {value!r}") from None


def _strings(data: dict, key: str, where: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise ImageError(f"{where}: {key} must be a list of strings")
    return [str(v) for v in value]


def load_recipe(name: str) -> Recipe:
    folder = recipes_dir() / name
    path = folder / "image.yaml"
    if not path.is_file():
        known = ", ".join(recipe_names()) or "none"
        raise ImageError(f"no recipe {name!r} (kind/images/{name}/image.yaml); known: {known}")
    where = f"kind/images/{name}/image.yaml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ImageError(f"{where}: not valid YAML ({str(e).splitlines()[0]})") from e
    if not isinstance(data, dict):
        raise ImageError(f"{where}: must be a mapping")
    unknown = sorted(set(data) - RECIPE_FIELDS)
    if unknown:
        raise ImageError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(RECIPE_FIELDS))})")
    kind = data.get("kind")
    if kind not in ("debian", "binary"):
        raise ImageError(f"{where}: kind must be 'debian' or 'binary', got {kind!r}")
    suite = str(data.get("suite", "bookworm"))
    if suite not in SUITES:
        raise ImageError(f"{where}: suite must be one of {', '.join(SUITES)}, got {suite!r}")
    files, dirs = [], []
    for i, entry in enumerate(data.get("files") or []):
        w = f"{where}: files[{i}]"
        if not isinstance(entry, dict) or not str(entry.get("dest", "")).startswith("/"):
            raise ImageError(f"{w}.dest must be an absolute path")
        sources = [k for k in ("src", "cc", "tool", "tree") if k in entry]
        if len(sources) != 1:
            raise ImageError(f"{w}: give exactly one of src, cc, tool, tree")
        if kind == "debian" and sources[0] not in ("src", "tree"):
            raise ImageError(f"{w}: a debian image takes files from src or tree only")
        if sources[0] in ("src", "cc") and not (folder / entry[sources[0]]).is_file():
            raise ImageError(f"{w}.{sources[0]}: no file kind/images/{name}/{entry[sources[0]]}")
        default_mode = 0o755 if sources[0] in ("cc", "tool", "tree") else 0o644
        files.append(FileSpec(dest=entry["dest"], **{sources[0]: str(entry[sources[0]])},
                              mode=int(entry.get("mode", default_mode)),
                              owner=_owner(entry.get("owner", "0:0"), w)))
    for i, entry in enumerate(data.get("dirs") or []):
        w = f"{where}: dirs[{i}]"
        if not isinstance(entry, dict) or not str(entry.get("dest", "")).startswith("/"):
            raise ImageError(f"{w}.dest must be an absolute path")
        dirs.append(FileSpec(dest=entry["dest"], mode=int(entry.get("mode", 0o755)),
                             owner=_owner(entry.get("owner", "0:0"), w)))
    env = data.get("env") or {}
    if not isinstance(env, dict):
        raise ImageError(f"{where}: env must be a mapping")
    packages = _strings(data, "packages", where)
    if kind == "binary" and (packages or data.get("run")):
        raise ImageError(f"{where}: a binary image has no packages or run script")
    if kind == "debian" and not packages:
        raise ImageError(f"{where}: packages must list at least one Debian package")
    return Recipe(
        name=name, folder=folder, kind=kind, version=str(data.get("version", "")), suite=suite,
        packages=sorted(set(packages)), run=str(data.get("run", "")), files=files, dirs=dirs,
        entrypoint=_strings(data, "entrypoint", where), cmd=_strings(data, "cmd", where),
        env={str(k): str(v) for k, v in env.items()}, user=str(data.get("user", "")),
        workdir=str(data.get("workdir", "")), ports=_strings(data, "ports", where),
        volumes=_strings(data, "volumes", where), stop_signal=str(data.get("stop_signal", "")))


def recipe_names() -> list[str]:
    return sorted(p.parent.name for p in recipes_dir().glob("*/image.yaml"))


def tool_path(name: str) -> Path:
    return home() / "tools" / "bin" / name


# A tree's builder (kind/medusa_app.py) writes this stamp, naming the tree's inputs, last.
TREE_STAMP = ".storekit-build.json"


def tree_path(name: str) -> Path:
    return home() / name


def compiler_version() -> str:
    need("gcc", "gcc", "libc6-dev")
    try:
        return subprocess.run(["gcc", "-dumpfullversion"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise ImageError("gcc is missing (apt-get install gcc libc6-dev)") from e


def inputs_hash(recipe: Recipe) -> str:
    """Everything the image is made from: the recipe folder's files, the tools it copies."""
    h = hashlib.sha256(f"storekit-images/{BUILDER_VERSION}\0{arch()}\0".encode())
    for path in sorted(p for p in recipe.folder.rglob("*") if p.is_file()):
        rel = path.relative_to(recipe.folder).as_posix()
        h.update(f"{rel}\0{path.stat().st_mode & 0o111}\0{sha256_file(path)}\0".encode())
    for spec in recipe.files:
        if spec.tool:
            binary = tool_path(spec.tool)
            if not binary.is_file():
                raise ImageError(f"{recipe.name}: {binary} is not built (kind/tools.sh builds it)")
            h.update(f"tool\0{spec.tool}\0{sha256_file(binary)}\0".encode())
        if spec.cc:
            h.update(f"gcc\0{compiler_version()}\0".encode())
        if spec.tree:  # the stamp names the tree's inputs: no need to hash the whole tree
            stamp = tree_path(spec.tree) / TREE_STAMP
            if not stamp.is_file():
                raise ImageError(f"{recipe.name}: {tree_path(spec.tree)} is not built (see kind/images/{recipe.name})")
            h.update(f"tree\0{spec.tree}\0{sha256_file(stamp)}\0".encode())
    return h.hexdigest()
