"""storekit's own S3 client (SigV4, path-style) against a real S3-compatible server: versitygw
on loopback (tests/s3server.py). Keys with spaces, listing across pages, reading back, and the
errors a person meets (missing bucket, refused credentials, unknown key) as one line each."""

from __future__ import annotations

import hashlib
import io

import pytest

import s3server
from storekit.backups.location import open_location
from storekit.backups.s3 import S3Client
from storekit.errors import BackupLocationError, BackupNotFound
from storekit.settings import Settings

pytestmark = pytest.mark.s3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = s3server.start(tmp_path_factory.mktemp("s3"))
    yield s
    s3server.stop(s)


def test_put_list_get_delete_through_a_location(server, tmp_path):
    settings = Settings.load({"home": str(tmp_path), **server.settings()}, environ={})
    location = open_location(server.bucket("backups") + "/pre/fix", settings)
    location.check()
    part = tmp_path / "part.bin"
    part.write_bytes(b"0123456789" * 5000)
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    for i in range(3):
        location.put(f"shop/id {i}/part.bin", part, digest)
    assert location.list("shop/") == [(f"shop/id {i}/part.bin", 50000) for i in range(3)]
    back = tmp_path / "back.bin"
    location.get("shop/id 1/part.bin", back)
    assert back.read_bytes() == part.read_bytes()
    location.delete("shop/id 1/part.bin")
    assert [k for k, _ in location.list("")] == ["shop/id 0/part.bin", "shop/id 2/part.bin"]
    with pytest.raises(BackupNotFound, match="no backup 'nope'"):
        location.get("shop/nope/manifest.json", back)


def test_listing_follows_continuation_pages(server):
    client = S3Client(server.endpoint, server.client.creds)
    server.bucket("many")
    for i in range(1005):  # ListObjectsV2 pages hold 1000 keys
        client.put("many", f"k/{i:04d}", io.BytesIO(b""), 0, hashlib.sha256(b"").hexdigest())
    assert len(client.list("many", "k/")) == 1005


def test_location_errors_are_one_line_and_never_show_the_secret(server, tmp_path):
    settings = Settings.load({"home": str(tmp_path), **server.settings()}, environ={})
    url = server.bucket("backups")
    with pytest.raises(BackupLocationError, match="the bucket 'missing' does not exist"):
        open_location("s3://missing/x", settings).check()
    wrong = settings.replace(s3_secret_key="not-the-key")
    for call in (lambda loc: loc.check(), lambda loc: loc.list("")):
        with pytest.raises(BackupLocationError, match="refused the credentials") as e:
            call(open_location(url, wrong))
        assert "\n" not in str(e.value) and "not-the-key" not in str(e.value)
    with pytest.raises(BackupLocationError, match="does not answer"):
        open_location(url, settings.replace(s3_endpoint="http://127.0.0.1:9")).check()
