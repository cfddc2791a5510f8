"""init_framework options: re-init, fault handler, env type errors, load_strategy, log_framework_variables."""

from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from scitrera_app_framework import Variables, init_framework, init_framework_test_harness
from scitrera_app_framework.api.constants import EnvPlacement
from scitrera_app_framework.core import log_framework_variables
from scitrera_app_framework.core.core import load_object, load_strategy
from scitrera_app_framework.testing import reset_framework

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME', 'REGION')


def _run(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
    full.update(env)
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 0, f'rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}'
    return proc


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for k in list(os.environ):
        if k.startswith(_ENV_PREFIXES) or k in _ENV_KEYS:
            monkeypatch.delenv(k)
    monkeypatch.setenv('SAF_ENABLE_PYTHON_FAULT_HANDLER', 'false')
    monkeypatch.chdir(tmp_path)
    level0 = logging.getLogger().level  # reset_framework does not restore it (see test_testing_support)
    reset_framework()
    try:
        yield monkeypatch
    finally:
        reset_framework()
        logging.getLogger().setLevel(level0)


# --- re-init --------------------------------------------------------------------------------------------------
def test_reinit_on_same_variables_duplicates_nothing(tmp_path: Path) -> None:
    proc = _run("""
        import json, logging, signal
        from scitrera_app_framework import Variables, init_framework, register_plugin, Plugin
        from scitrera_app_framework.core.plugins import describe_plugins
        from scitrera_app_framework.core.shutdown import get_shutdown_manager

        class P(Plugin):
            eager = True
            def initialize(self, v, logger):
                print('init-P', flush=True)
                return 1
            def shutdown(self, v, logger, value):
                print('shutdown-P', flush=True)

        def snapshot(v):
            root = logging.getLogger()
            return {'saf_handlers': sum(1 for h in root.handlers if getattr(h, 'saf_handler', False)),
                    'handlers': len(root.handlers), 'hooks': get_shutdown_manager().hooks,
                    'apps': get_shutdown_manager().apps,
                    'plugins': sorted(d['name'] for d in describe_plugins(v)),
                    'sigterm': signal.getsignal(signal.SIGTERM) == get_shutdown_manager()._on_signal}

        v = init_framework('svc', base_plugins=True, region='eu')
        register_plugin(P, v, init=True)
        first = snapshot(v)
        init_framework('svc', v=v, base_plugins=True, region='eu')
        init_framework('svc', v=v, base_plugins=True, log_format='json', region='eu')
        second = snapshot(v)
        print(json.dumps({'first': first, 'second': second}))
    """, tmp_path)
    lines = proc.stdout.splitlines()
    data = json.loads(lines[-2])
    assert data['first'] == data['second']
    assert data['first']['saf_handlers'] == 1 and data['first']['handlers'] == 1
    assert data['first']['hooks'] == [] and data['first']['apps'] == ['svc-eu']
    assert data['first']['sigterm'] is True
    assert lines.count('init-P') == 1
    assert lines[-1] == 'shutdown-P'  # plugin shut down once, at exit
    # a second init_framework on the same Variables returns it unchanged (as the original since 0.0.61): the
    # log format stays plain
    assert 'starting app=svc-eu' in proc.stderr and '{"' not in proc.stderr


def test_init_with_a_second_variables_adds_its_own_plugin_shutdown(tmp_path: Path) -> None:
    proc = _run("""
        from scitrera_app_framework import Variables, init_framework
        from scitrera_app_framework.core.shutdown import get_shutdown_manager
        init_framework('a')
        init_framework('b', v=Variables())
        print(' '.join(get_shutdown_manager().apps), len(get_shutdown_manager().hooks))
    """, tmp_path)
    assert proc.stdout.split() == ['b', 'a', '0']


# --- fault handler --------------------------------------------------------------------------------------------
def test_fault_handler_on_and_off(tmp_path: Path) -> None:
    proc = _run("""
        import faulthandler, os
        from scitrera_app_framework import Variables, init_framework
        out = [faulthandler.is_enabled()]
        init_framework('a', v=Variables(), fault_handler=False); out.append(faulthandler.is_enabled())
        init_framework('a', v=Variables()); out.append(faulthandler.is_enabled())           # default: on
        faulthandler.disable()
        os.environ['SAF_ENABLE_PYTHON_FAULT_HANDLER'] = 'false'
        init_framework('a', v=Variables(), fault_handler=True); out.append(faulthandler.is_enabled())
        os.environ['SAF_ENABLE_PYTHON_FAULT_HANDLER'] = 'true'
        init_framework('a', v=Variables(), fault_handler=False); out.append(faulthandler.is_enabled())
        print(out)
    """, tmp_path)
    assert proc.stdout.strip() == '[False, False, True, False, True]'


def test_fault_handler_dumps_on_a_crash(tmp_path: Path) -> None:
    code = """
        import faulthandler
        from scitrera_app_framework import init_framework
        init_framework('svc')
        faulthandler._sigsegv()
    """
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0
    assert 'Fatal Python error' in proc.stderr


# --- environment type errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize('key, value', [
    ('SAF_INSTALL_SHUTDOWN_HOOKS', 'perhaps'),
    ('SAF_SETUP_STATEFUL', 'sometimes'),
    ('SAF_ENABLE_PYTHON_FAULT_HANDLER', 'dunno'),
    ('SAF_SHUTDOWN_HOOK_VIA_ATEXIT', '2'),
    ('SAF_BASE_PLUGINS', 'enabled'),
])
def test_bad_boolean_env_names_variable_and_value(clean_env: pytest.MonkeyPatch, key: str, value: str) -> None:
    clean_env.setenv(key, value)
    with pytest.raises(ValueError) as ei:
        init_framework('svc', v=Variables())
    assert key in str(ei.value) and repr(value) in str(ei.value)


# --- load_strategy (the original's contract) --------------------------------------------------------------------
class _Base:
    pass


class _Impl(_Base):
    def __init__(self, **kwargs: object) -> None:
        self.kwargs = kwargs


def test_load_strategy_type_and_kwargs() -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.update({'STRATEGY_TYPE': f'{__name__}._Impl', 'STRATEGY_MAX_SIZE': '3', 'STRATEGY_Mode': 'fast',
              'OTHER_X': 1})
    cls, kwargs = load_strategy(v, _Base)
    assert cls is _Impl and kwargs == {'max_size': '3', 'mode': 'fast'}
    assert cls(**kwargs).kwargs == kwargs


def test_load_strategy_custom_prefix_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_CACHE_TYPE', 'collections.OrderedDict')
    monkeypatch.setenv('SAF_T_CACHE_SIZE', '10')
    cls, kwargs = load_strategy(Variables(), dict, prefix='SAF_T_CACHE')
    assert cls is collections.OrderedDict and kwargs == {'size': '10'}
    cls, kwargs = load_strategy(Variables(), dict, prefix='SAF_T_CACHE', drop_prefix=False)
    assert kwargs == {'saf_t_cache_size': '10'}


def test_load_strategy_without_type_gives_none() -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.set('STRATEGY_SIZE', 2)
    assert load_strategy(v, _Base) == (None, {'size': 2})


@pytest.mark.parametrize('value', ['no_such_module_xyz.Thing', 'collections.NoSuchName', 'collections.OrderedDict',
                                   'invalid'])
def test_load_strategy_bad_type_is_logged_and_gives_none(value: str, caplog: pytest.LogCaptureFixture) -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.update({'STRATEGY_TYPE': value, 'STRATEGY_SIZE': 2})
    with caplog.at_level(logging.ERROR):
        assert load_strategy(v, _Base) == (None, {'size': 2})
    assert any('STRATEGY_TYPE' in r.getMessage() and value in r.getMessage() for r in caplog.records)


# --- load_object (our old load_strategy) ----------------------------------------------------------------------
def test_load_object_from_a_local_value() -> None:
    v = Variables()
    v.set('MY_STRATEGY', 'collections.OrderedDict')
    assert load_object(v, 'MY_STRATEGY') is collections.OrderedDict
    assert load_object(v, 'MY_STRATEGY', parent_type=dict) is collections.OrderedDict


def test_load_object_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_TEST_STRATEGY', 'json.dumps')
    v = Variables()
    assert load_object(v, 'SAF_TEST_STRATEGY', default='json.loads') is json.dumps


def test_load_object_default_path_and_default_object() -> None:
    v = Variables()
    assert load_object(v, 'UNSET_STRATEGY_X', default='json.loads') is json.loads
    assert load_object(v, 'UNSET_STRATEGY_Y', default=collections.Counter, parent_type=dict) is collections.Counter


@pytest.mark.parametrize('value', ['no_such_module_xyz.Thing', 'collections.NoSuchName', 'not a path'])
def test_load_object_bad_path_names_variable_and_value(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv('SAF_TEST_STRATEGY', value)
    with pytest.raises(ValueError) as ei:
        load_object(Variables(), 'SAF_TEST_STRATEGY')
    assert 'SAF_TEST_STRATEGY' in str(ei.value) and repr(value) in str(ei.value)
    assert ei.value.__cause__ is not None


def test_load_object_parent_type_check() -> None:
    v = Variables()
    v.set('MY_STRATEGY', 'collections.OrderedDict')
    with pytest.raises(ValueError) as ei:
        load_object(v, 'MY_STRATEGY', parent_type=list)
    msg = str(ei.value)
    assert 'MY_STRATEGY' in msg and 'collections.OrderedDict' in msg and 'list' in msg
    v.set('FN_STRATEGY', 'json.dumps')
    with pytest.raises(ValueError, match='FN_STRATEGY'):
        load_object(v, 'FN_STRATEGY', parent_type=object)  # a function is not a class
    with pytest.raises(ValueError, match='OTHER'):
        load_object(v, 'OTHER', default=collections.Counter, parent_type=list)


def test_load_object_unset_without_default() -> None:
    with pytest.raises(ValueError, match='NOT_CONFIGURED_STRATEGY'):
        load_object(Variables(), 'NOT_CONFIGURED_STRATEGY')


# --- log_framework_variables ----------------------------------------------------------------------------------
def test_log_framework_variables_masks_secrets(caplog: pytest.LogCaptureFixture) -> None:
    v = Variables()
    v.set('DB_PASSWORD', 'hunter2')
    v.set('API_TOKEN', 'tok-123')
    v.set('x_auth', 'auth-456')
    v.set('EMPTY_SECRET', '')
    v.set('PLAIN', 'visible')
    v.environ('WITH_DEFAULT', default='dflt')
    logger = logging.getLogger('test.logvars')
    with caplog.at_level(logging.INFO, logger='test.logvars'):
        out = log_framework_variables(v, logger=logger)
    assert out['DB_PASSWORD'] == '****' and out['API_TOKEN'] == '****' and out['x_auth'] == '****'
    assert out['PLAIN'] == 'visible' and out['WITH_DEFAULT'] == 'dflt'
    assert out['EMPTY_SECRET'] == ''
    assert not any(k.startswith('=|') for k in out)
    assert len(caplog.records) == 1
    text = caplog.records[0].getMessage()
    for secret in ('hunter2', 'tok-123', 'auth-456'):
        assert secret not in text
    assert 'DB_PASSWORD' in text and 'visible' in text and text.startswith('framework variables')


def test_log_framework_variables_the_original_signature(caplog: pytest.LogCaptureFixture) -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.update({'APP_A': 1, 'APP_B': 2, 'APP_SKIP_C': 3, 'OTHER': 4})
    with caplog.at_level(logging.INFO):
        out = log_framework_variables(v, ('app_',), ('APP_SKIP',), True)
    assert out == {'APP_A': 1, 'APP_B': 2}
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert msgs[0] == 'framework variables: APP_A=1, APP_B=2'
    assert msgs[1].startswith('module versions: python==') and 'scitrera-app-framework==' in msgs[1]


def test_debug_init_logs_variables_with_secrets_masked(clean_env: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    clean_env.setenv('SAF_INSTALL_SHUTDOWN_HOOKS', 'false')
    v = Variables()
    v.set('SERVICE_API_KEY', 'sk-live-999')
    v.set('VISIBLE_SETTING', 'abc')
    with caplog.at_level(logging.DEBUG):
        init_framework_test_harness('svc', v=v)
    text = caplog.text
    assert 'SERVICE_API_KEY' in text and 'VISIBLE_SETTING' in text
    assert 'sk-live-999' not in text


def test_get_logger_before_init_is_saf_and_warns_once(tmp_path: Path) -> None:
    proc = _run("""
        from scitrera_app_framework import get_logger, init_framework
        a = get_logger()
        b = get_logger(name='child')
        print(a.name, b.name)
        v = init_framework('svc')
        print(get_logger(v).name)
    """, tmp_path)
    assert proc.stdout.splitlines()[:2] == ['SAF SAF.child', 'svc']
    assert proc.stderr.count('called before init_framework()') == 1
