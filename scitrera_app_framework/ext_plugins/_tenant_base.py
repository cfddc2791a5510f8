"""Multi-tenant building blocks: the variable names, the errors, the tenant context and tenant loggers."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from typing import Any, Iterator, Optional

from ..api.variables import Variables
from ..core.context import peek_app_context
from ..core.log_format import log_context
from ..core.plugins import ExtensionNotFoundError
from ..exceptions import SAFError

EXT_MULTITENANT = 'multi-tenant'

#: variable names read by the plugin and the providers
SAF_MULTITENANT_ENABLED = 'SAF_MULTITENANT_ENABLED'
SAF_MULTITENANT_PROVIDER = 'SAF_MULTITENANT_PROVIDER'
SAF_MULTITENANT_INCLUDE_ENV = 'SAF_MULTITENANT_INCLUDE_ENV'
SAF_MULTITENANT_CACHE_SIZE = 'SAF_MULTITENANT_CACHE_SIZE'
SAF_MULTITENANT_DIR = 'SAF_MULTITENANT_DIR'

SETTINGS_EXTENSIONS = ('.env', '.yaml', '.yml', '.json', '.toml')

_current_tenant: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar('saf_tenant', default=None)


# --- errors ------------------------------------------------------------------------------------------------
class MultiTenantError(SAFError):
    """Base class of multi-tenant errors."""


class MultiTenantConfigError(MultiTenantError, ValueError):
    """A ``SAF_MULTITENANT_*`` variable is missing or invalid; the message names the variable and its value."""


class MultiTenantNotEnabledError(MultiTenantError, ExtensionNotFoundError):
    """The multi-tenant extension point is not registered or not enabled for this app."""


class TenantIdError(MultiTenantError, ValueError):
    """A tenant id is rejected (empty, or unsafe as a file name); the message names the id."""


class NoCurrentTenantError(MultiTenantError, LookupError):
    """No tenant id was given and no :func:`tenant_context` is active."""


class TenantNotFoundError(MultiTenantError, LookupError):
    """A provider that requires per-tenant settings found none for the tenant."""


# --- tenant context ----------------------------------------------------------------------------------------
def check_tenant_id(tenant_id: Any) -> None:
    if not isinstance(tenant_id, str):
        raise TypeError(f'tenant id must be a string, got {type(tenant_id).__name__} {tenant_id!r}')
    if not tenant_id.strip():
        raise TenantIdError(f'tenant id must not be empty or blank, got {tenant_id!r}')


@contextlib.contextmanager
def tenant_context(tenant_id: str) -> Iterator[str]:
    """Make ``tenant_id`` the current tenant inside the block; yields the id.

    Inside, :func:`current_tenant` returns it, ``get_tenant_variables()`` without an id resolves to it, and
    every log record emitted through the framework handler carries ``tenant=<id>``. Blocks nest (the inner one
    wins) and follow asyncio tasks and background-executor jobs started inside.

    Raises:
        TypeError: ``tenant_id`` is not a string.
        TenantIdError: ``tenant_id`` is empty.
    """
    check_tenant_id(tenant_id)
    token = _current_tenant.set(tenant_id)
    try:
        with log_context(tenant=tenant_id):
            yield tenant_id
    finally:
        _current_tenant.reset(token)


def current_tenant() -> Optional[str]:
    """Return the tenant id of the innermost active :func:`tenant_context`, or None outside any."""
    return _current_tenant.get()


def require_current_tenant() -> str:
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        raise NoCurrentTenantError('no tenant id given and no tenant is current: pass the tenant id, or call this '
                                   'inside "with tenant_context(tenant_id):"')
    return tenant_id


def tenant_id_of(tenant_v: Variables) -> Optional[str]:
    """Return the tenant id a tenant ``Variables`` was created for, or None for any other ``Variables``."""
    ctx = peek_app_context(tenant_v)
    return ctx.tenant_id if ctx is not None else None


# --- tenant loggers ----------------------------------------------------------------------------------------
class TenantLogger(logging.Logger):
    """A logger not registered with :mod:`logging` (freed with its tenant) whose level follows its parent.

    The stdlib caches ``isEnabledFor`` per logger and clears the caches only of registered loggers when a level
    changes, so this class does not cache. ``getChild`` returns detached children too, kept on this logger.
    """

    def isEnabledFor(self, level: int) -> bool:
        if self.disabled or self.manager.disable >= level:
            return False
        return level >= self.getEffectiveLevel()

    def getChild(self, suffix: str) -> TenantLogger:
        children: Optional[dict[str, TenantLogger]] = self.__dict__.get('_saf_children')
        if children is None:
            children = self.__dict__.setdefault('_saf_children', {})
        child = children.get(suffix)
        if child is None:
            child = TenantLogger(f'{self.name}.{suffix}')
            child.parent = self
            child = children.setdefault(suffix, child)
        return child


__all__ = ['EXT_MULTITENANT', 'SAF_MULTITENANT_ENABLED', 'SAF_MULTITENANT_PROVIDER', 'SAF_MULTITENANT_INCLUDE_ENV',
           'SAF_MULTITENANT_CACHE_SIZE', 'SAF_MULTITENANT_DIR', 'SETTINGS_EXTENSIONS', 'MultiTenantError',
           'MultiTenantConfigError', 'MultiTenantNotEnabledError', 'TenantIdError', 'NoCurrentTenantError',
           'TenantNotFoundError', 'tenant_context', 'current_tenant', 'require_current_tenant', 'tenant_id_of',
           'check_tenant_id', 'TenantLogger']
