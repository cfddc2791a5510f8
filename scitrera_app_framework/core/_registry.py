"""The plugin registry: one :class:`Registry` object per app, owned by the app context.

``get_app_context(v).registry`` holds the registry of a :class:`Variables` instance, so each ``Variables`` (the
default one, a test's own, a tenant's) has its own set of extension points. The module-level functions
(:func:`register_plugin`, :func:`get_extension`, ...) are thin wrappers over its methods.

Two answers from one plugin (the original's semantics): ``is_enabled(v)`` says "I am THE implementation of my
extension point" (single mode) and ``is_multi_extension(v)`` says "I contribute to my point's collection"
(multi mode). They are independent; a plugin is skipped only when both are False. ``is_multi_extension`` is
asked once, at registration. ``is_enabled`` is asked with the configuration of the moment every time a single
implementation is looked for (``get_extension`` of a point not initialized yet, dependency resolution, each
``init_all_plugins`` step); once a point is initialized its value is fixed, and kept in the app context's
``ready_points``: the fast path of :func:`get_extension`. Several enabled candidates: the first registered wins
(a warning names them).

Concurrency: one ``initialize`` attempt runs at a time per plugin. Other threads asking for the plugin wait for
that attempt and share its outcome (its value, or its error: they do not retry on their own; a later request
does). Before a thread waits, the registry checks its wait-for graph (which thread owns which attempt, which
thread waits for which attempt): a wait that would close a cycle raises :class:`PluginDependencyError` naming
the path instead of deadlocking. The registry never holds its lock while plugin code runs.

Shutdown runs in reverse dependency order: declared dependencies plus the ones observed while plugins
initialized (an ``initialize`` that called ``get_extension`` for another point). After
:func:`shutdown_all_plugins` the registry is closed: nothing is initialized any more
(:class:`PluginShutdownError`).
"""

from __future__ import annotations

import enum
import heapq
import logging
import threading
import time
from typing import Any, Optional, TypeVar, overload

from ..api.plugins import Plugin
from ..api.variables import Variables
from ..exceptions import ConfigurationError
from . import defaults as _defaults
from . import instrument
from ._plugin_errors import (
    ExtensionNotFoundError,
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

#: the environment variable choosing what a failing contributor of a multi extension point does
FAILURES_VAR = 'SAF_PLUGIN_FAILURES'
_POLICIES = ('raise', 'skip')


class PluginState(str, enum.Enum):
    """The state of a plugin in its registry (a ``str``: ``PluginState.INITIALIZED == 'initialized'``)."""

    REGISTERING = 'registering'
    REGISTERED = 'registered'
    INITIALIZING = 'initializing'
    INITIALIZED = 'initialized'
    FAILED = 'failed'
    SHUTTING_DOWN = 'shutting down'
    SHUT_DOWN = 'shut down'

    def __str__(self) -> str:
        return self.value


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
    """Registry bookkeeping of one plugin (the plugin object itself stays the user's).

    ``multi`` is the answer of ``is_multi_extension`` at registration; ``enabled`` the last answer of
    ``is_enabled`` (it is asked again at each lookup of a single implementation); ``skipped`` is True while the
    plugin is a contributor whose failure was skipped (failure policy ``skip``).
    """

    __slots__ = ('plugin', 'name', 'point', 'multi', 'enabled', 'eager', 'deps', 'state', 'value', 'error',
                 'init_ms', 'seq', 'init_index', 'attempt', 'observed', 'pending', 'source', 'reg_owner',
                 'reg_done', 'reg_error', '_ready_done', '_stopping_done', 'ready_task', 'stopping_task', 'skipped')

    def __init__(self, owner: int) -> None:
        self.plugin: Plugin[Any] = None  # type: ignore[assignment]  # set once the plugin is constructed
        self.name = ''
        self.point = ''
        self.multi = False
        self.enabled = False
        self.eager = False
        self.deps: tuple[str, ...] = ()
        self.state = PluginState.REGISTERING
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
        self._ready_done = False
        self._stopping_done = False
        self.ready_task: Any = None
        self.stopping_task: Any = None
        self.skipped = False

    def label(self) -> str:
        return f'plugin {self.name!r} (extension point {self.point!r})'

    # the async hooks' once-per-initialization flags, mirrored on the plugin under the original's attribute names
    @property
    def ready_done(self) -> bool:
        return self._ready_done

    @ready_done.setter
    def ready_done(self, done: bool) -> None:
        self._ready_done = done
        if self.plugin is not None:
            self.plugin._async_ready_called = done

    @property
    def stopping_done(self) -> bool:
        return self._stopping_done

    @stopping_done.setter
    def stopping_done(self, done: bool) -> None:
        self._stopping_done = done
        if self.plugin is not None:
            self.plugin._async_stopping_called = done


class _Point:
    """One extension point: its plugins in registration order and its single implementation, once chosen."""

    __slots__ = ('name', 'records', 'single', 'warned', 'ambiguous')

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: list[PluginRecord] = []
        self.single: Optional[PluginRecord] = None  # chosen single implementation (initializing or initialized)
        self.warned = False  # the several-candidates warning was logged
        # several enabled candidates seen by init_all_plugins (which binds the first quietly): the warning waits for
        # the first request of THE implementation (get_extension / a dependency); the seed's multi example, whose
        # contributors answer is_enabled True by default, never asks and never warns
        self.ambiguous: Optional[list[PluginRecord]] = None

    def multis(self) -> list[PluginRecord]:
        return [r for r in self.records if r.multi]

    def bound(self) -> Optional[PluginRecord]:
        s = self.single
        return s if s is not None and s.state in (PluginState.INITIALIZED, PluginState.INITIALIZING) else None


class _Guard:
    """The registry's one lock helper: a critical section (see :mod:`.critical`) plus the registry lock."""

    __slots__ = ('_lock',)

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        _CRIT.__enter__()
        self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()
        _CRIT.__exit__()


def _is_initialized(rec: PluginRecord) -> bool:
    return rec.state is PluginState.INITIALIZED


def _what(cls: type) -> str:
    return f'{cls.__module__}.{cls.__qualname__}'


def _policy(v: Variables, failures: Optional[str]) -> str:
    """The failure policy of a call: ``failures`` when given, else ``SAF_PLUGIN_FAILURES``, else ``raise``."""
    if failures is None:
        raw = v.get(FAILURES_VAR)
        if raw is None or raw == '':
            return 'raise'
        s = str(raw).strip().lower()
        if s not in _POLICIES:
            raise ConfigurationError(f'{FAILURES_VAR}={raw!r} is not a plugin failure policy: use raise (a failing '
                                     f'plugin stops the app) or skip (a failing contributor of a multi extension '
                                     f'point is skipped)')
        return s
    s = str(failures).strip().lower()
    if s not in _POLICIES:
        raise ConfigurationError(f'failures={failures!r} is not a plugin failure policy: use failures=\'raise\' or '
                                 f'failures=\'skip\'')
    return s


def _cycle_error(points: list[str], how: str = '') -> PluginDependencyError:
    return PluginDependencyError(f'plugin dependency cycle: {" -> ".join(points)}{how}; break it by removing one of '
                                 f'these dependencies (declared in get_dependencies() or requested with '
                                 f'get_extension() inside initialize())')


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


def _deps_of(rec: PluginRecord, v: Variables) -> tuple[str, ...]:
    """Ask ``rec``'s plugin for its dependencies (plugin code: call without the lock)."""
    try:
        raw = rec.plugin.get_dependencies(v) or ()
    except Exception as e:
        raise PluginDependencyError(f'{rec.label()}: get_dependencies() raised {type(e).__name__}: {e}') from e
    if isinstance(raw, str):
        raw = (raw,)
    deps = tuple(raw)
    bad = [d for d in deps if not isinstance(d, str)]
    if bad:
        raise PluginDependencyError(f'{rec.label()}: get_dependencies() must return extension point names '
                                    f'(strings); got {bad!r}')
    return deps


class Registry:
    """Plugins and extension points of one :class:`Variables` instance (its app context's ``registry``).

    Use the module functions (``register_plugin``, ``get_extension``, ...) or these methods; the fields are
    private. :meth:`locked` is the one way to hold the registry's lock.
    """

    def __init__(self, ctx: Optional[AppContext] = None) -> None:
        self._ctx = ctx if ctx is not None else AppContext()
        self._ready = self._ctx.ready_points  # point -> value, initialized singles (the context's: the fast path)
        self._lock = threading.RLock()
        self._guard = _Guard(self._lock)
        self._by_name: dict[str, PluginRecord] = {}
        self._by_type: dict[type, PluginRecord] = {}
        self._points: dict[str, _Point] = {}
        self._init_order: list[PluginRecord] = []
        self._ext_cache: dict[str, dict[str, Any]] = {}  # point -> {name: value} once all contributors initialized
        self._stacks: dict[int, list[PluginRecord]] = {}  # thread -> records it is resolving / initializing
        self._waiting: dict[int, _Attempt] = {}  # thread -> the attempt (of another thread) it waits for
        self._closed = False
        self._ready_tail: Any = None  # last automatic async_ready task (they run one after the other)
        self._tasks: set[Any] = set()  # strong references to fire-and-forget asyncio tasks
        self._seq = 0
        self._init_counter = 0

    # --- introspection --------------------------------------------------------------------------------------
    def locked(self) -> _Guard:
        """The registry lock as a context manager (inside a critical section): ``with reg.locked(): ...``."""
        return self._guard

    @property
    def ctx(self) -> AppContext:
        """The app context owning this registry."""
        return self._ctx

    @property
    def ready(self) -> dict[str, Any]:
        """``{point: value}`` of the initialized single extension points (the context's ``ready_points``, the
        fast path)."""
        return self._ready

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown_all` ran: nothing initializes any more."""
        return self._closed

    @property
    def ready_tail(self) -> Any:
        """The last automatic ``async_ready`` task (async mode runs them one after the other)."""
        return self._ready_tail

    @ready_tail.setter
    def ready_tail(self, task: Any) -> None:
        self._ready_tail = task

    def keep_task(self, task: Any) -> None:
        """Hold a strong reference to a fire-and-forget asyncio task until it is done."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def records(self) -> list[PluginRecord]:
        """Registered plugins (not those still registering), in registration order."""
        with self._guard:
            return sorted((r for r in self._by_name.values() if r.state is not PluginState.REGISTERING),
                          key=lambda r: r.seq)

    def record(self, name: str) -> Optional[PluginRecord]:
        """The record of the plugin named ``name``, or None."""
        return self._by_name.get(name)

    def has_point(self, point: str) -> bool:
        """True when some plugin was registered for ``point``."""
        return point in self._points

    def initialized_records(self) -> list[PluginRecord]:
        """The initialized plugins in initialization order."""
        with self._guard:
            return [r for r in self._init_order if r.state is PluginState.INITIALIZED]

    def is_waiting(self, thread_ident: Optional[int]) -> bool:
        """True when the thread waits for another thread's initialization attempt."""
        return thread_ident is not None and thread_ident in self._waiting

    def bookkeeping(self) -> dict[str, int]:
        """Sizes of the registry's transient bookkeeping (for tests and diagnostics): threads resolving,
        threads waiting, initialized single points, cached multi points."""
        with self._guard:
            return {'resolving': len(self._stacks), 'waiting': len(self._waiting), 'ready': len(self._ready),
                    'cached': len(self._ext_cache)}

    def _debug(self, msg: str, *args: Any) -> None:
        if self._ctx.debug_plugins:
            _log.debug(msg, *args)

    # --- registration ---------------------------------------------------------------------------------------
    def register(self, plugin_type: Any, v: Variables, init: bool = False, source: Optional[str] = None
                 ) -> Plugin[Any]:
        """See :func:`register_plugin`."""
        rec, new = self._register(plugin_type, v, source)
        if init:
            if rec.state is not PluginState.INITIALIZED and self._closed:
                raise PluginShutdownError(rec.point)
            self._init_step(rec, v, None, False, 'raise')
        elif new and rec.eager:
            stack = self._stacks.get(_get_ident())
            if stack:  # registered from inside an initialize: initialize it once that one finished
                with self._guard:
                    stack[-1].pending.append(rec)
        return rec.plugin

    def _register(self, plugin_type: Any, v: Variables, source: Optional[str]) -> tuple[PluginRecord, bool]:
        """Return ``(record, newly registered)``."""
        if isinstance(plugin_type, Plugin):
            return self._register_instance(plugin_type, v, source)
        if not (isinstance(plugin_type, type) and issubclass(plugin_type, Plugin)):
            raise PluginRegistrationError(
                f'cannot register {plugin_type!r}: expected a subclass of scitrera_app_framework.api.Plugin')
        with self._guard:
            rec = self._by_type.get(plugin_type)
            new = rec is None
            if rec is None:
                rec = self._by_type[plugin_type] = PluginRecord(_get_ident())
        if not new:
            return self._await_registered(rec, _what(plugin_type)), False
        try:
            try:
                plugin = plugin_type()
            except Exception as e:
                raise PluginRegistrationError(f'cannot register {_what(plugin_type)}: its constructor raised '
                                              f'{type(e).__name__}: {e}') from e
            self._complete_registration(rec, plugin, v, source)
        except BaseException as e:
            self._abort_registration(rec, e)
            raise
        return rec, True

    def _register_instance(self, plugin: Plugin[Any], v: Variables, source: Optional[str]
                           ) -> tuple[PluginRecord, bool]:
        cls = type(plugin)
        with self._guard:
            rec = self._by_type.get(cls)
        if rec is not None and rec.plugin is plugin:
            return self._await_registered(rec, _what(cls)), False
        try:
            name = str(plugin.name())
        except Exception as e:
            raise PluginRegistrationError(f'cannot register {_what(cls)}: name() raised {type(e).__name__}: '
                                          f'{e}') from e
        with self._guard:
            existing = self._by_name.get(name)
            if existing is None or type(existing.plugin) is not cls:
                new = PluginRecord(_get_ident())
                self._by_type.setdefault(cls, new)
        if existing is not None and type(existing.plugin) is cls:  # an instance of the same type and name: no-op
            return self._await_registered(existing, _what(cls)), False
        try:
            self._complete_registration(new, plugin, v, source)
        except BaseException as e:
            self._abort_registration(new, e)
            raise
        return new, True

    @staticmethod
    def _await_registered(rec: PluginRecord, what: str) -> PluginRecord:
        """Return ``rec`` once its registration (maybe running in another thread) completed."""
        if rec.state is PluginState.REGISTERING and rec.reg_owner != _get_ident():
            rec.reg_done.wait()
        if rec.reg_error is not None:
            e = rec.reg_error
            raise PluginRegistrationError(f'cannot register {what}: its registration failed in another thread: '
                                          f'{type(e).__name__}: {e}') from e
        return rec

    def _complete_registration(self, rec: PluginRecord, plugin: Plugin[Any], v: Variables,
                               source: Optional[str]) -> None:
        what = _what(type(plugin))
        try:  # plugin code: outside the registry lock
            name = str(plugin.name())
            point = str(plugin.extension_point_name(v))
            multi = bool(plugin.is_multi_extension(v))
            enabled = bool(plugin.is_enabled(v))  # for the log line and describe_plugins; asked again on lookup
        except Exception as e:
            raise PluginRegistrationError(f'cannot register {what}: a registration hook raised '
                                          f'{type(e).__name__}: {e}') from e
        with self._guard:
            existing = self._by_name.get(name)
            if existing is not None:
                raise PluginRegistrationError(
                    f'plugin name {name!r} is already registered by {_what(type(existing.plugin))}; cannot register '
                    f'{what} under the same name: give one of them a distinct name()')
            rec.plugin, rec.name, rec.point, rec.multi, rec.enabled = plugin, name, point, multi, enabled
            rec.eager = bool(getattr(plugin, 'eager', True))
            rec.source = source
            self._seq += 1
            rec.seq = self._seq
            self._by_name[name] = rec
        try:
            plugin.on_registration(v)
        except Exception as e:
            raise PluginRegistrationError(f'{rec.label()}: on_registration raised {type(e).__name__}: {e}; '
                                          f'the plugin was not registered') from e
        try:
            rec.deps = _deps_of(rec, v)  # for describe_plugins; asked again when it initializes
        except PluginDependencyError as e:
            raise PluginRegistrationError(str(e)) from e
        with self._guard:
            pt = self._points.get(point)
            if pt is None:
                pt = self._points[point] = _Point(point)
            pt.records.append(rec)
            self._ext_cache.pop(point, None)
            rec.state = PluginState.REGISTERED
            rec.reg_done.set()
        self._debug('registered %s (single=%s, multi=%s)', rec.label(), enabled, multi)

    def _abort_registration(self, rec: PluginRecord, error: BaseException) -> None:
        with self._guard:
            self._forget(rec)
            rec.reg_error = error
            rec.state = PluginState.FAILED
            rec.reg_done.set()

    def forget(self, rec: PluginRecord) -> bool:
        """Remove a plugin that is registered but not initialized (nor initializing); True when removed."""
        with self._guard:
            if rec.state not in (PluginState.REGISTERED, PluginState.FAILED) or rec.attempt is not None:
                return False
            self._forget(rec)
            return True

    def _forget(self, rec: PluginRecord) -> None:
        if self._by_name.get(rec.name) is rec:
            del self._by_name[rec.name]
        for cls, r in list(self._by_type.items()):
            if r is rec:
                del self._by_type[cls]
        pt = self._points.get(rec.point)
        if pt is not None:
            pt.records = [r for r in pt.records if r is not rec]
            if pt.single is rec:
                pt.single = None
            self._ext_cache.pop(rec.point, None)
            if not pt.records:
                del self._points[rec.point]

    # --- choosing the single implementation -----------------------------------------------------------------
    def _ask_enabled(self, rec: PluginRecord, v: Variables) -> bool:
        try:
            answer = bool(rec.plugin.is_enabled(v))
        except Exception as e:
            raise PluginInitError(f'{rec.label()}: is_enabled raised {type(e).__name__}: {e}', rec.name,
                                  rec.point) from e
        rec.enabled = answer
        return answer

    def _choose_single(self, point: str, v: Variables, warn: bool = True) -> Optional[PluginRecord]:
        """The single implementation of ``point``: the one initialized (or initializing), else the first
        registered plugin whose ``is_enabled(v)`` answers True now (bound to the point); None when none does.
        ``warn``: log when several answer True (a caller that asks for THE implementation; ``init_all_plugins``
        binding a contributor that is single too does not)."""
        pt = self._points.get(point)
        if pt is None:
            return None
        bound = pt.bound()
        if bound is not None:
            if warn and pt.ambiguous is not None:
                self._warn_conflict(pt, pt.ambiguous)
                self._bind_value(bound)
            return bound
        enabled = [r for r in list(pt.records) if self._ask_enabled(r, v)]
        if not enabled:
            return None
        if len(enabled) > 1:
            if warn:
                self._warn_conflict(pt, enabled)
            elif not pt.warned:
                with self._guard:
                    pt.ambiguous = enabled
                    self._ready.pop(point, None)
        with self._guard:
            bound = pt.bound()
            if bound is None:
                pt.single = bound = enabled[0]
        return bound

    @staticmethod
    def _warn_conflict(pt: _Point, enabled: list[PluginRecord]) -> None:
        """Log once per point that several plugins answered ``is_enabled`` True; the first one is used."""
        pt.ambiguous = None
        if pt.warned:
            return
        pt.warned = True
        names = ', '.join(repr(r.name) for r in enabled)
        _log.warning('extension point %r has %d enabled single implementations (%s); using %r: disable the '
                     'others (is_enabled) or make them multi extensions', pt.name, len(enabled), names,
                     enabled[0].name)

    def _single_record(self, point: str, v: Variables) -> PluginRecord:
        rec = self._choose_single(point, v)
        if rec is not None:
            return rec
        pt = self._points.get(point)
        if pt is None:
            known = ', '.join(sorted(self._points)) or 'none'
            raise ExtensionNotFoundError(
                f'unknown extension point {point!r}: no plugin registered for it (registered points: {known}); '
                f'register a plugin that provides it first')
        if pt.multis():
            raise ExtensionNotFoundError(f'extension point {point!r} has only multi extension contributors and no '
                                         f'enabled single implementation; use get_extensions({point!r})')
        names = ', '.join(repr(r.name) for r in pt.records)
        raise ExtensionNotFoundError(f'extension point {point!r} has no enabled plugin (registered but disabled: '
                                     f'{names}); enable one of them')

    def _claim(self, pt: _Point, rec: PluginRecord) -> PluginRecord:
        """``init_all_plugins`` / ``register_plugin(init=True)`` of an enabled single plugin: it becomes the
        point's implementation unless one is initialized, initializing or scheduled already; return the
        point's implementation."""
        with self._guard:
            bound = pt.bound()
            if bound is not None:
                return bound
            if pt.single is None or pt.single.state is PluginState.FAILED:
                pt.single = rec
            return pt.single

    def _bind_value(self, rec: PluginRecord) -> None:
        """Publish ``rec``'s value as its point's single value when ``rec`` is that point's implementation."""
        with self._guard:
            pt = self._points.get(rec.point)
            if (pt is not None and pt.single is rec and rec.state is PluginState.INITIALIZED
                    and rec.point not in self._ready and pt.ambiguous is None):
                self._ready[rec.point] = rec.value

    def _dependency_records(self, rec: PluginRecord, dep: str, stack: list[PluginRecord], v: Variables
                            ) -> list[PluginRecord]:
        """What a dependency on ``dep`` initializes: its single implementation, else (ours) its contributors."""
        single = self._choose_single(dep, v)
        if single is not None:
            return [single]
        pt = self._points.get(dep)
        multis = pt.multis() if pt is not None else []
        if multis:
            return multis
        chain = ' -> '.join([r.point for r in stack] + [dep])
        why = 'has no registered plugin' if pt is None else 'has no enabled plugin'
        raise PluginDependencyError(f'unable to find a plugin for extension point {dep!r}: {rec.label()} '
                                    f'depends on it, and it {why} (path: {chain}); register and enable a plugin '
                                    f'for {dep!r}')

    # --- initialization -------------------------------------------------------------------------------------
    def _wait_cycle(self, me: int, att: _Attempt) -> Optional[list[str]]:
        """The cycle (as a path of points) that waiting for ``att`` would close, or None (caller holds the lock).

        Follows the wait-for graph: the owner of ``att``, the attempt that owner waits for, its owner, ...;
        reaching the calling thread means a deadlock.
        """
        path: list[PluginRecord] = []
        seen = {me}
        cur = att
        while True:
            owner = cur.owner
            ostack = self._stacks.get(owner) or []
            i = _index(ostack, cur.rec)
            seg = ostack[i:] if i >= 0 else [cur.rec]
            nxt = self._waiting.get(owner)
            if nxt is None:
                return None
            if seg and seg[-1] is nxt.rec:
                seg = seg[:-1]
            path += seg
            if nxt.owner == me:
                mine = self._stacks.get(me) or []
                j = _index(mine, nxt.rec)
                head = mine[j:-1] if j >= 0 else [nxt.rec]
                return [r.point for r in head + path + [nxt.rec]]
            if nxt.owner in seen:  # a cycle among other threads (they report it themselves)
                return None
            seen.add(owner)
            cur = nxt

    def _initialize(self, rec: PluginRecord, v: Variables, async_enabled: Optional[bool] = None) -> Any:
        """Return ``rec``'s value, initializing it (dependencies first) or waiting for the attempt in progress."""
        if rec.state is PluginState.INITIALIZED:
            return rec.value
        me = _get_ident()
        with self._guard:
            if _is_initialized(rec):  # another thread finished it meanwhile
                return rec.value
            stack = self._stacks.get(me)
            if stack is not None:
                i = _index(stack, rec)
                if i >= 0:  # asked for again by the thread initializing it: a cycle (declared or via get_extension)
                    raise _cycle_error([r.point for r in stack[i:]] + [rec.point])
            if self._closed:
                raise PluginShutdownError(rec.point)
            if stack is None:
                stack = self._stacks[me] = []
            stack.append(rec)
        att: Optional[_Attempt] = None
        try:
            rec.deps = _deps_of(rec, v)
            for dep in rec.deps:
                for drec in self._dependency_records(rec, dep, stack, v):
                    self._initialize(drec, v, async_enabled)
                    self._bind_value(drec)
            with self._guard:
                rec.plugin.collected = True  # as in the original: once its dependencies resolved
                if _is_initialized(rec):
                    return rec.value
                if self._closed:
                    raise PluginShutdownError(rec.point)
                att = rec.attempt
                if att is None:
                    att = rec.attempt = _Attempt(rec, me)
                    rec.state = PluginState.INITIALIZING
                    mine = True
                else:
                    path = self._wait_cycle(me, att)
                    if path is not None:
                        raise _cycle_error(path, ' (two threads would wait for each other)')
                    self._waiting[me] = att
                    att.waiters += 1
                    mine = False
            if not mine:
                try:
                    att.done.wait()
                finally:
                    with self._guard:
                        self._waiting.pop(me, None)
                        att.waiters -= 1
                if att.error is not None:
                    raise _waiter_error(att) from att.error
                return att.value
            value = self._run_initialize(rec, att, v)
        finally:
            with self._guard:
                stack.pop()
                if not stack:
                    self._stacks.pop(me, None)
        if self._ctx.loop is not None:
            _async_after_initialize(self, rec, v, async_enabled)
        self._initialize_pending(rec, v, async_enabled)
        return value

    def _run_initialize(self, rec: PluginRecord, att: _Attempt, v: Variables) -> Any:
        """Run ``rec``'s ``initialize`` (this thread owns ``att``) and publish the outcome."""
        self._debug('initializing %s', rec.label())
        t0 = time.perf_counter()
        try:
            observe = instrument.PLUGIN_INIT  # e.g. a span around initialize (core.instrument); None: off
            if observe is None:
                value = rec.plugin.initialize(v, rec.plugin.get_logger(v))
            else:
                with observe(rec.name, rec.point):
                    value = rec.plugin.initialize(v, rec.plugin.get_logger(v))
        except BaseException as e:
            self._finish(rec, att, (time.perf_counter() - t0) * 1000.0, error=e)
            if isinstance(e, (PluginDependencyError, PluginShutdownError)) or not isinstance(e, Exception):
                raise
            raise PluginInitError(f'{rec.label()} failed to initialize: {type(e).__name__}: {e}',
                                  rec.name, rec.point) from e
        ms = (time.perf_counter() - t0) * 1000.0
        if self._finish(rec, att, ms, value=value):
            self._late_shutdown(rec, v, value)
            raise PluginShutdownError(rec.point)
        self._debug('initialized %s in %.1f ms', rec.label(), ms)
        return value

    def _finish(self, rec: PluginRecord, att: _Attempt, ms: float, value: Any = None,
                error: Optional[BaseException] = None) -> bool:
        """Publish an attempt's outcome and wake its waiters; True when it succeeded after the registry closed."""
        late = False
        with self._guard:
            rec.attempt = None
            rec.init_ms = ms
            pt = self._points.get(rec.point)
            if error is not None:
                rec.state = PluginState.FAILED
                rec.error = att.error = error
                if pt is not None and pt.single is rec:
                    pt.single = None  # the next lookup chooses again
            elif self._closed:  # shutdown ran meanwhile: this plugin is shut down at once
                rec.state = PluginState.SHUT_DOWN
                att.error = PluginShutdownError(rec.point)
                late = True
            else:
                self._init_counter += 1
                rec.init_index = self._init_counter
                rec.value = att.value = value
                rec.error = None
                rec.skipped = False
                rec.ready_done = rec.stopping_done = False
                rec.ready_task = rec.stopping_task = None
                rec.state = PluginState.INITIALIZED
                self._init_order.append(rec)
                if pt is not None and pt.single is rec:
                    self._ready[rec.point] = value
                self._ext_cache.pop(rec.point, None)
                rec.plugin.initialized = True
            att.done.set()
        return late

    def _late_shutdown(self, rec: PluginRecord, v: Variables, value: Any) -> None:
        _log.warning('%s finished initializing after the app shut down; shutting it down now', rec.label())
        error = self._call_shutdown(rec, v, value)
        if error is not None:
            self._ctx.record_failure(f'plugin shutdown {rec.name}', error)

    def _initialize_pending(self, rec: PluginRecord, v: Variables, async_enabled: Optional[bool]) -> None:
        """Initialize the eager plugins registered while ``rec`` initialized."""
        if not rec.pending:
            return
        with self._guard:
            pending, rec.pending = rec.pending, []
        for p in pending:
            if p.eager and p.state is not PluginState.INITIALIZED and not self._closed:
                self._init_step(p, v, async_enabled, False, 'raise')

    def _init_step(self, rec: PluginRecord, v: Variables, async_enabled: Optional[bool], include_lazy: bool,
                   policy: str) -> None:
        """One ``init_all_plugins`` step for ``rec``: initialize it when it is single (asked now) or multi."""
        pt = self._points.get(rec.point)
        if pt is None:  # forgotten meanwhile
            return
        if rec.state is PluginState.INITIALIZED:
            if rec.multi and pt.bound() is None and self._ask_enabled(rec, v):  # a contributor that is single too
                self._choose_single(rec.point, v, warn=False)
                self._bind_value(rec)
            return
        if policy == 'skip' and rec.skipped:
            return
        single = self._ask_enabled(rec, v)
        if not (single or rec.multi):
            return
        if single:
            chosen = self._claim(pt, rec)
            if chosen is not rec:  # another candidate (initialized, or scheduled earlier) is the point's
                if chosen is not None and not rec.multi:
                    self._warn_conflict(pt, [chosen, rec])
                elif chosen is not None and not pt.warned:  # a contributor is used anyway: get_extension warns
                    with self._guard:
                        pt.ambiguous = (pt.ambiguous or [chosen]) + [rec]
                        self._ready.pop(rec.point, None)  # the next get_extension takes the slow path and warns
                if not rec.multi:
                    return
                single = False
        if not (rec.eager or include_lazy):
            rec.plugin.collected = True  # scheduled: initialized on its first request
            return
        try:
            self._initialize(rec, v, async_enabled)
        except (PluginInitError, PluginDependencyError) as e:
            if single or policy != 'skip':
                raise
            self._skip(rec, e)
            return
        self._bind_value(rec)

    def _skip(self, rec: PluginRecord, error: BaseException) -> None:
        """Failure policy ``skip``: remember the contributor as failed and report it once."""
        with self._guard:
            first = not rec.skipped
            rec.skipped = True
            if rec.state is not PluginState.INITIALIZED:
                rec.state = PluginState.FAILED
                if rec.error is None or isinstance(error, PluginDependencyError):
                    rec.error = error
        if first:
            cause = error.__cause__ if isinstance(error, PluginInitError) and error.__cause__ is not None else error
            _log.warning('skipping plugin %r, a contributor of the multi extension point %r: its initialization '
                         'failed: %s: %s (failure policy skip; set %s=raise to stop instead)', rec.name, rec.point,
                         type(cause).__name__, cause, FAILURES_VAR)
            self._ctx.record_failure(f'plugin initialize {rec.name}', f'{type(cause).__name__}: {cause}')

    def _note_edge(self, point: str) -> None:
        """Remember that the plugin initializing in this thread got ``point`` (an observed dependency). Only the
        slow path records: a point already initialized when asked for precedes the asking plugin in the
        initialization order anyway."""
        stack = self._stacks.get(_get_ident())
        if stack:
            top = stack[-1]
            if top.point != point:
                top.observed.add(point)

    def point_of(self, name_or_type: Any, v: Variables) -> str:
        """The extension point named by ``name_or_type`` (a Plugin type or instance is registered first)."""
        if isinstance(name_or_type, str):
            return name_or_type
        if isinstance(name_or_type, Plugin) or (isinstance(name_or_type, type) and issubclass(name_or_type, Plugin)):
            rec, _ = self._register(name_or_type, v, None)
            return rec.point
        raise TypeError(f'expected an extension point name or a Plugin type, got {name_or_type!r}')

    def get_extension(self, name_or_type: Any, v: Variables) -> Any:
        """See :func:`get_extension`."""
        point = self.point_of(name_or_type, v)
        val = self._ready.get(point, _MISSING)
        if val is not _MISSING:
            return val
        if self._closed:
            raise PluginShutdownError(point)
        rec = self._single_record(point, v)
        value = self._initialize(rec, v)
        self._bind_value(rec)
        self._note_edge(point)
        return value

    def get_extensions(self, name_or_type: Any, v: Variables, failures: Optional[str] = None) -> dict[str, Any]:
        """See :func:`get_extensions`."""
        point = self.point_of(name_or_type, v)
        policy = _policy(v, failures)
        if self._closed:
            raise PluginShutdownError(point)
        pt = self._points.get(point)
        if pt is None:
            return {}
        out: dict[str, Any] = {}
        for r in pt.multis():
            if policy == 'skip' and r.skipped and r.state is not PluginState.INITIALIZED:
                continue
            try:
                out[r.name] = self._initialize(r, v)
            except (PluginInitError, PluginDependencyError) as e:
                if policy != 'skip':
                    raise
                self._skip(r, e)
        self._note_edge(point)
        with self._guard:
            pt = self._points.get(point)
            now = [] if pt is None else pt.multis()
            if (not self._closed and now and [r.name for r in now] == list(out)
                    and all(r.state is PluginState.INITIALIZED for r in now)):
                self._ext_cache[point] = {r.name: r.value for r in now}
        return out

    def cached_extensions(self, point: str) -> Optional[dict[str, Any]]:
        """``{name: value}`` of a multi point whose contributors are all initialized (a copy), else None."""
        cached = self._ext_cache.get(point)
        return dict(cached) if cached is not None else None

    def init_all(self, v: Variables, async_enabled: Optional[bool] = None, include_lazy: bool = False,
                 failures: Optional[str] = None) -> None:
        """See :func:`init_all_plugins`."""
        policy = _policy(v, failures)
        me = _get_ident()
        tried: set[int] = set()
        while True:
            recs = self.records()
            if self._closed:
                eager = [r.point for r in recs if r.eager or include_lazy]
                raise PluginShutdownError(', '.join(dict.fromkeys(eager)) or 'any',
                                          f'cannot initialize plugins ({", ".join(dict.fromkeys(eager)) or "none"}): '
                                          f'the app has shut down (shutdown_all_plugins ran) and nothing is '
                                          f'initialized after shutdown')
            todo = [r for r in recs if id(r) not in tried
                    and not (r.attempt is not None and r.attempt.owner == me)]
            if not todo:
                return
            for rec in todo:
                tried.add(id(rec))
                self._init_step(rec, v, async_enabled, include_lazy, policy)

    # --- shutdown -------------------------------------------------------------------------------------------
    def _call_shutdown(self, rec: PluginRecord, v: Variables, value: Any) -> Optional[str]:
        """Run ``rec``'s ``shutdown``; return None, or the failure's description (already logged)."""
        try:
            rec.plugin.shutdown(v, rec.plugin.get_logger(v), value)
        except BaseException as e:  # noqa: B036 - one plugin's failure (even SystemExit) must not stop the others
            _log.error('%s failed to shut down: %s: %s', rec.label(), type(e).__name__, e,
                       exc_info=(type(e), e, e.__traceback__))
            return f'{rec.label()} failed to shut down: {type(e).__name__}: {e}'
        return None

    def shutdown_all(self, v: Variables, async_enabled: Optional[bool] = None) -> list[str]:
        """See :func:`shutdown_all_plugins`."""
        with self._guard:
            self._closed = True
            order = shutdown_order([r for r in self._init_order if r.state is PluginState.INITIALIZED])
        if order and self._ctx.loop is not None:
            _async_before_shutdown(self, order, v, async_enabled)
        failures: list[str] = []
        for rec in order:
            with self._guard:
                if rec.state is not PluginState.INITIALIZED:  # another thread's shutdown_all_plugins took it
                    continue
                rec.state = PluginState.SHUTTING_DOWN
                value = rec.value
                pt = self._points.get(rec.point)
                if pt is not None and pt.single is rec:
                    self._ready.pop(rec.point, None)
                self._ext_cache.pop(rec.point, None)
            error = self._call_shutdown(rec, v, value)
            with self._guard:
                rec.state = PluginState.SHUT_DOWN
                rec.value = None
                rec.plugin.initialized = False
                if rec in self._init_order:
                    self._init_order.remove(rec)
            if error is not None:
                failures.append(error)
                self._ctx.record_failure(f'plugin shutdown {rec.name}', error)
            else:
                self._debug('shut down %s', rec.label())
        return failures


def get_registry(v: Optional[Variables] = None) -> Registry:
    """Return the plugin registry of ``v`` (the default ``Variables`` when None), creating it if needed."""
    ctx = get_app_context(v)
    reg = ctx.registry
    if reg is None:
        with _CRIT, ctx.lock:
            reg = ctx.registry
            if reg is None:
                reg = ctx.registry = Registry(ctx)
    return reg


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


# --- the public functions -----------------------------------------------------------------------------------
@overload
def register_plugin(plugin_type: type[Plugin[T]], v: Optional[Variables] = ..., init: bool = ...,
                    source: Optional[str] = ...) -> Plugin[T]: ...
@overload
def register_plugin(plugin_type: Plugin[T], v: Optional[Variables] = ..., init: bool = ...,
                    source: Optional[str] = ...) -> Plugin[T]: ...
def register_plugin(plugin_type: Any, v: Optional[Variables] = None, init: bool = False,
                    source: Optional[str] = None) -> Plugin[Any]:
    """Register a plugin type (or instance) and return the registered instance.

    Registration asks ``name()``, ``extension_point_name(v)``, ``is_multi_extension(v)`` (once),
    ``is_enabled(v)`` (for the log line; it is asked again at each lookup), then calls ``on_registration(v)``
    once, before anything can initialize the plugin. Registering the same type again is a no-op returning the
    first instance. With ``init=True`` an eager plugin that is single (``is_enabled`` now) or multi is
    initialized now (dependencies first); a lazy one is scheduled for its first request. ``plugin.collected``
    becomes True when the plugin is initialized or scheduled, not at registration. An eager plugin registered
    (without ``init``) from inside another plugin's ``initialize`` is initialized as soon as that
    ``initialize`` finished.

    Raises:
        PluginRegistrationError (a ValueError): a different type is already registered under the same name,
            or the type is not a Plugin, or a hook raised.
        PluginInitError / PluginDependencyError: from initialization when ``init=True``.
        PluginShutdownError: ``init=True`` after the app's plugins were shut down.
    """
    v = get_variables(v)
    return get_registry(v).register(plugin_type, v, init, source)


@overload
def get_extension(name_or_type: type[Plugin[T]], v: Optional[Variables] = ...) -> T: ...
@overload
def get_extension(name_or_type: str, v: Optional[Variables] = ...) -> Any: ...
def get_extension(name_or_type: Any, v: Optional[Variables] = None) -> Any:
    """Return the value of a single extension point, initializing it (dependencies first) on demand.

    The point's single implementation is the plugin initialized for it, else the first registered plugin
    whose ``is_enabled(v)`` answers True now (several: the first, with a warning naming them). Once
    initialized, the value is fixed. A Plugin type argument is registered first (if it is not already) and
    its extension point is used.

    Raises:
        ExtensionNotFoundError (a ValueError): unknown point, no enabled single implementation (a point with
            contributors only says to use ``get_extensions``).
        PluginDependencyError: missing dependency or cycle (also one between threads).
        PluginInitError: the plugin's ``initialize`` raised (the next call retries).
        PluginShutdownError: the app's plugins were shut down.
    """
    # the fast path: one dict lookup once the point is initialized. It reads the context link (core.context's
    # protocol attribute CONTEXT_ATTR) inline, as a call to peek_app_context() would cost more than the lookup
    ctx = (v or _defaults.current or get_variables()).__saf_context__
    if ctx is not None:
        try:
            return ctx.ready_points[name_or_type]
        except KeyError:  # not initialized yet (or a Plugin type): the registry resolves it
            pass
    v = get_variables(v)
    return get_registry(v).get_extension(name_or_type, v)


def get_extensions(name_or_type: Any, v: Optional[Variables] = None, failures: Optional[str] = None
                   ) -> dict[str, Any]:
    """Return ``{plugin name: value}`` for every contributor of a multi extension point, in registration order.

    Contributors are the plugins whose ``is_multi_extension`` answered True (whatever their ``is_enabled``);
    they are initialized on demand. A point with no contributor (unknown, or with a single implementation
    only) gives ``{}``. The dict is the caller's (a new one each call).

    ``failures`` (default: ``SAF_PLUGIN_FAILURES``, else ``'raise'``): with ``'skip'`` a contributor whose
    ``initialize`` raises is left out, logged once as a WARNING and shown ``failed`` by ``describe_plugins``.

    Raises:
        ConfigurationError: ``failures`` is not ``raise`` or ``skip``. Also as :func:`get_extension`.
    """
    if name_or_type.__class__ is str and failures is None:
        app = (v or _defaults.current or get_variables()).__saf_context__  # (inline, as in get_extension)
        reg: Optional[Registry] = app.registry if app is not None else None
        if reg is not None:
            cached = reg.cached_extensions(name_or_type)
            if cached is not None:
                return cached
    v = get_variables(v)
    return get_registry(v).get_extensions(name_or_type, v, failures)


def init_all_plugins(v: Optional[Variables] = None, async_enabled: Optional[bool] = None,
                     include_lazy: bool = False, failures: Optional[str] = None) -> None:
    """Walk the plugins in registration order and initialize each eager one that is single (its
    ``is_enabled(v)`` asked now) or multi, dependencies first; lazy ones are scheduled (``collected``), or
    initialized too with ``include_lazy``.

    A point whose single implementation is already chosen keeps it (another enabled candidate is skipped, with
    a warning). Plugins registered meanwhile (by an ``initialize``) are handled too. ``async_enabled``
    overrides the automatic async mode for this call (None: the app's setting, see
    ``set_async_auto_enabled``). ``failures`` as in :func:`get_extensions` (single points always raise).

    Raises:
        PluginDependencyError / PluginInitError: as :func:`get_extension`.
        PluginShutdownError: the app's plugins were shut down.
        ConfigurationError: a bad failure policy.
    """
    v = get_variables(v)
    get_registry(v).init_all(v, async_enabled, include_lazy, failures)


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
    return get_registry(v).shutdown_all(v, async_enabled)


__all__ = ['Registry', 'PluginRecord', 'PluginState', 'get_registry', 'shutdown_order', 'register_plugin',
           'get_extension', 'get_extensions', 'init_all_plugins', 'shutdown_all_plugins', 'FAILURES_VAR']
