"""Built-in optional plugins: the background job executor and the progress tracker.

``init_framework(base_plugins=True)`` (or ``SAF_BASE_PLUGINS=true``) registers both.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Iterable, Optional, Union

from ..api.plugins import Plugin
from ..api.variables import Variables

if TYPE_CHECKING:
    from .background import BackgroundExecutor
    from .progress import ProgressTracker

EXT_BACKGROUND_EXEC = '__bg_exec'
EXT_PROGRESS_TRACKER = '__progress_tracker'


def register_package_plugins(package: Union[str, ModuleType], v: Optional[Variables] = None,
                             exclusions: Iterable[str] = (), recursive: bool = False,
                             init: bool = False) -> list[Plugin]:
    """Import ``package``'s modules (all levels when ``recursive``) and register every Plugin subclass defined
    in them (classes with ``abstract = True`` in their own body are skipped); return the registered plugins.

    ``exclusions`` are module names (full or relative to the package) to skip.

    Raises:
        ImportError: a module of the package fails to import.
        PluginRegistrationError: a plugin cannot be registered.
    """
    from ..core.plugins import register_plugin
    from ..util.imports import find_types_in_modules, import_modules

    modules = import_modules(package, recursive=recursive, exclusions=exclusions)
    out: list[Plugin] = []
    for cls in find_types_in_modules(modules, Plugin):
        if cls.__dict__.get('abstract', False):
            continue
        out.append(register_plugin(cls, v, init=init))
    return out


def get_background_exec(v: Optional[Variables] = None) -> BackgroundExecutor:
    """Return the background executor (registering its plugin first if needed)."""
    from ..core.plugins import get_extension, get_registry
    from .background import BackgroundExecPlugin

    if EXT_BACKGROUND_EXEC not in get_registry(v).points:
        from ..core.plugins import register_plugin
        register_plugin(BackgroundExecPlugin, v)
    return get_extension(EXT_BACKGROUND_EXEC, v)


def get_progress_tracker(v: Optional[Variables] = None) -> ProgressTracker:
    """Return the progress tracker (registering its plugin first if needed)."""
    from ..core.plugins import get_extension, get_registry
    from .progress import ProgressTrackerPlugin

    if EXT_PROGRESS_TRACKER not in get_registry(v).points:
        from ..core.plugins import register_plugin
        register_plugin(ProgressTrackerPlugin, v)
    return get_extension(EXT_PROGRESS_TRACKER, v)


__all__ = ['register_package_plugins', 'EXT_BACKGROUND_EXEC', 'EXT_PROGRESS_TRACKER', 'get_background_exec',
           'get_progress_tracker']
