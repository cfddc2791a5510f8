"""Framework core: initialization, logging, stateful paths, shutdown hooks and the plugin registry."""

from __future__ import annotations

from .core import (
    StatefulDirError,
    get_app_params,
    get_stateful_path,
    get_working_path,
    init_framework,
    init_framework_desktop,
    init_framework_embedded,
    init_framework_test_harness,
    is_stateful_ready,
    load_strategy,
    log_framework_variables,
)
from .defaults import get_variables
from .logs import current_log_context, get_logger, log_context
from .plugins import (
    ExtensionNotFoundError,
    PluginConflictError,
    PluginDependencyError,
    PluginError,
    PluginGraph,
    PluginInitError,
    PluginRegistrationError,
    async_plugins_ready,
    async_plugins_stopping,
    describe_plugins,
    get_extension,
    get_extensions,
    init_all_plugins,
    plugin_graph,
    register_entry_point_plugins,
    register_plugin,
    set_extension,
    shutdown_all_plugins,
)
from .shutdown import register_shutdown_function, run_shutdown_hooks

__all__ = [
    'init_framework', 'init_framework_desktop', 'init_framework_test_harness', 'init_framework_embedded',
    'get_logger', 'get_working_path', 'get_variables', 'register_shutdown_function', 'run_shutdown_hooks',
    'log_framework_variables', 'is_stateful_ready', 'get_stateful_path', 'get_app_params', 'load_strategy',
    'get_extension', 'get_extensions', 'register_plugin', 'init_all_plugins', 'shutdown_all_plugins',
    'set_extension', 'register_entry_point_plugins', 'describe_plugins', 'plugin_graph', 'PluginGraph',
    'async_plugins_ready', 'async_plugins_stopping', 'log_context', 'current_log_context', 'StatefulDirError',
    'PluginError', 'ExtensionNotFoundError', 'PluginRegistrationError', 'PluginDependencyError',
    'PluginConflictError', 'PluginInitError',
]
