"""The plugin registry under concurrency: one initialize attempt at a time, shared outcomes, cycles between
threads reported instead of deadlocking, shutdown racing an initialize.

Threads synchronize with Events; where a test must know that threads are waiting inside the registry, it
polls the registry's own bookkeeping (the attempt's waiter count) until a generous deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.plugins import (
    PluginDependencyError,
    PluginInitError,
    PluginShutdownError,
    describe_plugins,
    get_extension,
    get_registry,
    register_plugin,
    shutdown_all_plugins,
)

DEADLINE = 20.0  # generous: only a hang (a bug) gets near it


def plugin(point: str, init: Callable[[Variables], Any], *, eager: bool = False,
           events: Optional[list] = None) -> type[Plugin]:
    class P(Plugin):
        def name(self) -> str:
            return point

        def extension_point_name(self, v: Variables) -> str:
            return point

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            return init(v)

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            if events is not None:
                events.append(('shutdown', point, value))

    P.eager = eager
    P.__qualname__ = P.__name__ = f'P_{point}'.replace('-', '_')
    return P


def run_threads(n: int, target: Callable[[int], Any]) -> tuple[list[Any], list[BaseException], list[threading.Thread]]:
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as e:  # collected for the assertions
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return results, errors, threads


def join_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(DEADLINE)
    assert not any(t.is_alive() for t in threads), 'threads still blocked: deadlock'


def wait_for_waiters(v: Variables, name: str, count: int) -> None:
    """Return once ``count`` threads wait for ``name``'s attempt in progress."""
    reg = get_registry(v)
    deadline = time.monotonic() + DEADLINE
    while True:
        rec = reg.record(name)
        att = rec.attempt if rec is not None else None
        if att is not None and att.waiters >= count:
            return
        assert time.monotonic() < deadline, f'waiters never reached {count}'
        time.sleep(0.001)


def test_64_threads_share_one_failing_attempt_and_a_later_request_retries() -> None:
    v = Variables()
    started = threading.Event()
    release = threading.Event()
    calls: list[BaseException] = []
    fail = [True]

    def init(v: Variables) -> str:
        started.set()
        assert release.wait(DEADLINE)
        if fail[0]:
            err = RuntimeError('database is down')
            calls.append(err)
            raise err
        calls.append(None)  # type: ignore[arg-type]
        return 'connected'

    register_plugin(plugin('db', init), v)
    t0 = time.monotonic()
    owner_results, owner_errors, owner = run_threads(1, lambda i: get_extension('db', v))
    assert started.wait(DEADLINE)
    _, errors, threads = run_threads(63, lambda i: get_extension('db', v))
    wait_for_waiters(v, 'db', 63)
    release.set()
    join_all(owner + threads)
    elapsed = time.monotonic() - t0
    assert len(calls) == 1  # no queue of retries
    original = calls[0]
    all_errors = owner_errors + errors
    assert len(all_errors) == 64
    for e in all_errors:
        assert isinstance(e, PluginInitError)
        assert e.__cause__ is original  # the same original exception, for the owner and every waiter
        assert 'db' in str(e) and 'database is down' in str(e)
    assert elapsed < 10  # generous: a queue of 64 retries would not matter here, a hang would
    reg = get_registry(v)
    assert reg.bookkeeping()['waiting'] == 0 and reg.bookkeeping()['resolving'] == 0
    assert describe_plugins(v)[0]['state'] == 'failed'
    # a later request retries
    fail[0] = False
    assert get_extension('db', v) == 'connected'
    assert len(calls) == 2


def test_failing_initialize_many_threads_with_a_barrier() -> None:
    """The issue's scenario as written: 64 threads at once on a 50 ms failing initialize."""
    v = Variables()
    count = [0]
    lock = threading.Lock()

    def init(v: Variables) -> None:
        with lock:
            count[0] += 1
        time.sleep(0.05)
        raise ValueError('nope')

    register_plugin(plugin('flaky', init), v)
    barrier = threading.Barrier(64)

    def ask(i: int) -> Any:
        barrier.wait(DEADLINE)
        return get_extension('flaky', v)

    t0 = time.monotonic()
    _, errors, threads = run_threads(64, ask)
    join_all(threads)
    assert len(errors) == 64 and all(isinstance(e, PluginInitError) for e in errors)
    # the threads that arrived while the attempt ran shared its error: far fewer attempts than threads
    assert count[0] < 64
    assert time.monotonic() - t0 < 10


def test_32_threads_on_a_slow_lazy_plugin_initialize_once() -> None:
    v = Variables()
    started = threading.Event()
    release = threading.Event()
    made: list[object] = []

    def init(v: Variables) -> object:
        started.set()
        assert release.wait(DEADLINE)
        obj = object()
        made.append(obj)
        return obj

    register_plugin(plugin('slow', init), v)
    results, errors, threads = run_threads(32, lambda i: get_extension('slow', v))
    assert started.wait(DEADLINE)
    wait_for_waiters(v, 'slow', 31)
    release.set()
    join_all(threads)
    assert not errors
    assert len(made) == 1
    assert all(r is made[0] for r in results)


def test_cycle_between_two_threads_is_reported_not_deadlocked() -> None:
    v = Variables()
    a_in, b_in = threading.Event(), threading.Event()

    def init_a(v: Variables) -> str:
        a_in.set()
        assert b_in.wait(DEADLINE)
        return 'a+' + Plugin.get_extension('b', v)

    def init_b(v: Variables) -> str:
        b_in.set()
        assert a_in.wait(DEADLINE)
        return 'b+' + Plugin.get_extension('a', v)

    register_plugin(plugin('a', init_a), v)
    register_plugin(plugin('b', init_b), v)
    results, errors, threads = run_threads(2, lambda i: get_extension('ab'[i], v))
    join_all(threads)
    assert results == [None, None]
    assert len(errors) == 2
    for e in errors:
        assert isinstance(e, PluginDependencyError), repr(e)
        msg = str(e)
        assert 'a -> b -> a' in msg or 'b -> a -> b' in msg, msg
    reg = get_registry(v)
    assert reg.bookkeeping()['waiting'] == 0 and reg.bookkeeping()['resolving'] == 0
    assert {d['name']: d['state'] for d in describe_plugins(v)} == {'a': 'failed', 'b': 'failed'}
    # asked again from one thread: the same cycle, now as a same-thread re-entrance
    with pytest.raises(PluginDependencyError, match='a -> b -> a'):
        get_extension('a', v)


def test_cycle_through_three_threads_names_the_whole_path() -> None:
    v = Variables()
    inside = threading.Barrier(3)
    nxt = {'a': 'b', 'b': 'c', 'c': 'a'}

    def make_init(point: str) -> Callable[[Variables], Any]:
        def init(v: Variables) -> Any:
            inside.wait(DEADLINE)
            return get_extension(nxt[point], v)
        return init

    for p in 'abc':
        register_plugin(plugin(p, make_init(p)), v)
    _, errors, threads = run_threads(3, lambda i: get_extension('abc'[i], v))
    join_all(threads)
    assert len(errors) == 3
    rotations = ('a -> b -> c -> a', 'b -> c -> a -> b', 'c -> a -> b -> c')
    for e in errors:
        assert isinstance(e, PluginDependencyError), repr(e)
        assert any(r in str(e) for r in rotations), str(e)


def test_same_thread_reentrance_is_a_cycle_error() -> None:
    v = Variables()
    register_plugin(plugin('self-asker', lambda v: get_extension('self-asker', v)), v)
    with pytest.raises(PluginDependencyError, match='self-asker -> self-asker'):
        get_extension('self-asker', v)
    register_plugin(plugin('x', lambda v: get_extension('y', v)), v)
    register_plugin(plugin('y', lambda v: get_extension('x', v)), v)
    with pytest.raises(PluginDependencyError, match='x -> y -> x'):
        get_extension('x', v)


def test_waiting_for_another_thread_is_not_a_cycle() -> None:
    v = Variables()
    base_in = threading.Event()
    release = threading.Event()

    def init_base(v: Variables) -> str:
        base_in.set()
        assert release.wait(DEADLINE)
        return 'base'

    register_plugin(plugin('base', init_base), v)
    register_plugin(plugin('top', lambda v: 'top+' + get_extension('base', v)), v)
    results, errors, threads = run_threads(2, lambda i: get_extension(('base', 'top')[i], v))
    assert base_in.wait(DEADLINE)
    wait_for_waiters(v, 'base', 1)  # the thread initializing 'top' waits for the one initializing 'base'
    release.set()
    join_all(threads)
    assert not errors
    assert results == ['base', 'top+base']
    assert [d['observed_dependencies'] for d in describe_plugins(v)] == [[], ['base']]


def test_base_exception_in_initialize_reaches_the_owner_and_fails_the_waiters() -> None:
    v = Variables()
    started, release = threading.Event(), threading.Event()
    interrupt = KeyboardInterrupt('stop')
    first = [True]

    def init(v: Variables) -> str:
        if first[0]:
            first[0] = False
            started.set()
            assert release.wait(DEADLINE)
            raise interrupt
        return 'fine'

    register_plugin(plugin('fragile', init), v)
    _, owner_errors, owner = run_threads(1, lambda i: get_extension('fragile', v))
    assert started.wait(DEADLINE)
    _, errors, threads = run_threads(3, lambda i: get_extension('fragile', v))
    wait_for_waiters(v, 'fragile', 3)
    release.set()
    join_all(owner + threads)
    assert owner_errors == [interrupt]  # re-raised as is in the thread that ran initialize
    assert len(errors) == 3 and all(isinstance(e, PluginInitError) and e.__cause__ is interrupt for e in errors)
    assert get_extension('fragile', v) == 'fine'


def test_shutdown_while_another_thread_initializes() -> None:
    v = Variables()
    events: list = []
    started, release = threading.Event(), threading.Event()

    def init(v: Variables) -> str:
        started.set()
        assert release.wait(DEADLINE)
        return 'late-value'

    register_plugin(plugin('late', init, events=events), v)
    register_plugin(plugin('done', lambda v: 'done-value', events=events), v)
    assert get_extension('done', v) == 'done-value'
    _, errors, threads = run_threads(1, lambda i: get_extension('late', v))
    assert started.wait(DEADLINE)
    assert shutdown_all_plugins(v) == []  # does not wait for the attempt in progress
    assert events == [('shutdown', 'done', 'done-value')]
    release.set()
    join_all(threads)
    assert len(errors) == 1 and isinstance(errors[0], PluginShutdownError)
    # the late plugin was shut down as soon as its initialize returned: nothing stays initialized
    assert events[-1] == ('shutdown', 'late', 'late-value')
    assert {d['name']: d['state'] for d in describe_plugins(v)} == {'late': 'shut down', 'done': 'shut down'}
    reg = get_registry(v)
    assert reg.bookkeeping() == {'resolving': 0, 'waiting': 0, 'ready': 0, 'cached': 0}


def test_eager_plugin_registered_during_initialize_from_another_thread() -> None:
    """Registration while other threads initialize: the pending eager plugin is initialized exactly once."""
    v = Variables()
    made: list[str] = []
    inner = plugin('inner', lambda v: made.append('inner') or 'inner', eager=True)

    def init_outer(v: Variables) -> str:
        register_plugin(inner, v)
        made.append('outer')
        return 'outer'

    register_plugin(plugin('outer', init_outer), v)
    barrier = threading.Barrier(8)

    def ask(i: int) -> Any:
        barrier.wait(DEADLINE)
        return get_extension('outer', v), get_extension('inner', v)

    results, errors, threads = run_threads(8, ask)
    join_all(threads)
    assert not errors
    assert sorted(made) == ['inner', 'outer']
    assert all(r == ('outer', 'inner') for r in results)
