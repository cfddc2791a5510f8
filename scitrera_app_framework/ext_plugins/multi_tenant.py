"""Per-tenant configuration: :class:`MultiTenantPlugin`, tenant providers and the tenant context.

Enable it with ``init_framework(..., multitenant=True)`` (or ``SAF_MULTITENANT_ENABLED=true``); then
``get_tenant_variables('t1')`` returns tenant ``t1``'s own :class:`Variables`, built by the provider class named
by ``SAF_MULTITENANT_PROVIDER`` (default :class:`BaseMultiTenantProvider`, in memory). A tenant's ``Variables``:

- are isolated from other tenants and from the app's own local values;
- ignore the process environment unless ``SAF_MULTITENANT_INCLUDE_ENV`` is true (then it sits at the bottom,
  ``EnvPlacement.BOTTOM``);
- are the same object for the same tenant while the tenant is cached. ``SAF_MULTITENANT_CACHE_SIZE`` bounds
  the cache (least recently used tenants are evicted and freed; 0, the default, means unbounded);
- have a main logger named ``<app logger>.tenant.<tenant id>`` (``get_logger(tenant_v)``). It is a child of the
  ordinary logger ``<app logger>.tenant`` but is not registered with :mod:`logging` (so 100,000 tenants do not
  leave 100,000 loggers behind); it has no level of its own and follows the app's level.

``with tenant_context('t1'):`` makes :func:`current_tenant` and ``get_tenant_variables()`` (no id) resolve to
``t1`` and adds ``tenant=t1`` to every log record emitted inside the block. It is a context variable, so it
follows asyncio tasks and jobs submitted to the framework's background executor.

:class:`DirectoryTenantProvider` reads each tenant's settings from ``SAF_MULTITENANT_DIR/<tenant>.env``
(``.yaml``, ``.yml``, ``.json`` or ``.toml``). A tenant without a file gets no settings source (set
``require_file = True`` on a subclass to make that a :class:`TenantNotFoundError`).

:class:`~.redis_tenants.RedisTenantProvider` (extra ``redis``; import it from there) reads each tenant's settings
from a Redis hash shared by every replica and re-reads a tenant when another replica changes it.
"""

from __future__ import annotations

import logging
from typing import Optional

from .._exports import Exports
from ..api.plugins import Plugin
from ..api.variables import Variables
from ..core.defaults import get_variables
from ..core.plugins import ExtensionNotFoundError, get_extension
from ..util.parsing import parse_bool_strict
from ._tenant_base import (
    EXT_MULTITENANT,
    SAF_MULTITENANT_CACHE_SIZE,
    SAF_MULTITENANT_DIR,
    SAF_MULTITENANT_ENABLED,
    SAF_MULTITENANT_INCLUDE_ENV,
    SAF_MULTITENANT_PROVIDER,
    MultiTenantConfigError,
    MultiTenantError,
    MultiTenantNotEnabledError,
    NoCurrentTenantError,
    TenantIdError,
    TenantNotFoundError,
    current_tenant,
    tenant_context,
    tenant_id_of,
)
from ._tenant_directory import DirectoryTenantProvider, read_tenant_file
from ._tenant_provider import BaseMultiTenantProvider, TenantCacheInfo

# --- plugin and accessors ----------------------------------------------------------------------------------
_DEFAULT_PROVIDER_PATH = f'{__name__}.BaseMultiTenantProvider'


def _load_provider_class(v: Variables) -> type[BaseMultiTenantProvider]:
    from ..core._strategy import load_object

    raw = v.environ(SAF_MULTITENANT_PROVIDER, default=_DEFAULT_PROVIDER_PATH)
    if raw is None or (isinstance(raw, str) and not raw.strip()):  # set but empty: the default
        return BaseMultiTenantProvider
    try:
        cls: type[BaseMultiTenantProvider] = load_object(v, SAF_MULTITENANT_PROVIDER, _DEFAULT_PROVIDER_PATH,
                                                         BaseMultiTenantProvider)
        return cls
    except ValueError as e:
        raise MultiTenantConfigError(
            f'{e}; set {SAF_MULTITENANT_PROVIDER} to the dotted path of a subclass of {_DEFAULT_PROVIDER_PATH} '
            f'(e.g. {__name__}.DirectoryTenantProvider), or unset it for the in-memory default') from e


class MultiTenantPlugin(Plugin[BaseMultiTenantProvider]):
    """Provides the tenant provider at extension point ``'multi-tenant'`` (eager).

    Enabled by ``init_framework(..., multitenant=True)`` or ``SAF_MULTITENANT_ENABLED=true``; the provider class
    comes from ``SAF_MULTITENANT_PROVIDER`` (default :class:`BaseMultiTenantProvider`).
    """

    eager = True

    def extension_point_name(self, v: Variables) -> str:
        return EXT_MULTITENANT

    def is_enabled(self, v: Variables) -> bool:
        """True when ``SAF_MULTITENANT_ENABLED`` (or its registered default) is true."""
        return parse_bool_strict(v.get(SAF_MULTITENANT_ENABLED))

    def initialize(self, v: Variables, logger: logging.Logger) -> BaseMultiTenantProvider:
        """Return a new provider of the configured class.

        Raises:
            MultiTenantConfigError: ``SAF_MULTITENANT_PROVIDER`` does not import or is not a provider subclass,
                or the provider's own settings are invalid (names the variable and its value).
        """
        cls = _load_provider_class(v)
        provider = cls(v, logger)
        logger.debug('multi-tenant provider %s ready (cache size %s, environment %s)', cls.__qualname__,
                     provider.max_size or 'unbounded', provider.env_placement.name)
        return provider

    def shutdown(self, v: Variables, logger: logging.Logger, value: BaseMultiTenantProvider) -> None:
        """Clear the provider's tenant cache, then call its ``close()`` if it has one (a provider with background
        work, such as :class:`RedisTenantProvider`'s change listener, stops it there)."""
        value.clear()
        close = getattr(value, 'close', None)
        if callable(close):
            close()


def get_tenant_provider(v: Optional[Variables] = None) -> BaseMultiTenantProvider:
    """Return the app's tenant provider (the value of the ``'multi-tenant'`` extension point).

    Raises:
        MultiTenantNotEnabledError (an ExtensionNotFoundError/ValueError): multi-tenant support is not enabled.
        PluginInitError: the provider could not be created (e.g. a bad ``SAF_MULTITENANT_PROVIDER``).
    """
    v = get_variables(v)
    try:
        provider: BaseMultiTenantProvider = get_extension(EXT_MULTITENANT, v)
        return provider
    except ExtensionNotFoundError as e:
        raise MultiTenantNotEnabledError(
            'multi-tenant support is not enabled for this app: call init_framework(..., multitenant=True) or set '
            f'{SAF_MULTITENANT_ENABLED}=true before init_framework') from e


def get_tenant_variables(tenant_id: Optional[str] = None, v: Optional[Variables] = None) -> Variables:
    """Return the tenant's own ``Variables`` (the current tenant's when ``tenant_id`` is None).

    Raises:
        NoCurrentTenantError: no id given and no :func:`tenant_context` active.
        TypeError / TenantIdError: invalid tenant id.
        MultiTenantNotEnabledError: multi-tenant support is not enabled.
        ConfigFileError: the tenant's settings file is malformed (directory provider).
    """
    return get_tenant_provider(v).get_tenant_variables(tenant_id)


__all__ = [
    'EXT_MULTITENANT', 'MultiTenantPlugin', 'BaseMultiTenantProvider', 'DirectoryTenantProvider',
    'get_tenant_variables', 'get_tenant_provider', 'tenant_context', 'current_tenant', 'tenant_id_of',
    'read_tenant_file', 'TenantCacheInfo', 'MultiTenantError', 'MultiTenantConfigError',
    'MultiTenantNotEnabledError', 'TenantIdError', 'NoCurrentTenantError', 'TenantNotFoundError',
    'SAF_MULTITENANT_ENABLED', 'SAF_MULTITENANT_PROVIDER', 'SAF_MULTITENANT_INCLUDE_ENV',
    'SAF_MULTITENANT_CACHE_SIZE', 'SAF_MULTITENANT_DIR',
]

# RedisTenantProvider lives in redis_tenants (importing it from here is deprecated since 0.1.0)
_EXPORTS = Exports(__name__, globals(),
                   moved={'RedisTenantProvider': 'scitrera_app_framework.ext_plugins.redis_tenants'})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
