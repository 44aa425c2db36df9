"""The WooCommerce engine's Pulumi program: the store's objects, in dependency order.

Objects, and what each waits for (only what correctness needs: every wait is time a
store takes to become ready):

    Namespace (and storekit's RoleBinding in it, when the chart asks for one)
              -> NetworkPolicy, ResourceQuota, LimitRange   (isolation before any pod)
              -> Secrets (credentials, WordPress salts), the setup script's ConfigMap;
                 Services (names only, no wait)
    isolation, Secrets -> MySQL:     PVC -> Deployment (Recreate, probes)
                       -> WordPress: PVC -> Deployment (Recreate, probes)
    (WordPress starts beside MySQL: its entrypoint retries the database.)
    both Deployments available -> WooCommerce setup Job (assets/woocommerce-setup.php, run by
                                  the WordPress image's PHP; idempotent when re-run)
                               -> Ingress (<slug>.<store domain>, optional cert-manager TLS)

The Ingress comes last on purpose: until the setup Job has installed WordPress, its
install page must not be reachable from outside.

Every object carries ``app.kubernetes.io/managed-by: storekit`` and
``storekit.io/store: <slug>``. Sizes come from the tier; a tier change touches only
container resources, volume sizes, the quota and the limit range. The setup Job's pod
does not depend on the tier, so it is not re-run by a tier change.

What "ready" means is awaited on the objects that prove it: each Deployment available
(which includes its PVC bound: the provider waits for the claims in the pod template),
the setup Job complete (which proves WordPress reached MySQL through its Service), the
Ingress admitted. Two waits are skipped because they prove nothing more and cost time:
a PVC's own wait (its Deployment's covers it, and skipping it lets the Deployment be
created at once) and a Service's (the provider's endpoint wait adds a 10-second "settle"
per Service, which the Deployment's readiness and the Job already prove). The Ingress
wait is skipped only when the platform setting ``await_ingress`` is off (a cluster
without an ingress controller never fills ``status.loadBalancer``).

Pulumi is imported inside ``program``, not at the top: reading the engine's shape (the CLI
does at start-up) must not pay for the SDK.
"""

from __future__ import annotations


from storekit.engine import ProgramContext, store_access

from ..kube import labels_for, load_kubernetes
from .. import schedule as backup_schedule
from .backup import SCHEDULED_DUMP, scheduled_env
from .setup import SETUP_SCRIPT, setup_job_spec

# storekit owns its objects: a field someone changed behind its back (kubectl edit, another
# field manager) is shown as drift and taken back on apply, instead of failing the server-side
# apply with a field conflict.
OWNED = {"pulumi.com/patchForce": "true"}




def program(ctx: ProgramContext):
    # Pulumi is imported here, not at the top: reading the engine's shape must stay cheap.
    # pulumi_kubernetes loads its submodules lazily, which is not thread-safe when several
    # stores are planned or applied in parallel: load_kubernetes runs them once, under a lock.
    load_kubernetes()
    import pulumi
    import pulumi_kubernetes as k8s
    from pulumi_kubernetes.apps.v1 import Deployment
    from pulumi_kubernetes.batch.v1 import Job
    from pulumi_kubernetes.core.v1 import (ConfigMap, LimitRange, Namespace, PersistentVolumeClaim, ResourceQuota,
                                           Secret, Service)
    from pulumi_kubernetes.networking.v1 import Ingress, NetworkPolicy

    spec, settings, secrets = ctx.spec, ctx.settings, ctx.secrets
    tier, volumes = ctx.tier.sizes, ctx.tier.volumes
    slug, ns_name = spec.slug, spec.namespace
    timeout = f"{settings.timeout}s"
    pool = getattr(settings, "node_pool", None)
    # The platform's node pool (STOREKIT_NODE_POOL), if it names one: every pod goes there.
    placement = {"node_selector": {"storekit.io/node-pool": pool}, "tolerations": [{
        "key": "storekit.io/node-pool", "operator": "Equal", "value": pool, "effect": "NoSchedule"}]} if pool else {}

    def build() -> None:
        provider = k8s.Provider(
            "cluster",
            # In a pod, no kubeconfig: client-go then uses the pod's service account.
            kubeconfig=None if settings.in_cluster else settings.kubeconfig,
            context=None if settings.in_cluster else settings.context,
            enable_server_side_apply=True,
            # Update Secrets in place: replacing one (the provider's default) would also
            # replace every workload that depends on it, restarting MySQL on a password reset.
            enable_secret_mutable=True,
        )

        skip_await = {"pulumi.com/skipAwait": "true"}

        def opts(*deps, awaited: bool = False, **kw) -> pulumi.ResourceOptions:
            if awaited:
                kw["custom_timeouts"] = pulumi.CustomTimeouts(create=timeout, update=timeout)
            return pulumi.ResourceOptions(provider=provider, depends_on=list(deps), **kw)

        def meta(name: str, component: str | None = None, annotations: dict | None = None, **extra) -> dict:
            return {"name": name, "namespace": ns_name, "labels": labels_for(slug, component),
                    "annotations": {**OWNED, **(annotations or {})}, **extra}

        namespace = Namespace(
            "namespace", metadata={"name": ns_name, "labels": labels_for(slug), "annotations": OWNED}, opts=opts())
        # Least privilege: storekit's rights inside the namespace come from this binding.
        scope = [namespace, *store_access(ctx, namespace, labels=labels_for(slug), opts=opts)]

        # Isolation first: no pod starts before these exist.
        network_policy = NetworkPolicy(
            "network-policy",
            metadata=meta("default-deny-ingress"),
            spec={
                "pod_selector": {},
                "policy_types": ["Ingress"],
                "ingress": [{"from": [
                    {"pod_selector": {}},
                    {"namespace_selector": {"match_labels": {
                        "kubernetes.io/metadata.name": settings.ingress_namespace}}},
                ]}],
            },
            opts=opts(*scope))
        quota = ResourceQuota(
            "resource-quota",
            metadata=meta("store-quota"),
            spec={"hard": {
                "requests.cpu": tier.quota_cpu_requests,
                "limits.cpu": tier.quota_cpu_limits,
                "requests.memory": tier.quota_memory_requests,
                "limits.memory": tier.quota_memory_limits,
                "requests.storage": tier.quota_storage,
                "pods": str(tier.quota_pods),
                "persistentvolumeclaims": str(tier.quota_pvcs),
            }},
            opts=opts(*scope))
        limit_range = LimitRange(
            "limit-range",
            metadata=meta("store-limits"),
            spec={"limits": [
                {"type": "Container",
                 "default": {"cpu": tier.cpu_limit, "memory": tier.memory_limit},
                 "default_request": {"cpu": tier.cpu_request, "memory": tier.memory_request},
                 "max": {"cpu": tier.cpu_limit, "memory": tier.memory_limit}},
                {"type": "PersistentVolumeClaim", "max": {"storage": tier.max_pvc}},
            ]},
            opts=opts(*scope))
        guardrails = [network_policy, quota, limit_range]

        credentials = Secret(
            "credentials",
            metadata=meta("store-credentials"),
            type="Opaque",
            string_data={
                "mysql-root-password": pulumi.Output.secret(secrets["mysql_root_password"]),
                "mysql-password": pulumi.Output.secret(secrets["mysql_password"]),
                "admin-password": pulumi.Output.secret(secrets["admin_password"]),
            },
            opts=opts(*scope))
        salts = Secret(
            "salts",
            metadata=meta("wordpress-salts"),
            type="Opaque",
            string_data={f"WORDPRESS_{k[5:].upper()}": pulumi.Output.secret(v)
                         for k, v in secrets.items() if k.startswith("salt_")},
            opts=opts(*scope))

        def secret_env(var: str, key: str) -> dict:
            return {"name": var, "value_from": {"secret_key_ref": {
                "name": credentials.metadata["name"], "key": key}}}

        resources = {"requests": {"cpu": tier.cpu_request, "memory": tier.memory_request},
                     "limits": {"cpu": tier.cpu_limit, "memory": tier.memory_limit}}

        def volume_claim(name: str, component: str, size: str, *deps):
            return PersistentVolumeClaim(
                f"{component}-data",
                # Bound is awaited by the Deployment that mounts it (see the module docstring).
                metadata=meta(name, component, annotations=skip_await),
                spec={"access_modes": ["ReadWriteOnce"], "storage_class_name": spec.storage_class,
                      "resources": {"requests": {"storage": size}}},
                opts=opts(*deps))

        def deployment(component: str, container: dict, claim, *deps):
            mount_path = container.pop("mount_path")
            selector = {"app.kubernetes.io/name": component, "storekit.io/store": slug}
            return Deployment(
                component,
                metadata=meta(component, component),
                spec={
                    "replicas": 1,
                    "strategy": {"type": "Recreate"},  # one writer per ReadWriteOnce volume
                    "selector": {"match_labels": selector},
                    "template": {
                        "metadata": {"labels": {**labels_for(slug, component), **selector}},
                        "spec": {
                            "automount_service_account_token": False,
                            **placement,
                            "containers": [{"name": component, "resources": resources, **container,
                                            "volume_mounts": [{"name": "data", "mount_path": mount_path}]}],
                            "volumes": [{"name": "data", "persistent_volume_claim": {
                                "claim_name": claim.metadata["name"]}}],
                        },
                    },
                },
                opts=opts(claim, *deps, awaited=True))

        def service(component: str, port: int):
            return Service(
                f"{component}-service",
                # Its endpoints are the Deployment's ready pods: awaited there, not here.
                metadata=meta(component, component, annotations=skip_await),
                spec={"selector": {"app.kubernetes.io/name": component, "storekit.io/store": slug},
                      "ports": [{"name": component, "port": port, "target_port": port}]},
                opts=opts(*scope))

        # MySQL
        mysql_claim = volume_claim("mysql-data", "mysql", volumes["mysql"], *guardrails)
        mysql = deployment("mysql", {
            "image": spec.images["mysql"],
            "ports": [{"container_port": 3306, "name": "mysql"}],
            "env": [secret_env("MYSQL_ROOT_PASSWORD", "mysql-root-password"),
                    {"name": "MYSQL_DATABASE", "value": "wordpress"},
                    {"name": "MYSQL_USER", "value": "wordpress"},
                    secret_env("MYSQL_PASSWORD", "mysql-password")],
            "readiness_probe": {"exec": {"command": ["sh", "-c", "mysqladmin ping -h 127.0.0.1 --silent"]},
                                "initial_delay_seconds": 10, "period_seconds": 5},
            "liveness_probe": {"tcp_socket": {"port": 3306},
                               "initial_delay_seconds": 30, "period_seconds": 10},
            "mount_path": "/var/lib/mysql",
        }, mysql_claim, credentials)
        mysql_service = service("mysql", 3306)

        # WordPress
        wordpress_env = [
            {"name": "WORDPRESS_DB_HOST", "value": "mysql:3306"},
            {"name": "WORDPRESS_DB_NAME", "value": "wordpress"},
            {"name": "WORDPRESS_DB_USER", "value": "wordpress"},
            secret_env("WORDPRESS_DB_PASSWORD", "mysql-password"),
        ]
        wordpress_claim = volume_claim("wordpress-data", "wordpress", volumes["wordpress"], *guardrails)
        wordpress = deployment("wordpress", {
            "image": spec.images["wordpress"],
            "ports": [{"container_port": 80, "name": "http"}],
            "env": wordpress_env,
            "env_from": [{"secret_ref": {"name": salts.metadata["name"]}}],
            "readiness_probe": {"http_get": {"path": "/wp-login.php", "port": 80},
                                "initial_delay_seconds": 10, "period_seconds": 5},
            "liveness_probe": {"tcp_socket": {"port": 80},
                               "initial_delay_seconds": 30, "period_seconds": 10},
            "mount_path": "/var/www/html",
        }, wordpress_claim, credentials, salts)
        wordpress_service = service("wordpress", 80)

        # WooCommerce setup: the script from a ConfigMap, on the WordPress volume, in the WordPress
        # image, as the files' owner; idempotent, so a changed script or password re-runs it.
        script = SETUP_SCRIPT.read_text()
        setup_script = ConfigMap(
            "setup-script",
            metadata=meta("woocommerce-setup", "woocommerce-setup"),
            data={SETUP_SCRIPT.name: script},
            opts=opts(*scope))
        setup = Job(
            "woocommerce-setup",
            metadata=meta("woocommerce-setup", "woocommerce-setup"),
            spec=setup_job_spec(
                spec, settings, labels=labels_for(slug, "woocommerce-setup"), placement=placement,
                admin_password=secrets["admin_password"], script=script,
                env=wordpress_env + [secret_env("ADMIN_PASSWORD", "admin-password")],
                salts=salts.metadata["name"], claim=wordpress_claim.metadata["name"],
                config_map=setup_script.metadata["name"]),
            opts=opts(mysql, wordpress, mysql_service, wordpress_service, setup_script, awaited=True,
                      delete_before_replace=True))

        # Scheduled backups (spec.backup): a CronJob with the backup image (stacks/schedule.py)
        backup_schedule.build(pulumi, spec=spec, settings=settings, meta=meta, opts=opts,
                              labels=labels_for(slug, "backup"), placement=placement, claim=wordpress_claim,
                              dump=SCHEDULED_DUMP, env=scheduled_env(credentials.metadata["name"]),
                              scope=scope, after=[setup])

        # Ingress
        annotations = {}
        if spec.tls_issuer:
            annotations["cert-manager.io/cluster-issuer"] = spec.tls_issuer
        if not settings.await_ingress:
            annotations["pulumi.com/skipAwait"] = "true"
        ingress_spec = {
            "ingress_class_name": spec.ingress_class,
            "rules": [{"host": spec.host, "http": {"paths": [{
                "path": "/", "path_type": "Prefix",
                "backend": {"service": {"name": wordpress_service.metadata["name"],
                                        "port": {"number": 80}}}}]}}],
        }
        if spec.tls_issuer:
            ingress_spec["tls"] = [{"hosts": [spec.host], "secret_name": f"{slug}-tls"}]
        Ingress(
            "ingress",
            metadata=meta("wordpress", "wordpress", annotations=annotations),
            spec=ingress_spec,
            opts=opts(setup, awaited=True))

        pulumi.export("name", spec.name)
        pulumi.export("slug", slug)
        pulumi.export("engine", spec.engine)
        pulumi.export("tier", spec.tier)
        pulumi.export("namespace", namespace.metadata["name"])
        pulumi.export("url", spec.url)
        pulumi.export("admin_url", spec.url + "/wp-admin/")
        pulumi.export("admin_user", spec.admin_user)
        pulumi.export("spec", spec.to_dict())
        pulumi.export("secrets", pulumi.Output.secret(dict(secrets)))

    return build
