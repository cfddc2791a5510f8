"""Built-in optional plugins: the background job executor and the progress tracker.

``init_framework(base_plugins=True)`` (or ``SAF_BASE_PLUGINS=true``) registers both:
``bg_exec.BackgroundThreadExecutorPlugin`` and ``progress_tracker.ProgressTrackerPlugin``. (Their earlier paths,
``background.BackgroundExecPlugin`` and the module ``progress``, are deprecated since 0.1.0.)
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

from ..api.plugins import Plugin
from ..api.variables import Variables

if TYPE_CHECKING:
    from .background import JobExecutor
    from .progress_tracker import ProgressTracker

EXT_BACKGROUND_EXEC = '__bg_exec'
EXT_PROGRESS_TRACKER = '__progress_tracker'


def register_package_plugins(package: Union[str, ModuleType], v: Optional[Variables] = None,
                             exclusions: Iterable[Union[str, ModuleType, type]] = (), recursive: bool = False,
                             init: bool = False) -> list[Plugin[Any]]:
    """Import ``package``'s modules (all levels when ``recursive``) and register every Plugin subclass defined
    in them, each class once (aliases and re-exports are not registered again). Classes with
    ``abstract = True`` in their own body, and abstract classes (``inspect.isabstract``), are skipped.

    ``exclusions`` may mix modules and plugin classes: a string is a module name (full or relative to the
    package; the module and its children are not imported) or the full ``module.ClassName`` of a class not to
    register; a module object is excluded like its name; a class is not registered (under any of its aliases).
    ``package`` may also be a plain module, whose own classes are registered.

    Returns the registered plugins, in module order, then ``dir()`` order (by attribute name) within a module, as
    in the original; the package's own ``__init__`` is not scanned (as in the original), a plain module is.

    Raises:
        ModuleNotFoundError / ImportError: the package or one of its modules fails to import.
        TypeError: an exclusion is neither a string, a module nor a class.
        PluginRegistrationError: a plugin cannot be registered.
    """
    import importlib

    from ..core.plugins import register_plugin
    from ..util.imports import find_types_in_modules, import_modules

    module_names: list[str] = []
    class_names: set[str] = set()
    excluded_classes: set[type] = set()
    if isinstance(exclusions, (str, ModuleType, type)):  # a single exclusion, not an iterable of them
        exclusions = (exclusions,)
    for item in exclusions:
        if isinstance(item, type):
            excluded_classes.add(item)
        elif isinstance(item, ModuleType):
            module_names.append(item.__name__)
        elif isinstance(item, str):
            module_names.append(item)
            class_names.add(item)
        else:
            raise TypeError(f'register_package_plugins() exclusions must be module names, modules or plugin '
                            f'classes, got {item!r}')

    pkg = importlib.import_module(package) if isinstance(package, str) else package
    if getattr(pkg, '__path__', None) is None:
        modules = [pkg]
    else:
        modules = import_modules(pkg, recursive=recursive, exclusions=module_names)
    out: list[Plugin[Any]] = []
    for cls in find_types_in_modules(modules, Plugin):
        if (cls in excluded_classes or f'{cls.__module__}.{cls.__qualname__}' in class_names
                or cls.__dict__.get('abstract', False)):
            continue
        out.append(register_plugin(cls, v, init=init))
    return out


def get_background_exec(v: Optional[Variables] = None) -> JobExecutor:
    """Return the background executor (a ``BackgroundExecutor``, or the Dask backend with ``SAF_JOB_BACKEND=dask``;
    registering its plugin first if needed)."""
    from ..core.plugins import get_extension, get_registry
    from .bg_exec import BackgroundThreadExecutorPlugin

    if not get_registry(v).has_point(EXT_BACKGROUND_EXEC):
        from ..core.plugins import register_plugin
        register_plugin(BackgroundThreadExecutorPlugin, v)
    executor: JobExecutor = get_extension(EXT_BACKGROUND_EXEC, v)
    return executor


def get_progress_tracker(v: Optional[Variables] = None) -> ProgressTracker:
    """Return the progress tracker (registering its plugin first if needed)."""
    from ..core.plugins import get_extension, get_registry
    from .progress_tracker import ProgressTrackerPlugin

    if not get_registry(v).has_point(EXT_PROGRESS_TRACKER):
        from ..core.plugins import register_plugin
        register_plugin(ProgressTrackerPlugin, v)
    tracker: ProgressTracker = get_extension(EXT_PROGRESS_TRACKER, v)
    return tracker


__all__ = ['register_package_plugins', 'EXT_BACKGROUND_EXEC', 'EXT_PROGRESS_TRACKER', 'get_background_exec',
           'get_progress_tracker']
