# The commands a person types. Every target bootstraps what it needs, idempotently:
# a second run does no work it has already done.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
STOREKIT_HOME ?= $(HOME)/.storekit
export STOREKIT_HOME
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv tools cluster cluster-down cluster-status packages images test test-unit soak demo bench bench-engine bench-scale bench-stores \
	bench-fleet bench-backups clean \
	node node-tools node-down node-status test-node medusa-app image-medusa test-medusa \
	bench-image bench-images prefetch prefetch-wait image image-test e2e-checkout build setup load deploy deploy-local all teardown

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create .venv and install storekit (editable) with its test tools
$(VENV)/.installed: setup.cfg pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

tools: ## build pulumi, the kubernetes plugin, etcd, kube-*, kwok, helm, versitygw (backup tests) into $STOREKIT_HOME (cached)
	@kind/tools.sh
	@nice -n 10 kind/tools.sh versitygw

# STOREKIT_NODE=1 make cluster also brings up the real node (make node).
STOREKIT_NODE ?=
cluster: venv tools ## start the local control plane (kept if running) and print its KUBECONFIG; STOREKIT_NODE=1: and the real node
	@kind/cluster.sh up
	@if [ -n "$(STOREKIT_NODE)" ] && [ "$(STOREKIT_NODE)" != 0 ]; then $(MAKE) --no-print-directory node; fi

cluster-down: ## stop the real node (if any) and the local control plane: every process, mount, interface and rule
	@kind/cluster.sh down

cluster-status: ## say whether the local control plane runs
	@kind/cluster.sh status

# ---- the real node (opt-in: pods that really run; kind/node.sh, README "The real node") ---

node-tools: ## build kubelet, kube-proxy, containerd, coredns, traefik, metrics-server, kube-router (cached)
	@nice -n 10 kind/tools.sh node

node: venv tools node-tools ## start the real node storekit-node beside the simulated ones (needs root; kept if running)
	@kind/cluster.sh up
	@kind/node.sh up

node-down: ## stop the real node: every process, mount, namespace, interface and rule it made
	@kind/node.sh down

node-status: ## say whether the real node runs, with its pods
	@kind/node.sh status

test-node: venv ## the real node's tests (pytest -m node): pods, DNS, ingress, NetworkPolicy, metrics
	@$(PY) -m pytest -m 'node or node_lifecycle' $(PYTEST_ARGS)

# The unit tier needs no tool, service or cluster: no pulumi, kubernetes, redis, chromium,
# shellcheck, gcc or docker. Real engine output it reads is recorded in tests/fixtures.
UNIT_MARKERS := not cluster and not image and not store_images and not redis and not shellcheck and not gcc and not node \
	and not medusa and not s3 and not e2e_checkout
test-unit: venv ## the fast tests: no tools, no cluster, under a minute
	@$(PY) -m pytest -m '$(UNIT_MARKERS)' $(PYTEST_ARGS)

# Debian packages the tests use: Chromium (the browser test; Playwright drives it, nothing is
# downloaded), shellcheck (scripts), debootstrap and docker.io (the image test), postgresql
# (the catalog and state on PostgreSQL), redis-server (rate limits shared by replicas).
# The real node's (kind/node.sh): runc, the CNI plugins, ipset, conntrack, iptables.
HOST_PACKAGES := chromium:chromium shellcheck:shellcheck debootstrap:debootstrap dockerd:docker.io \
	pg_ctlcluster:postgresql redis-server:redis-server \
	runc:runc /usr/lib/cni/bridge:containernetworking-plugins ipset:ipset conntrack:conntrack iptables:iptables
APT_GET := DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600
packages: ## install the Debian packages the tests and the real node need (chromium, shellcheck, debootstrap, docker.io, postgresql, redis, runc, ...)
	@missing=""; for p in $(HOST_PACKAGES); do command -v $${p%%:*} >/dev/null || missing="$$missing $${p##*:}"; done; \
	if [ -n "$$missing" ]; then $(APT_GET) update && $(APT_GET) install -y $$missing; fi

# Images for the real node and the stores, from Debian packages and our files (kind/images.py),
# cached by their inputs under $STOREKIT_HOME/images; imported into the node's containerd when
# it runs (NODE_CONTAINERD socket).
NODE_CONTAINERD ?= $(STOREKIT_HOME)/node/run/containerd/containerd.sock
images: venv ## build the node's and the stores' images (pause, mariadb, wordpress, ...; cached) and import them if the node runs
	@$(PY) kind/images.py build
	@if [ -S "$(NODE_CONTAINERD)" ] && kind/node.sh status >/dev/null 2>&1; then \
	  $(PY) kind/images.py import --address "$(NODE_CONTAINERD)"; fi

# The medusa engine's application: Medusa from npm (Node.js 20+), built once per change of its
# sources (kind/images/medusa/app) into $STOREKIT_HOME/medusa; the medusa image needs it.
medusa-app: ## build the Medusa app from npm (cached by its inputs) into $STOREKIT_HOME/medusa
	@python3 kind/medusa_app.py build >/dev/null

image-medusa: venv medusa-app ## the medusa and postgres images (kind/images.py; archive: kind/images.py archive medusa)
	@$(PY) kind/images.py build medusa postgres
	@if [ -S "$(NODE_CONTAINERD)" ]; then $(PY) kind/images.py import --address "$(NODE_CONTAINERD)" medusa postgres; fi

test-medusa: venv packages medusa-app ## the Medusa app and its images (opt-in part): a real order from cart to checkout
	@$(PY) -m pytest -m 'medusa or medusa_images' $(PYTEST_ARGS)

# The real node is part of the test bed: stores' pages, logins, isolation and metrics are proven
# on real containers (marker node). Only the long soak and the medusa image build stay opt-in.
TEST_MARKERS ?= not soak and not medusa_images and not medusa_host and not node_lifecycle and not e2e_checkout
# Most of the suite's time is spent waiting for the engine and the cluster, so it runs on two
# processes (pytest-xdist; a file's tests stay together). TEST_WORKERS=1: one process.
# The 25 slowest tests are listed at the end: the warm budget is 20 minutes.
TEST_WORKERS ?= 2
# Files go out longest first (tests/durations.json, tests/scheduling.py), not by test count.
XDIST = $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder,)
# On a cold machine the packages, the images and the Medusa app are made in the background while
# the toolchain compiles (kind/prefetch.sh: `make packages medusa-app`, then the images); on a
# warm one that costs a few seconds.
test: venv prefetch tools cluster node-tools prefetch-wait node images ## every test: the real engine, the local control plane and the real node
	@$(PY) -m pytest -m '$(TEST_MARKERS)' $(XDIST) --durations=25 $(PYTEST_ARGS)

prefetch: venv
	@kind/prefetch.sh start

prefetch-wait:
	@kind/prefetch.sh wait

soak: venv tools cluster packages ## the long fault suite: the engine killed at every crash point of create, tier change, destroy
	@$(PY) -m pytest -m soak tests/faults $(PYTEST_ARGS)

DEMO_STORE ?= Demo Shop
DEMO_EMAIL ?= demo@example.com
DEMO_PORT ?= 8080
demo: venv tools cluster node ## plan and apply a demo store (on the real node when it runs), say how to open it, serve the dashboard
	@DEMO_STORE="$(DEMO_STORE)" DEMO_EMAIL="$(DEMO_EMAIL)" DEMO_PORT="$(DEMO_PORT)" kind/demo.sh

# ---- the platform image and kind (Docker hosts) -----------------------------------------

BASE ?=
image: ## build the platform image storekit:<version> (Docker with BuildKit; BASE=IMAGE for another base)
	@BASE="$(BASE)" kind/image.sh build

build: image ## the seed's name for `make image`

image-test: venv tools cluster packages ## here: Debian docker.io, a base image from Debian packages, build, run, check
	@$(PY) -m pytest -m image $(PYTEST_ARGS)

# The seed's purchase in a browser, on a cluster whose pods reach wordpress.org and run the
# official images: the kind cluster of `make setup` on a Docker host with internet access. These
# build machines reach only package registries, so it cannot run here (nor in make test).
e2e-checkout: venv packages ## shop, Sample Product, cart, cash on delivery, order received, the order in wp-admin (kind + internet)
	@STOREKIT_KUBECONFIG="$${STOREKIT_KUBECONFIG:-$(STOREKIT_HOME)/kind-kubeconfig}" \
	 STOREKIT_INGRESS_CLASS="$${STOREKIT_INGRESS_CLASS:-traefik}" STOREKIT_IMAGES=official \
	 $(PY) -m pytest -m e2e_checkout -p no:cacheprovider $(PYTEST_ARGS)

setup: tools ## create the kind cluster (1 control plane + 2 workers, ports 80/443) with Traefik
	@kind/platform.sh setup

load: ## load the platform image into the kind cluster
	@kind/platform.sh load

deploy: ## install or upgrade the platform chart on the kind cluster (values-local.yaml)
	@kind/platform.sh deploy

all: setup build load deploy ## kind cluster, image, load, deploy: the platform on a Docker host

deploy-local: venv tools cluster ## install or upgrade the platform chart on the simulated cluster
	@kind/platform.sh deploy-local

teardown: ## delete the kind cluster
	@kind/platform.sh teardown

clean: cluster-down ## teardown, remove the platform image and the virtualenv (tool caches stay)
	@kind/platform.sh clean
	rm -rf $(VENV) *.egg-info

bench: venv tools cluster ## storekit against kubectl on the same objects (create, no-op plan, tier change, destroy, fleets, start-up)
	@$(PY) bench/compare.py $(BENCH_ARGS)

bench-engine: venv tools cluster ## where the time goes inside the engine: every pulumi process of each operation
	@$(PY) bench/engine.py

bench-backups: venv tools node images ## backup and restore of a store on the real node, empty and with 1,000 posts
	@$(PY) bench/backups.py --posts 1000

SCALE_ARGS ?=
bench-scale: venv tools cluster packages ## 3 replicas + 1..3 workers on PostgreSQL and Redis provision stores (SCALE_ARGS="--stores 200 --kill")
	@$(PY) bench/scale.py $(SCALE_ARGS)

bench-stores: venv tools cluster ## storekit alone: one store's life and fleets at parallel 1 and 3
	@$(PY) bench/stores.py

bench-fleet: venv tools cluster ## fleets at scale: 50 stores rolled out in 4 waves, a drift sweep (BENCH_ARGS="--stores 20")
	@$(PY) bench/fleet.py $(BENCH_ARGS)

bench-image: venv packages ## measure image rebuilds, start to healthy, stop, and size
	@$(PY) bench/image.py

bench-images: venv ## measure kind/images.py builds (nothing changed, files changed; COLD=1 from nothing) and sizes
	@$(PY) bench/images.py $(if $(COLD),--cold)
