"""The framework's formatters in-process: JSON field rules (collisions, redaction), safe encoding with orjson and the
standard library's json, message failures, plain-text context fields, and the logging settings' validation."""

from __future__ import annotations

import datetime
import enum
import io
import json
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import pytest

from scitrera_app_framework.core import log_format
from scitrera_app_framework.core.log_format import (
    CYCLE_MARK,
    DEPTH_MARK,
    MAX_DEPTH,
    JsonLineFormatter,
    PlainFormatter,
    log_context,
    make_json_formatter,
    minimal_json_line,
    to_json_value,
)
from scitrera_app_framework.core.logs import (
    LoggingConfigError,
    build_formatter,
    configure_logging,
    find_framework_handler,
    parse_level,
    validate_date_format,
    validate_log_format,
)

ENCODERS = [pytest.param('orjson', marks=pytest.mark.needs_orjson), 'json']
STATIC = {'app': 'svc-eu', 'image': 'svc', 'version': 'DEV', 'region': 'eu'}


def _record(msg: Any = 'hello', *args: Any, lvl: int = logging.INFO, exc_info: Any = None,
            sinfo: Optional[str] = None, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord('svc.mod', lvl, __file__, 10, msg, args, exc_info, func='handler', sinfo=sinfo)
    for k, v in extra.items():
        record.__dict__[k] = v
    return record


def _line(fmt: logging.Formatter, record: logging.LogRecord) -> str:
    out = fmt.format(record)
    assert '\n' not in out and '\r' not in out, out
    return out


def _obj(fmt: logging.Formatter, record: logging.LogRecord) -> dict[str, Any]:
    out = _line(fmt, record)
    out.encode('utf-8')  # no lone surrogates
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


@pytest.fixture(params=ENCODERS)
def jf(request: pytest.FixtureRequest) -> JsonLineFormatter:
    fmt = make_json_formatter(STATIC, encoder=request.param)
    assert fmt.encoder_name == request.param
    return fmt


# --- fields and collisions ---------------------------------------------------------------------------------------
def test_json_fields_in_order(jf: JsonLineFormatter) -> None:
    data = _obj(jf, _record('hello %s', 'you', k=1))
    assert list(data) == ['time', 'level', 'logger', 'thread', 'func', 'message', 'app', 'image', 'version',
                          'region', 'k']
    assert data['message'] == 'hello you' and data['level'] == 'INFO' and data['func'] == 'handler'
    assert data['time'].endswith('Z') and len(data['time']) == len('2024-01-01T00:00:00.000Z')


@pytest.mark.parametrize('name', ['time', 'level', 'logger', 'func', 'log_error', 'app', 'image', 'version',
                                  'region'])
def test_extra_named_like_a_framework_field_is_prefixed(jf: JsonLineFormatter, name: str) -> None:
    data = _obj(jf, _record('m', **{name: 'CRITICAL-CLAIM'}))
    assert data[f'extra_{name}'] == 'CRITICAL-CLAIM'
    assert data.get(name) != 'CRITICAL-CLAIM'
    assert data['level'] == 'INFO'


@pytest.mark.parametrize('name', ['time', 'level', 'logger', 'thread', 'func', 'message', 'exc_info', 'stack_info',
                                  'log_error', 'app', 'image', 'version', 'region'])
def test_context_field_named_like_a_framework_field_is_prefixed(jf: JsonLineFormatter, name: str) -> None:
    with log_context(**{name: 'CLAIM'}):
        data = _obj(jf, _record('m'))
    assert data[f'extra_{name}'] == 'CLAIM' and data.get(name) != 'CLAIM'
    assert data['level'] == 'INFO' and data['message'] == 'm'


def test_logging_itself_refuses_extras_named_like_record_attributes() -> None:
    with pytest.raises(KeyError):
        logging.getLogger('svc').makeRecord('svc', logging.INFO, 'f', 1, 'm', (), None, extra={'message': 'x'})


def test_record_at_info_cannot_claim_critical_through_extra_or_context(jf: JsonLineFormatter) -> None:
    with log_context(level='CRITICAL', message='forged'):
        data = _obj(jf, _record('real', lvl=logging.INFO, extra_level='user own'))
    assert data['level'] == 'INFO' and data['message'] == 'real'
    # the user's own 'extra_level' keeps its name; the renamed ones never overwrite it
    assert data['extra_level'] == 'user own'
    assert data['extra_extra_level'] == 'CRITICAL'
    assert data['extra_message'] == 'forged'


def test_static_field_named_like_a_fixed_field_is_prefixed() -> None:
    fmt = make_json_formatter({'app': 'svc', 'level': 'param', 'message': 'param-msg'})
    data = _obj(fmt, _record('m', lvl=logging.WARNING))
    assert data['level'] == 'WARNING' and data['message'] == 'm'
    assert data['extra_level'] == 'param' and data['extra_message'] == 'param-msg'


def test_extra_replaces_context_field_of_the_same_name(jf: JsonLineFormatter) -> None:
    with log_context(tenant='ctx', req=1):
        data = _obj(jf, _record('m', tenant='extra'))
    assert data['tenant'] == 'extra' and data['req'] == 1


def test_non_string_and_private_extra_names(jf: JsonLineFormatter) -> None:
    record = _record('m', _private='hidden', ok=1)
    record.__dict__[7] = 'int key'
    record.__dict__[('a', 1)] = 'tuple key'
    data = _obj(jf, record)
    assert '_private' not in data
    assert data['ok'] == 1 and data['7'] == 'int key' and data["('a', 1)"] == 'tuple key'


def test_attributes_set_by_other_formatters_are_not_extras(jf: JsonLineFormatter) -> None:
    record = _record('m %s', 'x', k=1)
    logging.Formatter('%(asctime)s %(message)s').format(record)  # sets record.message and record.asctime
    data = _obj(jf, record)
    assert 'asctime' not in data and 'extra_message' not in data and data['k'] == 1


def test_exception_and_stack(jf: JsonLineFormatter) -> None:
    try:
        raise KeyError('boom')
    except KeyError:
        exc = sys.exc_info()
    data = _obj(jf, _record('failed', exc_info=exc, sinfo='Stack (most recent call last):\n  here'))
    assert 'KeyError' in data['exc_info'] and data['stack_info'].startswith('Stack')


# --- redaction -------------------------------------------------------------------------------------------------
def test_secret_extras_context_and_urls_are_masked(jf: JsonLineFormatter) -> None:
    with log_context(api_token='ctx-token-1', dsn_url='postgres://app:ctx-pw-1@db/x'):
        data = _obj(jf, _record('m', db_password='extra-pw-1', nested={'inner': {'client_secret': 'nested-1'}},
                                url='https://bob:url-pw-1@host/p', items=['redis://:list-pw-1@r:6379'],
                                empty_password='', none_token=None))
    text = json.dumps(data)
    for secret in ('ctx-token-1', 'ctx-pw-1', 'extra-pw-1', 'nested-1', 'url-pw-1', 'list-pw-1'):
        assert secret not in text, (secret, text)
    assert data['db_password'] == '****' and data['api_token'] == '****'
    assert data['nested'] == {'inner': {'client_secret': '****'}}
    assert data['url'] == 'https://bob:****@host/p'
    assert data['empty_password'] == '' and data['none_token'] is None  # nothing to hide


def test_static_fields_are_always_masked() -> None:
    fmt = make_json_formatter({'app': 'svc', 'db_password': 'static-pw', 'dsn': 'postgres://u:url-pw@h/db',
                               'endpoint': 'https://u:ep-pw@h'}, redact=False)
    line = _line(fmt, _record('m'))
    assert 'static-pw' not in line and 'url-pw' not in line and 'ep-pw' not in line
    assert json.loads(line)['endpoint'] == 'https://u:****@h'


def test_redact_false_leaves_extras_alone() -> None:
    fmt = make_json_formatter({'app': 'svc'}, redact=False)
    assert _obj(fmt, _record('m', db_password='visible'))['db_password'] == 'visible'


def test_renamed_secret_field_is_still_masked(jf: JsonLineFormatter) -> None:
    fmt = make_json_formatter({'app': 'svc', 'db_password': 'x'}, encoder=jf.encoder_name)
    data = _obj(fmt, _record('m', db_password='renamed-secret'))
    assert data['db_password'] == '****' and data['extra_db_password'] == '****'


# --- safe encoding ---------------------------------------------------------------------------------------------
class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError('no repr')

    def __str__(self) -> str:
        raise RuntimeError('no str')


class _Color(enum.Enum):
    RED = 'red'


@dataclass
class _Point:
    x: int
    password: str


def test_values_encoders_refuse_are_converted(jf: JsonLineFormatter) -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    cyclic_map: dict[str, Any] = {}
    cyclic_map['self'] = cyclic_map
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(MAX_DEPTH + 10):
        cur['d'] = {}
        cur = cur['d']
    shared = [1, 2]
    data = _obj(jf, _record(
        os.fsdecode(b'caf\xe9'), big=2 ** 70, small=-(2 ** 70), u64=2 ** 64 - 1, nan=float('nan'),
        inf=float('-inf'), raw=b'\xff\xfeok', blob=bytearray(b'ab'), st={3, 1, 2}, mixed={1, 'a'},
        tup=(1, (2, 3)), keys={(1, 2): 'a', None: 'b', True: 'c', 1.5: 'd'}, dup={1: 'int', '1': 'str'},
        broken=_BrokenRepr(), cyc=cyclic, cycmap=cyclic_map, deep=deep, shared=[shared, shared],
        when=datetime.datetime(2024, 5, 6, 7, 8, 9), day=datetime.date(2024, 5, 6), uid=uuid.UUID(int=1),
        color=_Color.RED, point=_Point(1, 'pt-secret'), err=ValueError('bad'), sur_key={os.fsdecode(b'k\xff'): 1},
    ))
    assert data['message'] == 'caf\\udce9'
    assert data['big'] == str(2 ** 70) and data['small'] == str(-(2 ** 70)) and data['u64'] == 2 ** 64 - 1
    assert data['nan'] == 'NaN' and data['inf'] == '-Infinity'
    assert data['raw'] == '\\xff\\xfeok' and data['blob'] == 'ab'
    assert data['st'] == [1, 2, 3] and sorted(map(str, data['mixed'])) == ['1', 'a']
    assert data['tup'] == [1, [2, 3]]
    assert data['keys'] == {'(1, 2)': 'a', 'null': 'b', 'true': 'c', '1.5': 'd'}
    assert data['dup'] == {'1': 'int', '1 (str)': 'str'}
    assert data['broken'] == '<unprintable _BrokenRepr: RuntimeError>'
    assert data['cyc'] == [1, CYCLE_MARK] and data['cycmap'] == {'self': CYCLE_MARK}
    assert data['shared'] == [[1, 2], [1, 2]]  # shared, not cyclic
    depth, cur = 0, data['deep']
    while isinstance(cur, dict):
        cur, depth = cur['d'], depth + 1
    assert cur == DEPTH_MARK and depth == MAX_DEPTH
    assert data['when'] == '2024-05-06T07:08:09' and data['day'] == '2024-05-06'
    assert data['uid'] == str(uuid.UUID(int=1)) and data['color'] == 'red'
    assert data['point'] == {'x': 1, 'password': '****'}
    assert data['err'] == 'ValueError: bad'
    assert data['sur_key'] == {'k\\udcff': 1}


@pytest.mark.needs_orjson
def test_orjson_and_json_give_the_same_object() -> None:
    record = _record('m %s', os.fsdecode(b'\xff'), big=2 ** 80, n=1.5, s={'b', 'a'}, nested={'password': 'x'})
    a = make_json_formatter(STATIC, encoder='orjson').format(record)
    b = make_json_formatter(STATIC, encoder='json').format(record)
    assert json.loads(a) == json.loads(b)


def test_line_separators_are_escaped(jf: JsonLineFormatter) -> None:
    out = _line(jf, _record('a\u2028b\u2029c\x85d\ne', k='x\u2028y'))
    assert '\u2028' not in out and '\u2029' not in out and '\x85' not in out
    assert len(out.splitlines()) == 1
    assert json.loads(out)['message'] == 'a\u2028b\u2029c\x85d\ne'


def test_message_that_cannot_be_formatted(jf: JsonLineFormatter) -> None:
    class BadStr:
        def __str__(self) -> str:
            raise ValueError('broken __str__ with private-arg')

    data = _obj(jf, _record('%d items', 'x'))
    assert data['message'] == '%d items'
    assert data['log_error'].startswith('message formatting failed: TypeError') and 'args: (str)' in data['log_error']
    data = _obj(jf, _record('value %s', BadStr()))
    assert data['message'] == 'value %s' and 'ValueError' in data['log_error']
    data = _obj(jf, _record(_BrokenRepr()))
    assert data['message'] == '<unprintable _BrokenRepr: RuntimeError>'


def test_minimal_line_when_even_conversion_fails(jf: JsonLineFormatter, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: Any) -> str:
        raise TypeError('encoder refuses everything')

    monkeypatch.setattr(jf, '_encode', refuse)
    monkeypatch.setattr(jf, '_orjson_dumps', None)
    data = _obj(jf, _record('caf%s', os.fsdecode(b'\xe9'), k=1))
    assert set(data) == {'time', 'level', 'logger', 'message', 'log_error'}
    assert data['message'] == 'caf\\udce9' and data['level'] == 'INFO'
    assert 'encoder refuses everything' in data['log_error']


def test_minimal_line_when_the_record_is_broken(jf: JsonLineFormatter) -> None:
    record = _record('m')
    record.created = 'not a time'  # type: ignore[assignment]
    data = _obj(jf, record)
    assert data['message'] == 'm' and data['log_error'].startswith('record could not be read')
    del record.__dict__['levelname']
    assert 'log_error' in json.loads(minimal_json_line(record, 'x'))


def test_to_json_value_leaves_json_native_values() -> None:
    value = {'a': [1, 2.5, True, None, 'x'], 'b': {'c': -3}}
    assert to_json_value(value) == value


def test_stdlib_json_when_orjson_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'orjson', None)  # import orjson -> ImportError
    fmt = make_json_formatter(STATIC)
    assert fmt.encoder_name == 'json'
    assert _obj(fmt, _record('m', big=2 ** 70))['big'] == str(2 ** 70)
    with pytest.raises(ImportError):
        make_json_formatter(STATIC, encoder='orjson')
    with pytest.raises(ValueError, match='encoder'):
        make_json_formatter(STATIC, encoder='yaml')


def test_json_date_format() -> None:
    fmt = make_json_formatter(STATIC, '%Y')
    assert _obj(fmt, _record('m'))['time'] == str(datetime.datetime.now().year)


# --- plain -----------------------------------------------------------------------------------------------------
def test_plain_context_fields_collide_mask_and_never_add_lines() -> None:
    fmt = PlainFormatter('%(levelname)s %(message)s')
    with log_context(tenant='t1', level='CRITICAL', auth_token='tok-1', note='a\nb\rc', url='https://u:pw-1@h/',
                     obj={'password': 'pw-2'}):
        out = fmt.format(_record('hello'))
    assert out == ("INFO hello [tenant=t1 extra_level=CRITICAL auth_token=**** note=a\\nb\\rc url=https://u:****@h/ "
                   "obj={'password': '****'}]"), out


def test_plain_message_failures_give_one_line_with_reason() -> None:
    fmt = PlainFormatter('%(asctime)s %(levelname)s %(name)s: %(message)s')
    out = fmt.format(_record('%d of %s', 'x'))
    real = 'real ' if sys.version_info >= (3, 10) else ''  # Python 3.9: "a number is required"
    assert out.endswith('INFO svc.mod: %d of %s [log error: message formatting failed: TypeError: %d format: '
                        f'a {real}number is required, not str; args: (str)]'), out
    assert '\n' not in out


def test_plain_format_that_fails_on_the_record_gives_a_minimal_line() -> None:
    fmt = PlainFormatter('%(tenant)s %(message)s')  # not validated when built directly
    out = fmt.format(_record('hello'))
    assert 'INFO svc.mod: hello [log error: format failed: ValueError: Formatting field not found' in out, out


def test_plain_surrogates_are_escaped_and_multiline_kept() -> None:
    fmt = PlainFormatter('%(message)s')
    assert fmt.format(_record(os.fsdecode(b'caf\xe9'))) == 'caf\\udce9'
    assert fmt.format(_record('two\nlines')) == 'two\nlines'


def test_plain_traceback_is_kept_after_a_message_failure() -> None:
    try:
        raise RuntimeError('inner')
    except RuntimeError:
        exc = sys.exc_info()
    out = PlainFormatter('%(message)s').format(_record('%d', 'x', exc_info=exc))
    assert out.startswith('%d [log error:') and 'RuntimeError: inner' in out


def test_plain_time_cache_follows_the_date_format() -> None:
    fmt = PlainFormatter('%(asctime)s', '%Y')
    record = _record('m')
    assert fmt.format(record) == str(datetime.datetime.fromtimestamp(record.created).year)
    hour = datetime.datetime.fromtimestamp(record.created).strftime('%H')
    assert fmt.formatTime(record, '%H') == hour  # another datefmt is not cached in place of the formatter's
    assert fmt.format(record) == str(datetime.datetime.fromtimestamp(record.created).year)


# --- settings --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('value', ['100%', '%(nosuchfield)s', '%(message)d', '%(message)', '%%'])
def test_bad_logging_format_is_an_error_naming_the_variable(value: str) -> None:
    with pytest.raises(LoggingConfigError) as info:
        validate_log_format(value)
    msg = str(info.value)
    assert msg.startswith(f'LOGGING_FORMAT={value!r} is not a valid logging format string'), msg
    assert '%(message)s' in msg and 'LOGGING_FORMAT=json' in msg  # how to fix it
    assert isinstance(info.value, ValueError)
    assert info.value.variable == 'LOGGING_FORMAT' and info.value.value == value


def test_long_bad_format_is_bounded_in_the_message() -> None:
    with pytest.raises(LoggingConfigError) as info:
        validate_log_format('%(nosuchfield)s' + 'x' * 10_000)
    assert len(str(info.value)) < 1000


@pytest.mark.parametrize('value', ['%(asctime)s %(levelname)s %(message)s', '%(message)s 100%%',
                                   '%(levelno)d %(process)d %(thread)d'])
def test_good_logging_formats(value: str) -> None:
    validate_log_format(value)


@pytest.mark.parametrize('value', ['a\x00b', os.fsdecode(b'%Y\xff')])
def test_bad_date_format_is_an_error_naming_the_variable(value: str) -> None:
    with pytest.raises(LoggingConfigError) as info:
        validate_date_format(value)
    assert str(info.value).startswith('LOGGING_DATE_FORMAT=') and 'strftime' in str(info.value)


def test_build_formatter_choices() -> None:
    assert isinstance(build_formatter(' JSON ', None), JsonLineFormatter)
    assert build_formatter('%(message)s', '')._fmt == '%(message)s'
    assert build_formatter('plain', None)._fmt == log_format.DEFAULT_FORMAT
    assert build_formatter(None, None)._fmt == log_format.DEFAULT_FORMAT
    with pytest.raises(LoggingConfigError):
        build_formatter('json', 'bad\x00')


@pytest.fixture
def no_framework_handler() -> Iterator[None]:
    assert find_framework_handler() is None
    yield
    assert find_framework_handler() is None


def test_configure_logging_rejects_before_changing_anything(no_framework_handler: None) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogRecordFactory(), logging.logProcesses)
    with pytest.raises(LoggingConfigError, match='LOGGING_FORMAT'):
        configure_logging(logging.DEBUG, '100%', None, {})
    with pytest.raises(LoggingConfigError, match='LOGGING_DATE_FORMAT'):
        configure_logging(logging.DEBUG, 'json', 'x\x00', {})
    assert (list(root.handlers), root.level, logging.getLogRecordFactory(), logging.logProcesses) == before


@pytest.mark.parametrize('value, expected', [
    ('debug', 10), (' Warning ', 30), ('WARN', 30), ('critical', 50), ('20', 20), (' 0 ', 0), (50, 50), (0, 0),
    (51, None), (-1, None), ('-1', None), (99999999999999999999, None), ('99999999999999999999', None),
    ('\u00b2', None), ('\u0663', None), ('20.0', None), (20.0, None), (True, None), ('', None), ('LOUD', None),
    (None, None), ('Level 5', None),
])
def test_parse_level(value: Any, expected: Optional[int]) -> None:
    assert parse_level(value) == expected


def test_parse_level_accepts_registered_names() -> None:
    logging.addLevelName(7, 'SAFTRACE')
    assert parse_level('saftrace') == 7


def test_handler_writes_one_line_per_record() -> None:
    from scitrera_app_framework.core.logs import FrameworkHandler
    buf = io.StringIO()
    h = FrameworkHandler(buf)
    h.setFormatter(make_json_formatter(STATIC))
    for rec in (_record('a\nb'), _record('%d', 'x'), _record('m', bad=_BrokenRepr())):
        h.handle(rec)
    assert buf.getvalue().count('\n') == 3
    assert all(json.loads(line) for line in buf.getvalue().splitlines())
