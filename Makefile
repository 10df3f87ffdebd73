# ocrflow — every target installs what it needs into .venv on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help run test test-fast lint package deploy deploy-huaweicloud huaweicloud-rfs-template bench bench-smoke services clean pr

help:
	@echo "make run      install, start the local OCR emulator, process samples/, print what was recognised"
	@echo "make test     install the test dependencies, check local services, run every test"
	@echo "make lint     ruff, mypy, the layers (lint-imports) and the SAM template checks"
	@echo "make bench    benchmarks with ratios against baselines measured in the same run"
	@echo "make package  FunctionGraph zip and Lambda layer under dist/"
	@echo "make deploy   sam build + sam deploy --guided (needs the AWS SAM CLI and credentials)"
	@echo "make deploy-huaweicloud  make package, terraform init + apply in deploy/huaweicloud (needs Terraform and Huawei Cloud credentials)"
	@echo "make huaweicloud-rfs-template  dist/ocrflow-rfs-template.zip, the same stack for Resource Formation Service (RFS)"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# one stamp per set of extras; reinstalled when pyproject.toml changes
$(VENV)/.run-installed: pyproject.toml | $(PY)
	$(PIP) install -q -e ".[emulator,documents,render]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(PY)
	$(PIP) install -q -e ".[test,dev,aws,amqp,redis,kafka,emulator,documents,render]"
	touch $@

run: $(VENV)/.run-installed
	@VENV=$(VENV) bash scripts/demo.sh

services:
	@bash scripts/check_services.sh

# the official AsyncAPI parser (Node.js) that validates the AsyncAPI document in the tests
ASYNCAPI_CHECK := scripts/asyncapi/node_modules/.installed
$(ASYNCAPI_CHECK): scripts/asyncapi/package.json scripts/asyncapi/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (the AsyncAPI validator)" >&2; exit 2; }
	npm ci --prefix scripts/asyncapi --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

test: $(VENV)/.test-installed services $(ASYNCAPI_CHECK)
	@bash scripts/ensure_font.sh
	@bash scripts/ensure_chromium.sh
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

test-fast: $(VENV)/.test-installed $(ASYNCAPI_CHECK)
	$(PY) -m pytest tests/unit -q

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check shared functions tests scripts bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	VENV=$(VENV) bash scripts/lint_template.sh

pr: lint test

package: $(VENV)/.test-installed
	@VENV=$(VENV) bash scripts/package_functiongraph.sh dist/ocrflow-functiongraph.zip
	@VENV=$(VENV) bash scripts/build_layer.sh dist/layer

# needs the AWS SAM CLI (pip install aws-sam-cli) and AWS credentials; not run by the tests
deploy:
	@command -v sam >/dev/null || { echo "make deploy needs the AWS SAM CLI: pip install aws-sam-cli" >&2; exit 2; }
	$(MAKE) package
	sam build && sam deploy --guided

# needs Terraform (>= 1.3) and Huawei Cloud credentials (HW_ACCESS_KEY / HW_SECRET_KEY, or a
# profile of ~/.hcloud/config.json); not run by the tests. TF_ARGS="-var-file=prod.tfvars" etc.
TF_DIR := deploy/huaweicloud
deploy-huaweicloud:
	@command -v terraform >/dev/null || { echo "make deploy-huaweicloud needs Terraform >= 1.3 (https://developer.hashicorp.com/terraform/install), or use the RFS route: make huaweicloud-rfs-template" >&2; exit 2; }
	@if [ -z "$$HW_ACCESS_KEY$$HW_SHARED_CONFIG_FILE$$HW_PROFILE" ] && [ ! -f "$$HOME/.hcloud/config.json" ]; then \
	  echo "make deploy-huaweicloud needs Huawei Cloud credentials: export HW_ACCESS_KEY and HW_SECRET_KEY (HW_SECURITY_TOKEN for temporary ones), or HW_PROFILE with ~/.hcloud/config.json" >&2; exit 2; fi
	@if [ -n "$$HW_ACCESS_KEY" ] && [ -z "$$HW_SECRET_KEY" ]; then echo "make deploy-huaweicloud: HW_ACCESS_KEY is set but HW_SECRET_KEY is not" >&2; exit 2; fi
	$(MAKE) package
	terraform -chdir=$(TF_DIR) init -input=false
	terraform -chdir=$(TF_DIR) apply $(TF_ARGS)

# the stack as a Resource Formation Service template: upload dist/ocrflow-functiongraph.zip to
# OBS yourself and give its URL as code_object_url when creating the stack
huaweicloud-rfs-template:
	@mkdir -p dist
	@rm -f dist/ocrflow-rfs-template.zip
	cd $(TF_DIR) && $(PYTHON) -m zipfile -c ../../dist/ocrflow-rfs-template.zip $$(ls *.tf)
	@echo "dist/ocrflow-rfs-template.zip"

# make bench BENCH_ARGS="--quick" for a smoke run; BENCH_ARGS="--only run_folder,burst_batch_of_ten"
bench: $(VENV)/.test-installed
	@VENV=$(VENV) bash scripts/bench.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) scripts/asyncapi/node_modules .ocrflow dist build *.egg-info .pytest_cache .mypy_cache .ruff_cache
