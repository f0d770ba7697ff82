# kafkaview: `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.requirements.stamp
DEV_STAMP := $(VENV)/.requirements-dev.stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ARGS ?=

.PHONY: help setup setup-dev bench-deps system-deps jars registry-app keycloak-app run broker demo kafka-cli test unit integration security lint format check clean

help:
	@echo "make run        local Kafka broker + demo traffic + dashboard at http://127.0.0.1:8000"
	@echo "make test       lint, then unit tests, then integration tests (real broker, Daphne, Chromium)"
	@echo "make unit       only the unit tests: no broker, no Java, seconds"
	@echo "make security   only the attacks of tests/security (real broker, registry, Daphne)"
	@echo "make broker     only the local broker, in the foreground"
	@echo "make kafka-cli ARGS='consumer-groups --describe --all-groups'   Kafka's own tools"

# Debian packages: Java and Maven for the broker, Chromium for the browser tests,
# PostgreSQL for the tests that run on it too, OpenLDAP's headers for python-ldap and its
# slapd for the LDAP sign-in tests (run by the tests on a port of their own).
system-deps:
	@missing=""; \
	command -v java >/dev/null || missing="$$missing default-jre-headless"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -f /usr/include/ldap.h ] || missing="$$missing libldap-dev"; \
	[ -f /usr/include/sasl/sasl.h ] || missing="$$missing libsasl2-dev"; \
	[ -x /usr/sbin/slapd ] || missing="$$missing slapd"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# What runs (requirements.txt); tests and lints add requirements-dev.txt.
# python-ldap is built from source: the Debian headers first (order only: no rebuild).
$(PIP_STAMP): requirements.txt | system-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(DEV_STAMP): $(PIP_STAMP) requirements-dev.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The schema registry the tests start (Apicurio, from Maven Central), fetched once before
# the test workers start so that they never fetch it side by side.
registry-app: $(PIP_STAMP)
	$(PY) -m devtools.registry --fetch-only

# The OpenID Connect provider the sign-in tests start (Keycloak, from Maven Central), fetched
# once before the test workers start, like the registry.
keycloak-app: $(PIP_STAMP)
	$(PY) -m devtools.keycloak --fetch-only

# Browser libraries (uPlot for the lag charts), pinned by package-lock.json.
NPM_STAMP := node_modules/.package-lock.stamp
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

jars: $(PIP_STAMP)
	$(PY) manage.py broker --fetch-only

setup: system-deps $(PIP_STAMP) $(NPM_STAMP) jars

setup-dev: setup $(DEV_STAMP) registry-app keycloak-app

# What bench/ compares against (kcat, Debian's package): not needed by make test.
bench-deps: setup-dev
	@command -v kcat >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq kcat; }

run: setup
	$(PY) manage.py runlocal

broker: setup
	$(PY) manage.py broker

demo: setup
	$(PY) manage.py demo

kafka-cli: setup
	$(PY) manage.py kafka_cli $(ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

security: setup-dev
	$(PY) -m pytest tests/security

# Unit tests need neither Java nor a broker: only the Python packages.
unit: $(DEV_STAMP)
	$(PY) -m pytest tests/unit

# Integration tests run on TEST_WORKERS pytest-xdist workers, a file per worker at a time;
# each worker starts its own broker, registry and Daphne (they wait on Kafka far more than
# they compute: one worker used ~0.65 of a core).
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile

integration: setup-dev
	$(PY) -m pytest $(XDIST) tests/integration tests/security
	$(PY) -m devtools.postgres -- $(PY) -m pytest $(XDIST) -p no:cacheprovider $(PG_TESTS)

# The database-heavy tests (sampler, history, audit, resets, access) run again on a
# throwaway PostgreSQL server (devtools/postgres.py) after the whole suite on SQLite.
PG_TESTS := tests/integration/test_history.py tests/integration/test_reset.py \
	tests/integration/test_produce.py tests/integration/test_access.py \
	tests/integration/test_group_types.py tests/integration/test_viewers.py \
	tests/integration/test_auth.py tests/integration/test_lease.py tests/security/test_scope.py \
	tests/integration/test_ldap.py tests/integration/test_why.py

test: setup-dev lint
	$(PY) -m pytest tests/unit
	$(PY) -m pytest $(XDIST) tests/integration tests/security
	$(PY) -m devtools.postgres -- $(PY) -m pytest $(XDIST) -p no:cacheprovider $(PG_TESTS)

clean:
	rm -rf $(VENV) .cache staticfiles node_modules .pytest_cache .ruff_cache
