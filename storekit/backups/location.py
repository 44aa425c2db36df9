"""Backup locations: a local directory, or ``s3://bucket/prefix`` on an S3-compatible server.

Both store a backup as files under ``<slug>/<id>/``; a location moves files and lists keys,
nothing more. Errors a person can act on (a missing bucket, refused credentials, an endpoint
that does not answer) become ``BackupLocationError`` naming the location, never its secret.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ..errors import BackupLocationError, BackupNotFound, SpecError
from .s3 import S3Client, S3Credentials, S3Error

REFUSED = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidSecurity",
           "AuthorizationHeaderMalformed", "InvalidToken", "ExpiredToken"}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class LocalLocation:
    def __init__(self, root: str):
        self.root = Path(root).expanduser()
        self.url = str(self.root)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BackupLocationError(self.url, f"cannot create it ({e.strerror})") from e

    def put(self, key: str, path: Path, sha256: str) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".partial")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def get(self, key: str, path: Path) -> None:
        try:
            shutil.copyfile(self.root / key, path)
        except FileNotFoundError as e:
            raise BackupNotFound(key.split("/")[1] if "/" in key else key, self.url) from e

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)
        folder = (self.root / key).parent
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    def list(self, prefix: str) -> list[tuple[str, int]]:
        base = self.root / prefix if prefix else self.root
        folder = base if base.is_dir() else base.parent
        if not folder.is_dir():
            return []
        return sorted((str(p.relative_to(self.root)), p.stat().st_size) for p in folder.rglob("*")
                      if p.is_file() and not p.name.endswith(".partial")
                      and str(p.relative_to(self.root)).startswith(prefix))


class S3Location:
    def __init__(self, url: str, client: S3Client):
        rest = url[len("s3://"):]
        self.bucket, _, prefix = rest.partition("/")
        self.prefix = prefix.strip("/")
        self.client, self.url = client, url.rstrip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, call, *args):
        try:
            return call(*args)
        except S3Error as e:
            if e.code == "NoSuchBucket":
                raise BackupLocationError(self.url, f"the bucket '{self.bucket}' does not exist at "
                                                    f"{self.client.endpoint}") from None
            if e.code in REFUSED or e.status == 403:
                raise BackupLocationError(self.url, f"the server refused the credentials ({e.code}); check "
                                                    "STOREKIT_S3_ACCESS_KEY and STOREKIT_S3_SECRET_KEY") from None
            if e.code == "Unreachable":
                raise BackupLocationError(self.url, e.message) from None
            raise BackupLocationError(self.url, f"{what} failed: {e}") from None

    def check(self) -> None:
        self._call("checking the bucket", self.client.head_bucket, self.bucket)

    def put(self, key: str, path: Path, sha256: str) -> None:
        with open(path, "rb") as f:
            self._call(f"uploading {key}", self.client.put, self.bucket, self._key(key), f,
                       path.stat().st_size, sha256)

    def get(self, key: str, path: Path) -> None:
        try:
            with open(path, "wb") as f:
                self.client.get(self.bucket, self._key(key), f)
        except S3Error as e:
            if e.code == "NoSuchKey" or e.status == 404 and e.code != "NoSuchBucket":
                raise BackupNotFound(key.split("/")[1] if "/" in key else key, self.url) from None
            self._call("downloading", _raise, e)

    def delete(self, key: str) -> None:
        self._call(f"deleting {key}", self.client.delete, self.bucket, self._key(key))

    def list(self, prefix: str) -> list[tuple[str, int]]:
        keys = self._call("listing", self.client.list, self.bucket, self._key(prefix))
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted((k[cut:], size) for k, size in keys)


def _raise(error: Exception):
    raise error


def open_location(url: str | None, settings) -> LocalLocation | S3Location:
    """The location ``url`` names (default: the ``backup_location`` setting)."""
    url = (url or settings.backup_location or "").strip()
    if not url:
        raise SpecError([("location", "must be a directory or s3://bucket/prefix")], subject="backup location")
    if url.startswith("s3://"):
        if not url[5:].split("/")[0]:
            raise SpecError([("location", f"must name a bucket: s3://bucket/prefix (got {url!r})")],
                            subject="backup location")
        missing = [name for name in ("s3_endpoint", "s3_access_key", "s3_secret_key") if not getattr(settings, name)]
        if missing:
            raise SpecError([(m, f"must be set for an s3:// location (STOREKIT_{m.upper()})") for m in missing],
                            subject="backup location")
        try:
            client = S3Client(settings.s3_endpoint, S3Credentials(settings.s3_access_key, settings.s3_secret_key,
                                                                  settings.s3_region or "us-east-1"))
        except ValueError as e:
            raise SpecError([("s3_endpoint", str(e))], subject="backup location") from None
        return S3Location(url, client)
    if "://" in url and not url.startswith("file://"):
        raise SpecError([("location", f"must be a directory, file:///path or s3://bucket/prefix (got {url!r})")],
                        subject="backup location")
    return LocalLocation(url[len("file://"):] if url.startswith("file://") else url)
