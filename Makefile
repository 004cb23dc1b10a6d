# The two commands: `make run` starts Volt on its embedded default; `make test` runs everything.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: env run test lint unit

env:
	@scripts/env.sh

run: env
	$(VENV)/volt-admin run

lint: env
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	@# Outside the checkout, so that fresh clones reuse what was learnt about vLLM and torch.
	$(VENV)/mypy --cache-dir $(HOME)/.cache/volt/mypy
	$(VENV)/lint-imports

test: lint
	@# The Kubernetes test peer: built from Debian's source once (~6 min, with progress), cached.
	@scripts/kubernetes.sh >/dev/null
	$(VENV)/pytest
