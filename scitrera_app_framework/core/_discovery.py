"""Plugins made from plain functions (:func:`set_extension`) and plugins found through entry points."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Optional

from ..api.plugins import Plugin
from ..api.variables import Variables
from ._plugin_errors import PluginError
from ._registry import get_registry, register_plugin
from .defaults import get_variables

_log = logging.getLogger('saf.plugins')


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


class _FunctionPlugin(Plugin[Any]):
    eager = False  # facades are lazy
    _point = ''
    _init_fn: Callable[..., Any] = staticmethod(lambda: None)
    _shutdown_fn: Optional[Callable[..., Any]] = None
    _deps: tuple[str, ...] = ()

    def name(self) -> str:
        return f'SetExtension|{self._point}|'  # the original's name for a facade

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
                  dependencies: Optional[Iterable[str]] = None, v: Optional[Variables] = None) -> Plugin[Any]:
    """Register a lazy plugin for ``point`` built from plain functions; returns it.

    ``init_fn(v, logger)`` returns the value and ``shutdown_fn(v, logger, value)`` releases it; either may
    take fewer positional parameters (``init_fn()`` is fine). Calling it again for a point whose facade is not
    initialized yet replaces the facade.

    Raises:
        PluginRegistrationError: the facade of ``point`` (named ``SetExtension|<point>|``, as in the original) is
            already initialized.
    """
    v = get_variables(v)
    reg = get_registry(v)
    cls = type(f'Extension[{point}]', (_FunctionPlugin,), {
        '_point': point, '_init_fn': staticmethod(init_fn),
        '_shutdown_fn': staticmethod(shutdown_fn) if shutdown_fn is not None else None,
        '_deps': tuple(dependencies or ()), '__module__': __name__,
    })
    old = reg.record(f'SetExtension|{point}|')
    if old is not None and isinstance(old.plugin, _FunctionPlugin):
        reg.forget(old)  # only when it is not initialized (nor initializing)
    return register_plugin(cls, v)


def register_entry_point_plugins(v: Optional[Variables] = None,
                                 group: str = 'scitrera_app_framework.plugins') -> list[Plugin[Any]]:
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
    registered: list[Plugin[Any]] = []
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
