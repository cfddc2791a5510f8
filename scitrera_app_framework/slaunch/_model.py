"""The validated manifest as data: :class:`Manifest` and its :class:`EnvironmentSpec`, :class:`LibSpec` and
:class:`AppSpec` entries (frozen dataclasses, built by :mod:`._schema`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

FORMAT_VERSION = 1
DEFAULT_KEEP_VERSIONS = 2


@dataclass(frozen=True)
class EnvironmentSpec:
    """One entry of ``environments``."""

    name: str
    kind: str = 'venv'
    python: Optional[str] = None
    interpreter: Optional[str] = None
    requirements: Tuple[str, ...] = ()
    pip_args: Tuple[str, ...] = ()
    conda: Tuple[str, ...] = ()
    channels: Tuple[str, ...] = ()


@dataclass(frozen=True)
class LibSpec:
    """One entry of ``libs``: a shared package installed into the listed environments."""

    name: str
    source: str
    environments: Tuple[str, ...]
    version: Optional[str] = None


@dataclass(frozen=True)
class AppSpec:
    """One entry of ``apps``."""

    name: str
    version: str
    environment: str
    source: str
    entry: str
    args: Tuple[str, ...] = ()
    env: Dict[str, str] = field(default_factory=dict)
    pip_args: Tuple[str, ...] = ()
    install_deps: bool = False
    keep_versions: Optional[int] = None
    #: where ``entry`` is written (``manifest.yaml:12: apps.myapp.entry``), for errors about a missing entry point
    entry_location: Optional[str] = field(default=None, compare=False)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. ``origin`` names where it came from (file path, URL or ``<dict>``)."""

    origin: str
    environments: Dict[str, EnvironmentSpec]
    apps: Dict[str, AppSpec]
    libs: Dict[str, LibSpec] = field(default_factory=dict)
    keep_versions: int = DEFAULT_KEEP_VERSIONS

    def environment_packages(self, env_name: str) -> Tuple[str, ...]:
        """Return the pip requirements of ``env_name``: its own ``requirements`` then the sources of its libs."""
        env = self.environments[env_name]
        libs = tuple(lib.source for lib in self.libs.values() if env_name in lib.environments)
        return env.requirements + libs

    def app_keep_versions(self, app_name: str) -> int:
        """Return how many versions of ``app_name`` to keep installed."""
        app = self.apps[app_name]
        return app.keep_versions if app.keep_versions is not None else self.keep_versions
