"""``lifespan``: the ASGI lifespan that runs the framework inside any ASGI server."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import threading
from typing import Any, AsyncIterator, Callable, Optional

from ..api.variables import Variables
from ..core.context import get_app_context
from ..core.core import init_framework
from ..core.defaults import get_variables
from ..core.health import set_ready
from ..core.plugins import async_plugins_ready, async_plugins_stopping
from ..core.shutdown import get_shutdown_manager
from ._serve import (
    defer_to_serve,
    find_uvicorn_server,
    finish_app,
    owns_signals,
    route_uvicorn_logs,
    take_signals_from_uvicorn,
)

_log = logging.getLogger('saf.web')


def lifespan(app: Any = None, /, *, v: Optional[Variables] = None, app_name: Optional[str] = None,
             setup: Optional[Callable[[Variables], Any]] = None, inner: Optional[Callable[[Any], Any]] = None,
             **init_kwargs: Any) -> Any:
    """The framework's ASGI lifespan, both the function and its factory.

    - As it is: ``FastAPI(lifespan=lifespan)`` / ``Starlette(lifespan=lifespan)`` (the server calls
      ``lifespan(app)``, which returns the async context manager).
    - With options: ``lifespan(v=v, app_name='svc', setup=register_plugins, inner=my_lifespan)`` returns a
      lifespan function to give to the app.

    Start-up: ``init_framework`` unless ``v`` (default: the default ``Variables``) is initialized already (app name:
    ``app_name``, else ``SAF_APP_NAME``, else the app's ``title``, else ``app``; ``init_kwargs`` go to it), then
    ``setup(v)`` (sync or async: register the app's plugins there), ``async_plugins_ready``, ``app.state.v = v``,
    then ``inner(app)`` is entered. Under uvicorn (its CLI, ``Server.serve`` in an asyncio main, gunicorn's uvicorn
    worker, :func:`~scitrera_app_framework.web.serve`) on the main thread the framework takes SIGTERM/SIGINT over
    from the server (readiness off and the drain before the listener closes), and readiness turns true once the
    server listens; under another server the server keeps its signals and readiness turns true at the end of the
    start-up.

    Shutdown (after the server finished its requests): ``inner`` is left, ``async_plugins_stopping`` is awaited, then
    the shutdown phases run in a worker thread (intake, plugin shutdown, hooks, the ``stopped`` line; once per
    process), so the loop stays free for anything they wait on.
    """
    if app is not None:
        return _lifespan_cm(app, v, app_name, setup, inner, init_kwargs)

    def configured(app: Any) -> Any:
        return _lifespan_cm(app, v, app_name, setup, inner, init_kwargs)

    return configured


@contextlib.asynccontextmanager
async def _lifespan_cm(app: Any, v: Optional[Variables], app_name: Optional[str],
                       setup: Optional[Callable[[Variables], Any]], inner: Optional[Callable[[Any], Any]],
                       init_kwargs: dict[str, Any]) -> AsyncIterator[Any]:
    v = get_variables(v)
    ctx = get_app_context(v)
    server = find_uvicorn_server()
    if server is not None:
        set_ready(False, v)  # until the server listens (init_framework leaves the flag alone)
    if not ctx.initialized:
        name = app_name or v.environ('SAF_APP_NAME', default=None) or getattr(app, 'title', None) or 'app'
        before = _server_handlers() if server is None else {}
        init_framework(str(name), v=v, **init_kwargs)
        _give_back(before)
    if server is not None:
        route_uvicorn_logs()
        if not owns_signals(server):
            take_signals_from_uvicorn(server)
    if setup is not None:
        result = setup(v)
        if inspect.isawaitable(result):
            await result
    await async_plugins_ready(v)
    state = getattr(app, 'state', None)
    if state is not None:
        state.v = v
    watcher = None
    if server is not None:
        watcher = asyncio.get_running_loop().create_task(_ready_when_listening(server, v))
    else:
        set_ready(True, v)
    try:
        if inner is not None:
            async with inner(app) as inner_state:
                yield inner_state
        else:
            yield None
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
        await async_plugins_stopping(v)
        if not defer_to_serve(v):
            await asyncio.get_running_loop().run_in_executor(None, finish_app, v)


def _server_handlers() -> dict[int, Any]:
    """The SIGTERM/SIGINT handlers a server other than uvicorn installed (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    found = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        h = signal.getsignal(sig)
        if h not in (signal.SIG_DFL, signal.SIG_IGN, signal.default_int_handler, None) \
                and not get_shutdown_manager().handles(sig):
            found[int(sig)] = h
    return found


def _give_back(handlers: dict[int, Any]) -> None:
    """An ASGI server we cannot stop ourselves (hypercorn, ...) keeps its own signal handling: init_framework must
    not have replaced it (the framework's handler would cancel the server's task in the middle of its requests)."""
    manager = get_shutdown_manager()
    for sig, h in handlers.items():
        if manager.handles(sig):
            signal.signal(sig, h)
            _log.info('the server keeps its own %s handling (no drain before it closes its listener; uvicorn, '
                      'web.serve() and gunicorn get the drain); the shutdown phases run after the lifespan\'s '
                      'shutdown', signal.Signals(sig).name)


async def _ready_when_listening(server: Any, v: Variables) -> None:
    while not getattr(server, 'started', False):
        if getattr(server, 'should_exit', False):
            return
        await asyncio.sleep(0.02)
    if not get_app_context(v).stopping:
        set_ready(True, v)


__all__ = ['lifespan']
