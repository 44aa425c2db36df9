"""The Medusa engine: Medusa 2 (server + admin dashboard) and PostgreSQL in the store's own namespace.

Objects, in dependency order (each arrow is a real dependency the engine waits on):

    Namespace -> NetworkPolicy, ResourceQuota, LimitRange   (isolation before any pod)
              -> Secrets (database password, admin password, JWT and cookie secrets,
                 the storefront's publishable API key)
              -> PostgreSQL: PVC -> Deployment (Recreate, probes) -> Service
              -> setup Job: `medusa db:migrate`, then the setup script (admin user, region,
                 sales channel, stock location, shipping option, publishable key, Sample
                 Product at $19.99 with stock, manual payment); idempotent when re-run
              -> Medusa: PVC (uploads) -> Deployment (Recreate, probes) -> Service
              -> Ingress (<slug>.<store domain>; the admin dashboard at /app)
              -> with a backup schedule (spec.backup): its Secret, script and CronJob
                 (stacks/schedule.py: pg_dump over the store's network, the uploads volume)

The server starts after the setup Job because it needs the migrated schema; a new image
replaces the Job first, so migrations run before the new server does. A password reset
changes the Job's pod annotation, so the Job runs again and converges the password. The
images are built here (kind/images/medusa and kind/images/postgres; `make image-medusa`);
a store names others through its spec's ``images`` (a fleet file's ``images:``).

No Redis: Medusa's in-process event bus, cache, locking and workflow engine serve one server
replica per store. Outputs: the store URL, the admin URL, the admin user (the admin's
email: Medusa logs in by email) and the publishable API key (secret).
"""

from __future__ import annotations

import secrets as _secrets

from storekit.engine import Engine, ProgramContext, Volume

from . import schedule as backup_schedule
from .kube import Objects, Sizes, component_step, labels_for, steps, tier
from .medusa_backup import BACKUP, SCHEDULED_DUMP, scheduled_env

IMAGES = {
    "medusa": "storekit.local/medusa:2.21.2",
    "postgres": "storekit.local/postgres:15",
}

# Medusa's server wants more memory than WordPress: its requests and limits are one step up.
TIERS = (
    tier("small", {"medusa": "1Gi", "postgres": "2Gi"},
         Sizes("100m", "1", "384Mi", "1Gi", "1", "3", "1Gi", "3Gi", "10Gi", max_pvc="5Gi")),
    tier("medium", {"medusa": "5Gi", "postgres": "10Gi"},
         Sizes("250m", "2", "768Mi", "2Gi", "2", "6", "2Gi", "6Gi", "30Gi", max_pvc="15Gi")),
    tier("large", {"medusa": "20Gi", "postgres": "40Gi"},
         Sizes("500m", "4", "1536Mi", "4Gi", "4", "12", "4Gi", "12Gi", "100Gi", max_pvc="50Gi")),
)

SECRET_NAMES = ("postgres_password", "admin_password", "jwt_secret", "cookie_secret", "publishable_key")
DATABASE = "medusa"
PORT = 9000
SETUP_COMMAND = ["sh", "-c", "medusa db:migrate && exec medusa exec ./src/scripts/setup.js"]


def generate_secrets() -> dict[str, str]:
    """Fresh random values for every secret a store needs (created once per store). The
    publishable key has Medusa's own form, so the setup script can give it to the store."""
    out = {name: _secrets.token_urlsafe(24) for name in SECRET_NAMES}
    out["jwt_secret"], out["cookie_secret"] = _secrets.token_hex(32), _secrets.token_hex(32)
    out["publishable_key"] = "pk_" + _secrets.token_hex(32)
    return out


def program(ctx: ProgramContext):
    spec, secrets = ctx.spec, ctx.secrets
    volumes = ctx.tier.volumes

    def build() -> None:
        import pulumi

        k = Objects(ctx)
        namespace = k.namespace()
        guardrails = k.isolation()  # no pod starts before these exist
        credentials = k.secret("credentials", "store-credentials", {
            "postgres-password": secrets["postgres_password"],
            "admin-password": secrets["admin_password"],
            "jwt-secret": secrets["jwt_secret"],
            "cookie-secret": secrets["cookie_secret"],
            "publishable-key": secrets["publishable_key"],
        })

        def secret_env(var: str, key: str) -> dict:
            return k.secret_env(credentials, var, key)

        # PostgreSQL
        postgres_claim = k.volume_claim("postgres-data", "postgres", volumes["postgres"], *guardrails)
        ready = ["sh", "-c", f"pg_isready -h 127.0.0.1 -U {DATABASE} -d {DATABASE}"]
        postgres = k.deployment("postgres", {
            "image": spec.images["postgres"],
            "ports": [{"container_port": 5432, "name": "postgres"}],
            "env": [secret_env("POSTGRES_PASSWORD", "postgres-password"),
                    {"name": "POSTGRES_USER", "value": DATABASE},
                    {"name": "POSTGRES_DB", "value": DATABASE}],
            "readiness_probe": {"exec": {"command": ready}, "initial_delay_seconds": 5, "period_seconds": 5},
            "liveness_probe": {"tcp_socket": {"port": 5432}, "initial_delay_seconds": 30, "period_seconds": 10},
            "mount_path": "/var/lib/postgresql/data",
        }, postgres_claim, credentials)
        postgres_service = k.service("postgres", 5432, postgres)

        # What the setup Job and the server share: the database, the store's URL, the secrets.
        medusa_env = [
            secret_env("DATABASE_PASSWORD", "postgres-password"),
            # Kubernetes expands $(VAR) from the variables before it; the password is URL-safe.
            {"name": "DATABASE_URL",
             "value": f"postgres://{DATABASE}:$(DATABASE_PASSWORD)@postgres:5432/{DATABASE}"},
            {"name": "STORE_URL", "value": spec.url},
            {"name": "COOKIE_SECURE", "value": "true" if spec.url.startswith("https:") else "false"},
            secret_env("JWT_SECRET", "jwt-secret"),
            secret_env("COOKIE_SECRET", "cookie-secret"),
        ]

        # Setup: migrations, then the store's contents (idempotent; converges the admin password).
        setup = k.setup_job("medusa-setup", {
            "name": "medusa-setup",
            "image": spec.images["medusa"],
            "command": SETUP_COMMAND,
            "env": medusa_env + [
                {"name": "STORE_NAME", "value": spec.name},
                {"name": "ADMIN_EMAIL", "value": spec.admin_email},
                secret_env("ADMIN_PASSWORD", "admin-password"),
                secret_env("PUBLISHABLE_KEY", "publishable-key"),
            ],
            "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        }, postgres_service)

        # The Medusa server and its admin dashboard (/app); uploads on their own volume.
        medusa_claim = k.volume_claim("medusa-data", "medusa", volumes["medusa"], *guardrails)
        medusa = k.deployment("medusa", {
            "image": spec.images["medusa"],
            "ports": [{"container_port": PORT, "name": "http"}],
            "env": medusa_env + [{"name": "PORT", "value": str(PORT)}],
            "readiness_probe": {"http_get": {"path": "/health", "port": PORT},
                                "initial_delay_seconds": 10, "period_seconds": 5},
            "liveness_probe": {"http_get": {"path": "/health", "port": PORT},
                               "initial_delay_seconds": 60, "period_seconds": 10, "failure_threshold": 6},
            "mount_path": "/app/static",
        }, medusa_claim, setup, pod={"security_context": {"fs_group": 10001}})
        medusa_service = k.service("medusa", PORT, medusa)

        # Scheduled backups (spec.backup): a CronJob with the backup image (stacks/schedule.py)
        backup_schedule.build(pulumi, spec=spec, settings=ctx.settings, meta=k.meta, opts=k.opts,
                              labels=labels_for(spec.slug, "backup"), placement=k.placement, claim=medusa_claim,
                              dump=SCHEDULED_DUMP, env=scheduled_env(credentials.metadata["name"], DATABASE),
                              scope=k.scope, after=[setup])

        k.ingress("medusa", medusa_service, PORT, medusa_service)
        k.export(namespace, admin_url=spec.url + "/app", admin_user=spec.admin_email,
                 publishable_key=pulumi.Output.secret(secrets["publishable_key"]))

    return build


ENGINE = Engine(
    name="medusa",
    description="Medusa 2 (server + admin dashboard) with PostgreSQL, one namespace per store",
    program=program,
    secret_outputs=("publishable_key",),
    images=IMAGES,
    optional_images=backup_schedule.IMAGES,  # only stores with a backup schedule get it
    tiers=TIERS,
    volumes=(Volume("medusa", "medusa"), Volume("postgres", "postgres")),
    components=("medusa", "postgres"),
    health_components=("medusa", "postgres"),
    log_components=("medusa", "postgres", "medusa-setup"),
    generate_secrets=generate_secrets,
    backup=BACKUP,
    steps=steps(component_step("PostgreSQL", "postgres"), ("Setup", ("kubernetes:batch/v1:Job",)),
                component_step("Medusa", "medusa")),
)
