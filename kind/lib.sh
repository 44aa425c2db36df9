# shellcheck shell=bash
# Shell helpers the kind/ scripts share (sourced; each script defines its own `say`).

wait_for() { # wait_for SECONDS WHAT CMD...: run CMD every second until it succeeds or time is up
  local deadline=$(( $(date +%s) + $1 )) what=$2; shift 2
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then say "timed out waiting for $what"; return 1; fi
    sleep 1
  done
}
