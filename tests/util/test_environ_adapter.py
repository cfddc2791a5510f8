"""The adapter over os.environ's internals (``util._environ``): fails loudly if an interpreter changes them, and
stays live through every way of changing the environment."""

from __future__ import annotations

import os
import sys
from unittest import mock

import pytest

from scitrera_app_framework.util import _environ


@pytest.mark.skipif(sys.platform == 'win32', reason='os.environ on Windows has other internals')
def test_os_environ_internals_are_there() -> None:
    assert _environ.FAST, ('os.environ lost _data/encodekey/decodevalue on this interpreter: Variables falls back '
                           'to os.environ.get (correct, slower); update util/_environ.py')


def test_reads_are_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_ADAPTER', 'one')
    assert _environ.env_get('saf_t_adapter') == 'one'
    os.environ['SAF_T_ADAPTER'] = 'two'
    assert _environ.env_get('saf_t_adapter') == 'two'
    with mock.patch.dict(os.environ, {'SAF_T_ADAPTER': 'three'}):
        assert _environ.env_get('SAF_T_ADAPTER') == 'three'
    os.environ.update(SAF_T_ADAPTER='four')
    assert _environ.env_get('SAF_T_ADAPTER') == 'four'
    del os.environ['SAF_T_ADAPTER']
    assert _environ.env_get('saf_t_adapter') is None


def test_non_names_never_match() -> None:
    assert _environ.env_get('') is None
    assert _environ.env_get('=|internal|') is None
    assert _environ.env_get('bad\udcffname') is None


def test_caches_are_bounded() -> None:
    for i in range(_environ.CACHE_MAX + 20):
        _environ.encoded_key(f'saf_t_name_{i}')
    assert len(_environ.KEYS) <= _environ.CACHE_MAX
    assert "saf_t_name_" + str(_environ.CACHE_MAX + 19) in _environ.KEYS  # the newest stay: no full clear
