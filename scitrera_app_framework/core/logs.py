"""Logging set-up: one framework handler on the root logger, plain or JSON, with context fields."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from itertools import islice
from typing import Any, Callable, Iterator, Mapping, Optional, TextIO, Union

from ..api.variables import Variables
from .defaults import get_variables

DEFAULT_FORMAT = '%(asctime)s %(levelname)-8s [%(threadName)s] %(name)s.%(funcName)s: %(message)s'
_JSON_FIELDS = ('asctime', 'levelname', 'name', 'threadName', 'funcName', 'message')

# fields added to every record emitted inside ``log_context(...)`` (e.g. tenant=t1)
_log_ctx: contextvars.ContextVar[Optional[Mapping[str, Any]]] = contextvars.ContextVar('saf_log_ctx', default=None)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every log record emitted (through the framework handler) inside the block.

    Nested blocks merge; the fields follow work submitted to the background executor.
    """
    cur = _log_ctx.get()
    token = _log_ctx.set({**cur, **fields} if cur else dict(fields))
    try:
        yield
    finally:
        _log_ctx.reset(token)


def current_log_context() -> Mapping[str, Any]:
    """Return the fields set by the enclosing :func:`log_context` blocks (empty mapping if none)."""
    return _log_ctx.get() or {}


_DEFAULT_TIME_FMT = '%Y-%m-%d %H:%M:%S'
_MSECS = tuple(f'.{i:03d}' for i in range(1000))  # '.000' .. '.999': faster than formatting msecs per record


class PlainFormatter(logging.Formatter):
    """A %-style formatter that appends context fields (``[tenant=t1]``) when a ``log_context`` is active.

    Timestamps are formatted once per second and reused (the costly part of ``formatTime``).
    """

    def __init__(self, fmt: Optional[str] = None, datefmt: Optional[str] = None) -> None:
        super().__init__(fmt, datefmt)
        self._second_cache: tuple[int, str] = (-1, '')  # (second, its text), replaced atomically

    def formatTime(self, record: logging.LogRecord, datefmt: Optional[str] = None) -> str:  # noqa: N802
        sec = int(record.created)
        cached = self._second_cache
        if cached[0] == sec:
            text = cached[1]
        else:
            text = time.strftime(datefmt or self.datefmt or _DEFAULT_TIME_FMT, self.converter(sec))
            self._second_cache = (sec, text)
        if datefmt or self.datefmt:
            return text
        return text + ',' + _MSECS[int(record.msecs)][1:]

    def format(self, record: logging.LogRecord) -> str:
        s = super().format(record)
        ctx = _log_ctx.get()
        if ctx:
            s += ' [' + ' '.join(f'{k}={val}' for k, val in ctx.items()) + ']'
        return s


def _json_base() -> type:
    try:
        from pythonjsonlogger.json import JsonFormatter
    except ImportError:  # python-json-logger < 3
        from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[no-redef]
    return JsonFormatter


def _json_dumps() -> tuple[Optional[Callable[[dict], bytes]], Callable[[dict], str]]:
    """Return ``(fast, safe)`` JSON encoders: ``fast`` is orjson's (None when not installed) and may raise
    TypeError on values it cannot encode; ``safe`` encodes anything (python-json-logger's default handling
    of datetimes, exceptions, dataclasses, then ``repr``)."""
    try:
        from pythonjsonlogger.json import JsonEncoder
        fallback: Callable[[Any], Any] = JsonEncoder().default
    except ImportError:  # pragma: no cover - python-json-logger < 3
        fallback = str

    def default(o: Any) -> Any:
        try:
            return fallback(o)
        except Exception:
            return repr(o)

    try:
        import orjson  # optional speed-up (the `fast` extra; python-json-logger's fast backend)
    except ImportError:
        import json
        return None, json.JSONEncoder(default=default, ensure_ascii=False).encode

    def safe(d: dict) -> str:
        return orjson.dumps(d, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    return orjson.dumps, safe


def make_json_formatter(static_fields: Mapping[str, Any], datefmt: Optional[str] = None) -> logging.Formatter:
    """Return a JSON formatter (a python-json-logger ``JsonFormatter``) writing one object per record.

    Fields: ``time`` (ISO 8601 UTC, or ``datefmt`` local time), ``level``, ``logger``, ``thread``, ``func``,
    ``message``, then ``static_fields`` (app, image, version, app parameters), the record's extra attributes,
    the active ``log_context`` fields, and ``exc_info`` / ``stack_info`` when present.
    """
    base = _json_base()
    fast, safe = _json_dumps()
    static = dict(static_fields)
    reserved = frozenset(_RESERVED)
    # LogRecord.__init__ sets a fixed set of attributes first; `extra` fields and later additions follow them
    n_init = len(logging.LogRecord('n', 0, '', 0, '', (), None).__dict__)
    ctx_get = _log_ctx.get

    class SafJsonFormatter(base):  # type: ignore[valid-type, misc]
        def __init__(self) -> None:
            super().__init__(list(_JSON_FIELDS), static_fields=static, datefmt=datefmt)
            self._second_cache: tuple[int, str] = (-1, '')  # (second, its text), replaced atomically

        def _second(self, sec: int) -> str:
            if datefmt:
                text = time.strftime(datefmt, time.localtime(sec))
            else:
                text = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(sec))
            self._second_cache = (sec, text)
            return text

        def format(self, record: logging.LogRecord) -> str:
            sec = int(record.created)
            cached = self._second_cache
            ts = cached[1] if cached[0] == sec else self._second(sec)
            d = {'time': ts if datefmt else ts + _MSECS[int(record.msecs)] + 'Z', 'level': record.levelname,
                 'logger': record.name, 'thread': record.threadName, 'func': record.funcName,
                 'message': record.getMessage(), **static}
            rd = record.__dict__
            if len(rd) > n_init:
                for k, val in islice(rd.items(), n_init, None):
                    if k not in reserved and k[0] != '_':
                        d[k] = val
            ctx = ctx_get()
            if ctx:
                d.update(ctx)
            if record.exc_info:
                d['exc_info'] = self.formatException(record.exc_info)
            elif record.exc_text:
                d['exc_info'] = record.exc_text
            if record.stack_info:
                d['stack_info'] = self.formatStack(record.stack_info)
            if fast is not None:
                try:
                    return fast(d).decode()
                except TypeError:  # a value orjson cannot encode natively (or a non-str key)
                    pass
            return safe(d)

    return SafJsonFormatter()


_RESERVED = ('args', 'asctime', 'created', 'exc_info', 'exc_text', 'filename', 'funcName', 'levelname', 'levelno',
             'lineno', 'module', 'msecs', 'message', 'msg', 'name', 'pathname', 'process', 'processName',
             'relativeCreated', 'stack_info', 'thread', 'threadName', 'taskName')


class FrameworkHandler(logging.StreamHandler):
    """The framework's root handler.

    Writes to ``sys.stderr`` as it is at emit time (unless a stream was set with ``setStream``), and drops
    records silently once the stream is closed, so nothing logged during interpreter exit produces
    "I/O operation on closed file" noise.
    """

    saf_handler = True

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self._fixed_stream: Optional[TextIO] = stream
        super().__init__(stream)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._fixed_stream if self._fixed_stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: Optional[TextIO]) -> None:
        self._fixed_stream = value if value is not sys.stderr else None

    def handle(self, record: logging.LogRecord) -> Any:
        """Format the record, then write it under the handler's lock (only the write needs the lock).

        With filters added, falls back to the standard ``Handler.handle`` (filters, then ``emit``).
        """
        if self.filters:
            return super().handle(record)
        self._write(record, True)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self._write(record, False)

    def _write(self, record: logging.LogRecord, lock: bool) -> None:
        stream = self._fixed_stream or sys.stderr
        try:
            if stream.closed:
                return
            msg = (self.formatter or _DEFAULT_FORMATTER).format(record) + '\n'
            if lock:
                with self.lock:  # type: ignore[union-attr]
                    stream.write(msg)
                    stream.flush()
            else:
                stream.write(msg)
                stream.flush()
        except RecursionError:
            raise
        except ValueError:
            if getattr(stream, 'closed', False):  # closed underneath us (interpreter exit): drop silently
                return
            self.handleError(record)
        except AttributeError:  # stream is None or lacks closed/write/flush (pythonw, odd replacements)
            if stream is None:
                return
            self._emit_slow(stream, record)
        except Exception:
            self.handleError(record)

    def _emit_slow(self, stream: Any, record: logging.LogRecord) -> None:
        try:
            stream.write(self.format(record) + '\n')
            flush = getattr(stream, 'flush', None)
            if flush is not None:
                flush()
        except Exception:
            self.handleError(record)


_DEFAULT_FORMATTER = logging.Formatter()


def find_framework_handler() -> Optional[FrameworkHandler]:
    """Return the framework handler installed on the root logger, if any."""
    for h in logging.getLogger().handlers:
        if getattr(h, 'saf_handler', False):
            return h  # type: ignore[return-value]
    return None


def parse_level(value: Any) -> Optional[int]:
    """Return the numeric level for a name (``'debug'``, ``'WARNING'``) or number, or None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip()
        if s.isdigit():
            return int(s)
        lvl = logging.getLevelName(s.upper())
        if isinstance(lvl, int):
            return lvl
    return None


def configure_logging(level: int, log_format: Optional[str], datefmt: Optional[str],
                      static_fields: Mapping[str, Any]) -> FrameworkHandler:
    """Install (once per process) or update the framework handler on the root logger; return it.

    ``log_format``: ``'json'`` for JSON lines, a string containing ``%`` for a logging format string,
    anything else (or None) for the default format.
    """
    global _root_level_before
    root = logging.getLogger()
    handler = find_framework_handler()
    if handler is None:
        handler = FrameworkHandler()
        if _root_level_before is None:
            _root_level_before = root.level
        root.addHandler(handler)
    fmt: logging.Formatter
    if log_format is not None and str(log_format).strip().lower() == 'json':
        fmt = make_json_formatter(static_fields, datefmt)
    elif log_format is not None and '%' in str(log_format):
        fmt = PlainFormatter(str(log_format), datefmt)
    else:
        fmt = PlainFormatter(DEFAULT_FORMAT, datefmt)
    handler.setFormatter(fmt)
    root.setLevel(level)
    return handler


_root_level_before: Optional[int] = None  # the root logger's level before the framework first configured it


def remove_framework_handler() -> None:
    """Remove the framework handler from the root logger and restore the root level it found
    (used by ``testing.reset_framework``)."""
    global _root_level_before
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, 'saf_handler', False):
            root.removeHandler(h)
    if _root_level_before is not None:
        root.setLevel(_root_level_before)
        _root_level_before = None


def set_app_logger(v: Variables, logger: logging.Logger) -> None:
    """Make ``logger`` the main logger of ``v`` (what :func:`get_logger` returns)."""
    from .context import get_app_context
    get_app_context(v).logger = logger


def get_logger(v: Optional[Variables] = None, name: Optional[str] = None) -> logging.Logger:
    """Return the app's main logger, or its child ``name``.

    Before ``init_framework`` the logger is named after ``APP_NAME`` (or ``saf``).
    """
    v = get_variables(v)
    ctx = v._app
    logger: Optional[logging.Logger] = ctx.logger if ctx is not None else None
    if logger is None:
        logger = logging.getLogger(str(v.get('APP_NAME') or 'saf'))
    if name:
        return logger.getChild(str(name))
    return logger


LoggerLike = Union[logging.Logger, str]
