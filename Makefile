PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: demo test test39 lint bench clean

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
	$(VPY) -m pip install -q -e '.[dev,bench]'
	$(VPY) bench/run.py

clean:
	rm -rf $(VENV) .venv39 build *.egg-info

# The oldest supported Python, when this machine has it (CI runs it if found; PY39 overrides the search).
PY39 ?= $(shell for p in $$(pyenv root 2>/dev/null)/versions/3.9*/bin/python3.9 $$(command -v python3.9); do \
	"$$p" -c pass >/dev/null 2>&1 && echo "$$p" && break; done)

test39:
	@if [ -z "$(PY39)" ]; then echo "python3.9 not found: skipping the Python 3.9 run"; else \
		[ -x .venv39/bin/python ] || $(PY39) -m venv .venv39; \
		.venv39/bin/python -m pip install -q -e '.[dev]' && .venv39/bin/python -m pytest -q; fi
