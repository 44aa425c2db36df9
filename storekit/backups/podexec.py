"""Scripts run inside a store's pods through the Kubernetes API (``kubectl exec``), with a
file as stdin and a file as stdout: how backup parts are made and loaded without installing
anything in the store."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import BackupError, ClusterUnreachable, ToolMissing
from ..redact import redact_text


def kubectl(settings) -> list[str]:
    """The kubectl command line for the configured cluster."""
    found = shutil.which("kubectl") or (p if (p := Path(settings.home, "tools", "bin", "kubectl")).is_file() else None)
    if not found:
        raise ToolMissing("kubectl is not installed: backups and restores exec into the store's pods with it",
                          hint="Install kubectl (Debian: apt-get install kubernetes-client).")
    argv = [str(found)]
    if not settings.in_cluster:
        argv += ["--kubeconfig", settings.kubeconfig]
    if settings.context:
        argv += ["--context", settings.context]
    return argv


def ready_pod(client, namespace: str, component: str) -> tuple[str, str]:
    """(pod, container) of the component's running, ready pod."""
    from lightkube.resources.core_v1 import Pod

    for pod in client.list(Pod, namespace=namespace, labels={"app.kubernetes.io/name": component}):
        if pod.metadata.deletionTimestamp is None and pod.status and pod.status.phase == "Running" and all(
                s.ready for s in pod.status.containerStatuses or []):
            return pod.metadata.name, pod.spec.containers[0].name
    raise BackupError(f"the store has no ready {component} pod in {namespace}",
                      hint="Check `storekit health NAME`; a backup or restore needs the store running.")


def replace_pods(client, namespace: str, component: str, timeout: float) -> bool:
    """Delete the component's pods (its Deployment makes new ones, as a restart would, with no
    change to the Deployment) and wait until a new one is ready: False when none is in time."""
    import time

    from lightkube.resources.core_v1 import Pod

    old = set()
    for pod in client.list(Pod, namespace=namespace, labels={"app.kubernetes.io/name": component}):
        old.add(pod.metadata.name)
        client.delete(Pod, pod.metadata.name, namespace=namespace)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready_pod(client, namespace, component)[0] not in old:
                return True
        except BackupError:
            pass
        time.sleep(2)
    return False


def run(settings, namespace: str, pod: str, container: str, script: str, *args: str,
        stdin: Path | bytes | None = None, stdout: Path | None = None, timeout: float = 3600,
        what: str = "") -> str:
    """Run ``script`` with bash in the container (``set -euo pipefail``; ``args`` as $1...);
    stdin from a file or bytes, stdout to a file (or returned). Fails with the script's stderr."""
    argv = kubectl(settings) + ["exec", "-n", namespace, pod, "-c", container]
    if stdin is not None:
        argv.append("-i")
    argv += ["--", "bash", "-c", "set -euo pipefail\n" + script, "storekit", *args]
    out = open(stdout, "wb") if stdout is not None else subprocess.PIPE
    source = open(stdin, "rb") if isinstance(stdin, Path) else (subprocess.PIPE if stdin is not None
                                                                else subprocess.DEVNULL)
    try:
        proc = subprocess.Popen(argv, stdin=source, stdout=out, stderr=subprocess.PIPE)
        try:
            data, err = proc.communicate(stdin if isinstance(stdin, bytes) else None, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise BackupError(f"{what or 'a script'} in {namespace}/{pod} did not finish in {timeout:.0f} s") from None
    finally:
        if stdout is not None:
            out.close()
        if isinstance(stdin, Path):
            source.close()
    if proc.returncode != 0:
        text = redact_text(err.decode(errors="replace").strip())
        if "Unable to connect" in text or "connection refused" in text:
            raise ClusterUnreachable(f"the Kubernetes API does not answer: {text.splitlines()[-1]}")
        last = " / ".join(text.splitlines()[-3:]) or f"exit code {proc.returncode}"
        raise BackupError(f"{what or 'a script'} failed in {namespace}/{pod}: {last}")
    return data.decode(errors="replace") if data is not None else ""
