"""Cheaper log records: the standard library's ``logging.log*`` switches and a leaner record factory.

Most of the time a log call takes goes into building the ``LogRecord``, not into formatting it. The standard
library offers two ways to make that cheaper, and :func:`use_lean_records` (called by ``configure_logging``
with the fields its format uses; ``lean_records=False`` there turns all of this off) applies both:

- the switches ``logging.logMultiprocessing`` (``processName``) and, on Python 3.12+,
  ``logging.logAsyncioTasks`` (``taskName``) are turned off when the framework's format does not use those
  fields (they are then None on every record, for every handler); ``logging.logThreads`` and
  ``logging.logProcesses`` are never turned off (:data:`NEVER_OFF`: other libraries' formats print their numbers
  with ``%d``, which a None would break);
- :class:`LeanLogRecord`, installed with ``logging.setLogRecordFactory`` only while the factory is still the
  standard ``logging.LogRecord`` (a factory someone else installed is never replaced) and only after a
  self-check shows it builds exactly the records the running Python's ``LogRecord`` builds (same attributes in
  the same order, same values). It differs in speed only: the file name and module derived from a source path
  are computed once per path instead of once per record.

Both are undone by ``use_lean_records(None)`` (``remove_framework_handler``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, Optional

#: LogRecord fields each ``logging.log*`` switch fills; a switch is turned off when the format uses none of them
RECORD_SWITCHES: dict[str, frozenset[str]] = {
    'logThreads': frozenset(('thread', 'threadName')),
    'logProcesses': frozenset(('process',)),
    'logMultiprocessing': frozenset(('processName',)),
    'logAsyncioTasks': frozenset(('taskName',)),  # Python 3.12+
}

#: switches never turned off: they fill numbers (``thread``, ``process``) that other libraries' formats print with
#: ``%d`` (gunicorn's ``[%(process)d]``), which a None breaks ("--- Logging error ---"); the text fields of the
#: other switches print as ``None`` at worst
NEVER_OFF = frozenset(('logThreads', 'logProcesses'))

_PATH_CACHE_MAX = 1024
_paths: dict[Any, tuple[Any, str]] = {}  # pathname -> (filename, module)
_START = getattr(logging, '_startTime', None)  # when logging was imported: the base of relativeCreated
_NS_CLOCK = isinstance(_START, int)  # Python 3.13+ keeps it (and the record times) in nanoseconds
_HAS_TASKS = hasattr(logging, 'logAsyncioTasks')
_get_ident = threading.get_ident
_current_thread = threading.current_thread
_level_name = logging.getLevelName


def _names(pathname: Any) -> tuple[Any, str]:
    """``(filename, module)`` for a source path, as ``LogRecord`` derives them (cached per path string)."""
    cacheable = type(pathname) is str
    if cacheable:
        names = _paths.get(pathname)
        if names is not None:
            return names
    try:
        filename = os.path.basename(pathname)
        names = (filename, os.path.splitext(filename)[0])
    except (TypeError, ValueError, AttributeError):
        names = (pathname, 'Unknown module')
    if cacheable:
        if len(_paths) >= _PATH_CACHE_MAX:
            _paths.clear()
        _paths[pathname] = names
    return names


class LeanLogRecord(logging.LogRecord):
    """A ``logging.LogRecord`` that is cheaper to build and otherwise the same (see the module docstring).

    Every attribute is set in the order and with the value the standard ``LogRecord.__init__`` of Python 3.9 to
    3.13 gives it; :func:`use_lean_records` verifies that against the running Python before installing it.
    """

    def __init__(self, name: str, level: int, pathname: str, lineno: int, msg: Any, args: Any, exc_info: Any,
                 func: Optional[str] = None, sinfo: Optional[str] = None, **kwargs: Any) -> None:
        if _NS_CLOCK:
            ns = time.time_ns()
            created = ns / 1e9
        else:
            created = time.time()
        self.name = name
        self.msg = msg
        if args and len(args) == 1:
            first = args[0]
            if first and (type(first) is dict or isinstance(first, Mapping)):
                args = first
        self.args = args
        self.levelname = _level_name(level)
        self.levelno = level
        self.pathname = pathname
        self.filename, self.module = _names(pathname)
        self.exc_info = exc_info
        self.exc_text = None
        self.stack_info = sinfo
        self.lineno = lineno
        self.funcName = func  # type: ignore[assignment]
        self.created = created
        if _NS_CLOCK:
            msecs = (ns % 1_000_000_000) // 1_000_000 + 0.0
            if msecs == 999.0 and int(created) != ns // 1_000_000_000:
                msecs = 0.0
            self.msecs = msecs
            self.relativeCreated = (ns - _START) / 1e6  # type: ignore[operator]
        else:
            self.msecs = _msecs(created)
            self.relativeCreated = (created - _START) * 1000  # type: ignore[operator]
        if logging.logThreads:
            self.thread = _get_ident()
            self.threadName = _current_thread().name
        else:
            self.thread = None
            self.threadName = None
        if logging.logMultiprocessing:
            self.processName = 'MainProcess'
            mp = sys.modules.get('multiprocessing')
            if mp is not None:
                try:
                    self.processName = mp.current_process().name
                except Exception:
                    pass
        else:
            self.processName = None
        self.process = os.getpid() if logging.logProcesses and hasattr(os, 'getpid') else None
        if _HAS_TASKS:
            self.taskName = None
            if logging.logAsyncioTasks:  # type: ignore[attr-defined]
                aio = sys.modules.get('asyncio')
                if aio is not None:
                    try:
                        self.taskName = aio.current_task().get_name()
                    except Exception:
                        pass


def _msecs_whole(created: float) -> float:
    return int((created - int(created)) * 1000) + 0.0


def _msecs_fraction(created: float) -> float:
    return (created - int(created)) * 1000


_msecs = _msecs_whole  # Python 3.9 and early 3.10 keep the fraction: chosen by _probe_msecs()


def _probe_msecs() -> None:
    """Use the running Python's millisecond rule (whole milliseconds since gh-89047, a fraction before)."""
    global _msecs
    if _NS_CLOCK:
        return
    for _ in range(5):
        r = logging.LogRecord('probe', logging.INFO, __file__, 1, 'probe', (), None)
        if r.msecs != int(r.msecs):
            _msecs = _msecs_fraction
            return
    _msecs = _msecs_whole


_TIME_FIELDS = ('created', 'msecs', 'relativeCreated')


def _same_record(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    stock = logging.LogRecord(*args, **kwargs).__dict__
    lean = LeanLogRecord(*args, **kwargs).__dict__
    if list(stock) != list(lean):
        return False
    for key, val in stock.items():
        other = lean[key]
        if key in _TIME_FIELDS:
            if type(val) is not type(other):
                return False
            if key == 'msecs' and (val == int(val)) != (other == int(other)):
                return False
        elif val is not other and val != other:
            return False
    return True


def self_check() -> bool:
    """True when :class:`LeanLogRecord` builds the same records as the running Python's ``LogRecord``."""
    if _START is None or not isinstance(_START, (int, float)):
        return False
    _probe_msecs()
    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        (('a.b', logging.INFO, '/x/y/mod.py', 3, 'm %s', ('v',), None), {'func': 'f'}),
        (('a', logging.WARNING, 'rel.py', 1, 'm %(k)s', ({'k': 1},), None), {'func': None, 'sinfo': 'stack'}),
        (('a', 5, None, 0, 'm', (), None), {}),  # odd path: filename = pathname, module 'Unknown module'
        (('a', logging.ERROR, 42, 0, 'm', ({},), (None, None, None)), {}),
        (('a', logging.DEBUG, '/x/noext', 7, {'not': 'a str'}, ([1],), None), {'func': 'g'}),
    ]
    try:
        return all(_same_record(a, kw) for a, kw in cases)
    except Exception:
        return False


_switches_before: Optional[dict[str, Any]] = None  # the switches' values before the framework changed them
_factory_installed = False


def use_lean_records(used_fields: Optional[frozenset[str]]) -> None:
    """Make records cheaper for a format that uses ``used_fields`` (record attribute names); None undoes it all.

    Turns off the ``logging.log*`` switches whose fields are not used (from their values before the first call)
    and installs :class:`LeanLogRecord` as the record factory when the factory is the standard one and
    :func:`self_check` passes.
    """
    global _switches_before, _factory_installed
    if used_fields is None:
        if _switches_before is not None:
            for name, val in _switches_before.items():
                setattr(logging, name, val)
            _switches_before = None
        if _factory_installed:
            if logging.getLogRecordFactory() is LeanLogRecord:
                logging.setLogRecordFactory(logging.LogRecord)
            _factory_installed = False
        return
    if _switches_before is None:
        _switches_before = {name: getattr(logging, name) for name in RECORD_SWITCHES if hasattr(logging, name)}
    for name, before in _switches_before.items():
        used = name in NEVER_OFF or not RECORD_SWITCHES[name].isdisjoint(used_fields)
        setattr(logging, name, bool(before) and used)
    if not _factory_installed and logging.getLogRecordFactory() is logging.LogRecord and self_check():
        logging.setLogRecordFactory(LeanLogRecord)
        _factory_installed = True


def lean_records_active() -> bool:
    """True while :class:`LeanLogRecord` is the process's record factory because of :func:`use_lean_records`."""
    return _factory_installed and logging.getLogRecordFactory() is LeanLogRecord


__all__ = ['RECORD_SWITCHES', 'NEVER_OFF', 'LeanLogRecord', 'self_check', 'use_lean_records', 'lean_records_active']
