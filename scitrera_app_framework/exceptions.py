"""Every error the framework raises on purpose derives from :class:`SAFError` (and keeps the standard base it
had before, e.g. ``ValueError``, so ``except ValueError`` still works).

The two base classes live here; every other error is defined next to the code that raises them, which is its
one home (``_WHERE`` below lists where each lives)::

    from scitrera_app_framework.exceptions import SAFError
    from scitrera_app_framework.core.plugins import PluginInitError

Importing another error from here still works until 0.3.0, with a DeprecationWarning naming its home.
"""

from __future__ import annotations

from ._exports import Exports


class SAFError(Exception):
    """Base class of the framework's errors."""


class ConfigurationError(SAFError, ValueError):
    """A setting has a value the framework cannot use; the message names the variable, the (masked, bounded)
    value and how to fix it."""


_WHERE = {
    'VariableTypeError': 'api.variables', 'TypeFunctionError': 'api.variables',
    'RequiredVariableError': 'api.variables', 'CliError': 'cli', 'CommandLineError': 'cmdline',
    'PluginError': 'core.plugins', 'ExtensionNotFoundError': 'core.plugins',
    'PluginRegistrationError': 'core.plugins', 'PluginDependencyError': 'core.plugins',
    'PluginConflictError': 'core.plugins', 'PluginInitError': 'core.plugins', 'PluginShutdownError': 'core.plugins',
    'StatefulDirError': 'core.core', 'SecretsDirError': 'core.util', 'LoggingConfigError': 'core.logs',
    'ConfigFileError': 'util.config_files',
    'SettingsError': 'settings', 'InvalidValue': 'settings',
    'MultiTenantError': 'ext_plugins.multi_tenant', 'MultiTenantConfigError': 'ext_plugins.multi_tenant',
    'MultiTenantNotEnabledError': 'ext_plugins.multi_tenant', 'TenantIdError': 'ext_plugins.multi_tenant',
    'NoCurrentTenantError': 'ext_plugins.multi_tenant', 'TenantNotFoundError': 'ext_plugins.multi_tenant',
    'YAMLParseError': 'k8s.util', 'KubeConfigError': 'k8s.util',
    'JobBackendError': 'base_plugins.background', 'JobBackendConfigError': 'base_plugins.background',
    'JobSerializationError': 'base_plugins.background',
    'TenantStoreUnavailableError': 'ext_plugins.redis_tenants',
    'TenantValueError': 'ext_plugins.redis_tenants',
    'MetricsUnavailableError': 'core.metrics', 'OTelConfigError': 'ext_plugins.otel_plugin',
    'SlaunchError': 'slaunch.errors', 'ManifestError': 'slaunch.errors', 'ManifestFetchError': 'slaunch.errors',
    'InvalidNameError': 'slaunch.errors', 'InstallError': 'slaunch.errors', 'StateError': 'slaunch.errors',
    'IntegrityError': 'slaunch.errors', 'DeployError': 'slaunch.errors',
    'WebConfigError': 'web',
}

# where each error lives (its home): importing it from here is deprecated since 0.1.0
_EXPORTS = Exports(__name__, globals(),
                   moved={name: f'scitrera_app_framework.{where}' for name, where in _WHERE.items()})

__all__ = ['SAFError', 'ConfigurationError']


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
