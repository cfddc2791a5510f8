"""Framework core: initialization, logging, stateful paths, the lifecycle (shutdown, readiness, async mode) and
the plugin registry.

The names here are the original 0.0.69's; each lives in its own module (``core.core``, ``core.plugins``,
``core.async_mode``, ``core.shutdown``, ``core.logs``, ``core.defaults``), where new code may import it from too.
"""

from __future__ import annotations

from .._exports import Exports
from .async_mode import (
    async_plugins_ready,
    async_plugins_stopping,
    capture_async_loop,
    clear_async_loop_ref,
    get_captured_async_loop,
    schedule_async_shutdown,
    set_async_auto_enabled,
)
from .core import (
    get_working_path,
    init_framework,
    is_stateful_ready,
    load_strategy,
    log_framework_variables,
)
from .defaults import get_variables
from .logs import get_logger
from .plugins import (
    get_extension,
    get_extensions,
    init_all_plugins,
    register_plugin,
    set_extension,
    shutdown_all_plugins,
)
from .shutdown import register_shutdown_function

__all__ = [
    'init_framework', 'get_logger', 'get_working_path', 'get_variables', 'register_shutdown_function',
    'log_framework_variables', 'is_stateful_ready', 'load_strategy', 'get_extension', 'get_extensions',
    'register_plugin', 'init_all_plugins', 'shutdown_all_plugins', 'set_extension', 'async_plugins_ready',
    'async_plugins_stopping', 'capture_async_loop', 'get_captured_async_loop', 'clear_async_loop_ref',
    'set_async_auto_enabled', 'schedule_async_shutdown',
]

_P = 'scitrera_app_framework.core'

# added here before 0.1.0: deprecated, with a warning naming the home
_EXPORTS = Exports(__name__, globals(), moved={
    **dict.fromkeys(['init_framework_desktop', 'init_framework_test_harness', 'init_framework_embedded',
                     'get_stateful_path', 'get_app_params', 'load_object', 'StatefulDirError'], f'{_P}.core'),
    **dict.fromkeys(['run_shutdown_hooks', 'register_intake_stop', 'wait_for_shutdown', 'ShutdownRequested',
                     'ShutdownInterrupt'], f'{_P}.shutdown'),
    **dict.fromkeys(['register_entry_point_plugins', 'describe_plugins', 'plugin_graph', 'PluginGraph',
                     'PluginError', 'ExtensionNotFoundError', 'PluginRegistrationError', 'PluginDependencyError',
                     'PluginConflictError', 'PluginInitError', 'PluginShutdownError'], f'{_P}.plugins'),
    **dict.fromkeys(['is_ready', 'set_ready', 'start_health_server', 'start_health_server_from_env',
                     'stop_health_server', 'health_server_address'], f'{_P}.health'),
    **dict.fromkeys(['log_context', 'current_log_context'], f'{_P}.log_format'),
})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
