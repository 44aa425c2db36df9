# shellcheck shell=bash
# Sourced by kind/image.sh and kind/platform.sh: the docker client to run.
# A client that builds with BuildKit: the plain client of Docker >= 23 needs the buildx
# plugin for that, Debian's docker.io (20.10) has BuildKit built in. $DOCKER wins.
docker_cli() {
  if [ -n "${DOCKER:-}" ]; then echo "$DOCKER"
  elif docker buildx version >/dev/null 2>&1; then echo docker
  elif [ -x /usr/bin/docker ]; then echo /usr/bin/docker
  else echo docker
  fi
}
dk() { "$(docker_cli)" "$@"; }
