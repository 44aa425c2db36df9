"""The public engine API: everything a store engine declares, and all it may import.

An engine is one module that builds an ``Engine`` and is registered under the
``storekit.engines`` entry-point group (``storekit.engines``). The engine declares its whole
shape, and the core derives everything else from it: spec validation (tiers, images), the
volume check (volumes grow, never shrink), day-2 operations (which components restart,
which must be ready for a healthy store, which have logs), the timeline's steps, the
OpenAPI enums and the CLI's choices. The core imports no engine.

``program(ctx)`` returns a Pulumi inline program (a function of no arguments) that creates
the store's objects and exports at least ``name``, ``slug``, ``engine``, ``tier``,
``namespace``, ``url``, ``admin_url``, ``admin_user``, ``spec`` and the secrets as a secret
output named ``secrets``. Import Pulumi inside ``program``, not at the top of the module:
the CLI reads every engine's shape at start-up and should not pay for Pulumi then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["BackupPart", "BackupShape", "Engine", "ProgramContext", "Tier", "Volume", "quantity", "store_access"]


def quantity(text: str | None):
    """A Kubernetes quantity as a number ("500m" -> 0.5, "1Gi" -> 1073741824); None if unreadable."""
    from lightkube.utils.quantity import parse_quantity  # here: lightkube's package import is not cheap

    if text is None:
        return None
    try:
        return parse_quantity(str(text))
    except ValueError:
        return None


def store_access(ctx: "ProgramContext", namespace, *, labels: Mapping[str, str], opts) -> list:
    """The RoleBinding that lets storekit manage a namespace it has just created, or nothing.

    With ``store_role`` and ``service_account`` set (the chart sets both), storekit's own
    cluster-wide rights stop at labelled namespaces and binding that one role; each store
    namespace then grants it ``store_role`` right after it is made. An engine creates its
    namespace, calls this, and makes every other object depend on the result (so the
    binding goes last on destroy). Returns ``[binding]`` or ``[]``."""
    settings = ctx.settings
    if not getattr(settings, "store_role", None) or not getattr(settings, "service_account", None):
        return []
    from pulumi_kubernetes.rbac.v1 import RoleBinding  # here: reading an engine's shape stays cheap

    sa_namespace, _, sa_name = settings.service_account.partition("/")
    binding = RoleBinding(
        "store-access",
        metadata={"name": "storekit-store-manager", "namespace": ctx.spec.namespace, "labels": dict(labels)},
        role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": settings.store_role},
        subjects=[{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}],
        opts=opts(namespace))
    return [binding]


@dataclass(frozen=True)
class Tier:
    """A size of store. The core reads ``name``, the ``volumes`` sizes and the ``requests``
    (what the store reserves from the cluster); ``sizes`` is the engine's own (container
    resources, quotas, ...)."""

    name: str
    volumes: Mapping[str, str] = field(default_factory=dict)  # volume name -> requested size
    sizes: Any = None
    # What a store of this tier reserves from the cluster (its quota's requests): keys cpu,
    # memory, storage as quantities. The capacity preview in every plan sums these.
    requests: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Volume:
    """A persistent volume of a store. Kubernetes volumes grow but never shrink, so a tier
    change that would shrink one is refused before anything runs (unless ``may_shrink``)."""

    name: str
    component: str
    may_shrink: bool = False


@dataclass(frozen=True)
class ProgramContext:
    """What a program gets: the resolved spec, its tier, the platform settings and the secrets."""

    spec: Any  # StoreSpec, resolved: images and platform settings filled in
    settings: Any  # Settings
    secrets: Mapping[str, str]
    tier: Tier | None = None


@dataclass(frozen=True)
class BackupPart:
    """One file of a backup, made and loaded inside a component's container (``kubectl exec``):
    ``dump`` is a bash script that writes the part to stdout, ``load`` one that reads it from
    stdin. Scripts run with ``set -euo pipefail``; they read credentials from the container's
    own environment, never from their arguments."""

    file: str  # e.g. "database.sql.gz"
    component: str  # the app.kubernetes.io/name of the pod it runs in
    dump: str
    load: str


@dataclass(frozen=True)
class BackupShape:
    """How a store of the engine is backed up and restored (docs/backups.md).

    ``stop``/``start`` run in ``switch`` (the maintenance switch: writers stopped, pods kept);
    ``converge`` runs after the parts are loaded with the store's URL as ``$1`` and the admin
    password on stdin (what belongs to the store, not to the backup); ``check`` exits 0 when the
    store serves its home page (its URL as ``$1``); ``rewrite`` (clones) replaces the source's URL
    ``$2`` by the store's ``$1`` in stored content; ``restart`` names components whose pods are
    replaced after ``start`` (servers that keep state in memory), the restore waiting until they
    are ready again.

    A restore of another store's backup is a clone, so after a load the store must have its own
    admin password and whatever else is its own (``converge``, or the parts' ``load`` keeping
    them), and no stored URL of the source (``rewrite``, where the engine stores URLs)."""

    parts: tuple[BackupPart, ...]
    switch: str
    stop: str
    start: str
    converge: str = ""
    check: str = ""
    rewrite: str = ""
    restart: tuple[str, ...] = ()


def _no_secrets() -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Engine:
    name: str
    description: str
    program: Callable[[ProgramContext], Callable[[], None]] | None
    available: bool = True
    unavailable_reason: str = ""
    images: Mapping[str, str] = field(default_factory=dict)  # image key -> default reference
    # image key -> its name in the index of images built here (kind/images.py), where it
    # differs from the key (STOREKIT_IMAGES=local; e.g. the "mysql" image is "mariadb" there)
    local_images: Mapping[str, str] = field(default_factory=dict)
    # images only a store that needs them gets (key -> default reference): "backup", the image of
    # scheduled backups, when the spec has a backup schedule
    optional_images: Mapping[str, str] = field(default_factory=dict)
    # keys of images the engine no longer uses: dropped from recorded specs instead of refused
    retired_images: tuple[str, ...] = ()
    tiers: tuple[Tier, ...] = ()  # in order, smallest first; the first is the default
    volumes: tuple[Volume, ...] = ()
    components: tuple[str, ...] = ()  # long-running workloads (Deployments): restartable
    health_components: tuple[str, ...] = ()  # must be ready for the store to be healthy
    log_components: tuple[str, ...] = ()  # offered by `logs` and the dashboard
    generate_secrets: Callable[[], dict[str, str]] = _no_secrets  # made once per store
    # The component whose pods report the setup's outcome as their termination message, and
    # what of it a person must know ("WooCommerce not installed: <reason>"), or None: shown
    # by outputs and health.
    setup_component: str | None = None
    setup_notice: Callable[[str], str | None] = lambda message: None
    # Outputs that are secrets (exported with pulumi.Output.secret): named by `outputs`, their
    # values shown only on request (`storekit outputs NAME --reveal`), e.g. a publishable key.
    secret_outputs: tuple[str, ...] = ()
    # Steps shown in timelines, in order, and which resource types or names belong to each.
    steps: tuple[tuple[str, tuple[str, ...]], ...] = ()
    backup: BackupShape | None = None  # None: the engine's stores cannot be backed up yet

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.tiers]

    def tier(self, name: str) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)

    @property
    def step_names(self) -> list[str]:
        return [step for step, _ in self.steps]

    def step_of(self, resource_type: str, resource_name: str) -> str:
        for step, matches in self.steps:
            if any(m == resource_type or m == resource_name for m in matches):
                return step
        return resource_type.rsplit(":", 1)[-1]

    def shrinking_volumes(self, before: str, after: str) -> list[str]:
        """"wordpress 5Gi > 1Gi" for each volume moving from tier ``before`` to ``after`` would shrink."""
        old, new = self.tier(before), self.tier(after)
        if old is None or new is None:
            return []
        out = []
        for volume in self.volumes:
            a, b = old.volumes.get(volume.name), new.volumes.get(volume.name)
            if not volume.may_shrink and a and b and quantity(b) < quantity(a):
                out.append(f"{volume.name} {a} > {b}")
        return out
