"""Full disk: the state backend's or the catalog's disk fills up.

One store whose Pulumi state (file://) and catalog (SQLite) each live on a small tmpfs of
their own (mounting needs root, as the real node does). Each disk in turn is filled to the
last byte before a tier change: the change fails with ``StorageFull`` naming what is full
and where (exit code 9, HTTP 507), the state file and every catalog row written before are
intact, and once there is room again the same change converges (what the failed write left,
an empty lock file, is repaired by the next run).
"""

from __future__ import annotations

import errno
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from faultlib import assert_converged

from storekit import Storekit, StoreSpec
from storekit.errors import StorageFull

pytestmark = pytest.mark.cluster


@pytest.fixture
def disks(tmp_path):
    """Two 16 MiB tmpfs mounts, (state, catalog); unmounted after the test."""
    mounts = []
    for name in ("state", "catalog"):
        mount = tmp_path / name
        mount.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True)
        mounts.append(mount)
    yield tuple(mounts)
    for mount in mounts:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; the filler file, to remove for room again."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)
    return filler


def test_a_full_state_or_catalog_disk_is_a_clear_error_and_loses_nothing(settings, kube, disks):
    state_disk, catalog_disk = disks
    kit = Storekit(settings.replace(state_url=f"file://{state_disk}", db_url=f"sqlite:///{catalog_disk}/c.db"))
    spec = StoreSpec(name=f"Full Disk {uuid.uuid4().hex[:5]}", admin_email="f@example.com")
    state_file = state_disk / ".pulumi" / "stacks" / "storekit" / f"{spec.slug}.json"
    try:
        kit.apply(spec)
        medium, large = spec.with_changes(tier="medium"), spec.with_changes(tier="large")

        # The state backend's disk.
        recorded = state_file.read_bytes()
        filler = fill(state_disk)
        with pytest.raises(StorageFull) as full:
            kit.apply(medium)
        assert full.value.message.startswith("the state backend has no space left on its disk (writing "), \
            full.value.message
        assert str(state_disk) in full.value.where
        assert (full.value.exit_code, full.value.http_status) == (9, 507)
        assert state_file.read_bytes() == recorded, "the recorded state is intact"
        failed = kit.catalog.audit_entries(store=spec.slug, action="apply")[0]
        assert (failed.outcome, failed.details["error"]) == ("failed", "storage_full")
        filler.unlink()
        kit.apply(medium)
        assert_converged(kit, kube, medium)

        # The catalog's disk.
        rows = [(e.id, e.action, e.outcome) for e in kit.catalog.audit_entries(store=spec.slug, limit=1000)]
        events = len(kit.catalog.events(spec.slug))
        fingerprint = kit.gateway.fingerprint(spec.slug)
        filler = fill(catalog_disk)
        with pytest.raises(StorageFull) as full:
            kit.apply(large)
        assert full.value.message.startswith("the catalog database has no space left on its disk (writing "), \
            full.value.message
        assert full.value.where == f"{catalog_disk}/c.db"
        filler.unlink()
        assert [(e.id, e.action, e.outcome)
                for e in kit.catalog.audit_entries(store=spec.slug, limit=1000)][-len(rows):] == rows
        assert len(kit.catalog.events(spec.slug)) >= events, "no timeline line lost"
        assert kit.gateway.fingerprint(spec.slug) == fingerprint, "refused before the engine ran"
        kit.apply(large)
        assert_converged(kit, kube, large)
    finally:
        for filler in (state_disk / "filler", catalog_disk / "filler"):
            filler.unlink(missing_ok=True)
        if spec.slug in {s.name for s in kit.gateway.list()}:
            kit.destroy(spec.name, governed=False)
