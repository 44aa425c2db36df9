"""A stack's work folder holds its project file, written whole and once by storekit, never
rewritten in place by the Automation API: a fleet apply once failed "could not validate
'Pulumi.yaml'" because a LocalWorkspace truncated and rewrote the file while a pulumi process
of the same folder was reading it."""

from __future__ import annotations

import threading

from storekit.gateway import PROJECT_FILE, StackGateway
from storekit.settings import Settings


def test_the_workspace_options_carry_no_project_settings_to_rewrite(tmp_path, monkeypatch):
    monkeypatch.setattr("storekit.gateway.pulumi_command", lambda settings: None)  # the unit tier has no pulumi
    gateway = StackGateway(Settings.load({"home": str(tmp_path)}))
    folder = gateway.work_dir("shop")
    assert (folder / "Pulumi.yaml").read_text() == PROJECT_FILE
    assert gateway._options(folder).project_settings is None


def test_readers_never_see_a_half_written_project_file(tmp_path):
    """An old-style project file (the Automation API's, with `main:`) is replaced whole while
    eight threads ask for the folder and a reader reads the file as fast as it can."""
    gateway = StackGateway(Settings.load({"home": str(tmp_path)}))
    project = tmp_path / "work" / "shop" / "Pulumi.yaml"
    old = "main: /somewhere\nname: storekit\nruntime: python\n"
    seen, stop = set(), threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(project.read_text())

    for _ in range(20):
        project.parent.mkdir(parents=True, exist_ok=True)
        project.write_text(old)
        reader = threading.Thread(target=read)
        reader.start()
        workers = [threading.Thread(target=gateway.work_dir, args=("shop",)) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stop.set()
        reader.join()
        stop.clear()
        assert project.read_text() == PROJECT_FILE
    assert seen <= {old, PROJECT_FILE}, seen
    assert not list(project.parent.glob("*.tmp")), "no temporary file is left behind"
