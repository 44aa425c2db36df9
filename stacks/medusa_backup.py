"""How a Medusa store is backed up and restored (docs/backups.md): the database with pg_dump
in the PostgreSQL container, the uploads (Medusa's local file provider writes /app/static, the
store's medusa volume) with tar in the Medusa container.

Medusa has no maintenance switch of its own, so the database is the switch: ``stop`` refuses
new connections to the store's database and ends the server's, so nothing writes while the
parts load; the dump is loaded into a database beside it first (a broken dump fails before the
store's database is dropped), which then takes its name; ``start`` lets connections in again
and the engine then replaces the medusa pod (``restart``), so the server starts on the restored
data with empty in-process caches, and the restore waits for it to be ready (its /health probe).

What belongs to the store and not to the backup (its accounts' passwords, its publishable API
key, its name) is carried from the store's database into the loaded one by the load itself,
while the database is closed: no ``converge`` step, which would need the database open (the
setup script that converges them from the Secret needs the whole Medusa app). That is what
makes a restore of another store's backup a clone with its own admin password and storefront
key. No ``rewrite`` either: Medusa stores no URL of its own in the database (the store's URL is
STORE_URL in its pods' environment; the local file provider's file URLs use its default
``http://localhost:9000/static``, not the store's), so a clone links nowhere near its source
(tests/test_medusa_node.py checks that the source's host is nowhere in a dump).

Each script runs with bash and ``set -euo pipefail`` (``storekit.backups.podexec``); the
database password is read from the container's own environment (POSTGRES_PASSWORD).
"""

from __future__ import annotations

from storekit.engine import BackupPart, BackupShape

from .schedule import SITE as SCHEDULED_SITE

STATIC = "/app/static"

# psql as the database's owner (the cluster's superuser) over TCP, stopping at the first error.
_PSQL = """\
export PGPASSWORD="$POSTGRES_PASSWORD" PGOPTIONS="-c client_min_messages=warning"
q() { psql -h 127.0.0.1 -U "$POSTGRES_USER" -v ON_ERROR_STOP=1 -q -X "$@"; }
"""


def _pg_dump(host: str) -> str:
    return f"""\
export PGPASSWORD="$POSTGRES_PASSWORD"
pg_dump -h {host} -U "$POSTGRES_USER" --no-owner --no-privileges "$POSTGRES_DB" | gzip -c"""


def _tar_uploads(folder: str) -> str:
    return f"tar --exclude=./lost+found --exclude=./.restoring -C {folder} -czf - ."


DUMP_DATABASE = _pg_dump("127.0.0.1") + "\n"

# What belongs to the store and not to the backup, read from the store's own database before it
# is dropped and written into the loaded one (by Medusa's own tables): the password of every
# account both have (a clone's admin keeps the clone's password, not the source's; a restore
# never brings back a password changed since the backup), the publishable API key the setup
# manages (the oldest: a clone's storefront keeps its own key, the store's `publishable_key`
# output) and the store's name. Each only when both databases have the table.
_OWN = {
    "provider_identity": """\
SELECT format('UPDATE provider_identity SET provider_metadata = %L::jsonb WHERE provider = %L AND entity_id = %L;',
              provider_metadata::text, provider, entity_id)
  FROM provider_identity WHERE provider = 'emailpass' AND provider_metadata IS NOT NULL AND deleted_at IS NULL;""",
    "api_key": """\
SELECT format('UPDATE api_key SET token = %L, redacted = %L, title = %L WHERE id = (SELECT id FROM api_key '
              'WHERE type = %L AND revoked_at IS NULL AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1) '
              'AND NOT EXISTS (SELECT FROM api_key WHERE token = %L);', token, redacted, title, type, token)
  FROM api_key WHERE type = 'publishable' AND revoked_at IS NULL AND deleted_at IS NULL
 ORDER BY created_at, id LIMIT 1;""",
    "store": """\
SELECT format('UPDATE store SET name = %L WHERE id = (SELECT id FROM store WHERE deleted_at IS NULL '
              'ORDER BY created_at, id LIMIT 1);', name)
  FROM store WHERE deleted_at IS NULL ORDER BY created_at, id LIMIT 1;""",
}

_KEEP_OWN = """\
tables() { q -d "$1" -At <<'SQL'
SELECT t FROM unnest(ARRAY[%s]) t WHERE to_regclass('public.' || t) IS NOT NULL;
SQL
}
both=$(comm -12 <(tables "$old" | sort) <(tables "$new" | sort))
""" % ", ".join(f"'{t}'" for t in _OWN) + "".join(f"""\
if grep -qx {table} <<< "$both"; then q -d "$old" -At >> "$own" <<'SQL'
{select}
SQL
fi
""" for table, select in _OWN.items()) + """\
q -d "$new" -1 -f "$own" > /dev/null
"""

# The dump is loaded into a database beside the store's (a broken dump fails before anything is
# dropped); the store's is then renamed (``_replaced``: the server, which connects by name, cannot
# reach it) and opened to read what belongs to the store, dropped, and the loaded one takes its
# name, closed until ``start``. A load that failed half-way is taken back first.
LOAD_DATABASE = _PSQL + """\
sql=$(mktemp); own=$(mktemp); trap 'rm -f "$sql" "$own"' EXIT
gzip -dc > "$sql"
db="$POSTGRES_DB" new="${POSTGRES_DB}_restoring" old="${POSTGRES_DB}_replaced"
names=(-v db="$db" -v new="$new" -v old="$old")
q -d postgres "${names[@]}" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
       AND EXISTS (SELECT FROM pg_database WHERE datname = :'old') AS back \\gset
\\if :back
ALTER DATABASE :"old" RENAME TO :"db";
\\endif
DROP DATABASE IF EXISTS :"old" WITH (FORCE);
DROP DATABASE IF EXISTS :"new";
CREATE DATABASE :"new" TEMPLATE template0;
SQL
q -d "$new" -1 -f "$sql" > /dev/null
q -d postgres "${names[@]}" > /dev/null <<'SQL'
SELECT EXISTS (SELECT FROM pg_database WHERE datname = :'db') AS present \\gset
\\if :present
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid();
ALTER DATABASE :"db" RENAME TO :"old";
ALTER DATABASE :"old" ALLOW_CONNECTIONS true;
\\endif
SQL
if [ "$(q -d postgres -At -v old="$old" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'old';
SQL
)" = 1 ]; then
""" + _KEEP_OWN + """\
fi
q -d postgres "${names[@]}" <<'SQL'
DROP DATABASE IF EXISTS :"old" WITH (FORCE);
ALTER DATABASE :"new" RENAME TO :"db";
ALTER DATABASE :"db" ALLOW_CONNECTIONS false;
SQL
"""

DUMP_UPLOADS = _tar_uploads(STATIC) + "\n"

# The volume is mounted at /app/static, so its contents are swapped, not the folder.
LOAD_UPLOADS = f"""\
cd {STATIC}
rm -rf .restoring
mkdir .restoring
tar -xzf - -C .restoring --no-same-owner
find . -mindepth 1 -maxdepth 1 ! -name .restoring ! -name lost+found -exec rm -rf {{}} +
find .restoring -mindepth 1 -maxdepth 1 -exec mv -t . {{}} +
rmdir .restoring
"""

# No new connections to the store's database, and the server's ended: its writes fail until start.
STOP = _PSQL + """\
q -d postgres -v db="$POSTGRES_DB" <<'SQL' > /dev/null
ALTER DATABASE :"db" ALLOW_CONNECTIONS false;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid();
SQL
"""

START = _PSQL + """\
q -d postgres -v db="$POSTGRES_DB" <<'SQL'
ALTER DATABASE :"db" ALLOW_CONNECTIONS true;
SQL
"""

BACKUP = BackupShape(
    parts=(BackupPart("database.sql.gz", "postgres", DUMP_DATABASE, LOAD_DATABASE),
           BackupPart("uploads.tar.gz", "medusa", DUMP_UPLOADS, LOAD_UPLOADS)),
    switch="postgres", stop=STOP, start=START, restart=("medusa",))

# The scheduled backup's part (stacks/schedule.py): the same two files, made in the backup pod,
# the database over the store's network (a new pod may wait for the NetworkPolicy to admit it:
# kube-router syncs its sets, so it retries), the uploads from the medusa volume.
SCHEDULED_DUMP = f"""\
for i in $(seq 60); do pg_isready -q -h postgres -U "$POSTGRES_USER" -d "$POSTGRES_DB" && break; sleep 2; done
{_pg_dump("postgres")} > database.sql.gz
{_tar_uploads(SCHEDULED_SITE)} > uploads.tar.gz
"""


def scheduled_env(credentials: str, database: str) -> list[dict]:
    """What SCHEDULED_DUMP reads: the database, its user and password (the store's Secret)."""
    return [{"name": "POSTGRES_USER", "value": database}, {"name": "POSTGRES_DB", "value": database},
            {"name": "POSTGRES_PASSWORD", "value_from": {"secret_key_ref": {
                "name": credentials, "key": "postgres-password"}}}]
