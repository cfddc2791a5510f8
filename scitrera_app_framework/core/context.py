"""The app context: every piece of lifecycle state of one app, in one object that its :class:`Variables` refers to.

One ``AppContext`` hangs off each :class:`Variables` instance (created on first use by :func:`get_app_context`):
the plugin registry, the app logger, the app parameters, the stateful path, the captured asyncio loop,
readiness, the shutdown flags and the failures seen. Other modules read and write these attributes; nothing
else keeps per-app state. ``testing.reset_framework()`` forgets the default ``Variables`` and with it its
context.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..api.variables import Variables
from .defaults import get_variables

if TYPE_CHECKING:  # pragma: no cover
    import asyncio
    import logging

    from ._registry import Registry

# lifecycle states of an app (``AppContext.state``)
CREATED = 'created'  # Variables exist, init_framework not called (or not finished)
STARTING = 'starting'  # init_framework is running
RUNNING = 'running'  # init_framework finished (eager plugins initialized): ready unless marked otherwise
STOPPING = 'stopping'  # shutdown started: readiness is false, intake stops, plugins shut down
STOPPED = 'stopped'  # plugins shut down: get_extension raises, nothing initializes again


class AppContext:
    """Lifecycle state of one app (one :class:`Variables`). Attributes are read and written by the core modules.

    Attributes:
        state: one of ``created``, ``starting``, ``running``, ``stopping``, ``stopped``.
        ready: readiness as reported by :func:`~scitrera_app_framework.core.health.is_ready` (also requires
            ``state == 'running'``); apps may switch it off and on with ``set_ready``.
        initialized: ``init_framework`` has completed once for this app (a second call returns at once).
        registry: the plugin registry (created by ``core.plugins`` on first use).
        logger: the app logger (``get_logger``).
        params: the resolved app parameters given to ``init_framework``.
        stateful_path: the stateful directory, when one was set up.
        loop / loop_thread / main_task: the captured asyncio loop, the thread running it and the task that
            captured it (cancelled first on SIGTERM in an asyncio app).
        async_auto: automatic async mode (``async_ready``/``async_stopping`` scheduled on the captured loop).
        debug_plugins: the registry writes its DEBUG lines (``SAF_DEBUG_PLUGINS``).
        failures: ``(where, error text)`` of every failure seen during start-up and shutdown.
        intake_stoppers: callables run in the shutdown's *intake* phase (the background executor's among them).
        health_server: the probe endpoint server, when one runs.
        tenant_id: for a tenant's ``Variables`` (multi-tenant plugin), the tenant it belongs to.
    """

    __slots__ = ('state', 'ready', 'initialized', 'registry', 'logger', 'params', 'stateful_path', 'loop',
                 'loop_thread', 'main_task', 'async_auto', 'debug_plugins', 'failures', 'intake_stoppers',
                 'health_server', 'lock', 'app_name', 'shutdown_hooked', 'tenant_id', 'settings_warned', '__weakref__')

    def __init__(self) -> None:
        self.state = CREATED
        self.ready = True
        self.initialized = False
        self.registry: Optional[Registry] = None
        self.logger: Optional[logging.Logger] = None
        self.params: dict[str, Any] = {}
        self.stateful_path: Optional[str] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.loop_thread: Optional[int] = None
        self.main_task: Optional[asyncio.Task[Any]] = None
        self.async_auto = True
        self.debug_plugins = False
        self.failures: list[tuple[str, str]] = []
        self.intake_stoppers: list[Callable[[], Any]] = []
        self.health_server: Any = None
        self.lock = threading.RLock()
        self.app_name: Optional[str] = None
        self.shutdown_hooked = False
        self.tenant_id: Optional[str] = None
        self.settings_warned: set[str] = set()  # typed settings: unknown variables already warned about (under lock)

    @property
    def stopping(self) -> bool:
        """True once shutdown has started (and after it finished)."""
        return self.state in (STOPPING, STOPPED)

    def record_failure(self, where: str, error: str) -> None:
        """Remember a failure (shown by ``health``); keeps the last 100."""
        with self.lock:
            self.failures.append((where, error))
            del self.failures[:-100]

    def __repr__(self) -> str:
        return f'<AppContext {self.app_name or "?"} state={self.state} ready={self.ready}>'


def get_app_context(v: Optional[Variables] = None) -> AppContext:
    """Return the :class:`AppContext` of ``v`` (the default ``Variables`` when None), creating it on first use."""
    v = get_variables(v)
    ctx: Optional[AppContext] = v._app
    if ctx is None:
        ctx = v._app = AppContext()
    return ctx


def peek_app_context(v: Variables) -> Optional[AppContext]:
    """Return the context of ``v`` if it has one, without creating it."""
    ctx: Optional[AppContext] = v._app
    return ctx


__all__ = ['AppContext', 'get_app_context', 'peek_app_context', 'CREATED', 'STARTING', 'RUNNING', 'STOPPING',
           'STOPPED']
