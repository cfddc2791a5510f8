"""Tests for scitrera_app_framework.util.parsing: booleans (strict and the original's lenient reading) and
comma-separated lists."""

from __future__ import annotations

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

