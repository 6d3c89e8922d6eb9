# Commands for running and testing the service. `make help` lists them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help install redis chromium wrk run test lint infra-check format lock bench-submit deploy-preflight deploy destroy clean

help:
	@echo "make run     - install what is missing and serve the API at http://127.0.0.1:8000"
	@echo "make test    - run the whole test suite (needs redis-server and chromium)"
	@echo "make lint    - ruff lint and format check, mypy"
	@echo "make infra-check - terraform fmt/validate/test and checkov, offline"
	@echo "make deploy ENV=dev|prod - build and push the image, terraform apply (see README)"
	@echo "make destroy ENV=dev|prod - terraform destroy"
	@echo "make format  - ruff format and fix"
	@echo "make bench-submit - the async submit path against a hello-world route (bench/RESULTS.md)"

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

# The load generator of bench.submit_path.
wrk:
	$(call require_program,wrk,wrk)

run: install redis
	scripts/run-local.sh

test: install redis chromium lint infra-check
	$(PY) -m pytest -q

bench-submit: install redis wrk
	$(PY) -m bench.submit_path

# checkov lives in its own virtualenv: its dependencies would pin the service's.
CHECKOV_VERSION := 3.3.30
.tools/checkov/bin/checkov:
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'

infra-check: .tools/checkov/bin/checkov
	scripts/infra-check.sh

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The container image's pinned dependencies: a fresh virtualenv's freeze of the project.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet .
	{ echo "# Pinned runtime dependencies of the container image (pip freeze of 'pip install .')."; \
	  echo "# Regenerate with: make lock"; \
	  .lockvenv/bin/pip freeze --exclude-editable | grep -v '^imagegen'; } > requirements.lock
	rm -rf .lockvenv

# Deployment (README, "Deploy to AWS"). The image tag is the commit, so the tree must be clean.
ENV ?= dev
TF_DIR := infra/envs/$(ENV)
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD)

deploy-preflight:
	@test -f $(TF_DIR)/main.tf || { echo "no environment $(ENV) under infra/envs"; exit 1; }
	@test -f $(TF_DIR)/backend.hcl || { echo "create $(TF_DIR)/backend.hcl (see backend.hcl.example)"; exit 1; }
	@test -z "$$(git status --porcelain)" || { echo "commit your changes first: the image is tagged with the commit"; exit 1; }
	@for tool in terraform aws docker; do command -v $$tool >/dev/null || { echo "$$tool is required"; exit 1; }; done

deploy: deploy-preflight
	terraform -chdir=$(TF_DIR) init -input=false -backend-config=backend.hcl
	# The repository must exist before the image can be pushed to it.
	terraform -chdir=$(TF_DIR) apply -input=false -target=module.stack.aws_ecr_repository.app -var image_tag=$(IMAGE_TAG)
	scripts/push-image.sh "$$(terraform -chdir=$(TF_DIR) output -raw ecr_repository_url)" $(IMAGE_TAG)
	terraform -chdir=$(TF_DIR) apply -input=false -var image_tag=$(IMAGE_TAG)
	terraform -chdir=$(TF_DIR) output

destroy:
	@test -f $(TF_DIR)/backend.hcl || { echo "create $(TF_DIR)/backend.hcl (see backend.hcl.example)"; exit 1; }
	terraform -chdir=$(TF_DIR) init -input=false -backend-config=backend.hcl
	terraform -chdir=$(TF_DIR) destroy -input=false -var image_tag=$(IMAGE_TAG)

clean:
	rm -rf $(VENV) var .pytest_cache .tools
