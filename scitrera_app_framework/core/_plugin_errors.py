"""The plugin registry's errors (all are :class:`~scitrera_app_framework.exceptions.SAFError`)."""

from __future__ import annotations

from typing import Optional

from ..exceptions import SAFError


class PluginError(SAFError):
    """Base class of plugin registry errors."""


class ExtensionNotFoundError(PluginError, ValueError, LookupError):
    """No (enabled) plugin provides the requested extension point."""


class PluginRegistrationError(PluginError, ValueError):
    """A plugin cannot be registered (name clash, bad type, failing hook)."""


class PluginDependencyError(PluginError, ValueError):
    """A declared dependency is missing, or dependencies form a cycle (the message shows the whole path)."""


class PluginConflictError(PluginError, ValueError):
    """Kept for code that catches it; the registry no longer raises it: when several plugins answer
    ``is_enabled`` True for one extension point, the first registered is used and a warning names them all."""


class PluginInitError(PluginError, RuntimeError):
    """A plugin's ``initialize`` raised; names the plugin and extension point. Asking again retries.

    Threads that waited for the failing attempt get their own ``PluginInitError`` chained (``__cause__``) to
    the same original exception.
    """

    def __init__(self, message: str, plugin_name: str, extension_point: str) -> None:
        super().__init__(message)
        self.plugin_name = plugin_name
        self.extension_point = extension_point


class PluginShutdownError(PluginError, RuntimeError):
    """The app's plugins were shut down (``shutdown_all_plugins`` ran): nothing is initialized any more."""

    def __init__(self, extension_point: str, message: Optional[str] = None) -> None:
        super().__init__(message or (
            f'cannot provide extension point {extension_point!r}: the app has shut down (shutdown_all_plugins '
            f'ran) and nothing is initialized after shutdown'))
        self.extension_point = extension_point


__all__ = ['PluginError', 'ExtensionNotFoundError', 'PluginRegistrationError', 'PluginDependencyError',
           'PluginConflictError', 'PluginInitError', 'PluginShutdownError']
