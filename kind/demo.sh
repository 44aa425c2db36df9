#!/usr/bin/env bash
# make demo: create (or keep) a demo store, show it, say how to open it, then serve the
# dashboard. With the real node running (make node), the store runs for real there
# (STOREKIT_PROFILE=node: images built here, Traefik at the node's address); otherwise it is
# made on the simulated nodes, where nothing answers its pages.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SK=${STOREKIT_BIN:-$ROOT/.venv/bin/storekit}
STORE=${DEMO_STORE:-Demo Shop}
EMAIL=${DEMO_EMAIL:-demo@example.com}
PORT=${DEMO_PORT:-8080}
NODE_IP=10.250.0.2

say() { printf '[demo] %s\n' "$*"; }

real=""
if [ -z "${STOREKIT_PROFILE:-}" ] && "$HERE/node.sh" status >/dev/null 2>&1; then
  real=1
  export STOREKIT_PROFILE=node
  export STOREKIT_TIMEOUT=${STOREKIT_TIMEOUT:-600}
  say "the real node runs: the store runs there (STOREKIT_PROFILE=node); importing its images"
  make -C "$ROOT" --no-print-directory images
elif [ "${STOREKIT_PROFILE:-}" = node ]; then
  real=1
else
  say "no real node (make node): the store is made on the simulated nodes; its pages will not answer"
fi

plan=$(mktemp --suffix=.json)
trap 'rm -f "$plan"' EXIT
"$SK" plan "$STORE" --email "$EMAIL" --out "$plan"
"$SK" apply "$plan"
"$SK" outputs "$STORE"
"$SK" health "$STORE" || true

host=$("$SK" outputs "$STORE" --json | python3 -c 'import json, sys, urllib.parse; print(urllib.parse.urlparse(json.load(sys.stdin)["url"]).netloc)')
if [ -n "$real" ]; then
  cat <<EOT

Open the store (Traefik on the node's address $NODE_IP; the Host header picks the store):
  curl -H 'Host: $host' http://$NODE_IP/
  or add this line to /etc/hosts and open http://$host/ in a browser on this machine:
  $NODE_IP $host
  wp-admin: http://$host/wp-admin/ as $("$SK" outputs "$STORE" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["admin_user"])'), password: storekit outputs "$STORE" --reveal

EOT
fi
say "log in to the dashboard with this token: $("$SK" token create "demo-$(date +%s)" --role admin)"
exec "$SK" serve --port "$PORT"
