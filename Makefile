# The two commands a newcomer needs: `make run` and `make test`. Both build the environment first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Lambda runtime is python3.12: use it wherever pyenv or the system has it.
PYTHON_312 := $(shell for c in "env PYENV_VERSION=3.12.1 python3.12" "python3.12" "env PYENV_VERSION=3.12.1 python3"; do \
	  $$c -c 'import sys; assert sys.version_info[:2] == (3, 12); print(sys.executable)' 2>/dev/null && break; done)
BOOT_PYTHON := $(if $(PYTHON_312),$(PYTHON_312),python3)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
PYTEST_ARGS ?=

.PHONY: help venv browser run test test-long lint typecheck template build unit integration e2e bench clean

help:
	@echo "make run   - start the local stack (moto on 127.0.0.1:5000, API on 127.0.0.1:3000)"
	@echo "make test  - lint, type-check, template checks, sam build, unit + integration + e2e tests"
	@echo "make test-long - the long variants: 2,000 consent-model histories, full-size load, 200 random fault plans"
	@echo "make bench - print performance figures (ratios against baselines measured in the same run)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(BOOT_PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]} -eq 0
	@touch $(STAMP)

run: venv
	$(BIN)/sms-consent local

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check layers local functions

typecheck: venv
	$(BIN)/mypy layers/sms_consent/sms_consent local/sms_consent_local functions bench tests

template: venv
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(AWS_DEFAULT_REGION)

# sam build needs python3.12 on PATH (no Docker); skipped with a message where it is absent.
build: venv
	@if [ -n "$(PYTHON_312)" ]; then \
	  PATH="$$(dirname $(PYTHON_312)):$$PATH" $(BIN)/sam build --parallel --cached >/dev/null && echo "sam build: ok"; \
	else echo "sam build: python3.12 not found, not run"; fi

unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: venv
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

e2e: venv
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# The sign-up form's test drives Debian's Chromium (Playwright's own browser download is unavailable
# here): installed when missing where apt-get can (as root); otherwise that test fails saying so.
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the browser test needs Debian's chromium: sudo apt-get install chromium"; fi; }

# Two workers: the suite is mostly waiting on moto, and CI has two cores.
test: venv browser lint typecheck template build
	$(BIN)/python -m pytest tests -n 2 $(PYTEST_ARGS)

# Long variants of the property-based tests (bigger example budgets), outside the 15-minute budget.
test-long: venv
	CONSENT_MODEL_EXAMPLES=2000 $(BIN)/python -m pytest tests/unit/test_consent_model.py $(PYTEST_ARGS)
	LOAD_TEST_SCALE=1 $(BIN)/python -m pytest tests/e2e/test_load.py $(PYTEST_ARGS)
	FAULT_EXAMPLES=200 $(BIN)/python -m pytest tests/integration/test_fault_injection.py -k random $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
