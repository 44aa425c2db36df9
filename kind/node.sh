#!/usr/bin/env bash
# The real node: pods that really run, beside the simulated nodes of the local control plane.
#
# kubelet, kube-proxy and containerd (built by kind/tools.sh from Go modules), runc and the CNI
# plugins (Debian packages) run as host processes, contained so that `down` can remove all of it:
#   network  the network namespace `storekit-node`, joined to the host by one veth pair
#            (host storekit0 10.250.0.1/30, node eth0 10.250.0.2/30). Pods get 10.244.0.0/24
#            on the bridge cni0 inside it. The namespace has no default route and nothing is
#            masqueraded out of the host: pod traffic stays on this machine. The host routes the
#            pod and service ranges to 10.250.0.2 (tests and the API server reach them there).
#   API      the control plane listens on the host's loopback; kind/node/apiproxy.py listens on
#            127.0.0.1:6443 and 10.250.0.2:6443 inside the namespace and forwards to it.
#   mounts   containerd and kubelet share a private mount namespace (/ rshared inside it), so
#            container and volume mounts never appear on the host and vanish with the processes.
#            kubelet sees its wanted kernel.panic* / vm.overcommit_memory values there and so
#            never changes the host's.
#   cgroups  every process of the node (daemons, shims, containers) lives under the cgroup
#            `storekit-node` (kubelet's cgroupRoot), so `down` finds and stops all of them.
#   rules    iptables rules live in the namespace only (kube-proxy, kube-router, portmap, ours),
#            and disappear with it.
# Add-ons (kind/node/addons.yaml): CoreDNS (cluster names only, forwards nowhere), Traefik
# (IngressClass traefik, http://10.250.0.2:80 via hostPort), metrics-server; kube-router enforces
# NetworkPolicy; StorageClass node-local provisions directories under $STOREKIT_HOME/node/volumes
# (kind/node/volumes.py) and grows their claims (kind/node/resizer.py).
# The node is `storekit-node`, labelled and tainted storekit.io/node-pool=real (NoSchedule).
#
# Usage: kind/node.sh up|down|status
#   up      start the node (kept if running), its add-ons, wait until it is Ready
#   down    stop every process, remove the namespace, interfaces, routes, cgroups, mounts, the
#           Node object and the node's files ($STOREKIT_HOME/node)
#   status  say whether it runs; exit 1 when it does not
#   render OUT  write the files `up` would write into OUT (no root, no cluster; for review, tests)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STOREKIT_HOME=${STOREKIT_HOME:-$HOME/.storekit}
BIN=$STOREKIT_HOME/tools/bin
KUBECONFIG_PATH=$STOREKIT_HOME/kubeconfig
PYTHON=${STOREKIT_PYTHON:-$HERE/../.venv/bin/python}

# ---- the contract other work relies on (README "The real node") ----------------------------
NODE_NAME=storekit-node
NETNS=storekit-node
HOST_IF=storekit0
HOST_IP=10.250.0.1
NODE_IP=10.250.0.2
LINK_PREFIX=30
POD_CIDR=10.244.0.0/24
POOL_LABEL=storekit.io/node-pool
POOL=real
API_PORT=6443  # the API server as seen from inside the namespace
LEASE_SECONDS=120  # kubelet's node lease (renewed every 30 s); see hold_lease

DIR=$STOREKIT_HOME/node
RUN=$DIR/run
SOCK=$RUN/containerd/containerd.sock
LOGS=$DIR/logs
PIDS=$RUN/pids
CGROUP=storekit-node
CNI_BIN=${STOREKIT_CNI_BIN:-/usr/lib/cni}
RUNC=${STOREKIT_RUNC:-/usr/sbin/runc}  # the real runc, behind kind/node/runc.sh (oom_score_adj)
export PATH=$BIN:$PATH

say() { printf '[node] %s\n' "$*" >&2; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"
die() { say "$*"; exit 1; }
kc() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }
in_ns() { nsenter --net="/run/netns/$NETNS" -- "$@"; }

running() { # running NAME: its pid file names a live process
  local pid
  pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# ---- preconditions -----------------------------------------------------------------------

need_packages() { # Debian packages: the CNI plugins, runc, ipset and conntrack (kube-router, kube-proxy)
  local missing=() p
  [ -x "$CNI_BIN/bridge" ] || missing+=(containernetworking-plugins)
  [ -x "$RUNC" ] || missing+=(runc)
  command -v ipset >/dev/null || missing+=(ipset)
  command -v conntrack >/dev/null || missing+=(conntrack)
  command -v iptables >/dev/null || missing+=(iptables)
  [ ${#missing[@]} -eq 0 ] && return
  say "installing Debian's ${missing[*]}"
  local apt=(apt-get -q -o DPkg::Lock::Timeout=600)  # make packages may be running (kind/prefetch.sh)
  "${apt[@]}" update >&2 && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y "${missing[@]}" >&2
  for p in bridge host-local loopback portmap; do
    [ -x "$CNI_BIN/$p" ] || die "the CNI plugin $p is missing from $CNI_BIN"
  done
}

preflight() {
  [ "$(id -u)" = 0 ] || die "the real node needs root (network namespace, mounts, cgroups)"
  "$HERE/tools.sh" --check node >/dev/null 2>&1 || die "the node's tools are missing: run 'make node-tools'"
  if ! { [ -f "$KUBECONFIG_PATH" ] && kc get --raw /readyz >/dev/null 2>&1; }; then
    die "the local control plane does not answer: run 'make cluster' first"
  fi
  [ -x "$PYTHON" ] || die "no virtualenv at $PYTHON: run 'make venv'"
  need_packages
}

# ---- network ------------------------------------------------------------------------------

service_cidr() { # the control plane's service range (the ServiceCIDR object, else the apiserver default)
  local cidr
  cidr=$(kc get servicecidrs.networking.k8s.io kubernetes -o jsonpath='{.spec.cidrs[0]}' 2>/dev/null || true)
  echo "${cidr:-10.0.0.0/24}"
}

network_up() {
  local svc=$1
  if [ ! -e "/run/netns/$NETNS" ]; then
    # `ip netns add` bind-mounts /run/netns onto itself the first time: remember to undo it.
    findmnt -n /run/netns >/dev/null 2>&1 || : >"$RUN/made-run-netns-mount"
    ip netns add "$NETNS"
  fi
  if ! ip link show "$HOST_IF" >/dev/null 2>&1; then
    ip link add "$HOST_IF" type veth peer name eth0 netns "$NETNS"
  fi
  ip addr replace "$HOST_IP/$LINK_PREFIX" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  in_ns ip link set lo up
  in_ns ip addr replace "$NODE_IP/$LINK_PREFIX" dev eth0
  in_ns ip link set eth0 up
  # Inside only: forwarding between the pod bridge and eth0, bridged pod traffic through
  # iptables (Services and NetworkPolicy between pods on the bridge).
  in_ns sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  # The host reaches pods and Services through the node (no default route the other way).
  ip route replace "$POD_CIDR" via "$NODE_IP" dev "$HOST_IF"
  ip route replace "$svc" via "$NODE_IP" dev "$HOST_IF"
  # Pods may not open connections to the host (replies to the host's own connections pass),
  # nor reach the kubelet's API (it trusts the node's own addresses only; see kubelet.yaml).
  in_ns iptables -t mangle -N STOREKIT-NODE 2>/dev/null || in_ns iptables -t mangle -F STOREKIT-NODE
  in_ns iptables -t mangle -A STOREKIT-NODE -i cni0 -o eth0 -m conntrack --ctstate NEW -j DROP
  in_ns iptables -t mangle -C FORWARD -j STOREKIT-NODE 2>/dev/null || in_ns iptables -t mangle -I FORWARD -j STOREKIT-NODE
  in_ns iptables -t raw -N STOREKIT-NODE 2>/dev/null || in_ns iptables -t raw -F STOREKIT-NODE
  in_ns iptables -t raw -A STOREKIT-NODE -i cni0 -p tcp --dport 10250 -j DROP
  in_ns iptables -t raw -C PREROUTING -j STOREKIT-NODE 2>/dev/null || in_ns iptables -t raw -I PREROUTING -j STOREKIT-NODE
}

# ---- files --------------------------------------------------------------------------------

render_file() { # render_file TEMPLATE OUT: replace @NAME@ placeholders with the values below
  local pause coredns traefik metrics
  pause=$(image pause); coredns=$(image coredns); traefik=$(image traefik); metrics=$(image metrics-server)
  sed -e "s#@DIR@#$DIR#g" -e "s#@SOCK@#$SOCK#g" -e "s#@NODE_NAME@#$NODE_NAME#g" \
      -e "s#@NODE_IP@#$NODE_IP#g" -e "s#@POD_CIDR@#$POD_CIDR#g" -e "s#@CGROUP@#$CGROUP#g" \
      -e "s#@CLUSTER_DNS@#${CLUSTER_DNS:-}#g" -e "s#@SERVICE_CIDR@#${SERVICE_CIDR:-}#g" \
      -e "s#@CNI_BIN@#$CNI_BIN#g" -e "s#@RUNC@#$HERE/node/runc.sh#g" -e "s#@PAUSE_IMAGE@#$pause#g" \
      -e "s#@POOL_LABEL@#$POOL_LABEL#g" -e "s#@POOL@#$POOL#g" -e "s#@API_PORT@#$API_PORT#g" \
      -e "s#@COREDNS_IMAGE@#$coredns#g" -e "s#@TRAEFIK_IMAGE@#$traefik#g" \
      -e "s#@METRICS_SERVER_IMAGE@#$metrics#g" "$1" >"$2"
  if grep -q '@[A-Z_]*@' "$2"; then die "$1: unknown placeholder $(grep -o '@[A-Z_]*@' "$2" | head -1)"; fi
}

image() { # image NAME: its reference from kind/images.py's index
  "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$STOREKIT_HOME/images/index.json" "$1" 2>/dev/null || die "image $1 is not built: run 'make images'"
}

build_images() { # the node's images (cached by their inputs: a second run costs a second)
  "$PYTHON" "$HERE/images.py" build pause coredns traefik metrics-server busybox >&2 \
    || die "building the node's images failed (kind/images.py)"
}

write_files() {
  mkdir -p "$RUN/containerd" "$PIDS" "$LOGS" "$DIR/etc" "$DIR/kubelet" "$DIR/containerd" \
    "$DIR/cni/net.d" "$DIR/cni/ipam" "$DIR/volumes" "$DIR/sysctl"
  render_file "$HERE/node/containerd.toml" "$DIR/etc/containerd.toml"
  render_file "$HERE/node/kube-proxy.yaml" "$DIR/etc/kube-proxy.yaml"
  render_file "$HERE/node/cni.conflist" "$DIR/cni/net.d/10-storekit.conflist"
  render_file "$HERE/node/addons.yaml" "$DIR/etc/addons.yaml"
  render_file "$HERE/node/pod-network.kubeconfig" "$DIR/etc/pod-network.kubeconfig"
  render_file "$HERE/node/host-network.kubeconfig" "$DIR/etc/host-network.kubeconfig"
  # The node's daemons use the admin credentials, through the forwarder inside the namespace.
  kc config view --raw --minify --flatten \
    | sed "s#^\([[:space:]]*server:\).*#\1 https://127.0.0.1:$API_PORT#" >"$DIR/etc/kubeconfig"
  chmod 600 "$DIR/etc/kubeconfig"
  # What kubelet reads in its mount namespace instead of the host's values (it would set these).
  echo 10 >"$DIR/sysctl/panic"; echo 1 >"$DIR/sysctl/panic_on_oops"; echo 1 >"$DIR/sysctl/overcommit_memory"
}

apply_addons() { # before kubelet starts: its pods wait for the node; the DNS Service's address is known
  local ns
  for ns in kube-system traefik; do
    kc create configmap storekit-node-api -n "$ns" \
      --from-file=pod-network="$DIR/etc/pod-network.kubeconfig" \
      --from-file=host-network="$DIR/etc/host-network.kubeconfig" \
      --dry-run=client -o yaml | kc apply -f - >/dev/null
  done
  kc apply -f "$DIR/etc/addons.yaml" >/dev/null
  CLUSTER_DNS=$(kc get service kube-dns -n kube-system -o jsonpath='{.spec.clusterIP}')
  [ -n "$CLUSTER_DNS" ] || die "the Service kube-system/kube-dns has no cluster IP"
  render_file "$HERE/node/kubelet.yaml" "$DIR/etc/kubelet.yaml"
}

# ---- processes ----------------------------------------------------------------------------

cgroup_setup() { # the cgroup storekit-node in every v1 hierarchy, name=systemd too (kubelet's cgroupRoot)
  local h
  for h in /sys/fs/cgroup/*/; do
    case $h in */unified/) continue ;; esac
    mkdir -p "$h$CGROUP/daemons"
  done
  if [ -f "/sys/fs/cgroup/cpuset/$CGROUP/cpuset.cpus" ]; then
    local c
    for c in cpus mems; do
      cat "/sys/fs/cgroup/cpuset/cpuset.$c" >"/sys/fs/cgroup/cpuset/$CGROUP/cpuset.$c"
      cat "/sys/fs/cgroup/cpuset/cpuset.$c" >"/sys/fs/cgroup/cpuset/$CGROUP/daemons/cpuset.$c"
    done
  fi
}

# start NAME CMD...: run CMD in the background under the node's cgroup, log and pid file.
start() {
  local name=$1; shift
  running "$name" && return
  # shellcheck disable=SC2016
  setsid bash -c 'for h in /sys/fs/cgroup/*/"$0"/daemons; do echo $$ >"$h/cgroup.procs"; done; exec "$@"' \
    "$CGROUP" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

# The fixed paths kind/node/mountns.sh covers with a tmpfs (shim sockets, CNI's result cache):
# made on the host if missing, and removed again by down.
MOUNTPOINTS=(/run/containerd /var/lib/cni)

start_containerd() {
  local d
  for d in "${MOUNTPOINTS[@]}"; do
    if [ ! -d "$d" ]; then mkdir -p "$d"; echo "$d" >>"$RUN/made-dirs"; fi
  done
  start containerd env STOREKIT_RUNC_BINARY="$RUNC" \
    nsenter --net="/run/netns/$NETNS" -- unshare --mount --propagation unchanged -- \
    "$HERE/node/mountns.sh" "$DIR" "$BIN/containerd" --config "$DIR/etc/containerd.toml"
  wait_for 60 "containerd's socket" ctr_ok
}

ctr_ok() { "$BIN/ctr" --address "$SOCK" version >/dev/null 2>&1; }

mountns_of_containerd() { # the pid whose mount namespace kubelet joins (containerd itself)
  local pid
  pid=$(cat "$PIDS/containerd.pid")
  # bash -> env -> nsenter -> unshare -> mountns.sh -> containerd, each exec'ing the next: one pid.
  echo "$pid"
}

# The control plane's kwok controller runs with --manage-all-nodes: it takes the lease of every
# node it sees and then plays its kubelet. A lease already held by storekit-node (and renewed by
# the kubelet within its duration) is one it leaves alone, so the lease is made before the kubelet
# registers the node. (kubelet renews a lease without changing its holder.)
hold_lease() {
  kc apply -f - >/dev/null <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $NODE_NAME
  namespace: kube-node-lease
spec:
  holderIdentity: $NODE_NAME
  leaseDurationSeconds: $LEASE_SECONDS
  renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
EOF
}

lease_holder() { kc get lease -n kube-node-lease "$NODE_NAME" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true; }

# The API server reaches kubelets by the node's Hostname address first: it resolves the name
# from the host's /etc/hosts (one marked line, removed by down).
HOSTS_LINE="$NODE_IP $NODE_NAME # storekit-node (kind/node.sh)"
hosts_add() { grep -qxF "$HOSTS_LINE" /etc/hosts || echo "$HOSTS_LINE" >>/etc/hosts; }
hosts_remove() {
  if grep -qxF "$HOSTS_LINE" /etc/hosts; then
    # in place (the file may be a bind mount): keep every other line as it is
    local kept; kept=$(grep -vxF "$HOSTS_LINE" /etc/hosts)
    printf '%s\n' "$kept" >/etc/hosts
  fi
}

start_kubelet() {
  running kubelet && return
  local holder; holder=$(lease_holder)
  if [ -n "$holder" ] && [ "$holder" != "$NODE_NAME" ]; then
    die "the lease kube-node-lease/$NODE_NAME is held by $holder (kwok?): run kind/node.sh down first"
  fi
  hold_lease
  hosts_add
  local pid; pid=$(mountns_of_containerd)
  start kubelet nsenter --mount="/proc/$pid/ns/mnt" --net="/run/netns/$NETNS" -- \
    "$BIN/kubelet" --config "$DIR/etc/kubelet.yaml" --kubeconfig "$DIR/etc/kubeconfig" --root-dir "$DIR/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "$POOL_LABEL=$POOL" --v 1
}

node_ready() {
  [ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

import_images() {
  "$PYTHON" "$HERE/images.py" import --address "$SOCK" --ctr "$BIN/ctr" >&2
}

addons_ready() {
  local want=$1
  [ "$(kc get pods -A --field-selector "spec.nodeName=$NODE_NAME,status.phase=Running" \
        -l storekit.io/node-addon -o name 2>/dev/null | wc -l)" -ge "$want" ]
}

up() {
  preflight
  mkdir -p "$RUN" "$PIDS" "$LOGS"
  local started; started=$(date +%s)
  SERVICE_CIDR=$(service_cidr)
  say "network namespace $NETNS: $HOST_IF $HOST_IP <-> eth0 $NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR"
  network_up "$SERVICE_CIDR"
  say "images (kind/images.py), files under $DIR, add-ons"
  build_images
  write_files
  apply_addons
  cgroup_setup
  local upstream
  upstream=$(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  upstream=${upstream#https://}
  start apiproxy python3 "$HERE/node/apiproxy.py" --netns "/run/netns/$NETNS" \
    --listen "127.0.0.1:$API_PORT" --listen "$NODE_IP:$API_PORT" --upstream "$upstream"
  start_containerd
  import_images
  start_kubelet
  wait_for 120 "node $NODE_NAME Ready" node_ready || { tail -n 20 "$LOGS/kubelet.log" >&2; exit 1; }
  # The control plane allocates no pod ranges (no IPAM controller): give the node its own, as
  # its CNI configuration has it (kube-router and kube-proxy read it from the Node).
  if [ -z "$(kc get node "$NODE_NAME" -o jsonpath='{.spec.podCIDR}')" ]; then
    kc patch node "$NODE_NAME" --type merge -p "{\"spec\":{\"podCIDR\":\"$POD_CIDR\",\"podCIDRs\":[\"$POD_CIDR\"]}}" >/dev/null
  fi
  start kube-proxy nsenter --net="/run/netns/$NETNS" -- "$BIN/kube-proxy" --config "$DIR/etc/kube-proxy.yaml"
  start kube-router nsenter --net="/run/netns/$NETNS" -- "$BIN/kube-router" \
    --kubeconfig "$DIR/etc/kubeconfig" --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --enable-ipv6=false --service-cluster-ip-range "$SERVICE_CIDR" --metrics-port 0 --health-port 20244
  start volumes "$PYTHON" "$HERE/node/volumes.py" --kubeconfig "$KUBECONFIG_PATH" --root "$DIR/volumes" \
    --node "$NODE_NAME"
  start resizer "$PYTHON" "$HERE/node/resizer.py" --kubeconfig "$KUBECONFIG_PATH"
  wait_for 180 "the node's add-ons (CoreDNS, Traefik, metrics-server) Running" addons_ready 3 \
    || { kc get pods -A -o wide --field-selector "spec.nodeName=$NODE_NAME" >&2; exit 1; }
  say "node $NODE_NAME is Ready with its add-ons in $(( $(date +%s) - started ))s"
  cat <<EOF
# pods on it need: nodeSelector $POOL_LABEL=$POOL and a toleration of the taint $POOL_LABEL=$POOL:NoSchedule
# ingress: IngressClass traefik at http://$NODE_IP:80 (Host header = the Ingress's host)
# storage: StorageClass node-local; images: storekit.local/<name>:<tag> from $STOREKIT_HOME/images/index.json
EOF
}

# ---- down ---------------------------------------------------------------------------------

stop_pidfile() { # stop NAME: TERM, then KILL after a grace period
  local name=$1 pid
  pid=$(cat "$PIDS/$name.pid" 2>/dev/null) || return 0
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
}

cgroup_pids() { # every process in the node's cgroups (the pids hierarchy sees them all)
  local root=/sys/fs/cgroup/pids/$CGROUP
  [ -d "$root" ] || return 0
  find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null
}

kill_cgroup() {
  local tries pids
  for tries in $(seq 50 -1 1); do
    pids=$(cgroup_pids)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    [ "$tries" -gt 1 ] && sleep 0.2
  done
  say "processes left in cgroup $CGROUP: $(cgroup_pids | tr '\n' ' ')"
  return 1
}

down() {
  [ "$(id -u)" = 0 ] || die "stopping the real node needs root"
  stop_pidfile kubelet
  stop_pidfile volumes
  stop_pidfile resizer
  stop_pidfile kube-router
  stop_pidfile kube-proxy
  stop_pidfile containerd
  kill_cgroup || true  # containers, shims, whatever the daemons left
  stop_pidfile apiproxy
  local h
  for h in /sys/fs/cgroup/*/"$CGROUP"; do
    if [ -d "$h" ]; then find "$h" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  hosts_remove
  if [ -e "/run/netns/$NETNS" ]; then ip netns delete "$NETNS"; fi
  # The veth pair (and the routes through it) goes when the namespace is freed; make sure.
  wait_for 10 "the interface $HOST_IF to go" bash -c "! ip link show $HOST_IF >/dev/null 2>&1" \
    || ip link del "$HOST_IF" 2>/dev/null || true
  if [ -f "$RUN/made-run-netns-mount" ] && [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
    umount /run/netns 2>/dev/null || true; rmdir /run/netns 2>/dev/null || true
  fi
  local d
  if [ -f "$RUN/made-dirs" ]; then
    while read -r d; do rmdir "$d" 2>/dev/null || true; done <"$RUN/made-dirs"
  fi
  if [ -f "$KUBECONFIG_PATH" ] && kc get --raw /readyz >/dev/null 2>&1; then
    kc delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
    kc delete lease -n kube-node-lease "$NODE_NAME" --ignore-not-found >/dev/null 2>&1 || true
  fi
  # Nothing of the node is mounted on the host; say so if something is, never delete through it.
  if grep -q " $DIR" /proc/self/mountinfo 2>/dev/null; then
    die "mounts under $DIR remain on the host: $(grep " $DIR" /proc/self/mountinfo | awk '{print $5}' | head -3)"
  fi
  rm -rf "$DIR"
  say "node $NODE_NAME is down: no process, namespace, interface, route, rule or mount of it is left"
}

# ---- render (what up would write, for review and tests; no root, no cluster) ------------------

render() { # render OUT: every file of kind/node/ rendered into OUT (services/DNS from the env)
  local out=${1:?usage: $0 render OUT} f
  SERVICE_CIDR=${SERVICE_CIDR:-10.0.0.0/24}
  CLUSTER_DNS=${CLUSTER_DNS:-10.0.0.10}
  mkdir -p "$out"
  for f in containerd.toml kubelet.yaml kube-proxy.yaml cni.conflist addons.yaml pod-network.kubeconfig \
           host-network.kubeconfig; do
    render_file "$HERE/node/$f" "$out/$f"
  done
}

# ---- status -------------------------------------------------------------------------------

status() {
  local name ok=0
  if [ ! -e "/run/netns/$NETNS" ]; then say "node $NODE_NAME is not running (run: make node)"; exit 1; fi
  for name in apiproxy containerd kubelet kube-proxy kube-router volumes resizer; do
    if running "$name"; then say "$name: running (pid $(cat "$PIDS/$name.pid"))"
    else say "$name: NOT running (log: $LOGS/$name.log)"; ok=1; fi
  done
  if node_ready; then say "node $NODE_NAME: Ready"; else say "node $NODE_NAME: NOT Ready"; ok=1; fi
  kc get pods -A -o wide --field-selector "spec.nodeName=$NODE_NAME" 2>/dev/null || true
  exit "$ok"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  render) shift; render "$@" ;;
  *) echo "usage: $0 up|down|status|render OUT" >&2; exit 2 ;;
esac
