"""Shutdown hooks: run once, newest first, on SIGTERM/SIGINT or at exit, each isolated from the others.

``SAF_SHUTDOWN_TIMEOUT`` (seconds, unset = unbounded) bounds the whole sequence: hooks then run in a daemon
thread each, one overrunning hook is reported by name and the remaining hooks still run.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Optional

_log = logging.getLogger('saf.shutdown')

_Hook = tuple[Callable[..., Any], tuple, dict, str]


def _hook_name(fn: Callable[..., Any]) -> str:
    mod = getattr(fn, '__module__', None)
    qn = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', None) or repr(fn)
    return f'{mod}.{qn}' if mod else str(qn)


class ShutdownManager:
    """Process-wide registry of shutdown hooks (signals and atexit are process-wide too)."""

    def __init__(self) -> None:
        self._hooks: list[_Hook] = []
        self._lock = threading.RLock()
        self._state = 'idle'  # idle -> running -> done
        self._prev_handlers: dict[int, Any] = {}
        self._atexit = False
        self.exit_code = 0
        self.timeout: Optional[float] = None

    # --- registration --------------------------------------------------------------------------------
    def register(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        if not callable(fn):
            raise TypeError(f'shutdown function must be callable, got {fn!r}')
        with self._lock:
            self._hooks.append((fn, args, kwargs, _hook_name(fn)))
        return fn

    def unregister(self, fn: Callable[..., Any]) -> bool:
        with self._lock:
            before = len(self._hooks)
            self._hooks = [h for h in self._hooks if h[0] is not fn]
            return len(self._hooks) != before

    @property
    def hooks(self) -> list[str]:
        """Names of the registered hooks, in the order they will run (newest first)."""
        return [h[3] for h in reversed(self._hooks)]

    @property
    def state(self) -> str:
        return self._state

    # --- running -------------------------------------------------------------------------------------
    def run(self, reason: str = 'shutdown') -> bool:
        """Run every hook once, newest first; returns False when shutdown already ran or is running."""
        with self._lock:
            if self._state != 'idle':
                return False
            self._state = 'running'
            hooks = list(reversed(self._hooks))
        try:
            _log.debug('running %d shutdown hook(s) (%s)', len(hooks), reason)
            raw = self.timeout if self.timeout is not None else os.environ.get('SAF_SHUTDOWN_TIMEOUT')
            timeout = _read_timeout(raw) if raw not in (None, '') else None
            if timeout is None:
                for hook in hooks:
                    _call_hook(hook)
            else:
                _run_bounded(hooks, timeout)
        finally:
            with self._lock:
                self._state = 'done'
        return True

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if self._state == 'running':
            _log.warning('received %s during shutdown; shutdown is already in progress', name)
            return
        if self._state == 'done':
            # shutdown already ran (e.g. the process is stuck at exit on a non-daemon thread): act as the
            # signal's previous handler would, so a second Ctrl-C / SIGTERM still ends the process
            self._chain(signum, frame)
            return
        _log.info('received %s: shutting down', name)
        self.run(reason=name)
        sys.exit(self.exit_code)

    def _chain(self, signum: int, frame: Any) -> None:
        prev = self._prev_handlers.get(signum, signal.SIG_DFL)
        if prev is None:
            prev = signal.SIG_DFL
        if callable(prev):
            prev(signum, frame)
            return
        if prev == signal.SIG_IGN:
            return
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def install(self, via_atexit: bool, signals: tuple = ('SIGTERM', 'SIGINT')) -> None:
        """Install the signal handlers (main thread only) and, if ``via_atexit``, the atexit hook."""
        if threading.current_thread() is threading.main_thread():
            for sname in signals:
                sig = getattr(signal, sname, None)
                if sig is None:
                    continue
                current = signal.getsignal(sig)
                if current == self._on_signal:
                    continue
                try:
                    signal.signal(sig, self._on_signal)
                except (ValueError, OSError) as e:  # not allowed here (embedded interpreter, ...)
                    _log.debug('cannot install %s handler: %s', sname, e)
                    continue
                self._prev_handlers.setdefault(int(sig), current)
        else:
            _log.debug('not in the main thread: signal handlers not installed')
        if via_atexit and not self._atexit:
            atexit.register(self._atexit_hook)
            self._atexit = True

    def _atexit_hook(self) -> None:
        self.run(reason='atexit')

    def reset(self) -> None:
        """Forget every hook and restore the previous signal handlers and atexit state."""
        with self._lock:
            self._hooks.clear()
            self._state = 'idle'
            self.timeout = None
            if threading.current_thread() is threading.main_thread():
                for sig, prev in self._prev_handlers.items():
                    try:
                        signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
                    except (ValueError, OSError):
                        pass
            self._prev_handlers.clear()
            if self._atexit:
                atexit.unregister(self._atexit_hook)
                self._atexit = False


def _read_timeout(value: Any) -> Optional[float]:
    try:
        t = float(value)
    except (TypeError, ValueError):
        _log.warning('SAF_SHUTDOWN_TIMEOUT=%r is not a number of seconds; shutdown is not time-bounded', value)
        return None
    return t if t > 0 else None


def _call_hook(hook: _Hook) -> None:
    fn, args, kwargs, name = hook
    try:
        fn(*args, **kwargs)
    except Exception:
        _log.exception('shutdown hook %s failed', name)


def _run_bounded(hooks: list[_Hook], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    grace = min(0.1, timeout)
    for hook in hooks:
        t = threading.Thread(target=_call_hook, args=(hook,), name=f'saf-shutdown:{hook[3]}', daemon=True)
        t.start()
        t.join(max(deadline - time.monotonic(), grace))
        if t.is_alive():
            _log.error('shutdown hook %s overran SAF_SHUTDOWN_TIMEOUT=%ss; continuing without it', hook[3], timeout)


_manager = ShutdownManager()


def get_shutdown_manager() -> ShutdownManager:
    """Return the process-wide :class:`ShutdownManager`."""
    return _manager


def register_shutdown_function(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Register ``fn(*args, **kwargs)`` to run once at shutdown (newest first); returns ``fn`` (decorator use).

    Raises:
        TypeError: when ``fn`` is not callable.
    """
    return _manager.register(fn, *args, **kwargs)


def run_shutdown_hooks(reason: str = 'manual') -> bool:
    """Run the shutdown hooks now (once per process); returns False if they already ran."""
    return _manager.run(reason)
