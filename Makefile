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
	$(VENV)/mypy
	$(VENV)/lint-imports

test: lint
	$(VENV)/pytest
