# The two commands that matter: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed
TERRAFORM_VENV := .venv-terraform
TERRAFORM_INSTALLED := $(TERRAFORM_VENV)/.installed
TERRAFORM ?= terraform

.PHONY: demo test unit bench bench-latency lint typecheck pytest prerequisites emulator clean terraform-checks terraform-fmt checkov terraform-offline

$(INSTALLED): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11+ is required)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

prerequisites: $(INSTALLED)
	@$(BIN)/python -m devstack.prerequisites

## demo: the poller end to end on local emulators, printing each event as a subscriber gets it
demo: prerequisites
	$(BIN)/python -m devstack.demo

## test: lint, types, the Terraform checks and both test tiers (unit, and integration with the emulators)
test: lint typecheck terraform-checks pytest

## unit: the unit tier alone (tests/unit): no emulator, no gcloud or Java, about half a minute
unit: $(INSTALLED)
	$(BIN)/python -m pytest tests/unit

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy
	$(BIN)/mypy examples/subscriber/main.py  # its own run: a second module named main

pytest: prerequisites
	$(BIN)/python -m pytest tests/unit tests/integration && $(BIN)/python -m pytest examples/subscriber/tests  # a run of its own: its pytest.ini, as in a copy of the folder

## terraform-checks: terraform/ formatted, passing checkov, `terraform validate` and `terraform test` (tests/unit/terraform/ runs in pytest)
terraform-checks: terraform-fmt checkov terraform-offline

terraform-fmt:
	@command -v $(TERRAFORM) >/dev/null || { echo "error: $(TERRAFORM) not found on PATH: install Terraform 1.7 or later (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }
	$(TERRAFORM) fmt -check -recursive -diff terraform examples/subscriber/terraform

$(CHECKOV_INSTALLED): requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11+ is required)" >&2; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

checkov: $(CHECKOV_INSTALLED)
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

$(TERRAFORM_INSTALLED): requirements-terraform-offline.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11+ is required)" >&2; exit 1; }
	$(PYTHON) -m venv $(TERRAFORM_VENV)
	$(TERRAFORM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-terraform-offline.txt
	@touch $@

## terraform-offline: `terraform validate` and `terraform test` (terraform/tests/, every provider mocked) with no
## provider download: local schema-only plugins (terraform/schema/providers.json) stand in for the providers.
## TERRAFORM_REAL_PROVIDERS=1: `terraform init -backend=false` and the real providers instead.
terraform-offline: $(TERRAFORM_INSTALLED)
	$(TERRAFORM_VENV)/bin/python -m devstack.terraform_offline --terraform $(TERRAFORM)

## bench: the poll against the naive loop for N in {100, 1000, 10000}; writes bench/results/
bench: prerequisites
	$(BIN)/python -m bench

## bench-latency: detection latency with follow-ups off and on (10-minute runs each); writes bench/results/latency.*
bench-latency: prerequisites
	$(BIN)/python -m bench.latency

## emulator: the Insights emulator alone, seeded with the demo operations
emulator: $(INSTALLED)
	$(BIN)/python -m insights_emulator --seed demo --project-number 389908145857

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(TERRAFORM_VENV) .mypy_cache .pytest_cache .ruff_cache
