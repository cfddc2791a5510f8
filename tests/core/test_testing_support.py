"""scitrera_app_framework.testing: reset_framework() and the ``saf`` pytest fixture (pytest11 entry point)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from scitrera_app_framework import Variables, get_variables, init_framework, init_framework_test_harness
from scitrera_app_framework.core.defaults import peek_default_variables
from scitrera_app_framework.core.shutdown import get_shutdown_manager
from scitrera_app_framework.testing import reset_framework

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_', 'PYTEST_')
_ENV_KEYS = ('APP_NAME',)


def _env(**extra: str) -> dict[str, str]:
    env = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
    env.update(extra)
    return env


def test_reset_framework_restores_the_process(tmp_path: Path) -> None:
    code = """
        import json, logging, os, signal
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as if started from a terminal
        from scitrera_app_framework import (Plugin, get_variables, init_framework, register_plugin,
                                            register_shutdown_function)
        from scitrera_app_framework.core.defaults import peek_default_variables
        from scitrera_app_framework.core.shutdown import get_shutdown_manager
        from scitrera_app_framework.testing import reset_framework

        class P(Plugin):
            eager = True
            def initialize(self, v, logger):
                return 'p'
            def shutdown(self, v, logger, value):
                print('P-shutdown', value, flush=True)

        os.makedirs('root')
        os.environ['STATEFUL_ROOT'] = 'root'
        cwd0 = os.getcwd()
        root = logging.getLogger()
        host = logging.NullHandler()
        root.addHandler(host)
        handlers0 = list(root.handlers)

        def state(v=None):
            return {'cwd0': os.getcwd() == cwd0, 'handlers0': root.handlers == handlers0,
                    'sigterm_dfl': signal.getsignal(signal.SIGTERM) is signal.SIG_DFL,
                    'sigint_default': signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                    'default_is_v': peek_default_variables() is v if v is not None else None,
                    'default_none': peek_default_variables() is None,
                    'hooks': len(get_shutdown_manager().hooks), 'apps': len(get_shutdown_manager().apps)}

        v = init_framework('svc')
        register_plugin(P, v, init=True)
        register_shutdown_function(print, 'hook-should-not-run')
        print(json.dumps(state(v)), flush=True)
        reset_framework()
        print(json.dumps(state()), flush=True)
        print(json.dumps({'fresh_default': get_variables() is not v}), flush=True)
        reset_framework()  # idempotent

        # a handler the host installed before init is restored, not SIG_DFL
        def host_handler(signum, frame):
            pass
        signal.signal(signal.SIGTERM, host_handler)
        v2 = init_framework('svc2')
        replaced = signal.getsignal(signal.SIGTERM) is not host_handler
        in_stateful = os.getcwd() != cwd0
        reset_framework()
        print(json.dumps({'replaced': replaced, 'in_stateful': in_stateful,
                          'restored': signal.getsignal(signal.SIGTERM) is host_handler,
                          'cwd0': os.getcwd() == cwd0}), flush=True)
    """
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=_env(), cwd=tmp_path,
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert 'hook-should-not-run' not in lines  # hooks forgotten, atexit hook unregistered
    during = json.loads(lines[0])
    assert during == {'cwd0': False, 'handlers0': False, 'sigterm_dfl': False, 'sigint_default': False,
                      'default_is_v': True, 'default_none': False, 'hooks': 1, 'apps': 1}
    assert lines[1] == 'P-shutdown p'  # the default Variables' plugins were shut down
    assert json.loads(lines[2]) == {'cwd0': True, 'handlers0': True, 'sigterm_dfl': True, 'sigint_default': True,
                                    'default_is_v': None, 'default_none': True, 'hooks': 0, 'apps': 0}
    assert json.loads(lines[3]) == {'fresh_default': True}
    assert json.loads(lines[4]) == {'replaced': True, 'in_stateful': True, 'restored': True, 'cwd0': True}
    assert lines[5:] == []


def test_reset_framework_in_process() -> None:
    root = logging.getLogger()
    level0 = root.level
    handlers0 = list(root.handlers)
    sigterm0 = signal.getsignal(signal.SIGTERM)
    sigint0 = signal.getsignal(signal.SIGINT)
    cwd0 = os.getcwd()
    reset_framework()
    try:
        v = init_framework('svc', v=Variables(), fault_handler=False, stateful=False)
        assert get_variables() is v
        assert signal.getsignal(signal.SIGTERM) is not sigterm0
    finally:
        reset_framework()
        root.setLevel(level0)
    assert root.handlers == handlers0
    assert signal.getsignal(signal.SIGTERM) == sigterm0
    assert signal.getsignal(signal.SIGINT) == sigint0
    assert peek_default_variables() is None
    assert get_shutdown_manager().hooks == []
    assert os.getcwd() == cwd0


_FIXTURE_TESTS = '''
import logging
import signal

from scitrera_app_framework import Variables, get_logger, get_variables, register_shutdown_function
from scitrera_app_framework.core.defaults import peek_default_variables
from scitrera_app_framework.core.shutdown import get_shutdown_manager


def _saf_handlers():
    return [h for h in logging.getLogger().handlers if getattr(h, 'saf_handler', False)]


def test_fixture_gives_a_harness_framework(saf):
    assert isinstance(saf, Variables)
    assert get_variables() is saf
    assert get_logger(saf).name == 'saf-test'
    assert logging.getLogger().level == logging.DEBUG
    assert len(_saf_handlers()) == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    saf.set('LEAK', 'x')
    register_shutdown_function(print, 'leaked-hook')


def test_each_test_gets_a_fresh_one(saf):
    assert saf.get('LEAK') is None
    assert get_shutdown_manager().hooks == [] and get_shutdown_manager().apps == ['saf-test']


def test_zz_after_fixture_everything_is_reset():
    assert peek_default_variables() is None
    assert _saf_handlers() == []
    assert get_shutdown_manager().hooks == []
'''


def _run_pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    (tmp_path / 'test_uses_saf.py').write_text(_FIXTURE_TESTS)
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *args, 'test_uses_saf.py'],
                          env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_saf_fixture_from_the_entry_point(tmp_path: Path) -> None:
    proc = _run_pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '3 passed' in proc.stdout
    assert 'leaked-hook' not in proc.stdout + proc.stderr


def test_saf_fixture_comes_from_the_pytest11_plugin(tmp_path: Path) -> None:
    # with the entry-point plugin disabled, the fixture is gone: it is not defined by any conftest
    proc = _run_pytest(tmp_path, '-p', 'no:scitrera_app_framework')
    assert proc.returncode != 0
    assert "fixture 'saf' not found" in proc.stdout


def test_reset_framework_restores_the_root_logger_level() -> None:
    root = logging.getLogger()
    level0 = root.level
    root.setLevel(logging.ERROR)
    try:
        reset_framework()
        try:
            init_framework_test_harness('svc', v=Variables())
            assert root.level == logging.DEBUG
        finally:
            reset_framework()
        assert root.level == logging.ERROR
    finally:
        root.setLevel(level0)


@pytest.fixture
def keep_root_level() -> Iterator[None]:
    level0 = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level0)


@pytest.mark.parametrize('attempt', [1, 2])
def test_saf_fixture_in_this_process(keep_root_level: None, saf: Variables, attempt: int) -> None:
    assert get_variables() is saf
    assert saf.get('SET_BY_FIRST') is None
    saf.set('SET_BY_FIRST', attempt)


def test_the_pytest_plugin_loads_nothing_of_the_framework() -> None:
    """pytest loads the plugin into every run of a project that has the package installed: it must be cheap."""
    code = ('import sys; import scitrera_app_framework.testing.pytest_plugin; '
            'print(sorted(m for m in sys.modules if m.startswith("scitrera_app_framework")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=30, env=_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("['scitrera_app_framework', 'scitrera_app_framework._version', "  # one constant
                                  "'scitrera_app_framework.testing', 'scitrera_app_framework.testing.pytest_plugin']")
