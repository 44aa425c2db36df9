#!/usr/bin/env bash
# On a cold machine, `make test` spends its first 40 minutes in the Go compiler (kind/tools.sh)
# and in the Debian packages, the images (debootstrap, apt) and the Medusa app (npm). This runs
# the second kind in the background while the first builds, so that the suite starts with
# everything built. Measured on a fresh 2-core machine with a fast mirror (2026-12-02), that
# work is mostly CPU too: the Go builds took about as much longer as the background saved.
#
# Usage: kind/prefetch.sh start   start the background work (returns at once; no-op if running)
#        kind/prefetch.sh wait    wait for it; exit 1 with the tail of its log if it failed
#
# The background work: `make packages medusa-app` (every Debian package the tests and the node
# need, in one apt run; the Medusa app from npm), then every image kind/images.py can build
# yet (those needing a tool kind/tools.sh has not built are left to kind/node.sh up). All of it
# is cached by its inputs, so on a warm machine it ends in a few seconds. Its log:
# $STOREKIT_HOME/logs/prefetch.log.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STOREKIT_HOME=${STOREKIT_HOME:-$HOME/.storekit}
LOGS=$STOREKIT_HOME/logs
LOG=$LOGS/prefetch.log
STATUS=$LOGS/prefetch.status
LOCK=$LOGS/prefetch.lock
PYTHON=${STOREKIT_PYTHON:-$HERE/../.venv/bin/python}

say() { printf '[prefetch] %s\n' "$*" >&2; }

work() {
  local started=$SECONDS
  make --no-print-directory -C "$HERE/.." packages medusa-app
  "$PYTHON" "$HERE/images.py" build
  echo "prefetch done in $(( SECONDS - started ))s"
}

start() {
  mkdir -p "$LOGS"
  exec {fd}>"$LOCK"
  if ! flock -n "$fd"; then say "already running (log: $LOG)"; return; fi
  say "packages, images and the Medusa app in the background (log: $LOG)"
  : >"$LOG"
  echo running >"$STATUS"
  # The child keeps the lock (fd inherited) until it ends; `wait` blocks on it.
  ( unset MAKEFLAGS MAKELEVEL MFLAGS
    if work; then echo ok >"$STATUS"; else echo failed >"$STATUS"; fi ) >>"$LOG" 2>&1 </dev/null &
  disown
}

wait_for() {
  [ -f "$STATUS" ] || { say "not started (kind/prefetch.sh start)"; exit 1; }
  exec {fd}>"$LOCK"
  if ! flock -n "$fd"; then
    say "waiting for the background packages and images (log: $LOG)"
    flock "$fd"
  fi
  case $(cat "$STATUS") in
    ok) tail -n 1 "$LOG" | sed 's/^/[prefetch] /' >&2 ;;
    *) say "FAILED; the last lines of $LOG:"; tail -n 20 "$LOG" >&2; exit 1 ;;
  esac
}

case ${1:-} in
  start) start ;;
  wait) wait_for ;;
  *) echo "usage: kind/prefetch.sh start|wait" >&2; exit 2 ;;
esac
