# The two commands: `make run` starts Volt on its embedded default; `make test` runs everything.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: env run test lint unit vault-race

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

# The mint/release race campaign: the suite runs 200 iterations, this runs 2000 (~7 min) and
# appends its figures to benchmarks/vault-race.txt.
vault-race: env
	VOLT_VAULT_RACE_ITERATIONS=2000 VOLT_VAULT_RACE_RESULTS=benchmarks/vault-race.txt $(VENV)/pytest -q -s tests/admin/vault/test_release_race.py -k racing
