"""Logging set-up: one framework handler on the root logger, plain or JSON, with context fields.

The formatters, field rules and safe encoding live in :mod:`.log_format` (re-exported here).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Mapping, Optional, TextIO, Union

from .._exports import Exports
from ..api.variables import Variables
from ..exceptions import ConfigurationError
from ..util.secrets import bounded_repr
from .context import get_app_context, peek_app_context
from .defaults import get_variables
from .log_format import (
    DEFAULT_FORMAT,
    JsonLineFormatter,
    PlainFormatter,
    format_uses,
    make_json_formatter,
    reserved_names,
)
from .log_records import use_lean_records
from .tracing import TRACE_FIELDS


class FrameworkHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The framework's root handler.

    Writes to ``sys.stderr`` as it is at emit time (unless a stream was set with ``setStream``), and drops
    records silently once the stream is closed, so nothing logged during interpreter exit produces
    "I/O operation on closed file" noise.
    """

    saf_handler = True

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self._fixed_stream: Optional[TextIO] = stream
        super().__init__(stream)

    @property
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
        msg = ''
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
        except UnicodeEncodeError:  # a character the stream's encoding lacks: write it escaped
            self._write_escaped(stream, record, msg)
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

    def _write_escaped(self, stream: Any, record: logging.LogRecord, msg: str) -> None:
        try:
            enc = getattr(stream, 'encoding', None) or 'utf-8'
            text = msg.encode(enc, 'backslashreplace').decode(enc, 'replace')
            with self.lock:  # type: ignore[union-attr]
                stream.write(text)
                stream.flush()
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


_MIN_LEVEL, _MAX_LEVEL = logging.NOTSET, logging.CRITICAL  # the standard range of numeric levels


def parse_level(value: Any) -> Optional[int]:
    """Return the numeric level for a level name (``'debug'``, ``'WARNING'``, or a name registered with
    ``logging.addLevelName``) or a number in the standard range 0..50 (``20``, ``'20'``); None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _MIN_LEVEL <= value <= _MAX_LEVEL else None
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        if s.isascii() and s.isdigit():
            n = int(s)
            return n if _MIN_LEVEL <= n <= _MAX_LEVEL else None
        lvl = logging.getLevelName(s.upper())
        if isinstance(lvl, int) and not isinstance(lvl, bool):
            return lvl
    return None


class LoggingConfigError(ConfigurationError):
    """A logging setting (``LOGGING_FORMAT``, ``LOGGING_DATE_FORMAT``) is invalid (a ``ValueError``); the message
    names the variable, its value (bounded) and how to fix it. ``variable`` and ``value`` hold them."""

    def __init__(self, variable: str, value: Any, problem: str, fix: str) -> None:
        self.variable = variable
        self.value = value
        super().__init__(f'{variable}={bounded_repr(value, 120)} {problem}; {fix}')


_FORMAT_FIX = ("use %(field)s placeholders of a log record such as %(asctime)s %(levelname)s %(name)s "
               "%(funcName)s %(threadName)s %(message)s, write a literal % as %%, or set LOGGING_FORMAT=json "
               "(JSON lines) or leave it unset (the default format)")


def _check_record() -> logging.LogRecord:
    """A record with every standard field filled (whatever the ``logging.log*`` switches say)."""
    record = logging.LogRecord('saf.check', logging.INFO, __file__, 1, 'check %s', ('ok',), None, func='check')
    filled = {'thread': 1, 'threadName': 'MainThread', 'process': 1, 'processName': 'MainProcess',
              'taskName': 'Task-1'}
    for name, value in filled.items():
        if name in record.__dict__ and record.__dict__[name] is None:
            record.__dict__[name] = value
    for name in TRACE_FIELDS:  # %(trace_id)s / %(span_id)s: set by the framework's formatters
        record.__dict__[name] = ''
    return record


def validate_log_format(fmt: str) -> None:
    """Raise :class:`LoggingConfigError` unless ``fmt`` is a %-style logging format string that formats a record
    with the standard fields (``'100%'`` and ``'%(nosuchfield)s'`` are errors)."""
    try:
        logging.Formatter(fmt, validate=True).format(_check_record())
    except Exception as e:
        problem = 'is not a valid logging format string'
        if isinstance(e, ValueError) and str(e).startswith('Invalid format'):
            problem += ' (it needs at least one %(field)s placeholder, and every other % written as %%)'
        else:
            problem += f' ({type(e).__name__}: {bounded_repr(str(e), 120)[1:-1]})'
        raise LoggingConfigError('LOGGING_FORMAT', fmt, problem, _FORMAT_FIX) from e


def validate_date_format(datefmt: str) -> None:
    """Raise :class:`LoggingConfigError` unless ``time.strftime(datefmt)`` works and gives UTF-8 text."""
    try:
        time.strftime(datefmt, time.localtime()).encode('utf-8')
    except Exception as e:
        reason = f'{type(e).__name__}: {bounded_repr(str(e), 120)[1:-1]}'
        raise LoggingConfigError(
            'LOGGING_DATE_FORMAT', datefmt, f'is not a usable time.strftime format ({reason})',
            "use strftime directives such as '%Y-%m-%d %H:%M:%S', or leave it unset (ISO 8601 in JSON lines, "
            "'YYYY-mm-dd HH:MM:SS,mmm' in plain text)") from e


def build_formatter(log_format: Any, datefmt: Any, static_fields: Optional[Mapping[str, Any]] = None,
                    redact: bool = True) -> logging.Formatter:
    """Return the formatter :func:`configure_logging` installs for these settings (validating them).

    ``log_format``: ``'json'`` (any case) for JSON lines, a string containing ``%`` for a logging format string,
    anything else (or None, or empty) for :data:`DEFAULT_FORMAT`. ``datefmt``: a ``time.strftime`` format or
    None/empty for the default. Raises :class:`LoggingConfigError` for an invalid format or date format.
    """
    date = None if datefmt is None or str(datefmt) == '' else str(datefmt)
    if date is not None:
        validate_date_format(date)
    static = dict(static_fields or {})
    text = None if log_format is None else str(log_format)
    if text is not None and text.strip().lower() == 'json':
        return make_json_formatter(static, date, redact=redact)
    reserved = reserved_names(static)
    if text is not None and '%' in text:
        validate_log_format(text)
        return PlainFormatter(text, date, redact=redact, reserved=reserved)
    return PlainFormatter(DEFAULT_FORMAT, date, redact=redact, reserved=reserved)


def _fields_used(fmt: logging.Formatter) -> frozenset[str]:
    """The record attributes the framework's formatter reads (JSON: only ``threadName`` of the optional ones)."""
    if isinstance(fmt, JsonLineFormatter):
        return frozenset(('threadName',))
    return format_uses(getattr(fmt, '_fmt', None))


def configure_logging(level: int, log_format: Optional[str], datefmt: Optional[str],
                      static_fields: Mapping[str, Any], redact: bool = True,
                      lean_records: bool = True) -> FrameworkHandler:
    """Install (once per process) or update the framework handler on the root logger; return it.

    ``log_format``: ``'json'`` for JSON lines, a string containing ``%`` for a logging format string,
    anything else (or None) for the default format. ``datefmt``: ``time.strftime`` format (None: default).
    ``static_fields`` are written on every JSON line, secret values always masked. ``redact`` (``SAF_LOG_REDACT``)
    masks secret-named ``extra`` / ``log_context`` fields and URL credentials in their values.
    ``lean_records``: make records cheaper to build (:func:`.log_records.use_lean_records`): turn off
    ``logging.logMultiprocessing`` / ``logAsyncioTasks`` when the format
    does not use the fields they fill (JSON uses only ``threadName``) and install the verified-identical
    :class:`~.log_records.LeanLogRecord` factory; False undoes that. :func:`remove_framework_handler` restores
    the switches and the factory.

    Raises :class:`LoggingConfigError` (a ``ValueError``) for an invalid format or date format, before anything
    is changed.
    """
    global _root_level_before
    fmt = build_formatter(log_format, datefmt, static_fields, redact)
    root = logging.getLogger()
    handler = find_framework_handler()
    if handler is None:
        handler = FrameworkHandler()
        if _root_level_before is None:
            _root_level_before = root.level
        root.addHandler(handler)
    handler.setFormatter(fmt)
    use_lean_records(_fields_used(fmt) if lean_records else None)
    root.setLevel(level)
    return handler


# process-wide (the root logger is): the root logger's level before the framework first configured it
_root_level_before: Optional[int] = None


def remove_framework_handler() -> None:
    """Remove the framework handler from the root logger, restore the root level it found and the
    ``logging.log*`` switches and the record factory, and re-arm the warning of :func:`get_logger` before
    ``init_framework`` (used by ``testing.reset_framework``: the process-wide logging state, as before init)."""
    global _root_level_before, _warned_pre_init
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, 'saf_handler', False):
            root.removeHandler(h)
    if _root_level_before is not None:
        root.setLevel(_root_level_before)
        _root_level_before = None
    use_lean_records(None)
    _warned_pre_init = False


def set_app_logger(v: Variables, logger: logging.Logger) -> None:
    """Make ``logger`` the main logger of ``v`` (what :func:`get_logger` returns)."""
    get_app_context(v).logger = logger


def get_logger(v: Optional[Variables] = None, logger: Union[logging.Logger, str, None] = None,
               name: Optional[str] = None) -> logging.Logger:
    """Return the app's main logger, or its child ``name``; the original's signature.

    ``logger``, when given, is returned instead of the app's logger (its child ``name`` when a name is given), as
    in the original (``get_logger(v, self.logger)`` in a plugin). A string in its place is taken as ``name`` (our
    earlier signature was ``get_logger(v, name)``).

    Before ``init_framework`` it is the logger named ``SAF`` (as in the original), and a warning says so once per
    process. ``v`` may be a stand-in with only ``get(key, default=None)`` (as apps' tests pass): its logger is the
    one it holds under the original's key ``'=|main_logger|'``, else ``SAF``.
    """
    if isinstance(logger, str):
        logger, name = None, (logger if name is None else f'{logger}.{name}')
    if logger is not None:
        return logger.getChild(str(name)) if name else logger
    v = get_variables(v)
    main: Optional[logging.Logger]
    if isinstance(v, Variables):
        ctx = peek_app_context(v)
        main = ctx.logger if ctx is not None else None
    else:
        held = v.get(_ORIGINAL_LOGGER_KEY, None)
        main = held if isinstance(held, logging.Logger) else None
    if main is None:
        main = logging.getLogger(PRE_INIT_LOGGER)
        if not _warned_pre_init:
            _warn_pre_init(main)
    if name:
        return main.getChild(str(name))
    return main


#: the logger get_logger returns before init_framework (and init_framework_embedded's fixed logger)
PRE_INIT_LOGGER = 'SAF'
_ORIGINAL_LOGGER_KEY = '=|main_logger|'  # where the original kept the app logger in v (stand-ins may hold one)
_warned_pre_init = False  # process-wide: get_logger() before init_framework() warns once (reset_framework re-arms it)


def _warn_pre_init(logger: logging.Logger) -> None:
    global _warned_pre_init
    _warned_pre_init = True
    logger.warning('get_logger() was called before init_framework(): using the logger %r; call init_framework() '
                   'first so that log lines carry the app name and the configured format', PRE_INIT_LOGGER)


LoggerLike = Union[logging.Logger, str]

__all__ = ['FrameworkHandler', 'find_framework_handler', 'parse_level', 'LoggingConfigError', 'validate_log_format',
           'validate_date_format', 'build_formatter',
           'configure_logging', 'remove_framework_handler', 'set_app_logger', 'get_logger', 'LoggerLike',
           'PRE_INIT_LOGGER']

# the formatters and the log context live in core.log_format; these were importable here before 0.1.0
# (PlainFormatter, JsonLineFormatter, make_json_formatter and DEFAULT_FORMAT are still imported above, for this
# module's own use, and are not part of its surface)
_EXPORTS = Exports(__name__, globals(), moved=dict.fromkeys(
    ['log_context', 'current_log_context', 'FIXED_FIELDS', 'COLLISION_PREFIX'],
    'scitrera_app_framework.core.log_format'))


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
