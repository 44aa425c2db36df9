"""How a Medusa store is backed up and restored (docs/backups.md): the database with pg_dump
in the PostgreSQL container, the uploads (Medusa's local file provider writes /app/static, the
store's medusa volume) with tar in the Medusa container.

Medusa has no maintenance switch of its own, so the database is the switch: ``stop`` refuses
new connections to the store's database and ends the server's, so nothing writes while the
parts load; the dump is loaded into a database beside it first (a broken dump fails before the
store's database is dropped), which then takes its name; ``start`` lets connections in again
and the engine then replaces the medusa pod (``restart``), so the server starts on the restored
data with empty in-process caches, and the restore waits for it to be ready (its /health probe).

Each script runs with bash and ``set -euo pipefail`` (``storekit.backups.podexec``); the
database password is read from the container's own environment (POSTGRES_PASSWORD).
"""

from __future__ import annotations

from storekit.engine import BackupPart, BackupShape

STATIC = "/app/static"

# psql as the database's owner (the cluster's superuser) over TCP, stopping at the first error.
_PSQL = """\
export PGPASSWORD="$POSTGRES_PASSWORD"
q() { psql -h 127.0.0.1 -U "$POSTGRES_USER" -v ON_ERROR_STOP=1 -q -X "$@"; }
"""

DUMP_DATABASE = """\
export PGPASSWORD="$POSTGRES_PASSWORD"
pg_dump -h 127.0.0.1 -U "$POSTGRES_USER" --no-owner --no-privileges "$POSTGRES_DB" | gzip -c
"""

LOAD_DATABASE = _PSQL + """\
sql=$(mktemp); trap 'rm -f "$sql"' EXIT
gzip -dc > "$sql"
new="${POSTGRES_DB}_restoring"
q -d postgres -v new="$new" <<'SQL'
DROP DATABASE IF EXISTS :"new";
CREATE DATABASE :"new" TEMPLATE template0;
SQL
q -d "$new" -1 -f "$sql" > /dev/null
q -d postgres -v db="$POSTGRES_DB" -v new="$new" <<'SQL'
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
ALTER DATABASE :"new" RENAME TO :"db";
ALTER DATABASE :"db" ALLOW_CONNECTIONS false;
SQL
"""

DUMP_UPLOADS = f"""\
tar --exclude=./lost+found --exclude=./.restoring -C {STATIC} -czf - .
"""

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
