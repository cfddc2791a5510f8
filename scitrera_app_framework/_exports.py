"""Lazy and deprecated module exports: the one helper behind the modules' ``__getattr__``.

A module lists the names it loads on first use (``lazy``: name -> module that defines it) and the names it only
keeps for old imports (``moved``: name -> the module that is their home, or ``module:other_name`` for a name that
was an alias). A lazy name is imported once and then cached in the module; a moved name warns a
:class:`DeprecationWarning` on every access (naming the old path, the home and the version marker) and is never
cached, so each import of it warns::

    _EXPORTS = Exports(__name__, globals(), lazy={'serve': '._serve'}, moved={'old_name': 'pkg.home'})

    def __getattr__(name: str) -> object:
        return _EXPORTS.attribute(name)

    def __dir__() -> list[str]:
        return _EXPORTS.names()

Moved names are left out of ``dir()`` (and of ``__all__``), so tools that walk a module's names (``inspect``,
``register_package_plugins``) never trip a warning. Nothing is imported here beyond ``importlib``, ``sys`` and
``warnings`` (all loaded by the interpreter at start-up; not even ``typing``).
"""

from __future__ import annotations

import importlib
import sys
import warnings

TYPE_CHECKING = False  # typing is not imported at run time: it would double the import cost of the package
if TYPE_CHECKING:
    from typing import Any, Mapping, MutableMapping, Optional

DEPRECATED_SINCE = '0.1.0'
REMOVED_IN = '0.3.0'

_REGISTRY: dict[str, Exports] = {}


class Exports:
    """The lazy and moved names of one module (see the module docstring)."""

    __slots__ = ('module', '_namespace', 'lazy', 'moved')

    def __init__(self, module: str, namespace: MutableMapping[str, Any], lazy: Optional[Mapping[str, str]] = None,
                 moved: Optional[Mapping[str, str]] = None) -> None:
        self.module = module
        self._namespace = namespace
        self.lazy: dict[str, str] = dict(lazy or {})
        self.moved: dict[str, str] = dict(moved or {})
        both = sorted(set(self.lazy) & set(self.moved))
        if both:
            raise ValueError(f'{module}: names both lazy and moved: {both}')
        _REGISTRY[module] = self

    def _import(self, target: str) -> Any:
        if target.startswith('.'):
            package = self.module if '__path__' in self._namespace else self.module.rpartition('.')[0]
            return importlib.import_module(target, package)
        return importlib.import_module(target)

    def attribute(self, name: str) -> Any:
        """The value of ``name`` for the module's ``__getattr__``, which calls it directly (a moved name's warning
        points at the line that asked the module for it: two frames up).

        Raises:
            AttributeError: the module has no such name (the message names the module and the name).
        """
        target = self.lazy.get(name)
        if target is not None:
            value = getattr(self._import(target), name)
            self._namespace[name] = value
            return value
        home = self.moved.get(name)
        if home is None:
            raise AttributeError(f'module {self.module!r} has no attribute {name!r}')
        # ``from package import name`` asks twice: importlib's fromlist check (hasattr), then the import statement
        # itself; only the second is the user's access, so the first stays silent
        module, _, new_name = home.partition(':')
        try:
            caller = sys._getframe(2).f_globals.get('__name__')
        except ValueError:  # asked by the interpreter itself (an atexit callback): no Python caller
            caller = None
        if caller != 'importlib._bootstrap':
            warnings.warn(deprecation_message(f'{self.module}.{name}', module, new_name or name), DeprecationWarning,
                          stacklevel=3)
        return getattr(importlib.import_module(module), new_name or name)

    def names(self) -> list[str]:
        """The module's ``dir()``: its globals and lazy names (moved names are not listed)."""
        return sorted(set(self._namespace) | set(self.lazy))


def deprecation_message(old: str, home: str, name: str) -> str:
    """The text every moved name warns with: the old path (``module.name``), the version marker and where to
    import it from (``home``, as ``name``)."""
    return (f'{old} is deprecated since {DEPRECATED_SINCE} and will be removed in {REMOVED_IN}; import it from '
            f'{home} (from {home} import {name})')


def registered() -> dict[str, Exports]:
    """Every module's :class:`Exports`, by module name (only modules imported so far)."""
    return dict(_REGISTRY)


__all__ = ['Exports', 'deprecation_message', 'registered', 'DEPRECATED_SINCE', 'REMOVED_IN']
