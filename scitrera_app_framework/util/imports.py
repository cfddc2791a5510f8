"""Import helpers: resolve dotted names to Python objects and discover types in modules."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Optional, Union, cast


def ext_get_python(name: str) -> Any:
    """Return the object named by a dotted path such as ``'package.module.attr'``.

    The longest importable module prefix is imported, then the remaining parts are looked up as
    attributes (so ``'os.path'`` returns the ``os.path`` module and ``'os.path.join'`` the function). A name
    without a dot is rejected, as in the original: it names no attribute of any module.

    Returns the object.

    Raises:
        ValueError: for a malformed name (not a string, empty, a part that is not an identifier) or a name
            without a dot such as ``'invalid'``.
        ModuleNotFoundError: when no prefix of the name can be imported (names the missing module; an
            ``ImportError``). An import error raised *inside* an existing module propagates unchanged.
        AttributeError: when the module exists but lacks the attribute (names both).
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f'expected a dotted Python path like "package.module.Name", got {name!r}')
    name = name.strip()
    parts = name.split('.')
    if any(not p.isidentifier() for p in parts):
        raise ValueError(f'malformed Python path {name!r}: every dot-separated part must be an identifier')
    if len(parts) < 2:
        raise ValueError(f'invalid Python path {name!r}: expected a dotted path like "package.module.Name" '
                         f'(a module and the name of an object in it)')
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
        raise ModuleNotFoundError(f'cannot import {name!r}: no module named {parts[0]!r}',
                                  name=parts[0]) from first_error
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

    Returns the type.

    Raises:
        ValueError / ModuleNotFoundError / AttributeError: as :func:`ext_get_python` (a missing module is a
            ``ModuleNotFoundError``).
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


def _import(module: Union[str, ModuleType]) -> ModuleType:
    return importlib.import_module(module) if isinstance(module, str) else module


def import_modules(package: Union[str, ModuleType], recursive: bool = True,
                   exclusions: Iterable[str] = ()) -> list[ModuleType]:
    """Import the submodules of ``package`` (at every level when ``recursive``, the default, as in the original).

    ``exclusions`` are module names (full or relative to the package) to skip, with their children.

    Returns the submodules in import order; the package itself is imported but not listed (as in the original,
    whose generator yielded only the submodules).

    Raises:
        ValueError: ``package`` is a plain module, not a package (it has no submodules to import).
        ModuleNotFoundError: the package does not exist ("Package '<name>' not found").
        ImportError: the package or one of its submodules fails to import.
    """
    import pkgutil

    try:
        pkg = _import(package)
    except ModuleNotFoundError as e:
        if isinstance(package, str) and e.name is not None and (package == e.name or package.startswith(e.name + '.')):
            raise ModuleNotFoundError(f"Package {package!r} not found: no module named {e.name!r} on sys.path; check "
                                      f'the name and that its distribution is installed', name=e.name) from e
        raise
    base = pkg.__name__
    paths = getattr(pkg, '__path__', None)
    if paths is None:
        raise ValueError(f'{base!r} is not a package (it is a plain module): import_modules() needs a package (a '
                         f'directory with submodules)')
    excluded = {e if e.startswith(base + '.') or e == base else f'{base}.{e}' for e in exclusions}

    def _skip(mod_name: str) -> bool:
        return any(mod_name == ex or mod_name.startswith(ex + '.') for ex in excluded)

    result: list[ModuleType] = []
    walker = pkgutil.walk_packages(paths, base + '.') if recursive else pkgutil.iter_modules(paths, base + '.')
    for info in walker:
        if _skip(info.name):
            continue
        result.append(importlib.import_module(info.name))
    return result


def _modules_to_scan(modules: Union[str, ModuleType, Iterable[Union[str, ModuleType]]],
                     recursive: bool) -> list[ModuleType]:
    """A package (name or module) is expanded to its submodules; an iterable of modules is taken as given."""
    if isinstance(modules, str):
        modules = importlib.import_module(modules)
    if isinstance(modules, ModuleType):
        if getattr(modules, '__path__', None) is None:
            return [modules]
        return import_modules(modules, recursive=recursive)
    return [_import(m) for m in cast(Iterable[Union[str, ModuleType]], modules)]


def find_types_in_modules(package_name: Union[str, ModuleType, Iterable[Union[str, ModuleType]]],
                          base_type: type, recursive: bool = True, exclude_base_type: bool = True,
                          exclude_abstract: bool = True, *, include_parent: Optional[bool] = None) -> list[type]:
    """Return the classes that subclass ``base_type`` and are defined in the given module(s).

    ``package_name`` is a package (its name or the module object; its submodules are imported too, at every
    level when ``recursive``), a plain module (name or object), or an iterable of modules (names or objects),
    which are scanned exactly as given (``recursive`` does not apply).

    Only classes whose ``__module__`` is the scanned module itself count (re-exports and aliases are skipped), so
    each class is reported once, under the module that defines it. ``exclude_base_type`` leaves out
    ``base_type`` itself; ``exclude_abstract`` leaves out abstract classes (``inspect.isabstract``: abstract
    methods not yet implemented). ``include_parent`` is the older spelling of ``exclude_base_type=False``.

    Returns the classes in module order, then in ``dir()`` order (by attribute name) within a module, as the
    original.

    Raises:
        ModuleNotFoundError / ImportError: a module does not exist or fails to import.
    """
    if include_parent is not None:
        exclude_base_type = not include_parent
    found: list[type] = []
    seen: set[type] = set()
    for mod in _modules_to_scan(package_name, recursive):
        for _attr, obj in sorted(vars(mod).items()):  # dir() order, as the original (register order follows it)
            if not isinstance(obj, type) or obj in seen or obj.__module__ != mod.__name__:
                continue
            if not issubclass(obj, base_type):
                continue
            if (exclude_base_type and obj is base_type) or (exclude_abstract and inspect.isabstract(obj)):
                continue
            seen.add(obj)
            found.append(obj)
    return found


def path_for_module(name: Union[str, ModuleType], raise_exceptions: bool = True) -> Optional[Path]:
    """Return the directory that holds module ``name`` (the package directory for a package) as a ``Path``.

    A module that is not imported yet is located without running it (only its parent packages are imported).
    A namespace package gives its first directory.

    Returns the absolute directory; None, instead of raising, when ``raise_exceptions`` is False and the
    module does not exist, cannot be imported or has no file.

    Raises (only when ``raise_exceptions``):
        ModuleNotFoundError: the module (or a parent package) does not exist.
        ImportError: a parent package fails to import.
        ValueError: the module has no file (a built-in or frozen module) or ``name`` is not a module name.
    """
    try:
        return _path_for_module(name)
    except (ImportError, ValueError):
        if raise_exceptions:
            raise
        return None


def _path_for_module(name: Union[str, ModuleType]) -> Path:
    if isinstance(name, str):
        if not name.strip():
            raise ValueError(f'expected a module name like "package.module", got {name!r}')
        mod_name = name.strip()
        loaded = sys.modules.get(mod_name)
        if loaded is not None:
            return _module_dir(loaded)
        spec = importlib.util.find_spec(mod_name)  # imports parents only; ModuleNotFoundError for a missing parent
        if spec is None:
            raise ModuleNotFoundError(f'no module named {mod_name!r}', name=mod_name)
        if spec.has_location and spec.origin:
            return Path(os.path.abspath(spec.origin)).parent
        if spec.loader is not None and spec.origin == 'frozen':
            # frozen stdlib modules (Python >= 3.11) still know their source file once imported
            return _module_dir(importlib.import_module(mod_name))
        return _dir_or_error(mod_name, None, spec.submodule_search_locations)
    if isinstance(name, ModuleType):
        return _module_dir(name)
    raise ValueError(f'expected a module or a module name like "package.module", got {name!r}')


def _module_dir(mod: ModuleType) -> Path:
    return _dir_or_error(mod.__name__, getattr(mod, '__file__', None), getattr(mod, '__path__', None))


def _dir_or_error(mod_name: str, file: Optional[str], locations: Optional[Iterable[str]]) -> Path:
    """The directory of ``file``, else the first package location (namespace package); ValueError if neither."""
    if file:
        return Path(os.path.abspath(file)).parent
    first = next(iter(locations or ()), None)
    if first:
        return Path(os.path.abspath(first))
    raise ValueError(f'module {mod_name!r} has no file (built-in or frozen module)')


__all__ = ['ext_get_python', 'get_python_type_by_name', 'import_modules', 'find_types_in_modules',
           'path_for_module']
