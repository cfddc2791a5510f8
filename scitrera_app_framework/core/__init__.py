"""Framework core: initialization, logging, stateful paths, the lifecycle (shutdown, readiness, async mode) and
the plugin registry."""

from __future__ import annotations

from .async_mode import (
    capture_async_loop,
    clear_async_loop_ref,
    get_captured_async_loop,
    schedule_async_shutdown,
    set_async_auto_enabled,
)
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
    load_object,
    load_strategy,
    log_framework_variables,
)
from .defaults import get_variables
from .health import (  # (the report function health() is scitrera_app_framework.health: here the name is the module)
    health_server_address,
    is_ready,
    set_ready,
    start_health_server,
    start_health_server_from_env,
    stop_health_server,
)
from .logs import current_log_context, get_logger, log_context
from .plugins import (
    ExtensionNotFoundError,
    PluginConflictError,
    PluginDependencyError,
    PluginError,
    PluginGraph,
    PluginInitError,
    PluginRegistrationError,
    PluginShutdownError,
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
from .shutdown import (
    ShutdownInterrupt,
    ShutdownRequested,
    register_intake_stop,
    register_shutdown_function,
    run_shutdown_hooks,
    wait_for_shutdown,
)

__all__ = [
    'init_framework', 'init_framework_desktop', 'init_framework_test_harness', 'init_framework_embedded',
    'get_logger', 'get_working_path', 'get_variables', 'register_shutdown_function', 'run_shutdown_hooks',
    'register_intake_stop', 'wait_for_shutdown', 'ShutdownRequested', 'ShutdownInterrupt',
    'log_framework_variables', 'is_stateful_ready', 'get_stateful_path', 'get_app_params', 'load_strategy',
    'load_object', 'get_extension', 'get_extensions', 'register_plugin', 'init_all_plugins', 'shutdown_all_plugins',
    'set_extension', 'register_entry_point_plugins', 'describe_plugins', 'plugin_graph', 'PluginGraph',
    'async_plugins_ready', 'async_plugins_stopping', 'capture_async_loop', 'get_captured_async_loop',
    'clear_async_loop_ref', 'set_async_auto_enabled', 'schedule_async_shutdown',
    'is_ready', 'set_ready', 'start_health_server', 'start_health_server_from_env', 'stop_health_server',
    'health_server_address', 'log_context', 'current_log_context', 'StatefulDirError',
    'PluginError', 'ExtensionNotFoundError', 'PluginRegistrationError', 'PluginDependencyError',
    'PluginConflictError', 'PluginInitError', 'PluginShutdownError',
]
