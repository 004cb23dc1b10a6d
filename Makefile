# The two commands: `make run` starts Volt on its embedded default; `make test` runs everything.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: env run test lint unit vault-race bench-fairness bench-ratelimit

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
	@# The Kubernetes test peer: built from Debian's source once (~12 min on 2 cores, with progress), cached.
	@scripts/kubernetes.sh >/dev/null
	$(VENV)/pytest

# The mint/release race campaign: the suite runs 200 iterations, this runs 2000 (~7 min) and
# appends its figures to benchmarks/vault-race.txt.
vault-race: env
	VOLT_VAULT_RACE_ITERATIONS=2000 VOLT_VAULT_RACE_RESULTS=benchmarks/vault-race.txt $(VENV)/pytest -q -s tests/admin/vault/test_release_race.py -k racing

# Fair sharing of one engine (VTC fair queue vs FCFS, the seat hold, tier priority) with the tiny
# model (~7 min); writes its section of benchmarks/RESULTS.md.
bench-fairness: env
	$(VENV)/python -m benchmarks.fairness

# Rate limits across two Spark replicas over one PostgreSQL (64 streams, ~4 min) and the cost of
# the check; writes its section of benchmarks/RESULTS.md.
bench-ratelimit: env
	$(VENV)/python -m benchmarks.ratelimit
