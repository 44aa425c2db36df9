#!/bin/bash
# storekit's MariaDB entrypoint: the environment contract of the official `mysql` image.
#
# First start on an empty /var/lib/mysql: make the system tables, then (on a server that
# listens on a private socket only) set the root password, create MYSQL_DATABASE and
# MYSQL_USER with MYSQL_PASSWORD and all rights on that database, run
# /docker-entrypoint-initdb.d/*.sql|*.sh, and stop that server cleanly. Every start then
# runs mariadbd in the foreground as PID 1, as the mysql user: it answers SIGTERM by
# shutting down cleanly. Later starts find the data and leave it as it is; the
# environment's passwords are not re-applied (as in the official image).
set -euo pipefail

DATADIR=/var/lib/mysql
SOCKET_DIR=/run/mysqld

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# VAR or VAR_FILE (a mounted secret), never both; MARIADB_* names are accepted too.
read_env() {
  local var=$1 alt=MARIADB_${1#MYSQL_} value=""
  local file_var=${var}_FILE
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then die "set $var or ${var}_FILE, not both"; fi
  if [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}")
  elif [ -n "${!var:-}" ]; then value=${!var}
  elif [ -n "${!alt:-}" ]; then value=${!alt}
  fi
  printf -v "$var" '%s' "$value"
  export "${var?}"
}

# A value inside single quotes in SQL.
sql_quote() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }
# A name inside backquotes.
# shellcheck disable=SC2016  # the backquotes are SQL's, not the shell's
sql_name() { printf '`%s`' "${1//\`/\`\`}"; }

initialise() {
  read_env MYSQL_ROOT_PASSWORD
  read_env MYSQL_DATABASE
  read_env MYSQL_USER
  read_env MYSQL_PASSWORD
  local allow_empty=${MYSQL_ALLOW_EMPTY_PASSWORD:-${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}}
  local random_root=${MYSQL_RANDOM_ROOT_PASSWORD:-${MARIADB_RANDOM_ROOT_PASSWORD:-}}
  if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$allow_empty" ] && [ -z "$random_root" ]; then
    die "the database is uninitialised and MYSQL_ROOT_PASSWORD is not set (or MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD)"
  fi
  if [ "$MYSQL_USER" = root ]; then die "MYSQL_USER=root: root is created already, choose another user"; fi
  if [ -n "$MYSQL_USER" ] && [ -z "$MYSQL_PASSWORD" ]; then die "MYSQL_USER is set but MYSQL_PASSWORD is not"; fi
  if [ -n "$random_root" ]; then
    MYSQL_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi

  # Everything is made in a folder beside the data, and moved into place (the mysql folder,
  # which says "initialised", last) only when complete: a container killed halfway (a
  # liveness probe, a node going away) starts over on its next start instead of finding a
  # half-made database.
  local work=$DATADIR/.storekit-init
  rm -rf "$work"
  mkdir "$work"
  log "initialising $DATADIR"
  mariadb-install-db --datadir="$work" --skip-test-db --auth-root-authentication-method=normal \
    --skip-name-resolve --default-time-zone=SYSTEM --skip-log-bin >/dev/null

  local init_socket=$SOCKET_DIR/init.sock
  mariadbd --datadir="$work" --skip-networking --socket="$init_socket" --skip-log-bin &
  local pid=$!
  local client=(mariadb --protocol=socket --socket="$init_socket" -uroot)
  local i
  for i in $(seq 60); do
    if "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1; then break; fi
    kill -0 "$pid" 2>/dev/null || die "the server stopped while initialising (see above)"
    [ "$i" = 60 ] && die "the server did not answer within 30 s while initialising"
    sleep 0.5
  done

  local root_pw sql
  root_pw=$(sql_quote "$MYSQL_ROOT_PASSWORD")
  sql="SET @@SESSION.SQL_LOG_BIN=0;
DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));
DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost');
CREATE USER 'root'@'%' IDENTIFIED BY $root_pw;
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY $root_pw;"
  if [ -n "$MYSQL_DATABASE" ]; then
    sql+="
CREATE DATABASE IF NOT EXISTS $(sql_name "$MYSQL_DATABASE");"
  fi
  if [ -n "$MYSQL_USER" ]; then
    sql+="
CREATE USER $(sql_quote "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_quote "$MYSQL_PASSWORD");"
    if [ -n "$MYSQL_DATABASE" ]; then
      sql+="
GRANT ALL ON $(sql_name "$MYSQL_DATABASE").* TO $(sql_quote "$MYSQL_USER")@'%';"
    fi
  fi
  sql+="
FLUSH PRIVILEGES;"
  "${client[@]}" <<<"$sql" || die "setting up users and the database failed"

  local f
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck disable=SC1090  # the operator's own init scripts
    case $f in
      *.sql) log "running $f"; "${client[@]}" --password="$MYSQL_ROOT_PASSWORD" ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" ;;
      *.sh) log "running $f"; . "$f" ;;
      *) [ -e "$f" ] && log "ignoring $f" ;;
    esac
  done

  kill -TERM "$pid"
  wait "$pid" || die "the initialising server did not stop cleanly"
  local entry
  for entry in "$work"/* "$work"/.[!.]*; do
    if [ -e "$entry" ] && [ "$entry" != "$work/mysql" ]; then mv -f -T "$entry" "$DATADIR/${entry##*/}"; fi
  done
  mv "$work/mysql" "$DATADIR/mysql"
  rmdir "$work"
  log "initialised: database '${MYSQL_DATABASE:-}', user '${MYSQL_USER:-}'"
}

main() {
  if [ $# = 0 ] || [ "${1#-}" != "$1" ]; then set -- mariadbd "$@"; fi
  case $1 in
    mariadbd|mysqld) ;;
    *) exec "$@" ;;  # a shell or a client, as asked
  esac
  if [ "$(id -u)" = 0 ]; then
    # As root: give the data and socket directories to mysql, then run this script as mysql.
    install -d -o mysql -g mysql -m 0755 "$SOCKET_DIR"
    find "$DATADIR" \! -user mysql -exec chown mysql:mysql {} + 2>/dev/null || true
    exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
  fi
  local arg
  for arg in "$@"; do  # the server only prints something: nothing to initialise
    case $arg in --help|--version|-V) exec "$@" ;; esac
  done
  if [ ! -d "$DATADIR/mysql" ]; then
    initialise
  else
    log "$DATADIR holds a database: starting it as it is"
  fi
  exec "$@"
}

main "$@"
