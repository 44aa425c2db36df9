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
.PHONY: help venv tools cluster cluster-down cluster-status browser test test-unit demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## create .venv and install storekit (editable) with its test tools
$(VENV)/.installed: setup.cfg pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

tools: ## build pulumi, the kubernetes plugin, etcd, kube-*, kwok, helm into $STOREKIT_HOME (cached)
	@kind/tools.sh

cluster: venv tools ## start the local control plane (kept if running) and print its KUBECONFIG
	@kind/cluster.sh up

cluster-down: ## stop the local control plane and every process it started
	@kind/cluster.sh down

cluster-status: ## say whether the local control plane runs
	@kind/cluster.sh status

test-unit: venv ## fast tests only (no cluster)
	@$(PY) -m pytest -m 'not cluster' $(PYTEST_ARGS)

browser: ## install Debian's Chromium for the browser test (Playwright drives it; nothing is downloaded)
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

test: venv tools cluster browser ## every test, against the local control plane with the real engine
	@$(PY) -m pytest $(PYTEST_ARGS)

DEMO_STORE ?= Demo Shop
DEMO_EMAIL ?= demo@example.com
DEMO_PORT ?= 8080
demo: venv tools cluster ## the main job: plan and apply a demo store, show it, then serve the dashboard
	@$(VENV)/bin/storekit plan "$(DEMO_STORE)" --email $(DEMO_EMAIL) --out .demo-plan.json
	@$(VENV)/bin/storekit apply .demo-plan.json
	@rm -f .demo-plan.json
	@$(VENV)/bin/storekit outputs "$(DEMO_STORE)"
	@$(VENV)/bin/storekit health "$(DEMO_STORE)"
	@echo "Log in to the dashboard with this token: $$($(VENV)/bin/storekit token create demo-$$(date +%s) --role admin)"
	@$(VENV)/bin/storekit serve --port $(DEMO_PORT)

clean: cluster-down ## remove the virtualenv (the tool cache under $STOREKIT_HOME stays)
	rm -rf $(VENV) *.egg-info

bench: venv tools cluster ## measure create / plan / tier change / destroy, and fleets, on the local cluster
	@$(PY) bench/stores.py
