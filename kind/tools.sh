#!/usr/bin/env bash
# Build storekit's toolchain from the Go module proxy and cache it by version.
#
# Why this exists: storekit drives the real Pulumi engine against a real Kubernetes
# control plane, and this machine reaches only package registries. Every tool is a Go
# module, so each one is built from the module proxy inside a small wrapper module
# (upstream go.mod files carry `replace` lines that `go install mod@ver` refuses).
#
# Layout under $STOREKIT_HOME (default ~/.storekit), all outside the repository:
#   tools/<tool>/<version>/      finished binaries; a `.done` file marks a complete build
#   tools/bin/                   symlinks to the pinned versions (put this on PATH)
#   tools/build/<tool>-<version> the wrapper modules
#   tools/logs/<tool>-<version>.log
#   go/mod, go/cache             Go module and build caches
#   pulumi/                      PULUMI_HOME (the kubernetes plugin is installed here)
#
# Usage: kind/tools.sh [tool ...]   (no argument: every tool but kind; a built tool costs nothing)
#        kind/tools.sh versitygw   the S3-compatible server of the backup tests (make tools builds it)
#        kind/tools.sh node        the real node's tools (kubelet, kube-proxy, containerd, coredns,
#                                  traefik, metrics-server, kube-router; make node-tools)
#        kind/tools.sh --check [tool ...]   exit 1 and name what is missing, build nothing
# Each finished build appends "tool version seconds" to tools/logs/build-times.txt.
set -euo pipefail

STOREKIT_HOME=${STOREKIT_HOME:-$HOME/.storekit}
TOOLS=$STOREKIT_HOME/tools
BIN=$TOOLS/bin

# ---- pinned versions (one place) ------------------------------------------------
PULUMI_VERSION=3.274.1
# The module proxy serves pulumi-kubernetes' provider module only at the v4.25.0 commit
# (v4.32.0's commit is refused: "This module version is not available"), so the plugin
# and the Python SDK (setup.cfg) are both pinned to 4.25.0.
K8S_PROVIDER_VERSION=4.25.0
K8S_PROVIDER_PSEUDO=v4.0.0-20260115033456-f47bc2d6f199
ETCD_VERSION=3.6.13
KUBE_VERSION=1.35.4
KWOK_VERSION=0.8.0
HELM_VERSION=3.22.0
KIND_VERSION=0.33.0  # only for Docker hosts (kind/platform.sh); not part of the default set
ALL_TOOLS=(pulumi kubernetes-provider etcd kube kwok helm)
# The real node (kind/node.sh): opt-in, `kind/tools.sh node` builds this set.
CONTAINERD_VERSION=2.2.9      # Debian's 1.6 is end-of-life and too old for kubelet 1.35
COREDNS_VERSION=1.14.7
TRAEFIK_VERSION=3.6.12        # 3.7.x replaces a local ./pkg/config/dynamic/ext: not on the proxy
METRICS_SERVER_VERSION=0.9.0
KUBE_ROUTER_VERSION=2.1.0     # its firewall only: NetworkPolicy with iptables + ipset (no NFQUEUE here)
NODE_TOOLS=(kube-node containerd coredns traefik metrics-server kube-router)
# The S3-compatible server the backup tests write to (tests/s3server.py; posix backend).
VERSITYGW_VERSION=1.8.0

export GOMODCACHE=$STOREKIT_HOME/go/mod
export GOCACHE=$STOREKIT_HOME/go/cache
export GOPATH=$STOREKIT_HOME/go/path
export GOFLAGS=-mod=mod
export CGO_ENABLED=0
export GOTOOLCHAIN=local
export PULUMI_HOME=${PULUMI_HOME:-$STOREKIT_HOME/pulumi}
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

say() { printf '[tools] %s\n' "$*" >&2; }

# run STEP LOG CMD...: run one build step, appending to LOG; on failure name the step and log.
run() {
  local step=$1 log=$2; shift 2
  if ! "$@" >>"$log" 2>&1; then
    say "FAILED: $CURRENT_TOOL, step '$step'. Last lines of $log:"
    tail -n 15 "$log" >&2
    exit 1
  fi
}

# wrapper DIR MODULE-LINES...: write a go.mod for a wrapper module (kept if present).
wrapper() {
  local dir=$1; shift
  mkdir -p "$dir"
  if [ ! -f "$dir/go.mod" ]; then
    { echo "module storekit.local/toolbuild"; echo; echo "go 1.26"; echo; printf '%s\n' "$@"; } >"$dir/go.mod"
  fi
}

# begin TOOL VERSION: print progress; return 1 when the tool is already built. Holds the tool's
# lock until finish (another kind/tools.sh building the same tool is waited for, not raced).
begin() {
  CURRENT_TOOL=$1; CURRENT_VERSION=$2
  OUT=$TOOLS/$1/$2
  LOG=$TOOLS/logs/$1-$2.log
  BUILD=$TOOLS/build/$1-$2
  if [ -f "$OUT/.done" ]; then
    say "$1 $2: cached"
    return 1
  fi
  mkdir -p "$TOOLS/locks"
  exec {LOCK_FD}>"$TOOLS/locks/$1-$2.lock"
  if ! flock -n "$LOCK_FD"; then
    say "$1 $2: another build of it is running; waiting for it"
    flock "$LOCK_FD"
  fi
  if [ -f "$OUT/.done" ]; then
    exec {LOCK_FD}>&-
    say "$1 $2: cached"
    return 1
  fi
  mkdir -p "$OUT" "$TOOLS/logs" "$BUILD"
  : >"$LOG"
  say "$1 $2: building (log: $LOG)"
  STARTED=$(date +%s)
}

finish() {
  local name
  for name in "$@"; do ln -sfn "$OUT/$name" "$BIN/$name"; done
  touch "$OUT/.done"
  local took=$(( $(date +%s) - STARTED ))
  printf '%s %s %s\n' "$CURRENT_TOOL" "$CURRENT_VERSION" "$took" >>"$TOOLS/logs/build-times.txt"
  say "$CURRENT_TOOL $CURRENT_VERSION: done in ${took}s"
  exec {LOCK_FD}>&-
}

link() { # link the binaries of an already built tool
  local out=$1 name; shift
  for name in "$@"; do ln -sfn "$out/$name" "$BIN/$name"; done
}

# ---- one function per tool ------------------------------------------------------

build_pulumi() {
  local existing
  existing=$(command -v pulumi 2>/dev/null || true)
  if [ -n "$existing" ] && [ "$existing" != "$BIN/pulumi" ]; then
    # A pulumi on PATH of a supported version (3.181+, for inline programs) is used as is.
    local v; v=$("$existing" version 2>/dev/null | sed 's/^v//')
    if [ -n "$v" ] && [ "$(printf '%s\n3.181.0\n' "$v" | sort -V | head -1)" = "3.181.0" ]; then
      say "pulumi: using $existing ($v) from PATH"
      ln -sfn "$existing" "$BIN/pulumi"
      return
    fi
  fi
  begin pulumi "$PULUMI_VERSION" || { link "$TOOLS/pulumi/$PULUMI_VERSION" pulumi; return; }
  wrapper "$BUILD" \
    "require (" \
    "	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION" \
    "	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION" \
    ")" \
    "replace github.com/pulumi/pulumi/sdk/v3 => github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION" \
    "replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/pulumi' \
    -ldflags '-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION' \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
  finish pulumi
}

build_kubernetes_provider() {
  local plugin=$PULUMI_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_VERSION
  if begin kubernetes-provider "$K8S_PROVIDER_VERSION"; then
    local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
    wrapper "$BUILD" \
      "require $mod $K8S_PROVIDER_PSEUDO" \
      "replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => github.com/pulumi/pulumi-kubernetes/sdk/v4 v$K8S_PROVIDER_VERSION"
    run "go mod download" "$LOG" bash -c "cd '$BUILD' && go mod download $mod"
    # main.go embeds files that generate.go makes and the module zip lacks: copy the
    # main package into the wrapper, generate them with the version, then build it there.
    local src; src=$(cd "$BUILD" && go list -m -f '{{.Dir}}' $mod)
    mkdir -p "$BUILD/cmd"
    cp "$src"/cmd/pulumi-resource-kubernetes/*.go "$src"/cmd/pulumi-resource-kubernetes/*.json "$BUILD/cmd/"
    chmod -R u+w "$BUILD/cmd"
    run "generate schema" "$LOG" bash -c "cd '$BUILD/cmd' && VERSION=$K8S_PROVIDER_VERSION go run generate.go"
    run "go build" "$LOG" bash -c "cd '$BUILD/cmd' && go build -trimpath -o '$OUT/pulumi-resource-kubernetes' \
      -ldflags '-s -w -X $mod/pkg/version.Version=$K8S_PROVIDER_VERSION' ."
    finish pulumi-resource-kubernetes
  else
    link "$TOOLS/kubernetes-provider/$K8S_PROVIDER_VERSION" pulumi-resource-kubernetes
  fi
  if [ ! -x "$plugin/pulumi-resource-kubernetes" ]; then
    say "kubernetes-provider: installing plugin $K8S_PROVIDER_VERSION into $PULUMI_HOME"
    CURRENT_TOOL=kubernetes-provider
    run "pulumi plugin install" "$TOOLS/logs/kubernetes-provider-$K8S_PROVIDER_VERSION.log" \
      "$BIN/pulumi" plugin install resource kubernetes "$K8S_PROVIDER_VERSION" \
      --file "$TOOLS/kubernetes-provider/$K8S_PROVIDER_VERSION/pulumi-resource-kubernetes"
  fi
}

build_etcd() {
  begin etcd "$ETCD_VERSION" || { link "$TOOLS/etcd/$ETCD_VERSION" etcd; return; }
  local m=go.etcd.io/etcd
  wrapper "$BUILD" \
    "require $m/server/v3 v$ETCD_VERSION" \
    "replace (" \
    "	$m/api/v3 => $m/api/v3 v$ETCD_VERSION" \
    "	$m/client/pkg/v3 => $m/client/pkg/v3 v$ETCD_VERSION" \
    "	$m/client/v3 => $m/client/v3 v$ETCD_VERSION" \
    "	$m/pkg/v3 => $m/pkg/v3 v$ETCD_VERSION" \
    ")"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/etcd' \
    -ldflags '-s -w' $m/server/v3"
  finish etcd
}

# kube_wrapper: the wrapper module for k8s.io/kubernetes in $BUILD, and KUBE_LDFLAGS.
kube_wrapper() {
  local minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
  local patch=${KUBE_VERSION##*.}
  run "go mod download" "$LOG" bash -c "cd '$BUILD' && GOFLAGS= go mod download -json k8s.io/kubernetes@v$KUBE_VERSION >/dev/null"
  # Every k8s.io staging module is required at v0.0.0 and replaced with ./staging/...;
  # replace each with the published v0.<minor>.<patch> of the same release.
  local gomod=$GOMODCACHE/cache/download/k8s.io/kubernetes/@v/v$KUBE_VERSION.mod
  local replaces
  replaces=$(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => \./staging/.*#\t\1 => \1 v0.'"$minor.$patch"'#p' "$gomod")
  wrapper "$BUILD" "require k8s.io/kubernetes v$KUBE_VERSION" "replace (" "$replaces" ")"
  local v=k8s.io/component-base/version
  KUBE_LDFLAGS="-s -w -X $v.gitVersion=v$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor \
    -X $v.gitTreeState=clean -X $v.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  KUBE_LDFLAGS="$KUBE_LDFLAGS ${KUBE_LDFLAGS//component-base\/version/client-go\/pkg\/version}"
}

build_kube() {
  local names=(kube-apiserver kube-controller-manager kube-scheduler)
  begin kube "$KUBE_VERSION" || { link "$TOOLS/kube/$KUBE_VERSION" "${names[@]}"; return; }
  kube_wrapper
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/' -ldflags '$KUBE_LDFLAGS' \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler"
  finish "${names[@]}"
}

build_kwok() {
  begin kwok "$KWOK_VERSION" || { link "$TOOLS/kwok/$KWOK_VERSION" kwok kwokctl; return; }
  wrapper "$BUILD" "require sigs.k8s.io/kwok v$KWOK_VERSION"
  local v=sigs.k8s.io/kwok/pkg/consts
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/' \
    -ldflags '-s -w -X $v.Version=$KWOK_VERSION -X $v.KubeVersion=$KUBE_VERSION' \
    sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl"
  finish kwok kwokctl
}

build_helm() {
  begin helm "$HELM_VERSION" || { link "$TOOLS/helm/$HELM_VERSION" helm; return; }
  wrapper "$BUILD" "require helm.sh/helm/v3 v$HELM_VERSION"
  local minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
  local p=helm.sh/helm/v3
  local flags="-s -w -X $p/internal/version.version=v$HELM_VERSION -X $p/internal/version.gitTreeState=clean"
  flags="$flags -X $p/pkg/chartutil.k8sVersionMajor=1 -X $p/pkg/chartutil.k8sVersionMinor=$minor"
  flags="$flags -X $p/pkg/lint/rules.k8sVersionMajor=1 -X $p/pkg/lint/rules.k8sVersionMinor=$minor"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/helm' -ldflags '$flags' $p/cmd/helm"
  finish helm
}

build_kind() {
  begin kind "$KIND_VERSION" || { link "$TOOLS/kind/$KIND_VERSION" kind; return; }
  wrapper "$BUILD" "require sigs.k8s.io/kind v$KIND_VERSION"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/kind' -ldflags '-s -w' sigs.k8s.io/kind"
  finish kind
}

# ---- the real node's tools (kind/node.sh) -------------------------------------------

build_kube_node() { # kubelet and kube-proxy, from the same module and release as the control plane
  local names=(kubelet kube-proxy)
  begin kube-node "$KUBE_VERSION" || { link "$TOOLS/kube-node/$KUBE_VERSION" "${names[@]}"; return; }
  kube_wrapper
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/' -ldflags '$KUBE_LDFLAGS' \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy"
  finish "${names[@]}"
}

build_containerd() { # containerd, its runc shim and ctr (no replaces: a plain wrapper)
  local names=(containerd containerd-shim-runc-v2 ctr)
  begin containerd "$CONTAINERD_VERSION" || { link "$TOOLS/containerd/$CONTAINERD_VERSION" "${names[@]}"; return; }
  local m=github.com/containerd/containerd/v2
  wrapper "$BUILD" "require $m v$CONTAINERD_VERSION"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/' -tags 'no_btrfs no_devmapper no_zfs' \
    -ldflags '-s -w -X $m/version.Version=v$CONTAINERD_VERSION -X $m/version.Revision=storekit' \
    $m/cmd/containerd $m/cmd/containerd-shim-runc-v2 $m/cmd/ctr"
  finish "${names[@]}"
}

# go_tool NAME VERSION MODULE PACKAGE LDFLAGS: the binary NAME from PACKAGE of MODULE@vVERSION,
# in a plain wrapper (no replaces).
go_tool() {
  local name=$1 version=$2 module=$3 package=$4 ldflags=$5
  begin "$name" "$version" || { link "$TOOLS/$name/$version" "$name"; return; }
  wrapper "$BUILD" "require $module v$version"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/$name' -ldflags '-s -w $ldflags' $package"
  finish "$name"
}

build_coredns() {
  go_tool coredns "$COREDNS_VERSION" github.com/coredns/coredns github.com/coredns/coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=v$COREDNS_VERSION"
}

build_traefik() {
  begin traefik "$TRAEFIK_VERSION" || { link "$TOOLS/traefik/$TRAEFIK_VERSION" traefik; return; }
  local m=github.com/traefik/traefik/v3
  # The same replaces as traefik's own go.mod (version replaces: the proxy serves them).
  wrapper "$BUILD" "require $m v$TRAEFIK_VERSION" "replace (" \
    "	github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e" \
    "	github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59" \
    "	github.com/mailgun/minheap => github.com/containous/minheap v0.0.0-20190809180810-6e71eb837595" \
    ")"
  run "go build" "$LOG" bash -c "cd '$BUILD' && go build -trimpath -o '$OUT/traefik' \
    -ldflags '-s -w -X $m/pkg/version.Version=$TRAEFIK_VERSION -X $m/pkg/version.Codename=storekit' $m/cmd/traefik"
  finish traefik
}

build_metrics_server() {
  go_tool metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server \
    "-X k8s.io/component-base/version.gitVersion=v$METRICS_SERVER_VERSION"
}

build_kube_router() { # its firewall only (kind/node.sh): NetworkPolicy with iptables and ipset
  local m=github.com/cloudnativelabs/kube-router/v2
  go_tool kube-router "$KUBE_ROUTER_VERSION" $m $m/cmd/kube-router "-X $m/pkg/version.Version=v$KUBE_ROUTER_VERSION"
}

build_versitygw() { # an S3-compatible gateway for the backup tests (make test builds it once)
  local m=github.com/versity/versitygw
  go_tool versitygw "$VERSITYGW_VERSION" $m $m/cmd/versitygw "-X main.Version=v$VERSITYGW_VERSION"
}

# ---- main -----------------------------------------------------------------------

binaries_of() { # the binaries (and plugin) each tool provides
  case $1 in
    pulumi) echo pulumi ;;
    kubernetes-provider) echo pulumi-resource-kubernetes ;;
    etcd) echo etcd ;;
    kube) echo kube-apiserver kube-controller-manager kube-scheduler ;;
    kwok) echo kwok kwokctl ;;
    helm) echo helm ;;
    kind) echo kind ;;
    kube-node) echo kubelet kube-proxy ;;
    containerd) echo containerd containerd-shim-runc-v2 ctr ;;
    coredns) echo coredns ;;
    traefik) echo traefik ;;
    metrics-server) echo metrics-server ;;
    kube-router) echo kube-router ;;
    versitygw) echo versitygw ;;
  esac
}

check() { # check [tool ...]: name what is missing (default: every tool; node = the node's set)
  local tools=() missing=() t f
  for t in "$@"; do
    if [ "$t" = node ]; then tools+=("${NODE_TOOLS[@]}"); else tools+=("$t"); fi
  done
  [ ${#tools[@]} -gt 0 ] || tools=("${ALL_TOOLS[@]}")
  for t in "${tools[@]}"; do
    for f in $(binaries_of "$t"); do
      [ -x "$BIN/$f" ] || missing+=("$f")
    done
    if [ "$t" = kubernetes-provider ] && [ ! -x \
      "$PULUMI_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_VERSION/pulumi-resource-kubernetes" ]; then
      missing+=("kubernetes plugin $K8S_PROVIDER_VERSION in $PULUMI_HOME")
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing: ${missing[*]} (run: kind/tools.sh ${*:-})"
    return 1
  fi
}

main() {
  mkdir -p "$BIN"
  if [ "${1:-}" = "--check" ]; then shift; check "$@"; return; fi
  local tools=() t
  for t in "$@"; do  # `node` names the real node's set
    if [ "$t" = node ]; then tools+=("${NODE_TOOLS[@]}"); else tools+=("$t"); fi
  done
  [ ${#tools[@]} -gt 0 ] || tools=("${ALL_TOOLS[@]}")
  for t in "${tools[@]}"; do
    case $t in
      pulumi) build_pulumi ;;
      kubernetes-provider) [ -x "$BIN/pulumi" ] || build_pulumi; build_kubernetes_provider ;;
      etcd) build_etcd ;;
      kube) build_kube ;;
      kwok) build_kwok ;;
      helm) build_helm ;;
      kind) build_kind ;;
      kube-node) build_kube_node ;;
      containerd) build_containerd ;;
      coredns) build_coredns ;;
      traefik) build_traefik ;;
      metrics-server) build_metrics_server ;;
      kube-router) build_kube_router ;;
      versitygw) build_versitygw ;;
      *) say "unknown tool '$t' (known: ${ALL_TOOLS[*]} ${NODE_TOOLS[*]} kind; node = ${NODE_TOOLS[*]})"; exit 2 ;;
    esac
  done
}

main "$@"
