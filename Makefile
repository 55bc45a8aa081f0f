# The project's everyday commands. `make test` on a fresh clone creates the
# virtual environment first, so the README's test command is one line.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest

.PHONY: install test test-unit test-integration test-browser test-e2e lint format run bench clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/activate

install: $(BIN)/activate  ## create .venv and install the project with its test dependencies

test: install  ## every test; the browser and compose tests say why when they skip
	$(PYTEST) tests

test-unit: install
	$(PYTEST) tests/unit

test-integration: install
	$(PYTEST) tests/integration

test-browser: install
	$(PYTEST) tests -m browser

test-e2e: install
	$(PYTEST) tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache models
