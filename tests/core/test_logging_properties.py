"""Property-based tests: whatever the message, arguments, ``extra`` and ``log_context`` fields, every record gives
exactly one well-formed line (JSON with orjson and with the standard library's json; plain text), framework fields
keep their values, and secret-named fields are masked."""

from __future__ import annotations

import datetime
import importlib.util
import io
import json
import logging
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scitrera_app_framework.core.log_format import (
    FIXED_FIELDS,
    RECORD_ATTRS,
    PlainFormatter,
    log_context,
    make_json_formatter,
    reserved_names,
    safe_str,
)
from scitrera_app_framework.core.logs import FrameworkHandler
from scitrera_app_framework.util.secrets import MASK, is_secret_key

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATIC = {'app': 'svc', 'image': 'img', 'version': 'DEV', 'region': 'eu', 'db_password': 'static-secret'}
HAVE_ORJSON = importlib.util.find_spec('orjson') is not None  # (the no-extras CI leg runs without it)
JSON_FORMATTERS = ([make_json_formatter(STATIC, encoder='orjson')] if HAVE_ORJSON else []) + \
    [make_json_formatter(STATIC, encoder='json')]
GENERAL_ONLY = make_json_formatter(STATIC)  # without the direct path for common records
GENERAL_ONLY._simple_line = lambda *args: None  # type: ignore[method-assign]
PLAIN = PlainFormatter('%(levelname)s %(name)s: %(message)s')


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError('broken __repr__')

    def __str__(self) -> str:
        raise RuntimeError('broken __str__')


class BrokenStr:
    def __str__(self) -> str:
        raise ValueError('broken __str__')


class Weird:
    """``__str__`` returns a non-string."""

    def __str__(self) -> Any:
        return 42

    def __repr__(self) -> str:
        return 'Weird()'


def _cyclic_list(items: list[Any]) -> list[Any]:
    items = list(items)
    items.append(items)
    return items


def _cyclic_dict(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    d['self'] = d
    return d


def _deep(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = {'d': value}
    return value


# text with lone surrogates, control characters and line separators
any_text = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=30),
    st.sampled_from([os.fsdecode(b'caf\xe9'), '\ud800', 'a\nb', 'x\u2028y', '\x85', '\r', '', 'https://u:pw@h/x']),
)
hashable = st.one_of(st.none(), st.booleans(), st.integers(), any_text, st.floats(allow_nan=False),
                     st.tuples(st.integers(), any_text))
scalars = st.one_of(
    st.none(), st.booleans(), any_text, st.binary(max_size=20),
    st.integers(min_value=-(2 ** 200), max_value=2 ** 200), st.floats(allow_nan=True, allow_infinity=True),
    st.builds(BrokenRepr), st.builds(BrokenStr), st.builds(Weird), st.builds(object),
    st.datetimes(min_value=datetime.datetime(1, 1, 2)), st.just(Exception('e')),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.tuples(children, children),
        st.dictionaries(hashable, children, max_size=4), st.frozensets(hashable, max_size=4),
        st.sets(hashable, max_size=4), st.builds(_cyclic_list, st.lists(children, max_size=3)),
        st.builds(_cyclic_dict, st.dictionaries(any_text, children, max_size=3)),
        st.builds(_deep, children, st.integers(min_value=20, max_value=60)),
    ),
    max_leaves=12,
)
secret_names = st.sampled_from(['password', 'db_password', 'api_key', 'auth_token', 'client-secret', 'X.Credential'])
framework_names = st.sampled_from(sorted(reserved_names(STATIC)))
field_names = st.one_of(any_text, secret_names, framework_names).filter(
    lambda n: n not in RECORD_ATTRS and not n.startswith('_'))
extras = st.dictionaries(st.one_of(field_names, st.integers(), st.tuples(st.integers())), values, max_size=6)
contexts = st.dictionaries(st.one_of(field_names, st.sampled_from(['args', 'name', '_private'])), values, max_size=4)
messages = st.one_of(any_text, st.sampled_from(['%d', '%s %s', '%(k)s', '100%', 'v=%r', '%.2f']), values)
arg_tuples = st.one_of(st.just(()), st.tuples(values), st.tuples(values, values), st.tuples(st.dictionaries(
    any_text, values, max_size=2)))
levels = st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL, 5, 42])


def _record(msg: Any, args: tuple[Any, ...], level: int, extra: dict[Any, Any]) -> logging.LogRecord:
    record = logging.LogRecord('prop.logger', level, __file__, 1, msg, args, None, func='fn')
    record.__dict__.update(extra)
    return record


def _check_secret_fields(data: dict[str, Any], extra: dict[Any, Any], ctx: dict[str, Any]) -> None:
    reserved = reserved_names(STATIC) | {'extra_db_password'}
    for source in (ctx, extra):
        for k, val in source.items():
            if type(k) is str and k not in reserved and is_secret_key(k) and val is not None and val != '':
                if k in extra and source is ctx:
                    continue  # replaced by the extra of the same name
                assert data[k] == MASK, (k, data.get(k))


@SETTINGS
@given(msg=messages, args=arg_tuples, level=levels, extra=extras, ctx=contexts)
def test_json_one_well_formed_line_per_record(msg: Any, args: tuple[Any, ...], level: int, extra: dict[Any, Any],
                                              ctx: dict[str, Any]) -> None:
    record = _record(msg, args, level, extra)
    with log_context(**ctx):
        for fmt in JSON_FORMATTERS:
            out = fmt.format(record)
            assert isinstance(out, str)
            assert '\n' not in out and '\r' not in out and '\u2028' not in out and '\x85' not in out
            out.encode('utf-8')
            data = json.loads(out)
            assert isinstance(data, dict)
            assert data['level'] == logging.getLevelName(level)  # never overwritten
            assert data['logger'] == 'prop.logger' and data['func'] == 'fn'
            assert isinstance(data['message'], str)
            assert data['db_password'] == MASK and 'static-secret' not in out
            for name in FIXED_FIELDS[:5]:
                assert name in data
            _check_secret_fields(data, extra, ctx)
        assert json.loads(GENERAL_ONLY.format(record)) == data  # the direct path writes the same object


simple_values = st.one_of(st.none(), st.booleans(), any_text, st.integers(min_value=-(2 ** 70), max_value=2 ** 70))
simple_names = st.one_of(any_text, secret_names, framework_names, st.sampled_from(['k', 'url', '"q"', '\\']))


@SETTINGS
@given(msg=st.one_of(any_text, messages), args=arg_tuples, level=levels,
       extra=st.dictionaries(simple_names, simple_values, max_size=1),
       names=st.tuples(any_text, any_text, any_text))
def test_direct_path_writes_what_the_encoder_writes(msg: Any, args: tuple[Any, ...], level: int,
                                                    extra: dict[Any, Any], names: tuple[str, str, str]) -> None:
    record = _record(msg, args, level, {k: v for k, v in extra.items() if k not in RECORD_ATTRS})
    record.name, record.threadName, record.funcName = names
    for fmt in JSON_FORMATTERS:
        out = fmt.format(record)
        assert '\n' not in out
        assert json.loads(out) == json.loads(GENERAL_ONLY.format(record))


@SETTINGS
@given(msg=messages, args=arg_tuples, level=levels, extra=extras, ctx=contexts)
def test_plain_one_line_per_record(msg: Any, args: tuple[Any, ...], level: int, extra: dict[Any, Any],
                                   ctx: dict[str, Any]) -> None:
    record = _record(msg, args, level, extra)
    try:
        expected = record.getMessage()
    except Exception:
        expected = safe_str(msg)
    with log_context(**ctx):
        out = PLAIN.format(record)
    out.encode('utf-8')
    # the message's own line breaks are kept; nothing else (context fields, failure reasons) adds any
    assert out.count('\n') == expected.count('\n'), out
    assert out.startswith(f'{logging.getLevelName(level)} prop.logger: ')


@SETTINGS
@given(records=st.lists(st.tuples(messages, arg_tuples, levels, extras), min_size=1, max_size=5),
       ctx=contexts, json_format=st.booleans())
def test_handler_writes_exactly_one_line_per_record(records: list[tuple[Any, Any, int, dict[Any, Any]]],
                                                    ctx: dict[str, Any], json_format: bool) -> None:
    buf = io.StringIO()
    handler = FrameworkHandler(buf)
    handler.setFormatter(JSON_FORMATTERS[0] if json_format else PlainFormatter('%(levelname)s %(message)r'))
    with log_context(**ctx):
        for msg, args, level, extra in records:
            handler.handle(_record(msg, args, level, extra))
    text = buf.getvalue()
    if json_format:
        lines = text.split('\n')
        assert lines[-1] == '' and len(lines) == len(records) + 1
        for line in lines[:-1]:
            assert isinstance(json.loads(line), dict)
    else:  # %(message)r: the repr of the message never contains a line break
        assert text.count('\n') == len(records)
