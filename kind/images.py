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

Only the standard library and PyYAML: the node script runs it with the repo's .venv.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# STOREKIT_IMAGE_RECIPES: another recipe folder (benchmarks and tests edit copies, never ours).
RECIPES = Path(os.environ.get("STOREKIT_IMAGE_RECIPES") or HERE / "images")
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


# ---- recipes ---------------------------------------------------------------------------------

@dataclass
class FileSpec:
    dest: str
    src: str | None = None     # a file of the recipe folder
    cc: str | None = None      # a C source of the recipe folder, compiled static
    tool: str | None = None    # a binary from $STOREKIT_HOME/tools/bin
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
    folder = RECIPES / name
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
        sources = [k for k in ("src", "cc", "tool") if k in entry]
        if len(sources) != 1:
            raise ImageError(f"{w}: give exactly one of src, cc, tool")
        if kind == "debian" and sources[0] != "src":
            raise ImageError(f"{w}: a debian image takes files from src only")
        if sources[0] in ("src", "cc") and not (folder / entry[sources[0]]).is_file():
            raise ImageError(f"{w}.{sources[0]}: no file kind/images/{name}/{entry[sources[0]]}")
        default_mode = 0o755 if sources[0] in ("cc", "tool") else 0o644
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
    return sorted(p.parent.name for p in RECIPES.glob("*/image.yaml"))


def tool_path(name: str) -> Path:
    return home() / "tools" / "bin" / name


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
    return h.hexdigest()


def arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


# ---- deterministic layers --------------------------------------------------------------------

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


def _walk(root: Path, rel: str = ""):
    """Every path under root, depth first, sorted by name at each level (stable across runs)."""
    with os.scandir(root / rel if rel else root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = f"{rel}/{entry.name}" if rel else entry.name
        yield path
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, path)


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
                for rel in _walk(root):
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


# ---- Debian root file systems ----------------------------------------------------------------

def host_mirrors() -> tuple[str, str]:
    """The Debian mirror and security mirror the host's apt uses (env STOREKIT_DEBIAN_MIRROR and
    STOREKIT_DEBIAN_SECURITY_MIRROR win), so a build goes wherever the host's apt may go."""
    mirror = os.environ.get("STOREKIT_DEBIAN_MIRROR", "")
    security = os.environ.get("STOREKIT_DEBIAN_SECURITY_MIRROR", "")
    uris = []
    for path in sorted(Path("/etc/apt").glob("sources.list.d/*.sources")) + [Path("/etc/apt/sources.list")]:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                words = line.split()
                if line.startswith("URIs:"):
                    uris += words[1:]
                elif words[:1] == ["deb"]:
                    uris += [w for w in words[1:] if "://" in w][:1]
    for uri in uris:
        if uri.rstrip("/").endswith("/debian-security"):
            security = security or uri
        elif uri.rstrip("/").endswith("/debian"):
            mirror = mirror or uri
    return (mirror or "http://deb.debian.org/debian", security or "http://deb.debian.org/debian-security")


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


def debootstrap_tarball(suite: str) -> Path:
    """A minbase root file system of ``suite``, made once and kept as a tar (devices included)."""
    mirror, _ = host_mirrors()
    path = store() / "cache" / f"debootstrap-{suite}-minbase.tar"
    if path.is_file():
        return path
    if os.geteuid() != 0:
        raise ImageError("building a Debian image needs root (debootstrap, chroot)")
    need("debootstrap", "debootstrap")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store() / "tmp", prefix="debootstrap-") as tmp:
        root = Path(tmp) / "root"
        say(f"debootstrap {suite} (minbase) from {mirror}")
        run_logged(["debootstrap", "--variant=minbase", suite, str(root), mirror], f"debootstrap {suite}")
        partial = path.with_suffix(".partial")
        run_logged(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], "tar the minbase")
        os.replace(partial, path)
    return path


# Run in the chroot (under a private mount and PID namespace) to install the packages.
_PACKAGE_SCRIPT = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
apt-get update -q
apt-get upgrade -y -q
apt-get install -y -q --no-install-recommends "$@"
if [ -s /tmp/storekit-run.sh ]; then sh -eu /tmp/storekit-run.sh; fi
apt-get clean
"""

_NODOC = """\
# storekit images: no documentation, manual pages or translations (copyright files stay)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""

# What the image does not need at run time: lists, caches, logs, docs already installed.
_TRIM = r"""
set -eu
cd "$1"
rm -rf var/lib/apt/lists/* var/cache/apt/* var/cache/debconf/*-old var/lib/dpkg/*-old \
  var/log/apt var/log/dpkg.log var/log/alternatives.log var/log/bootstrap.log \
  usr/share/man/* usr/share/info/* usr/share/lintian/* tmp/* var/tmp/* \
  usr/sbin/policy-rc.d etc/apt/apt.conf.d/00storekit-build
find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find usr/share/doc -mindepth 1 -type d -empty -delete
find usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
find var/cache/ldconfig -type f -delete 2>/dev/null || true
: > etc/machine-id
: > etc/resolv.conf
echo localhost > etc/hostname
"""


def _host_apt_settings() -> str:
    """apt settings of the host that matter for reaching the mirror (proxy, CA, validity)."""
    lines = []
    for path in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
        with contextlib.suppress(OSError):
            text = path.read_text()
            if "Proxy" in text or "Check-Valid-Until" in text or "CaInfo" in text:
                lines.append(f"// from the host's {path}\n{text}")
    return "\n".join(lines)


def package_layer(recipe: Recipe) -> tuple[Layer, dict]:
    """The recipe's root file system (minbase + packages + run script) as a cached layer, and the
    metadata of its directories (so the files layer's parent directories keep theirs)."""
    key = hashlib.sha256(canonical({"builder": BUILDER_VERSION, "suite": recipe.suite, "arch": arch(),
                                    "packages": recipe.packages, "run": recipe.run})).hexdigest()
    record = store() / "cache" / "layers" / f"{key}.json"
    if record.is_file():
        data = json.loads(record.read_text())
        layer = Layer(**data["layer"])
        if (store() / "blobs" / "sha256" / layer.digest.split(":")[1]).is_file():
            return layer, data["dirs"]
    base = debootstrap_tarball(recipe.suite)
    mirror, security = host_mirrors()
    with tempfile.TemporaryDirectory(dir=store() / "tmp", prefix=f"{recipe.name}-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        run_logged(["tar", "--numeric-owner", "-C", str(root), "-xpf", str(base)], "unpack the minbase")
        (root / "etc/apt/sources.list").write_text(
            f"deb {mirror} {recipe.suite} main\n"
            f"deb {mirror} {recipe.suite}-updates main\n"
            f"deb {security} {recipe.suite}-security main\n")
        (root / "etc/dpkg/dpkg.cfg.d/01storekit-nodoc").write_text(_NODOC)
        (root / "etc/apt/apt.conf.d/01storekit-norecommends").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\nAcquire::Languages "none";\n')
        build_conf = _host_apt_settings()
        ca = Path(os.environ.get("CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
        if ca.is_file():  # a TLS-inspecting proxy or an https mirror: trust what the host trusts
            shutil.copyfile(ca, root / "tmp/storekit-host-ca.crt")
            build_conf += '\nAcquire::https::CaInfo "/tmp/storekit-host-ca.crt";\n'
        (root / "etc/apt/apt.conf.d/00storekit-build").write_text(build_conf)
        policy = root / "usr/sbin/policy-rc.d"  # no service starts inside the build
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        (root / "tmp/storekit-run.sh").write_text(recipe.run)
        shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
        say(f"{recipe.name}: apt-get install {' '.join(recipe.packages)} ({recipe.suite})")
        mount_and_chroot = (
            'set -e; r=$1; shift; mount --make-rprivate /; mount -t proc proc "$r/proc"; '
            'mount -t sysfs sys "$r/sys"; mount --rbind /dev "$r/dev"; '
            'exec chroot "$r" /bin/sh -c "$0" storekit "$@"')
        env = {k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}
        env.update(PATH="/usr/sbin:/usr/bin:/sbin:/bin", HOME="/root")
        run_logged(["unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", mount_and_chroot,
                    _PACKAGE_SCRIPT, str(root), *recipe.packages],
                   f"{recipe.name}: install packages", env=env)
        run_logged(["sh", "-c", _TRIM, "trim", str(root)], f"{recipe.name}: trim")
        say(f"{recipe.name}: packing the base layer")
        layer = write_layer(root)
        dirs = {}
        for rel in _walk(root):
            st = os.lstat(root / rel)
            if stat.S_ISDIR(st.st_mode):
                dirs[rel] = [stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"layer": layer.__dict__, "dirs": dirs, "packages": recipe.packages}))
    return layer, dirs


# ---- our files -------------------------------------------------------------------------------

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
            else:
                compile_static(recipe.folder / spec.cc, target)
        # Ownership and modes exactly as declared; directories as in the base image.
        for spec in recipe.files + recipe.dirs:
            path = root / spec.dest.strip("/")
            path.chmod(spec.mode)
            os.chown(path, *spec.owner)
            wanted.add(spec.dest.strip("/"))
        for rel in _walk(root):
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


# ---- image archives --------------------------------------------------------------------------

def put_blob(data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    path = store() / "blobs" / "sha256" / digest
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{digest}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return f"sha256:{digest}", len(data)


def image_config(recipe: Recipe, layers: list[Layer], inputs: str) -> dict:
    config = {"Env": [PATH_ENV] + [f"{k}={v}" for k, v in recipe.env.items() if k != "PATH"]}
    if "PATH" in recipe.env:
        config["Env"][0] = f"PATH={recipe.env['PATH']}"
    for key, value in (("Entrypoint", recipe.entrypoint), ("Cmd", recipe.cmd), ("User", recipe.user),
                       ("WorkingDir", recipe.workdir), ("StopSignal", recipe.stop_signal)):
        if value:
            config[key] = value
    if recipe.ports:
        config["ExposedPorts"] = {(p if "/" in p else f"{p}/tcp"): {} for p in recipe.ports}
    if recipe.volumes:
        config["Volumes"] = {v: {} for v in recipe.volumes}
    config["Labels"] = {"io.storekit.image.inputs": inputs, "io.storekit.image.recipe": recipe.name}
    return {
        "created": CREATED, "architecture": arch(), "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": CREATED, "created_by": f"storekit kind/images.py {recipe.kind} layer {i}"}
                    for i in range(len(layers))],
    }


def write_archive(path: Path, ref: str, layers: list[Layer], config: dict) -> str:
    """An OCI image layout tar, with docker's manifest.json beside it (docker load, ctr import)."""
    config_digest, config_size = put_blob(canonical(config))
    manifest = {
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": l.digest, "size": l.size} for l in layers],
    }
    manifest_digest, manifest_size = put_blob(canonical(manifest))
    tag = ref.rsplit(":", 1)[1]
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [{
        "mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": manifest_size,
        "platform": {"architecture": arch(), "os": "linux"},
        "annotations": {"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag}}]}
    docker_manifest = [{"Config": f"blobs/sha256/{config_digest[7:]}", "RepoTags": [ref],
                        "Layers": [f"blobs/sha256/{l.digest[7:]}" for l in layers]}]
    members = [("oci-layout", canonical({"imageLayoutVersion": "1.0.0"})), ("index.json", canonical(index)),
               ("manifest.json", canonical(docker_manifest))]
    blob_dir = store() / "blobs" / "sha256"
    partial = path.with_name(f".{path.name}.partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirname in ("blobs", "blobs/sha256"):
            tar.addfile(dir_entry(dirname, 0o755, 0, 0))
        digests = sorted({config_digest, manifest_digest, *(l.digest for l in layers)})
        for digest in digests:
            blob = blob_dir / digest[7:]
            info = tarfile.TarInfo(f"blobs/sha256/{digest[7:]}")
            info.size, info.mode, info.mtime = blob.stat().st_size, 0o644, EPOCH
            with open(blob, "rb") as f:
                tar.addfile(info, f)
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, EPOCH
            tar.addfile(info, io.BytesIO(data))
    os.replace(partial, path)
    return manifest_digest


# ---- build, index, import --------------------------------------------------------------------

def read_json(path: Path) -> dict:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        return json.loads(path.read_text())
    return {}


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


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
