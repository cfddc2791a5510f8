"""Helpers apps built on the original 0.0.69 call with what their configuration chain hands them: stand-in ``v``
objects, odd values for ``ext_parse_bool``, attribute reads and writes on ``Variables``, prefix imports."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any
from unittest.mock import MagicMock

import pytest

from scitrera_app_framework.api import Variables
from scitrera_app_framework.util import import_modules
from scitrera_app_framework.util.parsing import ext_parse_bool, parse_bool_strict


class StandIn:
    """What apps' tests pass as ``v``: an object with ``get`` only."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


# --- 4. stand-in v ---------------------------------------------------------------------------------------------
def test_get_logger_with_a_stand_in_falls_back_to_the_saf_logger() -> None:
    from scitrera_app_framework.core.logs import get_logger

    logger = get_logger(StandIn(), name='svc')  # type: ignore[arg-type]
    assert isinstance(logger, logging.Logger) and logger.name == 'SAF.svc'
    assert get_logger(StandIn()).name == 'SAF'  # type: ignore[arg-type]


def test_get_logger_with_a_stand_in_holding_the_originals_logger_uses_it() -> None:
    from scitrera_app_framework import get_logger

    mine = logging.getLogger('saf-t-standin-app')
    assert get_logger(StandIn(**{'=|main_logger|': mine}), name='x').name == 'saf-t-standin-app.x'  # type: ignore


def test_get_logger_takes_a_logger_second_as_the_original() -> None:
    """0.0.69's signature is get_logger(v, logger=None, name=None): a logger passed is returned (its child with a
    name); a name given by keyword still names a child of the app logger."""
    from scitrera_app_framework import get_logger

    v = Variables()
    mine = logging.getLogger('saf-t-passed-logger')
    assert get_logger(v, mine) is mine
    assert get_logger(v, logger=mine) is mine
    assert get_logger(v, mine, 'child').name == 'saf-t-passed-logger.child'
    assert get_logger(v, mine, name='kw').name == 'saf-t-passed-logger.kw'
    assert get_logger(StandIn(), mine) is mine  # type: ignore[arg-type]
    assert get_logger(v, name='x').name.endswith('.x')
    assert get_logger(v, 'older').name.endswith('.older')  # our earlier get_logger(v, name) still works


def test_get_logger_with_a_magicmock_does_not_raise() -> None:
    from scitrera_app_framework import get_logger

    get_logger(MagicMock(), name='svc').info('works')


def test_is_stateful_ready_with_a_stand_in() -> None:
    from scitrera_app_framework.core import is_stateful_ready

    assert is_stateful_ready(StandIn()) is None  # type: ignore[arg-type]


# --- 5. import_from_env_by_prefix returns the merged view ------------------------------------------------------
def test_import_from_env_by_prefix_returns_the_merged_view(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_MERGE_A', '1')
    v = Variables()
    v.set('SAF_T_MERGE_B', '2')
    assert v.import_from_env_by_prefix('SAF_T_MERGE') == {'a': '1', 'b': '2'}
    assert v.get('SAF_T_MERGE_A') == '1'
    assert v.export_all_variables()['SAF_T_MERGE_A'] == '1'  # copied into v


# --- 6. ext_parse_bool never raises where the original answered ---------------------------------------------
@pytest.mark.parametrize('value, expected', [
    ('enabled', False), (2, False), ('yes please', True), ('not', True), ('nope', False), ('maybe', True),
    ('', False), (None, False), (0, False), (0.0, False), ([], False), (1, True), (1.0, True), ('TRUE', True),
    ('Y', True), ('false', False), ('no', False), ('0', False), (b'yes', True), (True, True), (False, False),
    ('   ', False),
])
def test_ext_parse_bool_answers_like_the_original(value: Any, expected: bool) -> None:
    assert ext_parse_bool(value) is expected


def test_ext_parse_bool_on_objects_that_are_not_strings() -> None:
    assert ext_parse_bool(MagicMock()) is True  # its text has a '1' in its id, as the original read it
    assert ext_parse_bool(object()) is True  # '<object object at 0x...>' has a 't'


def test_ext_parse_bool_reads_on_and_off_as_people_mean_them() -> None:
    # a documented difference: the original read 'on' as False (no 1/t/y in it)
    assert ext_parse_bool('on') is True and ext_parse_bool(' ON ') is True
    assert ext_parse_bool('off') is False


@pytest.mark.parametrize('value', ['enabled', 'not', 'maybe', 'yes please', 2, MagicMock()])
def test_parse_bool_strict_still_refuses_what_is_not_a_boolean(value: Any) -> None:
    with pytest.raises(ValueError, match='as a boolean'):
        parse_bool_strict(value)


def test_typed_settings_keep_strict_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework.settings import Settings, SettingsError

    class S(Settings):
        flag: bool = False

    monkeypatch.setenv('FLAG', 'enabled')
    with pytest.raises(SettingsError):
        S.load(Variables())


def test_framework_switches_keep_strict_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework import init_framework_test_harness

    monkeypatch.setenv('SAF_DEBUG_PLUGINS', 'enabled')
    with pytest.raises(ValueError, match='SAF_DEBUG_PLUGINS'):
        init_framework_test_harness('saf-t-strict', v=Variables())


# --- 7. import_modules of a plain module ---------------------------------------------------------------------
def test_import_modules_of_a_plain_module_says_is_not_a_package() -> None:
    with pytest.raises(ValueError, match="'string' is not a package"):
        import_modules('string')


# --- 8. attribute reads never change the class ---------------------------------------------------------------
def test_reading_an_attribute_does_not_change_the_class_and_another_instance_can_set_it() -> None:
    code = (
        'from scitrera_app_framework import Variables\n'
        'before = dict(vars(Variables))\n'
        'a, b = Variables(), Variables()\n'
        'a.set("saf_t_port", 1)\n'
        'assert a.saf_t_port == 1 and b.saf_t_port is None\n'
        'assert dict(vars(Variables)).keys() == before.keys(), set(vars(Variables)) - set(before)\n'
        'b.saf_t_port = 5\n'
        'assert b.saf_t_port == 5 and a.saf_t_port == 1\n'
        'assert b.get("saf_t_port") is None  # an instance attribute, as in the original\n'
        'print("ok")\n'
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'
