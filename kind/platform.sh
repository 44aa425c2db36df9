#!/usr/bin/env bash
# Run the storekit platform on a kind cluster (a Docker host), or on the simulated one.
#
# Usage: kind/platform.sh setup         kind cluster (kind/kind-config.yaml) + Traefik ingress
#        kind/platform.sh load          load the platform image into the kind cluster
#        kind/platform.sh deploy        helm upgrade --install the chart on the kind cluster
#        kind/platform.sh deploy-local  the same on the simulated cluster (make cluster)
#        kind/platform.sh teardown      delete the kind cluster
#        kind/platform.sh clean         teardown, then remove the platform image
#
# Tools come from $STOREKIT_HOME/tools/bin (kind/tools.sh builds kind and helm); kubectl and
# a Docker engine must be on the host. The kind cluster's kubeconfig is kept apart from
# ~/.kube/config, at $STOREKIT_HOME/kind-kubeconfig.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
STOREKIT_HOME=${STOREKIT_HOME:-$HOME/.storekit}
BIN=$STOREKIT_HOME/tools/bin
NAME=storekit
KIND_KUBECONFIG=$STOREKIT_HOME/kind-kubeconfig
SIM_KUBECONFIG=$STOREKIT_HOME/kubeconfig
INGRESS_MANIFEST=$HERE/ingress/traefik-v3.7.13.yaml
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/storekit/__init__.py")
IMAGE=${IMAGE:-storekit:$VERSION}
RELEASE=${RELEASE:-storekit}
NAMESPACE=${NAMESPACE:-storekit}

# shellcheck source=kind/docker-cli.sh
. "$HERE/docker-cli.sh"

say() { printf '[platform] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need() { # need TOOL...: build storekit's pinned tools on first use
  "$HERE/tools.sh" "$@" >&2
}
kind_() { "$BIN/kind" "$@"; }
kc() { kubectl --kubeconfig "$KIND_KUBECONFIG" "$@"; }
exists() { [ -x "$BIN/kind" ] && kind_ get clusters 2>/dev/null | grep -qx "$NAME"; }

setup() {
  need kind
  command -v kubectl >/dev/null || die "kubectl is missing: install it (any version within one minor of 1.37)"
  if exists; then
    say "kind cluster '$NAME': exists"
  else
    say "kind cluster '$NAME': creating (1 control plane, 2 workers, host ports 80/443)"
    kind_ create cluster --config "$HERE/kind-config.yaml" --kubeconfig "$KIND_KUBECONFIG" --wait 120s
  fi
  kind_ get kubeconfig --name "$NAME" >"$KIND_KUBECONFIG"
  chmod 600 "$KIND_KUBECONFIG"
  say "ingress: applying $(basename "$INGRESS_MANIFEST")"
  kc apply --server-side --field-manager storekit -f "$INGRESS_MANIFEST" >&2
  kc -n traefik rollout status deployment/traefik --timeout=180s >&2
  say "ready; use it with: export KUBECONFIG=$KIND_KUBECONFIG"
}

load() {
  exists || die "no kind cluster '$NAME' (run: make setup)"
  dk image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE (run: make build)"
  say "loading $IMAGE into '$NAME'"
  kind_ load docker-image "$IMAGE" --name "$NAME"
}


# install KUBECONFIG [helm args...]: install or upgrade the release and wait for it.
install() {
  local kubeconfig=$1; shift
  need helm
  say "helm upgrade --install $RELEASE (namespace $NAMESPACE)"
  KUBECONFIG=$kubeconfig "$BIN/helm" upgrade --install "$RELEASE" "$ROOT/charts/store-platform" \
    --namespace "$NAMESPACE" --create-namespace \
    -f "$ROOT/charts/store-platform/values-local.yaml" \
    --set "image.repository=${IMAGE%:*},image.tag=${IMAGE##*:}" \
    --wait --timeout 5m "$@"
}

deploy() {
  exists || die "no kind cluster '$NAME' (run: make setup)"
  install "$KIND_KUBECONFIG"
  say "dashboard: http://platform.127.0.0.1.nip.io/ (admin token: see the pod's first log lines)"
}

deploy_local() {
  [ -f "$SIM_KUBECONFIG" ] || die "the simulated cluster is not running (run: make cluster)"
  # Its ingress controller serves the `sim` IngressClass; pods run by simulation.
  install "$SIM_KUBECONFIG" --set ingress.className=sim,stores.ingressClass=sim
}

teardown() {
  if exists; then
    say "deleting kind cluster '$NAME'"
    kind_ delete cluster --name "$NAME"
  else
    say "no kind cluster '$NAME'"
  fi
  rm -f "$KIND_KUBECONFIG"
}

clean() {
  teardown
  if dk image inspect "$IMAGE" >/dev/null 2>&1; then
    say "removing image $IMAGE"
    dk image rm "$IMAGE" >/dev/null
  fi
}

case ${1:-} in
  setup) setup ;;
  load) load ;;
  deploy) deploy ;;
  deploy-local) deploy_local ;;
  teardown) teardown ;;
  clean) clean ;;
  *) sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
