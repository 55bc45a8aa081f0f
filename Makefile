# The project's everyday commands. `make test` on a fresh clone creates the
# virtual environment first, so the README's test command is one line.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest

.PHONY: install lock test test-unit test-integration test-browser test-e2e lint format run bench clean

# The test venv runs on exactly the versions the images ship: it installs
# requirements/test.txt (every extra: model, web, test, dev; the same pins as
# requirements/model.txt and web.txt) with its hashes checked, then the
# project itself, editable and without dependencies, so nothing unpinned
# slips in. Rebuilt when pyproject.toml or the lock file changes.
$(BIN)/activate: pyproject.toml requirements/test.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements/test.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(BIN)/activate

install: $(BIN)/activate  ## create .venv from the locked requirements, plus the project (editable)

# `make lock`: the one command that regenerates requirements/*.txt from
# pyproject.toml. uv, not pip-tools: it resolves from PyPI alone (it does not
# read pip.conf, so a machine's find-links or local mirrors never leak into
# the files or their hashes), records every wheel's hash for the chosen
# versions, writes one universal file with environment markers (Linux images,
# other developers' machines), and takes seconds. The union (test.txt) is
# resolved first and constrains the per-service files, so a package has the
# same version in every file. Versions already in a file are kept; `make lock
# UPGRADE=1` moves everything to the newest versions pyproject.toml allows.
# --native-tls: trust the system's CA bundle, as pip does here.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --native-tls --custom-compile-command "make lock" \
	$(if $(filter 1,$(UPGRADE)),--upgrade)

lock: install  ## regenerate requirements/{test,model,web}.txt from pyproject.toml
	$(LOCK) --extra model --extra web --extra test --extra dev -o requirements/test.txt
	$(LOCK) --extra model -c requirements/test.txt -o requirements/model.txt
	$(LOCK) --extra web -c requirements/test.txt -o requirements/web.txt

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

# `make bench`: the benchmark (bench/README.md); BENCH_ARGS passes options,
# e.g. make bench BENCH_ARGS="--estimator linear,forest --peers --out bench/RESULTS.md"
BENCH_ARGS ?=

bench: install  ## this service under load with wrk; --peers adds the raw floor, MLflow, MLServer
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find models -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +

# `make run`: both services on this machine, without docker: the model
# service (the bundled iris model unless MODEL_DIR is set) in the background,
# the web app in the foreground; Ctrl-C stops both. The web app starts once
# /ping answers 200 (at most 120 tries, half a second apart).
RUN_MODEL_PORT ?= 8080
RUN_WEB_PORT ?= 8000
MODEL_DIR ?=

run: install  ## model service on :8080 and web app on :8000, without docker
	@$(BIN)/python -m model_service --host 127.0.0.1 --port $(RUN_MODEL_PORT) $(if $(MODEL_DIR),--model-dir $(MODEL_DIR)) & \
	model_pid=$$!; \
	trap 'kill $$model_pid 2>/dev/null' EXIT INT TERM; \
	for try in $$(seq 120); do \
		$(BIN)/python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$(RUN_MODEL_PORT)/ping', timeout=2)" 2>/dev/null && break; \
		sleep 0.5; \
	done; \
	echo "web app: http://127.0.0.1:$(RUN_WEB_PORT)  (model service: http://127.0.0.1:$(RUN_MODEL_PORT))"; \
	$(BIN)/python -m web_app --model-url http://127.0.0.1:$(RUN_MODEL_PORT) --host 127.0.0.1 --port $(RUN_WEB_PORT)
