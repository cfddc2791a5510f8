"""LeanLogRecord builds exactly the records the running Python's LogRecord builds; use_lean_records installs it only
over the standard factory and undoes everything it changed."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import threading
from typing import Any, Iterator

import pytest

from scitrera_app_framework.core import log_records
from scitrera_app_framework.core.log_records import (
    RECORD_SWITCHES,
    LeanLogRecord,
    lean_records_active,
    self_check,
    use_lean_records,
)

TIME_FIELDS = ('created', 'msecs', 'relativeCreated')

CASES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (('app.mod', logging.INFO, '/srv/app/mod.py', 12, 'hello %s', ('you',), None), {'func': 'handler'}),
    (('app', logging.DEBUG, 'relative/file.name.py', 1, 'm %(a)s', ({'a': 1},), None), {}),
    (('app', logging.DEBUG, '/x/noext', 1, 'm', ({},), None), {'func': None, 'sinfo': 'Stack:\n  here'}),
    (('app', logging.ERROR, None, 0, 'm', (1, 2), (None, None, None)), {}),
    (('app', 42, b'/bytes/path.py', 0, 'm', ([1],), None), {}),
    (('app', logging.WARNING, 7, 0, {'msg': 'not a str'}, (), None), {}),
    ((None, None, '', 0, '', (), None), {}),  # what logging.makeLogRecord passes
]


def _compare(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    stock = logging.LogRecord(*args, **kwargs).__dict__
    lean = LeanLogRecord(*args, **kwargs).__dict__
    assert list(lean) == list(stock)
    for key, val in stock.items():
        if key in TIME_FIELDS:
            assert type(lean[key]) is type(val), key
        else:
            assert lean[key] == val, (key, lean[key], val)


@pytest.fixture
def stdlib_state() -> Iterator[None]:
    """Put the switches and the factory back as they were, whatever the test changed."""
    switches = {name: getattr(logging, name) for name in RECORD_SWITCHES if hasattr(logging, name)}
    factory = logging.getLogRecordFactory()
    yield
    use_lean_records(None)
    for name, val in switches.items():
        setattr(logging, name, val)
    logging.setLogRecordFactory(factory)


@pytest.mark.parametrize('args, kwargs', CASES)
def test_same_attributes_in_the_same_order(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    _compare(args, kwargs)


@pytest.mark.parametrize('switch', sorted(n for n in RECORD_SWITCHES if hasattr(logging, n)))
def test_same_record_with_each_switch_off(switch: str, stdlib_state: None) -> None:
    setattr(logging, switch, False)
    for args, kwargs in CASES:
        _compare(args, kwargs)


def test_same_thread_fields_in_another_thread() -> None:
    out: dict[str, Any] = {}

    def work() -> None:
        out['lean'] = LeanLogRecord('a', logging.INFO, 'f.py', 1, 'm', (), None)
        out['stock'] = logging.LogRecord('a', logging.INFO, 'f.py', 1, 'm', (), None)

    t = threading.Thread(target=work, name='worker-7')
    t.start()
    t.join()
    assert (out['lean'].thread, out['lean'].threadName) == (out['stock'].thread, 'worker-7')


@pytest.mark.skipif(not hasattr(logging, 'logAsyncioTasks'), reason='taskName is Python 3.12+')
def test_same_task_name_inside_asyncio() -> None:
    async def main() -> tuple[Any, Any]:
        return (LeanLogRecord('a', logging.INFO, 'f.py', 1, 'm', (), None).taskName,  # type: ignore[attr-defined]
                logging.LogRecord('a', logging.INFO, 'f.py', 1, 'm', (), None).taskName)  # type: ignore[attr-defined]

    lean, stock = asyncio.run(main())
    assert lean == stock and lean


def test_time_fields_are_consistent() -> None:
    r = LeanLogRecord('a', logging.INFO, 'f.py', 1, 'm', (), None)
    assert 0 <= r.msecs < 1000 and r.relativeCreated > 0
    assert abs(r.created - logging.LogRecord('a', logging.INFO, 'f.py', 1, 'm', (), None).created) < 5


def test_self_check_passes_here() -> None:
    assert self_check()


def test_file_names_are_cached_per_path() -> None:
    log_records._paths.clear()
    LeanLogRecord('a', logging.INFO, '/p/q/mod.py', 1, 'm', (), None)
    assert log_records._paths['/p/q/mod.py'] == ('mod.py', 'mod')
    for i in range(log_records._PATH_CACHE_MAX + 5):  # bounded
        LeanLogRecord('a', logging.INFO, f'/p/{i}.py', 1, 'm', (), None)
    assert len(log_records._paths) <= log_records._PATH_CACHE_MAX


def test_records_pickle_and_format_like_stock_ones() -> None:
    r = LeanLogRecord('a', logging.INFO, '/p/mod.py', 3, 'x=%d', (5,), None, func='f')
    back = pickle.loads(pickle.dumps(r))
    assert back.__dict__ == r.__dict__ and back.getMessage() == 'x=5'
    fmt = logging.Formatter('%(module)s %(filename)s %(lineno)d %(funcName)s %(message)s')
    assert fmt.format(r) == 'mod mod.py 3 f x=5'


def test_use_lean_records_installs_and_restores(stdlib_state: None) -> None:
    logging.setLogRecordFactory(logging.LogRecord)
    for name in RECORD_SWITCHES:
        if hasattr(logging, name):
            setattr(logging, name, True)
    use_lean_records(frozenset({'threadName'}))
    assert lean_records_active() and logging.getLogRecordFactory() is LeanLogRecord
    # thread and process numbers are always filled (other libraries' formats print them with %d)
    assert logging.logThreads and logging.logProcesses and not logging.logMultiprocessing
    rec = logging.getLogger('lean.test').makeRecord('lean.test', logging.INFO, 'f.py', 1, 'm', (), None)
    assert type(rec) is LeanLogRecord and rec.process == os.getpid() and rec.threadName and rec.processName is None
    assert logging.Formatter('[%(process)d] %(thread)d %(message)s').format(rec).startswith(f'[{os.getpid()}] ')
    use_lean_records(frozenset({'processName'}))  # re-applied from the values before the first call
    assert logging.logMultiprocessing and logging.logProcesses and logging.logThreads
    use_lean_records(None)
    assert not lean_records_active() and logging.getLogRecordFactory() is logging.LogRecord
    assert logging.logThreads and logging.logProcesses and logging.logMultiprocessing


def test_switch_the_app_turned_off_stays_off(stdlib_state: None) -> None:
    logging.logProcesses = False
    use_lean_records(frozenset({'process'}))
    assert logging.logProcesses is False
    use_lean_records(None)
    assert logging.logProcesses is False


def test_another_factory_is_never_replaced(stdlib_state: None) -> None:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return logging.LogRecord(*args, **kwargs)

    logging.setLogRecordFactory(factory)
    use_lean_records(frozenset())
    assert logging.getLogRecordFactory() is factory and not lean_records_active()
    use_lean_records(None)
    assert logging.getLogRecordFactory() is factory


def test_failed_self_check_keeps_the_stock_factory(stdlib_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    logging.setLogRecordFactory(logging.LogRecord)
    monkeypatch.setattr(log_records, 'self_check', lambda: False)
    use_lean_records(frozenset({'threadName'}))
    assert logging.getLogRecordFactory() is logging.LogRecord and not logging.logMultiprocessing  # switches apply


def test_factory_replaced_after_install_is_left_alone(stdlib_state: None) -> None:
    logging.setLogRecordFactory(logging.LogRecord)
    use_lean_records(frozenset())
    assert lean_records_active()

    def wrapper(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return LeanLogRecord(*args, **kwargs)

    logging.setLogRecordFactory(wrapper)  # e.g. a tracing library wrapping ours
    assert not lean_records_active()
    use_lean_records(None)
    assert logging.getLogRecordFactory() is wrapper
