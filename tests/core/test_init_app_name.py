"""init_framework: how the app name is computed from the base name, app parameters and the environment.

In-process: every test uses its own ``Variables``, a clean environment and ``reset_framework()`` afterwards.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from scitrera_app_framework import Variables, get_logger, init_framework
from scitrera_app_framework.core.core import get_app_params
from scitrera_app_framework.core.plugins import describe_plugins
from scitrera_app_framework.testing import reset_framework

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME', 'REGION', 'TIER', 'ZONE')


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for k in list(os.environ):
        if k.startswith(_ENV_PREFIXES) or k in _ENV_KEYS:
            monkeypatch.delenv(k)
    # keep the pytest process free of signal handlers / atexit hooks / fault handler changes
    monkeypatch.setenv('SAF_INSTALL_SHUTDOWN_HOOKS', 'false')
    monkeypatch.setenv('SAF_ENABLE_PYTHON_FAULT_HANDLER', 'false')
    monkeypatch.chdir(tmp_path)  # ./scratch does not exist here: no stateful directory
    level0 = logging.getLogger().level  # reset_framework does not restore it (see test_testing_support)
    reset_framework()
    try:
        yield
    finally:
        reset_framework()
        logging.getLogger().setLevel(level0)


def _name(**kwargs: Any) -> str:
    v = init_framework(kwargs.pop('base', 'svc'), v=Variables(), **kwargs)
    name = get_logger(v).name
    assert v.get('APP_NAME') == name
    return name


def test_params_are_appended_with_sep(fresh: None) -> None:
    assert _name(region='eu') == 'svc-eu'
    assert _name(region='eu', tier='gold') == 'svc-eu-gold'
    assert _name(region='eu', tier='gold', sep='_') == 'svc_eu_gold'
    assert _name(region='eu', sep='.') == 'svc.eu'


def test_no_params_is_the_base_name(fresh: None) -> None:
    assert _name() == 'svc'
    assert _name(base='other') == 'other'


def test_empty_param_values_add_no_part(fresh: None) -> None:
    assert _name(region=None, tier='gold') == 'svc-gold'
    assert _name(region='', tier='gold') == 'svc-gold'


def test_non_string_params_are_stringified(fresh: None) -> None:
    assert _name(shard=3) == 'svc-3'


def test_unnamed_params_do_not_change_the_name(fresh: None) -> None:
    v = init_framework('svc', v=Variables(), unnamed_params=('zone',), region='eu', zone='z1')
    assert get_logger(v).name == 'svc-eu'
    assert get_app_params(v) == {'region': 'eu', 'zone': 'z1'}


def test_a_secret_named_param_never_becomes_part_of_the_name(fresh: None) -> None:
    """``init_framework('svc', api_token=...)``: the token would otherwise be in the logger name, so in every log
    line; it stays an app parameter (a static field, masked by name) and its value is a known secret value."""
    from scitrera_app_framework.util.secrets import mask_text
    v = init_framework('svc', v=Variables(), region='eu', api_token='tok-7f3a9c21e0')
    assert get_logger(v).name == 'svc-eu'
    assert get_app_params(v) == {'region': 'eu', 'api_token': 'tok-7f3a9c21e0'}
    assert 'tok-7f3a9c21e0' not in mask_text('upstream refused tok-7f3a9c21e0')


def test_environment_overrides_a_param(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('REGION', 'us')
    v = init_framework('svc', v=Variables(), region='eu')
    assert get_logger(v).name == 'svc-us'
    assert get_app_params(v) == {'region': 'us'}


def test_environment_overrides_an_unnamed_param_without_renaming(fresh: None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('ZONE', 'z9')
    v = init_framework('svc', v=Variables(), unnamed_params=['zone'], region='eu', zone='z1')
    assert get_logger(v).name == 'svc-eu'
    assert get_app_params(v)['zone'] == 'z9'


def test_app_name_env_overrides_the_computed_name(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('APP_NAME', 'custom')
    monkeypatch.setenv('REGION', 'us')
    v = init_framework('svc', v=Variables(), region='eu')
    assert get_logger(v).name == 'custom'
    assert v.get('APP_NAME') == 'custom'
    assert v.get('SAF_BASE_APP_NAME') == 'svc'
    assert get_app_params(v) == {'region': 'us'}  # params still resolved


def test_base_app_name_is_recorded(fresh: None) -> None:
    v = init_framework('svc', v=Variables(), region='eu')
    assert v.get('SAF_BASE_APP_NAME') == 'svc'


def test_the_app_logger_is_a_plain_logger_named_after_the_app(fresh: None) -> None:
    v = init_framework('svc', v=Variables(), region='eu')
    assert get_logger(v) is logging.getLogger('svc-eu')
    assert get_logger(v, name='child').name == 'svc-eu.child'


def test_switch_keywords_set_to_false_are_not_params(fresh: None) -> None:
    v = init_framework('svc', v=Variables(), base_plugins=False, pyroscope=False, multitenant=False,
                       entry_points=False, region='eu')
    assert get_logger(v).name == 'svc-eu'
    assert get_app_params(v) == {'region': 'eu'}


def test_base_plugins_keyword_does_not_change_the_name(fresh: None) -> None:
    v = init_framework('svc', v=Variables(), base_plugins=True, region='eu')
    assert get_logger(v).name == 'svc-eu'
    assert get_app_params(v) == {'region': 'eu'}


@pytest.mark.parametrize('keyword', ['pyroscope', 'multitenant'])
def test_plugin_switch_keywords_do_not_change_the_name(fresh: None, keyword: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # the profiler (if it starts) must only ever talk to loopback: port 9 (discard) on 127.0.0.1
    monkeypatch.setenv('PYROSCOPE_SERVER', 'http://127.0.0.1:9')
    monkeypatch.setenv('PYROSCOPE_SHUTDOWN_TIMEOUT', '1')
    v = init_framework('svc', v=Variables(), region='eu', **{keyword: True})
    assert get_logger(v).name == 'svc-eu'
    assert get_app_params(v) == {'region': 'eu'}
    assert describe_plugins(v), f'{keyword}=True registered no plugin'
