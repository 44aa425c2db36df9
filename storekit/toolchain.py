"""Where the Pulumi engine is, how it is run, and whether the cluster answers.

storekit runs the real ``pulumi`` CLI (through the Automation API) with the real
``pulumi-resource-kubernetes`` plugin. ``make tools`` builds both under
``$STOREKIT_HOME/tools``; this module finds them, runs Pulumi offline and predictably
(no update checks, no plugin downloads, plugins only from our ``PULUMI_HOME``), and turns
a missing tool or an unreachable cluster into an error that names the fix.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from .errors import ClusterUnreachable, ToolMissing
from .settings import Settings

# Keep in step with kind/tools.sh (K8S_PROVIDER_VERSION) and setup.cfg.
KUBERNETES_PLUGIN_VERSION = "4.25.0"
MIN_PULUMI_VERSION = (3, 181, 0)  # inline programs run through the CLI's --client mode
# Where Kubernetes mounts a pod's service account (client-go reads the same place).
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class LazyModule:
    """A module imported on its first attribute use. The engine's SDK (``pulumi.automation``)
    takes about 0.4 s to import: commands that never reach the engine should not pay it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


class LazyPart:
    """An attribute made on first use by ``make(obj)``, once, kept in ``obj._parts`` under
    ``obj._parts_guard`` (a reentrant lock: one part may use another). Objects that share
    ``_parts`` share their parts."""

    def __init__(self, make):
        self.make = make

    def __set_name__(self, owner, name: str):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        with obj._parts_guard:
            if self.name not in obj._parts:
                obj._parts[self.name] = self.make(obj)
            return obj._parts[self.name]


def tools_bin(settings: Settings) -> Path:
    return settings.home_path / "tools" / "bin"


def pulumi_home(settings: Settings) -> Path:
    return Path(settings.pulumi_home)


def find_pulumi(settings: Settings) -> Path:
    """The pulumi CLI to run: the configured one, the one ``make tools`` built, or PATH's."""
    candidates = [settings.pulumi, tools_bin(settings) / "pulumi", shutil.which("pulumi")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return Path(c)
    raise ToolMissing(
        "the pulumi CLI was not found (looked at STOREKIT_PULUMI, "
        f"{tools_bin(settings)}/pulumi and PATH)",
        hint="Build it with `make tools`.",
    )


def check_plugin(settings: Settings) -> Path:
    plugin = (pulumi_home(settings) / "plugins" / f"resource-kubernetes-v{KUBERNETES_PLUGIN_VERSION}"
              / "pulumi-resource-kubernetes")
    if not plugin.is_file():
        raise ToolMissing(
            f"the Pulumi Kubernetes plugin {KUBERNETES_PLUGIN_VERSION} is not installed in "
            f"{pulumi_home(settings)}",
            hint="Build and install it with `make tools`.",
        )
    return plugin


@functools.lru_cache(maxsize=8)
def _pulumi_version(path: str) -> tuple[int, ...]:
    out = subprocess.run([path, "version"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    text = out.stdout.strip().lstrip("v").split("-")[0]
    try:
        return tuple(int(p) for p in text.split(".")[:3])
    except ValueError as e:
        raise ToolMissing(f"{path} does not report a version ({out.stdout or out.stderr!r})",
                          hint="Rebuild it with `make tools`.") from e


def check_tools(settings: Settings) -> Path:
    """Raise ``ToolMissing`` unless a supported pulumi and the plugin are installed."""
    pulumi = find_pulumi(settings)
    version = _pulumi_version(str(pulumi))
    if version < MIN_PULUMI_VERSION:
        raise ToolMissing(
            f"{pulumi} is version {'.'.join(map(str, version))}; storekit needs "
            f"{'.'.join(map(str, MIN_PULUMI_VERSION))} or newer",
            hint="Build a supported one with `make tools` or set STOREKIT_PULUMI.",
        )
    check_plugin(settings)
    return pulumi


def pulumi_command(settings: Settings):
    """A shared ``PulumiCommand`` for the checked CLI (one ``pulumi version`` per process)."""
    return _pulumi_command(str(check_tools(settings)), str(settings.home_path))


@functools.lru_cache(maxsize=8)
def _pulumi_command(path: str, home: str):
    from pulumi.automation import PulumiCommand

    binary = Path(path)
    if binary.parent.name == "bin":
        root = binary.parent.parent
    else:  # PulumiCommand runs <root>/bin/pulumi: give it such a root
        root = Path(home, "run", "pulumi-root")
        (root / "bin").mkdir(parents=True, exist_ok=True)
        link = root / "bin" / "pulumi"
        if not link.exists() or link.resolve() != binary.resolve():
            link.unlink(missing_ok=True)
            link.symlink_to(binary)
    return PulumiCommand(root=str(root), skip_version_check=True)


def pulumi_env(settings: Settings) -> dict[str, str]:
    """Environment for every pulumi process: offline, our plugin cache, our backend."""
    env = {
        "PULUMI_HOME": str(pulumi_home(settings)),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_BACKEND_URL": settings.state_url,
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
    }
    return env


def cluster_api(settings: Settings):
    """(server URL, lightkube Client) for the configured kubeconfig and context, or for the
    pod's service account when the kubeconfig setting is ``in-cluster``."""
    from lightkube import KubeConfig
    from lightkube.core.exceptions import ConfigError

    if settings.in_cluster:
        try:
            config = KubeConfig.from_service_account(SERVICE_ACCOUNT_DIR).get()
        except (ConfigError, OSError, ValueError, KeyError) as e:
            raise ClusterUnreachable(
                f"kubeconfig is 'in-cluster' but this is not a pod with a service account ({e})",
                hint=f"Run inside Kubernetes (token under {SERVICE_ACCOUNT_DIR} and "
                     "KUBERNETES_SERVICE_HOST set), or set STOREKIT_KUBECONFIG to a file.") from e
        return _client(config)
    path = Path(settings.kubeconfig)
    if not path.is_file():
        raise ClusterUnreachable(
            f"no kubeconfig at {path}",
            hint="Start the local cluster with `make cluster`, or set STOREKIT_KUBECONFIG.",
        )
    try:
        config = KubeConfig.from_file(path).get(context_name=settings.context)
    except (ConfigError, OSError, ValueError, KeyError) as e:
        raise ClusterUnreachable(f"cannot read kubeconfig {path}: {e}",
                                 hint="Check the file, or recreate it with `make cluster`.") from e
    return _client(config)


def describe_cluster(settings: Settings) -> str:
    """The cluster storekit talks to, for messages: "'storekit' at https://127.0.0.1:6443"
    (read from the kubeconfig; no network, never fails)."""
    if settings.in_cluster:
        return "in this pod's cluster (service account)"
    try:
        import yaml

        config = yaml.safe_load(Path(settings.kubeconfig).read_text()) or {}
        context_name = settings.context or config.get("current-context")
        context = next(c["context"] for c in config.get("contexts") or [] if c.get("name") == context_name)
        cluster = next(c["cluster"] for c in config.get("clusters") or [] if c.get("name") == context["cluster"])
        return f"'{context['cluster']}' at {cluster['server']}"
    except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError, ImportError):
        return f"of kubeconfig {settings.kubeconfig}"


def _client(config):
    from lightkube import Client
    import httpx2 as httpx  # lightkube's HTTP client

    return config.cluster.server, Client(config, timeout=httpx.Timeout(10.0), field_manager="storekit")


def check_cluster(settings: Settings) -> str:
    """Raise ``ClusterUnreachable`` (naming the fix) unless the API server answers a read of
    the ``default`` namespace. Only what means "no cluster" is caught: refused or timed-out
    connections, TLS failures, an API that refuses the credentials or answers with an error."""
    server, client = cluster_api(settings)
    import httpx2 as httpx  # lightkube's HTTP client
    from lightkube.core.exceptions import ApiError
    from lightkube.resources.core_v1 import Namespace

    try:
        client.get(Namespace, "default")
    except ApiError as e:
        if e.status.code in (401, 403):
            raise ClusterUnreachable(f"the cluster at {server} refused storekit's credentials: {e}",
                                     hint="Check the kubeconfig's user and RBAC.") from e
        raise ClusterUnreachable(f"the Kubernetes API at {server} answered {e.status.code}: {e}",
                                 hint="Check the cluster (`make cluster-status`).") from e
    except httpx.TransportError as e:  # refused, timed out, TLS: transport errors
        raise ClusterUnreachable(
            f"the Kubernetes API at {server} does not answer ({type(e).__name__}: {e})",
            hint="Start the local cluster with `make cluster` (or check STOREKIT_KUBECONFIG).",
        ) from e
    return server
