"""Shared fixtures.

Tests marked ``cluster`` run the real pulumi CLI and Kubernetes plugin against the local
control plane (``make cluster``). When a piece is missing they fail at once with the
command that fixes it; they never hang and are never silently skipped.
"""

from __future__ import annotations

import uuid

import pytest

from storekit.errors import StorekitError
from storekit.settings import Settings
from storekit.toolchain import check_cluster, check_tools, cluster_api


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
