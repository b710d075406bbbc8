# LibreFace Workbook — the two commands:
#   make workbook   create the environment if needed, run every notebook on the fixture profile
#   make test       create the environment if needed, run the unit tests, then the notebooks
# The environment is .venv/ (Python 3.11). It is rebuilt only when requirements*.txt or
# pyproject.toml change: a stamp file named after their hash marks a finished install.

PYTHON ?= python3.11
VENV ?= .venv
PROFILE ?= fixture
PY := $(VENV)/bin/python
DEPS_HASH := $(shell cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(DEPS_HASH)
# Threads: 2-core CI machines; tests must not depend on wall-clock time anyway.
export OMP_NUM_THREADS ?= 2
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
export GLOG_minloglevel := 2
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: env workbook test test-unit test-notebooks lint help

help:
	@echo "make workbook  # run every notebook on the $(PROFILE) profile into outputs/runs/"
	@echo "make test      # unit tests, then every notebook on the fixture profile"
	@echo "make lint      # ruff check + format check + notebook hygiene"
	@echo "make test-unit / make test-notebooks  # the two halves of make test"

env: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --prefix $(VENV) --name libreface-nb \
		--display-name "Python (libreface-nb)" > /dev/null
	$(PY) -m pip check
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "environment ready: $(VENV)"

workbook: env
	$(PY) -m libreface_nb.run --profile $(PROFILE)

test: env
	$(PY) -m pytest -m "not notebooks" --timeout=900
	$(PY) -m pytest -m notebooks --timeout=3600

test-unit: env
	$(PY) -m pytest -m "not notebooks" --timeout=900

test-notebooks: env
	$(PY) -m pytest -m notebooks --timeout=3600

lint: env
	$(PY) -m ruff check libreface_nb tests benchmarks notebooks
	$(PY) -m ruff format --check libreface_nb tests benchmarks
	$(PY) -m pytest tests/test_notebook_hygiene.py -q
