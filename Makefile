# One entry point for people and CI alike. `make test` is the README's test command; .ci/run calls it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install lint typecheck pytest test demo bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,llamacpp]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check kern tests bench examples agents workflows
	$(BIN)/ruff format --check kern tests bench examples agents workflows

typecheck: install
	$(BIN)/pyright

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

demo: install
	$(BIN)/python -m agents.taskboard

bench: install
	$(BIN)/python bench/run.py
