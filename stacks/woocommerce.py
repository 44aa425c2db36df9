"""The WooCommerce engine: WordPress + WooCommerce + MySQL in the store's own namespace.

Objects, in dependency order (each arrow is a real dependency the engine waits on):

    Namespace -> NetworkPolicy, ResourceQuota, LimitRange   (isolation before any pod)
              -> Secrets (credentials, WordPress salts)
              -> MySQL: PVC -> Deployment (Recreate, probes) -> Service
              -> WordPress: PVC -> Deployment (Recreate, probes) -> Service
              -> WooCommerce setup Job (wp-cli; idempotent when re-run)
              -> Ingress (<slug>.<store domain>, optional cert-manager TLS)

Every object carries ``app.kubernetes.io/managed-by: storekit`` and
``storekit.io/store: <slug>``. Sizes come from the tier; a tier change touches only
container resources, volume sizes, the quota and the limit range. The setup Job's pod
does not depend on the tier, so it is not re-run by a tier change.

Awaits stay on for everything that can become ready (PVC, Deployments, Services, Job).
The Ingress is awaited too unless the platform setting ``await_ingress`` is off (a
cluster without an ingress controller never fills ``status.loadBalancer``).
"""

from __future__ import annotations

import secrets as _secrets
import string

from storekit.engine import Engine, ProgramContext, Volume

from .kube import Objects, Sizes, component_step, steps, tier

IMAGES = {"wordpress": "wordpress:6.8.3-php8.3-apache", "mysql": "mysql:8.4.7", "wpcli": "wordpress:cli-2.12.0-php8.3"}


TIERS = (
    tier("small", {"wordpress": "1Gi", "mysql": "2Gi"},
         Sizes("100m", "500m", "256Mi", "512Mi", "1", "2", "1Gi", "2Gi", "10Gi", max_pvc="5Gi")),
    tier("medium", {"wordpress": "5Gi", "mysql": "10Gi"},
         Sizes("250m", "1", "512Mi", "1Gi", "2", "4", "2Gi", "4Gi", "30Gi", max_pvc="15Gi")),
    tier("large", {"wordpress": "20Gi", "mysql": "40Gi"},
         Sizes("500m", "2", "1Gi", "2Gi", "4", "8", "4Gi", "8Gi", "100Gi", max_pvc="50Gi")),
)

SECRET_NAMES = ("mysql_root_password", "mysql_password", "admin_password") + tuple(
    f"salt_{k}" for k in ("auth_key", "secure_auth_key", "logged_in_key", "nonce_key",
                          "auth_salt", "secure_auth_salt", "logged_in_salt", "nonce_salt"))

_SALT_ALPHABET = string.ascii_letters + string.digits + "!#%*+,-./:;<=>?@[]^_{|}~"


def generate_secrets() -> dict[str, str]:
    """Fresh random values for every secret a store needs (created once per store)."""
    out = {}
    for name in SECRET_NAMES:
        if name.startswith("salt_"):
            out[name] = "".join(_secrets.choice(_SALT_ALPHABET) for _ in range(64))
        else:
            out[name] = _secrets.token_urlsafe(24)
    return out


SETUP_SCRIPT = r"""
set -eu
echo "waiting for the database"
i=0
until wp db check --quiet >/dev/null 2>&1; do
  i=$((i+1)); [ "$i" -gt 60 ] && { echo "database not reachable"; exit 1; }
  sleep 5
done
wp core is-installed || wp core install --url="$STORE_URL" --title="$STORE_NAME" \
  --admin_user="$ADMIN_USER" --admin_password="$ADMIN_PASSWORD" \
  --admin_email="$ADMIN_EMAIL" --skip-email
# Converge the admin password too: a password reset re-runs this Job.
wp user update "$ADMIN_USER" --user_pass="$ADMIN_PASSWORD" --skip-email
wp plugin is-installed woocommerce || wp plugin install woocommerce
wp plugin is-active woocommerce || wp plugin activate woocommerce
if [ "$(wp wc product list --user="$ADMIN_USER" --search='Sample Product' --format=count)" = "0" ]; then
  wp wc product create --user="$ADMIN_USER" --name='Sample Product' --regular_price=19.99 \
    --status=publish
fi
wp option update woocommerce_cod_settings \
  '{"enabled":"yes","title":"Cash on delivery","description":"Pay with cash upon delivery."}' \
  --format=json
echo "store ready"
"""


def program(ctx: ProgramContext):
    spec, secrets = ctx.spec, ctx.secrets
    volumes = ctx.tier.volumes

    def build() -> None:
        k = Objects(ctx)
        namespace = k.namespace()
        guardrails = k.isolation(namespace)  # no pod starts before these exist
        credentials = k.secret("credentials", "store-credentials", {
            "mysql-root-password": secrets["mysql_root_password"],
            "mysql-password": secrets["mysql_password"],
            "admin-password": secrets["admin_password"],
        }, namespace)
        salts = k.secret("salts", "wordpress-salts", {f"WORDPRESS_{name[5:].upper()}": value
                                                      for name, value in secrets.items()
                                                      if name.startswith("salt_")}, namespace)

        def secret_env(var: str, key: str) -> dict:
            return k.secret_env(credentials, var, key)

        # MySQL
        mysql_claim = k.volume_claim("mysql-data", "mysql", volumes["mysql"], *guardrails)
        mysql = k.deployment("mysql", {
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
        mysql_service = k.service("mysql", 3306, mysql)

        # WordPress
        wordpress_env = [
            {"name": "WORDPRESS_DB_HOST", "value": "mysql:3306"},
            {"name": "WORDPRESS_DB_NAME", "value": "wordpress"},
            {"name": "WORDPRESS_DB_USER", "value": "wordpress"},
            secret_env("WORDPRESS_DB_PASSWORD", "mysql-password"),
        ]
        wordpress_claim = k.volume_claim("wordpress-data", "wordpress", volumes["wordpress"], *guardrails)
        wordpress = k.deployment("wordpress", {
            "image": spec.images["wordpress"],
            "ports": [{"container_port": 80, "name": "http"}],
            "env": wordpress_env,
            "env_from": [{"secret_ref": {"name": salts.metadata["name"]}}],
            "readiness_probe": {"http_get": {"path": "/wp-login.php", "port": 80},
                                "initial_delay_seconds": 10, "period_seconds": 5},
            "liveness_probe": {"tcp_socket": {"port": 80},
                               "initial_delay_seconds": 30, "period_seconds": 10},
            "mount_path": "/var/www/html",
        }, wordpress_claim, mysql_service, salts)
        wordpress_service = k.service("wordpress", 80, wordpress)

        # WooCommerce setup (wp-cli against the WordPress volume; idempotent)
        setup = k.setup_job("woocommerce-setup", {
            "name": "wp-cli",
            "image": spec.images["wpcli"],
            "command": ["sh", "-c", SETUP_SCRIPT],
            "env": wordpress_env + [
                {"name": "STORE_URL", "value": spec.url},
                {"name": "STORE_NAME", "value": spec.name},
                {"name": "ADMIN_USER", "value": spec.admin_user},
                {"name": "ADMIN_EMAIL", "value": spec.admin_email},
                secret_env("ADMIN_PASSWORD", "admin-password"),
            ],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"cpu": "500m", "memory": "256Mi"}},
            "volume_mounts": [{"name": "data", "mount_path": "/var/www/html"}],
        }, wordpress_service, pod={
            # Share the node of the WordPress pod: its volume is ReadWriteOnce.
            "affinity": {"pod_affinity": {"required_during_scheduling_ignored_during_execution": [{
                "label_selector": {"match_labels": {"app.kubernetes.io/name": "wordpress"}},
                "topology_key": "kubernetes.io/hostname"}]}},
            "volumes": [{"name": "data", "persistent_volume_claim": {
                "claim_name": wordpress_claim.metadata["name"]}}],
        })

        k.ingress("wordpress", wordpress_service, 80, setup)
        k.export(namespace, admin_url=spec.url + "/wp-admin/", admin_user=spec.admin_user)

    return build


ENGINE = Engine(
    name="woocommerce",
    description="WordPress + WooCommerce + MySQL, one namespace per store",
    program=program,
    images=IMAGES,
    tiers=TIERS,
    volumes=(Volume("wordpress", "wordpress"), Volume("mysql", "mysql")),
    components=("wordpress", "mysql"),
    health_components=("wordpress", "mysql"),
    log_components=("wordpress", "mysql", "woocommerce-setup"),
    generate_secrets=generate_secrets,
    steps=steps(component_step("MySQL", "mysql"), component_step("WordPress", "wordpress"),
                ("WooCommerce setup", ("kubernetes:batch/v1:Job",))),
)
