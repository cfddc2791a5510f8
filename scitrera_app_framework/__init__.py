"""scitrera-app-framework: layered configuration, logging, shutdown hooks and a plugin registry in one call.

    from scitrera_app_framework import init_framework, get_logger
    v = init_framework('my-app')
    get_logger(v).info('hello')

The names here are the original 0.0.69's top-level names, loaded on first use from their home module, so
importing the package costs almost nothing. Every other name has one home module (README, "Where each name
lives"); the few this package also offered here before 0.1.0 still work with a DeprecationWarning naming it.
"""

from __future__ import annotations

from ._version import __version__ as __version__

TYPE_CHECKING = False  # typing is not imported at run time: it would double the import cost of the package

_P = 'scitrera_app_framework'

# the original 0.0.69's top-level names (and shutdown_all_plugins, which its README imports from here): loaded on
# first use from their home module, silently
_LAZY = {
    'init_framework': '.core.core', 'init_framework_desktop': '.core.core', 'init_framework_test_harness': '.core.core',
    'init_framework_embedded': '.core.core', 'get_working_path': '.core.core',
    'get_logger': '.core.logs', 'get_variables': '.core.defaults', 'register_shutdown_function': '.core.shutdown',
    'register_plugin': '.core.plugins', 'get_extension': '.core.plugins', 'get_extensions': '.core.plugins',
    'init_all_plugins': '.core.plugins', 'shutdown_all_plugins': '.core.plugins',
    'async_plugins_ready': '.core.async_mode', 'async_plugins_stopping': '.core.async_mode',
    'add_env_file_source': '.core.util',
    'Variables': '.api.variables', 'Plugin': '.api.plugins',
    'register_package_plugins': '.base_plugins', 'EXT_BACKGROUND_EXEC': '.base_plugins',
    'get_background_exec': '.base_plugins', 'EXT_PROGRESS_TRACKER': '.base_plugins',
    'get_progress_tracker': '.base_plugins',
    'ext_parse_bool': '.util.parsing', 'ext_parse_csv': '.util.parsing', 'ext_get_python': '.util.imports',
}

# names this package added here before 0.1.0: still importable, with a DeprecationWarning naming their home
_MOVED = {
    'init_framework_cli': f'{_P}.core.core', 'is_stateful_ready': f'{_P}.core.core', 'load_strategy': f'{_P}.core.core',
    'log_framework_variables': f'{_P}.core.core',
    'log_context': f'{_P}.core.log_format',
    'register_intake_stop': f'{_P}.core.shutdown', 'run_shutdown_hooks': f'{_P}.core.shutdown',
    'wait_for_shutdown': f'{_P}.core.shutdown',
    'set_extension': f'{_P}.core.plugins', 'register_entry_point_plugins': f'{_P}.core.plugins',
    'describe_plugins': f'{_P}.core.plugins', 'plugin_graph': f'{_P}.core.plugins',
    'add_file_source': f'{_P}.core.util', 'add_secrets_dir_source': f'{_P}.core.util',
    'describe_variables': f'{_P}.core.util',
    'capture_async_loop': f'{_P}.core.async_mode', 'get_captured_async_loop': f'{_P}.core.async_mode',
    'clear_async_loop_ref': f'{_P}.core.async_mode', 'set_async_auto_enabled': f'{_P}.core.async_mode',
    'schedule_async_shutdown': f'{_P}.core.async_mode',
    'is_ready': f'{_P}.core.health', 'set_ready': f'{_P}.core.health', 'health': f'{_P}.core.health',
    'SAFError': f'{_P}.exceptions', 'ConfigurationError': f'{_P}.exceptions',
    'Settings': f'{_P}.settings', 'Secret': f'{_P}.settings', 'SettingsError': f'{_P}.settings',
    'bind_settings': f'{_P}.settings',
    'EnvPlacement': f'{_P}.api.constants',
}

_EXPORTS: Exports | None = None  # made on the first name asked: importing the package stays bare

__all__ = [
    'EXT_BACKGROUND_EXEC',
    'EXT_PROGRESS_TRACKER',
    'Plugin',
    'Variables',
    'add_env_file_source',
    'async_plugins_ready',
    'async_plugins_stopping',
    'ext_get_python',
    'ext_parse_bool',
    'ext_parse_csv',
    'get_background_exec',
    'get_extension',
    'get_extensions',
    'get_logger',
    'get_progress_tracker',
    'get_variables',
    'get_working_path',
    'init_all_plugins',
    'init_framework',
    'init_framework_desktop',
    'init_framework_embedded',
    'init_framework_test_harness',
    'register_package_plugins',
    'register_plugin',
    'register_shutdown_function',
    'shutdown_all_plugins',
]


def _get_exports() -> Exports:  # (not "_exports": importing that submodule sets this attribute)
    global _EXPORTS
    if _EXPORTS is None:
        from ._exports import Exports
        _EXPORTS = Exports(__name__, globals(), lazy=_LAZY, moved=_MOVED)
    return _EXPORTS


def __getattr__(name: str) -> object:
    return _get_exports().attribute(name)


def __dir__() -> list[str]:
    return _get_exports().names()


if TYPE_CHECKING:  # let type checkers and IDEs see the real names (not the deprecated ones: they read as object)
    from ._exports import Exports
    from .api.plugins import Plugin
    from .api.variables import Variables
    from .base_plugins import (
        EXT_BACKGROUND_EXEC,
        EXT_PROGRESS_TRACKER,
        get_background_exec,
        get_progress_tracker,
        register_package_plugins,
    )
    from .core.async_mode import async_plugins_ready, async_plugins_stopping
    from .core.core import (
        get_working_path,
        init_framework,
        init_framework_desktop,
        init_framework_embedded,
        init_framework_test_harness,
    )
    from .core.defaults import get_variables
    from .core.logs import get_logger
    from .core.plugins import get_extension, get_extensions, init_all_plugins, register_plugin, shutdown_all_plugins
    from .core.shutdown import register_shutdown_function
    from .core.util import add_env_file_source
    from .util.imports import ext_get_python
    from .util.parsing import ext_parse_bool, ext_parse_csv
