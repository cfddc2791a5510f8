"""Tenant settings from files: :func:`read_tenant_file` and :class:`DirectoryTenantProvider`."""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Optional, Union

from ..api.constants import EnvPlacement
from ..api.variables import Variables
from ..util.config_files import (
    ConfigFileError,
    parse_env_text,
    parse_json_text,
    parse_toml_text,
    parse_yaml_text,
    read_text,
)
from ..util.config_sources import FileSource
from ._tenant_base import (
    SAF_MULTITENANT_DIR,
    SETTINGS_EXTENSIONS,
    MultiTenantConfigError,
    TenantIdError,
    TenantNotFoundError,
)
from ._tenant_provider import BaseMultiTenantProvider


def require_mapping(path: str, data: Any, kind: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(path, 1, f'the top level of a tenant {kind} file must be a mapping of settings '
                                       f'(key: value), got {type(data).__name__}')
    return {str(k): val for k, val in data.items()}


def read_tenant_file(path: Union[str, os.PathLike[str]], environ: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """Read one tenant settings file (``.env``, ``.yaml``/``.yml``, ``.json`` or ``.toml``); return its mapping as
    written (nested, keys as in the file). :class:`DirectoryTenantProvider` reads tenant files as
    ``add_file_source`` does instead (flattened, keys matched like environment names).

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
    if ext not in SETTINGS_EXTENSIONS:
        raise ValueError(f'{p!r}: unknown tenant settings file type {ext!r}; use one of '
                         f'{", ".join(SETTINGS_EXTENSIONS)}')
    p, text = read_text(p)
    if ext == '.env':
        return dict(parse_env_text(text, p, environ if environ is not None else {}))
    if ext in ('.yaml', '.yml'):
        return require_mapping(p, parse_yaml_text(text, p), 'YAML')
    if ext == '.json':
        return require_mapping(p, parse_json_text(text, p), 'JSON')
    return require_mapping(p, parse_toml_text(text, p), 'TOML')


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
                 directory: Union[str, os.PathLike[str], None] = None, **kwargs: Any) -> None:
        super().__init__(v, logger, **kwargs)
        raw = directory if directory is not None else v.environ(SAF_MULTITENANT_DIR, default=None)
        if raw is None or not str(os.fspath(raw)).strip():
            raise MultiTenantConfigError(
                f'{SAF_MULTITENANT_DIR} is not set: {type(self).__name__} needs it to point at the directory that '
                f'holds the tenant settings files (<tenant>.env, .yaml, .yml, .json or .toml)')
        path = os.path.expanduser(str(os.fspath(raw)).strip())
        if not os.path.isabs(path):
            from ..core._stateful import original_working_directory
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
        found = [p for p in (os.path.join(self._directory, tenant_id + ext) for ext in SETTINGS_EXTENSIONS)
                 if os.path.isfile(p)]
        if len(found) > 1:
            names = ', '.join(os.path.basename(p) for p in found)
            raise MultiTenantConfigError(f'tenant {tenant_id!r} has several settings files in {self._directory!r} '
                                         f'({names}); keep exactly one')
        return found[0] if found else None

    def tenant_sources(self, tenant_id: str) -> list[Any]:
        """Return ``[settings read from the tenant's file]``, or ``[]`` when it has no file.

        The file is read as :func:`~scitrera_app_framework.core.util.add_file_source` reads a file (a
        :class:`~scitrera_app_framework.util.config_sources.FileSource`): nested tables flattened to upper-case
        ``SECTION_KEY`` names, keys matched like environment names (``get('db_host')`` finds ``DB_HOST``), the
        file and line in ``explain``, keys colliding after flattening and duplicate keys refused.

        Raises:
            ConfigFileError: the file is malformed, or two of its keys give one setting (names the file and the
                lines).
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
        return [FileSource(path, environ=environ)]


__all__ = ['DirectoryTenantProvider', 'read_tenant_file', 'require_mapping', 'ConfigFileError']
