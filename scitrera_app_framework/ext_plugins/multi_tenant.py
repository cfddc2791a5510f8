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
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
from collections import OrderedDict
from typing import Any, Iterator, Mapping, MutableMapping, NamedTuple, Optional, Union

from ..api.constants import EnvPlacement
from ..api.plugins import Plugin
from ..api.variables import Variables
from ..core.defaults import get_variables
from ..core.logs import get_logger, log_context, set_app_logger
from ..core.plugins import ExtensionNotFoundError, get_extension
from ..exceptions import SAFError
from ..util.config_files import (
    ConfigFileError,
    parse_env_text,
    parse_json_text,
    parse_toml_text,
    parse_yaml_text,
    read_text,
)
from ..util.parsing import ext_parse_bool

EXT_MULTITENANT = 'multi-tenant'

#: variable names read by the plugin and the providers
SAF_MULTITENANT_ENABLED = 'SAF_MULTITENANT_ENABLED'
SAF_MULTITENANT_PROVIDER = 'SAF_MULTITENANT_PROVIDER'
SAF_MULTITENANT_INCLUDE_ENV = 'SAF_MULTITENANT_INCLUDE_ENV'
SAF_MULTITENANT_CACHE_SIZE = 'SAF_MULTITENANT_CACHE_SIZE'
SAF_MULTITENANT_DIR = 'SAF_MULTITENANT_DIR'

_TENANT_ID_KEY = 'tenant_id'  # key in a tenant Variables' ``_ext``: the tenant id it belongs to
_SETTINGS_EXTENSIONS = ('.env', '.yaml', '.yml', '.json', '.toml')

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
def _check_tenant_id(tenant_id: Any) -> None:
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
    _check_tenant_id(tenant_id)
    token = _current_tenant.set(tenant_id)
    try:
        with log_context(tenant=tenant_id):
            yield tenant_id
    finally:
        _current_tenant.reset(token)


def current_tenant() -> Optional[str]:
    """Return the tenant id of the innermost active :func:`tenant_context`, or None outside any."""
    return _current_tenant.get()


def _require_current_tenant() -> str:
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        raise NoCurrentTenantError('no tenant id given and no tenant is current: pass the tenant id, or call this '
                                   'inside "with tenant_context(tenant_id):"')
    return tenant_id


def tenant_id_of(tenant_v: Variables) -> Optional[str]:
    """Return the tenant id a tenant ``Variables`` was created for, or None for any other ``Variables``."""
    return tenant_v._ext.get(_TENANT_ID_KEY)


# --- tenant loggers ----------------------------------------------------------------------------------------
class _TenantLogger(logging.Logger):
    """A logger not registered with :mod:`logging` (freed with its tenant) whose level follows its parent.

    The stdlib caches ``isEnabledFor`` per logger and clears the caches only of registered loggers when a level
    changes, so this class does not cache. ``getChild`` returns detached children too, kept on this logger.
    """

    def isEnabledFor(self, level: int) -> bool:
        if self.disabled or self.manager.disable >= level:
            return False
        return level >= self.getEffectiveLevel()

    def getChild(self, suffix: str) -> _TenantLogger:
        children: Optional[dict[str, _TenantLogger]] = self.__dict__.get('_saf_children')
        if children is None:
            children = self.__dict__.setdefault('_saf_children', {})
        child = children.get(suffix)
        if child is None:
            child = _TenantLogger(f'{self.name}.{suffix}')
            child.parent = self
            child = children.setdefault(suffix, child)
        return child


# --- providers ---------------------------------------------------------------------------------------------
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


def _parse_cache_size(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f'expected a whole number >= 0 (0 = unbounded), got {value!r}')
    try:
        n = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise ValueError(f'expected a whole number >= 0 (0 = unbounded), got {value!r}') from None
    if n < 0:
        raise ValueError(f'expected a whole number >= 0 (0 = unbounded), got {n}')
    return n


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
            self._max_size = int(v.environ(SAF_MULTITENANT_CACHE_SIZE, default=0, type_fn=_parse_cache_size))
        else:
            try:
                self._max_size = _parse_cache_size(cache_size)
            except ValueError as e:
                raise ValueError(f'cache_size: {e}') from None
        if include_env is None:
            include_env = bool(v.environ(SAF_MULTITENANT_INCLUDE_ENV, default=False, type_fn=ext_parse_bool))
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
        _check_tenant_id(tenant_id)

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
        logger = _TenantLogger(self.tenant_logger_name(tenant_id))
        logger.parent = self._tenant_parent_logger
        set_app_logger(tv, logger)
        tv._ext[_TENANT_ID_KEY] = tenant_id
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
            tenant_id = _require_current_tenant()
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


# --- directory provider ------------------------------------------------------------------------------------
def _require_mapping(path: str, data: Any, kind: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(path, 1, f'the top level of a tenant {kind} file must be a mapping of settings '
                                       f'(key: value), got {type(data).__name__}')
    return {str(k): val for k, val in data.items()}


def read_tenant_file(path: Union[str, os.PathLike], environ: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """Read one tenant settings file (``.env``, ``.yaml``/``.yml``, ``.json`` or ``.toml``); return its mapping.

    YAML is only ever ``safe_load``ed. An empty YAML file gives an empty mapping. In a ``.env`` file,
    ``${NAME}`` is expanded from the file's own earlier values and then from ``environ`` only (default: none,
    so a tenant file cannot read the process environment; the provider passes the environment when the tenant
    includes it, ``SAF_MULTITENANT_INCLUDE_ENV``).

    Raises:
        ConfigFileError (a ValueError): the file is not UTF-8, cannot be parsed, is nested too deeply, or its
            top level is not a mapping (names the file and the line).
        ValueError: unknown file extension.
        ImportError: python-dotenv (a ``.env`` file with quoted values) or tomli (``.toml`` on Python < 3.11)
            is missing.
        OSError: the file cannot be read.
    """
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    if ext not in _SETTINGS_EXTENSIONS:
        raise ValueError(f'{p!r}: unknown tenant settings file type {ext!r}; use one of '
                         f'{", ".join(_SETTINGS_EXTENSIONS)}')
    p, text = read_text(p)
    if ext == '.env':
        return dict(parse_env_text(text, p, environ if environ is not None else {}))
    if ext in ('.yaml', '.yml'):
        return _require_mapping(p, parse_yaml_text(text, p), 'YAML')
    if ext == '.json':
        return _require_mapping(p, parse_json_text(text, p), 'JSON')
    return _require_mapping(p, parse_toml_text(text, p), 'TOML')


class DirectoryTenantProvider(BaseMultiTenantProvider):
    """Reads each tenant's settings from ``<directory>/<tenant id>.<ext>`` (``.env``, ``.yaml``, ``.yml``,
    ``.json`` or ``.toml``) when the tenant is first used (again after eviction or :meth:`forget`).

    The directory comes from ``SAF_MULTITENANT_DIR`` (or the ``directory`` argument); a relative path is
    resolved against the directory the app started in. A tenant without a file gets no settings source; set
    ``require_file = True`` (class attribute) to raise :class:`TenantNotFoundError` instead. Two files for one
    tenant are an error. Tenant ids that could escape the directory are rejected.

    Raises:
        MultiTenantConfigError (a ValueError): the directory is not set or is not a directory (names
            ``SAF_MULTITENANT_DIR`` and its value).
    """

    #: True: a tenant without a settings file is a TenantNotFoundError; False: it gets no settings source.
    require_file: bool = False

    def __init__(self, v: Variables, logger: Optional[logging.Logger] = None, *,
                 directory: Union[str, os.PathLike, None] = None, **kwargs: Any) -> None:
        super().__init__(v, logger, **kwargs)
        raw = directory if directory is not None else v.environ(SAF_MULTITENANT_DIR, default=None)
        if raw is None or not str(os.fspath(raw)).strip():
            raise MultiTenantConfigError(
                f'{SAF_MULTITENANT_DIR} is not set: {type(self).__name__} needs it to point at the directory that '
                f'holds the tenant settings files (<tenant>.env, .yaml, .yml, .json or .toml)')
        path = os.path.expanduser(str(os.fspath(raw)).strip())
        if not os.path.isabs(path):
            from ..core.core import original_working_directory
            path = os.path.join(original_working_directory() or os.getcwd(), path)
        path = os.path.abspath(path)
        if not os.path.isdir(path):
            raise MultiTenantConfigError(
                f'{SAF_MULTITENANT_DIR}={str(raw)!r} (resolved to {path!r}) is not a directory: create it or point '
                f'{SAF_MULTITENANT_DIR} at the directory that holds the tenant settings files')
        self._directory = path

    @property
    def directory(self) -> str:
        """The absolute path of the tenant settings directory."""
        return self._directory

    def validate_tenant_id(self, tenant_id: Any) -> None:
        """Reject ids that are not usable as a file name inside the directory; returns None.

        Raises:
            TypeError: not a string.
            TenantIdError (a ValueError): empty, ``.`` or ``..``, absolute, or containing a path separator, a
                drive separator or NUL (names the id).
        """
        super().validate_tenant_id(tenant_id)
        bad = None
        if tenant_id in ('.', '..'):
            bad = 'is a relative directory reference'
        elif '\x00' in tenant_id:
            bad = 'contains a NUL character'
        elif '/' in tenant_id or '\\' in tenant_id or (os.sep in tenant_id) or (os.altsep and os.altsep in tenant_id):
            bad = 'contains a path separator'
        elif os.path.isabs(tenant_id) or (os.name == 'nt' and ':' in tenant_id):
            bad = 'is an absolute path'
        if bad is None:
            target = os.path.abspath(os.path.join(self._directory, tenant_id))
            if os.path.dirname(target) != self._directory:
                bad = 'resolves outside the tenant directory'
        if bad is not None:
            raise TenantIdError(f'tenant id {tenant_id!r} {bad}; tenant ids must be plain file names inside '
                                f'{SAF_MULTITENANT_DIR} ({self._directory!r})')

    def tenant_file(self, tenant_id: str) -> Optional[str]:
        """Return the path of the tenant's settings file, or None when it has none.

        Raises:
            MultiTenantConfigError: the tenant has more than one settings file (names them).
        """
        found = [p for p in (os.path.join(self._directory, tenant_id + ext) for ext in _SETTINGS_EXTENSIONS)
                 if os.path.isfile(p)]
        if len(found) > 1:
            names = ', '.join(os.path.basename(p) for p in found)
            raise MultiTenantConfigError(f'tenant {tenant_id!r} has several settings files in {self._directory!r} '
                                         f'({names}); keep exactly one')
        return found[0] if found else None

    def tenant_sources(self, tenant_id: str) -> list[Any]:
        """Return ``[settings read from the tenant's file]``, or ``[]`` when it has no file.

        Raises:
            ConfigFileError: the file is malformed (names the file and the line).
            TenantNotFoundError: no file and ``require_file`` is True.
        """
        path = self.tenant_file(tenant_id)
        if path is None:
            if self.require_file:
                raise TenantNotFoundError(
                    f'tenant {tenant_id!r} has no settings file in {self._directory!r}: create '
                    f'{tenant_id}.env, .yaml, .yml, .json or .toml there')
            return []
        real, real_dir = os.path.realpath(path), os.path.realpath(self._directory)
        if os.path.dirname(real) != real_dir and not real.startswith(real_dir + os.sep):
            raise MultiTenantConfigError(
                f'tenant {tenant_id!r}: its settings file {path!r} is a link to {real!r}, outside the tenant '
                f'directory {self._directory!r}; tenant settings files must be regular files inside it')
        environ = os.environ if self.env_placement is not EnvPlacement.IGNORED else {}
        return [read_tenant_file(path, environ=environ)]


# --- plugin and accessors ----------------------------------------------------------------------------------
_DEFAULT_PROVIDER_PATH = f'{__name__}.BaseMultiTenantProvider'


def _load_provider_class(v: Variables) -> type[BaseMultiTenantProvider]:
    from ..core.core import load_object

    raw = v.environ(SAF_MULTITENANT_PROVIDER, default=_DEFAULT_PROVIDER_PATH)
    if raw is None or (isinstance(raw, str) and not raw.strip()):  # set but empty: the default
        return BaseMultiTenantProvider
    try:
        return load_object(v, SAF_MULTITENANT_PROVIDER, _DEFAULT_PROVIDER_PATH, BaseMultiTenantProvider)
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
        return ext_parse_bool(v.get(SAF_MULTITENANT_ENABLED))

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
        """Clear the provider's tenant cache."""
        value.clear()


def get_tenant_provider(v: Optional[Variables] = None) -> BaseMultiTenantProvider:
    """Return the app's tenant provider (the value of the ``'multi-tenant'`` extension point).

    Raises:
        MultiTenantNotEnabledError (an ExtensionNotFoundError/ValueError): multi-tenant support is not enabled.
        PluginInitError: the provider could not be created (e.g. a bad ``SAF_MULTITENANT_PROVIDER``).
    """
    v = get_variables(v)
    try:
        return get_extension(EXT_MULTITENANT, v)
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
