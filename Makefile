# The two commands that matter: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

CHECKOV_VENV := .venv-checkov
CHECKOV_INSTALLED := $(CHECKOV_VENV)/.installed
TERRAFORM ?= terraform

.PHONY: demo test bench lint typecheck pytest prerequisites emulator clean terraform-checks terraform-fmt checkov

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

## test: lint, types, the Terraform checks and every test tier (unit and integration, with the emulators)
test: lint typecheck terraform-checks pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy
	$(BIN)/mypy examples/subscriber/main.py  # its own run: a second module named main

pytest: prerequisites
	$(BIN)/python -m pytest

## terraform-checks: terraform/ formatted and passing checkov (tests/test_terraform.py runs in pytest)
terraform-checks: terraform-fmt checkov

terraform-fmt:
	@command -v $(TERRAFORM) >/dev/null || { echo "error: $(TERRAFORM) not found on PATH: install Terraform 1.5 or later (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }
	$(TERRAFORM) fmt -check -recursive -diff terraform

$(CHECKOV_INSTALLED): requirements-checkov.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11+ is required)" >&2; exit 1; }
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@touch $@

checkov: $(CHECKOV_INSTALLED)
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --quiet --compact --skip-download

## bench: the poll against the naive loop for N in {100, 1000, 10000}; writes bench/results/
bench: prerequisites
	$(BIN)/python -m bench

## emulator: the Insights emulator alone, seeded with the demo operations
emulator: $(INSTALLED)
	$(BIN)/python -m insights_poller.emulator --seed demo --project-number 389908145857

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .mypy_cache .pytest_cache .ruff_cache
