"""Alias of :mod:`scitrera_app_framework.ext_plugins.multi_tenant` under the seed's (misspelled) name.

The names DESIGN.md's contract lists for this path (``MultiTenantPlugin``, ``BaseMultiTenantProvider``,
``get_tenant_variables``, ``get_tenant_provider``, ``EXT_MULTITENANT``) are the same objects as in ``multi_tenant``.
The other names this module offered before 0.1.0 still work until 0.3.0, with a DeprecationWarning naming their
home; new code imports from ``multi_tenant``.
"""

from __future__ import annotations

from .._exports import Exports
from .multi_tenant import (
    EXT_MULTITENANT,
    BaseMultiTenantProvider,
    MultiTenantPlugin,
    get_tenant_provider,
    get_tenant_variables,
)

__all__ = ['EXT_MULTITENANT', 'MultiTenantPlugin', 'BaseMultiTenantProvider', 'get_tenant_variables',
           'get_tenant_provider']

_EXPORTS = Exports(__name__, globals(), moved={
    **dict.fromkeys([
        'DirectoryTenantProvider', 'tenant_context', 'current_tenant', 'tenant_id_of', 'read_tenant_file',
        'TenantCacheInfo', 'MultiTenantError', 'MultiTenantConfigError', 'MultiTenantNotEnabledError',
        'TenantIdError', 'NoCurrentTenantError', 'TenantNotFoundError', 'SAF_MULTITENANT_ENABLED',
        'SAF_MULTITENANT_PROVIDER', 'SAF_MULTITENANT_INCLUDE_ENV', 'SAF_MULTITENANT_CACHE_SIZE',
        'SAF_MULTITENANT_DIR'], 'scitrera_app_framework.ext_plugins.multi_tenant'),
    'RedisTenantProvider': 'scitrera_app_framework.ext_plugins.redis_tenants',
})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
