"""The WooCommerce engine's setup Job, as data: assets/woocommerce-setup.php (from a
ConfigMap) run by the WordPress image's own PHP on the WordPress volume, as www-data.

No wp-cli image: no registry these machines reach has one, and the official one runs as
another uid than the site's files. The script is idempotent; the pod carries a hash of the
admin password and of the script, so a password reset or a changed script re-runs the Job.
Its outcome line is the pod's termination message ("woocommerce installed: 9.4.1",
"woocommerce not-installed: <reason>", "error: <reason>"), read by ``setup_notice``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SETUP_SCRIPT = Path(__file__).parent.parent / "assets" / "woocommerce-setup.php"
SETUP_DIR = "/opt/storekit"
WWW_DATA = 33  # the uid and gid that own the WordPress volume, in the official image and ours
SOURCE_UNUSABLE = 3  # the script's exit code when the WooCommerce source cannot be used
CONTAINER = "woocommerce-setup"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def setup_notice(message: str) -> str | None:
    """What the setup pod's outcome line means for a person, when they must know it."""
    found = re.match(r"\s*woocommerce not-installed:\s*(.*)", message or "", re.S)
    return f"WooCommerce not installed: {found.group(1).strip()}" if found else None


def setup_job_spec(spec, settings, *, labels: dict, placement: dict, admin_password: str, script: str,
                   env: list, salts, claim, config_map) -> dict:
    """The Job's spec. ``env`` holds the database settings and ADMIN_PASSWORD (from the
    store's Secret); ``salts``, ``claim`` and ``config_map`` name the salts Secret, the
    WordPress volume's claim and the script's ConfigMap (plain names or Pulumi outputs)."""
    return {
        "backoff_limit": 3,
        # An unusable WooCommerce source fails the Job at once: a retry will not help.
        "pod_failure_policy": {"rules": [{"action": "FailJob", "on_exit_codes": {
            "container_name": CONTAINER, "operator": "In", "values": [SOURCE_UNUSABLE]}}]},
        "template": {
            "metadata": {
                "labels": labels,
                # A new admin password or a new script changes these, so the Job runs again.
                "annotations": {"storekit.io/admin-password-revision": _digest(admin_password),
                                "storekit.io/setup-script": _digest(script)},
            },
            "spec": {
                "restart_policy": "Never",
                "automount_service_account_token": False,
                "security_context": {"run_as_user": WWW_DATA, "run_as_group": WWW_DATA, "run_as_non_root": True},
                **placement,
                # Share the node of the WordPress pod: its volume is ReadWriteOnce.
                "affinity": {"pod_affinity": {"required_during_scheduling_ignored_during_execution": [{
                    "label_selector": {"match_labels": {"app.kubernetes.io/name": "wordpress"}},
                    "topology_key": "kubernetes.io/hostname"}]}},
                "containers": [{
                    "name": CONTAINER,
                    "image": spec.images["wordpress"],
                    "command": ["php", f"{SETUP_DIR}/{SETUP_SCRIPT.name}"],
                    "env": env + [
                        {"name": "STORE_URL", "value": spec.url},
                        {"name": "STORE_NAME", "value": spec.name},
                        {"name": "ADMIN_USER", "value": spec.admin_user},
                        {"name": "ADMIN_EMAIL", "value": spec.admin_email},
                        {"name": "WOOCOMMERCE_SOURCE", "value": settings.woocommerce_source},
                        {"name": "WOOCOMMERCE_OPTIONAL", "value": "true" if settings.woocommerce_optional else "false"},
                    ],
                    # wp-config.php reads the salts from the environment, as in WordPress's own pod.
                    "env_from": [{"secret_ref": {"name": salts}}],
                    # WordPress and a plugin's unzip in one PHP process: 256Mi is not enough.
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                  "limits": {"cpu": "500m", "memory": "512Mi"}},
                    "volume_mounts": [{"name": "data", "mount_path": "/var/www/html"},
                                      {"name": "setup", "mount_path": SETUP_DIR, "read_only": True}],
                }],
                "volumes": [{"name": "data", "persistent_volume_claim": {"claim_name": claim}},
                            {"name": "setup", "config_map": {"name": config_map}}],
            },
        },
    }
