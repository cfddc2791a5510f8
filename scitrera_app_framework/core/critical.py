"""Critical sections: stretches of framework code that a shutdown signal must not interrupt.

The shutdown signal handler unwinds the main thread by raising into it. Raised in the middle of Python-level
standard-library synchronization (``ThreadPoolExecutor.submit``, ``queue.Queue.put``, ``Condition``,
``Thread.start``), that exception can leave a lock held and deadlock the shutdown that follows. Framework code
that calls such primitives runs inside :func:`critical` (or ``enter()``/``leave()`` on hot paths): a signal that
arrives inside records itself and is delivered when the outermost section ends.

Never wrap user code (plugin hooks, jobs) or long blocking waits in a critical section: the signal would wait
for them.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional


class _Depth(threading.local):
    depth = 0  # per thread: signals are only delivered to the main thread, whose depth is what counts


_tls = _Depth()
# set by the signal handler when it had to defer: (thread id, fn); fn is called (it raises) once that thread's
# outermost section ends
_deferred: list[tuple[int, Callable[[], None]]] = []


def enter() -> None:
    """Start a critical section (nestable). Pair with :func:`leave` in a ``finally``."""
    _tls.depth += 1


def leave() -> None:
    """End a critical section; at the outermost end, deliver a deferred shutdown signal (raises)."""
    depth = _tls.depth = _tls.depth - 1
    if depth == 0 and _deferred:
        _deliver()


def _deliver() -> None:
    try:
        ident, fn = _deferred[-1]
    except IndexError:  # delivered by another path meanwhile
        return
    if ident != threading.get_ident():  # deferred for another thread (the main one): not ours to deliver
        return
    _deferred.clear()
    fn()


def in_critical_section() -> bool:
    """True when the calling thread is inside a critical section."""
    return _tls.depth > 0


def defer(fn: Callable[[], None]) -> None:
    """Arrange for ``fn`` (which raises) to run when the current thread's outermost critical section ends.

    Called by the signal handler only (it runs on the main thread, the one whose section is open)."""
    _deferred.append((threading.get_ident(), fn))


def pending() -> Optional[Callable[[], None]]:
    """The deferred delivery, if any (for diagnostics and tests)."""
    return _deferred[-1][1] if _deferred else None


class _Critical:
    __slots__ = ()

    def __enter__(self) -> None:
        _tls.depth += 1

    def __exit__(self, *exc: Any) -> None:
        depth = _tls.depth = _tls.depth - 1
        if depth == 0 and _deferred:
            _deliver()


_CRITICAL = _Critical()


def critical() -> _Critical:
    """Return a context manager marking a critical section (reusable, reentrant, cheap)."""
    return _CRITICAL


__all__ = ['critical', 'enter', 'leave', 'in_critical_section', 'defer', 'pending']
