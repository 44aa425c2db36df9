"""Backup and restore of a Medusa store that really runs on the real node (docs/backups.md),
to the S3-compatible server of tests/test_backup_node.py (versitygw, tests/s3server.py): the
Sample Product renamed through the admin API after a backup, the backup restored, the original
title back, and the store still sells. One store for the module (tests/test_medusa_node.py's)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse

import pytest

import s3server
from helpers import wait_for
from medusa_shop import buy_and_check
from storekit import Storekit
from test_medusa_node import healthy_through, images, kit, store  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.node, pytest.mark.node_medusa, pytest.mark.cluster]
EMAIL = "owner@example.com"


@pytest.fixture(scope="module")
def s3():
    """versitygw built (cached), imported into the node and run there."""
    python, script = str(s3server.ROOT / ".venv" / "bin" / "python"), str(s3server.ROOT / "kind" / "images.py")
    s3server.versitygw()
    for argv in ([python, script, "build", "versitygw"],
                 [python, script, "import", "--address", str(s3server.HOME / "node" / "run" / "containerd" /
                                                            "containerd.sock"), "versitygw"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3000)
        assert done.returncode == 0, f"{' '.join(argv[1:3])} failed:\n{done.stderr[-3000:]}"
    index = json.loads((s3server.HOME / "images" / "index.json").read_text())
    server = s3server.start_on_node(index["versitygw"])
    yield server
    s3server.stop(server)


def _sample(shop, token: str) -> dict:
    query = urllib.parse.urlencode({"q": "Sample Product", "fields": "id,title,handle"})
    found = [p for p in shop.request("GET", f"/admin/products?{query}", token=token, store=False)["products"]
             if p["handle"] == "sample-product"]
    assert len(found) == 1, found
    return found[0]


def test_a_backup_to_s3_restores_the_renamed_sample_product_and_the_store_still_sells(kit, store, s3):  # noqa: F811
    spec, shop = store["spec"], store["shop"]
    backups = Storekit(kit.settings.replace(**s3.settings(), backup_location=f"{s3.bucket('backups')}/stores"))
    location = backups.settings.backup_location
    password = kit.reveal_admin_password(spec.name)
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa before the backup")
    token = shop.admin_token(EMAIL, password)
    product = _sample(shop, token)
    assert product["title"] == "Sample Product"

    started = time.monotonic()
    info = backups.backup(spec.name)
    print(f"\nbackup of a Medusa store (seeded): {time.monotonic() - started:.1f} s, {info.size} bytes "
          f"({', '.join(f'{p.file} {p.size}' for p in info.parts)})")
    assert info.verified and info.engine == "medusa"
    assert {p.file for p in info.parts} == {"database.sql.gz", "uploads.tar.gz"}

    shop.request("POST", f"/admin/products/{product['id']}", {"title": "Renamed after the backup"},
                 token=token, store=False)
    assert _sample(shop, token)["title"] == "Renamed after the backup"

    started = time.monotonic()
    result = backups.restore(spec.name, info.id, location=location)
    print(f"restore: {time.monotonic() - started:.1f} s, {result.downtime_seconds:.1f} s stopped "
          "(database closed, then the medusa pod replaced)")
    assert result.healthy
    store["forward"].restart()  # a port-forward is bound to the replaced pod
    wait_for(lambda: healthy_through(shop), timeout=180, what="Medusa after the restore")
    token = shop.admin_token(EMAIL, password)
    assert _sample(shop, token)["title"] == "Sample Product"
    buy_and_check(shop, EMAIL, password)  # the restored store takes orders
    actions = [a.action for a in kit.catalog.audit_entries(store=kit.resolve(spec)[0].slug)]
    assert "backup" in actions and "restore" in actions
