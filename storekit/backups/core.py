"""Taking, listing, checking and loading backups (docs/backups.md).

A backup is ``<slug>/<id>/`` in a location: one file per part the engine declares, then
``manifest.json`` (written last; a folder without it is not a backup). Functions here return
data and raise ``storekit.errors``; ``storekit.backups.kitops`` puts them behind the store's
lock, the audit trail and the timeline.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..engine import BackupShape
from ..errors import BackupCorrupt, BackupError, BackupNotFound
from . import podexec
from .location import sha256_of

FORMAT = 1
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PartInfo:
    file: str
    size: int
    sha256: str


@dataclass(frozen=True)
class BackupInfo:
    id: str
    store: str
    engine: str
    created_at: str
    location: str
    parts: tuple[PartInfo, ...] = ()
    images: dict = field(default_factory=dict)
    tier: str | None = None
    url: str | None = None
    seconds: float = 0.0
    verified: bool | None = None  # every part read back and its SHA-256 matched (None: not checked)
    problem: str | None = None  # why it is not verified

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def age_seconds(self) -> int:
        made = datetime.strptime(self.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return max(0, int((datetime.now(timezone.utc) - made).total_seconds()))

    def manifest(self) -> dict:
        return {"format": FORMAT, "id": self.id, "store": self.store, "engine": self.engine,
                "created_at": self.created_at, "seconds": self.seconds, "url": self.url, "tier": self.tier,
                "images": dict(self.images), "parts": {p.file: {"size": p.size, "sha256": p.sha256}
                                                       for p in self.parts}}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parts"] = [asdict(p) for p in self.parts]
        return {**d, "size": self.size, "age_seconds": self.age_seconds}

    @classmethod
    def from_manifest(cls, data: dict, location: str) -> "BackupInfo":
        parts = tuple(PartInfo(f, int(v["size"]), str(v["sha256"])) for f, v in (data.get("parts") or {}).items())
        return cls(id=data["id"], store=data["store"], engine=data["engine"], created_at=data["created_at"],
                   location=location, parts=parts, images=data.get("images") or {}, tier=data.get("tier"),
                   url=data.get("url"), seconds=float(data.get("seconds") or 0))


@dataclass(frozen=True)
class RestoreResult:
    store: str
    backup_id: str
    location: str
    seconds: float
    downtime_seconds: float  # writers stopped (maintenance on) until started again
    healthy: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CloneResult:
    source: str
    store: str
    backup_id: str
    url: str | None
    seconds: float
    restore: RestoreResult

    def to_dict(self) -> dict:
        return asdict(self)


def new_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def take(kube, settings, location, *, slug: str, namespace: str, engine, shape: BackupShape,
         images: dict, tier: str | None, url: str | None) -> BackupInfo:
    """Dump every part from the store's pods, upload parts then the manifest, read them back."""
    location.check()
    started, backup_id = time.monotonic(), new_id()
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with tempfile.TemporaryDirectory(prefix="storekit-backup-") as tmp:
        parts = []
        for part in shape.parts:
            pod, container = podexec.ready_pod(kube, namespace, part.component)
            path = Path(tmp, part.file)
            podexec.run(settings, namespace, pod, container, part.dump, stdout=path, what=f"dumping {part.file}")
            parts.append(PartInfo(part.file, path.stat().st_size, sha256_of(path)))
        info = BackupInfo(id=backup_id, store=slug, engine=engine.name, created_at=created, location=location.url,
                          parts=tuple(parts), images=images, tier=tier, url=url,
                          seconds=round(time.monotonic() - started, 3))
        for part in parts:
            location.put(f"{slug}/{backup_id}/{part.file}", Path(tmp, part.file), part.sha256)
        manifest = Path(tmp, MANIFEST)
        manifest.write_text(json.dumps(info.manifest(), indent=2, sort_keys=True))
        location.put(f"{slug}/{backup_id}/{MANIFEST}", manifest, sha256_of(manifest))
    problem = verify(location, info)
    return _replace(info, verified=problem is None, problem=problem,
                    seconds=round(time.monotonic() - started, 3))


def _replace(info: BackupInfo, **changes) -> BackupInfo:
    from dataclasses import replace

    return replace(info, **changes)


def read_manifest(location, slug: str, backup_id: str, folder: Path) -> BackupInfo:
    if not backup_id or "/" in backup_id or backup_id.startswith("."):
        raise BackupNotFound(backup_id, location.url)
    path = folder / MANIFEST
    location.get(f"{slug}/{backup_id}/{MANIFEST}", path)
    try:
        return BackupInfo.from_manifest(json.loads(path.read_text()), location.url)
    except (ValueError, KeyError, TypeError) as e:
        raise BackupCorrupt(backup_id, f"its manifest is not readable ({e})") from None


def fetch(location, info: BackupInfo, folder: Path) -> None:
    """Download every part into ``folder``; BackupCorrupt when one does not match its manifest."""
    for part in info.parts:
        path = folder / part.file
        try:
            location.get(f"{info.store}/{info.id}/{part.file}", path)
        except BackupNotFound:
            raise BackupCorrupt(info.id, f"its part {part.file} is missing") from None
        size, digest = path.stat().st_size, sha256_of(path)
        if size != part.size or digest != part.sha256:
            raise BackupCorrupt(info.id, f"{part.file} does not match its manifest (SHA-256 {digest[:12]}..., "
                                         f"{size} bytes; expected {part.sha256[:12]}..., {part.size} bytes)")


def verify(location, info: BackupInfo) -> str | None:
    """None when every part reads back with its manifest's size and SHA-256, else why not."""
    with tempfile.TemporaryDirectory(prefix="storekit-verify-") as tmp:
        try:
            fetch(location, info, Path(tmp))
        except BackupCorrupt as e:
            return e.message.split(": ", 1)[1].rsplit("; the store", 1)[0]
    return None


def listing(location, slug: str | None, *, check: bool = True) -> list[BackupInfo]:
    """The backups in ``location`` (of one store, or all), newest first, each verified with ``check``."""
    out = []
    prefix = f"{slug}/" if slug else ""
    with tempfile.TemporaryDirectory(prefix="storekit-list-") as tmp:
        for key, _ in location.list(prefix):
            bits = key.split("/")
            if len(bits) != 3 or bits[2] != MANIFEST:
                continue
            try:
                info = read_manifest(location, bits[0], bits[1], Path(tmp))
            except BackupCorrupt as e:
                out.append(BackupInfo(id=bits[1], store=bits[0], engine="?", created_at="1970-01-01T00:00:00Z",
                                      location=location.url, verified=False, problem=e.message))
                continue
            if check:
                problem = verify(location, info)
                info = _replace(info, verified=problem is None, problem=problem)
            out.append(info)
    return sorted(out, key=lambda b: b.id, reverse=True)


def load(kube, settings, namespace: str, shape: BackupShape, folder: Path, info: BackupInfo, *,
         url: str, admin_user: str, admin_email: str, admin_password: str, rewrite_from: str | None = None,
         timeout: float = 300) -> tuple[float, bool]:
    """Stop the writers, load every part, converge the store's own URL and password, start,
    check. Returns (downtime seconds, healthy). A failure after the stop leaves the store
    stopped and says so."""
    pod, container = podexec.ready_pod(kube, namespace, shape.switch)
    podexec.run(settings, namespace, pod, container, shape.stop, what="stopping the writers")
    stopped = time.monotonic()
    try:
        for part in shape.parts:
            p, c = podexec.ready_pod(kube, namespace, part.component)
            podexec.run(settings, namespace, p, c, part.load, stdin=folder / part.file, what=f"loading {part.file}")
        if rewrite_from and shape.rewrite and rewrite_from.rstrip("/") != url.rstrip("/"):
            podexec.run(settings, namespace, pod, container, shape.rewrite, url.rstrip("/"),
                        rewrite_from.rstrip("/"), what="rewriting the source's URL")
        if shape.converge:
            podexec.run(settings, namespace, pod, container, shape.converge, url, admin_user, admin_email,
                        stdin=admin_password.encode(), what="setting the store's URL and admin password")
    except BackupError as e:
        raise BackupError(f"{e.message}; the store is left stopped (in maintenance)",
                          hint="Restore a backup again, or ask support; `storekit health NAME` shows its pods.") from e
    podexec.run(settings, namespace, pod, container, shape.start, what="starting the writers")
    healthy = all([podexec.replace_pods(kube, namespace, component, timeout) for component in shape.restart])
    downtime = time.monotonic() - stopped
    if healthy and shape.check:
        deadline = time.monotonic() + timeout
        while True:
            try:
                podexec.run(settings, namespace, pod, container, shape.check, url, what="the health check", timeout=60)
                break
            except BackupError:
                if time.monotonic() > deadline:
                    healthy = False
                    break
                time.sleep(2)
    return round(downtime, 3), healthy
