"""Shutdown: signal handling, the ordered phases, the watchdog and the exit codes.

No hook ever runs inside a signal handler. The SIGTERM/SIGINT handler records the signal, marks every app not
ready, and unwinds the main thread by raising :class:`ShutdownRequested` (a ``SystemExit``) into it, so its
``finally`` and ``with`` blocks release what they hold. Inside the framework's own critical sections (see
:mod:`.critical`) the raise waits for the section to end. In an asyncio app (a loop running on the main thread)
the handler instead schedules the shutdown on the loop: drain, cancel the main task, intake, ``async_stopping``
hooks, then the loop is left with ``ShutdownRequested``. Either way the ordered phases then run on the main
thread, at interpreter exit, before non-daemon threads are joined:

1. readiness off (at the signal), 2. drain (``SAF_SHUTDOWN_DRAIN_SECONDS``, signal only; the main thread keeps
serving meanwhile), 3. intake stops (the app's own stoppers newest first, then the background executor's, which
refuses new jobs and finishes or cancels its queue; a web server's own intake, stop accepting and finish the
requests in flight, comes before both, see :mod:`scitrera_app_framework.web`),
4. ``async_stopping`` on a loop still running in another thread, 5. plugin ``shutdown`` in reverse dependency
order, 6. user hooks, newest first, 7. the line ``stopped (exit N) in X s`` (INFO after a signal, DEBUG otherwise; the
phase durations at DEBUG), logs flushed.

A server that must stop its own way (uvicorn, a gunicorn worker) takes the signal over with
:meth:`ShutdownManager.hand_signals_to`: readiness off and the drain stay the same, then the server is told to stop
instead of the main thread being unwound, and the phases run when the server has stopped.

``SAF_SHUTDOWN_TIMEOUT`` bounds the whole exit (from the signal, or from the start of the phases): past it a
watchdog thread logs what is still running and ends the process with :data:`EXIT_TIMEOUT`. A second signal during
shutdown is logged and ignored; a third (or a second SIGINT after a SIGINT) ends the process at once with
:data:`EXIT_FORCED`, logs flushed.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

from . import _stdlib, critical, instrument
from .context import AppState, get_app_context, peek_app_context

if TYPE_CHECKING:  # pragma: no cover
    from ..api.variables import Variables

_log = logging.getLogger('saf.shutdown')

#: Exit codes (see the README's table).
EXIT_OK = 0  # graceful stop after SIGTERM (SAF_SHUTDOWN_EXIT_CODE overrides it)
EXIT_HOOK_FAILED = 70  # a shutdown hook or plugin shutdown failed during a signal-driven shutdown
EXIT_TIMEOUT = 124  # the exit overran SAF_SHUTDOWN_TIMEOUT; the watchdog ended the process
EXIT_FORCED = 125  # a third signal (or a second SIGINT) forced an immediate exit
EXIT_SIGINT = 130  # graceful stop after SIGINT (the CLI convention, 128 + 2)



class ShutdownState(str, enum.Enum):
    """Where the shutdown phases are (:attr:`ShutdownManager.state`); a ``str``: ``ShutdownState.IDLE == 'idle'``."""

    IDLE = 'idle'  # the phases have not started
    RUNNING = 'running'  # the phases run now
    DONE = 'done'  # the phases ran (they run once per process)

    def __str__(self) -> str:
        return self.value


class _Hook(NamedTuple):
    """A user hook: ``fn(*args, **kwargs)``, shown as ``name``."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    name: str


class _EventKind(enum.Enum):
    """What the watchdog thread is told (:meth:`ShutdownManager._notify`)."""

    STOP = 'stop'  # end the watchdog thread (reset)
    SIGNAL = 'signal'  # a first signal arrived (detail: its name): announce it, start the deadline
    DEADLINE = 'deadline'  # the phases started without a signal: start the deadline
    DRAIN = 'drain'  # a signal with a drain (detail: the signal's name): signal the main thread when it is over
    IGNORED = 'ignored'  # a second signal during shutdown (detail: its name): say it is ignored
    FORCE = 'force'  # a third signal, or a second SIGINT (detail: its name): exit at once


class _Event(NamedTuple):
    """One notification for the watchdog thread."""

    kind: _EventKind
    detail: str  # the signal's name, or ''
    at: float  # time.monotonic() when it was sent


class ShutdownRequested(SystemExit):
    """Raised into the main thread when a shutdown signal arrives, so its stack unwinds.

    A ``SystemExit`` (``except Exception`` does not catch it); ``code`` is the exit code, ``signal_name`` the
    signal. Catching it and carrying on is allowed: the shutdown phases still run when the program ends.
    """

    def __init__(self, code: int, signal_name: str) -> None:
        super().__init__(code)
        self.signal_name = signal_name


class ShutdownInterrupt(ShutdownRequested, KeyboardInterrupt):
    """The SIGINT flavour: also a ``KeyboardInterrupt``, so ``except KeyboardInterrupt`` handles Ctrl-C as usual."""


def _hook_name(fn: Callable[..., Any]) -> str:
    mod = getattr(fn, '__module__', None)
    qn = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', None) or repr(fn)
    return f'{mod}.{qn}' if mod else str(qn)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f'signal {signum}'


class ShutdownManager:
    """The process-wide shutdown: hooks, the apps whose plugins shut down, signal handlers and the watchdog.

    Settings (set by ``init_framework`` from ``SAF_SHUTDOWN_TIMEOUT``, ``SAF_SHUTDOWN_DRAIN_SECONDS`` and
    ``SAF_SHUTDOWN_EXIT_CODE``): ``timeout`` (seconds or None), ``drain`` (seconds), ``sigterm_code``.
    """

    def __init__(self) -> None:
        self._hooks: list[_Hook] = []
        self._apps: list[Variables] = []
        self._lock = threading.RLock()
        self._state = ShutdownState.IDLE  # IDLE -> RUNNING -> DONE
        self._prev_handlers: dict[int, Any] = {}
        self._atexit = False  # run the phases at a normal exit too
        self._exit_hooks_registered = False
        self._install_pid = 0  # the process that last called install (a forked worker inherits the other fields)
        self.timeout: Optional[float] = None
        self.drain: float = 0.0
        self.sigterm_code: int = EXIT_OK
        self.exit_code = EXIT_OK
        # signal state (written by the handler: plain attribute writes and deque appends only)
        self._signum: Optional[int] = None
        self._nsignals = 0
        self._drain_done = False
        self._delivered = False
        self._code: Optional[int] = None
        # what is running now, for the watchdog's report
        self._phase_name = ''
        self._phase_t0 = 0.0
        self._phase = ''
        self._current = ''
        self._failures: list[str] = []
        # the watchdog thread and its wake-up pipe
        self._events: deque[_Event] = deque()
        self._wake_r: Optional[int] = None
        self._wake_pid = 0  # the process that created the wake-up pipe (a forked child makes its own)
        self._wake_w: Optional[int] = None
        # the signal wake-up pipe (signal.set_wakeup_fd): a signal delivered to another thread than the main one
        # trips the handler but does not interrupt the main thread's blocking call; the watchdog sees its byte
        # here and, when the handler has not run, pokes the main thread with a no-op signal (``_POKE_SIGNAL``)
        self._sig_r: Optional[int] = None
        self._sig_w: Optional[int] = None
        self._wakeup_armed: Optional[int] = None  # the fd given to set_wakeup_fd (None: not ours)
        self._poke: Optional[int] = None  # the poke signal, when its no-op handler is installed
        # per signal number: the handler's runs (main thread) and the bytes the watchdog read (a signal whose bytes
        # outnumber the runs is pending; counted apart, so that one signal's run never stands for another's byte)
        self._handled: dict[int, int] = {}
        self._bytes_read: dict[int, int] = {}
        self._watchdog: Optional[threading.Thread] = None
        self._deadline: Optional[float] = None
        self._main_ident = threading.main_thread().ident
        self._announce_lock = threading.Lock()
        self._announced = False
        self._exiting = False  # the interpreter is exiting (our exit hook ran)
        self._signal_owner: Optional[Callable[[int], Any]] = None  # a server that stops itself (hand_signals_to)
        self._t_signal: Optional[float] = None  # monotonic time of the first signal

    @property
    def _phase(self) -> str:
        """The shutdown phase running now ('' when none); setting it reports the phase that ended to the metrics
        (``saf_shutdown_phase_seconds``, when on: core.instrument)."""
        return self._phase_name

    @_phase.setter
    def _phase(self, name: str) -> None:
        now = time.monotonic()
        ended = getattr(self, '_phase_name', '')
        observe = instrument.SHUTDOWN_PHASE
        if observe is not None and ended and ended != name:
            try:
                observe(ended, now - self._phase_t0)
            except Exception:  # never let metrics disturb a shutdown
                pass
        if ended != name:
            self._phase_t0 = now
        self._phase_name = name

    # --- registration --------------------------------------------------------------------------------
    def register(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """Register ``fn(*args, **kwargs)`` as a user hook; returns ``fn``."""
        if not callable(fn):
            raise TypeError(f'shutdown function must be callable, got {fn!r}')
        with self._lock:
            self._hooks.append(_Hook(fn, args, kwargs, _hook_name(fn)))
        return fn

    def unregister(self, fn: Callable[..., Any]) -> bool:
        """Forget every registration of ``fn``; True when there was one."""
        with self._lock:
            before = len(self._hooks)
            self._hooks = [h for h in self._hooks if h.fn is not fn]
            return len(self._hooks) != before

    def add_app(self, v: Variables) -> None:
        """Include ``v``'s app in the phases (readiness, intake, async stopping, plugin shutdown)."""
        with self._lock:
            if not any(a is v for a in self._apps):
                self._apps.append(v)

    @property
    def hooks(self) -> list[str]:
        """Names of the registered user hooks, in the order they will run (newest first)."""
        return [h.name for h in reversed(self._hooks)]

    @property
    def apps(self) -> list[str]:
        """Names of the apps whose plugins shut down in the plugin phase, newest first."""
        return [str(getattr(peek_app_context(v), 'app_name', None) or '?') for v in reversed(self._apps)]

    @property
    def state(self) -> ShutdownState:
        """``idle``, ``running`` (the phases run) or ``done`` (a :class:`ShutdownState`, a ``str``)."""
        return self._state

    @property
    def requested_signal(self) -> Optional[str]:
        """The name of the signal that started the shutdown, or None."""
        return _signal_name(self._signum) if self._signum is not None else None

    @property
    def failures(self) -> list[str]:
        """What failed during the phases (hook and plugin names with the error)."""
        return list(self._failures)

    # --- the phases ------------------------------------------------------------------------------------
    def run(self, reason: str = 'shutdown') -> bool:
        """Run the shutdown phases once, on the calling thread; False when they already ran or are running."""
        with self._lock:
            if self._state is not ShutdownState.IDLE:
                return False
            self._state = ShutdownState.RUNNING
            hooks = list(reversed(self._hooks))
            apps = list(reversed(self._apps))
        t0 = time.monotonic()
        if self.timeout is not None and self._deadline is None:
            self._notify(_EventKind.DEADLINE)
        if self._signum is not None:
            self._announce(_signal_name(self._signum))
        durations: list[tuple[str, float]] = []
        try:
            _log.debug('shutdown (%s): %d app(s), %d hook(s)', reason, len(apps), len(hooks))
            phases: list[tuple[str, Callable[[], None]]] = [
                ('readiness', lambda: self._phase_not_ready(apps)), ('intake', lambda: self._phase_intake(apps)),
                ('async stopping', lambda: self._phase_async(apps)),
                ('plugin shutdown', lambda: self._phase_plugins(apps)),
                ('user hooks', lambda: self._phase_hooks(hooks))]
            for name, phase in phases:
                t = time.monotonic()
                phase()
                durations.append((name, time.monotonic() - t))
        finally:
            self._phase = 'logs'
            self._finish_apps(apps)
            if self._failures and self._signum is not None:
                self.exit_code = EXIT_HOOK_FAILED
            with self._lock:  # over before the last line says so: a signal from then on forces the exit
                self._state = ShutdownState.DONE
            self._log_stopped(t0, durations)
            _flush_logs()
            self._phase = self._current = ''
        return True

    def _log_stopped(self, t0: float, durations: list[tuple[str, float]]) -> None:
        """The last line of a shutdown: ``stopped (exit N) in X s`` (from the signal, else from the phases' start)."""
        try:
            if durations:
                _log.debug('shutdown phases: %s', ', '.join(f'{n} {d:.3f}s' for n, d in durations))
            start = self._t_signal if self._t_signal is not None else t0
            elapsed = time.monotonic() - start
            if self._signum is not None:
                code = EXIT_HOOK_FAILED if self._failures else (self._code if self._code is not None else EXIT_OK)
                _log.info('stopped (exit %d) in %.2f s', code, elapsed)
            else:  # a normal exit (or run_shutdown_hooks): not worth a line at INFO for every script
                _log.debug('stopped in %.2f s', elapsed)
        except Exception:  # pragma: no cover - logging at exit is best effort
            pass

    def _phase_not_ready(self, apps: list[Variables]) -> None:
        self._phase = 'readiness'
        for v in apps:
            _mark_stopping(v)

    def _phase_intake(self, apps: list[Variables]) -> None:
        self._phase = 'intake'
        for v in apps:
            ctx = get_app_context(v)
            with ctx.lock:
                stoppers = list(reversed(ctx.intake_stoppers))
                ctx.intake_stoppers.clear()
            # the app's own stoppers newest first, then the ones registered with last=True (the executor's)
            stoppers.sort(key=lambda f: isinstance(f, _LastStop))
            for fn in stoppers:
                self._isolated(f'intake stop {_hook_name(fn.fn if isinstance(fn, _LastStop) else fn)}', fn)

    def _phase_async(self, apps: list[Variables]) -> None:
        self._phase = 'async stopping'
        from .async_mode import schedule_async_shutdown
        for v in apps:
            ctx = get_app_context(v)
            loop = ctx.loop
            if loop is None or loop.is_closed() or not loop.is_running():
                continue
            if ctx.loop_thread == threading.get_ident():
                continue  # this thread runs the loop: it cannot block on it (the in-loop path did this part)
            remaining = self._remaining()
            self._isolated('async stopping', schedule_async_shutdown, v, timeout=remaining if remaining else 5.0)

    def _phase_plugins(self, apps: list[Variables]) -> None:
        self._phase = 'plugin shutdown'
        from .plugins import shutdown_all_plugins
        for v in apps:
            failures = self._isolated('plugin shutdown', shutdown_all_plugins, v, async_enabled=False)
            if failures:
                self._failures.extend(str(f) for f in failures)

    def _phase_hooks(self, hooks: list[_Hook]) -> None:
        self._phase = 'user hooks'
        for fn, args, kwargs, name in hooks:
            self._isolated(f'shutdown hook {name}', fn, *args, **kwargs)

    def _finish_apps(self, apps: list[Variables]) -> None:
        health = sys.modules.get(__package__ + '.health')
        for v in apps:
            ctx = get_app_context(v)
            ctx.state = AppState.STOPPED
            ctx.ready = False
            if health is not None and ctx.health_server is not None:
                try:
                    health.stop_health_server(v)
                except Exception as e:  # pragma: no cover - best effort at exit
                    _log.debug('health endpoint did not stop: %s', e)

    def _isolated(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn``; any failure (``BaseException`` included) is logged and recorded, never propagated."""
        self._current = what
        try:
            return fn(*args, **kwargs)
        except BaseException as e:  # noqa: B036 - a hook's SystemExit/KeyboardInterrupt must not stop the others
            if isinstance(e, SystemExit):
                _log.error('%s raised SystemExit(%r); continuing with the shutdown', what, e.code)
            else:
                _log.error('%s failed: %s: %s', what, type(e).__name__, e, exc_info=True)
            self._failures.append(f'{what}: {type(e).__name__}: {e}')
            return None
        finally:
            self._current = ''

    def _remaining(self) -> Optional[float]:
        if self._deadline is None:
            return None
        return max(0.1, self._deadline - time.monotonic())

    # --- signals ---------------------------------------------------------------------------------------
    def install(self, via_atexit: bool, signals: tuple[str, ...] = ('SIGTERM', 'SIGINT')) -> None:
        """Install the signal handlers (main thread only), the exit hooks and the watchdog thread.

        ``via_atexit``: also run the phases when the program ends normally. A signal whose disposition is
        ``SIG_IGN`` (SIGINT in a background job started by a shell, under ``nohup``) is left ignored.
        """
        if via_atexit:
            self._atexit = True
        self._install_pid = os.getpid()
        self._start_watchdog()
        if not self._exit_hooks_registered:
            import concurrent.futures.thread  # noqa: F401 - its exit hook must be registered before ours
            if not _stdlib.register_before_thread_join(self._at_interpreter_exit):
                atexit.register(self._at_interpreter_exit)
            atexit.register(self._at_final_exit)  # registered early: runs after the others' atexit functions
            self._exit_hooks_registered = True
        if threading.current_thread() is not threading.main_thread():
            _log.warning('init_framework ran in thread %r, not the main thread: no SIGTERM/SIGINT handler is '
                         'installed, so a signal ends the process without readiness off, drain or shutdown hooks. '
                         'Call init_framework on the main thread (for a web app: scitrera_app_framework.web.serve, '
                         'or web.lifespan under a server whose loop runs on the main thread), or stop the app '
                         'yourself with run_shutdown_hooks()', threading.current_thread().name)
            return
        self._main_ident = threading.get_ident()
        self._arm_wakeup()
        for sname in signals:
            sig = getattr(signal, sname, None)
            if sig is None:
                continue
            current = signal.getsignal(sig)
            if current == self._on_signal:
                continue
            if current == signal.SIG_IGN:
                _log.debug('%s is ignored in this process: leaving it ignored', sname)
                continue
            try:
                signal.signal(sig, self._on_signal)
            except (ValueError, OSError) as e:  # not allowed here (embedded interpreter, ...)
                _log.debug('cannot install %s handler: %s', sname, e)
                continue
            self._prev_handlers.setdefault(int(sig), current)

    def hand_signals_to(self, stop: Optional[Callable[[int], Any]]) -> None:
        """Let a server stop itself on SIGTERM/SIGINT: ``stop(signum)`` is called (on the main thread, inside the
        signal handler: set a flag, write to a pipe, nothing more) once readiness is off and the drain is over,
        instead of unwinding the main thread. The phases then run when the server has stopped (whoever stops it
        calls :meth:`run`, else they run at interpreter exit). A second or third signal is handled as usual.
        None gives the signals back to the framework."""
        self._signal_owner = stop

    def handles(self, signum: int) -> bool:
        """True when the framework's handler is the one installed for ``signum`` (main thread only)."""
        return bool(signal.getsignal(signum) == self._on_signal)

    @property
    def signal_owner(self) -> Optional[Callable[[int], Any]]:
        """The callable given to :meth:`hand_signals_to`, or None."""
        return self._signal_owner

    def _arm_wakeup(self) -> None:
        """Main thread: make signals write their number to the watchdog's signal pipe, and install the no-op
        handler of the poke signal. Another wake-up fd already set (asyncio's ``add_signal_handler``, uvloop) is
        left in place; so is a poke signal the program handles itself."""
        if self._sig_w is None or not hasattr(signal, 'pthread_kill'):
            return
        if self._poke is None and _POKE_SIGNAL is not None:
            try:
                if signal.getsignal(_POKE_SIGNAL) == signal.SIG_DFL:
                    signal.signal(_POKE_SIGNAL, _on_poke)
                    self._prev_handlers.setdefault(int(_POKE_SIGNAL), signal.SIG_DFL)
                    self._poke = int(_POKE_SIGNAL)
            except (ValueError, OSError):
                pass
        if self._poke is None:
            return
        try:
            old = signal.set_wakeup_fd(self._sig_w, warn_on_full_buffer=False)
        except (ValueError, OSError) as e:
            _log.debug('cannot set the signal wake-up fd: %s', e)
            return
        if old not in (-1, self._sig_w, self._wakeup_armed):  # somebody else's: theirs stays
            with contextlib.suppress(ValueError, OSError):
                signal.set_wakeup_fd(old)
            return
        if old != self._sig_w:  # (newly armed: signals handled while it was not wrote no byte here)
            self._bytes_read = dict(self._handled)
        self._wakeup_armed = self._sig_w

    def _disarm_wakeup(self) -> None:
        """Main thread: give the wake-up fd back (when it is still ours)."""
        armed, self._wakeup_armed = self._wakeup_armed, None
        if armed is None:
            return
        with contextlib.suppress(ValueError, OSError):
            current = signal.set_wakeup_fd(-1)
            if current not in (-1, armed):
                signal.set_wakeup_fd(current)

    def _on_signal(self, signum: int, frame: Any) -> None:
        # Runs on the main thread between two bytecodes of whatever it was doing: no locks, no logging, no I/O
        # but a write to the watchdog's pipe. Everything else happens on the watchdog thread or after unwinding.
        self._handled[signum] = self._handled.get(signum, 0) + 1
        if self._drain_done and not self._delivered and signum == self._signum:
            self._delivered = True  # the watchdog's own signal: the drain is over, unwind now
            if self._state is ShutdownState.IDLE:  # (unless the program ended by itself meanwhile and the phases run)
                self._deliver()
            return
        self._nsignals += 1
        name = _signal_name(signum)
        if self._signum is None:
            self._signum = signum
            self._t_signal = time.monotonic()
            self._code = EXIT_SIGINT if signum == getattr(signal, 'SIGINT', None) else self.sigterm_code
            self._mark_all_stopping()
            if self._state is not ShutdownState.IDLE:  # the phases run (normal exit) or ran (run_shutdown_hooks)
                if self._state is ShutdownState.RUNNING:
                    self._notify(_EventKind.IGNORED, name)
                    return
                if self._exiting:  # over, and the interpreter is exiting (joining threads): nothing to unwind
                    self._notify(_EventKind.FORCE, name)
                    if self._watchdog is None or not self._watchdog.is_alive():
                        os._exit(EXIT_FORCED)
                    return
                self._notify(_EventKind.SIGNAL, name)
                self._delivered = True
                self._deliver()
                return
            self._notify(_EventKind.SIGNAL, name)
            if self.drain > 0 and (self._signal_owner is not None or _stdlib.running_loop() is None) \
                    and hasattr(signal, 'pthread_kill') and self._watchdog is not None and self._watchdog.is_alive():
                # the watchdog signals us again when the drain is over (a forked child that inherited this handler
                # has no watchdog: multiprocessing's workers; there the signal is delivered at once)
                self._notify(_EventKind.DRAIN, name)
                return
            self._delivered = True
            self._deliver()
            return
        sigint = getattr(signal, 'SIGINT', None)
        if self._state is ShutdownState.DONE or self._nsignals >= 3 or (signum == sigint and self._signum == sigint):
            self._notify(_EventKind.FORCE, name)
            if self._watchdog is None or not self._watchdog.is_alive():
                os._exit(EXIT_FORCED)
            return
        self._notify(_EventKind.IGNORED, name)

    def _deliver(self) -> None:
        owner = self._signal_owner
        if owner is not None and self._signum is not None:
            owner(self._signum)  # a server stops itself (it was told not to be ready, and the drain is over)
            return
        loop = _stdlib.running_loop()
        if loop is not None:
            loop.call_soon_threadsafe(self._begin_in_loop, loop)
            return
        if critical.in_critical_section():
            critical.defer(self._raise)
            return
        self._raise()

    def _raise(self) -> None:
        name = _signal_name(self._signum) if self._signum is not None else 'shutdown'
        code = self._code if self._code is not None else EXIT_OK
        if self._signum == getattr(signal, 'SIGINT', None):
            raise ShutdownInterrupt(code, name)
        raise ShutdownRequested(code, name)

    def _mark_all_stopping(self) -> None:
        for v in self._apps:
            _mark_stopping(v)

    # --- asyncio: the shutdown's first part runs on the loop ---------------------------------------------
    def _begin_in_loop(self, loop: Any) -> None:
        loop.create_task(self._shutdown_in_loop(loop))

    async def _shutdown_in_loop(self, loop: Any) -> None:
        import asyncio

        from .async_mode import async_plugins_stopping
        if self.drain > 0:
            self._phase = 'drain'
            await asyncio.sleep(self.drain)
        apps = [v for v in reversed(self._apps) if get_app_context(v).loop in (None, loop)]
        main = None
        for v in apps:
            t = get_app_context(v).main_task
            if t is not None and not t.done() and t.get_loop() is loop:
                main = t
                break
        if main is None:
            main = _stdlib.find_main_task(loop)
        # cancel the main task and let its finally blocks run, keeping the loop alive for the async hooks; where
        # that is not possible the main task is cancelled by asyncio.run after the hooks, when the loop ends
        if main is not None and main is not asyncio.current_task() and _stdlib.detach_loop_stop(main):
            self._phase = 'cancel main task'
            main.cancel()
            await asyncio.wait([main])
        self._phase = 'intake'
        await loop.run_in_executor(None, self._phase_intake, list(apps))
        self._phase = 'async stopping'
        for v in apps:  # (apps on this loop, and apps that never captured one: this is the asyncio app's loop)
            self._current = 'async stopping'
            try:
                await async_plugins_stopping(v)
            except Exception as e:
                _log.error('async stopping failed: %s: %s', type(e).__name__, e, exc_info=True)
                self._failures.append(f'async stopping: {type(e).__name__}: {e}')
            self._current = ''
        self._phase = 'asyncio loop clean-up (tasks still running at the end of asyncio.run)'
        loop.call_soon(self._raise)  # from a plain callback: SystemExit leaves run_forever, no task keeps it

    # --- exit hooks ------------------------------------------------------------------------------------
    def _at_interpreter_exit(self) -> None:
        """At interpreter exit, on the main thread, before non-daemon threads are joined."""
        self._exiting = True
        if self._signum is None and not self._atexit:
            return
        if self._install_pid != os.getpid() and _in_multiprocessing_child():
            return  # a worker forked from the app (Pool, Process) that never installed the framework: not the app
        reason = f'{_signal_name(self._signum)}' if self._signum is not None else 'exit'
        self.run(reason=reason)

    def _at_final_exit(self) -> None:
        """The last atexit function: after a signal-driven shutdown the exit status is the signal's code (or
        :data:`EXIT_HOOK_FAILED`), even if the program caught the unwinding exception and returned normally."""
        if self._signum is None or self._state is not ShutdownState.DONE:
            return
        code = EXIT_HOOK_FAILED if self._failures else (self._code or EXIT_OK)
        if code == EXIT_OK:
            return  # the program's own status stands (0 unless it chose another)
        logging.shutdown()  # flushes and closes every handler (os._exit skips the atexit function that would)
        _flush_std()
        os._exit(code)

    # --- the watchdog ----------------------------------------------------------------------------------
    def _notify(self, kind: _EventKind, detail: str = '') -> None:
        """Tell the watchdog thread (lock-free: safe in a signal handler)."""
        self._events.append(_Event(kind, detail, time.monotonic()))
        w = self._wake_w
        if w is not None:
            try:
                os.write(w, b'.')
            except OSError:
                pass

    def _start_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.is_alive():
            return
        if os.name == 'posix' and (self._wake_r is None or self._wake_pid != os.getpid()):
            # a pipe inherited through fork (gunicorn --preload) is shared with the parent, whose watchdog would
            # read this process's wake-ups: a new one for this process (the inherited ends closed here only)
            for fd in (self._wake_r, self._wake_w, self._sig_r, self._sig_w):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            r, w = os.pipe()
            os.set_blocking(w, False)
            self._wake_r, self._wake_w, self._wake_pid = r, w, os.getpid()
            r, w = os.pipe()
            os.set_blocking(r, False)
            os.set_blocking(w, False)
            self._sig_r, self._sig_w = r, w
        t = threading.Thread(target=self._watch, name='saf-shutdown-watchdog', daemon=True)
        t.start()
        self._watchdog = t

    def _wait(self, timeout: Optional[float]) -> bool:
        """Wait for a notification, a signal's byte or the timeout; False when asked to stop."""
        r = self._wake_r
        if r is None:
            time.sleep(0.05 if timeout is None else max(0.0, min(timeout, 0.05)))
            return True
        import select
        if timeout is not None:
            timeout = min(timeout, 3600.0)  # (select cannot take any float: an hour at a time is plenty)
        fds = [r] if self._sig_r is None else [r, self._sig_r]
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except (OSError, ValueError, OverflowError):
            return False
        if self._sig_r is not None and self._sig_r in ready:
            self._read_signal_bytes()
        if r in ready:
            try:
                data = os.read(r, 4096)
            except OSError:
                return False
            if not data:
                return False
        return True

    def _read_signal_bytes(self) -> None:
        """A signal arrived (its number was written by the C-level handler, in whatever thread got it). When
        the main thread has not run the Python handler for it, it is blocked (the signal went to another thread,
        and only the receiving thread's call is interrupted): poke it, so the pending handler runs now rather than
        when its blocking call ends by itself (never, for an ``Event().wait()``).

        Bytes and handler runs are counted per signal: a run the watchdog has not matched with a byte yet (the
        handler ran before the watchdog got to read, which is the usual order) stands for that byte only, never
        for a later signal's that arrived meanwhile in another thread."""
        try:
            data = os.read(self._sig_r, 4096) if self._sig_r is not None else b''
        except OSError:
            return
        handled = dict(self._handled)  # (a snapshot: runs from now on happened after this read)
        pending = []
        for sig in list(self._prev_handlers):
            n = data.count(sig)
            if not n or sig == self._poke or signal.getsignal(sig) != self._on_signal:
                continue  # (another handler's signal: a server's own, SIGCHLD, ...)
            self._bytes_read[sig] = self._bytes_read.get(sig, 0) + n
            if self._bytes_read[sig] > handled.get(sig, 0):
                pending.append(sig)
        if not pending:
            return
        for delay in (0.02, 0.2, 1.0):
            time.sleep(delay)
            if all(self._handled.get(sig, 0) != handled.get(sig, 0) for sig in pending):
                break
            if not self._poke_main():
                break
        for sig in pending:
            runs = self._handled.get(sig, 0)
            if runs != handled.get(sig, 0):  # it ran after the read: for every delivery read so far (the
                # interpreter runs a handler once for several deliveries that arrive before it runs)
                self._bytes_read[sig] = min(self._bytes_read[sig], runs)

    def _poke_main(self) -> bool:
        """Send the poke signal to the main thread; False when it cannot be sent (reset, or the program has
        installed its own handler for it since: that handler is the program's, the watchdog never calls it)."""
        poke = self._poke
        if poke is None:
            return False
        if signal.getsignal(poke) is not _on_poke:
            _log.debug('a signal waits for the main thread\'s blocking call to end: %s has the program\'s handler '
                       'now, the main thread is not woken', _signal_name(poke))
            return False
        try:
            signal.pthread_kill(self._main_ident, poke)  # type: ignore[arg-type]
        except (OSError, ValueError):  # the main thread is gone
            return False
        return True

    def _watch(self) -> None:
        drain_until: Optional[float] = None
        drain_signal: Optional[str] = None
        while True:
            now = time.monotonic()
            waits = [t for t in (self._deadline, drain_until) if t is not None]
            timeout = max(0.0, min(waits) - now) if waits else None
            if not self._wait(timeout):
                return
            while self._events:
                event = self._events.popleft()
                kind, detail = event.kind, event.detail
                if kind is _EventKind.STOP:
                    return
                if kind is _EventKind.SIGNAL:
                    self._announce(detail)
                    if self.timeout is not None and self._deadline is None:
                        self._deadline = event.at + self.timeout
                elif kind is _EventKind.DEADLINE:
                    if self.timeout is not None and self._deadline is None:
                        self._deadline = event.at + self.timeout
                elif kind is _EventKind.DRAIN:
                    drain_until, drain_signal = event.at + self.drain, detail
                    _log.info('not ready; draining for %gs (SAF_SHUTDOWN_DRAIN_SECONDS) before stopping',
                              self.drain)
                elif kind is _EventKind.IGNORED:
                    _log.warning('received %s during shutdown; shutdown is already in progress (ignored; a third '
                                 'signal, or a second SIGINT, forces an immediate exit)', detail)
                elif kind is _EventKind.FORCE:
                    self._force(EXIT_FORCED, f'received {detail} again: forcing an immediate exit')
            now = time.monotonic()
            if drain_until is not None and now >= drain_until:
                drain_until = None
                self._drain_done = True
                sig = getattr(signal, drain_signal or 'SIGTERM', signal.SIGTERM)
                try:
                    signal.pthread_kill(self._main_ident, sig)  # type: ignore[arg-type]
                except (OSError, ValueError) as e:  # the main thread is gone
                    _log.debug('cannot signal the main thread after the drain: %s', e)
            if self._deadline is not None and now >= self._deadline:
                self._overrun()

    def _announce(self, signame: str) -> None:
        """Log the signal once (from the watchdog, or from the phases if they get there first)."""
        with self._announce_lock:
            if self._announced:
                return
            self._announced = True
        extra = []
        if self.drain > 0:
            extra.append(f'drain {self.drain:g}s')
        if self.timeout is not None:
            extra.append(f'timeout {self.timeout:g}s')
        _log.info('received %s: shutting down%s', signame, f' ({", ".join(extra)})' if extra else '')

    def _overrun(self) -> None:
        running = []
        if self._phase:
            running.append(f'phase {self._phase!r}')
        if self._current:
            running.append(self._current)
        threads = [t.name for t in threading.enumerate() if t.is_alive() and t is not threading.current_thread()
                   and not t.daemon and t is not threading.main_thread()]
        self._force(EXIT_TIMEOUT, f'shutdown overran SAF_SHUTDOWN_TIMEOUT={self.timeout:g}s; still running: '
                                  f'{", ".join(running) or "nothing in the shutdown phases"}; non-daemon threads '
                                  f'alive: {", ".join(threads) or "none"}; exiting with code {EXIT_TIMEOUT}')

    def _force(self, code: int, message: str) -> None:
        # the last line and the flush on another thread, for at most a second: a log handler that blocks (a full
        # pipe, a hung remote sink; its lock held by a thread stuck in it) must not keep the process alive
        flusher = threading.Thread(target=_log_and_flush, args=(message,), name='saf-shutdown-last-words',
                                   daemon=True)
        flusher.start()
        flusher.join(1.0)
        os._exit(code)

    # --- test support ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every hook and app, restore the previous signal handlers, stop the watchdog, clear the state.

        The exit hooks stay registered (the interpreter offers no way to remove one of them) but do nothing
        until the next ``install``.
        """
        # the watchdog first: one about to poke must not send the poke signal once its handler is SIG_DFL again
        # (the default action of a real-time signal ends the process)
        self._poke = None
        if self._watchdog is not None and self._watchdog.is_alive():
            self._notify(_EventKind.STOP)
            self._watchdog.join(2.0)
        self._watchdog = None
        with self._lock:
            self._hooks.clear()
            self._apps.clear()
            self._state = ShutdownState.IDLE
            self.timeout = None
            self.drain = 0.0
            self.sigterm_code = EXIT_OK
            self.exit_code = EXIT_OK
            self._signum = None
            self._nsignals = 0
            self._drain_done = self._delivered = False
            self._code = None
            self._failures = []
            self._deadline = None
            self._atexit = False
            self._announced = False
            self._exiting = False
            self._signal_owner = None
            self._t_signal = None
            if threading.current_thread() is threading.main_thread():
                self._disarm_wakeup()
                for sig, prev in self._prev_handlers.items():
                    try:
                        signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
                    except (ValueError, OSError, TypeError):
                        pass
            self._prev_handlers.clear()
            self._poke = None
            self._handled.clear()
            self._bytes_read.clear()
        self._events.clear()


#: the signal that wakes the main thread from a blocking call (Linux: the last real-time signal, which nothing
#: in Python uses; None where there is none, macOS: there a signal sent to the process reaches the main thread
#: only when no other thread takes it first, as before)
_POKE_SIGNAL: Optional[int] = getattr(signal, 'SIGRTMAX', None)


def _on_poke(signum: int, frame: Any) -> None:
    """The poke signal's handler: nothing. Its delivery interrupts the main thread's blocking call, and the
    interpreter then runs the signal handlers that are pending (the SIGTERM/SIGINT one)."""


def _mark_stopping(v: Variables) -> None:
    """Readiness off for ``v``'s app: plain attribute writes (the signal handler calls this)."""
    ctx = peek_app_context(v)
    if ctx is not None and not ctx.stopping:
        ctx.state = AppState.STOPPING


def _flush_logs() -> None:
    for h in list(logging.getLogger().handlers):
        try:
            h.flush()
        except Exception:
            pass


def _log_and_flush(message: str) -> None:
    try:
        _log.critical(message)
    except Exception:
        pass
    _flush_logs()
    _flush_std()


def _flush_std() -> None:
    for s in (sys.stdout, sys.stderr):
        try:
            if s is not None:
                s.flush()
        except Exception:
            pass


_manager = ShutdownManager()


def _in_multiprocessing_child() -> bool:
    """True in a process that :mod:`multiprocessing` started (a Pool worker, a ``Process``)."""
    process = sys.modules.get('multiprocessing.process')
    parent = getattr(process, 'parent_process', None)
    return parent is not None and parent() is not None


def _after_fork_in_child() -> None:
    """A forked child must not write its signals into the parent's pipe (the parent's watchdog would poke the
    parent): its wake-up fd is unset until the child installs the framework (it then makes its own pipes)."""
    _manager._disarm_wakeup()


if hasattr(os, 'register_at_fork'):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def wait_for_shutdown(timeout: Optional[float] = None) -> bool:
    """Block the calling thread until a shutdown starts (or ``timeout`` seconds pass); True when one started.

    Use it on the main thread instead of ``Thread.join()`` on a thread that serves: the exception that unwinds the
    main thread at a signal can arrive inside ``join`` and make CPython consider the still-running thread
    finished (bpo-45274), so the process would exit in the middle of that thread's shutdown. Here the main thread
    sleeps in short steps: the signal unwinds it with :class:`ShutdownRequested` (which propagates from this
    call, and the phases run at exit, stopping the thread through its :func:`register_intake_stop`), or, when a
    server took the signals over (:meth:`ShutdownManager.hand_signals_to`), this returns True.
    """
    deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
    while _manager._signum is None and _manager.state is ShutdownState.IDLE:
        step = 0.1
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            step = min(step, left)
        time.sleep(step)
    return True


def get_shutdown_manager() -> ShutdownManager:
    """Return the process-wide :class:`ShutdownManager`."""
    return _manager


def register_shutdown_function(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
    """Register ``fn(*args, **kwargs)`` to run once at shutdown, in the user-hook phase (newest first), after
    the plugins have shut down; returns ``fn`` (decorator use).

    Raises:
        TypeError: when ``fn`` is not callable.
    """
    return _manager.register(fn, *args, **kwargs)


def run_shutdown_hooks(reason: str = 'manual') -> bool:
    """Run the shutdown phases now, on this thread (once per process); returns False if they already ran."""
    return _manager.run(reason)


class _LastStop:
    """An intake stopper registered with ``last=True``: runs after the others."""

    __slots__ = ('fn', '__weakref__')

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn

    def __call__(self) -> Any:
        return self.fn()


def register_intake_stop(fn: Callable[[], Any], v: Optional[Variables] = None, *,
                         last: bool = False) -> Callable[[], Any]:
    """Run ``fn()`` in the shutdown's *intake* phase (after the drain, before plugins shut down): stop accepting
    new work there (a server's listener, a consumer's subscription). Newest first; with ``last`` after every
    stopper registered without it (the background executor's is such: work the app's intake still hands over
    must find it running). Returns ``fn``.

    Raises:
        TypeError: ``fn`` is not callable.
    """
    if not callable(fn):
        raise TypeError(f'register_intake_stop: fn must be callable, got {fn!r}')
    ctx = get_app_context(v)
    with ctx.lock:
        ctx.intake_stoppers.append(_LastStop(fn) if last else fn)
    return fn


__all__ = ['ShutdownManager', 'ShutdownState', 'ShutdownRequested', 'ShutdownInterrupt', 'get_shutdown_manager',
           'register_shutdown_function', 'run_shutdown_hooks', 'register_intake_stop', 'wait_for_shutdown', 'EXIT_OK',
           'EXIT_HOOK_FAILED', 'EXIT_TIMEOUT', 'EXIT_FORCED', 'EXIT_SIGINT']
