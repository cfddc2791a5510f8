"""Automatic async mode: the captured loop in the app context, ``async_ready`` scheduled after ``initialize``,
``async_stopping`` before the synchronous shutdown, per-call overrides, each hook at most once whichever mode
ran first, ``schedule_async_shutdown``."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Iterator, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core import async_mode
from scitrera_app_framework.core.async_mode import (
    async_plugins_ready,
    async_plugins_stopping,
    capture_async_loop,
    clear_async_loop_ref,
    get_captured_async_loop,
    schedule_async_shutdown,
    set_async_auto_enabled,
)
from scitrera_app_framework.core.context import get_app_context
from scitrera_app_framework.core.plugins import (
    get_extension,
    init_all_plugins,
    register_plugin,
    shutdown_all_plugins,
)

DEADLINE = 20.0


class Recorder:
    """Events (kind, plugin, thread id) and an Event per (kind, plugin) to wait for."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._flags: dict[tuple[str, str], threading.Event] = {}

    def flag(self, kind: str, name: str) -> threading.Event:
        with self._lock:
            return self._flags.setdefault((kind, name), threading.Event())

    def add(self, kind: str, name: str) -> None:
        with self._lock:
            self.events.append((kind, name, threading.get_ident()))
        self.flag(kind, name).set()

    def kinds(self, kind: str) -> list[str]:
        return [n for k, n, _ in self.events if k == kind]

    def names(self) -> list[tuple[str, str]]:
        return [(k, n) for k, n, _ in self.events]


def make(point: str, rec: Recorder, *, eager: bool = True, deps: tuple = (), fail_ready: bool = False,
         ready_gate: Optional[asyncio.Event] = None, with_hooks: bool = True,
         stopping_block: bool = False) -> type[Plugin]:
    class P(Plugin):
        def name(self) -> str:
            return point

        def extension_point_name(self, v: Variables) -> str:
            return point

        def get_dependencies(self, v: Variables) -> tuple:
            return deps

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            rec.add('init', point)
            return f'value:{point}'

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            rec.add('shutdown', point)

    if with_hooks:
        async def async_ready(self: Any, v: Variables, logger: logging.Logger, value: Any) -> None:
            assert value == f'value:{point}'
            rec.add('ready-start', point)
            await asyncio.sleep(0)
            if ready_gate is not None:
                await ready_gate.wait()
            if fail_ready:
                raise RuntimeError(f'{point} could not get ready')
            rec.add('ready', point)

        async def async_stopping(self: Any, v: Variables, logger: logging.Logger, value: Any) -> None:
            await asyncio.sleep(0)
            if stopping_block:
                await asyncio.Event().wait()  # never set: overruns any timeout
            rec.add('stopping', point)

        P.async_ready = async_ready  # type: ignore[method-assign]
        P.async_stopping = async_stopping  # type: ignore[method-assign]
    P.eager = eager
    P.__qualname__ = P.__name__ = f'P_{point}'.replace('-', '_')
    return P


class LoopThread:
    """An event loop running in a background thread, captured for ``v``."""

    def __init__(self, v: Variables) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._capture(v), self.loop)
        assert fut.result(DEADLINE) is self.loop

    @staticmethod
    async def _capture(v: Variables) -> Any:
        return capture_async_loop(v)

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(DEADLINE)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        self.loop.close()


@pytest.fixture
def bg_loop_v() -> Iterator[tuple[Variables, LoopThread]]:
    v = Variables()
    lt = LoopThread(v)
    try:
        yield v, lt
    finally:
        lt.stop()


async def wait_flag(flag: threading.Event) -> None:
    """Yield to the loop until ``flag`` is set (set by a hook running on this loop)."""
    async def _wait() -> None:
        while not flag.is_set():
            await asyncio.sleep(0.001)
    await asyncio.wait_for(_wait(), DEADLINE)


# --- the captured loop ------------------------------------------------------------------------------------------
def test_capture_outside_a_loop_returns_none_and_changes_nothing() -> None:
    v = Variables()
    assert capture_async_loop(v) is None
    assert get_captured_async_loop(v) is None
    assert get_app_context(v).loop is None


def test_capture_stores_loop_thread_and_main_task() -> None:
    v = Variables()
    seen: dict[str, Any] = {}

    async def main() -> None:
        seen['loop'] = capture_async_loop(v)
        seen['running'] = asyncio.get_running_loop()
        seen['task'] = asyncio.current_task()
        seen['captured'] = get_captured_async_loop(v)

    asyncio.run(main())
    ctx = get_app_context(v)
    assert seen['loop'] is seen['running'] is seen['captured']
    assert ctx.loop is seen['loop']
    assert ctx.loop_thread == threading.get_ident()
    assert ctx.main_task is seen['task']
    assert get_captured_async_loop(v) is None  # asyncio.run closed it
    clear_async_loop_ref(v)
    assert ctx.loop is None and ctx.loop_thread is None and ctx.main_task is None


def test_capture_first_time_only_keeps_an_open_loop() -> None:
    v = Variables()

    async def cap(first: bool) -> Any:
        return capture_async_loop(v, first_time_only=first)

    loop1 = asyncio.new_event_loop()
    try:
        assert loop1.run_until_complete(cap(False)) is loop1
        loop2 = asyncio.new_event_loop()
        try:
            assert loop2.run_until_complete(cap(True)) is loop1  # loop1 still open: kept
            assert loop2.run_until_complete(cap(False)) is loop2
        finally:
            loop2.close()
        assert get_captured_async_loop(v) is None  # loop2 closed
        assert loop1.run_until_complete(cap(True)) is loop1  # the stored loop is closed: replaced
    finally:
        loop1.close()


def test_async_plugins_ready_captures_the_loop_unless_told_not_to() -> None:
    v = Variables()

    async def main(capture: bool) -> Any:
        await async_plugins_ready(v, capture_loop=capture)
        return asyncio.get_running_loop()

    asyncio.run(main(False))
    assert get_app_context(v).loop is None
    loop = asyncio.run(main(True))
    assert get_app_context(v).loop is loop


# --- automatic mode on the loop's own thread --------------------------------------------------------------------
def test_same_thread_ready_is_fire_and_forget_and_runs_once() -> None:
    v = Variables()
    rec = Recorder()

    async def main() -> None:
        capture_async_loop(v)
        register_plugin(make('db', rec), v, init=True)
        assert rec.kinds('ready') == []  # scheduled, not run: the loop has not had a turn yet
        await wait_flag(rec.flag('ready', 'db'))
        await async_plugins_ready(v)  # already done by the automatic mode: not again
        shutdown_all_plugins(v)  # async_stopping scheduled (fire and forget), sync shutdown now
        assert rec.kinds('shutdown') == ['db']
        await wait_flag(rec.flag('stopping', 'db'))
        await async_plugins_stopping(v)

    asyncio.run(main())
    assert rec.kinds('ready') == ['db'] and rec.kinds('stopping') == ['db']
    assert {t for _, _, t in rec.events} == {threading.get_ident()}


def test_same_thread_ready_hooks_run_one_after_the_other_in_init_order() -> None:
    v = Variables()
    rec = Recorder()

    async def main() -> None:
        gate = asyncio.Event()
        capture_async_loop(v)
        register_plugin(make('base', rec, ready_gate=gate), v)
        register_plugin(make('api', rec, deps=('base',)), v)
        init_all_plugins(v)
        await wait_flag(rec.flag('ready-start', 'base'))
        for _ in range(5):
            await asyncio.sleep(0)
        assert rec.kinds('ready-start') == ['base']  # api waits for base's hook to finish
        gate.set()
        await wait_flag(rec.flag('ready', 'api'))

    asyncio.run(main())
    assert rec.names()[2:] == [('ready-start', 'base'), ('ready', 'base'), ('ready-start', 'api'), ('ready', 'api')]


def test_manual_ready_waits_for_an_automatic_hook_still_running() -> None:
    v = Variables()
    rec = Recorder()

    async def main() -> None:
        gate = asyncio.Event()
        capture_async_loop(v)
        register_plugin(make('slow', rec, ready_gate=gate), v, init=True)
        asyncio.get_running_loop().call_later(0.01, gate.set)
        await asyncio.wait_for(async_plugins_ready(v), DEADLINE)
        assert rec.kinds('ready') == ['slow']  # completed by the time the manual call returns

    asyncio.run(main())
    assert rec.kinds('ready-start') == ['slow']


# --- automatic mode from another thread -------------------------------------------------------------------------
def test_other_thread_ready_and_stopping_complete_before_returning(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, lt = bg_loop_v
    rec = Recorder()
    register_plugin(make('db', rec), v)
    register_plugin(make('api', rec, deps=('db',)), v)
    register_plugin(make('plain', rec, with_hooks=False), v)
    init_all_plugins(v)
    # blocking: the hooks ran (on the loop's thread) before init_all_plugins returned
    assert rec.kinds('ready') == ['db', 'api']
    loop_thread = lt.thread.ident
    assert all(t == loop_thread for k, _, t in rec.events if k.startswith('ready'))
    assert all(t == threading.get_ident() for k, _, t in rec.events if k == 'init')
    assert shutdown_all_plugins(v) == []
    # async_stopping first (reverse dependency order), then the synchronous shutdown
    stops = [(k, n) for k, n in rec.names() if k in ('stopping', 'shutdown')]
    assert stops == [('stopping', 'api'), ('stopping', 'db'), ('shutdown', 'plain'), ('shutdown', 'api'),
                     ('shutdown', 'db')]
    lt.run(async_plugins_stopping(v))  # at most once
    assert rec.kinds('stopping') == ['api', 'db']


def test_lazy_plugin_initialized_from_another_thread_gets_ready(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, _ = bg_loop_v
    rec = Recorder()
    register_plugin(make('lazy', rec, eager=False), v)
    assert get_extension('lazy', v) == 'value:lazy'
    assert rec.kinds('ready') == ['lazy']


def test_per_call_override_and_global_switch(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, lt = bg_loop_v
    rec = Recorder()
    register_plugin(make('a', rec), v)
    init_all_plugins(v, async_enabled=False)
    assert rec.kinds('ready') == []
    lt.run(async_plugins_ready(v))  # manual mode does it
    assert rec.kinds('ready') == ['a']

    set_async_auto_enabled(False, v)
    assert get_app_context(v).async_auto is False
    register_plugin(make('b', rec), v, init=True)
    assert rec.kinds('ready') == ['a']
    init_all_plugins(v, async_enabled=True)  # nothing left to initialize: no effect
    shutdown_all_plugins(v, async_enabled=True)  # overrides the global switch
    assert rec.kinds('stopping') == ['b', 'a']


def test_global_switch_off_means_no_stopping_either(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, lt = bg_loop_v
    rec = Recorder()
    set_async_auto_enabled(False, v)
    register_plugin(make('a', rec), v, init=True)
    shutdown_all_plugins(v)
    assert rec.kinds('stopping') == [] and rec.kinds('shutdown') == ['a']


def test_manual_stopping_first_then_shutdown_does_not_repeat(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, lt = bg_loop_v
    rec = Recorder()
    register_plugin(make('a', rec), v, init=True)
    lt.run(async_plugins_stopping(v))
    shutdown_all_plugins(v)
    assert rec.kinds('stopping') == ['a']


def test_failing_auto_hook_is_a_warning_naming_the_plugin(bg_loop_v: tuple[Variables, LoopThread],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    v, _ = bg_loop_v
    caplog.set_level(logging.WARNING)
    rec = Recorder()
    register_plugin(make('grumpy', rec, fail_ready=True), v)
    register_plugin(make('fine', rec), v)
    init_all_plugins(v)
    assert rec.kinds('ready') == ['fine']
    warnings = [r for r in caplog.records if 'grumpy' in r.getMessage() and r.levelno == logging.WARNING]
    assert warnings and 'async_ready' in warnings[0].getMessage()
    assert any('grumpy' in w + t for w, t in get_app_context(v).failures)


def test_stopping_overrun_is_logged_and_shutdown_goes_on(bg_loop_v: tuple[Variables, LoopThread],
                                                         caplog: pytest.LogCaptureFixture,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    v, _ = bg_loop_v
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(async_mode, 'AUTO_STOPPING_TIMEOUT', 0.1)
    rec = Recorder()
    register_plugin(make('stuck', rec, stopping_block=True), v, init=True)
    assert shutdown_all_plugins(v) == []
    assert rec.kinds('shutdown') == ['stuck']
    assert any('overran' in r.getMessage() and 'stuck' in r.getMessage() for r in caplog.records)


def test_no_auto_mode_without_a_running_loop() -> None:
    v = Variables()
    rec = Recorder()

    async def main() -> None:
        capture_async_loop(v)

    asyncio.run(main())  # captured, then closed
    register_plugin(make('a', rec), v, init=True)
    shutdown_all_plugins(v)
    assert rec.kinds('ready') == [] and rec.kinds('stopping') == []


# --- schedule_async_shutdown ------------------------------------------------------------------------------------
def test_schedule_async_shutdown_from_another_thread(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, lt = bg_loop_v
    rec = Recorder()
    register_plugin(make('a', rec), v, init=True)
    assert schedule_async_shutdown(v) is True
    assert rec.kinds('stopping') == ['a']
    assert schedule_async_shutdown(v) is True  # nothing left: completes at once
    assert rec.kinds('stopping') == ['a']


def test_schedule_async_shutdown_on_the_loop_thread_never_blocks(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    v, lt = bg_loop_v
    rec = Recorder()
    register_plugin(make('a', rec), v, init=True)

    async def from_loop() -> bool:
        return schedule_async_shutdown(v)

    assert lt.run(from_loop()) is False
    assert rec.kinds('stopping') == []


def test_schedule_async_shutdown_without_a_loop_or_after_timeout(bg_loop_v: tuple[Variables, LoopThread]) -> None:
    assert schedule_async_shutdown(Variables()) is False
    v, lt = bg_loop_v
    rec = Recorder()
    register_plugin(make('stuck', rec, stopping_block=True), v, init=True)
    assert schedule_async_shutdown(v, timeout=0.1) is False
