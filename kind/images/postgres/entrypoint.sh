#!/bin/bash
# storekit's PostgreSQL entrypoint: the environment contract of the official `postgres` image.
#
# First start on an empty PGDATA: initdb (scram-sha-256 for everyone over the network, trust
# on the local socket), the POSTGRES_USER superuser with POSTGRES_PASSWORD, POSTGRES_DB,
# /docker-entrypoint-initdb.d/*.sql|*.sh, all in a folder beside the data that is moved into
# place only when complete (a start killed halfway starts over). Every start then runs
# postgres in the foreground as PID 1, as the postgres user: SIGINT (the image's stop
# signal) is a fast, clean shutdown. Later starts leave the data and its passwords as they are.
set -euo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# VAR or VAR_FILE (a mounted secret), never both.
read_env() {
  local var=$1 default=${2:-} value=""
  local file_var=${var}_FILE
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then die "set $var or ${var}_FILE, not both"; fi
  if [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}")
  elif [ -n "${!var:-}" ]; then value=${!var}
  else value=$default
  fi
  printf -v "$var" '%s' "$value"
  export "${var?}"
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }
sql_name() { printf '"%s"' "${1//\"/\"\"}"; }

initialise() {
  read_env POSTGRES_PASSWORD
  read_env POSTGRES_USER postgres
  read_env POSTGRES_DB "$POSTGRES_USER"
  [ -n "$POSTGRES_PASSWORD" ] || die "the database is uninitialised and POSTGRES_PASSWORD is not set"
  local work=$PGDATA/.storekit-init
  rm -rf "$work"
  log "initialising $PGDATA"
  initdb -D "$work" -U "$POSTGRES_USER" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  printf '%s\n' "listen_addresses = '*'" "unix_socket_directories = '/var/run/postgresql'" >>"$work/postgresql.conf"
  printf '%s\n' "host all all all scram-sha-256" >>"$work/pg_hba.conf"
  # A server on the private socket only, to set the password and make the database.
  pg_ctl -D "$work" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
  local client=(psql -v ON_ERROR_STOP=1 -X -q -h /var/run/postgresql -U "$POSTGRES_USER" -d postgres)
  "${client[@]}" -c "ALTER USER $(sql_name "$POSTGRES_USER") WITH PASSWORD $(sql_quote "$POSTGRES_PASSWORD")"
  if [ "$POSTGRES_DB" != postgres ]; then
    "${client[@]}" -c "CREATE DATABASE $(sql_name "$POSTGRES_DB")"
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090  # the operator's own init scripts
    case $f in
      *.sql) log "running $f"; "${client[@]}" -d "$POSTGRES_DB" -f "$f" ;;
      *.sh) log "running $f"; . "$f" ;;
      *) [ -e "$f" ] && log "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$work" -m fast -w stop >/dev/null
  local entry
  for entry in "$work"/* "$work"/.[!.]*; do
    if [ -e "$entry" ] && [ "$entry" != "$work/PG_VERSION" ]; then mv -f -T "$entry" "$PGDATA/${entry##*/}"; fi
  done
  mv "$work/PG_VERSION" "$PGDATA/PG_VERSION"  # last: it says "initialised"
  rmdir "$work"
  log "initialised: database '$POSTGRES_DB', user '$POSTGRES_USER'"
}

main() {
  if [ $# = 0 ] || [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
  if [ "$1" != postgres ]; then exec "$@"; fi  # a shell or a client, as asked
  if [ "$(id -u)" = 0 ]; then
    # As root: give the data and socket directories to postgres, then run this script as it.
    install -d -o postgres -g postgres -m 0700 "$PGDATA"
    install -d -o postgres -g postgres -m 0775 /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres {} + 2>/dev/null || true
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
  else
    log "$PGDATA holds a database: starting it as it is"
  fi
  exec "$@"
}

main "$@"
