"""``launch_app``: make sure an app version and its environment are installed, then run it.

Self-update and rollback rules (``update=True``, the default):

1. The manifest is read on every launch (file path, ``http(s)://`` URL, dict or :class:`Manifest`).
2. If it cannot be *read* (missing file, network down, HTTP error) and the app is installed, the installed
   version is launched with a warning; if nothing is installed the :class:`ManifestFetchError` is raised.
   A manifest that is read but *invalid* always raises :class:`ManifestError`: fix it.
3. The environment is created if missing and its package layer rebuilt if the package set changed.
4. If the manifest names a version that is not the current one, it is installed into ``.tmp`` and renamed into
   ``apps/<app>/<version>``; older versions are kept (``keep_versions``, default 2, including the current one)
   and pruned oldest first. A kept version named again is switched to without calling pip.
5. If step 3 or 4 fails, nothing installed is touched: the previously installed version is launched and a
   warning names the failure (a broken release never bricks the app). With nothing installed, the
   :class:`InstallError` is raised.

The environment and the app are updated independently: after a failed app update the previous app version runs
with the environment's (possibly updated) packages.

With ``update=False`` the installed version is launched without reading the manifest at all (offline, fast);
the manifest is only read when the app is not installed yet.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, Mapping, Optional, Sequence, Union, overload

from ._log import logger
from .errors import InstallError, ManifestError, ManifestFetchError
from .installer import open_root
from .manifest import Manifest, load_manifest
from .paths import resolve_root, validate_name
from .plan import LaunchPlan

if TYPE_CHECKING:
    import subprocess

__all__ = ['ManifestSource', 'prepare_launch', 'run_plan', 'launch_app']

ManifestSource = Union[str, 'os.PathLike[str]', Mapping[str, Any], Manifest]


def prepare_launch(app: str, manifest: ManifestSource, root: Union[str, os.PathLike, None] = None,
                   update: bool = True) -> LaunchPlan:
    """Install or update what ``app`` needs (see the module docstring) and return its :class:`LaunchPlan`.

    Raises :class:`ManifestError` for a bad manifest or an app it does not define, :class:`InvalidNameError` for
    an unsafe app name, :class:`InstallError` when installing fails and no version is installed yet.
    """
    validate_name(app, 'app name')
    root_path = resolve_root(root)
    with open_root(root_path) as session:
        installed = session.installed_plan(app)
        if installed is not None and not update:
            return installed
        try:
            loaded = load_manifest(manifest)
        except ManifestFetchError as exc:
            if installed is None:
                raise
            logger().warning('%s; launching the installed %s %s', exc, app, installed.version)
            return installed
        spec = loaded.apps.get(app)
        if spec is None:
            defined = ', '.join(sorted(loaded.apps)) or '(none)'
            raise ManifestError(f'app {app!r} is not defined; defined apps: {defined}', source=loaded.origin,
                                key_path='apps')
        try:
            env_info = session.ensure_environment(loaded.environments[spec.environment], loaded)
            session.ensure_app(spec, loaded, env_info)
        except (InstallError, OSError) as exc:
            session.reload()
            fallback = session.installed_plan(app)
            if fallback is None:
                if isinstance(exc, InstallError):
                    raise
                raise InstallError(f'installing app {app!r} {spec.version} failed: {exc}') from exc
            logger().warning('update of app %r to %s failed: %s; launching the installed version %s instead', app,
                           spec.version, exc, fallback.version)
            return fallback
        plan = session.installed_plan(app)
        if plan is None:  # pragma: no cover - ensure_app just recorded it
            raise InstallError(f'app {app!r} {spec.version} was installed but cannot be found in {root_path}')
        return plan


def run_plan(plan: LaunchPlan, args: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
             wait: bool = True) -> Union[int, subprocess.Popen]:
    """Run a :class:`LaunchPlan`; see :func:`launch_app` for ``args``, ``env``, ``wait`` and the result."""
    import subprocess

    if isinstance(args, (str, bytes)):
        raise TypeError(f'args must be a sequence of strings, not a single string ({args!r}); wrap it in a list')
    bad = [a for a in args if not isinstance(a, str)]
    if bad:
        raise TypeError(f'args must all be strings; got {bad!r}')
    logger().info('launching %s %s (%s)', plan.app, plan.version, plan.entry)
    try:
        proc = subprocess.Popen(plan.command(args), env=plan.environ(env))
    except OSError as exc:
        raise InstallError(f'cannot start {plan.python} for app {plan.app!r}: {exc.strerror or exc}; the '
                           f'environment {plan.environment!r} looks broken, delete {plan.env_dir} to rebuild it')\
            from exc
    if not wait:
        return proc
    return _wait(proc)


def _wait(proc: subprocess.Popen) -> int:
    """Wait for the app, forwarding SIGTERM/SIGHUP to it; a first Ctrl-C waits for the app (it got the signal
    too), a second one kills it."""
    import signal
    import threading

    previous = {}
    if threading.current_thread() is threading.main_thread():
        def _forward(signum: int, _frame: Any) -> None:
            try:
                proc.send_signal(signum)
            except OSError:
                pass

        for name in ('SIGTERM', 'SIGHUP'):
            sig = getattr(signal, name, None)
            if sig is not None:
                try:
                    previous[sig] = signal.signal(sig, _forward)
                except (OSError, ValueError):
                    pass
    try:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                proc.kill()
                proc.wait()
                raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@overload
def launch_app(app: str, manifest: ManifestSource, root: Union[str, os.PathLike, None] = ...,
               args: Sequence[str] = ..., update: bool = ..., env: Optional[Mapping[str, str]] = ...,
               wait: Literal[True] = ...) -> int: ...


@overload
def launch_app(app: str, manifest: ManifestSource, root: Union[str, os.PathLike, None] = ...,
               args: Sequence[str] = ..., update: bool = ..., env: Optional[Mapping[str, str]] = ...,
               *, wait: Literal[False]) -> subprocess.Popen: ...


@overload
def launch_app(app: str, manifest: ManifestSource, root: Union[str, os.PathLike, None] = ...,
               args: Sequence[str] = ..., update: bool = ..., env: Optional[Mapping[str, str]] = ...,
               wait: bool = ...) -> Union[int, subprocess.Popen]: ...


def launch_app(app: str, manifest: ManifestSource, root: Union[str, os.PathLike, None] = None,
               args: Sequence[str] = (), update: bool = True, env: Optional[Mapping[str, str]] = None,
               wait: bool = True) -> Union[int, subprocess.Popen]:
    """Install / update ``app`` as ``manifest`` says, then run it with its environment's python.

    ``root`` defaults to ``$SLAUNCH_ROOT`` or the per-user data dir; ``args`` are appended to the manifest's
    ``args``; ``env`` adds environment variables on top of ``os.environ`` and the manifest's ``env``.
    Returns the app's exit code (negative ``-N`` if it was killed by signal N on POSIX) when ``wait`` is true,
    else the running ``subprocess.Popen`` (the caller waits for it). Raises what :func:`prepare_launch` raises.
    """
    plan = prepare_launch(app, manifest, root=root, update=update)
    return run_plan(plan, args=args, env=env, wait=wait)
