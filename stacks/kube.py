"""Kubernetes building blocks the engines' programs share (nothing engine-specific here).

A store is one namespace. Every engine builds it the same way: the namespace, then its
isolation (a deny-by-default NetworkPolicy, a ResourceQuota and a LimitRange sized by the
tier) before any pod, Secrets, components that are a volume + a Deployment + a Service, a
Job, an Ingress at ``<slug>.<store domain>``, and the outputs the core reads. ``Objects``
makes each of these with the store's labels, the cluster provider and the platform's
await timeout; the engine's program says which, with what containers.

Pulumi is imported when ``Objects`` is made (inside a program), never at import time: the
CLI reads every engine's shape at start-up and should not pay for Pulumi then. Classes are
imported by name after ``load_kubernetes``, as pulumi_kubernetes' lazy submodule loading is
not thread-safe when several stores are planned or applied in parallel.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from storekit.engine import ProgramContext, Tier, store_access

# The API groups the engines' programs use, each with one name in it (reading a name is what
# makes a lazily loaded module run).
_GROUPS = {"meta.v1": "ObjectMetaArgs", "core.v1": "Namespace", "apps.v1": "Deployment",
           "batch.v1": "Job", "networking.v1": "Ingress"}
_load_lock = threading.Lock()
_loaded = False


def load_kubernetes() -> None:
    """Run pulumi_kubernetes' lazily loaded modules once, under a lock, before a program uses them.

    pulumi_kubernetes registers its API groups with importlib's LazyLoader, which is not
    thread-safe on Python 3.11: a thread that reads a group while another thread is running it
    sees a half-made module ("module 'pulumi_kubernetes.meta.v1' has no attribute
    'ObjectMetaArgs'"), which failed stores of a fleet applied in parallel in one process.
    Every program calls this first; the first caller runs the modules, the others wait for it.
    """
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        import importlib

        import pulumi_kubernetes as k8s
        for group, name in _GROUPS.items():
            package, version = group.split(".")
            getattr(getattr(getattr(k8s, package), version), name)
            getattr(importlib.import_module(f"pulumi_kubernetes.{group}"), name)
        _loaded = True


@dataclass(frozen=True)
class Sizes:
    """Container resources and the namespace's quota of one tier."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    quota_cpu_requests: str
    quota_cpu_limits: str
    quota_memory_requests: str
    quota_memory_limits: str
    quota_storage: str
    max_pvc: str
    quota_pods: int = 10
    quota_pvcs: int = 4


def tier(name: str, volumes: dict[str, str], sizes: Sizes) -> Tier:
    """A tier that reserves what its quota's requests allow (the capacity preview reads it)."""
    return Tier(name, volumes, sizes, requests={"cpu": sizes.quota_cpu_requests,
                                                 "memory": sizes.quota_memory_requests,
                                                 "storage": sizes.quota_storage})


def steps(*middle: tuple[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A timeline: the steps every store has (namespace, isolation, secrets), the engine's
    own in between, the Ingress last."""
    return (
        ("Namespace", ("kubernetes:core/v1:Namespace",)),
        ("Isolation", ("kubernetes:networking.k8s.io/v1:NetworkPolicy",
                       "kubernetes:core/v1:ResourceQuota", "kubernetes:core/v1:LimitRange")),
        ("Secrets", ("kubernetes:core/v1:Secret",)),
        *middle,
        ("Ingress", ("kubernetes:networking.k8s.io/v1:Ingress",)),
    )


def component_step(step: str, component: str) -> tuple[str, tuple[str, ...]]:
    """The step of a component made by ``Objects``: its volume, Deployment and Service."""
    return step, (component, f"{component}-data", f"{component}-service")


POOL_LABEL = "storekit.io/node-pool"  # the label and taint of a node pool (STOREKIT_NODE_POOL)
WAIT_FOR = "pulumi.com/waitFor"  # the Kubernetes provider's await override (a JSONPath or a condition)


def labels_for(slug: str, component: str | None = None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/managed-by": "storekit",
        "app.kubernetes.io/part-of": "storekit-store",
        "storekit.io/store": slug,
    }
    if component:
        labels["app.kubernetes.io/name"] = component
    return labels


class Objects:
    """The objects of one store, made in its namespace with its labels (call inside a program)."""

    def __init__(self, ctx: ProgramContext):
        load_kubernetes()
        import pulumi
        import pulumi_kubernetes as k8s

        self.pulumi = pulumi
        self.ctx = ctx
        self.scope: list = []  # the namespace and storekit's access to it: every object depends on them
        self.spec, self.settings, self.secrets = ctx.spec, ctx.settings, ctx.secrets
        self.sizes: Sizes = ctx.tier.sizes
        self.slug, self.ns_name = ctx.spec.slug, ctx.spec.namespace
        self.timeout = f"{ctx.settings.timeout}s"
        self.provider = k8s.Provider(
            "cluster",
            # In a pod, no kubeconfig: client-go then uses the pod's service account.
            kubeconfig=None if self.settings.in_cluster else self.settings.kubeconfig,
            context=None if self.settings.in_cluster else self.settings.context,
            enable_server_side_apply=True,
            # Update Secrets in place: replacing one (the provider's default) would also
            # replace every workload that depends on it, restarting the database on a password reset.
            enable_secret_mutable=True,
        )

    def opts(self, *deps, awaited: bool = False, **kw):
        if awaited:
            kw["custom_timeouts"] = self.pulumi.CustomTimeouts(create=self.timeout, update=self.timeout)
        return self.pulumi.ResourceOptions(provider=self.provider, depends_on=list(deps), **kw)

    @property
    def placement(self) -> dict:
        """Pod spec fields that put the store's pods in the platform's node pool, if it names one."""
        pool = getattr(self.settings, "node_pool", None)
        if not pool:
            return {}
        return {"node_selector": {POOL_LABEL: pool},
                "tolerations": [{"key": POOL_LABEL, "operator": "Equal", "value": pool, "effect": "NoSchedule"}]}

    def meta(self, name: str, component: str | None = None, **extra) -> dict:
        return {"name": name, "namespace": self.ns_name, "labels": labels_for(self.slug, component), **extra}

    @property
    def resources(self) -> dict:
        t = self.sizes
        return {"requests": {"cpu": t.cpu_request, "memory": t.memory_request},
                "limits": {"cpu": t.cpu_limit, "memory": t.memory_limit}}

    def namespace(self):
        from pulumi_kubernetes.core.v1 import Namespace

        namespace = Namespace("namespace", metadata={"name": self.ns_name, "labels": labels_for(self.slug)},
                              opts=self.opts())
        # Least privilege: storekit's rights inside the namespace come from this binding.
        self.scope = [namespace, *store_access(self.ctx, namespace, labels=labels_for(self.slug), opts=self.opts)]
        return namespace

    def isolation(self) -> list:
        """NetworkPolicy (ingress only from inside and from the ingress controller's namespace),
        ResourceQuota and LimitRange: made before any pod, so every pod depends on them."""
        from pulumi_kubernetes.core.v1 import LimitRange, ResourceQuota
        from pulumi_kubernetes.networking.v1 import NetworkPolicy

        t = self.sizes
        network_policy = NetworkPolicy(
            "network-policy",
            metadata=self.meta("default-deny-ingress"),
            spec={
                "pod_selector": {},
                "policy_types": ["Ingress"],
                "ingress": [{"from": [
                    {"pod_selector": {}},
                    {"namespace_selector": {"match_labels": {
                        "kubernetes.io/metadata.name": self.settings.ingress_namespace}}},
                ]}],
            },
            opts=self.opts(*self.scope))
        quota = ResourceQuota(
            "resource-quota",
            metadata=self.meta("store-quota"),
            spec={"hard": {
                "requests.cpu": t.quota_cpu_requests,
                "limits.cpu": t.quota_cpu_limits,
                "requests.memory": t.quota_memory_requests,
                "limits.memory": t.quota_memory_limits,
                "requests.storage": t.quota_storage,
                "pods": str(t.quota_pods),
                "persistentvolumeclaims": str(t.quota_pvcs),
            }},
            opts=self.opts(*self.scope))
        limit_range = LimitRange(
            "limit-range",
            metadata=self.meta("store-limits"),
            spec={"limits": [
                {"type": "Container",
                 "default": {"cpu": t.cpu_limit, "memory": t.memory_limit},
                 "default_request": {"cpu": t.cpu_request, "memory": t.memory_request},
                 "max": {"cpu": t.cpu_limit, "memory": t.memory_limit}},
                {"type": "PersistentVolumeClaim", "max": {"storage": t.max_pvc}},
            ]},
            opts=self.opts(*self.scope))
        return [network_policy, quota, limit_range]

    def secret(self, logical: str, name: str, data: dict):
        """An Opaque Secret whose values are all Pulumi secrets."""
        from pulumi_kubernetes.core.v1 import Secret

        return Secret(logical, metadata=self.meta(name), type="Opaque",
                      string_data={k: self.pulumi.Output.secret(v) for k, v in data.items()},
                      opts=self.opts(*self.scope))

    @staticmethod
    def secret_env(secret, var: str, key: str) -> dict:
        return {"name": var, "value_from": {"secret_key_ref": {"name": secret.metadata["name"], "key": key}}}

    def volume_claim(self, name: str, component: str, size: str, *deps):
        """A claim awaited until it has a phase. The provider's own await (4.25) waits for
        ``Pending`` when the class binds WaitForFirstConsumer, on updates too, where a bound
        claim never is: a resize (a tier change) would wait out the timeout. The workload that
        mounts the claim is awaited until its pods are ready, which needs the volume bound."""
        from pulumi_kubernetes.core.v1 import PersistentVolumeClaim

        return PersistentVolumeClaim(
            f"{component}-data",
            metadata=self.meta(name, component, annotations={WAIT_FOR: "jsonpath={.status.phase}"}),
            spec={"access_modes": ["ReadWriteOnce"], "storage_class_name": self.spec.storage_class,
                  "resources": {"requests": {"storage": size}}},
            opts=self.opts(*deps, awaited=True))

    def deployment(self, component: str, container: dict, claim, *deps, pod: dict | None = None):
        """One replica, Recreate (one writer per ReadWriteOnce volume); ``claim`` (or None)
        is mounted at the container's ``mount_path``."""
        from pulumi_kubernetes.apps.v1 import Deployment

        container = dict(container)
        mount_path = container.pop("mount_path", None)
        selector = {"app.kubernetes.io/name": component, "storekit.io/store": self.slug}
        main = {"name": component, "resources": self.resources, **container}
        pod_spec = {"automount_service_account_token": False, "containers": [main], **self.placement, **(pod or {})}
        if claim is not None:
            main["volume_mounts"] = [{"name": "data", "mount_path": mount_path}]
            pod_spec["volumes"] = [{"name": "data", "persistent_volume_claim": {
                "claim_name": claim.metadata["name"]}}]
        return Deployment(
            component,
            metadata=self.meta(component, component),
            spec={
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"match_labels": selector},
                "template": {"metadata": {"labels": {**labels_for(self.slug, component), **selector}},
                             "spec": pod_spec},
            },
            opts=self.opts(*[d for d in (claim, *deps) if d is not None], awaited=True))

    def service(self, component: str, port: int, workload):
        from pulumi_kubernetes.core.v1 import Service

        return Service(
            f"{component}-service",
            metadata=self.meta(component, component),
            spec={"selector": {"app.kubernetes.io/name": component, "storekit.io/store": self.slug},
                  "ports": [{"name": component, "port": port, "target_port": port}]},
            opts=self.opts(workload, awaited=True))

    def setup_job(self, name: str, container: dict, *deps, pod: dict | None = None):
        """The store's setup Job: its pod carries a hash of the admin password, so a password
        reset replaces the Job and the setup runs again (every engine's setup converges the
        password); the pod does not depend on the tier, so a tier change never re-runs it."""
        import hashlib

        from pulumi_kubernetes.batch.v1 import Job

        revision = hashlib.sha256(self.secrets["admin_password"].encode()).hexdigest()[:16]
        return Job(
            name,
            metadata=self.meta(name, name),
            spec={
                "backoff_limit": 3,
                "template": {
                    "metadata": {"labels": labels_for(self.slug, name),
                                 "annotations": {"storekit.io/admin-password-revision": revision}},
                    "spec": {"restart_policy": "Never", "automount_service_account_token": False,
                             "containers": [container], **self.placement, **(pod or {})},
                },
            },
            opts=self.opts(*deps, awaited=True, delete_before_replace=True))

    def ingress(self, name: str, service, port: int, *deps):
        """The store's Ingress at <slug>.<store domain> (cert-manager TLS when the spec names
        an issuer; not awaited when the platform says its cluster has no ingress controller)."""
        from pulumi_kubernetes.networking.v1 import Ingress

        spec = self.spec
        annotations = {}
        if spec.tls_issuer:
            annotations["cert-manager.io/cluster-issuer"] = spec.tls_issuer
        if not self.settings.await_ingress:
            annotations["pulumi.com/skipAwait"] = "true"
        ingress_spec = {
            "ingress_class_name": spec.ingress_class,
            "rules": [{"host": spec.host, "http": {"paths": [{
                "path": "/", "path_type": "Prefix",
                "backend": {"service": {"name": service.metadata["name"], "port": {"number": port}}}}]}}],
        }
        if spec.tls_issuer:
            ingress_spec["tls"] = [{"hosts": [spec.host], "secret_name": f"{self.slug}-tls"}]
        return Ingress("ingress", metadata=self.meta(name, name, annotations=annotations), spec=ingress_spec,
                       opts=self.opts(*deps, awaited=True))

    def export(self, namespace, *, admin_url: str, admin_user: str, **more) -> None:
        """The outputs the core reads, the engine's own (``more``), and the secrets (secret)."""
        pulumi, spec = self.pulumi, self.spec
        pulumi.export("name", spec.name)
        pulumi.export("slug", self.slug)
        pulumi.export("engine", spec.engine)
        pulumi.export("tier", spec.tier)
        pulumi.export("namespace", namespace.metadata["name"])
        pulumi.export("url", spec.url)
        pulumi.export("admin_url", admin_url)
        pulumi.export("admin_user", admin_user)
        for key, value in more.items():
            pulumi.export(key, value)
        pulumi.export("spec", spec.to_dict())
        pulumi.export("secrets", pulumi.Output.secret(dict(self.secrets)))
