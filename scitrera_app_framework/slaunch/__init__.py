"""slaunch: build Python environments and launch versioned apps with self-update, without ever breaking what
works.

Two ways to describe apps:

- a manifest (:mod:`.manifest`), for your own launcher scripts or the CLI::

      from scitrera_app_framework.slaunch import launch_app
      raise SystemExit(launch_app('myapp', 'https://example.com/myapp/manifest.yaml', args=sys.argv[1:]))

- the original slaunch's central repository (:mod:`.repository`, written by :mod:`.deploy`)::

      raise SystemExit(launch_app('myapp', *sys.argv[1:], app_update=True))

The CLI is ``slaunch`` (``python -m scitrera_app_framework.slaunch``; the function is
``scitrera_app_framework.slaunch.main.main``). The root layout and the rules (build beside, switch when complete,
remove only when unused, file hashes) are in :mod:`.installer`, the update / rollback rules in :mod:`.launcher`.
Importing this package does no I/O and loads neither yaml, urllib nor subprocess.
"""

from __future__ import annotations

from .errors import (
    DeployError,
    InstallError,
    IntegrityError,
    InvalidNameError,
    ManifestError,
    ManifestFetchError,
    SlaunchError,
    StateError,
)
from .launcher import launch_app, prepare_launch, prepare_repository_launch, run_plan
from .manifest import AppSpec, EnvironmentSpec, LibSpec, Manifest, load_manifest
from .paths import default_root, env_python, platform_kind, validate_name
from .plan import LaunchPlan
from .verify import VerifyReport, verify_app

__all__ = [
    'launch_app', 'prepare_launch', 'prepare_repository_launch', 'run_plan', 'load_manifest', 'Manifest',
    'EnvironmentSpec', 'LibSpec', 'AppSpec', 'LaunchPlan', 'default_root', 'env_python', 'platform_kind',
    'validate_name', 'verify_app', 'VerifyReport', 'SlaunchError', 'ManifestError', 'ManifestFetchError',
    'InvalidNameError', 'InstallError', 'IntegrityError', 'StateError', 'DeployError',
]
