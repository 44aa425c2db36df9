"""The Medusa engine's backup declaration (stacks/medusa_backup.py) without a cluster (unit
tier): which container makes each part, scripts bash accepts, the uploads' tar scripts run for
real on local folders, the database loaded beside the store's before it is dropped, what
belongs to the store carried into the loaded database, and its scheduled backups' CronJob
(stacks/schedule.py) within the store's quota. The load on a real PostgreSQL (marker medusa:
a loopback server from Debian's packages); the dumps, a restore, a clone and a scheduled
backup of a real Medusa store: tests/test_medusa_node.py."""

from __future__ import annotations

import gzip
import json
import os
import subprocess

import pytest

from storekit.stacks import schedule
from storekit.stacks.medusa import DATABASE, ENGINE
from storekit.stacks.medusa_backup import SCHEDULED_DUMP, STATIC, scheduled_env


def _bash(script: str, *, cwd=None, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], input=stdin, capture_output=True,
                          cwd=cwd, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def test_each_part_is_made_by_a_component_of_the_store_and_the_scripts_parse():
    shape = ENGINE.backup
    assert [(p.file, p.component) for p in shape.parts] == [("database.sql.gz", "postgres"),
                                                            ("uploads.tar.gz", "medusa")]
    assert shape.switch == "postgres" and shape.restart == ("medusa",)
    assert {shape.switch, *shape.restart, *(p.component for p in shape.parts)} <= set(ENGINE.components)
    for script in (shape.stop, shape.start, *(s for p in shape.parts for s in (p.dump, p.load))):
        done = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_the_dump_is_loaded_beside_the_database_before_the_store_database_is_dropped():
    load = ENGINE.backup.parts[0].load
    assert load.index('gzip -dc > "$sql"') < load.index('-1 -f "$sql"') < load.index('RENAME TO :"old"') \
        < load.index('-1 -f "$own"') < load.index('DROP DATABASE IF EXISTS :"old" WITH (FORCE);\nALTER DATABASE')
    assert "ON_ERROR_STOP=1" in load  # one transaction (-1), stopping at the first error
    assert "ALLOW_CONNECTIONS false" in ENGINE.backup.stop and "pg_terminate_backend" in ENGINE.backup.stop
    assert "ALLOW_CONNECTIONS true" in ENGINE.backup.start


def test_uploads_round_trip_and_replace_what_the_volume_held(tmp_path):
    part = ENGINE.backup.parts[1]
    source, target = tmp_path / "source", tmp_path / "target"
    (source / "sub").mkdir(parents=True)
    (source / "a.png").write_bytes(b"png")
    (source / "sub" / "b.txt").write_text("b")
    (target / "lost+found").mkdir(parents=True)
    (target / "stale.jpg").write_bytes(b"old")
    data = _bash(part.dump.replace(STATIC, str(source)))
    _bash(part.load.replace(STATIC, str(target)), stdin=data)
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*")) == ["a.png", "lost+found", "sub", "sub/b.txt"]
    assert (target / "a.png").read_bytes() == b"png"
    # An empty volume backs up and restores as empty.
    empty = tmp_path / "empty"
    empty.mkdir()
    _bash(part.load.replace(STATIC, str(target)), stdin=_bash(part.dump.replace(STATIC, str(empty))))
    assert [p.name for p in target.iterdir()] == ["lost+found"]


def test_what_belongs_to_the_store_is_carried_into_the_loaded_database_not_converged_later():
    shape, load = ENGINE.backup, ENGINE.backup.parts[0].load
    # Passwords of the accounts, the publishable key the setup manages, the store's name: read
    # from the store's database (renamed: the server cannot reach it), written into the loaded one.
    for table in ("provider_identity", "api_key", "store"):
        assert f"grep -qx {table} <<< \"$both\"" in load
    assert "provider_metadata = %L::jsonb" in load and "SET token = %L" in load and "SET name = %L" in load
    assert not shape.converge and not shape.rewrite  # nothing needs the database open, no stored URL
    assert "ALLOW_CONNECTIONS false" in load.rsplit("RENAME TO", 1)[1]  # closed until start


def _cron(engine_env: list[dict]) -> dict:
    from storekit.settings import Settings
    from storekit.spec import StoreSpec

    settings = Settings.load({"home": "/nonexistent", "backup_location": "s3://bucket/stores"}, environ={})
    spec = StoreSpec(name="Shop", admin_email="a@example.com", engine="medusa",
                     images={"medusa": "m", "postgres": "p", "backup": "b"},
                     backup={"schedule": "0 3 * * *", "keep": 3}).resolve(settings)
    return schedule.cron_job_spec(spec, settings, env=engine_env, labels={}, placement={}, secret="target",
                                  config_map="script", claim="medusa-data")


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Mi": 2**20, "Gi": 2**30}
    for unit, factor in units.items():
        if text.endswith(unit):
            return float(text[:-len(unit)]) * factor
    return float(text)


def test_a_scheduled_backup_dumps_postgresql_and_the_uploads_within_the_small_tier_quota():
    spec = _cron(scheduled_env("store-credentials", DATABASE))
    pod = spec["job_template"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value", e.get("value_from")) for e in container["env"]}
    assert env["ENGINE"] == "medusa" and env["TARGET"] == "bucket/stores" and env["KEEP"] == "3"
    assert env["POSTGRES_PASSWORD"] == {"secret_key_ref": {"name": "store-credentials", "key": "postgres-password"}}
    assert pod["volumes"][0]["persistent_volume_claim"] == {"claim_name": "medusa-data", "read_only": True}
    # The backup pod fits beside the store's two pods in the smallest tier's quota (requests and limits).
    small = ENGINE.tiers[0].sizes
    for kind, quota in (("requests", {"cpu": small.quota_cpu_requests, "memory": small.quota_memory_requests}),
                        ("limits", {"cpu": small.quota_cpu_limits, "memory": small.quota_memory_limits})):
        ours = {"cpu": small.cpu_request, "memory": small.memory_request} if kind == "requests" else \
            {"cpu": small.cpu_limit, "memory": small.memory_limit}
        for resource in ("cpu", "memory"):
            used = 2 * _quantity(ours[resource]) + _quantity(container["resources"][kind][resource])
            assert used <= _quantity(quota[resource]), (kind, resource)
    script = schedule.script(SCHEDULED_DUMP)
    assert subprocess.run(["bash", "-n", "-c", script], capture_output=True).returncode == 0
    assert "pg_dump -h postgres" in script and f"-C {schedule.SITE} -czf - . > uploads.tar.gz" in script


def test_the_scheduled_uploads_archive_is_the_one_a_restore_loads(tmp_path):
    site, target = tmp_path / "site", tmp_path / "target"
    (site / "lost+found").mkdir(parents=True)
    (site / "a.png").write_bytes(b"png")
    target.mkdir()
    tar = next(line for line in SCHEDULED_DUMP.splitlines() if line.startswith("tar "))
    work = tmp_path / "work"
    work.mkdir()
    _bash(tar.replace(schedule.SITE, str(site)), cwd=work)
    _bash(ENGINE.backup.parts[1].load.replace(STATIC, str(target)), stdin=(work / "uploads.tar.gz").read_bytes())
    assert sorted(p.name for p in target.iterdir()) == ["a.png"]


def _psql_env(address: str, db: str) -> dict:
    user_host, _ = address.split("/", 1)
    host, port = user_host.split("@", 1)[1].split(":")
    return {**os.environ, "PGPORT": port, "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused",
            "POSTGRES_DB": db}


# The columns of Medusa's tables the load reads and writes (its migrations make more).
_TABLES = """
CREATE TABLE provider_identity (id text PRIMARY KEY, entity_id text NOT NULL, provider text NOT NULL,
                                provider_metadata jsonb, deleted_at timestamptz);
CREATE TABLE api_key (id text PRIMARY KEY, token text NOT NULL UNIQUE, redacted text NOT NULL, title text NOT NULL,
                      type text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz,
                      deleted_at timestamptz);
CREATE TABLE store (id text PRIMARY KEY, name text, created_at timestamptz DEFAULT now(), deleted_at timestamptz);
CREATE TABLE product (id text PRIMARY KEY, title text);
"""


@pytest.mark.medusa
def test_a_load_on_postgresql_keeps_the_store_passwords_key_and_name_and_takes_the_backup_data(postgres):
    import psycopg2

    def sql(address: str, text: str) -> list[tuple]:
        host, port = address.split("@", 1)[1].split("/", 1)[0].split(":")
        conn = psycopg2.connect(host=host, port=int(port), user="postgres", dbname=address.rsplit("/", 1)[1])
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(text)
            rows = cur.fetchall() if cur.description else []
        conn.close()
        return rows

    source, store = postgres("source"), postgres("shop")
    for address in (source, store):
        sql(address, _TABLES)
    sql(source, """INSERT INTO provider_identity VALUES ('p1', 'owner@example.com', 'emailpass', '{"password": "SOURCE"}'),
                                                        ('p2', 'shopper@example.com', 'emailpass', '{"password": "S2"}');
                   INSERT INTO api_key (id, token, redacted, title, type, created_at) VALUES
                     ('k1', 'pk_source', 'pk_sou***', 'Source storefront', 'publishable', '2026-01-01'),
                     ('k2', 'pk_other', 'pk_oth***', 'Another key', 'publishable', '2026-02-01');
                   INSERT INTO store (id, name) VALUES ('s1', 'Source');
                   INSERT INTO product VALUES ('prod', 'Sold by the source')""")
    sql(store, """INSERT INTO provider_identity VALUES ('p9', 'owner@example.com', 'emailpass', '{"password": "OWN"}');
                  INSERT INTO api_key (id, token, redacted, title, type) VALUES
                    ('k9', 'pk_own', 'pk_own***', 'Clone storefront', 'publishable');
                  INSERT INTO store (id, name) VALUES ('s9', 'Clone')""")
    part = ENGINE.backup.parts[0]
    dump = subprocess.run(["bash", "-c", "set -euo pipefail\n" + part.dump], env=_psql_env(source, "source"),
                          capture_output=True, check=True).stdout
    assert b"Sold by the source" in gzip.decompress(dump)
    for script, stdin in ((ENGINE.backup.stop, None), (part.load, dump)):
        done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], env=_psql_env(store, "shop"),
                              input=stdin, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
    sql(store.rsplit("/", 1)[0] + "/postgres", "ALTER DATABASE shop ALLOW_CONNECTIONS true")  # start
    assert sql(store, "SELECT title FROM product") == [("Sold by the source",)]
    assert dict(sql(store, "SELECT entity_id, provider_metadata->>'password' FROM provider_identity")) == {
        "owner@example.com": "OWN", "shopper@example.com": "S2"}
    assert sorted(sql(store, "SELECT id, token, title FROM api_key")) == [
        ("k1", "pk_own", "Clone storefront"), ("k2", "pk_other", "Another key")]
    assert sql(store, "SELECT id, name FROM store") == [("s1", "Clone")]
    names = {n for (n,) in sql(store.rsplit("/", 1)[0] + "/postgres", "SELECT datname FROM pg_database")}
    assert "shop_replaced" not in names and "shop_restoring" not in names
    # A broken dump fails before the store's database is touched.
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + part.load], env=_psql_env(store, "shop"),
                          input=gzip.compress(b"not SQL;"), capture_output=True)
    assert done.returncode != 0 and sql(store, "SELECT title FROM product") == [("Sold by the source",)]
