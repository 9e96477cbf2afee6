# The project's commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := .venv
RASA_VENV  := .venv-rasa
PY         := $(VENV)/bin/python
RASA       := $(RASA_VENV)/bin/rasa
CRMBOT     := $(VENV)/bin/crmbot
PIP_QUIET  ?= --quiet --disable-pip-version-check
RASA_DATA  := $(shell find bot/data -name '*.yml' 2>/dev/null) config.yml domain.yml
MODEL_STAMP := bot/models/.trained
# Rasa's telemetry would phone home; the model server runs offline.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help setup venvs db demo-data train test test-python test-scale test-rasa lint format run bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

setup: venvs db $(MODEL_STAMP) demo-data ## Build both environments, migrate, train if needed, load demo data

venvs: $(VENV)/.installed $(RASA_VENV)/.installed ## Build .venv (our code) and .venv-rasa (the Rasa server)

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || $$(scripts/find-python.sh 3.11) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip==26.3 wheel
	$(PY) -m pip install $(PIP_QUIET) -c constraints.txt -e '.[dev]'
	@touch $@

$(RASA_VENV)/.installed: requirements-rasa.txt constraints-rasa.txt
	@test -x $(RASA_VENV)/bin/python || $$(scripts/find-python.sh 3.10) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) --upgrade pip==24.2 wheel 'setuptools<70'
	$(RASA_VENV)/bin/python -m pip install $(PIP_QUIET) -c constraints-rasa.txt -r requirements-rasa.txt
	@touch $@

db: $(VENV)/.installed ## Create or migrate the database (DATABASE_URL, default var/crmbot.db)
	$(CRMBOT) db upgrade

demo-data: db ## Load the demo shop unless the store already has customers
	$(CRMBOT) demo-data

train: $(RASA_VENV)/.installed ## Train the Rasa model from bot/data into bot/models
	$(RASA) train --config config.yml --domain domain.yml --data bot/data \
		--out bot/models --fixed-model-name assistant
	@touch $(MODEL_STAMP)

$(MODEL_STAMP): $(RASA_DATA) | $(RASA_VENV)/.installed
	$(MAKE) train

test: venvs $(MODEL_STAMP) lint test-rasa test-python test-scale ## Run the whole suite: lint, Rasa data checks, pytest, the scale-out test

# The scale-out test has a target of its own: it runs its eight processes alone, after
# the rest, so that nothing else competes with them for the machine.
test-python: venvs $(MODEL_STAMP) ## pytest alone, without the scale-out test
	$(PY) -m pytest -m "not scale"

test-scale: venvs $(MODEL_STAMP) ## The scale-out test: two of every process on PostgreSQL and Redis
	$(PY) -m pytest -m scale -s tests/scale

# `rasa data validate` itself runs in tests/bot/test_rasa_data.py, which tells its
# false positives (responses sent by custom actions) from real warnings.
test-rasa: $(MODEL_STAMP) ## Rasa's end-to-end story tests alone
	$(RASA) test core --model bot/models/assistant.tar.gz --stories tests/stories --e2e \
		--fail-on-prediction-errors --out var/rasa-test-results

lint: $(VENV)/.installed ## ruff (lint and format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed ## Format the code with ruff
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

run: setup ## Start every process of the Procfile under supervisord; the console at :8000/console
	$(CRMBOT) staff demo-admin
	@mkdir -p var
	$(VENV)/bin/supervisord --configuration deploy/supervisord.conf

bench: setup ## Run the benchmarks (prints figures; never fails the build)
	$(PY) -m bench.store
	$(PY) -m bench.nlu --model bot/models/assistant.tar.gz
	$(PY) -m bench.gateway
	$(PY) -m bench.handoff
	$(PY) -m bench.campaign

clean: ## Remove both environments, the trained model and var/
	rm -rf $(VENV) $(RASA_VENV) bot/models/*.tar.gz $(MODEL_STAMP) var/
