"""slaunch: build Python environments and launch versioned apps with self-update, without ever breaking what
works.

Two ways to describe apps:

- a manifest (:mod:`.manifest`), for your own launcher scripts or the CLI::

      from scitrera_app_framework.slaunch.launcher import launch_app
      raise SystemExit(launch_app('myapp', 'https://example.com/myapp/manifest.yaml', args=sys.argv[1:]))

- the original slaunch's central repository (:mod:`.repository`, written by :mod:`.deploy`)::

      raise SystemExit(launch_app('myapp', *sys.argv[1:], app_update=True))

The CLI is ``slaunch`` (``python -m scitrera_app_framework.slaunch``; the function is
``scitrera_app_framework.slaunch.main.main``). The root layout and the rules (build beside, switch when complete,
remove only when unused, file hashes) are in :mod:`.installer`, the update / rollback rules in :mod:`.launcher`.
Importing this package does no I/O and loads neither yaml, urllib nor subprocess. Each name lives in its
module (``launcher``, ``manifest``, ``errors``, ``paths``, ``plan``, ``verify``; ``main.launch_app`` is the
original's path); the names this package re-exported before 0.1.0 still work until 0.3.0, with a
DeprecationWarning naming their home.
"""

from __future__ import annotations

from .._exports import Exports

__all__: list[str] = []

_P = 'scitrera_app_framework.slaunch'

_EXPORTS = Exports(__name__, globals(), moved={
    **dict.fromkeys(['launch_app', 'prepare_launch', 'prepare_repository_launch', 'run_plan'], f'{_P}.launcher'),
    **dict.fromkeys(['load_manifest', 'Manifest', 'EnvironmentSpec', 'LibSpec', 'AppSpec'], f'{_P}.manifest'),
    **dict.fromkeys(['default_root', 'env_python', 'platform_kind', 'validate_name'], f'{_P}.paths'),
    'LaunchPlan': f'{_P}.plan', 'verify_app': f'{_P}.verify', 'VerifyReport': f'{_P}.verify',
    **dict.fromkeys(['SlaunchError', 'ManifestError', 'ManifestFetchError', 'InvalidNameError', 'InstallError',
                     'IntegrityError', 'StateError', 'DeployError'], f'{_P}.errors'),
})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
