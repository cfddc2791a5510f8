"""Choosing the background executor's backend (``SAF_JOB_BACKEND``); none of this needs Dask installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Iterator

import pytest

from scitrera_app_framework.api import Variables
from scitrera_app_framework.base_plugins import get_background_exec
from scitrera_app_framework.base_plugins.background import (
    BackgroundExecutor,
    JobBackendConfigError,
    JobExecutor,
    parse_job_backend,
)
from scitrera_app_framework.core.plugins import PluginInitError, shutdown_all_plugins
from scitrera_app_framework.exceptions import ConfigurationError, SAFError


@pytest.fixture
def v(monkeypatch: pytest.MonkeyPatch) -> Iterator[Variables]:
    for key in ('SAF_JOB_BACKEND', 'SAF_DASK_SCHEDULER', 'SAF_JOB_THREADS'):
        monkeypatch.delenv(key, raising=False)
    v = Variables()
    yield v
    shutdown_all_plugins(v)


@pytest.mark.parametrize('raw, expected', [(None, 'thread'), ('', 'thread'), (' Thread ', 'thread'),
                                           ('DASK', 'dask')])
def test_parse_job_backend(raw: object, expected: str) -> None:
    assert parse_job_backend(raw) == expected


def test_thread_is_the_default_backend(v: Variables) -> None:
    ex = get_background_exec(v)
    assert isinstance(ex, BackgroundExecutor) and isinstance(ex, JobExecutor)
    assert ex.backend == 'thread'


def test_an_unknown_backend_is_an_error_naming_the_variable(v: Variables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_JOB_BACKEND', 'celery')
    with pytest.raises(PluginInitError) as info:
        get_background_exec(v)
    text = str(info.value) + str(info.value.__cause__)
    assert 'SAF_JOB_BACKEND' in text and 'celery' in text and 'thread, dask' in text


def test_dask_backend_without_distributed_names_the_extra(v: Variables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'distributed', None)  # makes "import distributed" fail
    monkeypatch.setenv('SAF_JOB_BACKEND', 'dask')
    with pytest.raises(PluginInitError) as info:
        get_background_exec(v)
    cause = info.value.__cause__
    assert isinstance(cause, JobBackendConfigError) and isinstance(cause, ConfigurationError)
    assert "scitrera-app-framework[dask]" in str(cause)


def test_backend_errors_are_framework_errors() -> None:
    from scitrera_app_framework.base_plugins.background import JobBackendError
    from scitrera_app_framework.ext_plugins.redis_tenants import TenantStoreUnavailableError

    assert issubclass(JobBackendError, SAFError) and issubclass(JobBackendError, RuntimeError)
    assert issubclass(TenantStoreUnavailableError, SAFError) and issubclass(TenantStoreUnavailableError,
                                                                            ConnectionError)


_NO_IMPORT = r'''
import json, sys
from scitrera_app_framework import init_framework_test_harness, get_background_exec
from scitrera_app_framework.ext_plugins import multi_tenant
v = init_framework_test_harness('no-dask')
ex = get_background_exec(v)
assert ex.submit(sum, [1, 2]).result(5) == 3
ex.shutdown(wait=True)
print(json.dumps(sorted(m for m in ('dask', 'distributed', 'redis', 'tornado', 'cloudpickle') if m in sys.modules)))
'''


def test_an_app_that_does_not_ask_imports_neither_dask_nor_redis() -> None:
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
    proc = subprocess.run([sys.executable, '-c', _NO_IMPORT], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
