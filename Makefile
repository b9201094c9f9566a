# The two commands that matter: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest prerequisites emulator clean

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

## test: lint, types and every test tier (unit and integration, with the emulators)
test: lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy

pytest: prerequisites
	$(BIN)/python -m pytest

## emulator: the Insights emulator alone, seeded with the demo operations
emulator: $(INSTALLED)
	$(BIN)/python -m insights_poller.emulator --seed demo

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
