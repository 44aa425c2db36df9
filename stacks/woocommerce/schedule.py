"""Scheduled backups of a WooCommerce store (docs/backups.md): the spec's
``backup: {schedule, keep}`` becomes a CronJob in the store's namespace, with the backup image
(kind/images/backup: mariadb-client, tar, sha256sum, rclone), writing the same format as
``storekit backup`` to the platform's s3:// location, then removing all but the newest
``keep`` backups of the store.

The job dumps the database over the store's own network (the NetworkPolicy admits pods of the
namespace), reads the uploads from the WordPress volume mounted read-only, and gets the S3
credentials from a Secret of its own (rclone's environment configuration).
"""

from __future__ import annotations

import json

SCRIPT = r"""set -euo pipefail
id="$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
start=$(date +%s)
work=$(mktemp -d)
cd "$work"
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
# A new pod may wait for the network policy to admit it (kube-router syncs its sets): retry.
for i in $(seq 60); do mariadb -h mysql -uroot -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 2; done
mariadb-dump -h mysql -uroot --single-transaction --quick --routines \
  --triggers --events "$MYSQL_DATABASE" | gzip -c > database.sql.gz
if [ -d /site/wp-content/uploads ]; then tar -C /site/wp-content -czf uploads.tar.gz uploads
else mkdir -p empty/uploads; tar -C empty -czf uploads.tar.gz uploads; fi
part() { printf '"%s": {"sha256": "%s", "size": %s}' "$1" "$(sha256sum "$1" | cut -d' ' -f1)" "$(stat -c %s "$1")"; }
printf '{"format": 1, "id": "%s", "store": "%s", "engine": "woocommerce", "created_at": "%s", "seconds": %s, "url": "%s", "tier": "%s", "images": %s, "scheduled": true, "parts": {%s, %s}}\n' \
  "$id" "$STORE" "$created" "$(( $(date +%s) - start ))" "$STORE_URL" "$TIER" "$IMAGES" \
  "$(part database.sql.gz)" "$(part uploads.tar.gz)" > manifest.json
dest="target:$TARGET/$STORE"
for f in database.sql.gz uploads.tar.gz manifest.json; do rclone copyto "$f" "$dest/$id/$f"; done
echo "backup $id: $(stat -c %s database.sql.gz) + $(stat -c %s uploads.tar.gz) bytes"
# Retention: the newest $KEEP backups of the store stay (ids sort by time).
rclone lsf --dirs-only "$dest/" | sed 's#/$##' | grep -E '^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{4}$' | sort -r \
  | tail -n +"$((KEEP + 1))" | while read -r old; do rclone purge "$dest/$old"; echo "removed $old"; done
"""


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


def cron_job_spec(spec, settings, *, labels: dict, placement: dict, secret: str, config_map: str,
                  claim, credentials: str) -> dict:
    """The CronJob's spec: the schedule, one run at a time, the backup pod."""
    env = [{"name": "STORE", "value": spec.slug}, {"name": "STORE_URL", "value": spec.url},
           {"name": "TIER", "value": spec.tier}, {"name": "IMAGES", "value": json.dumps(dict(spec.images))},
           {"name": "TARGET", "value": target(settings.backup_location)},
           {"name": "KEEP", "value": str(spec.backup.get("keep", 7))},
           {"name": "MYSQL_DATABASE", "value": "wordpress"},
           {"name": "MYSQL_ROOT_PASSWORD", "value_from": {"secret_key_ref": {
               "name": credentials, "key": "mysql-root-password"}}}]
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
                                "command": ["bash", "/scripts/backup.sh"], "env": env,
                                "env_from": [{"secret_ref": {"name": secret}}],
                                "volume_mounts": [{"name": "site", "mount_path": "/site", "read_only": True},
                                                  {"name": "scripts", "mount_path": "/scripts"}]}],
                "volumes": [{"name": "site", "persistent_volume_claim": {"claim_name": claim, "read_only": True}},
                            {"name": "scripts", "config_map": {"name": config_map}}]}}}},
    }


def build(pulumi, *, spec, settings, meta, opts, labels: dict, placement: dict, claim, credentials, scope, after):
    """The Secret, the script's ConfigMap and the CronJob, when the spec asks for a schedule."""
    from pulumi_kubernetes.batch.v1 import CronJob
    from pulumi_kubernetes.core.v1 import ConfigMap, Secret

    if not spec.backup:
        return None
    secret = Secret("backup-target", metadata=meta("backup-target", "backup"), type="Opaque",
                    string_data={k: pulumi.Output.secret(v) for k, v in rclone_env(settings).items()},
                    opts=opts(*scope))
    script = ConfigMap("backup-script", metadata=meta("backup-script", "backup"), data={"backup.sh": SCRIPT},
                       opts=opts(*scope))
    return CronJob("backup-schedule", metadata=meta("backup", "backup"),
                   spec=cron_job_spec(spec, settings, labels=labels, placement=placement,
                                      secret=secret.metadata["name"], config_map=script.metadata["name"],
                                      claim=claim.metadata["name"], credentials=credentials.metadata["name"]),
                   opts=opts(secret, script, *after))
