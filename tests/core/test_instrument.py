"""The instrumentation hooks: None while nobody observes, the one observer as is, several composed in order."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Callable

import pytest

from scitrera_app_framework.core import instrument


@pytest.fixture(autouse=True)
def _no_observers() -> Iterator[None]:
    """These tests own the hooks: none may be set before, and none is left after."""
    assert instrument.JOB_WRAPPER is None and instrument.JOB_TRACKER is None and instrument.PLUGIN_INIT is None
    yield
    for owner in ('a', 'b'):
        instrument.set_job_wrapper(owner, None)
        instrument.set_job_tracker(owner, None)
        instrument.set_plugin_init_observer(owner, None)
    assert instrument.JOB_WRAPPER is None and instrument.JOB_TRACKER is None and instrument.PLUGIN_INIT is None
    assert instrument.JOBS_OBSERVED is False


def _wrapper(tag: str) -> Callable[[str, Callable[..., Any]], Callable[..., Any]]:
    def wrap(backend: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        return lambda: f'{tag}({backend}:{fn()})'
    return wrap


def test_job_wrappers_compose_in_the_order_added_and_unset_to_none() -> None:
    a, b = _wrapper('a'), _wrapper('b')
    instrument.set_job_wrapper('a', a)
    assert instrument.JOB_WRAPPER is a and instrument.JOBS_OBSERVED is True
    instrument.set_job_wrapper('b', b)
    assert instrument.JOB_WRAPPER is not None
    assert instrument.JOB_WRAPPER('thread', lambda: 'job')() == 'b(thread:a(thread:job))'
    instrument.set_job_wrapper('a', None)
    assert instrument.JOB_WRAPPER is b
    instrument.set_job_wrapper('b', None)
    assert instrument.JOB_WRAPPER is None and instrument.JOBS_OBSERVED is False


def test_job_trackers_all_see_each_job() -> None:
    seen: list[tuple[str, str, Any, str]] = []
    instrument.set_job_tracker('a', lambda backend, fut, name: seen.append(('a', backend, fut, name)))
    instrument.set_job_tracker('b', lambda backend, fut, name: seen.append(('b', backend, fut, name)))
    assert instrument.JOBS_OBSERVED is True and instrument.JOB_TRACKER is not None
    instrument.JOB_TRACKER('dask', 'F', 'job-1')
    assert seen == [('a', 'dask', 'F', 'job-1'), ('b', 'dask', 'F', 'job-1')]


def test_plugin_init_observers_nest_around_the_initialize() -> None:
    events: list[str] = []

    def observer(tag: str) -> Callable[[str, str], contextlib.AbstractContextManager[Any]]:
        @contextlib.contextmanager
        def observe(name: str, point: str) -> Iterator[None]:
            events.append(f'{tag} enter {name}@{point}')
            yield
            events.append(f'{tag} exit')
        return observe

    instrument.set_plugin_init_observer('a', observer('a'))
    instrument.set_plugin_init_observer('b', observer('b'))
    assert instrument.PLUGIN_INIT is not None
    with instrument.PLUGIN_INIT('Db', 'db'):
        events.append('initialize')
    assert events == ['a enter Db@db', 'b enter Db@db', 'initialize', 'b exit', 'a exit']


def test_queue_depth_readers_answer_for_the_app_asked_about() -> None:
    """The scrape's source of ``saf_executor_queue_depth``: each reader answers for the app it is asked about (None:
    no executor ready there); one that raises (an executor shutting down) gives no figure, the others still do."""
    app_a, app_b = object(), object()

    def broken(v: Any) -> tuple[str, int]:
        raise RuntimeError('shutting down')

    instrument.set_queue_depth_reader('a', lambda v: ('thread', 3) if v is app_a else None)
    instrument.set_queue_depth_reader('b', broken)
    try:
        assert ('thread', 3) in instrument.queue_depths(app_a)
        assert ('thread', 3) not in instrument.queue_depths(app_b)
    finally:
        instrument.set_queue_depth_reader('a', None)
        instrument.set_queue_depth_reader('b', None)
    assert ('thread', 3) not in instrument.queue_depths(app_a)


def test_the_background_executor_registers_its_reader_when_imported() -> None:
    """core reads the executor's queue depth without importing base_plugins: the executor's module registers its
    reader (and the backends' names are core's, re-exported by the executor's module)."""
    from scitrera_app_framework.base_plugins import background

    assert background.JOB_BACKENDS == instrument.JOB_BACKENDS == ('thread', 'dask')
    assert 'background' in instrument._queue_readers
