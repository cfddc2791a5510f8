"""The ``spawn`` fixture of ``tests/core/conftest.py`` (child interpreters), for the plugins that set process-global
state (the OpenTelemetry tracer provider)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location('saf_tests_core_conftest', Path(__file__).parent.parent / 'core' /
                                               'conftest.py')
assert _spec is not None and _spec.loader is not None
_core = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_core)

spawn = _core.spawn
