"""slaunch: build Python environments from manifests and launch versioned apps with self-update.

Meant to be imported by your own launcher scripts::

    from scitrera_app_framework.slaunch import launch_app
    raise SystemExit(launch_app('myapp', 'https://example.com/myapp/manifest.yaml', args=sys.argv[1:]))

or run as ``python -m scitrera_app_framework.slaunch MANIFEST APP [-- args]``. The manifest schema is in
:mod:`.manifest`, the root layout in :mod:`.installer`, the update / rollback rules in :mod:`.launcher`.
The CLI function is ``scitrera_app_framework.slaunch.main.main`` (``slaunch.main`` is the module). Importing
this package does no I/O and loads neither yaml, urllib nor subprocess.
"""

from __future__ import annotations

from .errors import InstallError, InvalidNameError, ManifestError, ManifestFetchError, SlaunchError, StateError
from .launcher import launch_app, prepare_launch, run_plan
from .manifest import AppSpec, EnvironmentSpec, LibSpec, Manifest, load_manifest
from .paths import default_root, env_python, platform_kind, validate_name
from .plan import LaunchPlan

__all__ = [
    'launch_app', 'prepare_launch', 'run_plan', 'load_manifest', 'Manifest', 'EnvironmentSpec', 'LibSpec',
    'AppSpec', 'LaunchPlan', 'default_root', 'env_python', 'platform_kind', 'validate_name', 'SlaunchError',
    'ManifestError', 'ManifestFetchError', 'InvalidNameError', 'InstallError', 'StateError',
]

