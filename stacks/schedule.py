"""Scheduled backups, for every engine (docs/backups.md): the spec's ``backup: {schedule, keep}``
becomes a CronJob in the store's namespace, with the backup image (kind/images/backup:
mariadb-client, postgresql-client, tar, sha256sum, rclone), writing the same format as
``storekit backup`` to the platform's s3:// location, then removing all but the newest ``keep``
backups of the store.

The engine gives the part of the script that writes ``database.sql.gz`` and ``uploads.tar.gz``
into the working folder (its dump reaches the database over the store's own network: the
NetworkPolicy admits pods of the namespace; its uploads are the volume mounted read-only at
``/site``), and the environment that part needs (the database's credentials from the store's
Secret). Everything around it is one script: the id, the manifest, the upload, the retention.
The S3 credentials come from a Secret of the CronJob's own (rclone's environment configuration).
"""

from __future__ import annotations

import json

# Only stores with a backup schedule get it: the CronJob's image, built from Debian packages by
# kind/images.py (kind/images/backup); production pushes it to its registry under this name.
IMAGES = {"backup": "storekit/backup:1"}

SITE = "/site"  # where the volume of the store's uploads is mounted (read-only)

_HEAD = r"""set -euo pipefail
id="$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
start=$(date +%s)
work=$(mktemp -d)
cd "$work"
"""

_TAIL = r"""part() { printf '"%s": {"sha256": "%s", "size": %s}' "$1" "$(sha256sum "$1" | cut -d' ' -f1)" "$(stat -c %s "$1")"; }
printf '{"format": 1, "id": "%s", "store": "%s", "engine": "%s", "created_at": "%s", "seconds": %s, "url": "%s", "tier": "%s", "images": %s, "scheduled": true, "parts": {%s, %s}}\n' \
  "$id" "$STORE" "$ENGINE" "$created" "$(( $(date +%s) - start ))" "$STORE_URL" "$TIER" "$IMAGES" \
  "$(part database.sql.gz)" "$(part uploads.tar.gz)" > manifest.json
dest="target:$TARGET/$STORE"
for f in database.sql.gz uploads.tar.gz manifest.json; do rclone copyto "$f" "$dest/$id/$f"; done
echo "backup $id: $(stat -c %s database.sql.gz) + $(stat -c %s uploads.tar.gz) bytes"
# Retention: the newest $KEEP backups of the store stay (ids sort by time).
rclone lsf --dirs-only "$dest/" | sed 's#/$##' | grep -E '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$' | sort -r \
  | tail -n +"$((KEEP + 1))" | while read -r old; do rclone purge "$dest/$old"; echo "removed $old"; done
"""

# The backup pod asks little of the store's quota: the store's own pods already hold most of a
# small tier's (a Medusa store's two pods 768Mi of its 1Gi of memory requests), and a dump
# streams. 500m is within every tier's LimitRange maximum.
RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def script(dump: str) -> str:
    """The CronJob's script around the engine's ``dump`` (which writes both parts into the
    working folder)."""
    return _HEAD + dump.rstrip("\n") + "\n" + _TAIL


def target(location: str) -> str:
    """``bucket/prefix`` of an s3:// location."""
    return location[len("s3://"):].strip("/")


def rclone_env(settings) -> dict[str, str]:
    """rclone's remote ``target`` as environment variables (the Secret's data)."""
    return {"RCLONE_CONFIG_TARGET_TYPE": "s3", "RCLONE_CONFIG_TARGET_PROVIDER": "Other",
            "RCLONE_CONFIG_TARGET_ENDPOINT": settings.s3_endpoint or "",
            "RCLONE_CONFIG_TARGET_ACCESS_KEY_ID": settings.s3_access_key or "",
            "RCLONE_CONFIG_TARGET_SECRET_ACCESS_KEY": settings.s3_secret_key or "",
            "RCLONE_CONFIG_TARGET_REGION": settings.s3_region or "us-east-1",
            "RCLONE_CONFIG_TARGET_FORCE_PATH_STYLE": "true", "RCLONE_CONFIG_TARGET_NO_CHECK_BUCKET": "true"}


def cron_job_spec(spec, settings, *, env: list[dict], labels: dict, placement: dict, secret: str,
                  config_map: str, claim) -> dict:
    """The CronJob's spec: the schedule, one run at a time, the backup pod (``env``: what the
    engine's dump needs)."""
    common = [{"name": "STORE", "value": spec.slug}, {"name": "ENGINE", "value": spec.engine},
              {"name": "STORE_URL", "value": spec.url}, {"name": "TIER", "value": spec.tier},
              {"name": "IMAGES", "value": json.dumps(dict(spec.images))},
              {"name": "TARGET", "value": target(settings.backup_location)},
              {"name": "KEEP", "value": str(spec.backup.get("keep", 7))}]
    return {
        "schedule": spec.backup["schedule"],
        "concurrency_policy": "Forbid",
        "successful_jobs_history_limit": 1,
        "failed_jobs_history_limit": 1,
        "job_template": {"spec": {"backoff_limit": 1, "template": {
            "metadata": {"labels": labels},
            "spec": {
                **placement,
                "restart_policy": "Never",
                "automount_service_account_token": False,
                "containers": [{"name": "backup", "image": spec.images["backup"],
                                "command": ["bash", "/scripts/backup.sh"], "env": common + env,
                                "env_from": [{"secret_ref": {"name": secret}}], "resources": RESOURCES,
                                "volume_mounts": [{"name": "site", "mount_path": SITE, "read_only": True},
                                                  {"name": "scripts", "mount_path": "/scripts"}]}],
                "volumes": [{"name": "site", "persistent_volume_claim": {"claim_name": claim, "read_only": True}},
                            {"name": "scripts", "config_map": {"name": config_map}}]}}}},
    }


def build(pulumi, *, spec, settings, meta, opts, labels: dict, placement: dict, claim, dump: str,
          env: list[dict], scope, after):
    """The Secret, the script's ConfigMap and the CronJob, when the spec asks for a schedule:
    ``claim`` is the uploads' volume, ``dump`` and ``env`` the engine's part of the script."""
    from pulumi_kubernetes.batch.v1 import CronJob
    from pulumi_kubernetes.core.v1 import ConfigMap, Secret

    if not spec.backup:
        return None
    secret = Secret("backup-target", metadata=meta("backup-target", "backup"), type="Opaque",
                    string_data={k: pulumi.Output.secret(v) for k, v in rclone_env(settings).items()},
                    opts=opts(*scope))
    config = ConfigMap("backup-script", metadata=meta("backup-script", "backup"), data={"backup.sh": script(dump)},
                       opts=opts(*scope))
    return CronJob("backup-schedule", metadata=meta("backup", "backup"),
                   spec=cron_job_spec(spec, settings, env=env, labels=labels, placement=placement,
                                      secret=secret.metadata["name"], config_map=config.metadata["name"],
                                      claim=claim.metadata["name"]),
                   opts=opts(secret, config, *after))
