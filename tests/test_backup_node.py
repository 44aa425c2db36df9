"""Backups of a WooCommerce store that really runs on the real node (docs/backups.md), to a
real S3-compatible server (versitygw, tests/s3server.py): a post written through WordPress's
REST API, backed up, deleted, restored and back; bad input refused in one line with the
store unchanged. One store for the whole module (make test's budget)."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from click.testing import CliRunner

import s3server
from helpers import wait_for
from storekit import Storekit, StoreSpec
from storekit.errors import BackupCorrupt, BackupLocationError, BackupNotFound, StoreNotFound
from test_store_node import Site, images, kit as node_kit  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.node, pytest.mark.cluster]


@pytest.fixture(scope="module")
def node_images(images) -> dict[str, str]:
    """The backup image (scheduled backups) and versitygw's, built (cached) and imported."""
    return s3server.node_images()


@pytest.fixture(scope="module")
def s3(node_images):
    # On the node: storekit reaches it from here, and the stores' CronJob pods from there.
    server = s3server.start_on_node(node_images["versitygw"])
    yield server
    s3server.stop(server)


@pytest.fixture(scope="module")
def kit(node_kit, s3) -> Storekit:
    return Storekit(node_kit.settings.replace(**s3.settings(), backup_location=f"{s3.bucket('backups')}/stores"))


@pytest.fixture(scope="module")
def shop(kit):
    spec = StoreSpec(name=f"Backup Shop {uuid.uuid4().hex[:6]}", admin_email="owner@example.com")
    try:
        kit.apply(spec)
        resolved = kit.resolve(spec)[0]
        site = Site(resolved.host)
        wait_for(lambda: site.get("/")[0] == 200, timeout=120, what=f"the home page of {resolved.host}")
        assert site.login(spec.admin_user, kit.reveal_admin_password(spec.name))
        yield {"spec": spec, "site": site, "slug": resolved.slug}
    finally:
        try:
            kit.destroy(spec.name)
        except StoreNotFound:
            pass


def rest(site: Site, method: str, route: str, body: dict | None = None):
    """A REST API call as the logged-in admin (cookie + the REST nonce)."""
    import urllib.error
    import urllib.request

    _, nonce = site.get("/wp-admin/admin-ajax.php?action=rest-nonce")
    request = urllib.request.Request(f"http://{site_ip()}/?rest_route={route}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Host": site.host, "X-WP-Nonce": nonce.strip(),
                                              "Content-Type": "application/json"})
    try:
        with site.opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def site_ip() -> str:
    from test_store_node import NODE_IP

    return NODE_IP


def post_status(site: Site, post_id: int) -> int:
    return Site(site.host).get(f"/?rest_route=/wp/v2/posts/{post_id}")[0]


@pytest.fixture(scope="module")
def backed_up(kit, shop, s3):
    """A post written, the store backed up to S3 (timed), the post deleted."""
    site, name = shop["site"], shop["spec"].name
    status, post = rest(site, "POST", "/wp/v2/posts", {"title": "Saved by the backup", "status": "publish",
                                                       "content": "Kept across a restore."})
    assert status == 201, post
    started = time.monotonic()
    info = kit.backup(name)
    seconds = time.monotonic() - started
    print(f"\nbackup of a store with one post: {seconds:.1f} s, {info.size} bytes "
          f"({', '.join(f'{p.file} {p.size}' for p in info.parts)})")
    status, _ = rest(site, "DELETE", f"/wp/v2/posts/{post['id']}&force=true")
    assert status == 200 and post_status(site, post["id"]) == 404
    return {"info": info, "post": post, "location": kit.settings.backup_location, "seconds": seconds}


def test_backup_to_s3_then_restore_brings_the_deleted_post_back(kit, shop, backed_up):
    info, location = backed_up["info"], backed_up["location"]
    assert info.verified and {p.file for p in info.parts} == {"database.sql.gz", "uploads.tar.gz"}
    assert info.engine == "woocommerce" and info.images["wordpress"].startswith("storekit.local/wordpress")
    listed = kit.backups(shop["spec"].name, location=location)
    assert [b.id for b in listed] == [info.id] and listed[0].verified
    started = time.monotonic()
    result = kit.restore(shop["spec"].name, info.id, location=location)
    print(f"restore: {time.monotonic() - started:.1f} s, {result.downtime_seconds:.1f} s in maintenance")
    assert result.healthy
    status, body = Site(shop["site"].host).get(f"/?rest_route=/wp/v2/posts/{backed_up['post']['id']}")
    assert status == 200 and json.loads(body)["title"]["rendered"] == "Saved by the backup"
    # The store's own admin password still logs in (converged after the load), and it is audited.
    assert Site(shop["site"].host).login(shop["spec"].admin_user, kit.reveal_admin_password(shop["spec"].name))
    actions = [a.action for a in kit.catalog.audit_entries(store=shop["slug"])]
    assert "backup" in actions and "restore" in actions


def test_a_clone_serves_its_own_url_with_the_source_content_and_changes_apart(kit, shop, backed_up):
    source, post_id = shop["spec"], backed_up["post"]["id"]
    name = f"Backup Clone {uuid.uuid4().hex[:6]}"
    try:
        started = time.monotonic()
        result = kit.clone(source.name, name, from_backup=backed_up["info"].id, location=backed_up["location"])
        print(f"clone from a backup (create + restore): {time.monotonic() - started:.1f} s")
        clone = Site(kit.resolve(kit.spec_of(name))[0].host)
        assert result.url.endswith(clone.host) and clone.host != shop["site"].host
        status, page = clone.get("/")
        assert status == 200 and clone.host in page and shop["site"].host not in page  # URLs rewritten
        status, body = clone.get(f"/?rest_route=/wp/v2/posts/{post_id}")
        assert status == 200 and json.loads(body)["title"]["rendered"] == "Saved by the backup"
        assert shop["site"].host not in json.loads(body)["link"]
        # Its own secrets: its password logs in, the source's does not.
        assert clone.login(source.admin_user, kit.reveal_admin_password(name))
        assert not Site(clone.host).login(source.admin_user, kit.reveal_admin_password(source.name))
        # Changing the clone leaves the source alone.
        assert rest(clone, "DELETE", f"/wp/v2/posts/{post_id}&force=true")[0] == 200
        assert post_status(clone, post_id) == 404 and post_status(shop["site"], post_id) == 200
        assert any(a.action == "clone" for a in kit.catalog.audit_entries(store=result.store))
    finally:
        try:
            kit.destroy(name)
        except StoreNotFound:
            pass


def _unchanged(shop, post_id: int) -> None:
    assert post_status(shop["site"], post_id) == 200
    assert Site(shop["site"].host).get("/")[0] == 200  # not left in maintenance


def test_bad_input_is_one_line_and_leaves_the_store_unchanged(kit, shop, backed_up, s3):
    name, post_id, location = shop["spec"].name, backed_up["post"]["id"], backed_up["location"]
    with pytest.raises(BackupLocationError, match="the bucket 'no-such-bucket' does not exist"):
        kit.backup(name, to="s3://no-such-bucket/x")
    wrong = Storekit(kit.settings.replace(s3_secret_key="not-the-key"))
    with pytest.raises(BackupLocationError, match="refused the credentials") as refused:
        wrong.backups(name, location=location)
    assert "not-the-key" not in str(refused.value) and s3.secret_key not in str(refused.value)
    with pytest.raises(BackupNotFound, match="no backup '20200101T000000Z-dead'"):
        kit.restore(name, "20200101T000000Z-dead", location=location)
    # A corrupted part: the database dump replaced on the server by other bytes.
    import hashlib
    import io

    forged = b"not the dump"
    s3.client.put("backups", f"stores/{shop['slug']}/{backed_up['info'].id}/database.sql.gz", io.BytesIO(forged),
                  len(forged), hashlib.sha256(forged).hexdigest())
    with pytest.raises(BackupCorrupt, match="database.sql.gz does not match its manifest"):
        kit.restore(name, backed_up["info"].id, location=location)
    assert kit.backups(name, location=location)[0].verified is False
    _unchanged(shop, post_id)
    # The CLI says each in one line, with the error's exit code.
    from storekit.cli.main import cli

    env = {"STOREKIT_STATE_URL": kit.settings.state_url, "STOREKIT_PASSPHRASE": kit.settings.passphrase,
           "STOREKIT_DB_URL": kit.settings.db_url, "STOREKIT_PROFILE": "node", **{
               f"STOREKIT_{k.upper()}": v for k, v in s3.settings().items()}}
    for args, code, text in (
            (["restore", name, "--backup", backed_up["info"].id, "--from", location, "--auto-approve"], 1, "is corrupt"),
            (["restore", name, "--backup", "nope", "--from", location, "--auto-approve"], 3, "no backup 'nope'"),
            (["backup", name, "--to", "s3://no-such-bucket"], 1, "does not exist")):
        done = CliRunner().invoke(cli, args, env=env)
        errors = [line for line in done.output.splitlines() if line.startswith("Error")]
        assert done.exit_code == code and len(errors) == 1 and text in errors[0], done.output
    listed = CliRunner().invoke(cli, ["backups", name, "--from", location, "--json"], env=env)
    assert listed.exit_code == 0 and json.loads(listed.output)["backups"][0]["verified"] is False
    assert re.search(r"s3_secret_key", listed.output) is None and s3.secret_key not in listed.output
    _unchanged(shop, post_id)


def test_a_backup_schedule_is_a_cronjob_in_the_plan_and_keeps_the_newest(kit, shop, backed_up):
    spec = kit.spec_of(shop["spec"].name).with_changes(backup={"schedule": "0 3 * * *", "keep": 1})
    plan = kit.plan(spec)
    created = {(c.type.rsplit(":", 1)[-1], c.op) for c in plan.changes}
    assert ("CronJob", "create") in created and ("Secret", "create") in created, plan.summary.text
    kit.apply(plan)
    ns = kit.resolve(spec)[0].namespace
    before = [b.id for b in kit.backups(shop["spec"].name, verify=False)]
    assert before  # the on-demand backup of the module
    made = []
    for run in ("run-1", "run-2"):
        backup_id, line, seconds = s3server.run_backup_cronjob(ns, run, timeout=240)
        print(f"scheduled backup {run}: {seconds:.1f} s from the Job's creation: {line}")
        made.append(backup_id)
    listed = kit.backups(shop["spec"].name)
    # keep: 1 -> only the newest stays; the older scheduled one and the on-demand one were removed.
    assert [b.id for b in listed] == [made[-1]] and listed[0].verified, (before, made, listed)
    assert listed[0].engine == "woocommerce" and {p.file for p in listed[0].parts} == {"database.sql.gz",
                                                                                      "uploads.tar.gz"}


def test_a_failed_upgrade_is_rolled_back_and_the_data_is_intact(kit, shop, backed_up):
    from storekit.errors import UpgradeRolledBack

    name = shop["spec"].name
    status, post = rest(shop["site"], "POST", "/wp/v2/posts", {"title": "Written before the upgrade",
                                                               "status": "publish"})
    assert status == 201, post
    post_id = post["id"]
    spec = kit.spec_of(name)
    good = dict(spec.images)
    broken = spec.with_changes(images={**good, "wordpress": good["wordpress"].rsplit(":", 1)[0] + ":does-not-exist"})
    quick = Storekit(kit.settings.replace(timeout=30))  # the broken image never gets ready: fail soon
    started = time.monotonic()
    with pytest.raises(UpgradeRolledBack, match="rolled back: images put back") as failed:
        quick.apply(broken)
    print(f"failed upgrade, rolled back: {time.monotonic() - started:.1f} s: {failed.value.message}")
    assert "does-not-exist" in failed.value.message and "data restored from backup" in failed.value.message
    assert kit.spec_of(name).images == good
    assert post_status(shop["site"], post_id) == 200 and Site(shop["site"].host).get("/")[0] == 200
    entry = next(a for a in kit.catalog.audit_entries(store=shop["slug"], action="apply"))
    assert entry.outcome == "failed" and entry.details.get("rolled_back") and entry.details.get("backup")
