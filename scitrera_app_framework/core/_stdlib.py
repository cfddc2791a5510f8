"""Adapters over standard-library internals the lifecycle relies on, each in one place with a fallback.

``tests/core/test_stdlib_adapters.py`` fails loudly when an interpreter changes one of them.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Optional


def register_before_thread_join(fn: Callable[[], None]) -> bool:
    """Run ``fn`` at interpreter exit on the main thread *before* non-daemon threads are joined.

    Uses ``threading._register_atexit`` (3.9+; the hook ``concurrent.futures`` uses for its workers; callbacks run
    newest first). Returns False when it is unavailable; the caller then falls back to :mod:`atexit`, which runs
    after the joins.
    """
    reg = getattr(threading, '_register_atexit', None)
    if reg is None:
        return False
    try:
        reg(fn)
    except RuntimeError:  # the interpreter is already shutting down
        return False
    return True


def running_loop() -> Any:
    """The asyncio loop running in this thread, or None; never imports asyncio (safe in a signal handler)."""
    events = sys.modules.get('asyncio.events')
    if events is None:
        return None
    get = getattr(events, '_get_running_loop', None)  # public as asyncio._get_running_loop
    return get() if get is not None else None


def _stop_callback() -> Optional[Callable[..., Any]]:
    base_events = sys.modules.get('asyncio.base_events')
    return getattr(base_events, '_run_until_complete_cb', None) if base_events is not None else None


def detach_loop_stop(task: Any) -> bool:
    """Keep ``loop.run_until_complete(task)`` (what ``asyncio.run`` does) from stopping the loop when ``task``
    ends, so shutdown hooks can still run on the loop after the main task was cancelled.

    Returns True when detached: the caller must then end the loop itself (raising ``SystemExit`` out of a task
    does). False when the task is not run that way or this interpreter has no such callback.
    """
    cb = _stop_callback()
    if cb is None:
        return False
    try:
        return bool(task.remove_done_callback(cb))
    except Exception:
        return False


def find_main_task(loop: Any) -> Any:
    """The task ``loop.run_until_complete`` (``asyncio.run``) is running, or None."""
    cb = _stop_callback()
    asyncio = sys.modules.get('asyncio')
    if cb is None or asyncio is None:
        return None
    try:
        tasks = asyncio.all_tasks(loop)
    except RuntimeError:
        return None
    for t in tasks:
        callbacks = getattr(t, '_callbacks', None) or ()
        for entry in callbacks:
            fn = entry[0] if isinstance(entry, tuple) else entry
            if fn is cb:
                return t
    return None
