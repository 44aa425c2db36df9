"""kind/node.sh down leaves nothing behind, and up brings the node back (make test-node).

Runs after tests/test_node.py (file order): it stops the real node, checks the machine for every
kind of trace the node could leave (process, network namespace, interface, route, iptables rule
of the host, mount, cgroup, /etc/hosts line, files, Node object), then starts it again.
It restarts the shared node (pods of other test runs on it are lost) and takes about 4.5
minutes, so it has its own marker, node_lifecycle, outside `make test`: `make test-node` runs it
after the other node tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.node_lifecycle, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("STOREKIT_HOME") or Path.home() / ".storekit")
TOOLS = HOME / "tools"


def sh(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def host_rules_of_the_node() -> list[str]:
    """The host's iptables rules that name the node's ranges, interfaces or chains (none, ever:
    the node's rules live in its namespace)."""
    rules = "\n".join(sh("iptables", "-t", t, "-S").stdout for t in ("filter", "nat", "mangle", "raw"))
    marks = ("10.244.", "10.250.", "storekit", "cni0", "KUBE-", "CNI-")
    return [rule for rule in rules.splitlines() if any(m in rule for m in marks)]


def node_processes() -> list[str]:
    """Processes of the node: its binaries (by their real path), its Python helpers."""
    binaries = [str(TOOLS / t) for t in ("kube-node", "containerd", "kube-router")]
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            exe = os.readlink(proc / "exe")
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(exe.startswith(b) for b in binaries) or "kind/node/apiproxy.py" in cmdline \
                or "kind/node/volumes.py" in cmdline or "kind/node/resizer.py" in cmdline:
            found.append(f"{proc.name} {cmdline[:120]}")
    return found


def test_down_leaves_nothing_and_up_brings_it_back():
    if not Path("/run/netns/storekit-node").exists():
        pytest.fail("the real node is not running: make node", pytrace=False)
    assert host_rules_of_the_node() == []
    assert node_processes(), "no process of the node found while it runs"
    sysctls = {k: Path(f"/proc/sys/{k}").read_text() for k in ("kernel/panic", "kernel/panic_on_oops",
                                                                 "vm/overcommit_memory")}
    down = sh(str(ROOT / "kind" / "node.sh"), "down", timeout=300)
    assert down.returncode == 0, down.stderr
    assert node_processes() == []
    assert "storekit-node" not in sh("ip", "netns", "list").stdout
    assert "storekit0" not in sh("ip", "-o", "link").stdout
    routes = sh("ip", "route").stdout
    assert "10.244.0.0/24" not in routes and "10.250.0." not in routes
    mounts = Path("/proc/self/mountinfo").read_text()
    for trace in (str(HOME / "node"), "/run/netns", "storekit-node", "/run/containerd", "/var/lib/cni"):
        assert trace not in mounts, trace
    assert not list(Path("/sys/fs/cgroup").glob("*/storekit-node"))
    assert "storekit-node" not in Path("/etc/hosts").read_text()
    assert not (HOME / "node").exists()
    assert host_rules_of_the_node() == []
    assert {k: Path(f"/proc/sys/{k}").read_text() for k in sysctls} == sysctls
    gone = sh("kubectl", "--kubeconfig", str(HOME / "kubeconfig"), "get", "node", "storekit-node")
    assert "NotFound" in gone.stderr

    up = sh(str(ROOT / "kind" / "node.sh"), "up", timeout=600)
    assert up.returncode == 0, up.stderr[-3000:]
    assert "is Ready with its add-ons" in up.stderr
