"""Tests for scitrera_app_framework.util.parsing: booleans (strict and the original's lenient reading) and
comma-separated lists."""

from __future__ import annotations

import re

import pytest

from scitrera_app_framework.util import ext_parse_bool, ext_parse_csv, ext_parse_csv_set
from scitrera_app_framework.util.parsing import parse_bool_strict

TRUE_WORDS = ['1', 'true', 't', 'yes', 'y', 'on']
FALSE_WORDS = ['0', 'false', 'f', 'no', 'n', 'off']


@pytest.mark.parametrize('word', TRUE_WORDS)
def test_parse_bool_true_words_any_case_and_spacing(word: str) -> None:
    for variant in (word, word.upper(), word.capitalize(), f'  {word}\t', f'\n{word.upper()} '):
        assert ext_parse_bool(variant) is True, variant


@pytest.mark.parametrize('word', FALSE_WORDS)
def test_parse_bool_false_words_any_case_and_spacing(word: str) -> None:
    for variant in (word, word.upper(), word.capitalize(), f'  {word}\t', f'\n{word.upper()} '):
        assert ext_parse_bool(variant) is False, variant


@pytest.mark.parametrize('value, expected', [('not', True), ('tru', True), ('yess', True), ('true false', True),
                                             ('-1', True), ('enabled', False), ('2', False), ('nope', False)])
def test_parse_bool_reads_other_words_like_the_original_never_raising(value: str, expected: bool) -> None:
    assert ext_parse_bool(value) is expected


@pytest.mark.parametrize('word', TRUE_WORDS)
def test_strict_bool_true_words_any_case_and_spacing(word: str) -> None:
    for variant in (word, word.upper(), word.capitalize(), f'  {word}\t', f'\n{word.upper()} '):
        assert parse_bool_strict(variant) is True, variant


@pytest.mark.parametrize('word', FALSE_WORDS)
def test_strict_bool_false_words_any_case_and_spacing(word: str) -> None:
    for variant in (word, word.upper(), word.capitalize(), f'  {word}\t', f'\n{word.upper()} '):
        assert parse_bool_strict(variant) is False, variant


@pytest.mark.parametrize('value', [None, '', '   '])
def test_strict_bool_none_and_empty_are_false(value: object) -> None:
    assert parse_bool_strict(value) is False


def test_strict_bool_bools_pass_through() -> None:
    assert parse_bool_strict(True) is True
    assert parse_bool_strict(False) is False


def test_strict_bool_on_is_true_and_off_is_false() -> None:
    # the original guessed from letters and read 'on' as false
    assert parse_bool_strict('on') is True
    assert parse_bool_strict('ON') is True
    assert parse_bool_strict('off') is False


@pytest.mark.parametrize('value', ['enabled', 'not', 'maybe', 'tru', 'yess', '2', '-1', 'true false', 'nope'])
def test_strict_bool_rejects_other_words_naming_the_value(value: str) -> None:
    with pytest.raises(ValueError) as ei:
        parse_bool_strict(value)
    assert repr(value) in str(ei.value) or value in str(ei.value)


def test_strict_bool_not_is_not_true_and_enabled_is_not_false() -> None:
    # ext_parse_bool (the original's reading) takes 'not' as true and 'enabled' as false; strict refuses both
    for value in ('not', 'enabled', 'NOT', ' Enabled '):
        with pytest.raises(ValueError, match=value.strip()):
            parse_bool_strict(value)


def test_parse_csv_splits_strips_and_drops_empties() -> None:
    assert ext_parse_csv('a,b,c') == ['a', 'b', 'c']
    assert ext_parse_csv(' a , b ,, ,c, ') == ['a', 'b', 'c']
    assert ext_parse_csv('single') == ['single']
    assert ext_parse_csv('') == []
    assert ext_parse_csv(' , ,') == []
    assert ext_parse_csv(None) == []


def test_parse_csv_keeps_order_and_duplicates() -> None:
    assert ext_parse_csv('b,a,b') == ['b', 'a', 'b']


def test_parse_csv_lists_pass_through_stripped() -> None:
    assert ext_parse_csv([' a', 'b ', '', '  ']) == ['a', 'b']
    assert ext_parse_csv(('x', ' y')) == ['x', 'y']


def test_parse_csv_returns_a_new_list_each_time() -> None:
    src = ['a', 'b']
    out = ext_parse_csv(src)
    out.append('c')
    assert src == ['a', 'b']


def test_parse_csv_set() -> None:
    assert ext_parse_csv_set('a, b ,a,,c') == {'a', 'b', 'c'}
    assert ext_parse_csv_set(['x', ' x ', '']) == {'x'}
    assert ext_parse_csv_set('') == set()
    assert ext_parse_csv_set(None) == set()
    assert isinstance(ext_parse_csv_set('a'), set)


def test_parse_csv_never_raises_where_the_original_answered() -> None:
    """As the original: a falsy value is [], a value that is neither a string nor a collection is split as str()."""
    assert ext_parse_csv(0) == [] and ext_parse_csv(False) == [] and ext_parse_csv(0.0) == []
    assert ext_parse_csv([]) == [] and ext_parse_csv({}) == [] and ext_parse_csv(()) == []
    assert ext_parse_csv(5) == ['5']
    assert ext_parse_csv(1.5) == ['1.5']
    assert ext_parse_csv(True) == ['True']
    assert ext_parse_csv({'a': 1}) == ["{'a': 1}"]
    assert ext_parse_csv(['a', None, 0, ' b ']) == ['a', 'b']  # falsy items dropped, the rest stripped
    assert ext_parse_csv([1, 2]) == ['1', '2']  # the original raised AttributeError here; ours answers
    assert ext_parse_csv(b'a, b') == ['a', 'b']  # bytes are decoded (the original split their repr)



# --- parse_seconds: the one parser of a seconds variable (the Dask and Redis timeouts, the shutdown settings) ---
def test_parse_seconds_accepts_a_positive_number_of_seconds() -> None:
    from scitrera_app_framework.util.parsing import parse_seconds

    assert parse_seconds('2.5', 'X_TIMEOUT') == 2.5
    assert parse_seconds(3, 'X_TIMEOUT') == 3.0
    assert parse_seconds('0', 'X_DRAIN', zero_ok=True) == 0.0


@pytest.mark.parametrize('bad', ['0', '-1', 'soon', None, 'nan', [1]])
def test_parse_seconds_names_the_variable_and_the_value(bad: object) -> None:
    from scitrera_app_framework.util.parsing import parse_seconds

    with pytest.raises(ValueError, match=rf'^X_TIMEOUT must be a number of seconds > 0, got {re.escape(repr(bad))}$'):
        parse_seconds(bad, 'X_TIMEOUT')


def test_parse_seconds_with_a_bound_says_the_range_and_what_to_set() -> None:
    from scitrera_app_framework.util.parsing import parse_seconds

    assert parse_seconds('1000000', 'X_DRAIN', zero_ok=True, maximum=1_000_000, hint='e.g. 5') == 1e6
    with pytest.raises(ValueError, match=re.escape("X_DRAIN='1000001' is not a number of seconds from 0 to 1,000,000; "
                                                   "set it to e.g. 5, or unset it")):
        parse_seconds('1000001', 'X_DRAIN', zero_ok=True, maximum=1_000_000, hint='e.g. 5')
    with pytest.raises(ValueError, match=re.escape("X_DRAIN='-1' is not a number")):
        parse_seconds('-1', 'X_DRAIN', zero_ok=True, maximum=1_000_000, hint='e.g. 5')


def test_parse_seconds_raises_the_error_type_it_is_given() -> None:
    from scitrera_app_framework.base_plugins.background import JobBackendConfigError
    from scitrera_app_framework.util.parsing import parse_seconds

    with pytest.raises(JobBackendConfigError, match='X_TIMEOUT must be'):
        parse_seconds('x', 'X_TIMEOUT', error=JobBackendConfigError)


def test_the_seconds_variables_keep_their_messages() -> None:
    from scitrera_app_framework.base_plugins._dask_client import parse_connect_timeout
    from scitrera_app_framework.base_plugins.background import JobBackendConfigError
    from scitrera_app_framework.core import core
    from scitrera_app_framework.ext_plugins.redis_tenants import parse_timeout

    assert parse_connect_timeout('1.5') == 1.5 and parse_timeout('2') == 2.0
    with pytest.raises(JobBackendConfigError,
                       match=r"^SAF_DASK_CONNECT_TIMEOUT must be a number of seconds > 0, got '0'$"):
        parse_connect_timeout('0')
    with pytest.raises(ValueError, match=r"^SAF_MULTITENANT_REDIS_TIMEOUT must be a number of seconds > 0, got 'x'$"):
        parse_timeout('x')
    assert core._parse_drain('') == 0.0 and core._parse_timeout('0') is None and core._parse_timeout('3') == 3.0
    with pytest.raises(ValueError, match=re.escape("SAF_SHUTDOWN_DRAIN_SECONDS='-2' is not a number of seconds from 0 "
                                                   "to 1,000,000; set it to seconds to stay up, not ready, before "
                                                   "stopping, e.g. 5, or unset it")):
        core._parse_drain('-2')
    with pytest.raises(ValueError, match=re.escape("SAF_SHUTDOWN_TIMEOUT='x' is not a number of seconds from 0 to "
                                                   "1,000,000; set it to the most seconds the whole exit may take, "
                                                   "e.g. 25, or unset it")):
        core._parse_timeout('x')
