"""The WooCommerce engine: WordPress + WooCommerce + MySQL in the store's own namespace.

This module declares the engine's shape (images, tiers, volumes, components, secrets,
timeline steps); ``program`` beside it builds the store's objects.

The objects, what each of them waits for and why, are described in ``program``.
"""

from __future__ import annotations

import secrets as _secrets
import string

from storekit.engine import Engine, Tier, Volume

from ..kube import Sizes
from ..schedule import IMAGES as SCHEDULE_IMAGES
from .backup import BACKUP
from .setup import setup_notice
from .program import program

IMAGES = {"wordpress": "wordpress:6.8.3-php8.3-apache", "mysql": "mysql:8.4.7"}
# Only stores with a backup schedule get the backup image (stacks/schedule.py).
OPTIONAL_IMAGES = dict(SCHEDULE_IMAGES)
# Their names among the images built here (kind/images.py; STOREKIT_IMAGES=local).
LOCAL_IMAGES = {"mysql": "mariadb"}




def _tier(name: str, volumes: dict, sizes: Sizes) -> Tier:
    """A tier that reserves what its quota's requests allow (the capacity preview reads it)."""
    return Tier(name, volumes, sizes, requests={"cpu": sizes.quota_cpu_requests,
                                                 "memory": sizes.quota_memory_requests,
                                                 "storage": sizes.quota_storage})


TIERS = (
    _tier("small", {"wordpress": "1Gi", "mysql": "2Gi"},
          Sizes("100m", "500m", "256Mi", "512Mi", "1", "2", "1Gi", "2Gi", "10Gi", max_pvc="5Gi")),
    _tier("medium", {"wordpress": "5Gi", "mysql": "10Gi"},
          Sizes("250m", "1", "512Mi", "1Gi", "2", "4", "2Gi", "4Gi", "30Gi", max_pvc="15Gi")),
    _tier("large", {"wordpress": "20Gi", "mysql": "40Gi"},
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


ENGINE = Engine(
    name="woocommerce",
    description="WordPress + WooCommerce + MySQL, one namespace per store",
    program=program,
    images=IMAGES,
    local_images=LOCAL_IMAGES,
    optional_images=OPTIONAL_IMAGES,
    retired_images=("wpcli",),
    tiers=TIERS,
    volumes=(Volume("wordpress", "wordpress"), Volume("mysql", "mysql")),
    components=("wordpress", "mysql"),
    health_components=("wordpress", "mysql"),
    log_components=("wordpress", "mysql", "woocommerce-setup"),
    generate_secrets=generate_secrets,
    setup_component="woocommerce-setup",
    setup_notice=setup_notice,
    backup=BACKUP,
    steps=(
        ("Namespace", ("kubernetes:core/v1:Namespace", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding")),
        ("Isolation", ("kubernetes:networking.k8s.io/v1:NetworkPolicy",
                       "kubernetes:core/v1:ResourceQuota", "kubernetes:core/v1:LimitRange")),
        ("Secrets", ("kubernetes:core/v1:Secret",)),
        ("MySQL", ("mysql", "mysql-data", "mysql-service")),
        ("WordPress", ("wordpress", "wordpress-data", "wordpress-service")),
        ("WooCommerce setup", ("kubernetes:batch/v1:Job", "setup-script")),
        ("Ingress", ("kubernetes:networking.k8s.io/v1:Ingress",)),
    ),
)
