# Plant Community platform. `make dev` brings the whole platform up; `make test` proves it.
# Targets delegate to uv and to deploy/devstack; nothing is hidden here.

.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
RUN := $(UV) run --locked --no-sync

.PHONY: help install dev test reset lock check soak

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(UV):
	@# The toolchain lives in the project: uv, pinned, in its own small venv.
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(UV) ## Install every dependency from uv.lock into .venv
	$(UV) sync --locked --all-packages

dev: install ## Start the whole platform at http://localhost:8000 (Ctrl-C stops it)
	$(RUN) python -m devstack up --profile dev

test: install ## Start a fresh test stack and run every test suite against it
	$(RUN) python -m devstack test

reset: ## Wipe local data (.data/): databases, Redis, generated secrets, logs
	rm -rf .data

lock: $(UV) ## Re-resolve uv.lock after changing a pyproject.toml
	$(UV) lock

check: install ## Django system checks and migration drift (also run by make test)
	$(RUN) python -m devstack run --profile test -- bash -c 'python -m django check && python -m django makemigrations --check --dry-run'

# Not part of `make test` or CI: ten minutes of load on a stack of its own (profile bench), with the
# edge's per-IP limit and the gateway's anonymous limit lifted (one address sends everything).
SOAK_ARGS ?= --duration 600
soak: install ## 10-minute soak through the edge: sustained rate, errors, memory growth, Traefik overhead
	EDGE_RATE_LIMIT_AVERAGE=100000 EDGE_RATE_LIMIT_BURST=100000 GATEWAY_ANONYMOUS_LIMIT=100000000 \
		$(RUN) python -m devstack run --profile bench --fresh -- python bench/soak.py $(SOAK_ARGS)
