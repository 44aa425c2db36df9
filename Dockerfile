# storekit's platform image: the dashboard/API and job workers, with the real pulumi CLI and
# Kubernetes plugin built from the Go module proxy exactly as `make tools` builds them.
#
#   make image        build it where a Docker daemon runs (BuildKit, built into Docker >= 20.10)
#   make image-test   build it here on a base image made from Debian packages, run it, check it
#
# Build arguments:
#   BASE        any Debian bookworm image (default debian:bookworm-slim; kind/image.sh base
#               makes one from Debian packages for machines without a registry)
#   TOOLS       source (default): build pulumi and the plugin from the Go module proxy here;
#               prebuilt: take them from .image-tools/ in the context, where kind/image.sh
#               links the ones `make tools` already built on this host (same versions, static
#               binaries), which saves a cold build of ~20 minutes
#   GO_VERSION  the Go toolchain the tools are built with (fetched from the Go module proxy)
# Build secret (optional): cacerts, a CA bundle to trust while downloading.
ARG BASE=debian:bookworm-slim
ARG TOOLS=source

# ---- tools-source: pulumi + pulumi-resource-kubernetes, built by kind/tools.sh -------------
FROM ${BASE} AS tools-source
ARG GO_VERSION=1.26.8
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates golang-go \
 && rm -rf /var/lib/apt/lists/*
# Debian's Go (1.19) serves only to fetch the pinned toolchain module from the module proxy,
# verified against the Go checksum database; everything after is built with that toolchain.
RUN --mount=type=secret,id=cacerts --mount=type=bind,source=kind/image/with-ca.sh,target=/with-ca \
    cd /tmp && arch=$(dpkg --print-architecture) \
 && GOPATH=/tmp/gb GOFLAGS=-mod=mod /with-ca go mod download -json \
      "golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-${arch}" >/tmp/toolchain.json \
 && dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' /tmp/toolchain.json) \
 && test -n "$dir" || { cat /tmp/toolchain.json; exit 1; } \
 && cp -r "$dir" /usr/local/go && chmod -R u+w,a+rX /usr/local/go \
 && chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* \
 && chmod -R u+w /tmp/gb && rm -rf /tmp/gb /tmp/toolchain.json \
 && /usr/local/go/bin/go version
ENV PATH=/usr/local/go/bin:$PATH STOREKIT_HOME=/opt/storekit
COPY kind/tools.sh /src/kind/tools.sh
# The Go caches live in a BuildKit cache mount: rebuilding after a version bump reuses them,
# and they never reach a layer.
RUN --mount=type=secret,id=cacerts --mount=type=bind,source=kind/image/with-ca.sh,target=/with-ca \
    --mount=type=cache,id=storekit-go,target=/opt/storekit/go,sharing=locked \
    /with-ca /src/kind/tools.sh pulumi kubernetes-provider \
 || { tail -n 40 /opt/storekit/tools/logs/*.log; exit 1; } \
 && cp -L /opt/storekit/tools/bin/pulumi /opt/storekit/pulumi-bin

# ---- tools-prebuilt: the same two, already built on the host (kind/image.sh stages them) ---
FROM scratch AS tools-prebuilt
COPY .image-tools/pulumi /opt/storekit/pulumi-bin
COPY .image-tools/plugins /opt/storekit/pulumi/plugins

FROM tools-${TOOLS} AS tools

# ---- runtime ------------------------------------------------------------------------------
FROM ${BASE}
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates python3 python3-venv tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --home-dir /home/storekit --shell /usr/sbin/nologin storekit \
 && mkdir -p /data && chown storekit:storekit /data
COPY --from=tools /opt/storekit/pulumi-bin /usr/local/bin/pulumi
COPY --from=tools --chown=storekit:storekit /opt/storekit/pulumi/plugins /home/storekit/.pulumi/plugins
# Dependencies first (read from setup.cfg), so a source change rebuilds only the last layers.
COPY setup.cfg /src/setup.cfg
RUN --mount=type=secret,id=cacerts --mount=type=bind,source=kind/image/with-ca.sh,target=/with-ca \
    --mount=type=cache,id=storekit-pip,target=/root/.cache/pip \
    python3 -m venv /opt/storekit \
 && python3 -c "import configparser; c = configparser.ConfigParser(); c.read('/src/setup.cfg'); \
print('\n'.join(l for l in c['options']['install_requires'].splitlines() if l and not l.startswith('#')))" \
      >/tmp/requirements.txt \
 && /with-ca /opt/storekit/bin/pip install -q --disable-pip-version-check \
      -r /tmp/requirements.txt "setuptools>=68" wheel \
 && rm /tmp/requirements.txt
COPY pyproject.toml README.md /src/
COPY storekit /src/storekit
COPY stacks /src/stacks
COPY cli /src/cli
COPY webapp /src/webapp
RUN /opt/storekit/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation /src \
 && rm -rf /src && /opt/storekit/bin/storekit --version

ENV PATH=/opt/storekit/bin:$PATH \
    STOREKIT_HOME=/data \
    STOREKIT_PULUMI=/usr/local/bin/pulumi \
    STOREKIT_PULUMI_HOME=/home/storekit/.pulumi \
    STOREKIT_KUBECONFIG=in-cluster \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/storekit
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--", "storekit"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
