"""The Medusa engine's backup declaration (stacks/medusa_backup.py) without a cluster (unit
tier): which container makes each part, scripts bash accepts, the uploads' tar scripts run for
real on local folders, and the database loaded beside the store's before it is dropped. The
dumps and a restore on a real Medusa store: tests/test_medusa_backup_node.py."""

from __future__ import annotations

import subprocess

from storekit.stacks.medusa import ENGINE
from storekit.stacks.medusa_backup import STATIC


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
    assert load.index('gzip -dc > "$sql"') < load.index('-1 -f "$sql"') < load.index('DROP DATABASE IF EXISTS :"db"')
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
