"""The suite's own scheduling (tests/scheduling.py): longest files first, measured times merged."""

from __future__ import annotations

import json
from types import SimpleNamespace

from scheduling import Recorder, load_table, longest_first


def items(*nodeids: str) -> list:
    return [SimpleNamespace(nodeid=n) for n in nodeids]


def test_the_longest_files_go_first_and_a_files_tests_keep_their_order():
    collected = items("tests/a.py::t1", "tests/a.py::t2", "tests/b.py::t1", "tests/new.py::t1",
                      "tests/c.py::t1", "tests/c.py::t2", "tests/other.py::t1")
    table = {"tests/a.py": 3.0, "tests/b.py": 250.0, "tests/c.py": 40.0}
    assert [i.nodeid for i in longest_first(collected, table)] == [
        "tests/b.py::t1", "tests/c.py::t1", "tests/c.py::t2", "tests/a.py::t1", "tests/a.py::t2",
        "tests/new.py::t1", "tests/other.py::t1"]  # unknown files last, as collected
    assert [i.nodeid for i in longest_first(collected, {})] == [i.nodeid for i in collected]


def test_a_run_merges_its_files_into_the_measured_table(tmp_path):
    path = tmp_path / "logs" / "test-durations.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"tests/a.py": 5.0, "tests/b.py": 7.0}))
    recorder = Recorder()
    for phase, seconds in (("setup", 20.0), ("call", 100.25), ("teardown", 2.0)):
        recorder.add(SimpleNamespace(nodeid="tests/b.py::t1", duration=seconds, start=1.0, stop=2.0, when=phase))
    recorder.write(path)
    assert load_table(path) == {"tests/b.py": 122.2, "tests/a.py": 5.0}  # b measured again, a kept
    assert list(json.loads(path.read_text())) == ["tests/b.py", "tests/a.py"]  # longest first
    timeline = json.loads((path.parent / "test-timeline.json").read_text())
    assert [t[0] for t in timeline] == ["main"] * 3 and timeline[0][3] == "setup"


def test_a_missing_or_broken_table_orders_nothing(tmp_path):
    assert load_table(tmp_path / "absent.json") == {}
    (tmp_path / "bad.json").write_text("[1, 2")
    assert load_table(tmp_path / "bad.json") == {}
