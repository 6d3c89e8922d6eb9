# Commands for running and testing the service. `make help` lists them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help install redis run test lint format clean

help:
	@echo "make run     - install what is missing and serve the API at http://127.0.0.1:8000"
	@echo "make test    - run the whole test suite (needs redis-server on PATH)"
	@echo "make lint    - ruff lint and format check"
	@echo "make format  - ruff format and fix"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# redis-server comes from the system (Debian: apt-get install redis-server); install it when
# it is missing and we may (root), otherwise say what to do.
redis:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: install it (e.g. apt-get install redis-server)"; exit 1; fi; }

run: install redis
	scripts/run-local.sh

test: install redis lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache
