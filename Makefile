PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: demo test lint bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(VPY) -m pip install -q -e '.[dev]'
	touch $@

$(VENV)/.installed-demo: pyproject.toml | $(VENV)/bin/python
	$(VPY) -m pip install -q -e .
	touch $@

demo: $(VENV)/.installed-demo
	$(VPY) examples/service.py

test: $(VENV)/.installed-dev
	$(VPY) -m pytest

lint: $(VENV)/.installed-dev
	$(VPY) -m ruff check scitrera_app_framework tests examples bench
	$(VPY) -m mypy scitrera_app_framework tests/typing

bench: $(VENV)/.installed-dev
	$(VPY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
