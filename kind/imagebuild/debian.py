"""Debian root file systems: a debootstrap minbase per suite (cached), the recipe's packages and
run script installed in a chroot, packed as the image's base layer (cached by its inputs)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .common import BUILDER_VERSION, ImageError, arch, canonical, need, run_logged, say, store
from .layers import Layer, walk, write_layer
from .recipes import Recipe


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
        for rel in walk(root):
            st = os.lstat(root / rel)
            if stat.S_ISDIR(st.st_mode):
                dirs[rel] = [stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid]
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"layer": layer.__dict__, "dirs": dirs, "packages": recipe.packages}))
    return layer, dirs
