"""Suite-wide rules.

- ``@pytest.mark.needs_dotenv`` (and ``needs_orjson``, ``needs_kubernetes``, ``needs_pyroscope``, ``needs_dask``,
  ``needs_redis``, ``needs_otel``, ``needs_metrics``, ``needs_gunicorn``) skip a test when that optional
  dependency is not installed: the no-extras CI leg runs the rest.
- An unexpected skip fails the run. Allowed: a missing *optional* dependency that is really not installed, and
  the platform reasons listed in ``ALLOWED_SKIPS``. Anything else (a module that skips because the package's
  own import failed, a fixture that gives up) is reported at the end and the exit status is 1.
"""

from __future__ import annotations

import importlib.util
import os
import re
from typing import Any

import pytest

# marker -> importable module that provides the optional dependency
OPTIONAL = {'needs_dotenv': 'dotenv', 'needs_orjson': 'orjson', 'needs_kubernetes': 'kubernetes',
            'needs_pyroscope': 'pyroscope', 'needs_watchfiles': 'watchfiles', 'needs_dask': 'distributed',
            'needs_redis': 'redis', 'needs_web': 'uvicorn', 'needs_fastapi': 'fastapi', 'needs_gunicorn': 'gunicorn',
            'needs_hypercorn': 'hypercorn', 'needs_otel': 'opentelemetry.sdk', 'needs_metrics': 'prometheus_client'}
OPTIONAL_MODULES = set(OPTIONAL.values()) | {'tomli', 'kubernetes.client'}

ALLOWED_SKIPS = (
    r'taskName is Python 3\.12\+',
    r'bpo-29988: before Python 3\.10',
    r'needs SIGKILL',
    r'no second python >= 3\.9 found',
    r'cannot create symlinks here',
    r'fake executables are POSIX',
    r'os.environ on Windows has other internals',
    r'pyroscope-io (is not installed|cannot be imported here)',
    # tests/differential: the oracle (the original 0.0.69) comes from the package index; only an unreachable index
    r'package index unreachable: cannot install the original scitrera-app-framework',
    # the Redis tests need a redis-server binary (make test installs one); CI must have it
    *(() if os.environ.get('CI') else (r'redis-server binary not found',)),
)

_skips: list[tuple[str, str]] = []


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def pytest_configure(config: pytest.Config) -> None:
    for marker, module in OPTIONAL.items():
        config.addinivalue_line('markers', f'{marker}: needs the optional dependency {module!r}')
    # the suite uses every name from its home: a deprecated import path of ours (scitrera_app_framework._exports)
    # is an error here, except where a test asks for the warning (pytest.warns)
    config.addinivalue_line('filterwarnings',
                            r'error:scitrera_app_framework\.\S+ is deprecated since:DeprecationWarning')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, module in OPTIONAL.items():
            if item.get_closest_marker(marker) is not None and not _installed(module):
                item.add_marker(pytest.mark.skip(reason=f'optional dependency {module!r} is not installed'))


def _allowed(reason: str) -> bool:
    m = re.search(r"optional dependency '([\w.]+)' is not installed|could not import '([\w.]+)'", reason)
    if m is not None:
        module = m.group(1) or m.group(2)
        return module in OPTIONAL_MODULES and not _installed(module)
    return any(re.search(p, reason) for p in ALLOWED_SKIPS)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, 'wasxfail'):
        longrepr: Any = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _skips.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    bad = [(nodeid, reason) for nodeid, reason in _skips if not _allowed(reason)]
    if not bad:
        return
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    if reporter is not None:
        reporter.write_sep('=', f'{len(bad)} unexpected skip(s): fix them or allow them in tests/conftest.py',
                           red=True)
        for nodeid, reason in bad:
            reporter.write_line(f'{nodeid}: {reason}')
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
