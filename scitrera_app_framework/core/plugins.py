"""The plugin registry: the public surface.

Where things live: :mod:`._registry` (the engine: registration, initialization with dependencies, the
one-attempt-at-a-time rule and the wait-for graph, shutdown in reverse dependency order), :mod:`._plugin_errors`
(the errors), :mod:`._discovery` (plugins from plain functions and from entry points), :mod:`._introspect`
(``describe_plugins`` and the dependency graph) and :mod:`.async_mode` (the async lifecycle). Everything public
is importable from here.

The registry lives in the app context of a :class:`~scitrera_app_framework.Variables` instance, so each
``Variables`` (the default one, a test's own, a tenant's) has its own set of extension points. Shutdown runs in
reverse dependency order; after :func:`shutdown_all_plugins` the registry is closed (:class:`PluginShutdownError`).
"""

from __future__ import annotations

from ._discovery import register_entry_point_plugins, set_extension
from ._introspect import PluginGraph, describe_plugins, plugin_graph
from ._plugin_errors import (
    ExtensionNotFoundError,
    PluginConflictError,
    PluginDependencyError,
    PluginError,
    PluginInitError,
    PluginRegistrationError,
    PluginShutdownError,
)
from ._registry import (
    FAILURES_VAR,
    PluginRecord,
    PluginState,
    Registry,
    get_extension,
    get_extensions,
    get_registry,
    init_all_plugins,
    register_plugin,
    shutdown_all_plugins,
    shutdown_order,
)
from .async_mode import (  # the original's core.plugins held the async functions: their paths are kept
    async_plugins_ready,
    async_plugins_stopping,
    capture_async_loop,
    clear_async_loop_ref,
    get_captured_async_loop,
    schedule_async_shutdown,
    set_async_auto_enabled,
)

__all__ = [
    'register_plugin', 'get_extension', 'get_extensions', 'init_all_plugins', 'shutdown_all_plugins',
    'set_extension', 'register_entry_point_plugins', 'describe_plugins', 'plugin_graph', 'PluginGraph',
    'async_plugins_ready', 'async_plugins_stopping', 'capture_async_loop', 'clear_async_loop_ref',
    'get_captured_async_loop', 'schedule_async_shutdown', 'set_async_auto_enabled', 'get_registry', 'Registry',
    'PluginRecord', 'PluginState', 'shutdown_order', 'FAILURES_VAR',
    'PluginError', 'ExtensionNotFoundError', 'PluginRegistrationError', 'PluginDependencyError',
    'PluginConflictError', 'PluginInitError', 'PluginShutdownError',
]
