"""The async plugin lifecycle: ``async_ready`` / ``async_stopping`` hooks, awaited manually or run automatically.

Manual mode: ``await async_plugins_ready(v)`` (initialization order) and ``await async_plugins_stopping(v)``
(shutdown order: each plugin before what it depends on).

Automatic mode (on by default, ``set_async_auto_enabled``): once an event loop was captured
(``capture_async_loop``, or ``async_plugins_ready`` which captures it) and while it runs, a plugin that finishes
``initialize`` gets its ``async_ready`` scheduled on that loop, and ``shutdown_all_plugins`` runs the
``async_stopping`` hooks before the synchronous shutdown. On the loop's own thread the hooks are fire and
forget (``loop.create_task``, they run once the caller yields to the loop); from another thread the caller
waits for them, bounded (``AUTO_READY_TIMEOUT`` / ``AUTO_STOPPING_TIMEOUT``; an overrun is logged and the hook
keeps running on the loop). Automatic ``async_ready`` hooks run one after the other, in initialization order.

Each hook runs at most once per initialization of a plugin, whichever mode gets to it first; a manual call
waits for an automatic hook still running. A failing hook is logged as a warning naming the plugin (and
recorded in the app context's failures); the other hooks still run.

The captured loop, its thread and the task that captured it, and the automatic mode switch live in the app
context (``get_app_context(v)``): one per ``Variables``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from ..api.plugins import Plugin
from ..api.variables import Variables
from .context import AppContext, get_app_context
from .defaults import get_variables

if TYPE_CHECKING:  # pragma: no cover
    import asyncio

    from ._registry import PluginRecord, Registry

#: seconds a thread other than the loop's waits for an automatic ``async_ready`` hook
AUTO_READY_TIMEOUT = 30.0
#: seconds a thread other than the loop's waits for the automatic ``async_stopping`` hooks (all of them)
AUTO_STOPPING_TIMEOUT = 5.0

_log = logging.getLogger('saf.plugins')
_INITIALIZED = 'initialized'  # core._registry.PluginState.INITIALIZED, a str (_registry imports this module)


# --- the captured loop -------------------------------------------------------------------------------------
def capture_async_loop(v: Optional[Variables] = None, first_time_only: bool = False
                       ) -> Optional[asyncio.AbstractEventLoop]:
    """Remember the running event loop (with its thread and the current task) for ``v``'s app; return it.

    Call it from inside the loop (a coroutine or callback). With ``first_time_only`` an already captured loop
    that is not closed is kept (and returned). Outside a running loop nothing changes and None is returned.
    """
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    ctx = get_app_context(v)
    with ctx.lock:
        if first_time_only and ctx.loop is not None and not ctx.loop.is_closed():
            return ctx.loop
        ctx.loop = loop
        ctx.loop_thread = threading.get_ident()
        ctx.main_task = asyncio.current_task(loop)
    return loop


def get_captured_async_loop(v: Optional[Variables] = None) -> Optional[asyncio.AbstractEventLoop]:
    """Return the captured event loop of ``v``'s app, or None when none was captured or it is closed."""
    loop = get_app_context(v).loop
    return loop if loop is not None and not loop.is_closed() else None


def clear_async_loop_ref(v: Optional[Variables] = None) -> None:
    """Forget the captured event loop (and its thread and task) of ``v``'s app."""
    ctx = get_app_context(v)
    with ctx.lock:
        ctx.loop = None
        ctx.loop_thread = None
        ctx.main_task = None


def set_async_auto_enabled(enabled: bool, v: Optional[Variables] = None) -> None:
    """Switch the automatic async mode of ``v``'s app on or off (``init_all_plugins`` and
    ``shutdown_all_plugins`` take a per-call ``async_enabled`` override)."""
    get_app_context(v).async_auto = bool(enabled)


def _live_loop(ctx: AppContext) -> Optional[asyncio.AbstractEventLoop]:
    loop = ctx.loop
    if loop is None or loop.is_closed() or not loop.is_running():
        return None
    return loop


def _loop_thread_blocked(reg: Registry, ctx: AppContext) -> bool:
    """True when the loop's thread waits for a plugin initialization (waiting for it would deadlock)."""
    return reg.is_waiting(ctx.loop_thread)


def _overrides(plugin: Plugin[Any], attr: str) -> bool:
    return getattr(type(plugin), attr, None) is not getattr(Plugin, attr)


# --- running hooks -----------------------------------------------------------------------------------------
async def _run_hook(reg: Registry, v: Variables, rec: PluginRecord, attr: str, value: Any) -> None:
    try:
        await getattr(rec.plugin, attr)(v, rec.plugin.get_logger(v), value)
    except Exception as e:
        _log.warning('%s: %s failed: %s: %s', rec.label(), attr, type(e).__name__, e,
                     exc_info=(type(e), e, e.__traceback__))
        reg.ctx.record_failure(f'plugin {attr} {rec.name}', f'{type(e).__name__}: {e}')


async def _ready_in_turn(reg: Registry, v: Variables, rec: PluginRecord, value: Any) -> None:
    """An automatic ``async_ready``: after the previous automatic one (runs on the loop's thread only)."""
    import asyncio

    prev = reg.ready_tail
    me = asyncio.current_task()
    reg.ready_tail = me
    if prev is not None and prev is not me and not prev.done() and prev.get_loop() is asyncio.get_running_loop():
        await asyncio.wait([prev])
    await _run_hook(reg, v, rec, 'async_ready', value)


async def _run_in_order(reg: Registry, v: Variables, items: list[tuple[PluginRecord, Any]], attr: str,
                        left: list[str]) -> None:
    for rec, value in items:
        await _run_hook(reg, v, rec, attr, value)
        left.remove(rec.name)


async def _await_pending(pending: Any) -> None:
    """Wait (never raising) for an automatic hook still running: an asyncio task or a concurrent future."""
    import asyncio

    if isinstance(pending, asyncio.Future):
        if pending is asyncio.current_task() or pending.get_loop() is not asyncio.get_running_loop():
            return
        await asyncio.wait([pending])
    else:
        await asyncio.wait([asyncio.wrap_future(pending)])


def _keep(reg: Registry, task: Any) -> None:
    reg.keep_task(task)


def _submit(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    """``run_coroutine_threadsafe``; None (coroutine closed) when the loop closed meanwhile."""
    import asyncio

    try:
        return asyncio.run_coroutine_threadsafe(coro, loop)
    except RuntimeError:
        coro.close()
        return None


def _wait(fut: Any, timeout: float, what: str, overrun: str) -> bool:
    """Wait for ``fut`` (a hook run on the loop from another thread) up to ``timeout`` seconds; True when it
    completed. An overrun is logged with ``overrun`` appended, any other end (cancelled with the loop) as is."""
    import concurrent.futures

    try:
        fut.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        _log.warning('%s overran %.1fs%s', what, timeout, overrun)
        return False
    except BaseException as e:  # cancelled with the loop
        _log.warning('%s did not complete: %s: %s', what, type(e).__name__, e)
        return False
    return True


def _auto_loop(ctx: AppContext, async_enabled: Optional[bool]) -> Optional[asyncio.AbstractEventLoop]:
    """The loop automatic mode schedules on: None when the mode is off (``async_enabled`` overrides the app's
    switch) or no live loop was captured."""
    if not (ctx.async_auto if async_enabled is None else async_enabled):
        return None
    return _live_loop(ctx)


def after_initialize(reg: Registry, rec: PluginRecord, v: Variables, async_enabled: Optional[bool]) -> None:
    """Automatic mode: schedule ``rec``'s ``async_ready`` now that it initialized (registry internal)."""
    ctx = reg.ctx
    loop = _auto_loop(ctx, async_enabled)
    if loop is None:
        return
    with reg.locked():
        if rec.ready_done or rec.state != _INITIALIZED:
            return
        rec.ready_done = True
        value = rec.value
    if not _overrides(rec.plugin, 'async_ready'):
        return
    coro = _ready_in_turn(reg, v, rec, value)
    if threading.get_ident() == ctx.loop_thread:
        task = rec.ready_task = loop.create_task(coro)
        _keep(reg, task)
        return
    fut = rec.ready_task = _submit(loop, coro)
    if fut is None:
        rec.ready_done = False  # the loop closed: leave the hook to async_plugins_ready
        return
    if _loop_thread_blocked(reg, ctx):
        return
    _wait(fut, AUTO_READY_TIMEOUT, f'{rec.label()}: async_ready', '; continuing without waiting for it')


def before_shutdown(reg: Registry, order: list[PluginRecord], v: Variables, async_enabled: Optional[bool]) -> None:
    """Automatic mode: run the ``async_stopping`` hooks of ``order`` not run yet (registry internal)."""
    ctx = reg.ctx
    loop = _auto_loop(ctx, async_enabled)
    if loop is None:
        return
    with reg.locked():
        recs = [r for r in order if r.state == _INITIALIZED and not r.stopping_done]
        for r in recs:
            r.stopping_done = True
        items = [(r, r.value) for r in recs if _overrides(r.plugin, 'async_stopping')]
    if not items:
        return
    left = [r.name for r, _ in items]
    coro = _run_in_order(reg, v, items, 'async_stopping', left)
    if threading.get_ident() == ctx.loop_thread:
        task = loop.create_task(coro)
        _keep(reg, task)
        for r, _ in items:
            r.stopping_task = task
        return
    fut = _submit(loop, coro)
    if fut is None:
        return
    for r, _ in items:
        r.stopping_task = fut
    if _loop_thread_blocked(reg, ctx):
        return
    _wait(fut, AUTO_STOPPING_TIMEOUT, 'async_stopping hooks',
          f' (still running: {", ".join(left)}); shutting down anyway')


# --- manual mode -------------------------------------------------------------------------------------------
async def _run_manual_hooks(reg: Registry, v: Variables, phase: str,
                            records: Callable[[], Iterable[PluginRecord]]) -> None:
    """Run ``async_<phase>`` (``phase``: ``ready`` or ``stopping``) of the ``records()`` (read under the registry
    lock, in the order to run them) whose hook has not run yet; a hook the automatic mode started and that still
    runs is awaited (once: the automatic mode may share one future between plugins). The records' ``<phase>_done``
    flags are set under the lock, so each hook runs at most once whoever asks."""
    done, task, hook = f'{phase}_done', f'{phase}_task', f'async_{phase}'
    todo: list[tuple[PluginRecord, Any, Any]] = []
    with reg.locked():
        for r in records():
            if getattr(r, done):
                pending = getattr(r, task)
                if pending is not None and not pending.done():
                    todo.append((r, None, pending))
                continue
            setattr(r, done, True)
            todo.append((r, r.value, None))
    seen: set[int] = set()
    for rec, value, pending in todo:
        if pending is not None:
            if id(pending) not in seen:
                seen.add(id(pending))
                await _await_pending(pending)
        elif _overrides(rec.plugin, hook):
            await _run_hook(reg, v, rec, hook, value)


async def async_plugins_ready(v: Optional[Variables] = None, *, capture_loop: bool = True) -> None:
    """Await ``async_ready`` of every initialized plugin, in initialization order, at most once per plugin.

    With ``capture_loop`` (the default) the running loop is captured first (see :func:`capture_async_loop`),
    which switches the automatic mode on for plugins initialized later. A hook already started by the
    automatic mode is awaited, not run again. A failing hook is logged with the plugin's name; the others
    still run.
    """
    from ._registry import get_registry

    v = get_variables(v)
    if capture_loop:
        capture_async_loop(v)
    reg = get_registry(v)
    await _run_manual_hooks(reg, v, 'ready', reg.initialized_records)


async def async_plugins_stopping(v: Optional[Variables] = None) -> None:
    """Await ``async_stopping`` of every initialized plugin in shutdown order (a plugin before the plugins it
    depends on, ties in reverse initialization order), at most once per plugin.

    A hook already started by the automatic mode is awaited, not run again. A failing hook is logged with the
    plugin's name; the others still run.
    """
    from ._registry import get_registry, shutdown_order

    v = get_variables(v)
    reg = get_registry(v)
    await _run_manual_hooks(reg, v, 'stopping', lambda: shutdown_order(reg.initialized_records()))


def schedule_async_shutdown(v: Optional[Variables] = None, timeout: float = 5.0) -> bool:
    """From a thread other than the loop's: run :func:`async_plugins_stopping` on the captured loop and wait up
    to ``timeout`` seconds; True when it completed in time.

    Returns False at once when called on the loop's own thread (it never blocks the loop) or when no captured
    loop is running; False after ``timeout`` (the hooks keep running on the loop).
    """
    v = get_variables(v)
    ctx = get_app_context(v)
    loop = _live_loop(ctx)
    if loop is None or threading.get_ident() == ctx.loop_thread:
        return False
    fut = _submit(loop, async_plugins_stopping(v))
    if fut is None:
        return False
    return _wait(fut, timeout, 'async_stopping hooks', '')


__all__ = ['capture_async_loop', 'get_captured_async_loop', 'clear_async_loop_ref', 'set_async_auto_enabled',
           'schedule_async_shutdown', 'async_plugins_ready', 'async_plugins_stopping', 'AUTO_READY_TIMEOUT',
           'AUTO_STOPPING_TIMEOUT']
