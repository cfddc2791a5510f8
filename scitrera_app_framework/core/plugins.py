"""The plugin registry: registration, lazy/eager initialization with dependencies, shutdown, introspection.

The registry hangs off a :class:`Variables` instance, so each ``Variables`` (the default one, a test's own,
a tenant's) has its own set of extension points.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Iterable, Optional, TypeVar, overload

from ..api.plugins import Plugin
from ..api.variables import Variables
from . import defaults as _defaults
from .defaults import get_variables

T = TypeVar('T')
_REGISTRY_KEY = 'registry'
_MISSING = object()
_log = logging.getLogger('saf.plugins')

REGISTERED, INITIALIZING, INITIALIZED, FAILED, SHUT_DOWN = (
    'registered', 'initializing', 'initialized', 'failed', 'shut down')


class PluginError(Exception):
    """Base class of plugin registry errors."""


class ExtensionNotFoundError(PluginError, ValueError, LookupError):
    """No (enabled) plugin provides the requested extension point."""


class PluginRegistrationError(PluginError, ValueError):
    """A plugin cannot be registered (name clash, bad type, failing hook)."""


class PluginDependencyError(PluginError, ValueError):
    """A declared dependency is missing, or dependencies form a cycle (the message shows the whole path)."""


class PluginConflictError(PluginError, ValueError):
    """Two enabled single plugins claim one extension point."""


class PluginInitError(PluginError, RuntimeError):
    """A plugin's ``initialize`` raised; names the plugin and extension point. Asking again retries."""

    def __init__(self, message: str, plugin_name: str, extension_point: str) -> None:
        super().__init__(message)
        self.plugin_name = plugin_name
        self.extension_point = extension_point


class _Record:
    __slots__ = ('plugin', 'name', 'point', 'multi', 'enabled', 'eager', 'deps', 'state', 'value', 'error',
                 'init_ms', 'lock', 'seq', 'init_thread', 'ready_done', 'stopping_done', 'source')

    def __init__(self, plugin: Plugin, name: str, point: str, multi: bool, enabled: bool, deps: tuple, seq: int,
                 source: Optional[str]) -> None:
        self.plugin = plugin
        self.name = name
        self.point = point
        self.multi = multi
        self.enabled = enabled
        self.eager = bool(getattr(plugin, 'eager', False))
        self.deps = deps
        self.state = REGISTERED
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.init_ms: Optional[float] = None
        self.lock = threading.RLock()
        self.seq = seq
        self.init_thread: Optional[int] = None
        self.ready_done = False
        self.stopping_done = False
        self.source = source

    def label(self) -> str:
        return f'plugin {self.name!r} (extension point {self.point!r})'


class _Point:
    __slots__ = ('name', 'records')

    def __init__(self, name: str) -> None:
        self.name = name
        self.records: list[_Record] = []

    def singles(self) -> list[_Record]:
        return [r for r in self.records if r.enabled and not r.multi]

    def multis(self) -> list[_Record]:
        return [r for r in self.records if r.enabled and r.multi]


class Registry:
    """Plugins and extension points of one :class:`Variables` instance."""

    def __init__(self, ready: Optional[dict] = None) -> None:
        self.ready: dict[str, Any] = ready if ready is not None else {}  # point -> value, initialized singles
        self.lock = threading.RLock()
        self.by_name: dict[str, _Record] = {}
        self.by_type: dict[type, _Record] = {}
        self.points: dict[str, _Point] = {}
        self.init_order: list[_Record] = []
        self._seq = 0

    def records(self) -> list[_Record]:
        return sorted(self.by_name.values(), key=lambda r: r.seq)


def get_registry(v: Optional[Variables] = None) -> Registry:
    """Return the plugin registry of ``v`` (the default ``Variables`` when None), creating it if needed."""
    v = get_variables(v)
    reg = v._ext.get(_REGISTRY_KEY)
    if reg is None:
        reg = v._ext.setdefault(_REGISTRY_KEY, Registry(v._ready))
    return reg


# --- registration ------------------------------------------------------------------------------------------
def _instantiate(plugin_type: Any) -> Plugin:
    if isinstance(plugin_type, Plugin):
        return plugin_type
    if not (isinstance(plugin_type, type) and issubclass(plugin_type, Plugin)):
        raise PluginRegistrationError(
            f'cannot register {plugin_type!r}: expected a subclass of scitrera_app_framework.api.Plugin')
    try:
        return plugin_type()
    except Exception as e:
        raise PluginRegistrationError(
            f'cannot register {plugin_type.__module__}.{plugin_type.__qualname__}: its constructor raised '
            f'{type(e).__name__}: {e}') from e


@overload
def register_plugin(plugin_type: type[Plugin[T]], v: Optional[Variables] = ..., init: bool = ...,
                    source: Optional[str] = ...) -> Plugin[T]: ...
@overload
def register_plugin(plugin_type: Plugin[T], v: Optional[Variables] = ..., init: bool = ...,
                    source: Optional[str] = ...) -> Plugin[T]: ...
def register_plugin(plugin_type: Any, v: Optional[Variables] = None, init: bool = False,
                    source: Optional[str] = None) -> Plugin:
    """Register a plugin type (or instance) and return the registered instance.

    Registering the same type again is a no-op returning the first instance. With ``init=True`` the plugin
    (if enabled) is initialized now, dependencies first.

    Raises:
        PluginRegistrationError (a ValueError): a different type is already registered under the same name,
            or the type is not a Plugin, or a hook raised.
        PluginInitError / PluginDependencyError: from initialization when ``init=True``.
    """
    v = get_variables(v)
    reg = get_registry(v)
    with reg.lock:
        rec = reg.by_type.get(plugin_type) if isinstance(plugin_type, type) else None
        if rec is None and isinstance(plugin_type, Plugin):
            rec = reg.by_type.get(type(plugin_type))
            if rec is not None and rec.plugin is not plugin_type:
                rec = None if rec.name != plugin_type.name() else rec
        if rec is None:
            rec = _add(reg, _instantiate(plugin_type), v, source)
    if init and rec.enabled:
        _initialize(reg, rec, v, [])
    return rec.plugin


def _add(reg: Registry, plugin: Plugin, v: Variables, source: Optional[str]) -> _Record:
    cls = type(plugin)
    what = f'{cls.__module__}.{cls.__qualname__}'
    try:
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
    existing = reg.by_name.get(name)
    if existing is not None:
        ecls = type(existing.plugin)
        raise PluginRegistrationError(
            f'plugin name {name!r} is already registered by {ecls.__module__}.{ecls.__qualname__}; cannot register '
            f'{what} under the same name: give one of them a distinct name()')
    reg._seq += 1
    rec = _Record(plugin, name, point, multi, enabled, deps, reg._seq, source)
    reg.by_name[name] = rec
    reg.by_type[cls] = rec
    pt = reg.points.get(point)
    if pt is None:
        pt = reg.points[point] = _Point(point)
    pt.records.append(rec)
    try:
        plugin.on_registration(v)
    except Exception as e:
        _remove(reg, rec)
        raise PluginRegistrationError(f'{rec.label()}: on_registration raised {type(e).__name__}: {e}; '
                                      f'the plugin was not registered') from e
    return rec


def _remove(reg: Registry, rec: _Record) -> None:
    reg.by_name.pop(rec.name, None)
    if reg.by_type.get(type(rec.plugin)) is rec:
        del reg.by_type[type(rec.plugin)]
    pt = reg.points.get(rec.point)
    if pt is not None:
        pt.records = [r for r in pt.records if r is not rec]
        if not pt.records:
            del reg.points[rec.point]


# --- initialization ----------------------------------------------------------------------------------------
def _single_record(reg: Registry, point: str) -> _Record:
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


def _dependency_records(reg: Registry, rec: _Record, dep: str, path: list[str]) -> list[_Record]:
    pt = reg.points.get(dep)
    recs = [] if pt is None else (pt.singles() + pt.multis())
    if not recs:
        chain = ' -> '.join(path + [dep])
        why = 'has no registered plugin' if pt is None else 'has no enabled plugin'
        raise PluginDependencyError(f'{rec.label()} depends on extension point {dep!r}, which {why} '
                                    f'(path: {chain}); register and enable a plugin for {dep!r}')
    singles = pt.singles() if pt is not None else []
    if len(singles) > 1:
        _single_record(reg, dep)  # raises the conflict error
    return recs


def _initialize(reg: Registry, rec: _Record, v: Variables, path: list[str]) -> Any:
    if rec.state == INITIALIZED:
        return rec.value
    if rec.point in path:
        cycle = path[path.index(rec.point):] + [rec.point]
        raise PluginDependencyError(f'plugin dependency cycle: {" -> ".join(cycle)}; '
                                    f'break it by removing one of these dependencies')
    path = path + [rec.point]
    for dep in rec.deps:
        for drec in _dependency_records(reg, rec, dep, path):
            _initialize(reg, drec, v, path)
    with rec.lock:
        if rec.state == INITIALIZED:
            return rec.value
        if rec.init_thread == threading.get_ident():
            raise PluginDependencyError(
                f'{rec.label()} was asked for again while it was initializing (an undeclared dependency cycle '
                f'through get_extension); declare the dependency in get_dependencies() and break the cycle')
        rec.state = INITIALIZING
        rec.init_thread = threading.get_ident()
        t0 = time.perf_counter()
        try:
            logger = rec.plugin.get_logger(v)
            value = rec.plugin.initialize(v, logger)
        except Exception as e:
            rec.state = FAILED
            rec.error = e
            raise PluginInitError(f'{rec.label()} failed to initialize: {type(e).__name__}: {e}',
                                  rec.name, rec.point) from e
        finally:
            rec.init_thread = None
            rec.init_ms = (time.perf_counter() - t0) * 1000.0
        rec.value = value
        rec.error = None
        rec.ready_done = rec.stopping_done = False
        with reg.lock:
            reg.init_order.append(rec)
            rec.state = INITIALIZED
            if not rec.multi:
                reg.ready[rec.point] = value
    return value


def _resolve_v_and_name(name_or_type: Any, v: Optional[Variables]) -> tuple[Variables, Registry, str]:
    v = get_variables(v)
    reg = get_registry(v)
    if isinstance(name_or_type, str):
        return v, reg, name_or_type
    if isinstance(name_or_type, Plugin) or (isinstance(name_or_type, type) and issubclass(name_or_type, Plugin)):
        plugin = register_plugin(name_or_type, v)
        return v, reg, reg.by_name[plugin.name()].point
    raise TypeError(f'expected an extension point name or a Plugin type, got {name_or_type!r}')


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
        PluginDependencyError: missing dependency or cycle.
        PluginInitError: the plugin's ``initialize`` raised (the next call retries).
    """
    val = (v or _defaults._default or get_variables())._ready.get(name_or_type, _MISSING)
    if val is not _MISSING:
        return val
    v, reg, point = _resolve_v_and_name(name_or_type, v)
    val = reg.ready.get(point, _MISSING)
    if val is not _MISSING:
        return val
    return _initialize(reg, _single_record(reg, point), v, [])


def get_extensions(name_or_type: Any, v: Optional[Variables] = None) -> dict[str, Any]:
    """Return ``{plugin name: value}`` for every enabled plugin of a multi extension point, in registration order.

    Plugins are initialized on demand. For a single extension point the dict has its one plugin.

    Raises:
        ExtensionNotFoundError: unknown extension point. Also as :func:`get_extension`.
    """
    v, reg, point = _resolve_v_and_name(name_or_type, v)
    pt = reg.points.get(point)
    if pt is None:
        _single_record(reg, point)  # raises the unknown point error
        raise AssertionError('unreachable')
    recs = pt.multis() or [_single_record(reg, point)]
    return {r.name: _initialize(reg, r, v, []) for r in recs}


def init_all_plugins(v: Optional[Variables] = None, include_lazy: bool = False) -> None:
    """Initialize every enabled eager plugin (and, with ``include_lazy``, every enabled plugin), deps first.

    Raises:
        PluginConflictError: two enabled single plugins on one extension point (names both).
        PluginDependencyError / PluginInitError: as :func:`get_extension`.
    """
    v = get_variables(v)
    reg = get_registry(v)
    with reg.lock:
        recs = reg.records()
    for pt in list(reg.points.values()):
        if len(pt.singles()) > 1:
            _single_record(reg, pt.name)
    for rec in recs:
        if rec.enabled and (rec.eager or include_lazy) and rec.state != INITIALIZED:
            _initialize(reg, rec, v, [])


def shutdown_all_plugins(v: Optional[Variables] = None) -> None:
    """Run ``shutdown`` of every initialized plugin in reverse initialization order.

    A failing plugin is logged (with its name) and the others still shut down.
    """
    v = get_variables(v)
    reg = get_registry(v)
    with reg.lock:
        order = list(reversed(reg.init_order))
        reg.init_order.clear()
        for rec in order:
            if not rec.multi:
                reg.ready.pop(rec.point, None)
    for rec in order:
        with rec.lock:
            if rec.state != INITIALIZED:
                continue
            try:
                rec.plugin.shutdown(v, rec.plugin.get_logger(v), rec.value)
            except Exception:
                _log.exception('%s failed to shut down', rec.label())
            rec.state = SHUT_DOWN
            rec.value = None


# --- async lifecycle ---------------------------------------------------------------------------------------
def _overrides(plugin: Plugin, attr: str) -> bool:
    return getattr(type(plugin), attr, None) is not getattr(Plugin, attr)


async def _run_async_hooks(v: Optional[Variables], attr: str, done_flag: str, reverse: bool) -> None:
    v = get_variables(v)
    reg = get_registry(v)
    with reg.lock:
        order = list(reversed(reg.init_order) if reverse else reg.init_order)
    for rec in order:
        if getattr(rec, done_flag) or rec.state != INITIALIZED:
            continue
        setattr(rec, done_flag, True)
        if not _overrides(rec.plugin, attr):
            continue
        try:
            await getattr(rec.plugin, attr)(v, rec.plugin.get_logger(v), rec.value)
        except Exception:
            _log.exception('%s: %s failed', rec.label(), attr)


async def async_plugins_ready(v: Optional[Variables] = None) -> None:
    """Await ``async_ready`` of every initialized plugin, in initialization order, at most once per plugin.

    A failing hook is logged with the plugin's name; the others still run.
    """
    await _run_async_hooks(v, 'async_ready', 'ready_done', reverse=False)


async def async_plugins_stopping(v: Optional[Variables] = None) -> None:
    """Await ``async_stopping`` of every initialized plugin in reverse initialization order, once per plugin.

    A failing hook is logged with the plugin's name; the others still run.
    """
    await _run_async_hooks(v, 'async_stopping', 'stopping_done', reverse=True)


# --- facades and discovery ---------------------------------------------------------------------------------
def _call_flex(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` with as many of ``args`` as it accepts positionally."""
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return fn(*args)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return fn(*args)
    n = sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    return fn(*args[:n])


class _FunctionPlugin(Plugin):
    _point = ''
    _init_fn: Callable[..., Any] = staticmethod(lambda: None)  # type: ignore[assignment]
    _shutdown_fn: Optional[Callable[..., Any]] = None
    _deps: tuple = ()

    def name(self) -> str:
        return self._point

    def extension_point_name(self, v: Variables) -> str:
        return self._point

    def get_dependencies(self, v: Variables) -> Iterable[str]:
        return self._deps

    def initialize(self, v: Variables, logger: logging.Logger) -> Any:
        return _call_flex(type(self)._init_fn, v, logger)

    def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
        fn = type(self)._shutdown_fn
        if fn is not None:
            _call_flex(fn, v, logger, value)


def set_extension(point: str, init_fn: Callable[..., Any], shutdown_fn: Optional[Callable[..., Any]] = None,
                  dependencies: Optional[Iterable[str]] = None, v: Optional[Variables] = None) -> Plugin:
    """Register a lazy plugin for ``point`` built from plain functions; returns it.

    ``init_fn(v, logger)`` returns the value and ``shutdown_fn(v, logger, value)`` releases it; either may
    take fewer positional parameters (``init_fn()`` is fine). Calling it again for a point whose facade is not
    initialized yet replaces the facade.

    Raises:
        PluginRegistrationError: another (non-facade or already initialized) plugin owns the name ``point``.
    """
    v = get_variables(v)
    reg = get_registry(v)
    cls = type(f'Extension[{point}]', (_FunctionPlugin,), {
        '_point': point, '_init_fn': staticmethod(init_fn),
        '_shutdown_fn': staticmethod(shutdown_fn) if shutdown_fn is not None else None,
        '_deps': tuple(dependencies or ()), '__module__': __name__,
    })
    with reg.lock:
        old = reg.by_name.get(point)
        if old is not None and isinstance(old.plugin, _FunctionPlugin) and old.state != INITIALIZED:
            _remove(reg, old)
        return register_plugin(cls, v)


def register_entry_point_plugins(v: Optional[Variables] = None,
                                 group: str = 'scitrera_app_framework.plugins') -> list[Plugin]:
    """Register every Plugin subclass advertised under the entry point ``group``; return the plugins.

    A broken entry point (import error, not a Plugin) is logged with its distribution's name and skipped.
    """
    from importlib import metadata

    v = get_variables(v)
    # walk the distributions (not metadata.entry_points()) so the distribution's name is known on 3.9 too
    eps: list[tuple[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for d in metadata.distributions():
        dist = d.metadata['Name'] or 'unknown distribution'
        for ep in d.entry_points:
            if ep.group == group and (dist.lower(), ep.name) not in seen:  # first on sys.path wins
                seen.add((dist.lower(), ep.name))
                eps.append((dist, ep))
    registered: list[Plugin] = []
    for dist, ep in eps:
        where = f'entry point {ep.name!r} ({ep.value}) of distribution {dist!r}'
        try:
            obj = ep.load()
        except Exception as e:
            _log.warning('skipping %s: cannot load it: %s: %s', where, type(e).__name__, e)
            continue
        if not (isinstance(obj, type) and issubclass(obj, Plugin)):
            _log.warning('skipping %s: %r is not a Plugin subclass', where, obj)
            continue
        try:
            registered.append(register_plugin(obj, v, source=f'entry point {ep.name} ({dist})'))
        except PluginError as e:
            _log.warning('skipping %s: %s', where, e)
    return registered


# --- introspection -----------------------------------------------------------------------------------------
def describe_plugins(v: Optional[Variables] = None) -> list[dict[str, Any]]:
    """Return one dict per registered plugin, in registration order.

    Keys: ``name``, ``extension_point``, ``multi``, ``enabled``, ``eager``, ``state`` (registered /
    initializing / initialized / failed / shut down), ``dependencies``, ``init_ms`` (None until initialized),
    ``error`` (the last initialization error, as text) and ``source``.
    """
    reg = get_registry(v)
    with reg.lock:
        recs = reg.records()
    return [{
        'name': r.name, 'extension_point': r.point, 'multi': r.multi, 'enabled': r.enabled, 'eager': r.eager,
        'state': r.state, 'dependencies': list(r.deps),
        'init_ms': round(r.init_ms, 3) if r.init_ms is not None and r.state != REGISTERED else None,
        'error': f'{type(r.error).__name__}: {r.error}' if r.error is not None else None, 'source': r.source,
    } for r in recs]


class PluginGraph:
    """The dependency graph between extension points: ``nodes`` (point -> plugin names) and ``edges``."""

    def __init__(self, nodes: dict[str, list[str]], edges: list[tuple[str, str]]) -> None:
        self.nodes = nodes
        self.edges = edges  # (dependent point, dependency point)

    def to_dot(self) -> str:
        """Render the graph as Graphviz DOT text (an edge points from a plugin to what it depends on)."""
        lines = ['digraph plugins {', '  rankdir=LR;']
        for point, names in self.nodes.items():
            label = point + ('\\n' + '\\n'.join(n for n in names if n != point) if any(n != point for n in names)
                             else '')
            lines.append(f'  "{_dot_escape(point)}" [label="{_dot_escape(label, keep_nl=True)}"];')
        for a, b in self.edges:
            lines.append(f'  "{_dot_escape(a)}" -> "{_dot_escape(b)}";')
        lines.append('}')
        return '\n'.join(lines) + '\n'

    def __repr__(self) -> str:
        return f'<PluginGraph nodes={len(self.nodes)} edges={len(self.edges)}>'


def _dot_escape(s: str, keep_nl: bool = False) -> str:
    s = s.replace('\\', '\\\\') if not keep_nl else s.replace('\\', '\\\\').replace('\\\\n', '\\n')
    return s.replace('"', '\\"')


def plugin_graph(v: Optional[Variables] = None) -> PluginGraph:
    """Return the dependency graph of the registered plugins (see :class:`PluginGraph`)."""
    reg = get_registry(v)
    with reg.lock:
        recs = reg.records()
    nodes: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for r in recs:
        nodes.setdefault(r.point, []).append(r.name)
        for d in r.deps:
            nodes.setdefault(d, [])
            if (r.point, d) not in edges:
                edges.append((r.point, d))
    return PluginGraph(nodes, edges)


__all__ = [
    'register_plugin', 'get_extension', 'get_extensions', 'init_all_plugins', 'shutdown_all_plugins',
    'set_extension', 'register_entry_point_plugins', 'describe_plugins', 'plugin_graph', 'PluginGraph',
    'async_plugins_ready', 'async_plugins_stopping', 'get_registry', 'Registry', 'PluginError',
    'ExtensionNotFoundError', 'PluginRegistrationError', 'PluginDependencyError', 'PluginConflictError',
    'PluginInitError',
]
