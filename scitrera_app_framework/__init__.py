"""scitrera-app-framework: layered configuration, logging, shutdown hooks and a plugin registry in one call.

    from scitrera_app_framework import init_framework, get_logger
    v = init_framework('my-app')
    get_logger(v).info('hello')

Names are loaded on first use, so importing the package costs almost nothing.
"""

from __future__ import annotations

import importlib

from ._version import __version__ as __version__

TYPE_CHECKING = False  # typing is not imported at run time: it would double the import cost of the package

_EXPORTS = {
    'init_framework': 'core.core', 'init_framework_desktop': 'core.core', 'init_framework_test_harness': 'core.core',
    'init_framework_embedded': 'core.core', 'get_working_path': 'core.core', 'is_stateful_ready': 'core.core',
    'init_framework_cli': 'core.core',
    'log_framework_variables': 'core.core', 'load_strategy': 'core.core',
    'get_logger': 'core.logs', 'log_context': 'core.logs',
    'get_variables': 'core.defaults',
    'register_shutdown_function': 'core.shutdown', 'run_shutdown_hooks': 'core.shutdown',
    'register_plugin': 'core.plugins', 'get_extension': 'core.plugins', 'get_extensions': 'core.plugins',
    'init_all_plugins': 'core.plugins', 'shutdown_all_plugins': 'core.plugins', 'set_extension': 'core.plugins',
    'register_entry_point_plugins': 'core.plugins', 'describe_plugins': 'core.plugins',
    'plugin_graph': 'core.plugins', 'async_plugins_ready': 'core.plugins', 'async_plugins_stopping': 'core.plugins',
    'add_env_file_source': 'core.util', 'add_file_source': 'core.util', 'add_secrets_dir_source': 'core.util',
    'describe_variables': 'core.util',
    'capture_async_loop': 'core.async_mode', 'get_captured_async_loop': 'core.async_mode',
    'clear_async_loop_ref': 'core.async_mode', 'set_async_auto_enabled': 'core.async_mode',
    'schedule_async_shutdown': 'core.async_mode',
    'is_ready': 'core.health', 'set_ready': 'core.health', 'health': 'core.health',
    'register_intake_stop': 'core.shutdown', 'wait_for_shutdown': 'core.shutdown',
    'SAFError': 'exceptions', 'ConfigurationError': 'exceptions',
    'Settings': 'settings', 'Secret': 'settings', 'SettingsError': 'settings', 'bind_settings': 'settings',
    'Variables': 'api.variables', 'EnvPlacement': 'api.constants', 'Plugin': 'api.plugins',
    'register_package_plugins': 'base_plugins', 'EXT_BACKGROUND_EXEC': 'base_plugins',
    'get_background_exec': 'base_plugins', 'EXT_PROGRESS_TRACKER': 'base_plugins',
    'get_progress_tracker': 'base_plugins',
    'ext_parse_bool': 'util.parsing', 'ext_parse_csv': 'util.parsing', 'ext_get_python': 'util.imports',
}

__all__ = [
    'ConfigurationError',
    'EXT_BACKGROUND_EXEC',
    'EXT_PROGRESS_TRACKER',
    'EnvPlacement',
    'Plugin',
    'SAFError',
    'Secret',
    'Settings',
    'SettingsError',
    'Variables',
    'add_env_file_source',
    'add_file_source',
    'add_secrets_dir_source',
    'async_plugins_ready',
    'async_plugins_stopping',
    'bind_settings',
    'capture_async_loop',
    'clear_async_loop_ref',
    'describe_plugins',
    'describe_variables',
    'ext_get_python',
    'ext_parse_bool',
    'ext_parse_csv',
    'get_background_exec',
    'get_captured_async_loop',
    'get_extension',
    'get_extensions',
    'get_logger',
    'get_progress_tracker',
    'get_variables',
    'get_working_path',
    'health',
    'init_all_plugins',
    'init_framework',
    'init_framework_cli',
    'init_framework_desktop',
    'init_framework_embedded',
    'init_framework_test_harness',
    'is_ready',
    'is_stateful_ready',
    'load_strategy',
    'log_context',
    'log_framework_variables',
    'plugin_graph',
    'register_entry_point_plugins',
    'register_intake_stop',
    'register_package_plugins',
    'register_plugin',
    'register_shutdown_function',
    'run_shutdown_hooks',
    'schedule_async_shutdown',
    'set_async_auto_enabled',
    'set_extension',
    'set_ready',
    'shutdown_all_plugins',
    'wait_for_shutdown',
]


def __getattr__(name: str) -> object:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'{__name__}.{mod}'), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # let type checkers and IDEs see the real names
    from .api.constants import EnvPlacement
    from .api.plugins import Plugin
    from .api.variables import Variables
    from .base_plugins import (
        EXT_BACKGROUND_EXEC,
        EXT_PROGRESS_TRACKER,
        get_background_exec,
        get_progress_tracker,
        register_package_plugins,
    )
    from .core.async_mode import (
        capture_async_loop,
        clear_async_loop_ref,
        get_captured_async_loop,
        schedule_async_shutdown,
        set_async_auto_enabled,
    )
    from .core.core import (
        get_working_path,
        init_framework,
        init_framework_cli,
        init_framework_desktop,
        init_framework_embedded,
        init_framework_test_harness,
        is_stateful_ready,
        load_strategy,
        log_framework_variables,
    )
    from .core.defaults import get_variables
    from .core.health import health, is_ready, set_ready
    from .core.logs import get_logger, log_context
    from .core.plugins import (
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
    from .core.shutdown import register_intake_stop, register_shutdown_function, run_shutdown_hooks, wait_for_shutdown
    from .core.util import add_env_file_source, add_file_source, add_secrets_dir_source, describe_variables
    from .exceptions import ConfigurationError, SAFError
    from .settings import Secret, Settings, SettingsError, bind_settings
    from .util.imports import ext_get_python
    from .util.parsing import ext_parse_bool, ext_parse_csv
