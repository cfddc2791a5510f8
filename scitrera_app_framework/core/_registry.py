"""The plugin registry's engine: registration, lazy/eager initialization with dependencies, shutdown.

The registry lives in the app context of a :class:`Variables` instance (``get_app_context(v).registry``), so
each ``Variables`` (the default one, a test's own, a tenant's) has its own set of extension points. The values
of initialized single extension points are also kept in ``v._ready``: the fast path of :func:`get_extension`.

Concurrency: one ``initialize`` attempt runs at a time per plugin. Other threads asking for the plugin wait for
that attempt and share its outcome (its value, or its error: they do not retry on their own; a later request
does). Before a thread waits, the registry checks its wait-for graph (which thread owns which attempt, which
thread waits for which attempt): a wait that would close a cycle (thread 1 initializes ``a`` whose
``initialize`` asks for ``b`` while thread 2 initializes ``b`` whose ``initialize`` asks for ``a``) raises
:class:`PluginDependencyError` naming the path instead of deadlocking. The registry never holds its lock
while plugin code runs.

Shutdown runs in reverse dependency order: declared dependencies plus the ones observed while plugins
initialized (an ``initialize`` that called ``get_extension`` for another point). After
:func:`shutdown_all_plugins` the registry is closed: nothing is initialized any more
(:class:`PluginShutdownError`).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from typing import Any, Optional, TypeVar, overload

from ..api.plugins import Plugin
from ..api.variables import Variables
from . import defaults as _defaults
from . import instrument
from ._plugin_errors import (
    ExtensionNotFoundError,
    PluginConflictError,
    PluginDependencyError,
    PluginInitError,
    PluginRegistrationError,
    PluginShutdownError,
)
from .async_mode import after_initialize as _async_after_initialize
from .async_mode import before_shutdown as _async_before_shutdown
from .context import AppContext, get_app_context
from .critical import critical
from .defaults import get_variables

T = TypeVar('T')
_MISSING = object()
_CRIT = critical()
_log = logging.getLogger('saf.plugins')
_get_ident = threading.get_ident

REGISTERING, REGISTERED, INITIALIZING, INITIALIZED, FAILED, SHUTTING_DOWN, SHUT_DOWN = (
    'registering', 'registered', 'initializing', 'initialized', 'failed', 'shutting down', 'shut down')


class _Attempt:
    """One run of a plugin's ``initialize``: the thread running it, and its outcome for the threads waiting."""

    __slots__ = ('rec', 'owner', 'done', 'value', 'error', 'waiters')

    def __init__(self, rec: PluginRecord, owner: int) -> None:
        self.rec = rec
        self.owner = owner
        self.done = threading.Event()
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.waiters = 0


class PluginRecord:
    """Registry bookkeeping of one plugin (the plugin object itself stays the user's)."""

    __slots__ = ('plugin', 'name', 'point', 'multi', 'enabled', 'eager', 'deps', 'state', 'value', 'error',
                 'init_ms', 'seq', 'init_index', 'attempt', 'observed', 'pending', 'source', 'reg_owner',
                 'reg_done', 'reg_error', 'ready_done', 'stopping_done', 'ready_task', 'stopping_task')

    def __init__(self, owner: int) -> None:
        self.plugin: Plugin[Any] = None  # type: ignore[assignment]  # set once the plugin is constructed
        self.name = ''
        self.point = ''
        self.multi = False
        self.enabled = False
        self.eager = False
        self.deps: tuple[str, ...] = ()
        self.state = REGISTERING
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.init_ms: Optional[float] = None
        self.seq = 0
        self.init_index = 0
        self.attempt: Optional[_Attempt] = None
        self.observed: set[str] = set()  # points this plugin's initialize asked for (undeclared dependencies)
        self.pending: list[PluginRecord] = []  # eager plugins registered while this one initialized
        self.source: Optional[str] = None
        self.reg_owner = owner
        self.reg_done = threading.Event()
        self.reg_error: Optional[BaseException] = None
        self.ready_done = False
        self.stopping_done = False
        self.ready_task: Any = None
        self.stopping_task: Any = None

    def label(self) -> str:
        return f'plugin {self.name!r} (extension point {self.point!r})'


class _Point:
    __slots__ = ('name', 'records')

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: list[PluginRecord] = []

    def singles(self) -> list[PluginRecord]:
        return [r for r in self.records if r.enabled and not r.multi]

    def multis(self) -> list[PluginRecord]:
        return [r for r in self.records if r.enabled and r.multi]


class Registry:
    """Plugins and extension points of one :class:`Variables` instance (its app context's ``registry``)."""

    def __init__(self, ready: Optional[dict[str, Any]] = None, ctx: Optional[AppContext] = None) -> None:
        self.ready: dict[str, Any] = ready if ready is not None else {}  # point -> value, initialized singles
        self.ctx = ctx if ctx is not None else AppContext()
        self.lock = threading.RLock()
        self.by_name: dict[str, PluginRecord] = {}
        self.by_type: dict[type, PluginRecord] = {}
        self.points: dict[str, _Point] = {}
        self.init_order: list[PluginRecord] = []
        self.ext_cache: dict[str, dict[str, Any]] = {}  # point -> {name: value} once all its plugins initialized
        self.stacks: dict[int, list[PluginRecord]] = {}  # thread -> records it is resolving / initializing
        self.waiting: dict[int, _Attempt] = {}  # thread -> the attempt (of another thread) it waits for
        self.closed = False
        self.ready_tail: Any = None  # last automatic async_ready task (they run one after the other)
        self.tasks: set[Any] = set()  # strong references to fire-and-forget asyncio tasks
        self._seq = 0
        self._init_counter = 0

    def records(self) -> list[PluginRecord]:
        """Registered plugins (not those still registering), in registration order."""
        return sorted((r for r in self.by_name.values() if r.state != REGISTERING), key=lambda r: r.seq)


def get_registry(v: Optional[Variables] = None) -> Registry:
    """Return the plugin registry of ``v`` (the default ``Variables`` when None), creating it if needed."""
    v = get_variables(v)
    ctx = v._app or get_app_context(v)
    reg = ctx.registry
    if reg is None:
        with _CRIT, ctx.lock:
            reg = ctx.registry
            if reg is None:
                reg = ctx.registry = Registry(v._ready, ctx)
    return reg


def _debug(reg: Registry, msg: str, *args: Any) -> None:
    if reg.ctx.debug_plugins:
        _log.debug(msg, *args)


# --- registration ------------------------------------------------------------------------------------------
def _what(cls: type) -> str:
    return f'{cls.__module__}.{cls.__qualname__}'


def _check_plugin_type(plugin_type: Any) -> None:
    if not (isinstance(plugin_type, type) and issubclass(plugin_type, Plugin)):
        raise PluginRegistrationError(
            f'cannot register {plugin_type!r}: expected a subclass of scitrera_app_framework.api.Plugin')


def _instantiate(plugin_type: type[Plugin[Any]]) -> Plugin[Any]:
    try:
        return plugin_type()
    except Exception as e:
        raise PluginRegistrationError(
            f'cannot register {_what(plugin_type)}: its constructor raised {type(e).__name__}: {e}') from e


@overload
def register_plugin(plugin_type: type[Plugin[T]], v: Optional[Variables] = ..., init: bool = ...,
                    source: Optional[str] = ...) -> Plugin[T]: ...
@overload
def register_plugin(plugin_type: Plugin[T], v: Optional[Variables] = ..., init: bool = ...,
                    source: Optional[str] = ...) -> Plugin[T]: ...
def register_plugin(plugin_type: Any, v: Optional[Variables] = None, init: bool = False,
                    source: Optional[str] = None) -> Plugin[Any]:
    """Register a plugin type (or instance) and return the registered instance.

    Registering the same type again is a no-op returning the first instance. With ``init=True`` the plugin is
    initialized now (dependencies first) when it is eager and enabled; a lazy plugin waits for its first
    request. An eager plugin registered (without ``init``) from inside another plugin's ``initialize`` is
    initialized as soon as that ``initialize`` finished.

    Raises:
        PluginRegistrationError (a ValueError): a different type is already registered under the same name,
            or the type is not a Plugin, or a hook raised.
        PluginInitError / PluginDependencyError: from initialization when ``init=True``.
        PluginShutdownError: ``init=True`` after the app's plugins were shut down.
    """
    v = get_variables(v)
    reg = get_registry(v)
    rec, new = _register(reg, plugin_type, v, source)
    if init:
        if rec.state != INITIALIZED and reg.closed:
            raise PluginShutdownError(rec.point)
        if rec.eager and rec.enabled:
            _initialize(reg, rec, v)
    elif new and rec.eager and rec.enabled:
        stack = reg.stacks.get(_get_ident())
        if stack:  # registered from inside an initialize: initialize it once that one finished
            with _CRIT, reg.lock:
                stack[-1].pending.append(rec)
    return rec.plugin


def _register(reg: Registry, plugin_type: Any, v: Variables, source: Optional[str]) -> tuple[PluginRecord, bool]:
    """Return ``(record, newly registered)``."""
    me = _get_ident()
    if isinstance(plugin_type, Plugin):
        return _register_instance(reg, plugin_type, v, source)
    _check_plugin_type(plugin_type)
    with _CRIT, reg.lock:
        rec = reg.by_type.get(plugin_type)
        if rec is None:
            rec = reg.by_type[plugin_type] = PluginRecord(me)
            new = True
        else:
            new = False
    if not new:
        return _await_registered(rec, _what(plugin_type)), False
    try:
        plugin = _instantiate(plugin_type)
        _complete_registration(reg, rec, plugin, v, source)
    except BaseException as e:
        _abort_registration(reg, rec, e)
        raise
    return rec, True


def _register_instance(reg: Registry, plugin: Plugin[Any], v: Variables,
                       source: Optional[str]) -> tuple[PluginRecord, bool]:
    cls = type(plugin)
    with _CRIT, reg.lock:
        rec = reg.by_type.get(cls)
    if rec is not None and rec.plugin is plugin:
        return _await_registered(rec, _what(cls)), False
    try:
        name = str(plugin.name())
    except Exception as e:
        raise PluginRegistrationError(f'cannot register {_what(cls)}: name() raised {type(e).__name__}: {e}') from e
    with _CRIT, reg.lock:
        existing = reg.by_name.get(name)
        if existing is None or type(existing.plugin) is not cls:
            new = PluginRecord(_get_ident())
            reg.by_type.setdefault(cls, new)
    if existing is not None and type(existing.plugin) is cls:  # an instance of the same type and name: no-op
        return _await_registered(existing, _what(cls)), False
    try:
        _complete_registration(reg, new, plugin, v, source)
    except BaseException as e:
        _abort_registration(reg, new, e)
        raise
    return new, True


def _await_registered(rec: PluginRecord, what: str) -> PluginRecord:
    """Return ``rec`` once its registration (maybe running in another thread) completed."""
    if rec.state == REGISTERING and rec.reg_owner != _get_ident():
        rec.reg_done.wait()
    if rec.reg_error is not None:
        e = rec.reg_error
        raise PluginRegistrationError(f'cannot register {what}: its registration failed in another thread: '
                                      f'{type(e).__name__}: {e}') from e
    return rec


def _complete_registration(reg: Registry, rec: PluginRecord, plugin: Plugin[Any], v: Variables,
                           source: Optional[str]) -> None:
    what = _what(type(plugin))
    try:  # plugin code: outside the registry lock
        name = str(plugin.name())
        point = str(plugin.extension_point_name(v))
        multi = bool(plugin.is_multi_extension(v))
        enabled = bool(plugin.is_enabled(v))
        deps_raw = plugin.get_dependencies(v) or ()
    except Exception as e:
        raise PluginRegistrationError(f'cannot register {what}: a registration hook raised '
                                      f'{type(e).__name__}: {e}') from e
    if isinstance(deps_raw, str):
        deps_raw = (deps_raw,)
    deps = tuple(deps_raw)
    bad = [d for d in deps if not isinstance(d, str)]
    if bad:
        raise PluginRegistrationError(f'plugin {name!r}: get_dependencies() must return extension point names '
                                      f'(strings); got {bad!r}')
    with _CRIT, reg.lock:
        existing = reg.by_name.get(name)
        if existing is not None:
            ecls = type(existing.plugin)
            raise PluginRegistrationError(
                f'plugin name {name!r} is already registered by {_what(ecls)}; cannot register {what} under the '
                f'same name: give one of them a distinct name()')
        rec.plugin, rec.name, rec.point, rec.multi, rec.enabled, rec.deps = plugin, name, point, multi, enabled, deps
        rec.eager = bool(getattr(plugin, 'eager', True))
        rec.source = source
        reg._seq += 1
        rec.seq = reg._seq
        reg.by_name[name] = rec
    try:
        plugin.on_registration(v)
    except Exception as e:
        raise PluginRegistrationError(f'{rec.label()}: on_registration raised {type(e).__name__}: {e}; '
                                      f'the plugin was not registered') from e
    with _CRIT, reg.lock:
        pt = reg.points.get(point)
        if pt is None:
            pt = reg.points[point] = _Point(point)
        pt.records.append(rec)
        reg.ext_cache.pop(point, None)
        rec.state = REGISTERED
        plugin.collected = True
        rec.reg_done.set()
    _debug(reg, 'registered %s', rec.label())


def _abort_registration(reg: Registry, rec: PluginRecord, error: BaseException) -> None:
    with _CRIT, reg.lock:
        remove_record(reg, rec)
        rec.reg_error = error
        rec.state = FAILED
        rec.reg_done.set()


def remove_record(reg: Registry, rec: PluginRecord) -> None:
    """Forget ``rec`` (caller holds the lock)."""
    if reg.by_name.get(rec.name) is rec:
        del reg.by_name[rec.name]
    for cls, r in list(reg.by_type.items()):
        if r is rec:
            del reg.by_type[cls]
    pt = reg.points.get(rec.point)
    if pt is not None:
        pt.records = [r for r in pt.records if r is not rec]
        reg.ext_cache.pop(rec.point, None)
        if not pt.records:
            del reg.points[rec.point]


# --- initialization ----------------------------------------------------------------------------------------
def _single_record(reg: Registry, point: str) -> PluginRecord:
    pt = reg.points.get(point)
    if pt is None:
        known = ', '.join(sorted(reg.points)) or 'none'
        raise ExtensionNotFoundError(
            f'unknown extension point {point!r}: no plugin registered for it (registered points: {known}); '
            f'register a plugin that provides it first')
    singles = pt.singles()
    if len(singles) == 1:
        return singles[0]
    if len(singles) > 1:
        names = ' and '.join(repr(r.name) for r in singles)
        raise PluginConflictError(f'extension point {point!r} has {len(singles)} enabled single plugins: {names}; '
                                  f'disable all but one (is_enabled) or make them multi extensions')
    if pt.multis():
        raise ExtensionNotFoundError(f'extension point {point!r} is a multi extension point; '
                                     f'use get_extensions({point!r})')
    names = ', '.join(repr(r.name) for r in pt.records)
    raise ExtensionNotFoundError(f'extension point {point!r} has no enabled plugin (registered but disabled: '
                                 f'{names}); enable one of them')


def _dependency_records(reg: Registry, rec: PluginRecord, dep: str, stack: list[PluginRecord]) -> list[PluginRecord]:
    pt = reg.points.get(dep)
    recs = [] if pt is None else (pt.singles() + pt.multis())
    if not recs:
        chain = ' -> '.join([r.point for r in stack] + [dep])
        why = 'has no registered plugin' if pt is None else 'has no enabled plugin'
        raise PluginDependencyError(f'{rec.label()} depends on extension point {dep!r}, which {why} '
                                    f'(path: {chain}); register and enable a plugin for {dep!r}')
    singles = pt.singles() if pt is not None else []
    if len(singles) > 1:
        _single_record(reg, dep)  # raises the conflict error
    return recs


def _cycle_error(points: list[str], how: str = '') -> PluginDependencyError:
    return PluginDependencyError(f'plugin dependency cycle: {" -> ".join(points)}{how}; break it by removing one of '
                                 f'these dependencies (declared in get_dependencies() or requested with '
                                 f'get_extension() inside initialize())')


def _wait_cycle(reg: Registry, me: int, att: _Attempt) -> Optional[list[str]]:
    """The cycle (as a path of points) that waiting for ``att`` would close, or None (caller holds the lock).

    Follows the wait-for graph: the owner of ``att``, the attempt that owner waits for, its owner, ...;
    reaching the calling thread means a deadlock.
    """
    path: list[PluginRecord] = []
    seen = {me}
    cur = att
    while True:
        owner = cur.owner
        ostack = reg.stacks.get(owner) or []
        seg = ostack[_index(ostack, cur.rec):] if _index(ostack, cur.rec) >= 0 else [cur.rec]
        nxt = reg.waiting.get(owner)
        if nxt is None:
            return None
        if seg and seg[-1] is nxt.rec:
            seg = seg[:-1]
        path += seg
        if nxt.owner == me:
            mine = reg.stacks.get(me) or []
            i = _index(mine, nxt.rec)
            head = mine[i:-1] if i >= 0 else [nxt.rec]
            return [r.point for r in head + path + [nxt.rec]]
        if nxt.owner in seen:  # a cycle among other threads (they report it themselves)
            return None
        seen.add(owner)
        cur = nxt


def _index(stack: list[PluginRecord], rec: PluginRecord) -> int:
    for i, r in enumerate(stack):
        if r is rec:
            return i
    return -1


def _waiter_error(att: _Attempt) -> BaseException:
    """The error a thread that waited for the failed attempt ``att`` raises (chained to the same cause)."""
    e = att.error
    rec = att.rec
    if isinstance(e, PluginDependencyError):
        return PluginDependencyError(str(e))
    if isinstance(e, PluginShutdownError):
        return PluginShutdownError(rec.point)
    return PluginInitError(f'{rec.label()} failed to initialize: {type(e).__name__}: {e} '
                           f'(the attempt ran in another thread)', rec.name, rec.point)


def _initialize(reg: Registry, rec: PluginRecord, v: Variables, async_enabled: Optional[bool] = None) -> Any:
    """Return ``rec``'s value, initializing it (dependencies first) or waiting for the attempt in progress."""
    if rec.state == INITIALIZED:
        return rec.value
    me = _get_ident()
    with _CRIT, reg.lock:
        if rec.state == INITIALIZED:
            return rec.value
        stack = reg.stacks.get(me)
        if stack is not None:
            i = _index(stack, rec)
            if i >= 0:  # asked for again by the thread initializing it: a cycle (declared or via get_extension)
                raise _cycle_error([r.point for r in stack[i:]] + [rec.point])
        if reg.closed:
            raise PluginShutdownError(rec.point)
        if stack is None:
            stack = reg.stacks[me] = []
        stack.append(rec)
    att: Optional[_Attempt] = None
    try:
        for dep in rec.deps:
            for drec in _dependency_records(reg, rec, dep, stack):
                _initialize(reg, drec, v, async_enabled)
        with _CRIT, reg.lock:
            if rec.state == INITIALIZED:
                return rec.value
            if reg.closed:
                raise PluginShutdownError(rec.point)
            att = rec.attempt
            if att is None:
                att = rec.attempt = _Attempt(rec, me)
                rec.state = INITIALIZING
                mine = True
            else:
                path = _wait_cycle(reg, me, att)
                if path is not None:
                    raise _cycle_error(path, ' (two threads would wait for each other)')
                reg.waiting[me] = att
                att.waiters += 1
                mine = False
        if not mine:
            try:
                att.done.wait()
            finally:
                with _CRIT, reg.lock:
                    reg.waiting.pop(me, None)
                    att.waiters -= 1
            if att.error is not None:
                raise _waiter_error(att) from att.error
            return att.value
        value = _run_initialize(reg, rec, att, v)
    finally:
        with _CRIT, reg.lock:
            stack.pop()
            if not stack:
                reg.stacks.pop(me, None)
    if reg.ctx.loop is not None:
        _async_after_initialize(reg, rec, v, async_enabled)
    _initialize_pending(reg, rec, v, async_enabled)
    return value


def _run_initialize(reg: Registry, rec: PluginRecord, att: _Attempt, v: Variables) -> Any:
    """Run ``rec``'s ``initialize`` (this thread owns ``att``) and publish the outcome."""
    _debug(reg, 'initializing %s', rec.label())
    t0 = time.perf_counter()
    try:
        observe = instrument.PLUGIN_INIT  # e.g. a span around initialize (core.instrument); None: off
        if observe is None:
            value = rec.plugin.initialize(v, rec.plugin.get_logger(v))
        else:
            with observe(rec.name, rec.point):
                value = rec.plugin.initialize(v, rec.plugin.get_logger(v))
    except BaseException as e:
        _finish(reg, rec, att, (time.perf_counter() - t0) * 1000.0, error=e)
        if isinstance(e, (PluginDependencyError, PluginShutdownError)) or not isinstance(e, Exception):
            raise
        raise PluginInitError(f'{rec.label()} failed to initialize: {type(e).__name__}: {e}',
                              rec.name, rec.point) from e
    ms = (time.perf_counter() - t0) * 1000.0
    if _finish(reg, rec, att, ms, value=value):
        _late_shutdown(reg, rec, v, value)
        raise PluginShutdownError(rec.point)
    _debug(reg, 'initialized %s in %.1f ms', rec.label(), ms)
    return value


def _finish(reg: Registry, rec: PluginRecord, att: _Attempt, ms: float, value: Any = None,
            error: Optional[BaseException] = None) -> bool:
    """Publish an attempt's outcome and wake its waiters; True when it succeeded after the registry closed."""
    late = False
    with _CRIT, reg.lock:
        rec.attempt = None
        rec.init_ms = ms
        if error is not None:
            rec.state = FAILED
            rec.error = att.error = error
        elif reg.closed:  # shutdown ran meanwhile: this plugin is shut down at once
            rec.state = SHUT_DOWN
            att.error = PluginShutdownError(rec.point)
            late = True
        else:
            reg._init_counter += 1
            rec.init_index = reg._init_counter
            rec.value = att.value = value
            rec.error = None
            rec.ready_done = rec.stopping_done = False
            rec.ready_task = rec.stopping_task = None
            rec.state = INITIALIZED
            reg.init_order.append(rec)
            if not rec.multi:
                reg.ready[rec.point] = value
            reg.ext_cache.pop(rec.point, None)
            rec.plugin.initialized = True
        att.done.set()
    return late


def _late_shutdown(reg: Registry, rec: PluginRecord, v: Variables, value: Any) -> None:
    _log.warning('%s finished initializing after the app shut down; shutting it down now', rec.label())
    error = _call_shutdown(reg, rec, v, value)
    if error is not None:
        reg.ctx.record_failure(f'plugin shutdown {rec.name}', error)


def _initialize_pending(reg: Registry, rec: PluginRecord, v: Variables, async_enabled: Optional[bool]) -> None:
    """Initialize the eager plugins registered while ``rec`` initialized."""
    if not rec.pending:
        return
    with _CRIT, reg.lock:
        pending, rec.pending = rec.pending, []
    for p in pending:
        if p.enabled and p.eager and p.state != INITIALIZED and not reg.closed:
            _initialize(reg, p, v, async_enabled)


def _resolve_v_and_name(name_or_type: Any, v: Optional[Variables]) -> tuple[Variables, Registry, str]:
    v = get_variables(v)
    reg = get_registry(v)
    if isinstance(name_or_type, str):
        return v, reg, name_or_type
    if isinstance(name_or_type, Plugin) or (isinstance(name_or_type, type) and issubclass(name_or_type, Plugin)):
        rec, _ = _register(reg, name_or_type, v, None)
        return v, reg, rec.point
    raise TypeError(f'expected an extension point name or a Plugin type, got {name_or_type!r}')


def _note_edge(reg: Registry, point: str) -> None:
    """Remember that the plugin initializing in this thread got ``point`` (an observed dependency). Only the
    slow path records: a point already initialized when asked for precedes the asking plugin in the
    initialization order anyway."""
    stack = reg.stacks.get(_get_ident())
    if stack:
        top = stack[-1]
        if top.point != point:
            top.observed.add(point)


@overload
def get_extension(name_or_type: type[Plugin[T]], v: Optional[Variables] = ...) -> T: ...
@overload
def get_extension(name_or_type: str, v: Optional[Variables] = ...) -> Any: ...
def get_extension(name_or_type: Any, v: Optional[Variables] = None) -> Any:
    """Return the value of a single extension point, initializing it (dependencies first) on demand.

    A Plugin type argument is registered first (if it is not already) and its extension point is used.

    Raises:
        ExtensionNotFoundError (a ValueError): unknown point, or no enabled plugin for it.
        PluginConflictError: two enabled single plugins on the point.
        PluginDependencyError: missing dependency or cycle (also one between threads).
        PluginInitError: the plugin's ``initialize`` raised (the next call retries).
        PluginShutdownError: the app's plugins were shut down.
    """
    val = (v or _defaults.current or get_variables())._ready.get(name_or_type, _MISSING)
    if val is not _MISSING:
        return val
    v, reg, point = _resolve_v_and_name(name_or_type, v)
    val = reg.ready.get(point, _MISSING)
    if val is not _MISSING:
        return val
    if reg.closed:
        raise PluginShutdownError(point)
    value = _initialize(reg, _single_record(reg, point), v)
    _note_edge(reg, point)
    return value


def get_extensions(name_or_type: Any, v: Optional[Variables] = None) -> dict[str, Any]:
    """Return ``{plugin name: value}`` for every enabled plugin of a multi extension point, in registration order.

    Plugins are initialized on demand. For a single extension point the dict has its one plugin. The dict
    is the caller's (a new one each call).

    Raises:
        ExtensionNotFoundError: unknown extension point. Also as :func:`get_extension`.
    """
    if name_or_type.__class__ is str:
        app = (v or _defaults.current or get_variables())._app
        if app is not None and app.registry is not None:
            cached = app.registry.ext_cache.get(name_or_type)
            if cached is not None:
                return dict(cached)
    v, reg, point = _resolve_v_and_name(name_or_type, v)
    if reg.closed:
        raise PluginShutdownError(point)
    pt = reg.points.get(point)
    if pt is None:
        _single_record(reg, point)  # raises the unknown point error
        raise AssertionError('unreachable')
    recs = pt.multis() or [_single_record(reg, point)]
    out = {r.name: _initialize(reg, r, v) for r in recs}
    _note_edge(reg, point)
    with _CRIT, reg.lock:
        pt = reg.points.get(point)
        now = [] if pt is None else (pt.multis() or pt.singles())
        if (not reg.closed and now and [r.name for r in now] == list(out)
                and all(r.state == INITIALIZED for r in now)):
            reg.ext_cache[point] = {r.name: r.value for r in now}
    return out


def init_all_plugins(v: Optional[Variables] = None, async_enabled: Optional[bool] = None,
                     include_lazy: bool = False) -> None:
    """Initialize every enabled eager plugin (and, with ``include_lazy``, every enabled plugin), deps first.

    Plugins registered meanwhile (by an ``initialize``) are initialized too: it loops until no uninitialized
    eager plugin remains. ``async_enabled`` overrides the automatic async mode for this call (None: the
    app's setting, see ``set_async_auto_enabled``).

    Raises:
        PluginConflictError: two enabled single plugins on one extension point (names both).
        PluginDependencyError / PluginInitError: as :func:`get_extension`.
        PluginShutdownError: the app's plugins were shut down.
    """
    v = get_variables(v)
    reg = get_registry(v)
    me = _get_ident()
    tried: set[int] = set()
    while True:
        with _CRIT, reg.lock:
            recs = reg.records()
            points = list(reg.points.values())
        if reg.closed:
            eager = [r.point for r in recs if r.enabled and (r.eager or include_lazy)]
            raise PluginShutdownError(', '.join(dict.fromkeys(eager)) or 'any',
                                      f'cannot initialize plugins ({", ".join(dict.fromkeys(eager)) or "none"}): '
                                      f'the app has shut down (shutdown_all_plugins ran) and nothing is '
                                      f'initialized after shutdown')
        for pt in points:
            if len(pt.singles()) > 1:
                _single_record(reg, pt.name)
        todo = [r for r in recs if r.enabled and (r.eager or include_lazy) and r.state != INITIALIZED
                and id(r) not in tried and not (r.attempt is not None and r.attempt.owner == me)]
        if not todo:
            return
        for rec in todo:
            tried.add(id(rec))
            if rec.state != INITIALIZED:
                _initialize(reg, rec, v, async_enabled)


# --- shutdown ----------------------------------------------------------------------------------------------
def shutdown_order(recs: list[PluginRecord]) -> list[PluginRecord]:
    """``recs`` ordered for shutdown: every plugin before the plugins it depends on (declared or observed);
    ties (and any cycle) broken by reverse initialization order."""
    by_point: dict[str, list[PluginRecord]] = {}
    for r in recs:
        by_point.setdefault(r.point, []).append(r)
    uses: dict[int, list[PluginRecord]] = {}
    users = {id(r): 0 for r in recs}
    for r in recs:
        targets: list[PluginRecord] = []
        for point in (*r.deps, *sorted(r.observed)):
            for d in by_point.get(point, ()):
                if d is not r and all(d is not t for t in targets):
                    targets.append(d)
        uses[id(r)] = targets
        for d in targets:
            users[id(d)] += 1
    heap = [(-r.init_index, r.seq, r) for r in recs if users[id(r)] == 0]
    heapq.heapify(heap)
    out: list[PluginRecord] = []
    done: set[int] = set()
    while heap:
        _, _, r = heapq.heappop(heap)
        out.append(r)
        done.add(id(r))
        for d in uses[id(r)]:
            users[id(d)] -= 1
            if users[id(d)] == 0:
                heapq.heappush(heap, (-d.init_index, d.seq, d))
    if len(out) < len(recs):  # a cycle through observed dependencies: the rest in reverse init order
        out += sorted((r for r in recs if id(r) not in done), key=lambda r: -r.init_index)
    return out


def _call_shutdown(reg: Registry, rec: PluginRecord, v: Variables, value: Any) -> Optional[str]:
    """Run ``rec``'s ``shutdown``; return None, or the failure's description (already logged)."""
    try:
        rec.plugin.shutdown(v, rec.plugin.get_logger(v), value)
    except BaseException as e:  # noqa: B036 - one plugin's failure (even SystemExit) must not stop the others
        _log.error('%s failed to shut down: %s: %s', rec.label(), type(e).__name__, e,
                   exc_info=(type(e), e, e.__traceback__))
        return f'{rec.label()} failed to shut down: {type(e).__name__}: {e}'
    return None


def shutdown_all_plugins(v: Optional[Variables] = None, async_enabled: Optional[bool] = None) -> list[str]:
    """Shut every initialized plugin down: each before the plugins it depends on, ties in reverse init order.

    Dependencies are the declared ones plus those observed while the plugins initialized (an ``initialize``
    that called ``get_extension`` for another point). In automatic async mode (``async_enabled``, else the
    app's setting) and with a captured, running event loop, the plugins' ``async_stopping`` hooks run first.
    A failing ``shutdown`` (any exception, even SystemExit) is logged with the plugin's name and recorded in
    the app context's failures; the others still shut down. Afterwards the registry is closed: asking for an
    extension raises :class:`PluginShutdownError`. Calling it again does nothing.

    Returns:
        One description per failed shutdown (empty when all went well).
    """
    v = get_variables(v)
    reg = get_registry(v)
    with _CRIT, reg.lock:
        reg.closed = True
        order = shutdown_order([r for r in reg.init_order if r.state == INITIALIZED])
    if order and reg.ctx.loop is not None:
        _async_before_shutdown(reg, order, v, async_enabled)
    failures: list[str] = []
    for rec in order:
        with _CRIT, reg.lock:
            if rec.state != INITIALIZED:  # another thread's shutdown_all_plugins took it
                continue
            rec.state = SHUTTING_DOWN
            value = rec.value
            if not rec.multi and reg.ready.get(rec.point, _MISSING) is value:
                del reg.ready[rec.point]
            reg.ext_cache.pop(rec.point, None)
        error = _call_shutdown(reg, rec, v, value)
        with _CRIT, reg.lock:
            rec.state = SHUT_DOWN
            rec.value = None
            rec.plugin.initialized = False
            if rec in reg.init_order:
                reg.init_order.remove(rec)
        if error is not None:
            failures.append(error)
            reg.ctx.record_failure(f'plugin shutdown {rec.name}', error)
        else:
            _debug(reg, 'shut down %s', rec.label())
    return failures
