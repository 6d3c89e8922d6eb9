# Commands for running and testing the service. `make help` lists them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help install redis chromium run test lint format clean

help:
	@echo "make run     - install what is missing and serve the API at http://127.0.0.1:8000"
	@echo "make test    - run the whole test suite (needs redis-server and chromium)"
	@echo "make lint    - ruff lint and format check, mypy"
	@echo "make format  - ruff format and fix"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# System programs come from Debian's packages: installed when missing and we may (root),
# otherwise we say what to install.
define require_program
	@command -v $(1) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else echo "$(1) is missing: install it (e.g. apt-get install $(2))"; exit 1; fi; }
endef

redis:
	$(call require_program,redis-server,redis-server)

# The documentation page is checked in a real (headless) browser.
chromium:
	$(call require_program,chromium,chromium)

run: install redis
	scripts/run-local.sh

test: install redis chromium lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache
