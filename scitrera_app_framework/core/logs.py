"""Logging set-up: one framework handler on the root logger, plain or JSON, with context fields."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from typing import Any, Iterator, Mapping, Optional, TextIO, Union

from ..api.variables import Variables
from .defaults import get_variables

DEFAULT_FORMAT = '%(asctime)s %(levelname)-8s [%(threadName)s] %(name)s.%(funcName)s: %(message)s'
_JSON_FIELDS = ('asctime', 'levelname', 'name', 'threadName', 'funcName', 'message')
_LOGGER_KEY = 'logger'

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


class _ContextFilter(logging.Filter):
    """Copies the current log context onto the record (as attributes, and as ``saf_context``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _log_ctx.get()
        if ctx:
            for k, val in ctx.items():
                if not hasattr(record, k):
                    setattr(record, k, val)
            record.saf_context = ctx
        return True


class PlainFormatter(logging.Formatter):
    """A %-style formatter that appends context fields (``[tenant=t1]``) when a ``log_context`` is active."""

    def format(self, record: logging.LogRecord) -> str:
        s = super().format(record)
        ctx = getattr(record, 'saf_context', None)
        if ctx:
            s += ' [' + ' '.join(f'{k}={val}' for k, val in ctx.items()) + ']'
        return s


def make_json_formatter(static_fields: Mapping[str, Any], datefmt: Optional[str] = None) -> logging.Formatter:
    """Return python-json-logger's JSON formatter with ``static_fields`` added to every line."""
    try:
        from pythonjsonlogger.json import JsonFormatter
    except ImportError:  # python-json-logger < 3
        from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[no-redef]

    class _SafJsonFormatter(JsonFormatter):
        def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
            super().add_fields(log_record, record, message_dict)
            log_record.pop('saf_context', None)

    return _SafJsonFormatter(
        list(_JSON_FIELDS), static_fields=dict(static_fields), datefmt=datefmt,
        rename_fields={'asctime': 'time', 'levelname': 'level', 'name': 'logger', 'threadName': 'thread',
                       'funcName': 'func'},
    )


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
        self.addFilter(_ContextFilter())

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._fixed_stream if self._fixed_stream is not None else sys.stderr

    @stream.setter
    def stream(self, value: Optional[TextIO]) -> None:
        self._fixed_stream = value if value is not sys.stderr else None

    def emit(self, record: logging.LogRecord) -> None:
        stream = self.stream
        if stream is None or getattr(stream, 'closed', False):
            return
        try:
            msg = self.format(record)
            stream.write(msg + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except ValueError:  # closed underneath us (interpreter exit)
            return
        except Exception:
            self.handleError(record)


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
    root = logging.getLogger()
    handler = find_framework_handler()
    if handler is None:
        handler = FrameworkHandler()
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


def remove_framework_handler() -> None:
    """Remove the framework handler from the root logger (used by ``testing.reset_framework``)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, 'saf_handler', False):
            root.removeHandler(h)


def set_app_logger(v: Variables, logger: logging.Logger) -> None:
    """Make ``logger`` the main logger of ``v`` (what :func:`get_logger` returns)."""
    v._ext[_LOGGER_KEY] = logger


def get_logger(v: Optional[Variables] = None, name: Optional[str] = None) -> logging.Logger:
    """Return the app's main logger, or its child ``name``.

    Before ``init_framework`` the logger is named after ``APP_NAME`` (or ``saf``).
    """
    v = get_variables(v)
    logger: Optional[logging.Logger] = v._ext.get(_LOGGER_KEY)
    if logger is None:
        logger = logging.getLogger(str(v.get('APP_NAME') or 'saf'))
    if name:
        return logger.getChild(str(name))
    return logger


LoggerLike = Union[logging.Logger, str]
