# `make demo` and `make test` are the README's two commands; each sets itself up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup demo test test-fast clean

setup: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: setup
	$(BIN)/lifecycle demo

test: setup
	$(BIN)/python -m pytest -n auto

test-fast: setup
	$(BIN)/python -m pytest -n auto -m "not browser and not slow"

clean:
	rm -rf data reports .dagster_home .pytest_cache
