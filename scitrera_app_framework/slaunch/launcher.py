"""``launch_app``: make sure an app version and its environment are installed, then run it.

Two sources of apps, one set of rules:

- a **manifest** (ours: :mod:`.manifest`), ``launch_app(app, manifest, root=..., args=[...], update=True)``;
- the original's **central repository** (:mod:`.repository`), ``launch_app(name, *args, apps_manifest=...,
  libs_manifest=..., version=None, app_update=False, libs_update=False, reset=False)``. ``launch_app`` tells them
  apart by the keywords: any of the repository keywords (or no manifest at all) means the repository, and then
  the positional arguments after the name are the app's arguments.

Self-update and rollback rules:

1. The manifest (or the repository's ``manifest.yaml``) is read on every launch. If it cannot be *read* (missing
   file, network or repository down) and the app is installed, the installed version is launched with a
   warning; if nothing is installed the :class:`ManifestFetchError` is raised. A manifest that is read but
   *invalid* always raises :class:`ManifestError`: fix it.
2. What the named version needs is made ready beside what is installed: an environment build (if the kind,
   interpreter, python or conda packages changed), a package layer (if the package set changed), the version
   itself (and, from a repository, its libs). Only when all of it is ready does the app switch to it, in one
   state write; older versions are kept (``keep_versions``, default 2) and pruned oldest first.
3. If step 2 fails, nothing installed is touched: the previous version is launched, with the environment it ran
   with, and a warning names the failure (a broken release never bricks the app). With nothing installed, the
   :class:`InstallError` is raised.
4. Before it runs, the version's files (and its libs' and layer's) are checked against their recorded hashes
   (``SLAUNCH_VERIFY``: ``quick``, the default, ``full`` or ``off``); damaged files are restored from the source
   when it is still there, else the launch is refused with an :class:`IntegrityError` naming them.
5. The running app holds an "in use" mark on everything it uses, so no other launch removes it meanwhile.

With ``update=False`` (CLI ``--no-update``) the installed version is launched without reading the manifest
(offline, fast); the manifest is only read when the app is not installed yet.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional, Sequence, Union

from ._log import logger
from .errors import InstallError, ManifestError, ManifestFetchError
from .installer import BuildSpec, RootSession, open_root, pip_repair_source, verify_mode
from .manifest import Manifest, load_manifest
from .paths import resolve_root, validate_name
from .plan import LaunchPlan

if TYPE_CHECKING:
    import subprocess

__all__ = ['ManifestSource', 'prepare_launch', 'prepare_repository_launch', 'run_plan', 'launch_app',
           'launch_repository_app', 'looks_like_manifest']

ManifestSource = Union[str, 'os.PathLike[str]', Mapping[str, Any], Manifest]
_Repairers = Dict[str, Callable[[Dict[str, Any], Path], None]]


def prepare_launch(app: str, manifest: ManifestSource, root: Union[str, os.PathLike[str], None] = None,
                   update: bool = True, verify: Optional[str] = None) -> LaunchPlan:
    """Install or update what ``app`` needs (see the module docstring) and return its :class:`LaunchPlan`, holding
    the "in use" marks (released by :func:`run_plan` when the app exits, or by ``plan.release()``).

    ``verify`` overrides ``$SLAUNCH_VERIFY``. Raises :class:`ManifestError` for a bad manifest or an app it does
    not define, :class:`InvalidNameError` for an unsafe app name, :class:`InstallError` when installing fails and
    no version is installed yet, :class:`IntegrityError` when the installed files are damaged beyond repair.
    """
    validate_name(app, 'app name')
    mode = verify_mode(verify)
    root_path = resolve_root(root)
    with open_root(root_path) as session:
        installed = session.installed_plan(app)
        if installed is None or update:
            try:
                loaded = load_manifest(manifest)
            except ManifestFetchError as exc:
                if installed is None:
                    raise
                logger().warning('%s; launching the installed %s %s', exc, app, installed.version)
            else:
                _update_from_manifest(session, app, loaded)
        plan = session.installed_plan(app)
        if plan is None:  # pragma: no cover - an update just recorded it, or an error was raised
            raise InstallError(f'app {app!r} was installed but cannot be found in {root_path}')
        return _finish(session, plan, mode, _manifest_repairers(session, app, plan))


def _update_from_manifest(session: RootSession, app: str, loaded: Manifest) -> None:
    spec = loaded.apps.get(app)
    if spec is None:
        defined = ', '.join(sorted(loaded.apps)) or '(none)'
        raise ManifestError(f'app {app!r} is not defined; defined apps: {defined}', source=loaded.origin,
                            key_path='apps')
    try:
        env = session.ensure_environment(BuildSpec.from_manifest(loaded, spec.environment))
        rec, installed_now = session.manifest_version(spec, env)
        old = (session.state['apps'].get(app) or {'versions': {}})['versions'].get(spec.version)
        if installed_now or old is None or (old.get('entry'), old.get('entry_kind')) != (rec['entry'],
                                                                                           rec['entry_kind']):
            try:
                _check_entry(session, app, spec.version, rec)
            except ManifestError:
                session.reload()  # nothing of the refused update is recorded; a version installed for it goes
                if installed_now:
                    session.retire(rec['dir'])
                    session.save()
                raise
        session.switch(app, spec.version, rec, loaded.app_keep_versions(app))
    except (InstallError, OSError) as exc:
        _fall_back(session, app, spec.version, exc)


def _check_entry(session: RootSession, app: str, version: str, rec: Dict[str, Any]) -> None:
    """Resolve a new or changed entry point in the app's own interpreter before it is recorded (a misspelt one
    must never replace the one that works). Raises :class:`ManifestError` (where it is written, the problem) for
    an entry point that does not exist, :class:`InstallError` when the check itself fails (the module's import
    raised, the interpreter cannot start)."""
    import subprocess

    plan = session.plan_for(app, version, rec)
    if plan is None or plan.entry_kind == 'python':
        return
    try:
        proc = subprocess.run(plan.command(), env=plan.check_env(), capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallError(f'checking the entry point {plan.entry!r} of {app!r} {version} failed: {exc}') from None
    if proc.returncode == 0:
        return
    lines = proc.stderr.strip().splitlines()
    last = lines[-1] if lines else f'exit status {proc.returncode}'
    prefix = f'slaunch: error: {plan.entry_location or f"entry point {plan.entry!r}"}: '
    if proc.returncode == 2 and last.startswith(prefix):
        raise ManifestError(last[len(prefix):], source=plan.entry_location or f'entry point {plan.entry!r}')
    raise InstallError(f'the entry point {plan.entry!r} of {app!r} {version} cannot be imported: {last}',
                       output=proc.stderr)


def _fall_back(session: RootSession, app: str, version: str, exc: BaseException) -> None:
    """After a failed update: forget its unsaved changes and keep the installed version, or raise."""
    session.reload()
    fallback = session.installed_plan(app)
    if fallback is None:
        if isinstance(exc, InstallError):
            raise exc
        raise InstallError(f'installing app {app!r} {version} failed: {exc}') from exc
    logger().warning('update of app %r to %s failed: %s; launching the installed version %s instead', app, version,
                     exc, fallback.version)


def _manifest_repairers(session: RootSession, app: str, plan: LaunchPlan) -> _Repairers:
    def _app(rec: Dict[str, Any], staged: Path) -> None:
        pip_repair_source(plan.python, (rec.get('source') or '',), not rec.get('deps'),
                          f'reinstalling app {app!r} {plan.version} to repair it')(rec, staged)

    def _layer(rec: Dict[str, Any], staged: Path) -> None:
        pip_repair_source(plan.python, tuple(rec.get('packages') or ()), False,
                          f'reinstalling the packages of environment {plan.environment!r} to repair them'
                          )(rec, staged)

    return {'app': _app, 'layer': _layer}


def _finish(session: RootSession, plan: LaunchPlan, mode: str, repairers: _Repairers) -> LaunchPlan:
    """Check (and repair) the plan's files, then mark what it uses as in use."""
    session.check_version(plan.app, plan.version, mode, repairers)
    return dataclasses.replace(plan, hold=session.hold(plan))


def prepare_repository_launch(name: str, root: Union[str, os.PathLike[str], None] = None,
                              repository: Union[str, os.PathLike[str], None] = None,
                              apps_manifest: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
                              libs_manifest: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
                              version: Optional[str] = None, app_update: bool = False, libs_update: bool = False,
                              reset: bool = False, verify: Optional[str] = None) -> LaunchPlan:
    """Install or update app ``name`` from the central repository into the local cache and return its plan.

    ``version``: that version instead of the repository's ``current``. ``app_update`` / ``libs_update``: copy the
    app / its libs again when they were redeployed under the same version. ``reset``: rebuild everything (the
    environment, the app, its libs), beside what is installed. ``apps_manifest`` / ``libs_manifest``: the
    repository's indexes, already loaded or as paths (default: read from the repository). Raises what
    :func:`prepare_launch` raises.
    """
    from . import repository as repo_mod

    validate_name(name, 'app name')
    if version is not None:
        validate_name(version, 'app version')
    mode = verify_mode(verify)
    repo = repo_mod.repository_path(repository)
    cache = repo_mod.cache_root(root)
    with open_root(cache) as session:
        try:
            index = repo_mod.read_index(apps_manifest if apps_manifest is not None else repo / repo_mod.INDEX_FILE)
        except ManifestFetchError as exc:
            plan = _cached(session, name, version)
            if plan is None and apps_manifest is None and repo.is_dir() and not (repo / repo_mod.INDEX_FILE).exists():
                raise ManifestError(f'app {name!r} is not in the repository (apps: (none)): no app has been deployed '
                                    f'to {repo} yet', source=str(repo / repo_mod.INDEX_FILE), key_path=name) from None
            if plan is None:
                raise ManifestFetchError(f'the repository {repo} cannot be read ({exc.problem}) and {name} '
                                         f'{version or ""} is not in the cache {cache}'.replace('  ', ' '),
                                         source=exc.source) from None
            logger().warning('the repository %s cannot be read (%s); launching the cached %s %s', repo, exc.problem,
                             name, plan.version)
        else:
            entry = index.get(name)
            target = version or (entry.current or entry.latest if entry is not None else None)
            if target is None:
                known = ', '.join(sorted(index)) or '(none)'
                raise ManifestError(f'app {name!r} is not in the repository (apps: {known})',
                                    source=str(repo / repo_mod.INDEX_FILE) if apps_manifest is None else '<index>',
                                    key_path=name)

            def _libs_index() -> Dict[str, Any]:
                source = libs_manifest if libs_manifest is not None else repo / repo_mod.LIBS_DIR / \
                    repo_mod.INDEX_FILE
                return repo_mod.read_index(source, what='lib')

            try:
                rec = repo_mod.install_version(session, repo, name, target, _libs_index, app_update=app_update,
                                               libs_update=libs_update, reset=reset)
                session.switch(name, target, rec, _keep())
            except (InstallError, OSError) as exc:
                if version is None:
                    _fall_back(session, name, target, exc)
                elif isinstance(exc, InstallError):  # an explicit version is that version or nothing
                    raise
                else:
                    raise InstallError(f'installing {name} {version} failed: {exc}') from exc
        plan = _cached(session, name, version)
        if plan is None:  # pragma: no cover - an update just recorded it, or an error was raised
            raise InstallError(f'{name} {version or ""} is not installed in the cache {cache}')
        return _finish(session, plan, mode,
                       repo_mod.repository_repairers(session, repo, name, plan.version, plan.python))


def _keep() -> int:
    from .manifest import DEFAULT_KEEP_VERSIONS

    return DEFAULT_KEEP_VERSIONS


def _cached(session: RootSession, app: str, version: Optional[str]) -> Optional[LaunchPlan]:
    if version is None:
        return session.installed_plan(app)
    rec = session.state['apps'].get(app, {'versions': {}})['versions'].get(version)
    return session.plan_for(app, version, rec) if rec is not None else None


def run_plan(plan: LaunchPlan, args: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
             wait: bool = True) -> Union[int, subprocess.Popen[bytes]]:
    """Run a :class:`LaunchPlan`; see :func:`launch_app` for ``args``, ``env``, ``wait`` and the result.

    The plan's "in use" marks go to the app's process (POSIX) and are dropped here when it exits (``wait``) or
    once it is started (``wait=False``: the process keeps them while it runs).
    """
    import subprocess

    if isinstance(args, (str, bytes)):
        raise TypeError(f'args must be a sequence of strings, not a single string ({args!r}); wrap it in a list')
    bad = [a for a in args if not isinstance(a, str)]
    if bad:
        raise TypeError(f'args must all be strings; got {bad!r}')
    logger().info('launching %s %s (%s)', plan.app, plan.version, plan.entry or 'python')
    pass_fds = tuple(plan.hold.fds) if plan.hold is not None and os.name == 'posix' else ()
    try:
        proc = subprocess.Popen(plan.command(args), env=plan.environ(env), pass_fds=pass_fds)
    except OSError as exc:
        plan.release()
        raise InstallError(f'cannot start {plan.python} for app {plan.app!r}: {exc.strerror or exc}; the '
                           f'environment {plan.environment!r} looks broken, delete {plan.env_dir} to rebuild it')\
            from exc
    if not wait:
        if os.name == 'posix':
            plan.release()
        return proc
    try:
        return _wait(proc)
    finally:
        plan.release()


def _wait(proc: subprocess.Popen[bytes]) -> int:
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


def launch_repository_app(name: str, *args: str, root: Union[str, os.PathLike[str], None] = None,
                          repository: Union[str, os.PathLike[str], None] = None,
                          apps_manifest: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
                          libs_manifest: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
                          version: Optional[str] = None, app_update: bool = False, libs_update: bool = False,
                          reset: bool = False, env: Optional[Mapping[str, str]] = None,
                          wait: bool = True) -> Union[int, subprocess.Popen[bytes]]:
    """Launch app ``name`` of the central repository with ``args`` (see :func:`prepare_repository_launch` for the
    keywords and :func:`launch_app` for ``env``, ``wait`` and the result)."""
    bad = [a for a in args if not isinstance(a, str)]
    if bad:
        raise TypeError(f'launch_app: the app arguments must be strings; got {bad!r}')
    plan = prepare_repository_launch(name, root=root, repository=repository, apps_manifest=apps_manifest,
                                     libs_manifest=libs_manifest, version=version, app_update=app_update,
                                     libs_update=libs_update, reset=reset)
    return run_plan(plan, args=args, env=env, wait=wait)


_LEGACY_POSITIONAL = ('root', 'args', 'update', 'env', 'wait')


def looks_like_manifest(value: Any) -> bool:
    """True when ``value`` can only be a manifest: a mapping, a :class:`Manifest`, a path object, a URL, a
    ``.yaml`` / ``.yml`` / ``.json`` name, a path with a separator, or an existing file."""
    if isinstance(value, (Mapping, Manifest, os.PathLike)):
        return True
    if not isinstance(value, str):
        return False
    return (value.startswith(('http://', 'https://', 'file://')) or value.lower().endswith(('.yaml', '.yml', '.json'))
            or '/' in value or os.sep in value or os.path.isfile(value))


def launch_app(app: str, *app_args: Any, manifest: Optional[ManifestSource] = None,
               root: Union[str, os.PathLike[str], None] = None, args: Sequence[str] = (), update: bool = True,
               env: Optional[Mapping[str, str]] = None, wait: bool = True,
               apps_manifest: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
               libs_manifest: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
               version: Optional[str] = None, app_update: bool = False, libs_update: bool = False, reset: bool = False,
               repository: Union[str, os.PathLike[str], None] = None) -> Union[int, subprocess.Popen[bytes]]:
    """Install / update ``app`` and run it with its environment's python.

    From a manifest (ours): ``launch_app(app, manifest, root=None, args=(), update=True, env=None, wait=True)``
    (``manifest`` may also be given by keyword). ``root`` defaults to ``$SLAUNCH_ROOT`` or the per-user data
    dir; ``args`` are appended to the manifest's ``args``.

    From the central repository (the original's): ``launch_app(name, *args, apps_manifest=None,
    libs_manifest=None, version=None, app_update=False, libs_update=False, reset=False)``, used when one of those
    keywords (or ``repository=``) is given, or when the second argument is not a manifest (see
    :func:`looks_like_manifest`) or missing; ``*args`` are the app's arguments and ``root`` is the local cache
    (see :func:`prepare_repository_launch`).

    ``env`` adds environment variables on top of ``os.environ`` (and the manifest's ``env``). Returns the app's
    exit code (``-N`` if it was killed by signal N on POSIX) when ``wait`` is true, else the running
    ``subprocess.Popen`` (the caller waits for it). Raises what :func:`prepare_launch` raises.
    """
    original = (apps_manifest is not None or libs_manifest is not None or version is not None or app_update
                or libs_update or reset or repository is not None)
    if original or (manifest is None and (not app_args or not looks_like_manifest(app_args[0]))):
        if manifest is not None:
            raise TypeError('launch_app: manifest= cannot be combined with the repository keywords (apps_manifest, '
                            'libs_manifest, version, app_update, libs_update, reset, repository)')
        return launch_repository_app(app, *app_args, *args, root=root, repository=repository,
                                     apps_manifest=apps_manifest, libs_manifest=libs_manifest, version=version,
                                     app_update=app_update, libs_update=libs_update, reset=reset, env=env,
                                     wait=wait)
    if manifest is None:
        manifest, rest = app_args[0], app_args[1:]
        if len(rest) > len(_LEGACY_POSITIONAL):
            raise TypeError(f'launch_app takes at most {2 + len(_LEGACY_POSITIONAL)} positional arguments with a '
                            'manifest; pass the app arguments as args=[...]')
        given = dict(zip(_LEGACY_POSITIONAL, rest))
        root = given.get('root', root)
        args = given.get('args', args)
        update = given.get('update', update)
        env = given.get('env', env)
        wait = given.get('wait', wait)
    elif app_args:
        raise TypeError('launch_app: with manifest= the app arguments go in args=[...]')
    plan = prepare_launch(app, manifest, root=root, update=update)
    return run_plan(plan, args=args, env=env, wait=wait)
