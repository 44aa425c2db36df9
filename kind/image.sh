#!/usr/bin/env bash
# Build and check storekit's platform image.
#
# Usage: kind/image.sh build [--base IMAGE]   build storekit:<version> (BuildKit; or BASE=IMAGE;
#                                             TOOLS=source compiles pulumi and the plugin even
#                                             when `make tools` has built them on this host)
#        kind/image.sh base                   make storekit-base:bookworm from Debian packages
#        kind/image.sh daemon                 start Debian's docker.io daemon if none answers
# (make image-test runs tests/test_image.py, which does daemon, base and build first.)
#
# A Docker host with a registry only needs `build` (BASE defaults to debian:bookworm-slim).
# A machine that reaches only package registries (like CI here) makes its base image with
# debootstrap, once per Debian suite, and builds on it. The host's CA bundle is handed to
# the build as a secret, so downloads work behind a TLS-inspecting proxy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
STOREKIT_HOME=${STOREKIT_HOME:-$HOME/.storekit}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/storekit/__init__.py")
IMAGE=${IMAGE:-storekit:$VERSION}
SUITE=bookworm
BASE_IMAGE=storekit-base:$SUITE
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
DOCKER_LOG=$STOREKIT_HOME/docker/dockerd.log

# shellcheck source=kind/docker-cli.sh
. "$HERE/docker-cli.sh"

say() { printf '[image] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

daemon() {
  if dk info >/dev/null 2>&1; then return; fi
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers; start one (as root: kind/image.sh daemon)"
  if ! command -v dockerd >/dev/null; then
    say "installing Debian's docker.io"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
  fi
  mkdir -p "$(dirname "$DOCKER_LOG")"
  say "starting dockerd (log: $DOCKER_LOG)"
  nohup dockerd >>"$DOCKER_LOG" 2>&1 &
  local _
  for _ in $(seq 60); do
    if dk info >/dev/null 2>&1; then say "dockerd ready"; return; fi
    sleep 0.5
  done
  tail -n 20 "$DOCKER_LOG" >&2
  die "dockerd did not answer within 30 s"
}

base() {
  if dk image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "$BASE_IMAGE: cached"; return
  fi
  command -v debootstrap >/dev/null || {
    [ "$(id -u)" = 0 ] || die "debootstrap is missing (apt-get install debootstrap)"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  }
  local root; root=$(mktemp -d "$STOREKIT_HOME/rootfs.XXXXXX")
  say "$BASE_IMAGE: debootstrap $SUITE (minbase) from deb.debian.org"
  debootstrap --variant=minbase "$SUITE" "$root" http://deb.debian.org/debian \
    >"$STOREKIT_HOME/docker/debootstrap.log" 2>&1 \
    || { tail -n 20 "$STOREKIT_HOME/docker/debootstrap.log" >&2; rm -rf "$root"; die "debootstrap failed"; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | dk import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
  say "$BASE_IMAGE: imported"
}

# stage_tools: link the pulumi CLI and the kubernetes plugin that `make tools` built on this
# host (the pinned versions, static binaries) into .image-tools/, so the image takes them
# instead of compiling them again inside Docker. Prints the TOOLS build argument to use.
stage_tools() {
  local stage=$ROOT/.image-tools plugin
  plugin=resource-kubernetes-v$(sed -n 's/^K8S_PROVIDER_VERSION=\([^ ]*\).*/\1/p' "$HERE/tools.sh")
  rm -rf "$stage"
  if [ "${TOOLS:-}" = source ] || ! "$HERE/tools.sh" --check pulumi kubernetes-provider >/dev/null 2>&1 \
     || [ ! -d "$STOREKIT_HOME/pulumi/plugins/$plugin" ]; then
    echo source; return
  fi
  mkdir -p "$stage/plugins"
  cp -lL "$STOREKIT_HOME/tools/bin/pulumi" "$stage/pulumi" 2>/dev/null \
    || cp -L "$STOREKIT_HOME/tools/bin/pulumi" "$stage/pulumi"
  cp -al "$STOREKIT_HOME/pulumi/plugins/$plugin" "$stage/plugins/" 2>/dev/null \
    || cp -a "$STOREKIT_HOME/pulumi/plugins/$plugin" "$stage/plugins/"
  echo prebuilt
}

build() {
  local args=() base=${BASE:-} tools
  if [ "${1:-}" = --base ]; then base=$2; fi
  [ -z "$base" ] || args+=(--build-arg "BASE=$base")
  tools=$(stage_tools)
  args+=(--build-arg "TOOLS=$tools")
  say "pulumi and the kubernetes plugin: $tools"
  [ -s "$CA_BUNDLE" ] && args+=(--secret "id=cacerts,src=$CA_BUNDLE")
  say "building $IMAGE"
  DOCKER_BUILDKIT=1 dk build --progress=plain "${args[@]}" -t "$IMAGE" "$ROOT" \
    >"$STOREKIT_HOME/docker/build.log" 2>&1 \
    || { tail -n 40 "$STOREKIT_HOME/docker/build.log" >&2
         say "no registry for the base image? make one from Debian packages and build on it:"
         say "  kind/image.sh base && make image BASE=$BASE_IMAGE"
         die "docker build failed (log: $STOREKIT_HOME/docker/build.log)"; }
  say "built $IMAGE ($(dk image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

main() {
  mkdir -p "$STOREKIT_HOME/docker"
  case ${1:-} in
    build) shift; build "$@" ;;
    base) daemon; base ;;
    daemon) daemon ;;
    *) sed -n '4,7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
}

main "$@"
