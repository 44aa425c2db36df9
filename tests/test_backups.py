"""Backup locations, manifests and checks without a cluster (unit tier): a local directory
location, listing with verification, corrupt and missing parts, location input errors.
The S3 client and the dumps themselves are proven against versitygw and the real node in
tests/test_backup_node.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storekit.backups import core
from storekit.backups.location import LocalLocation, open_location, sha256_of
from storekit.backups.s3 import S3Credentials, sign
from storekit.errors import BackupCorrupt, BackupNotFound, SpecError
from storekit.settings import Settings


def _backup(root: Path, slug: str, backup_id: str, parts: dict[str, bytes]) -> core.BackupInfo:
    folder = root / slug / backup_id
    folder.mkdir(parents=True)
    infos = []
    for name, data in parts.items():
        (folder / name).write_bytes(data)
        infos.append(core.PartInfo(name, len(data), sha256_of(folder / name)))
    info = core.BackupInfo(id=backup_id, store=slug, engine="woocommerce", created_at="2026-12-01T03:00:00Z",
                           location=str(root), parts=tuple(infos))
    (folder / core.MANIFEST).write_text(json.dumps(info.manifest()))
    return info


def test_listing_verifies_every_part_newest_first(tmp_path):
    _backup(tmp_path, "shop", "20261201T030000Z-aaaa", {"database.sql.gz": b"dump", "uploads.tar.gz": b"tar"})
    _backup(tmp_path, "shop", "20261202T030000Z-bbbb", {"database.sql.gz": b"dump2", "uploads.tar.gz": b"tar2"})
    _backup(tmp_path, "other", "20261202T040000Z-cccc", {"database.sql.gz": b"x"})
    (tmp_path / "shop" / "20261203T000000Z-dddd").mkdir()  # no manifest: incomplete, not listed
    location = LocalLocation(str(tmp_path))
    listed = core.listing(location, "shop")
    assert [b.id for b in listed] == ["20261202T030000Z-bbbb", "20261201T030000Z-aaaa"]
    assert all(b.verified for b in listed) and listed[0].size == 9
    assert {b.store for b in core.listing(location, None)} == {"shop", "other"}
    assert core.listing(location, "shop", check=False)[0].verified is None
    assert listed[0].to_dict()["age_seconds"] > 0


def test_a_changed_or_missing_part_is_corrupt(tmp_path):
    info = _backup(tmp_path, "shop", "20261201T030000Z-aaaa", {"database.sql.gz": b"dump", "uploads.tar.gz": b"t"})
    location = LocalLocation(str(tmp_path))
    (tmp_path / "shop" / info.id / "database.sql.gz").write_bytes(b"dumq")
    with pytest.raises(BackupCorrupt, match="database.sql.gz does not match its manifest"):
        core.fetch(location, info, _fresh(tmp_path))
    (tmp_path / "shop" / info.id / "uploads.tar.gz").unlink()
    [listed] = core.listing(location, "shop")
    assert listed.verified is False and "does not match" in listed.problem
    (tmp_path / "shop" / info.id / "database.sql.gz").write_bytes(b"dump")
    with pytest.raises(BackupCorrupt, match="uploads.tar.gz is missing"):
        core.fetch(location, info, _fresh(tmp_path))


def _fresh(root: Path) -> Path:
    folder = root.parent / f"fetch-{len(list(root.parent.iterdir()))}"
    folder.mkdir()
    return folder


def test_unknown_and_malformed_ids_are_not_found(tmp_path):
    location = LocalLocation(str(tmp_path))
    for bad in ("20200101T000000Z-dead", "../../etc", ""):
        with pytest.raises(BackupNotFound):
            core.read_manifest(location, "shop", bad, tmp_path)


def test_location_input_names_the_field_and_rule(tmp_path):
    settings = Settings.load({"home": str(tmp_path)}, environ={})
    assert open_location(None, settings).url == str(tmp_path / "backups")
    assert open_location(f"file://{tmp_path}/b", settings).url == f"{tmp_path}/b"
    with pytest.raises(SpecError, match="s3_endpoint: must be set") as e:
        open_location("s3://bucket/prefix", settings)
    assert "s3_secret_key: must be set" in str(e.value)
    with pytest.raises(SpecError, match="must name a bucket"):
        open_location("s3:///prefix", settings)
    with pytest.raises(SpecError, match="must be a directory, file:///path or s3://"):
        open_location("ftp://host/x", settings)
    with pytest.raises(SpecError, match="http"):
        open_location("s3://b", settings.replace(s3_endpoint="localhost:9000", s3_access_key="a", s3_secret_key="s"))


def test_the_secret_key_is_never_in_a_signature_header_or_repr():
    creds = S3Credentials("AKID", "very-secret-key")
    headers = sign("GET", "h:1", "/b/k", {"list-type": "2"}, "e3b0", creds)
    assert "very-secret-key" not in json.dumps(headers) and "very-secret-key" not in repr(creds)
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    settings = Settings.load({"s3_secret_key": "very-secret-key"}, environ={})
    shown = {row["name"]: row["value"] for row in settings.describe()}
    assert shown["s3_secret_key"] == "(sensitive)"


def test_a_backup_schedule_is_validated_and_needs_an_s3_location(tmp_path):
    from storekit.kit import Storekit
    from storekit.spec import StoreSpec

    bad = StoreSpec.from_dict({"name": "Shop", "admin_email": "a@example.com",
                               "backup": {"schedule": "at three", "keep": 0, "when": 1}})
    fields = [f for f, _ in bad.problems()]
    assert fields == ["backup.when", "backup.schedule", "backup.keep"]
    spec = StoreSpec.from_dict({"name": "Shop", "admin_email": "a@example.com",
                                "backup": {"schedule": "0 3 * * 1-5", "keep": 7}})
    assert spec.problems() == [] and spec.to_dict()["backup"] == {"schedule": "0 3 * * 1-5", "keep": 7}
    assert "backup" not in StoreSpec("Shop", "a@example.com").to_dict()  # unscheduled specs keep their shape
    settings = Settings.load({"home": str(tmp_path)}, environ={})
    with pytest.raises(SpecError, match="backup.schedule: needs an s3:// backup location"):
        Storekit(settings).resolve(spec)
    s3 = settings.replace(backup_location="s3://b/p", s3_endpoint="http://s3:9000", s3_access_key="a",
                          s3_secret_key="s")
    resolved, _ = Storekit(s3).resolve(spec)
    assert resolved.images["backup"] == "storekit/backup:1"  # only a scheduled store gets the backup image
    assert "backup" not in Storekit(s3).resolve(StoreSpec("Shop", "a@example.com"))[0].images


def test_every_engine_that_backs_up_schedules_backups_with_one_script(tmp_path):
    """WooCommerce and Medusa stores get the same CronJob around their own dump (stacks/schedule.py)."""
    import subprocess

    from storekit.kit import Storekit
    from storekit.spec import StoreSpec
    from storekit.stacks import medusa_backup, schedule
    from storekit.stacks.woocommerce import backup as woocommerce_backup

    s3 = Settings.load({"home": str(tmp_path)}, environ={}).replace(
        backup_location="s3://b/p", s3_endpoint="http://s3:9000", s3_access_key="a", s3_secret_key="s")
    spec = StoreSpec.from_dict({"name": "Shop", "admin_email": "a@example.com", "engine": "medusa",
                                "backup": {"schedule": "0 3 * * *", "keep": 2}})
    assert Storekit(s3).resolve(spec)[0].images["backup"] == "storekit/backup:1"
    with pytest.raises(SpecError, match="backup.schedule: needs an s3:// backup location"):
        Storekit(s3.replace(backup_location=str(tmp_path))).resolve(spec)
    for dump, what in ((woocommerce_backup.SCHEDULED_DUMP, "mariadb-dump -h mysql"),
                       (medusa_backup.SCHEDULED_DUMP, "pg_dump -h postgres")):
        script = schedule.script(dump)
        assert what in script and '"engine": "%s"' in script and "rclone purge" in script
        assert subprocess.run(["bash", "-n", "-c", script], capture_output=True).returncode == 0
