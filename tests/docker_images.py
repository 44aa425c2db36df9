"""The stores' images on Debian's docker.io, for the image tests (imported as ``docker_images``).

``docker_for(names)`` starts the daemon (kind/image.sh daemon), builds the named recipes
(cached), loads them when the daemon lacks them, drops their earlier builds, and returns a
``Docker`` with a network of its own; ``cleanup()`` removes every container, volume and the
network it made. No test traffic leaves the machine: containers resolve only the network's
own names (their DNS is the network's gateway, where no server answers).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sh(*args: str, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, input=input)


class Docker:
    """The docker client, a test network, and the names to remove afterwards."""

    def __init__(self, client: str, refs: dict[str, str]):
        self.client, self.refs = client, refs
        self.tag = uuid.uuid4().hex[:6]
        self.network = f"sk-images-{self.tag}"
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.dns = ""  # the network's gateway: a host address with no DNS server, so no name leaves

    def create_network(self) -> None:
        self("network", "create", self.network)
        self.dns = self("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", self.network).stdout.strip()

    def __call__(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        result = _sh(self.client, *args, timeout=timeout)
        if check:
            assert result.returncode == 0, f"docker {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def dns_args(self) -> tuple[str, ...]:
        """Names other than the network's own fail after one second, not ten."""
        return ("--dns", self.dns, "--dns-opt", "timeout:1", "--dns-opt", "attempts:1")

    def volume(self, role: str) -> str:
        name = f"sk-images-{self.tag}-{role}"
        self("volume", "create", name)
        self.volumes.append(name)
        return name

    def start(self, role: str, image: str, *args: str, env: dict[str, str] | None = None,
              command: tuple[str, ...] = ()) -> str:
        name = f"sk-images-{self.tag}-{role}-{uuid.uuid4().hex[:4]}"
        envs = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
        self("run", "-d", "--name", name, "--network", self.network, "--network-alias", role,
             *self.dns_args(), *envs, *args, self.refs[image], *command)
        self.containers.append(name)
        return name

    def port(self, name: str, port: int) -> int:
        return int(self("port", name, str(port)).stdout.split()[0].rsplit(":", 1)[1])

    def cleanup(self) -> None:
        for name in self.containers:
            self("rm", "-f", "-v", name, check=False)
        for name in self.volumes:
            self("volume", "rm", "-f", name, check=False)
        self("network", "rm", self.network, check=False)


def docker_for(names: tuple[str, ...]) -> Docker:
    """Debian's docker.io running, the images built (cached) and loaded, a network of our own."""
    result = _sh(str(ROOT / "kind" / "image.sh"), "daemon", timeout=600)
    assert result.returncode == 0, f"kind/image.sh daemon failed:\n{result.stderr[-2000:]}"
    python = str(ROOT / ".venv" / "bin" / "python")
    built = _sh(python, str(ROOT / "kind" / "images.py"), "build", *names, timeout=3000)
    assert built.returncode == 0, f"kind/images.py build failed:\n{built.stderr[-3000:]}"
    client = _sh("bash", "-c", f". {ROOT}/kind/docker-cli.sh && docker_cli").stdout.strip()
    builds = json.loads((Path(_sh(python, "-c", "import sys; sys.path.insert(0, 'kind'); import images;"
                                          " print(images.store())").stdout.strip()) / "builds.json").read_text())
    refs = {name: builds[name]["ref"] for name in names}
    d = Docker(client, refs)
    for name, ref in refs.items():
        if d("image", "inspect", ref, check=False).returncode != 0:
            d("load", "-i", builds[name]["archive"], timeout=600)
        repository = ref.rsplit(":", 1)[0]
        for old in d("images", repository, "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
            if old != ref:  # earlier builds: keep the daemon's disk bounded
                d("rmi", old, check=False)
    d.create_network()
    return d
