# The front door. `make help` lists the targets; every target creates .venv on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed
STACK := docker/stack.sh

# OFFLINE=1 builds from the project's own Debian base image and wheelhouse (no registry),
# OFFLINE=0 from public images and PyPI; auto picks online only when the public images are
# present or can be pulled (docker/stack.sh, docs/offline-images.md).
OFFLINE ?= auto
COMPOSE_PROJECT_NAME ?= failwhale
export OFFLINE COMPOSE_PROJECT_NAME

# pytest exits 5 when it collected no test: a failure here, and said so.
define pytest
	$(BIN)/python -m pytest $(1) || { rc=$$?; \
	    if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests ($(1))" >&2; fi; exit $$rc; }
endef

.PHONY: help venv up down clean images up-local down-local seed load chaos bench lint test test-unit \
	reliability test-integration test-e2e test-reliability

help:
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
	    awk 'BEGIN {FS = ":.*## "} {printf "  make %-18s %s\n", $$1, $$2}'

# The run-time packages get the same pins as the images (requirements/app.txt as constraints).
$(VENV_STAMP): pyproject.toml requirements/app.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[tools,dev,load]' -c requirements/app.txt
	touch $@

venv: $(VENV_STAMP) ## create .venv (python deps, tools, the failwhale command)

images: venv ## build the images the stack runs (OFFLINE=1: base image and wheelhouse too)
	$(STACK) build

up: venv ## build and start the stack; returns once every container is healthy (gateway :8080)
	$(STACK) up

down: venv ## stop the stack (keeps the Redis volume)
	$(STACK) down

clean: ## stop the stack, drop its volumes and build/ (the wheelhouse and base rootfs)
	$(STACK) down --volumes
	rm -rf build

up-local: venv ## run the services as local processes with a project-started redis-server
	$(BIN)/failwhale up --backend local

down-local: venv ## stop the local processes
	$(BIN)/failwhale down --backend local

seed: venv ## create a repeatable social graph in the running stack
	$(BIN)/failwhale seed

# make load: HOST (the gateway), USERS, DURATION (30s, 2m...), RATE (open loop: actions/s; 0 is
# closed loop), THINK (closed loop: mean seconds between actions), ACCOUNTS (a seed file), OUT.
HOST ?= http://127.0.0.1:8080
USERS ?= 20
DURATION ?= 30s
RATE ?= 0
THINK ?= 1
ACCOUNTS ?=
OUT ?= reports/load

load: venv ## short headless load on the stack that is up, oracle summary; fails on a violation
	$(BIN)/python -m loadtest --host '$(HOST)' --users $(USERS) --duration $(DURATION) \
	    --rate $(RATE) --think-time $(THINK) --out '$(OUT)' $(if $(ACCOUNTS),--accounts '$(ACCOUNTS)')

SCENARIO ?=
BACKEND ?= docker
RESILIENCE ?= on

chaos: venv ## run a scenario: make chaos SCENARIO=timeline-outage [BACKEND=docker|local] [RESILIENCE=on|off]
	@test -n '$(SCENARIO)' || { echo "make chaos SCENARIO=<name>; the catalogue:"; $(BIN)/failwhale chaos list; exit 2; }
	$(BIN)/failwhale chaos run '$(SCENARIO)' --backend $(BACKEND) --resilience $(RESILIENCE)

# make bench: ONLY (a comma-separated subset of read_path,outage,resilience,footprint), QUICK=1
# (shorter runs). Writes bench/results.json and the table in docs/performance.md. The read path
# needs wrk (installed here with apt-get when missing, as root); the footprint builds the images.
ONLY ?=
bench: venv ## the benchmarks and their targets: bench/results.json, docs/performance.md [ONLY=... QUICK=1]
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && { apt-get install -y -qq wrk \
	    || { apt-get update -qq && apt-get install -y -qq wrk; }; } >/dev/null; } \
	    || { echo "make bench needs wrk: apt-get install wrk" >&2; exit 2; }
	@if [ -z '$(ONLY)' ] || [[ ',$(ONLY),' == *,footprint,* ]]; then $(STACK) build; fi
	$(BIN)/python -m bench $(if $(ONLY),--only '$(ONLY)') $(if $(QUICK),--quick)

lint: venv ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: test-unit test-integration test-e2e test-reliability ## all tests

test-unit: venv ## in-process tests
	$(call pytest,tests/unit)

test-integration: venv ## real redis-server and uvicorn processes
	$(call pytest,tests/integration -m integration)

# The user journeys run first, on a stack no fault has touched; the chaos tests after them.
test-e2e: images ## the compose stack, under its own project name and port
	$(call pytest,tests/e2e/test_user_flow.py tests/e2e/test_locust.py tests/e2e/chaos -m e2e)

QUICK ?=
reliability: images ## the reliability and security suite, each check with its figure (QUICK=1: the CI form)
	$(BIN)/python -m reliability $(if $(QUICK),--quick)

# The suite's short form: every check runs (none may be skipped) and every figure must hold.
test-reliability: images ## the reliability suite in its short form, as CI runs it
	$(BIN)/python -m reliability --quick --require-all
