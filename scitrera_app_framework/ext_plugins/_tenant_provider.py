"""The tenant provider: builds and caches one ``Variables`` per tenant (LRU bound, one creation per tenant)."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Iterator, Mapping, MutableMapping, NamedTuple, Optional

from ..api.constants import EnvPlacement
from ..api.variables import Variables
from ..core.context import get_app_context
from ..core.logs import get_logger, set_app_logger
from ..util.parsing import int_in_range, parse_bool_strict
from ._tenant_base import (
    SAF_MULTITENANT_CACHE_SIZE,
    SAF_MULTITENANT_INCLUDE_ENV,
    TenantLogger,
    check_tenant_id,
    require_current_tenant,
)


class TenantCacheInfo(NamedTuple):
    """Statistics of a provider's tenant cache (see :meth:`BaseMultiTenantProvider.cache_info`)."""

    hits: int
    created: int
    evictions: int
    size: int
    max_size: int  # 0 = unbounded


class _Creation:
    __slots__ = ('lock', 'waiters')

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiters = 0


#: ``SAF_MULTITENANT_CACHE_SIZE``: a whole number >= 0 (0 = unbounded)
parse_cache_size = int_in_range(0, what='cached tenants, 0 = unbounded')


class BaseMultiTenantProvider:
    """Builds and caches one :class:`Variables` per tenant. In memory; subclass it to load tenant settings.

    Hooks for subclasses: :meth:`tenant_sources` (extra read-only sources of the tenant's ``Variables``),
    :meth:`tenant_local_store` (the mapping holding its local values), :meth:`tenant_logger_name` and
    :meth:`validate_tenant_id`; :meth:`create_tenant_variables` puts them together. The hooks run at most once
    per cached tenant, without the cache lock held, so they may do I/O. A subclass written for the original
    package may override ``_tenant_sources(tenant_id)`` instead of :meth:`tenant_sources`; when it does, its
    ``_tenant_sources`` is the one used.

    ``provider[tenant_id]`` and ``provider.get(tenant_id)`` are :meth:`get_tenant_variables`.

    Args:
        v: the app's ``Variables`` (the ``SAF_MULTITENANT_*`` settings are read from it).
        logger: the provider's logger (default: the app's framework logger, ``get_logger(v)``).
        cache_size: overrides ``SAF_MULTITENANT_CACHE_SIZE`` (0 = unbounded).
        include_env: overrides ``SAF_MULTITENANT_INCLUDE_ENV``.

    Raises:
        VariableTypeError (a ValueError): ``SAF_MULTITENANT_CACHE_SIZE`` is not a whole number >= 0, or
            ``SAF_MULTITENANT_INCLUDE_ENV`` is not a boolean (names the variable and the value).
    """

    def __init__(self, v: Variables, logger: Optional[logging.Logger] = None, *, cache_size: Optional[int] = None,
                 include_env: Optional[bool] = None) -> None:
        self._v = v
        self._logger = logger if logger is not None else get_logger(v)
        if cache_size is None:
            self._max_size = int(v.environ(SAF_MULTITENANT_CACHE_SIZE, default=0, type_fn=parse_cache_size))
        else:
            try:
                self._max_size = parse_cache_size(cache_size)
            except ValueError as e:
                raise ValueError(f'cache_size: {e}') from None
        if include_env is None:
            include_env = bool(v.environ(SAF_MULTITENANT_INCLUDE_ENV, default=False, type_fn=parse_bool_strict))
        self._placement = EnvPlacement.BOTTOM if include_env else EnvPlacement.IGNORED
        self._app_logger = get_logger(v)
        self._tenant_parent_logger = self._app_logger.getChild('tenant')
        self._cache: OrderedDict[str, Variables] = OrderedDict()
        self._creating: dict[str, _Creation] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._created = 0
        self._evictions = 0

    # --- properties --------------------------------------------------------------------------------------
    @property
    def v(self) -> Variables:
        """The app's ``Variables``."""
        return self._v

    @property
    def logger(self) -> logging.Logger:
        """The provider's logger."""
        return self._logger

    @property
    def max_size(self) -> int:
        """The cache bound (0 = unbounded)."""
        return self._max_size

    @property
    def env_placement(self) -> EnvPlacement:
        """Where the process environment sits in tenant ``Variables`` (IGNORED or BOTTOM)."""
        return self._placement

    # --- hooks -------------------------------------------------------------------------------------------
    def validate_tenant_id(self, tenant_id: Any) -> None:
        """Check a tenant id before its ``Variables`` are created; returns None.

        Raises:
            TypeError: not a string.
            TenantIdError (a ValueError): empty or blank.
        """
        check_tenant_id(tenant_id)

    def tenant_sources(self, tenant_id: str) -> list[Any]:
        """Return the extra sources (mappings) of the tenant's ``Variables``, in lookup order (default none)."""
        return []

    def _tenant_sources(self, tenant_id: str) -> list[Any]:
        """The original package's name of the sources hook; returns the tenant's sources as a list.

        By default it returns :meth:`tenant_sources`; a subclass that overrides ``_tenant_sources`` (as written
        for the original) replaces it. A single mapping is taken as the one source and None as no source.
        """
        return self.tenant_sources(tenant_id)

    def _sources_for(self, tenant_id: str) -> list[Any]:
        sources = self._tenant_sources(tenant_id)
        if sources is None:
            return []
        if isinstance(sources, Mapping):
            return [sources]
        return list(sources)

    def tenant_local_store(self, tenant_id: str) -> MutableMapping[str, Any]:
        """Return the mapping that holds the tenant's local values (default a new dict).

        Return a persistent mapping to keep values set on a tenant across evictions.
        """
        return {}

    def tenant_logger_name(self, tenant_id: str) -> str:
        """Return the name of the tenant's main logger (default ``<app logger>.tenant.<tenant id>``)."""
        return f'{self._tenant_parent_logger.name}.{tenant_id}'

    def create_tenant_variables(self, tenant_id: str) -> Variables:
        """Build a new ``Variables`` for ``tenant_id`` from the hooks; returns it (not cached here).

        Override to customize further (call ``super()`` and add to the result).
        """
        store = self.tenant_local_store(tenant_id)
        tv = Variables(self._sources_for(tenant_id), self._placement, lambda: store)
        logger = TenantLogger(self.tenant_logger_name(tenant_id))
        logger.parent = self._tenant_parent_logger
        set_app_logger(tv, logger)
        get_app_context(tv).tenant_id = tenant_id
        return tv

    # --- cache -------------------------------------------------------------------------------------------
    def get_tenant_variables(self, tenant_id: Optional[str] = None) -> Variables:
        """Return the tenant's ``Variables`` (creating and caching them on first use).

        With ``tenant_id=None`` the current tenant (:func:`tenant_context`) is used. Concurrent first requests
        for one tenant create it once; creating one tenant does not block requests for other tenants.

        Raises:
            NoCurrentTenantError: no id given and no tenant context active.
            TypeError / TenantIdError: the id is rejected by :meth:`validate_tenant_id`.
            Whatever the hooks raise (e.g. ConfigFileError); nothing is cached then and the next call retries.
        """
        if tenant_id is None:
            tenant_id = require_current_tenant()
        if tenant_id.__class__ is str:
            with self._lock:
                tv = self._cache.get(tenant_id)
                if tv is not None:
                    self._hits += 1
                    if self._max_size:
                        self._cache.move_to_end(tenant_id)
                    return tv
        self.validate_tenant_id(tenant_id)
        return self._create_once(tenant_id)

    def _create_once(self, tenant_id: str) -> Variables:
        lock = self._lock
        with lock:
            tv = self._cache.get(tenant_id)
            if tv is not None:
                self._hits += 1
                return tv
            creation = self._creating.get(tenant_id)
            if creation is None:
                creation = self._creating[tenant_id] = _Creation()
            creation.waiters += 1
        try:
            with creation.lock:
                with lock:
                    tv = self._cache.get(tenant_id)
                    if tv is not None:  # created by another thread while we waited
                        self._hits += 1
                        return tv
                tv = self.create_tenant_variables(tenant_id)
                with lock:
                    cache = self._cache
                    cache[tenant_id] = tv
                    self._created += 1
                    if self._max_size:
                        while len(cache) > self._max_size:
                            cache.popitem(last=False)
                            self._evictions += 1
                return tv
        finally:
            with lock:
                creation.waiters -= 1
                if not creation.waiters:
                    del self._creating[tenant_id]

    def forget(self, tenant_id: str) -> bool:
        """Drop a tenant from the cache (its settings are re-read on next use); returns whether it was cached."""
        with self._lock:
            return self._cache.pop(tenant_id, None) is not None

    def clear(self) -> None:
        """Drop every cached tenant."""
        with self._lock:
            self._cache.clear()

    def cached_tenants(self) -> list[str]:
        """Return the ids of the cached tenants, least recently used first."""
        with self._lock:
            return list(self._cache)

    def cache_info(self) -> TenantCacheInfo:
        """Return hits, tenants created, evictions, current size and bound of the cache."""
        with self._lock:
            return TenantCacheInfo(self._hits, self._created, self._evictions, len(self._cache), self._max_size)

    def get(self, tenant_id: Optional[str] = None) -> Variables:
        """Return the tenant's ``Variables``; the same as :meth:`get_tenant_variables` (raises as it does)."""
        return self.get_tenant_variables(tenant_id)

    def __getitem__(self, tenant_id: str) -> Variables:
        """``provider[tenant_id]``: the tenant's ``Variables`` (:meth:`get_tenant_variables`; raises as it does)."""
        return self.get_tenant_variables(tenant_id)

    def __len__(self) -> int:
        return len(self._cache)

    def __iter__(self) -> Iterator[str]:
        """Iterate over the ids of the cached tenants (as :meth:`cached_tenants`), like ``len`` and ``in``."""
        return iter(self.cached_tenants())

    def __contains__(self, tenant_id: object) -> bool:
        return tenant_id in self._cache

    def __repr__(self) -> str:
        bound = self._max_size or 'unbounded'
        return f'<{type(self).__name__} tenants={len(self._cache)} cache={bound}>'


__all__ = ['BaseMultiTenantProvider', 'TenantCacheInfo', 'parse_cache_size']
