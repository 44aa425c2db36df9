#!/usr/bin/env bash
# The local Kubernetes control plane storekit develops and tests against.
#
# A real etcd, kube-apiserver, kube-controller-manager and kube-scheduler run as local
# processes (kwokctl's binary runtime), all bound to 127.0.0.1. kwok simulates the
# nodes and the kubelet: pods become Running/Ready, pods owned by Jobs complete. What a
# real cluster gets from add-ons comes from kind/simctl.py: a volume provisioner for the
# default StorageClass `standard` and a status writer for the IngressClass `sim`.
#
# Usage: kind/cluster.sh up|down|status
#   up      create (or keep) the cluster, wait for the API and Ready nodes (after a restart: nodes
#           kwok plays again), print usage
#   down    stop every process it started (and the real node's, kind/node.sh); no listener is left behind
#   status  say whether it runs, with nodes; exit 1 when it does not
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STOREKIT_HOME=${STOREKIT_HOME:-$HOME/.storekit}
BIN=$STOREKIT_HOME/tools/bin
NAME=${STOREKIT_CLUSTER_NAME:-storekit}
NODES=${STOREKIT_CLUSTER_NODES:-2}
export KWOK_WORKDIR=$STOREKIT_HOME/kwok
KUBECONFIG_PATH=$STOREKIT_HOME/kubeconfig
SIM_PID=$KWOK_WORKDIR/simctl.pid
SIM_LOG=$KWOK_WORKDIR/simctl.log
PYTHON=${STOREKIT_PYTHON:-$HERE/../.venv/bin/python}
export PATH=$BIN:$PATH

say() { printf '[cluster] %s\n' "$*" >&2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
kc() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }

api_answers() { [ -f "$KUBECONFIG_PATH" ] && kc get --raw /readyz >/dev/null 2>&1; }

exists() { [ -d "$KWOK_WORKDIR/clusters/$NAME" ]; }

# kwokctl reads kind/kwok.yaml only when it creates a cluster: a cluster made from another
# version of it is made again (its stores are lost; it is a development cluster).
CONFIG_STAMP=$KWOK_WORKDIR/clusters/$NAME/storekit-config.sha256
config_sha() { sha256sum "$HERE/kwok.yaml" | cut -d' ' -f1; }
config_current() { [ "$(cat "$CONFIG_STAMP" 2>/dev/null)" = "$(config_sha)" ]; }

sim_running() { [ -f "$SIM_PID" ] && kill -0 "$(cat "$SIM_PID")" 2>/dev/null; }

start_sim() {
  sim_running && return
  nohup "$PYTHON" "$HERE/simctl.py" --kubeconfig "$KUBECONFIG_PATH" >>"$SIM_LOG" 2>&1 &
  echo $! >"$SIM_PID"
}

stop_sim() {
  if sim_running; then kill "$(cat "$SIM_PID")" 2>/dev/null || true; fi
  rm -f "$SIM_PID"
}

nodes_ready() {
  local ready
  ready=$(kc get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True || true)
  [ "$ready" -ge "$NODES" ]
}

# After a restart, "Ready" above is the nodes' status from before it, kept in etcd: the new kwok
# controller plays no simulated node until it holds the node's lease, and a lease its
# predecessor held is taken only once it expires (kwok waits it out: 40 s, kind/kwok.yaml,
# counted from the last renewal before the stop). Pods bound to those nodes meanwhile
# never start, so a first apply right after a restart timed out. A simulated node is played
# when its lease is held by kwok (a holder other than the node's own kubelet, as the real
# node's is) and renewed since this start (RFC 3339 times compare as text).
kwok_plays_nodes() { # kwok_plays_nodes SINCE (UTC, 2026-12-02T01:08:39)
  local played
  played=$(kc get leases -n kube-node-lease \
    -o jsonpath='{range .items[*]}{.metadata.name} {.spec.holderIdentity} {.spec.renewTime}{"\n"}{end}' 2>/dev/null |
    awk -v since="$1" '$1 != $2 && $3 >= since { n++ } END { print n + 0 }')
  [ "$played" -ge "$NODES" ]
}

# kwok serves `kubectl logs` of simulated containers from these files (copied under
# $STOREKIT_HOME so the cluster does not depend on where this checkout lives).
apply_sim_logs() {
  local dir=$KWOK_WORKDIR/sim-logs
  mkdir -p "$dir"
  cp "$HERE"/sim-logs/*.log "$dir/"
  kc apply -f - >/dev/null <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: storekit-simulated-logs
spec:
  logs:
    - containers: [wordpress]
      logsFile: $dir/wordpress.log
    - containers: [mysql]
      logsFile: $dir/mysql.log
    - containers: [woocommerce-setup]
      logsFile: $dir/woocommerce-setup.log
    - containers: [medusa]
      logsFile: $dir/medusa.log
    - containers: [postgres]
      logsFile: $dir/postgres.log
    - containers: [medusa-setup]
      logsFile: $dir/medusa-setup.log
EOF
}

up() {
  "$HERE/tools.sh" --check etcd kube kwok || { say "the toolchain is missing: run 'make tools'"; exit 1; }
  [ -x "$PYTHON" ] || { say "no virtualenv at $PYTHON: run 'make venv'"; exit 1; }
  mkdir -p "$KWOK_WORKDIR"
  local started=""
  if exists && ! config_current; then
    say "cluster '$NAME' was made from another kind/kwok.yaml: making it again (its stores are lost)"
    down
    mkdir -p "$KWOK_WORKDIR"
  fi
  if exists && ! api_answers; then
    # Its processes died (a reboot, a new session): stop what may be left, start it all.
    say "cluster '$NAME' exists but does not answer: restarting it"
    kwokctl stop cluster --name "$NAME" >&2 || true
    started=$(date -u +%Y-%m-%dT%H:%M:%S)
    kwokctl start cluster --name "$NAME" >&2
  elif ! exists; then
    say "creating cluster '$NAME' (kwokctl binary runtime, 127.0.0.1 only)"
    started=$(date -u +%Y-%m-%dT%H:%M:%S)
    kwokctl create cluster --name "$NAME" --runtime binary --config "$HERE/kwok.yaml" \
      --kubeconfig "$KUBECONFIG_PATH" \
      --kube-apiserver-binary "$BIN/kube-apiserver" \
      --kube-controller-manager-binary "$BIN/kube-controller-manager" \
      --kube-scheduler-binary "$BIN/kube-scheduler" \
      --kwok-controller-binary "$BIN/kwok" \
      --etcd-binary "$BIN/etcd" \
      --wait 2m >&2
    config_sha >"$CONFIG_STAMP"
  fi
  # kwokctl writes the kubeconfig it adds to; keep a standalone copy at the fixed path.
  kwokctl get kubeconfig --name "$NAME" >"$KUBECONFIG_PATH.tmp" && mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
  chmod 600 "$KUBECONFIG_PATH"
  wait_for 120 "the API server" api_answers
  local have
  have=$(kc get nodes -o name 2>/dev/null | wc -l)
  if [ "$have" -lt "$NODES" ]; then
    kwokctl scale node --name "$NAME" --replicas "$NODES" >&2
  fi
  kc apply -f "$HERE/local-cluster.yaml" >/dev/null
  apply_sim_logs
  start_sim
  wait_for 120 "$NODES Ready nodes" nodes_ready
  if [ -n "$started" ]; then
    say "waiting for kwok to take over the simulated nodes (their leases from before the restart expire first)"
    wait_for 300 "kwok to play $NODES simulated nodes" kwok_plays_nodes "$started"
  fi
  say "cluster '$NAME' is up with $NODES Ready nodes"
  cat <<EOF
export KUBECONFIG=$KUBECONFIG_PATH
kubectl get nodes
EOF
}

down() {
  # The real node first (kind/node.sh), if it was ever started: it needs the API to leave cleanly.
  if [ -e /run/netns/storekit-node ] || [ -d "$STOREKIT_HOME/node" ]; then "$HERE/node.sh" down; fi
  stop_sim
  if exists; then
    say "deleting cluster '$NAME'"
    kwokctl delete cluster --name "$NAME" >&2
  else
    say "no cluster '$NAME'"
  fi
  rm -f "$KUBECONFIG_PATH"
}

status() {
  if exists && api_answers; then
    say "cluster '$NAME' is running (KUBECONFIG=$KUBECONFIG_PATH)"
    if sim_running; then
      say "simulated controllers: running (pid $(cat "$SIM_PID"))"
    else
      say "simulated controllers: NOT running (run: make cluster)"
    fi
    kc get nodes
  else
    say "cluster '$NAME' is not running (run: make cluster)"
    exit 1
  fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
