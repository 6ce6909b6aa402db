# The front door. `make help` lists the targets. Each target installs only what it uses: the
# engine check and the distribution's packages first (docker/engine.sh, docker/prerequisites.sh:
# as root on Debian or Ubuntu they install what is missing, else they print the command), then
# the .venv with the extras the target needs (`make up`: run time and tools; `make load`: + load;
# test, lint, reliability, bench: + dev). PYTHON picks the interpreter of .venv (default python3).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK := docker/stack.sh
SWARM := docker/swarm.sh
ENGINE := docker/engine.sh
PREREQUISITES := docker/prerequisites.sh

# OFFLINE=1 builds from the project's own Debian base image and wheelhouse (no registry),
# OFFLINE=0 from public images and PyPI; auto picks online only when the public images are
# present or the registry answers (docker/stack.sh, docs/offline-images.md).
OFFLINE ?= auto
COMPOSE_PROJECT_NAME ?= failwhale
export OFFLINE COMPOSE_PROJECT_NAME PYTHON

# One stamp per set of extras; a stamp is made again when pyproject.toml or the pins change.
TOOLS_STAMP := $(VENV)/.installed-tools
LOAD_STAMP := $(VENV)/.installed-load
DEV_STAMP := $(VENV)/.installed-dev
TOOLS_EXTRAS := tools
LOAD_EXTRAS := tools,load
DEV_EXTRAS := tools,load,dev

# .venv serves when its bin/python runs, has pip, and is the same Python (major.minor) as
# $(PYTHON); otherwise it is rebuilt, not reused. Checked when make starts and again in the
# recipe (an earlier recipe of the same run may have rebuilt it).
VENV_CHECK = [ ! -e $(VENV) ] || [ "$$($(BIN)/python -c 'import pip, sys; print(*sys.version_info[:2], sep=".")' 2>/dev/null)" = "$$($(PYTHON) -c 'import sys; print(*sys.version_info[:2], sep=".")' 2>/dev/null || echo none)" ]
VENV_FORCE := $(shell $(VENV_CHECK) || echo FORCE)

# $(1): the extras; $(2): the stamps of smaller sets, which it covers too. The run-time packages get the same pins as the images (requirements/app.txt
# as constraints).
define install
	@$(VENV_CHECK) || { echo "[venv] $(VENV) cannot serve (no bin/python, no pip, or not the Python of $(PYTHON)): rebuilding it"; rm -rf $(VENV); }
	@test -x $(BIN)/python || { $(PREREQUISITES) python && echo "[venv] creating $(VENV) with $(PYTHON)" && $(PYTHON) -m venv $(VENV); }
	@echo "[venv] installing .[$(1)] into $(VENV)"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(1)]' -c requirements/app.txt
	@touch $@ $(2)
endef

# pytest exits 5 when it collected no test: a failure here, and said so.
define pytest
	$(BIN)/python -m pytest $(1) || { rc=$$?; \
	    if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests ($(1))" >&2; fi; exit $$rc; }
endef

.PHONY: help FORCE engine venv venv-load venv-dev up down clean images up-local down-local seed \
	load chaos bench lint test test-unit test-prerequisites reliability test-integration test-e2e test-swarm \
	test-reliability

help:
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
	    awk 'BEGIN {FS = ":.*## "} {printf "  make %-18s %s\n", $$1, $$2}'

FORCE:

$(TOOLS_STAMP): pyproject.toml requirements/app.txt $(VENV_FORCE)
	$(call install,$(TOOLS_EXTRAS))

$(LOAD_STAMP): pyproject.toml requirements/app.txt $(VENV_FORCE)
	$(call install,$(LOAD_EXTRAS),$(TOOLS_STAMP))

$(DEV_STAMP): pyproject.toml requirements/app.txt $(VENV_FORCE)
	$(call install,$(DEV_EXTRAS),$(LOAD_STAMP) $(TOOLS_STAMP))

venv: $(TOOLS_STAMP) ## create .venv: the run-time packages, the tools and the failwhale command
venv-load: $(LOAD_STAMP) ## .venv with Locust too (make load, make chaos)
venv-dev: $(DEV_STAMP) ## .venv with everything: tests, linters, Locust

engine: ## check the Docker engine; as root on Debian/Ubuntu install and start it
	@$(ENGINE)

# The engine first: a missing Docker is named before anything is installed.
images: engine ## build the images: the services and the network-fault helper (OFFLINE=1: base image and wheelhouse too)
	$(STACK) build

# make up / make down: BACKEND=docker (compose, the default) or BACKEND=swarm (docs/swarm.md).
up: engine venv ## build and start the stack; returns once every container is healthy, prints the URLs [BACKEND=docker|swarm]
	$(call on_backend,up)

down: engine ## stop the stack (keeps the Redis volume) [BACKEND=docker|swarm]
	$(call on_backend,down)

# $(1): up or down, on the stack of BACKEND (the local processes have make up-local).
define on_backend
	@case '$(BACKEND)' in \
	    docker) $(STACK) $(1) ;; \
	    swarm) $(SWARM) $(1) ;; \
	    *) echo "make $(1): BACKEND must be docker or swarm, not '$(BACKEND)' (local processes: make $(1)-local)" >&2; exit 2 ;; \
	esac
endef

clean: engine ## stop the stack, drop its volumes and build/ (the wheelhouse and base rootfs)
	$(STACK) down --volumes
	rm -rf build

up-local: venv ## run the services as local processes with a project-started redis-server
	@$(PREREQUISITES) local
	$(PYTHON) -m stack.env_secrets
	$(BIN)/failwhale up --backend local

down-local: venv ## stop the local processes
	$(BIN)/failwhale down --backend local

seed: venv ## create a repeatable social graph in the running stack (.local/seed-users.json)
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

load: venv-load ## short headless load on the stack that is up, oracle summary; fails on a violation
	$(BIN)/python -m loadtest --host '$(HOST)' --users $(USERS) --duration $(DURATION) \
	    --rate $(RATE) --think-time $(THINK) --out '$(OUT)' $(if $(ACCOUNTS),--accounts '$(ACCOUNTS)')

SCENARIO ?=
BACKEND ?= docker
RESILIENCE ?= on
JOIN ?=

chaos: venv-load ## run a scenario: make chaos SCENARIO=timeline-outage [BACKEND=docker|local|swarm] [RESILIENCE=on|off] [JOIN=1]
	@test -n '$(SCENARIO)' || { echo "make chaos SCENARIO=<name>; the catalogue:"; $(BIN)/failwhale chaos list; exit 2; }
	$(BIN)/failwhale chaos run '$(SCENARIO)' --backend $(BACKEND) --resilience $(RESILIENCE) $(if $(JOIN),--join)

# make bench: ONLY (a comma-separated subset of read_path,outage,resilience,footprint,fanout,
# overload,loadgen,growth), QUICK=1
# (shorter runs). Writes bench/results.json and the table in docs/performance.md. The read path
# needs wrk (installed with apt-get when missing, as root); the footprint builds the images.
ONLY ?=
bench: venv-dev ## the benchmarks and their targets: bench/results.json, docs/performance.md [ONLY=... QUICK=1]
	@$(PREREQUISITES) bench local
	@if [ -z '$(ONLY)' ] || [[ ',$(ONLY),' == *,footprint,* ]]; then $(ENGINE) && $(STACK) build; fi
	$(BIN)/python -m bench $(if $(ONLY),--only '$(ONLY)') $(if $(QUICK),--quick)

lint: venv-dev ## ruff (lint and format) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# make test on a fresh machine: the distribution's packages it uses (as root on Debian/Ubuntu:
# installed), a running Docker engine (started when needed), then every suite.
test: test-prerequisites test-unit test-integration test-e2e test-swarm test-reliability ## all tests (installs what they need)

test-prerequisites:
	@$(PREREQUISITES) test
	@$(ENGINE)

test-unit: venv-dev ## in-process tests
	$(call pytest,tests/unit)

test-integration: venv-dev ## real redis-server and uvicorn processes
	$(call pytest,tests/integration -m integration)

# The user journeys run first, on a stack no fault has touched; then the chaos console in a
# browser (it reverts what it breaks); the chaos tests after them.
test-e2e: images venv-dev ## the compose stack, under its own project name and port
	$(call pytest,tests/e2e/test_user_flow.py tests/e2e/test_front_door.py tests/e2e/test_locust.py tests/e2e/test_console.py tests/e2e/chaos -m e2e)

# The same app on a one-node Docker swarm (initialised for the run and left after it, when the
# engine had none): deploy, the engine's self-healing, the swarm chaos backend.
test-swarm: images venv-dev ## the stack on Docker Swarm, under its own stack name and ports
	$(call pytest,tests/e2e/swarm -m e2e)

QUICK ?=
reliability: images venv-dev ## the reliability and security suite, each check with its figure (QUICK=1: the CI form)
	$(BIN)/python -m reliability $(if $(QUICK),--quick)

# The suite's short form: every check runs (none may be skipped) and every figure must hold.
test-reliability: images venv-dev ## the reliability suite in its short form, as CI runs it
	$(BIN)/python -m reliability --quick --require-all
