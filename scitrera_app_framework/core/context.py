"""The app context: every piece of per-app state, in one object that its :class:`Variables` refers to.

One ``AppContext`` hangs off each :class:`Variables` instance (created once, on first use, by
:func:`get_app_context`): the plugin registry and its cache of initialized extension points, the app logger, the
app parameters, the stateful path, the captured asyncio loop, readiness, the lifecycle state, the shutdown flags
and the failures seen. Other modules read and write these attributes; nothing else keeps per-app state.
``testing.reset_framework()`` forgets the default ``Variables`` and with it its context.

The link from a ``Variables`` to its context is one attribute with a protocol name, :data:`CONTEXT_ATTR`
(``__saf_context__``, the way pydantic keeps ``__pydantic_private__``): a dunder name, so it never collides with
configuration read as an attribute (``v.port``). It is read and written here only (:func:`get_app_context`,
:func:`peek_app_context`); the one other reader is the fast path of ``get_extension`` and ``get_extensions``
in ``core._registry``, which reads it inline (a function call there would cost more than the lookup itself).
"""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

from ..api.variables import Variables
from .defaults import get_variables

if TYPE_CHECKING:  # pragma: no cover
    import asyncio
    import logging

    from ._registry import Registry

#: the attribute of a :class:`Variables` holding its :class:`AppContext` (None until first use)
CONTEXT_ATTR = '__saf_context__'


class AppState(str, enum.Enum):
    """The lifecycle state of an app (``AppContext.state``); a ``str``: ``AppState.RUNNING == 'running'``, and
    health output and ``saf`` show the plain value."""

    CREATED = 'created'  # Variables exist, init_framework not called (or not finished)
    STARTING = 'starting'  # init_framework is running
    RUNNING = 'running'  # init_framework finished (eager plugins initialized): ready unless marked otherwise
    STOPPING = 'stopping'  # shutdown started: readiness is false, intake stops, plugins shut down
    STOPPED = 'stopped'  # plugins shut down: get_extension raises, nothing initializes again

    def __str__(self) -> str:
        return self.value


class AppFailure(NamedTuple):
    """A failure seen during start-up or shutdown (``AppContext.failures``, shown by ``health``)."""

    where: str  # what failed: 'plugin shutdown db', 'shutdown hook app.flush', ...
    error: str  # 'TypeName: message'


# the states by their former module-level names
CREATED = AppState.CREATED
STARTING = AppState.STARTING
RUNNING = AppState.RUNNING
STOPPING = AppState.STOPPING
STOPPED = AppState.STOPPED


class AppContext:
    """Lifecycle state of one app (one :class:`Variables`). Attributes are read and written by the core modules.

    Attributes:
        state: an :class:`AppState`: ``created``, ``starting``, ``running``, ``stopping``, ``stopped``.
        ready: readiness as reported by :func:`~scitrera_app_framework.core.health.is_ready` (also requires
            ``state == 'running'``); apps may switch it off and on with ``set_ready``.
        initialized: ``init_framework`` has completed once for this app (a second call returns at once).
        registry: the plugin registry (created by ``core.plugins`` on first use).
        ready_points: ``{extension point: value}`` of the initialized single extension points, kept by the
            registry: the fast path of ``get_extension`` (one dict lookup). An entry is there only while it is the
            answer (the registry removes it when the plugin shuts down, or while a conflict is still to be warned).
        logger: the app logger (``get_logger``).
        params: the resolved app parameters given to ``init_framework``.
        stateful_path: the stateful directory, when one was set up.
        loop / loop_thread / main_task: the captured asyncio loop, the thread running it and the task that
            captured it (cancelled first on SIGTERM in an asyncio app).
        async_auto: automatic async mode (``async_ready``/``async_stopping`` scheduled on the captured loop).
        debug_plugins: the registry writes its DEBUG lines (``SAF_DEBUG_PLUGINS``).
        failures: an :class:`AppFailure` (``where``, ``error``) for every failure seen during start-up and
            shutdown (the last 100).
        intake_stoppers: callables run in the shutdown's *intake* phase (the background executor's among them).
        health_server: the probe endpoint server, when one runs.
        tenant_id: for a tenant's ``Variables`` (multi-tenant plugin), the tenant it belongs to.
    """

    __slots__ = ('state', 'ready', 'initialized', 'registry', 'ready_points', 'logger', 'params', 'stateful_path',
                 'loop', 'loop_thread', 'main_task', 'async_auto', 'debug_plugins', 'failures', 'intake_stoppers',
                 'health_server', 'lock', 'app_name', 'shutdown_hooked', 'tenant_id', 'settings_warned', '__weakref__')

    def __init__(self) -> None:
        self.state: AppState = AppState.CREATED
        self.ready = True
        self.initialized = False
        self.registry: Optional[Registry] = None
        self.ready_points: dict[str, Any] = {}
        self.logger: Optional[logging.Logger] = None
        self.params: dict[str, Any] = {}
        self.stateful_path: Optional[str] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.loop_thread: Optional[int] = None
        self.main_task: Optional[asyncio.Task[Any]] = None
        self.async_auto = True
        self.debug_plugins = False
        self.failures: list[AppFailure] = []
        self.intake_stoppers: list[Callable[[], Any]] = []
        self.health_server: Any = None
        self.lock = threading.RLock()
        self.app_name: Optional[str] = None
        self.shutdown_hooked = False
        self.tenant_id: Optional[str] = None
        # typed settings: unknown variables already warned about (under lock); made on the first warning, so a
        # context costs no empty set (one per tenant Variables)
        self.settings_warned: Optional[set[str]] = None

    @property
    def stopping(self) -> bool:
        """True once shutdown has started (and after it finished)."""
        return self.state in (AppState.STOPPING, AppState.STOPPED)

    def record_failure(self, where: str, error: str) -> None:
        """Remember a failure (shown by ``health``); keeps the last 100."""
        with self.lock:
            self.failures.append(AppFailure(where, error))
            del self.failures[:-100]

    def __repr__(self) -> str:
        return f'<AppContext {self.app_name or "?"} state={self.state} ready={self.ready}>'


# serializes the creation of contexts (not their use): two threads touching a new Variables at once get the same
# one. Re-entrant: a signal handler that runs while its thread creates a context must not deadlock.
_CREATE_LOCK = threading.RLock()


def get_app_context(v: Optional[Variables] = None) -> AppContext:
    """Return the :class:`AppContext` of ``v`` (the default ``Variables`` when None), creating it on first use
    (once: threads racing for a new ``Variables`` all get the same context)."""
    v = get_variables(v)
    ctx: Optional[AppContext] = v.__saf_context__
    if ctx is None:
        with _CREATE_LOCK:
            ctx = v.__saf_context__
            if ctx is None:
                ctx = v.__saf_context__ = AppContext()
    return ctx


def peek_app_context(v: Variables) -> Optional[AppContext]:
    """Return the context of ``v`` if it has one, without creating it (safe in a signal handler)."""
    ctx: Optional[AppContext] = v.__saf_context__
    return ctx


__all__ = ['AppContext', 'AppState', 'AppFailure', 'get_app_context', 'peek_app_context', 'CONTEXT_ATTR', 'CREATED',
           'STARTING', 'RUNNING', 'STOPPING', 'STOPPED']
