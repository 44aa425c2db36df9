"""Shared fixtures.

Tests marked ``cluster`` run the real pulumi CLI and Kubernetes plugin against the local
control plane (``make cluster``). When a piece is missing they fail at once with the
command that fixes it; they never hang and are never silently skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg2
import pytest
from helpers import free_port
from scheduling import Recorder, load_table, longest_first, measured_path

from storekit.errors import StorekitError
from storekit.settings import Settings
from storekit.toolchain import check_cluster, check_tools, cluster_api


_recorder = Recorder()


def pytest_collection_modifyitems(config, items):
    """The longest files first (tests/scheduling.py), identically in every xdist worker."""
    items[:] = longest_first(items, load_table())


def pytest_configure(config):
    _recorder.enabled = not hasattr(config, "workerinput")  # the controller (or a run without xdist)


def pytest_runtest_logreport(report):
    if _recorder.enabled:
        _recorder.add(report)


def pytest_sessionfinish(session):
    if _recorder.enabled:
        _recorder.write(measured_path())


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """The machine's settings (tools, local cluster), with state in a temporary folder."""
    state = tmp_path_factory.mktemp("state")
    return Settings.load().replace(state_url=f"file://{state}", passphrase="storekit-tests",
                                   db_url=f"sqlite:///{state}/catalog.db")


@pytest.fixture(scope="session")
def kube(settings):
    """A lightkube client for the local cluster; fails naming the fix if it is not there."""
    try:
        check_tools(settings)
        check_cluster(settings)
    except StorekitError as e:
        pytest.fail(f"{type(e).__name__}: {e}", pytrace=False)
    return cluster_api(settings)[1]


@pytest.fixture
def unique_name() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server on 127.0.0.1; yields a function making a database (with
    ``.stop()`` and ``.start()`` of the server, for outage tests)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins or os.geteuid() != 0:
        pytest.fail("needs Debian's postgresql and root to run it as `postgres` (make packages)", pytrace=False)
    bindir = os.path.dirname(bins[-1])
    root = Path(tempfile.mkdtemp(prefix="storekit-pg-"))  # pytest's folders are root's alone
    shutil.chown(root, "postgres")
    port = free_port()

    def as_postgres(*args: str) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                                cwd=root, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    as_postgres(f"{bindir}/initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres")

    def database(name: str) -> str:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return f"postgres@127.0.0.1:{port}/{name}"

    def stop() -> None:
        """Stop the server at once (connections cut, as a crash or failover would)."""
        as_postgres(f"{bindir}/pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w", "stop")

    def start() -> None:
        as_postgres(f"{bindir}/pg_ctl", "-D", str(root / "data"), "-l", str(root / "log"), "-w", "start",
                    "-o", f"-p {port} -h 127.0.0.1 -k {root}")
    start()
    database.stop, database.start = stop, start
    try:
        yield database
    finally:
        try:
            stop()
        except AssertionError:  # a test left it stopped
            pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def helm(settings):
    path = settings.home_path / "tools" / "bin" / "helm"
    assert path.exists(), "helm is missing: run `make tools`"

    def run(*args, check=True):
        result = subprocess.run([str(path), *args], capture_output=True, text=True,
                                env={"KUBECONFIG": settings.kubeconfig, "HOME": str(settings.home_path),
                                     "PATH": "/usr/bin:/bin"})
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result
    return run
