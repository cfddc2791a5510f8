"""The framework's log formatters: plain text and JSON lines, context fields, field rules, safe encoding.

Rules both formatters follow (see README "Logging"):

- **One record, one write.** A formatter never raises: a message that cannot be formatted (``'%d' % 'x'``, an
  argument whose ``__str__`` raises) is written with its raw ``msg`` and the reason (JSON: field ``log_error``;
  plain: ``[log error: ...]`` after the message). A JSON line never contains a raw newline (nor U+0085,
  U+2028, U+2029). Plain text keeps multi-line messages and tracebacks as they are; only the appended context
  fields are escaped so they never add lines.
- **Framework fields cannot be overwritten.** A user field (``extra``, ``log_context`` field, app parameter)
  named like one of the framework's fields (:data:`FIXED_FIELDS` and the static fields) is written as
  ``extra_<name>`` (more ``extra_`` prefixes while that name is taken too). A record logged at INFO can never
  claim to be CRITICAL. An ``extra`` replaces a ``log_context`` field of the same name.
- **Secrets are masked** (``redact=True``, the default): the value of a secret-named user field
  (:func:`~scitrera_app_framework.util.secrets.is_secret_key`), also inside nested mappings, prints as
  ``****``; URL credentials in user field values are masked. Static fields are always masked.
- **Anything encodes.** Values a JSON encoder refuses are converted: lone surrogates escaped as ``\\udcXX`` text,
  integers beyond 64 bits and non-finite floats written as strings, bytes decoded (invalid bytes escaped),
  sets and tuples as lists, non-string keys stringified, dates as ISO 8601, other objects via ``str`` (then
  ``repr``, then a placeholder), cycles and nesting deeper than :data:`MAX_DEPTH` cut with a marker string. If
  even that fails the record becomes a minimal JSON line with ``time``, ``level``, ``logger``, the raw message
  and ``log_error``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Mapping as _MappingABC
from enum import Enum
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from ..util.secrets import MASK, is_secret_key, mask_text, mask_url_credentials, secret_values_pattern
from .tracing import TRACE, TRACE_FIELDS

DEFAULT_FORMAT = '%(asctime)s %(levelname)-8s [%(threadName)s] %(name)s.%(funcName)s: %(message)s'

#: the fields every JSON line may carry besides the static fields and user fields, in order
FIXED_FIELDS: tuple[str, ...] = ('time', 'level', 'logger', 'thread', 'func', 'message', 'exc_info', 'stack_info',
                                 'log_error')
#: the static fields the framework itself sets (init_framework adds the app parameters)
FRAMEWORK_STATIC_FIELDS: tuple[str, ...] = ('app', 'image', 'version')
#: prefix of a user field whose name is taken by a framework field
COLLISION_PREFIX = 'extra_'
#: nesting deeper than this (in user field values) is cut with a marker
MAX_DEPTH = 32
CYCLE_MARK = '<cycle>'
DEPTH_MARK = f'<nested deeper than {MAX_DEPTH} levels>'

# attributes every LogRecord has (never written as extras); 'message' and 'asctime' are set by Formatter.format
RECORD_ATTRS = frozenset((
    'args', 'asctime', 'created', 'exc_info', 'exc_text', 'filename', 'funcName', 'levelname', 'levelno', 'lineno',
    'module', 'msecs', 'message', 'msg', 'name', 'pathname', 'process', 'processName', 'relativeCreated',
    'stack_info', 'thread', 'threadName', 'taskName'))

_INT_MIN = -(1 << 63)  # what orjson encodes: signed and unsigned 64-bit integers
_INT_MAX = (1 << 64) - 1
_DEFAULT_TIME_FMT = '%Y-%m-%d %H:%M:%S'
_MSECS = tuple(f'.{i:03d}' for i in range(1000))  # '.000' .. '.999': faster than formatting msecs per record
_MSECS_Z = tuple(m + 'Z' for m in _MSECS)
_REASON_LIMIT = 300

_modules = sys.modules
_OTEL_TRACE = 'opentelemetry.trace'  # no span can be active before this module is imported

# fields added to every record emitted inside ``log_context(...)`` (e.g. tenant=t1)
_log_ctx: contextvars.ContextVar[Optional[Mapping[str, Any]]] = contextvars.ContextVar('saf_log_ctx', default=None)
_ctx_get = _log_ctx.get


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log record emitted (through the framework handler) inside the block.

    Nested blocks merge; the fields follow work submitted to the background executor. Secret-named fields are
    masked and fields named like framework fields are prefixed (see the module docstring).
    """
    cur = _log_ctx.get()
    token = _log_ctx.set({**cur, **fields} if cur else dict(fields))
    try:
        yield
    finally:
        _log_ctx.reset(token)


def bind_log_context(**fields: Any) -> contextvars.Token[Optional[Mapping[str, Any]]]:
    """Add ``fields`` to the log context of the current context (task) until :func:`unbind_log_context`; return
    the token for it. For code that cannot use a ``with`` block (an ASGI middleware whose fields must stay on the
    records the server logs after the app raised; a task ends with its context anyway)."""
    cur = _log_ctx.get()
    return _log_ctx.set({**cur, **fields} if cur else dict(fields))


def unbind_log_context(token: contextvars.Token[Optional[Mapping[str, Any]]]) -> None:
    """Undo :func:`bind_log_context` (in the context that bound it)."""
    _log_ctx.reset(token)


def current_log_context() -> Mapping[str, Any]:
    """Return the fields set by the enclosing :func:`log_context` blocks (empty mapping if none)."""
    return _log_ctx.get() or {}


# ----------------------------------------------------------------------------------------------------------------
# safe text and JSON-native values


def safe_str(obj: Any) -> str:
    """``str(obj)``; if that raises (or returns a non-string), ``repr(obj)``; if that fails too, a placeholder
    naming the type. Never raises (except BaseExceptions such as KeyboardInterrupt)."""
    try:
        s = str(obj)
        if isinstance(s, str):
            return s if type(s) is str else str.__str__(s)
    except Exception:
        pass
    try:
        r = repr(obj)
        if isinstance(r, str):
            return r if type(r) is str else str.__str__(r)
    except Exception as e:
        return f'<unprintable {type(obj).__name__}: {type(e).__name__}>'
    return f'<unprintable {type(obj).__name__}>'


def escape_surrogates(text: str) -> str:
    """Return ``text`` with lone surrogates (e.g. from ``os.fsdecode`` of invalid bytes) written as ``\\udcXX``."""
    if text.isascii():
        return text
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        return text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return text


def safe_text(obj: Any) -> str:
    """:func:`safe_str` with lone surrogates escaped: text that any UTF-8 stream accepts."""
    return escape_surrogates(obj if type(obj) is str else safe_str(obj))


def _bounded(text: str, limit: int = _REASON_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f'... ({len(text):,} characters)'


def _error_text(e: BaseException) -> str:
    return _bounded(f'{type(e).__name__}: {safe_text(e)}')


def _float_value(x: float) -> Any:
    if x - x == 0.0:  # finite
        return x
    return 'NaN' if x != x else ('Infinity' if x > 0 else '-Infinity')


def _empty(value: Any) -> bool:
    return value is None or (type(value) is str and not value)


def _key_text(key: Any) -> str:
    if type(key) is str:
        return escape_surrogates(key)
    if key is None:
        return 'null'
    if key is True or key is False:
        return 'true' if key else 'false'
    return safe_text(key)


def to_json_value(value: Any, key: Any = None, redact: bool = True, depth: int = 0,
                  active: Optional[set[int]] = None) -> Any:
    """Return ``value`` as JSON-native data (str, int within 64 bits, finite float, bool, None, dict with str keys,
    list) that any JSON encoder accepts.

    With ``redact``, the value of a secret-named ``key`` (at any depth, for mapping entries) becomes ``'****'``
    and URL credentials in strings are masked. Cycles become ``'<cycle>'`` and nesting beyond :data:`MAX_DEPTH`
    the marker :data:`DEPTH_MARK`. Never raises (except BaseExceptions).
    """
    if redact and key is not None and is_secret_key(key) and not _empty(value):
        return MASK
    t = type(value)
    if t is str:
        s = escape_surrogates(value)
        return mask_url_credentials(s) if redact and '://' in s else s
    if value is None or t is bool:
        return value
    if t is int:
        return value if _INT_MIN <= value <= _INT_MAX else str(value)
    if t is float:
        return _float_value(value)
    try:
        return _convert(value, redact, depth, active)
    except Exception as e:  # a container that cannot be iterated, an attribute that raises, ...
        return f'<unencodable {type(value).__name__}: {type(e).__name__}>'


def _convert(value: Any, redact: bool, depth: int, active: Optional[set[int]]) -> Any:
    if isinstance(value, (str, int, float)) and not isinstance(value, Enum):  # subclasses: their plain value
        if isinstance(value, str):
            return to_json_value(str.__str__(value), None, redact, depth, active)
        if isinstance(value, int):
            return to_json_value(int.__int__(value), None, redact, depth, active)
        return _float_value(float.__float__(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return to_json_value(bytes(value).decode('utf-8', 'backslashreplace'), None, redact, depth, active)
    is_map = isinstance(value, _MappingABC)
    is_seq = not is_map and isinstance(value, (list, tuple, set, frozenset))
    fields = getattr(type(value), '__dataclass_fields__', None) if not (is_map or is_seq) else None
    if is_map or is_seq or (fields is not None and not isinstance(value, type)):
        if depth >= MAX_DEPTH:
            return DEPTH_MARK
        if active is None:
            active = set()
        oid = id(value)
        if oid in active:
            return CYCLE_MARK
        active.add(oid)
        try:
            if is_seq:
                items: Iterable[Any] = value
                if isinstance(value, (set, frozenset)):
                    try:
                        items = sorted(value)
                    except Exception:  # unorderable members: iteration order
                        items = list(value)
                return [to_json_value(x, None, redact, depth + 1, active) for x in items]
            pairs = value.items() if is_map else ((name, getattr(value, name)) for name in fields)  # type: ignore[union-attr]
            out: dict[str, Any] = {}
            for k, x in pairs:
                nk = _key_text(k)
                if nk in out:  # two keys with the same text (1 and '1'): keep both
                    nk = f'{nk} ({type(k).__name__})'
                    while nk in out:
                        nk += '_'
                out[nk] = to_json_value(x, nk, redact, depth + 1, active)
            return out
        finally:
            active.discard(oid)
    if isinstance(value, Enum):
        return to_json_value(value.value, None, redact, depth + 1, active) if depth < MAX_DEPTH else DEPTH_MARK
    iso = getattr(value, 'isoformat', None)
    if iso is not None and type(value).__module__ == 'datetime':
        return iso()
    if isinstance(value, BaseException):
        text = f'{type(value).__name__}: {safe_str(value)}'
    else:
        converted = _pjl_default(value)
        if converted is not _NOT_CONVERTED and type(converted) is not type(value):
            return to_json_value(converted, None, redact, depth + 1, active) if depth < MAX_DEPTH else DEPTH_MARK
        text = safe_str(value)
    return to_json_value(text, None, redact, depth, active)


_NOT_CONVERTED = object()
_pjl_encoder_default: Optional[Callable[[Any], Any]] = None


def _pjl_default(value: Any) -> Any:
    """python-json-logger's conversion of an object JSON cannot hold (dates, times, UUIDs, tracebacks, ...), the
    way its JSON formatters write them; :data:`_NOT_CONVERTED` when it has none (it falls back to ``str``)."""
    global _pjl_encoder_default
    if _pjl_encoder_default is None:
        from pythonjsonlogger.json import JsonEncoder  # python-json-logger >= 3 (a dependency)
        _pjl_encoder_default = JsonEncoder().default
    try:
        out = _pjl_encoder_default(value)
    except Exception:
        return _NOT_CONVERTED
    if isinstance(out, str) and (out == '__could_not_encode__' or out == safe_str(value)):
        return _NOT_CONVERTED  # its "cannot" marker, or plain str(): ours says more (the type, the failure)
    return out


# ----------------------------------------------------------------------------------------------------------------
# JSON encoders


def _post_json(s: str) -> str:
    """Make encoder output safe for a line-oriented UTF-8 stream (raises ValueError for lone surrogates)."""
    if s.isascii():
        return s
    s.encode('utf-8')  # UnicodeEncodeError (a ValueError) for lone surrogates
    if '\u2028' in s or '\u2029' in s or '\x85' in s:  # only ever inside JSON strings: escape them
        s = s.replace('\u2028', '\\u2028').replace('\u2029', '\\u2029').replace('\x85', '\\u0085')
    return s


def json_encoder(prefer: Optional[str] = None) -> tuple[str, Callable[[Any], str]]:
    """Return ``(name, encode)``: orjson's encoder when installed (``prefer='json'`` forces the standard library's).

    ``encode(data)`` returns one line of JSON and raises (TypeError, ValueError, OverflowError, RecursionError)
    for anything it cannot encode exactly; callers convert with :func:`to_json_value` and retry.
    """
    if prefer not in (None, 'orjson', 'json'):
        raise ValueError(f"encoder must be 'orjson', 'json' or None, not {prefer!r}")
    if prefer != 'json':
        try:
            import orjson
        except ImportError:
            if prefer == 'orjson':
                raise
        else:
            dumps = orjson.dumps

            def encode_orjson(data: Any) -> str:
                return _post_json(dumps(data).decode())
            return 'orjson', encode_orjson
    import json
    std = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(',', ':')).encode

    def encode_json(data: Any) -> str:
        return _post_json(std(data))
    return 'json', encode_json


def _arg_types(args: Any) -> str:
    if isinstance(args, tuple):
        return '(' + ', '.join(type(a).__name__ for a in args) + ')'
    return type(args).__name__


def _message_error(record: logging.LogRecord, e: BaseException) -> tuple[str, str]:
    """The raw message text and the reason its formatting failed (argument types only: no values leak)."""
    reason = f'message formatting failed: {_error_text(e)}'
    args = getattr(record, 'args', None)
    if args:
        reason += f'; args: {_arg_types(args)}'
    return safe_text(getattr(record, 'msg', '')), reason


def _record_time(record: logging.LogRecord) -> str:
    try:
        created = float(record.created)
    except Exception:
        created = time.time()
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(created)) + _MSECS[int(created * 1000) % 1000] + 'Z'


def minimal_json_line(record: logging.LogRecord, reason: str) -> str:
    """The last-resort JSON line for a record: ``time``, ``level``, ``logger``, raw ``message``, ``log_error``."""
    import json
    try:
        msg = record.getMessage()
    except Exception:
        msg = getattr(record, 'msg', '')
    data = {'time': _record_time(record), 'level': safe_text(getattr(record, 'levelname', 'NOTSET')),
            'logger': safe_text(getattr(record, 'name', '')), 'message': safe_text(msg),
            'log_error': escape_surrogates(_bounded(reason))}
    return json.dumps(data, ensure_ascii=True, separators=(',', ':'))


# ----------------------------------------------------------------------------------------------------------------
# field rules


def reserved_names(static_fields: Iterable[str] = ()) -> frozenset[str]:
    """The names a user field cannot take: :data:`FIXED_FIELDS`, the framework's and the given static fields."""
    return frozenset(FIXED_FIELDS) | frozenset(FRAMEWORK_STATIC_FIELDS) | frozenset(static_fields)


def collision_name(name: str, taken: Any) -> str:
    """``extra_<name>``, with more prefixes while the result is in ``taken``."""
    new = COLLISION_PREFIX + name
    while new in taken:
        new = COLLISION_PREFIX + new
    return new


def prepare_static_fields(static_fields: Mapping[str, Any]) -> dict[str, Any]:
    """Static fields as written on every JSON line: secret values masked (always), values made JSON-native,
    names that collide with :data:`FIXED_FIELDS` prefixed."""
    out: dict[str, Any] = {}
    fixed = frozenset(FIXED_FIELDS)
    for k, val in static_fields.items():
        name = _key_text(k)
        if name in fixed or name in out:
            name = collision_name(name, fixed | out.keys() | set(static_fields))
        out[name] = to_json_value(val, name, redact=True)
    return out


# n of attributes LogRecord.__init__ sets: `extra` fields and later additions follow them in record.__dict__
_N_INIT = len(logging.LogRecord('n', 0, '', 0, '', (), None).__dict__)


# ----------------------------------------------------------------------------------------------------------------
# JSON


class JsonLineFormatter(logging.Formatter):
    """Writes each record as one JSON object on one line (see the module docstring for the rules).

    Fields, in order: ``time`` (ISO 8601 UTC with milliseconds, or ``datefmt`` in local time), ``level``,
    ``logger``, ``thread``, ``func``, ``message``, the static fields, the ``log_context`` fields and the record's
    ``extra`` fields, then ``log_error``, ``exc_info``, ``stack_info`` when present.
    """

    def __init__(self, static_fields: Optional[Mapping[str, Any]] = None, datefmt: Optional[str] = None, *,
                 redact: bool = True, encoder: Optional[str] = None) -> None:
        super().__init__(None, datefmt or None)
        self.redact = bool(redact)
        self.encoder_name, self._encode = json_encoder(encoder)
        self._orjson_dumps: Optional[Callable[[Any], bytes]] = None
        if self.encoder_name == 'orjson':
            import orjson
            self._orjson_dumps = orjson.dumps
        from json.encoder import encode_basestring  # the standard library's (C) JSON string encoder
        self._jstr: Callable[[str], str] = encode_basestring
        self.static_fields: dict[str, Any] = prepare_static_fields(static_fields or {})
        self.reserved: frozenset[str] = reserved_names(self.static_fields)
        self._template: dict[str, Any] = {**dict.fromkeys(FIXED_FIELDS[:6]), **self.static_fields}
        # the static fields as a JSON fragment (',"app":"svc",...') for the direct path of _simple_line
        self._static_json = ',' + self._encode(self.static_fields)[1:-1] if self.static_fields else ''
        self._json_names: dict[str, str] = {}  # level/logger/thread/function name -> its JSON text
        self._plain_keys: dict[str, str] = {}  # extra field name that needs no renaming -> its JSON text
        self._second_cache: tuple[int, str] = (-1, '')  # (second, its text), replaced atomically
        self._iso = not self.datefmt
        self._trace = TRACE if TRACE.decide() else None  # opentelemetry-api installed: decided once

    def _second(self, sec: int) -> str:
        if self.datefmt:
            text = time.strftime(self.datefmt, time.localtime(sec))
        else:
            text = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sec))
        self._second_cache = (sec, text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON (no trailing newline). Never raises."""
        try:
            rd = record.__dict__
            try:
                msg = record.getMessage()
                err = None
            except Exception as e:
                msg, err = _message_error(record, e)
            known = secret_values_pattern() if self.redact else None  # known secret values (None: none known)
            if known is not None and type(msg) is str and known.search(msg) is not None:
                msg = known.sub(MASK, msg)
            sec = int(rd['created'])
            cached = self._second_cache
            ts = cached[1] if cached[0] == sec else self._second(sec)
            if self._iso:
                ts += _MSECS_Z[int(rd['msecs'])]
            n_extra = len(rd) - _N_INIT
            ctx = _ctx_get()
            ids = None
            trace = self._trace
            if trace is not None:
                probe = trace.probe
                # bound: one ContextVar.get (an empty context: no span); not bound: nothing until the app has
                # imported opentelemetry.trace (one dict lookup), then ids() binds
                if (probe() if probe is not None else _OTEL_TRACE in _modules):
                    ids = trace.ids()
            if (n_extra <= 1 and err is None and not ctx and ids is None and type(msg) is str and not rd['exc_info']
                    and not rd['exc_text'] and not rd['stack_info']):
                line = self._simple_line(rd, msg, ts, n_extra)
                if line is not None:
                    return line
            d = self._template.copy()  # the fixed fields (in order) and the static fields
            d['time'] = ts
            d['level'] = rd['levelname']
            d['logger'] = rd['name']
            d['thread'] = rd['threadName']
            d['func'] = rd['funcName']
            d['message'] = msg
            if n_extra > 0 or ctx:
                self._add_user_fields(d, rd, n_extra, ctx)
            if ids is not None:
                _add_trace_fields(d, ids)
            if err is not None:
                d['log_error'] = err
            if rd['exc_info'] or rd['exc_text']:
                d['exc_info'] = self._exc_text(record)
            if rd['stack_info']:
                d['stack_info'] = self.formatStack(rd['stack_info'])
            if known is not None:
                _mask_known_values(d, known)
        except Exception as e:
            return minimal_json_line(record, f'record could not be read: {_error_text(e)}')
        try:
            dumps = self._orjson_dumps
            if dumps is not None:
                s = dumps(d).decode()
                return s if s.isascii() else _post_json(s)
            return self._encode(d)
        except Exception:  # something the encoder refuses: convert everything, then retry
            pass
        try:
            return self._encode(to_json_value(d, redact=False, depth=-1))
        except Exception as e:
            return minimal_json_line(record, f'record could not be encoded: {_error_text(e)}')

    def _simple_line(self, rd: dict[str, Any], msg: str, ts: str, n_extra: int) -> Optional[str]:
        """The JSON line of a common record (string names, at most one plain ``extra`` of a simple type) written
        directly: the same JSON object the encoder would give, faster. None when the record needs the general
        path."""
        jstr = self._jstr
        names = self._json_names
        try:
            level, logger, thread, func = (names[rd['levelname']], names[rd['name']], names[rd['threadName']],
                                           names[rd['funcName']])
        except KeyError:  # a name not seen yet: remember the JSON text of each
            fixed = (rd['levelname'], rd['name'], rd['threadName'], rd['funcName'])
            if any(type(x) is not str for x in fixed):
                return None
            level, logger, thread, func = texts = [jstr(x) for x in fixed]
            if len(names) >= 4096:
                names.clear()
            names.update(zip(fixed, texts))
        except TypeError:  # unhashable
            return None
        extra = ''
        if n_extra:
            k, val = next(reversed(rd.items()))
            key = self._plain_keys.get(k)  # the JSON text of an extra name that needs no renaming
            if key is None:
                if type(k) is not str or k in self.reserved or k in RECORD_ATTRS or k[:1] == '_':
                    return None
                key = self._plain_key(k)
            t = type(val)
            if self.redact and is_secret_key(k) and not _empty(val):
                text = '"' + MASK + '"'
            elif t is int:
                if not _INT_MIN <= val <= _INT_MAX:
                    return None
                text = str(val)
            elif t is str:
                if self.redact:
                    known = secret_values_pattern()
                    if known is not None and known.search(val) is not None:
                        return None  # the general path masks it
                text = jstr(mask_url_credentials(val) if self.redact and '://' in val else val)
            elif val is None:
                text = 'null'
            elif t is bool:
                text = 'true' if val else 'false'
            else:
                return None
            extra = f',{key}:{text}'
        when = f'"{ts}"' if self._iso else jstr(ts)  # ISO 8601 text needs no escaping
        line = (f'{{"time":{when},"level":{level},"logger":{logger},"thread":{thread},"func":{func},'
                f'"message":{jstr(msg)}{self._static_json}{extra}}}')
        if line.isascii():
            return line
        try:
            return _post_json(line)
        except ValueError:  # lone surrogates: the general path escapes them
            return None

    def _plain_key(self, k: str) -> str:
        keys = self._plain_keys
        if len(keys) >= 4096:
            keys.clear()
        text = keys[k] = self._jstr(k)
        return text

    def _exc_text(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            try:
                record.exc_text = self.formatException(record.exc_info)
            except Exception as e:
                return f'<traceback could not be formatted: {_error_text(e)}>'
        return safe_text(record.exc_text)

    def _add_user_fields(self, d: dict[str, Any], rd: dict[str, Any], n_extra: int,
                         ctx: Optional[Mapping[str, Any]]) -> None:
        items: Iterable[tuple[Any, Any]]
        if n_extra > 0:
            it = reversed(rd.items())
            if n_extra == 1:
                items = (next(it),)
            else:
                items = list(islice(it, n_extra))
                items.reverse()
            if ctx:
                items = (*ctx.items(), *items)
        else:
            items = ctx.items() if ctx else ()
        n_ctx = len(ctx) if ctx else 0
        reserved = self.reserved
        redact = self.redact
        renamed: Optional[list[tuple[str, Any]]] = None
        for k, val in items:
            if type(k) is not str:
                k = _key_text(k)
            elif n_ctx:
                n_ctx -= 1  # a log_context field: written whatever its name
            elif k in RECORD_ATTRS or k[:1] == '_':  # an attribute set after LogRecord.__init__, not an extra
                continue
            if k in reserved:
                if renamed is None:
                    renamed = []
                renamed.append((k, val))
                continue
            t = type(val)
            if redact and is_secret_key(k) and not _empty(val):
                val = MASK
            elif t is str:
                if redact and '://' in val:
                    val = mask_url_credentials(val)
            elif t is int:
                if not _INT_MIN <= val <= _INT_MAX:
                    val = str(val)
            elif val is None or t is bool:
                pass
            elif t is float:
                val = _float_value(val)
            else:
                val = to_json_value(val, None, redact)
            d[k] = val
        if renamed:
            for k, val in renamed:
                name = collision_name(k, d)
                d[name] = to_json_value(val, k, redact)


def _mask_known_values(d: dict[str, Any], known: Any) -> None:
    """Mask known secret values in the text fields of a record's dict, nested values included (the message is
    masked already; the fixed name fields are left as they are)."""
    for k, val in d.items():
        if k in _UNMASKED_FIELDS:
            continue
        if type(val) is str:
            if known.search(val) is not None:
                d[k] = known.sub(MASK, val)
        elif isinstance(val, (dict, list)):
            d[k] = _mask_known_nested(val, known, 0)


_UNMASKED_FIELDS = frozenset(('time', 'level', 'logger', 'thread', 'func', 'message'))


def _mask_known_nested(val: Any, known: Any, depth: int) -> Any:
    if type(val) is str:
        return known.sub(MASK, val) if known.search(val) is not None else val
    if depth > MAX_DEPTH:
        return val
    if isinstance(val, dict):
        return {k: _mask_known_nested(x, known, depth + 1) for k, x in val.items()}
    if isinstance(val, list):
        return [_mask_known_nested(x, known, depth + 1) for x in val]
    return val
def _add_trace_fields(d: dict[str, Any], ids: tuple[str, str]) -> None:
    """Write the active span's ``trace_id`` / ``span_id``; a user field of that name becomes ``extra_<name>``."""
    for name, value in zip(TRACE_FIELDS, ids):
        if name in d:
            d[collision_name(name, d)] = d.pop(name)
        d[name] = value


def make_json_formatter(static_fields: Mapping[str, Any], datefmt: Optional[str] = None, *, redact: bool = True,
                        encoder: Optional[str] = None) -> JsonLineFormatter:
    """Return the framework's JSON formatter (see :class:`JsonLineFormatter`).

    ``static_fields`` (app, image, version, app parameters) are written on every line, secret values masked.
    ``redact`` masks secret-named ``extra`` and ``log_context`` fields and URL credentials in their values.
    ``encoder``: ``'orjson'``, ``'json'`` (the standard library) or None (orjson when installed).
    """
    return JsonLineFormatter(static_fields, datefmt, redact=redact, encoder=encoder)


# ----------------------------------------------------------------------------------------------------------------
# plain text


def _escape_lines(text: str) -> str:
    if '\n' in text or '\r' in text:
        return text.replace('\r', '\\r').replace('\n', '\\n')
    return text


class PlainFormatter(logging.Formatter):
    """A %-style formatter that appends context fields (``[tenant=t1]``) when a ``log_context`` is active.

    Never raises: a message that cannot be formatted is written raw, followed by ``[log error: <reason>]``; if
    the format string itself fails on the record, a minimal line (time, level, logger, message) is written.
    Context fields named like framework fields are prefixed ``extra_``; with ``redact`` secret-named ones are
    masked and URL credentials in their values too. Timestamps are formatted once per second and reused.
    """

    def __init__(self, fmt: Optional[str] = None, datefmt: Optional[str] = None, *, redact: bool = True,
                 reserved: Optional[Iterable[str]] = None) -> None:
        super().__init__(fmt, datefmt or None)
        self.redact = bool(redact)
        self.reserved: frozenset[str] = frozenset(reserved) if reserved is not None else reserved_names()
        self._second_cache: tuple[int, str] = (-1, '')  # (second, its text), replaced atomically
        # %(trace_id)s / %(span_id)s: the active span's ids, empty without one (or without opentelemetry-api)
        self._uses_trace = not format_uses(fmt).isdisjoint(TRACE_FIELDS)
        self._trace = TRACE if self._uses_trace and TRACE.decide() else None

    def formatTime(self, record: logging.LogRecord, datefmt: Optional[str] = None) -> str:  # noqa: N802
        """The record's time: ``datefmt`` (or the formatter's) or ``YYYY-mm-dd HH:MM:SS,mmm``, local time."""
        sec = int(record.created)
        fmt = datefmt or self.datefmt
        cacheable = fmt == self.datefmt
        cached = self._second_cache
        if cacheable and cached[0] == sec:
            text = cached[1]
        else:
            text = time.strftime(fmt or _DEFAULT_TIME_FMT, self.converter(sec))
            if cacheable:
                self._second_cache = (sec, text)
        if fmt:
            return text
        return text + ',' + _MSECS[int(record.msecs)][1:]

    def format(self, record: logging.LogRecord) -> str:
        """Return the formatted record, context fields appended. Never raises."""
        if self._uses_trace:
            self._set_trace_fields(record)
        try:
            s = super().format(record)
        except Exception as e:
            s = self._format_failed(record, e)
        ctx = _log_ctx.get()
        if ctx:
            s += self._context_suffix(ctx)
        if self.redact:  # known secret values in the message, its arguments, the traceback and context fields
            known = secret_values_pattern()
            if known is not None and known.search(s) is not None:
                s = known.sub(MASK, s)
        return s if s.isascii() else escape_surrogates(s)

    def _set_trace_fields(self, record: logging.LogRecord) -> None:
        trace = self._trace
        ids = None
        if trace is not None:
            probe = trace.probe
            if (probe() if probe is not None else _OTEL_TRACE in _modules):
                ids = trace.ids()
        rd = record.__dict__
        if ids is not None:
            rd[TRACE_FIELDS[0]], rd[TRACE_FIELDS[1]] = ids
        else:  # no span: empty (an `extra` of that name is kept)
            for name in TRACE_FIELDS:
                if name not in rd:
                    rd[name] = ''

    def _context_suffix(self, ctx: Mapping[str, Any]) -> str:
        parts = []
        taken = set(ctx)
        for k, val in ctx.items():
            name = safe_text(k)
            if name in self.reserved:
                name = collision_name(name, self.reserved | taken)
                taken.add(name)
            if self.redact and is_secret_key(name) and not _empty(val):
                text = MASK
            elif type(val) is str:
                text = mask_url_credentials(val) if self.redact and '://' in val else val
            else:
                text = safe_str(val)
                if self.redact:
                    text = mask_text(text)
            parts.append(f'{_escape_lines(name)}={_escape_lines(text)}')
        return ' [' + ' '.join(parts) + ']'

    def _format_failed(self, record: logging.LogRecord, e: BaseException) -> str:
        try:
            record.getMessage()
        except Exception as msg_error:
            raw, reason = _message_error(record, msg_error)
            record.message = f'{raw} [log error: {reason}]'
            try:
                if self.usesTime():
                    record.asctime = self.formatTime(record, self.datefmt)
                s = self.formatMessage(record)
                if record.exc_info or record.exc_text or record.stack_info:
                    s = self._append_exc(record, s)
                return s
            except Exception as fmt_error:
                e = fmt_error
        else:
            raw = safe_text(record.getMessage())
        reason = f'format failed: {_error_text(e)}'
        try:
            when = self.formatTime(record)
        except Exception:
            when = _record_time(record)
        line = (f'{when} {safe_text(getattr(record, "levelname", ""))} {safe_text(getattr(record, "name", ""))}: '
                f'{raw} [log error: {reason}]')
        return self._append_exc(record, line)

    def _append_exc(self, record: logging.LogRecord, s: str) -> str:
        try:
            if record.exc_info and not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
            if record.exc_text:
                s = s + '\n' + safe_text(record.exc_text)
            if record.stack_info:
                s = s + '\n' + self.formatStack(record.stack_info)
        except Exception as e:
            s += f' [traceback could not be formatted: {_error_text(e)}]'
        return s


def format_uses(fmt: Optional[str]) -> frozenset[str]:
    """The record attribute names a %-style format string references (``%(name)s``)."""
    import re
    return frozenset(re.findall(r'%\((\w+)\)', fmt or ''))


__all__ = ['DEFAULT_FORMAT', 'FIXED_FIELDS', 'FRAMEWORK_STATIC_FIELDS', 'COLLISION_PREFIX', 'MAX_DEPTH', 'CYCLE_MARK',
           'DEPTH_MARK', 'RECORD_ATTRS', 'log_context', 'current_log_context', 'safe_str', 'safe_text',
           'escape_surrogates', 'to_json_value', 'json_encoder', 'minimal_json_line', 'reserved_names',
           'collision_name', 'prepare_static_fields', 'JsonLineFormatter', 'make_json_formatter', 'PlainFormatter',
           'format_uses', 'bind_log_context', 'unbind_log_context']
