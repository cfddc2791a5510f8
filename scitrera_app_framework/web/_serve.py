"""``serve()``: uvicorn with the framework owning SIGTERM/SIGINT; taking the signals over from a uvicorn server."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import stat
import sys
import threading
from typing import Any, Iterator, Optional

from ..api.variables import Variables
from ..core.context import AppState, get_app_context
from ..core.defaults import get_variables
from ..core.health import set_ready
from ..core.logs import find_framework_handler
from ..core.shutdown import get_shutdown_manager

_log = logging.getLogger('saf.web')

UVICORN_LOGGERS = ('uvicorn', 'uvicorn.error', 'uvicorn.access', 'uvicorn.asgi')

#: share of SAF_SHUTDOWN_TIMEOUT (after the drain) uvicorn lets requests in flight run before cancelling them, unless
#: its ``timeout_graceful_shutdown`` is set
GRACE_SHARE = 0.75

# the uvicorn Server that serve() runs (process-wide: one serve() per process, on the main thread, owning the signals);
# the apps whose lifespan left their shutdown phases to serve() are kept on it (SAFServer.saf_deferred)
_current_server: Optional[Any] = None


class _DropColorMessage(logging.Filter):
    """uvicorn adds ``color_message`` (ANSI escapes) to its records: drop it before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop('color_message', None)
        return True


_drop_color = _DropColorMessage()


def route_uvicorn_logs() -> bool:
    """Send uvicorn's loggers through the framework's handler and format (JSON too), without ``color_message``.

    Their own handlers (uvicorn's default configuration, or gunicorn's under its uvicorn worker) are removed and
    they propagate to the root logger. Does nothing but drop ``color_message`` when the framework's handler is not
    installed (``init_framework`` not called yet); returns whether they were routed.
    """
    for name in UVICORN_LOGGERS:
        lg = logging.getLogger(name)
        if _drop_color not in lg.filters:
            lg.addFilter(_drop_color)
    if find_framework_handler() is None:
        return False
    for name in UVICORN_LOGGERS:
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.propagate = True
    return True


def _is_uvicorn_server(obj: Any) -> bool:
    mod = sys.modules.get('uvicorn.server')
    return mod is not None and isinstance(obj, mod.Server)


def find_uvicorn_server() -> Optional[Any]:
    """The uvicorn ``Server`` running in this process (on the current loop), or None.

    Looks at the server :func:`serve` runs, then at the SIGTERM handler (uvicorn installs its server's
    ``handle_exit`` while it serves), then along the awaits of the loop's tasks (``await server.serve()`` in an
    asyncio main, gunicorn's uvicorn worker).
    """
    if _current_server is not None:
        return _current_server
    if 'uvicorn.server' not in sys.modules:
        return None
    if threading.current_thread() is threading.main_thread():
        owner = getattr(signal.getsignal(signal.SIGTERM), '__self__', None)
        if _is_uvicorn_server(owner):
            return owner
    import asyncio
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        return None
    for task in tasks:
        coro: Any = task.get_coro()
        depth = 0
        while coro is not None and depth < 20:
            frame = getattr(coro, 'cr_frame', None)
            if frame is not None:
                candidate = frame.f_locals.get('self')
                if _is_uvicorn_server(candidate):
                    return candidate
            coro = getattr(coro, 'cr_await', None)
            depth += 1
    return None


class _Stopper:
    """Stops a uvicorn server (called in the signal handler once the drain is over)."""

    __slots__ = ('server',)

    def __init__(self, server: Any) -> None:
        self.server = server

    def __call__(self, signum: int) -> None:
        config = getattr(self.server, 'config', None)
        timeout = get_shutdown_manager().timeout
        if config is not None and timeout is not None and getattr(config, 'timeout_graceful_shutdown', 0) is None:
            # requests in flight get 3/4 of what SAF_SHUTDOWN_TIMEOUT leaves after the drain; uvicorn then cancels
            # them and the lifespan's shutdown and the phases still run within the timeout
            config.timeout_graceful_shutdown = max(0.5, (timeout - get_shutdown_manager().drain) * GRACE_SHARE)
        self.server.should_exit = True  # a flag uvicorn's main loop polls every 0.1 s


def owns_signals(server: Any) -> bool:
    """True when the framework's signal handling stops ``server`` (:func:`serve` or :func:`take_signals_from_uvicorn`
    set it up)."""
    owner = get_shutdown_manager().signal_owner
    return isinstance(owner, _Stopper) and owner.server is server


def take_signals_from_uvicorn(server: Any) -> bool:
    """Make the framework own SIGTERM/SIGINT for a running uvicorn ``server``; True when it does.

    At a signal: readiness off, the drain (``SAF_SHUTDOWN_DRAIN_SECONDS``) while the server still accepts and serves,
    then ``server.should_exit`` (uvicorn stops accepting, finishes the requests in flight, runs the lifespan's
    shutdown). A second signal is ignored, a third (or a second SIGINT) forces the exit (the README's table).
    Only possible on the main thread (False elsewhere, with a WARNING saying what is lost).
    """
    if threading.current_thread() is not threading.main_thread():
        _log.warning('the uvicorn server runs in thread %r, not the main thread: the framework cannot take '
                     'SIGTERM/SIGINT over (no readiness off or drain before uvicorn closes its listener); run the '
                     'server on the main thread, e.g. with scitrera_app_framework.web.serve()',
                     threading.current_thread().name)
        return False
    manager = get_shutdown_manager()
    manager.install(via_atexit=False)  # (replaces the server's handle_exit with the framework's handler)
    manager.hand_signals_to(_Stopper(server))
    return True


def _server_class() -> type:
    import uvicorn

    class SAFServer(uvicorn.Server):
        """uvicorn's Server, its signal handling left to the framework; ready once it listens."""

        saf_v: Optional[Variables] = None
        saf_deferred: list[Variables]  # apps whose lifespan left the shutdown phases to serve() (defer_to_serve)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def install_signal_handlers(self) -> None:  # (older uvicorn)
            return None

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                v = self.saf_v if self.saf_v is not None else get_variables()
                if get_app_context(v).initialized:
                    set_ready(True, v)

    return SAFServer


def serve(app: Any, v: Optional[Variables] = None, **uvicorn_options: Any) -> None:
    """Run ``app`` (an ASGI app or an ``"module:attr"`` string) on uvicorn with the framework owning the signals.

    ``uvicorn_options`` are ``uvicorn.Config``'s (``host``, ``port``, ``log_level``, ...); ``log_config`` defaults to
    None so uvicorn's lines go through the framework's handler and format (see :func:`route_uvicorn_logs`).

    Readiness is true only once the server listens (and the lifespan's start-up completed). At SIGTERM/SIGINT:
    readiness off, the drain (``SAF_SHUTDOWN_DRAIN_SECONDS``) while the server still accepts and serves, then the
    server stops accepting and finishes its requests in flight, then the lifespan's shutdown, then the shutdown
    phases (intake: the app's stoppers, then the background executor's; plugin shutdown; hooks; the line
    ``stopped (exit N) in X s``); ``SAF_SHUTDOWN_TIMEOUT`` bounds it all. Returns when the server has stopped and
    the phases ran; the process then exits with the README's code (0 after SIGTERM, 130 after SIGINT).

    Raises:
        WebConfigError: not on the main thread, or ``workers``/``reload`` given (one server per process here:
            use gunicorn with ``scitrera_app_framework.web.gunicorn_conf`` for several workers), or more than one
            place to listen on (``fd``, ``uds``, ``host``/``port``: uvicorn would silently use only one).
        ModuleNotFoundError: uvicorn is not installed (``pip install scitrera-app-framework[web]``).
    """
    global _current_server
    from . import WebConfigError
    if threading.current_thread() is not threading.main_thread():
        raise WebConfigError(f'serve() must run on the main thread (it owns SIGTERM/SIGINT), not in thread '
                             f'{threading.current_thread().name!r}; in a thread run uvicorn.Server yourself and stop '
                             f'it with server.should_exit = True')
    for option in ('workers', 'reload'):
        if uvicorn_options.get(option):
            raise WebConfigError(f'serve({option}={uvicorn_options[option]!r}): serve() runs one server in this '
                                 f'process; for several workers use gunicorn -c '
                                 f'python:scitrera_app_framework.web.gunicorn_conf -k uvicorn.workers.UvicornWorker')
    _check_one_listener(uvicorn_options)
    try:
        import uvicorn
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(f'serve() needs uvicorn: pip install "scitrera-app-framework[web]" ({e})') from e
    uvicorn_options.setdefault('log_config', None)
    route_uvicorn_logs()
    config = uvicorn.Config(app, **uvicorn_options)
    server = _server_class()(config)
    server.saf_v = v
    server.saf_deferred = []
    ctx = get_app_context(v)
    if ctx.initialized:
        set_ready(False, v)  # until the server listens
    manager = get_shutdown_manager()
    manager.install(via_atexit=False)
    manager.hand_signals_to(_Stopper(server))
    _current_server = server
    try:
        server.run()
    finally:
        _current_server = None
        _remove_socket_file(config.uds)
    # after uvicorn's last line, so that the framework's "stopped" line is the last of the shutdown
    manager.run('server stopped')
    while server.saf_deferred:
        finish_app(server.saf_deferred.pop())


def _remove_socket_file(path: Optional[str]) -> None:
    """Remove the unix socket file uvicorn listened on (as ``uvicorn.run`` does; ``Server.run`` leaves it)."""
    if not path:
        return
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except OSError as e:
        _log.debug('cannot remove the unix socket %s: %s', path, e)


def _check_one_listener(options: dict[str, Any]) -> None:
    """uvicorn listens on ``fd``, else ``uds``, else ``host``:``port``, and ignores the others without a word."""
    from . import WebConfigError
    given = [f'{k}={options[k]!r}' for k in ('fd', 'uds') if options.get(k) is not None]
    if given:
        given += [f'{k}={options[k]!r}' for k in ('host', 'port') if options.get(k) is not None]
    if len(given) > 1:
        raise WebConfigError(f'serve({", ".join(given)}): give one place to listen on, fd= (an inherited listening '
                             f'socket), uds= (a unix socket path) or host=/port= (uvicorn would use the first of '
                             f'them and ignore the rest)')


def defer_to_serve(v: Variables) -> bool:
    """Called by the lifespan's shutdown: under :func:`serve`, leave the shutdown phases of ``v``'s app to it (they
    run once the server has stopped); False when not under serve()."""
    server = _current_server
    if server is None:
        return False
    server.saf_deferred.append(v)
    return True


def finish_app(v: Variables) -> None:
    """The shutdown phases (once per process), then ``v``'s plugins if its app is not one the process-wide shutdown
    knows (a ``Variables`` that ``init_framework`` did not initialize)."""
    from ..core.plugins import shutdown_all_plugins
    if get_app_context(v).initialized:
        get_shutdown_manager().run('server stopped')
    if get_app_context(v).state != AppState.STOPPED:
        try:
            shutdown_all_plugins(v)
        except Exception as e:  # the registry may be closed already
            _log.debug('plugin shutdown after the server stopped: %s', e)


__all__ = ['serve', 'find_uvicorn_server', 'owns_signals', 'defer_to_serve', 'finish_app',
           'take_signals_from_uvicorn', 'route_uvicorn_logs', 'UVICORN_LOGGERS', 'GRACE_SHARE']
