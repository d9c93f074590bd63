# Every target does its own set-up: a brand-new machine needs only python3, npm and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-installed
ASSETS_STAMP := node_modules/.assets-installed
CHROMIUM ?= /usr/bin/chromium
NGINX ?= /usr/sbin/nginx
PROMTOOL ?= /usr/bin/promtool
# docker-compose.yml against the Compose Specification, whose schema ships
# inside check-jsonschema: no download, so it runs offline.
COMPOSE_SCHEMA_CHECK := $(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cryptomonitor
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/13
# The settings fail closed (DEBUG off, a real SECRET_KEY required); every
# target here is development (run, test's manage.py calls, collectstatic), so
# it asks for DEBUG unless the environment says otherwise. Production is the
# Docker image, which never runs make.
export DEBUG ?= True

.PHONY: run test lint bench fuzz deps assets browser proxy prometheus clean lock \
	cluster cluster-down chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Pinned versions come from requirements.lock (regenerate with `make lock`).
$(DEPS_STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

deps: $(DEPS_STAMP)

$(ASSETS_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

assets: $(ASSETS_STAMP) deps
	$(BIN)/python manage.py collectstatic --noinput -v 0

# Starts a private PostgreSQL when DATABASE_URL is unset (data kept in
# var/postgres) and a private Redis when REDIS_URL is unset, migrates, then
# daphne, two Celery workers (default and notifications queues) and Celery
# beat; Ctrl-C stops them all.
run: assets
	$(BIN)/python scripts/local_stack.py

# Debian's Chromium for the browser tests; installed when missing and we may.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will fail"; \
	  else echo "warning: $(CHROMIUM) missing; run: sudo apt-get install chromium"; fi; \
	fi

# Debian's nginx-light for the reverse-proxy test and bench/api.py
# (docker/nginx.conf in front of real servers), and wrk, bench/api.py's load.
# A policy-rc.d that answers 101 keeps the package from starting a system
# nginx on port 80 (the tests start their own on free ports); an existing
# policy is left alone.
proxy:
	@if [ ! -x $(NGINX) ] || ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	      policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' > $$policy; chmod +x $$policy; fi; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null) \
	      || echo "warning: could not install nginx-light and wrk; the proxy test will fail"; \
	    [ -z "$$policy" ] || rm -f $$policy; \
	  else echo "warning: nginx or wrk missing; run: sudo apt-get install nginx-light wrk"; fi; \
	fi

# Debian's prometheus for promtool (the monitoring tests check deploy/prometheus
# with it) and the server the monitoring stack test starts on a free port. The
# same policy-rc.d trick keeps the package from starting a system Prometheus;
# no recommends, so no node exporter either.
prometheus:
	@if [ ! -x $(PROMTOOL) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    policy=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	      policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' > $$policy; chmod +x $$policy; fi; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	      || echo "warning: could not install prometheus; the monitoring tests will fail"; \
	    [ -z "$$policy" ] || rm -f $$policy; \
	  else echo "warning: $(PROMTOOL) missing; run: sudo apt-get install --no-install-recommends prometheus"; fi; \
	fi

# Two pytest-xdist workers (TEST_WORKERS=0: none): most of the suite waits on
# servers, workers and browsers it started, so two files at a time nearly halve
# it on two cores. --dist loadfile keeps each file on one worker, so a
# module's shared server starts once; each worker has its own test database
# (test_<name>_gw0, _gw1) and channel-layer prefix.
TEST_WORKERS ?= 2

# lint-imports checks the layers contract in pyproject.toml (docs/architecture.md,
# "Layers"). makemigrations --check compares the models with the migration files; the
# database it also reads applied migrations from need not exist (no warning).
test: assets browser proxy prometheus
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(COMPOSE_SCHEMA_CHECK)
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -W "ignore:Got an error checking a consistent:RuntimeWarning" \
	  manage.py makemigrations --check --dry-run -v 0
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(COMPOSE_SCHEMA_CHECK)

bench: assets proxy
	$(BIN)/python bench/ingest.py
	@for b in alerts delivery push fanout api ws_flood summaries preview; do [ ! -f bench/$$b.py ] || $(BIN)/python bench/$$b.py || exit 1; done

fuzz: assets
	$(BIN)/pytest -m fuzz --fuzz-examples=5000 $(PYTEST_ARGS)

# Test hosts on this machine (docs/operations.md, "The local cluster"): one
# network namespace each on a private bridge (10.77.0.0/24, no route out),
# PostgreSQL, Redis, nginx, two application nodes, beat, an SMTP sink and the
# fake CoinGecko, with production settings. Root only. Stays up until Ctrl-C;
# CLUSTER_ARGS=--smoke exits after the smoke check with its status.
# `make cluster-down` removes whatever a run left, crashed or not.
cluster: deps proxy $(ASSETS_STAMP)
	$(BIN)/python -m deploy.cluster $(CLUSTER_ARGS)

cluster-down: deps
	$(BIN)/python -m deploy.cluster down

# Failure scenarios on that cluster (deploy/cluster/chaos.py): a node killed
# mid-burst, Redis and PostgreSQL restarted, a worker cut off, two beats, the
# feed down, one node's fan-out, one node against two (each node half a core).
# A table, `chaos: N/M scenarios pass`, non-zero when one fails;
# about 15 minutes. CHAOS_ARGS="--only 1,3" or "--alerts 2000". Not in `make test`.
# `python -m deploy.cluster selfcheck` checks the harness itself.
chaos: deps proxy $(ASSETS_STAMP)
	$(BIN)/python -m deploy.cluster chaos $(CHAOS_ARGS)

lock: $(BIN)/python
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV) node_modules staticfiles var
