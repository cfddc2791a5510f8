"""Alias of :mod:`scitrera_app_framework.ext_plugins.multi_tenant` under the original (misspelled) name.

Every name is the same object as in ``multi_tenant``; new code should import from ``multi_tenant``.
"""

from __future__ import annotations

from .multi_tenant import *  # noqa: F403
from .multi_tenant import (
    EXT_MULTITENANT,
    SAF_MULTITENANT_CACHE_SIZE,
    SAF_MULTITENANT_DIR,
    SAF_MULTITENANT_ENABLED,
    SAF_MULTITENANT_INCLUDE_ENV,
    SAF_MULTITENANT_PROVIDER,
    BaseMultiTenantProvider,
    DirectoryTenantProvider,
    MultiTenantConfigError,
    MultiTenantError,
    MultiTenantNotEnabledError,
    MultiTenantPlugin,
    NoCurrentTenantError,
    RedisTenantProvider,
    TenantCacheInfo,
    TenantIdError,
    TenantNotFoundError,
    current_tenant,
    get_tenant_provider,
    get_tenant_variables,
    read_tenant_file,
    tenant_context,
    tenant_id_of,
)

__all__ = [
    'EXT_MULTITENANT', 'MultiTenantPlugin', 'BaseMultiTenantProvider', 'DirectoryTenantProvider',
    'RedisTenantProvider', 'get_tenant_variables', 'get_tenant_provider', 'tenant_context', 'current_tenant',
    'tenant_id_of',
    'read_tenant_file', 'TenantCacheInfo', 'MultiTenantError', 'MultiTenantConfigError',
    'MultiTenantNotEnabledError', 'TenantIdError', 'NoCurrentTenantError', 'TenantNotFoundError',
    'SAF_MULTITENANT_ENABLED', 'SAF_MULTITENANT_PROVIDER', 'SAF_MULTITENANT_INCLUDE_ENV',
    'SAF_MULTITENANT_CACHE_SIZE', 'SAF_MULTITENANT_DIR',
]
