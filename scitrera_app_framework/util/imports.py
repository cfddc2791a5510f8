"""Import helpers: resolve dotted names to Python objects and discover types in modules."""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any, Iterable, Optional, Union


def ext_get_python(name: str) -> Any:
    """Return the object named by a dotted path such as ``'package.module.attr'``.

    The longest importable module prefix is imported, then the remaining parts are looked up as
    attributes. A plain module path returns the module.

    Raises:
        ValueError: for a malformed name.
        ImportError: when no prefix of the name can be imported (names the missing module).
        AttributeError: when the module exists but lacks the attribute (names both).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'expected a dotted Python path like "package.module.Name", got {name!r}')
    name = name.strip()
    parts = name.split('.')
    if any(not p.isidentifier() for p in parts):
        raise ValueError(f'malformed Python path {name!r}: every dot-separated part must be an identifier')
    module: Optional[ModuleType] = None
    first_error: Optional[ImportError] = None
    split = len(parts)
    while split > 0:
        mod_name = '.'.join(parts[:split])
        try:
            module = importlib.import_module(mod_name)
            break
        except ModuleNotFoundError as e:
            # only keep walking up if the missing module is the one we asked for (or a parent)
            if e.name is not None and not mod_name.startswith(e.name):
                raise
            if first_error is None:
                first_error = e
            split -= 1
    if module is None:
        raise ImportError(f'cannot import {name!r}: no module named {parts[0]!r}') from first_error
    obj: Any = module
    for i, attr in enumerate(parts[split:], start=split):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            owner = '.'.join(parts[:i])
            raise AttributeError(
                f'cannot resolve {name!r}: {owner!r} has no attribute {attr!r}'
            ) from (first_error if i == split else None)
    return obj


def get_python_type_by_name(name: Union[str, type], parent_type: Optional[type] = None) -> type:
    """Resolve ``name`` (a dotted path or a type) to a type, checking it subclasses ``parent_type``.

    Raises:
        ValueError / ImportError / AttributeError: as :func:`ext_get_python`.
        TypeError: when the object is not a class or not a subclass of ``parent_type``.
    """
    obj = ext_get_python(name) if isinstance(name, str) else name
    if not isinstance(obj, type):
        raise TypeError(f'{name!r} resolves to {obj!r}, which is not a class')
    if parent_type is not None and not issubclass(obj, parent_type):
        raise TypeError(
            f'{name!r} resolves to {obj.__module__}.{obj.__qualname__}, which is not a subclass of '
            f'{parent_type.__module__}.{parent_type.__qualname__}'
        )
    return obj


def import_modules(package: Union[str, ModuleType], recursive: bool = False,
                   exclusions: Iterable[str] = ()) -> list[ModuleType]:
    """Import ``package`` and its submodules (all levels when ``recursive``); return them in import order.

    ``exclusions`` are module names (full or relative to the package) to skip, with their children.

    Raises:
        ImportError: when the package or one of its submodules fails to import.
    """
    import pkgutil

    pkg = importlib.import_module(package) if isinstance(package, str) else package
    base = pkg.__name__
    excluded = {e if e.startswith(base + '.') or e == base else f'{base}.{e}' for e in exclusions}

    def _skip(mod_name: str) -> bool:
        return any(mod_name == ex or mod_name.startswith(ex + '.') for ex in excluded)

    result: list[ModuleType] = [pkg]
    paths = getattr(pkg, '__path__', None)
    if not paths:
        return result
    walker = pkgutil.walk_packages(paths, base + '.') if recursive else pkgutil.iter_modules(paths, base + '.')
    for info in walker:
        if _skip(info.name):
            continue
        result.append(importlib.import_module(info.name))
    return result


def find_types_in_modules(modules: Iterable[ModuleType], parent_type: type,
                          include_parent: bool = False) -> list[type]:
    """Return the classes defined in ``modules`` that subclass ``parent_type``, in definition order.

    Only classes whose ``__module__`` is the module itself count (re-exports are skipped), each at most once.
    """
    found: list[type] = []
    seen: set[type] = set()
    for mod in modules:
        for obj in vars(mod).values():
            if (isinstance(obj, type) and obj.__module__ == mod.__name__ and issubclass(obj, parent_type)
                    and (include_parent or obj is not parent_type) and obj not in seen):
                seen.add(obj)
                found.append(obj)
    return found


def path_for_module(module: Union[str, ModuleType]) -> str:
    """Return the directory that holds ``module`` (the package directory for a package).

    Raises:
        ValueError: for a namespace or built-in module that has no file.
    """
    mod = importlib.import_module(module) if isinstance(module, str) else module
    f = getattr(mod, '__file__', None)
    if not f:
        raise ValueError(f'module {mod.__name__!r} has no file (built-in or namespace package)')
    return os.path.dirname(os.path.abspath(f))
