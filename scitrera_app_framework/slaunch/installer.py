"""Building environments and installing app versions below a slaunch root.

Root layout::

    <root>/state.json               what is installed (see :mod:`.state`), replaced atomically
    <root>/.lock                    held while installing (never while an app runs)
    <root>/.tmp/                    staging and trash; whatever is left there is deleted by the next run
    <root>/envs/<env>/              the environment: a venv (or conda env) holding only the interpreter
    <root>/layers/<env>/<hash>/     the environment's requirements + libs (``pip install --target``)
    <root>/apps/<app>/<version>/    one app version (``pip install --target``, ``--no-deps`` by default)

Why layers instead of installing into the venv: a venv cannot be updated atomically, while a ``--target``
directory can be built in ``.tmp`` and renamed into place in one step. An interrupted or failed install therefore
never touches what is installed; the state file only switches to the new directory after the rename. A layer is
named by the hash of its package set (requirements and libs in any order, pip args, python version), so an
unchanged manifest means "nothing to do" without calling pip, and going back to an older set reuses its kept
directory.

Venvs are created ``--without-pip`` (about 50 ms instead of about 4 s); pip is run from the launcher's own
interpreter as ``python -m pip --python <env python> install --target ...`` (pip >= 22.3), which also picks
wheels for the environment's interpreter. Without a suitable pip in the launcher, venvs get their own pip
(``ensurepip``, offline) and that one is used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ._log import LOGGER_NAME, logger
from .errors import InstallError, InvalidNameError, StateError
from .manifest import AppSpec, EnvironmentSpec, Manifest, check_python_requirement, python_satisfies
from .paths import env_python, safe_child
from .plan import LaunchPlan
from .state import load_state, remove_stale_temp_files, save_state

__all__ = ['LOGGER_NAME', 'EnvInfo', 'RootSession', 'open_root']

TMP_DIR = '.tmp'
LOCK_FILE = '.lock'


@dataclass(frozen=True)
class EnvInfo:
    """An environment ready for installs: its interpreter and current layer directory (None without packages)."""

    name: str
    kind: str
    env_dir: Path
    python: Path
    python_version: str
    layer_dir: Optional[Path]
    pip_args: Tuple[str, ...]


@contextlib.contextmanager
def open_root(root: Path) -> Iterator[RootSession]:
    """Create ``root`` if needed, lock it, delete leftovers of interrupted runs and yield a :class:`RootSession`.

    Raises :class:`InstallError` if the root cannot be created and :class:`StateError` for a corrupt state file.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(f'cannot create the slaunch root {root}: {exc.strerror or exc}; pass a writable root '
                           'or set SLAUNCH_ROOT') from exc
    with _exclusive_lock(root / LOCK_FILE):
        _clean_tmp(root / TMP_DIR)
        remove_stale_temp_files(root)
        yield RootSession(root)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    try:
        fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InstallError(f'cannot open the lock file {path}: {exc.strerror or exc}; is the root writable?') \
            from exc
    try:
        if sys.platform == 'win32':
            import msvcrt

            waited = False
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    if not waited:
                        logger().info('waiting for another slaunch to finish installing in %s', path.parent)
                        waited = True
                    time.sleep(0.2)
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger().info('waiting for another slaunch to finish installing in %s', path.parent)
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _clean_tmp(tmp: Path) -> None:
    if not tmp.is_dir():
        return
    for entry in tmp.iterdir():
        logger().info('removing %s left behind by an interrupted install', entry)
        _remove(entry)


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError as exc:
        logger().warning('could not remove %s (%s); the next run retries', path, exc)


def _now() -> str:
    return time.strftime('%Y-%m-%dT%H:%M:%S%z')


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode('utf-8')).hexdigest()[:16]


def _version_tuple(text: Any) -> Tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r'\d+', str(text))[:3])


class RootSession:
    """Installs into a locked root (see :func:`open_root`); every change is recorded in the state file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / TMP_DIR
        self.state: Dict[str, Any] = load_state(root)

    # ------------------------------------------------------------------------------------------------ helpers

    def save(self) -> None:
        """Write the state atomically."""
        save_state(self.root, self.state)

    def reload(self) -> None:
        """Forget unsaved changes: read the state back from disk (after a failed update)."""
        self.state = load_state(self.root)

    def _serial(self) -> int:
        self.state['serial'] = int(self.state.get('serial', 0)) + 1
        return int(self.state['serial'])

    def _staging(self, prefix: str) -> Path:
        self.tmp.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=str(self.tmp)))

    def _discard(self, path: Path) -> None:
        """Move ``path`` into the trash (one rename, so it is gone at once), then delete it."""
        if not path.exists() and not path.is_symlink():
            return
        trash = self._staging('trash-')
        os.replace(path, trash / path.name)
        _remove(trash)

    def _commit(self, staged: Path, final: Path) -> None:
        """Rename the finished ``staged`` directory to ``final`` (moving an unrecorded leftover out of the way)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        self._discard(final)
        os.replace(staged, final)

    def _child(self, *parts: str) -> Path:
        try:
            return safe_child(self.root, *parts)
        except InvalidNameError as exc:
            raise StateError(f'{self.root / "state.json"} names an unsafe path ({exc}); move the state file away')\
                from None

    # ---------------------------------------------------------------------------------------------- environments

    def ensure_environment(self, spec: EnvironmentSpec, manifest: Manifest) -> EnvInfo:
        """Create the environment if missing or changed and install its packages if they changed.

        Returns an :class:`EnvInfo`; raises :class:`InstallError` (nothing installed is changed then).
        """
        env_dir = safe_child(self.root, 'envs', spec.name)
        python = env_python(env_dir, spec.kind)
        rec = self.state['envs'].get(spec.name)
        reason = None
        if rec is None:
            reason = 'it does not exist yet'
        elif rec.get('kind') != spec.kind or rec.get('interpreter') != spec.interpreter:
            reason = 'its kind or interpreter changed'
        elif spec.python and not python_satisfies(_version_tuple(rec.get('python')), spec.python):
            reason = f'its python {rec.get("python")} does not satisfy {spec.python!r}'
        elif not python.exists():
            reason = f'its interpreter {python} is missing'
        if reason is not None:
            rec = self._create_environment(spec, env_dir, python, reason)
        assert rec is not None
        if spec.kind == 'conda':
            self._apply_conda_packages(spec, env_dir, rec)
        layer = self._ensure_layer(spec, manifest, rec, python)
        return EnvInfo(name=spec.name, kind=spec.kind, env_dir=env_dir, python=python,
                       python_version=str(rec['python']), layer_dir=layer, pip_args=spec.pip_args)

    def _create_environment(self, spec: EnvironmentSpec, env_dir: Path, python: Path, reason: str) -> Dict[str, Any]:
        logger().info('creating %s environment %r in %s (%s)', spec.kind, spec.name, env_dir, reason)
        version: Tuple[int, ...] = ()
        if spec.kind == 'venv':  # check before the old environment is removed
            version = _interpreter_version(spec.interpreter, spec.name)
            problem = check_python_requirement(spec, version)
            if problem:
                raise InstallError(problem)
        # the old environment (if any) and its layers are replaced; forget them before touching the disk
        self.state['envs'].pop(spec.name, None)
        self.save()
        self._discard(env_dir)
        self._discard(safe_child(self.root, 'layers', spec.name))
        try:
            if spec.kind == 'venv':
                _create_venv(env_dir, spec)
            else:
                _create_conda(env_dir, spec)
            if not python.exists():
                raise InstallError(f'environment {spec.name!r} was created but has no interpreter at {python}')
            if spec.kind == 'conda':
                version = _interpreter_version(str(python), spec.name)
            problem = check_python_requirement(spec, version)
            if problem:
                raise InstallError(problem)
        except BaseException:
            self._discard(env_dir)
            raise
        rec: Dict[str, Any] = {
            'kind': spec.kind, 'interpreter': spec.interpreter, 'python': '.'.join(str(p) for p in version[:3]),
            'created_at': _now(), 'current': None, 'layers': {},
            'conda_hash': _digest([list(spec.conda), list(spec.channels)]) if spec.kind == 'conda' else None,
        }
        self.state['envs'][spec.name] = rec
        self.save()
        return rec

    def _apply_conda_packages(self, spec: EnvironmentSpec, env_dir: Path, rec: Dict[str, Any]) -> None:
        wanted = _digest([list(spec.conda), list(spec.channels)])
        if rec.get('conda_hash') == wanted or not spec.conda:
            return
        logger().info('installing conda packages into environment %r (updated in place by conda)', spec.name)
        cmd = [_conda_exe(spec.name), 'install', '--yes', '--quiet', '--prefix', str(env_dir)]
        for channel in spec.channels:
            cmd += ['--channel', channel]
        _run_tool(cmd + list(spec.conda), f'installing the conda packages of environment {spec.name!r}', 'conda')
        rec['conda_hash'] = wanted
        self.save()

    def _ensure_layer(self, spec: EnvironmentSpec, manifest: Manifest, rec: Dict[str, Any],
                      python: Path) -> Optional[Path]:
        packages = manifest.environment_packages(spec.name)
        layers: Dict[str, Any] = rec.setdefault('layers', {})
        if not packages:
            if rec.get('current') is not None:
                rec['current'] = None
                self.save()
            return None
        key = _digest({'packages': sorted(packages), 'pip_args': list(spec.pip_args), 'python': rec['python'],
                       'kind': spec.kind})
        layers_root = safe_child(self.root, 'layers', spec.name)
        layer_dir = layers_root / key
        if key in layers and layer_dir.is_dir():
            if rec.get('current') != key:
                logger().info('environment %r: switching back to the kept package layer %s', spec.name, key)
                rec['current'] = key
                self.save()
            return layer_dir
        logger().info('environment %r: installing %d package(s): %s', spec.name, len(packages), ' '.join(packages))
        staged = self._staging(f'layer-{spec.name}-')
        try:
            _pip_install(python, staged, packages, spec.pip_args, no_deps=False,
                         what=f'installing the packages of environment {spec.name!r}')
            self._commit(staged, layer_dir)
        finally:
            if staged.exists():
                _remove(staged)
        layers[key] = {'serial': self._serial(), 'installed_at': _now(), 'packages': list(packages)}
        rec['current'] = key
        removed = _prune(layers, key, manifest.keep_versions)
        self.save()
        for old in removed:
            self._discard(layers_root / old)
        return layer_dir

    # ---------------------------------------------------------------------------------------------------- apps

    def ensure_app(self, spec: AppSpec, manifest: Manifest, env: EnvInfo) -> bool:
        """Install ``spec.version`` of the app unless it is already installed for this environment, and make it
        the current version. Returns True if pip ran. Raises :class:`InstallError` (the installed versions are
        left untouched)."""
        version_dir = safe_child(self.root, 'apps', spec.name, spec.version)
        app_rec: Dict[str, Any] = self.state['apps'].get(spec.name) or {'current': None, 'versions': {}}
        versions: Dict[str, Any] = app_rec.setdefault('versions', {})
        launch = {'environment': spec.environment, 'entry': spec.entry, 'args': list(spec.args),
                  'env': dict(spec.env)}
        rec = versions.get(spec.version)
        if rec is not None and version_dir.is_dir() and rec.get('environment') == spec.environment \
                and rec.get('python') == env.python_version:
            keep = manifest.app_keep_versions(spec.name)
            if app_rec.get('current') != spec.version or any(rec.get(k) != v for k, v in launch.items()) \
                    or len(versions) > keep:
                if app_rec.get('current') != spec.version:
                    logger().info('app %r: switching to the kept version %s', spec.name, spec.version)
                rec.update(launch)
                app_rec['current'] = spec.version
                self.state['apps'][spec.name] = app_rec
                self._save_and_prune_app(spec.name, versions, spec.version, keep)
            return False
        logger().info('app %r: installing version %s from %s', spec.name, spec.version, spec.source)
        staged = self._staging(f'app-{spec.name}-{spec.version}-')
        try:
            _pip_install(env.python, staged, (spec.source,), env.pip_args + spec.pip_args,
                         no_deps=not spec.install_deps,
                         what=f'installing app {spec.name!r} {spec.version} from {spec.source}')
            if not any(staged.iterdir()):
                raise InstallError(f'installing app {spec.name!r} {spec.version} from {spec.source} installed '
                                   'nothing; check the source')
            self._commit(staged, version_dir)
        finally:
            if staged.exists():
                _remove(staged)
        versions[spec.version] = {'serial': self._serial(), 'installed_at': _now(), 'python': env.python_version,
                                  'source': spec.source, **launch}
        app_rec['current'] = spec.version
        self.state['apps'][spec.name] = app_rec
        self._save_and_prune_app(spec.name, versions, spec.version, manifest.app_keep_versions(spec.name))
        return True

    def _save_and_prune_app(self, app: str, versions: Dict[str, Any], current: str, keep: int) -> None:
        removed = _prune(versions, current, keep)
        self.save()  # forget pruned versions first: a crash below leaves only unrecorded directories
        for old in removed:
            logger().info('app %r: removing old version %s', app, old)
            self._discard(safe_child(self.root, 'apps', app, old))

    def installed_plan(self, app: str) -> Optional[LaunchPlan]:
        """Return the plan for the app's current installed version, or None if it is not (completely) installed."""
        app_rec = self.state['apps'].get(app)
        if not isinstance(app_rec, dict) or not app_rec.get('current'):
            return None
        version = str(app_rec['current'])
        rec = app_rec.get('versions', {}).get(version)
        if not isinstance(rec, dict):
            return None
        env_name = str(rec.get('environment'))
        env_rec = self.state['envs'].get(env_name)
        if not isinstance(env_rec, dict):
            return None
        app_dir = self._child('apps', app, version)
        env_dir = self._child('envs', env_name)
        kind = str(env_rec.get('kind', 'venv'))
        python = env_python(env_dir, kind)
        layer_dir = self._child('layers', env_name, str(env_rec['current'])) if env_rec.get('current') else None
        if not app_dir.is_dir() or not python.exists() or (layer_dir is not None and not layer_dir.is_dir()):
            return None
        return LaunchPlan(app=app, version=version, root=self.root, environment=env_name, kind=kind,
                          env_dir=env_dir, python=python, app_dir=app_dir, layer_dir=layer_dir,
                          entry=str(rec.get('entry')), args=tuple(rec.get('args') or ()),
                          env=dict(rec.get('env') or {}))


def _prune(entries: Dict[str, Any], current: str, keep: int) -> List[str]:
    """Drop the oldest entries (by install serial) beyond ``keep``, never ``current``; return the dropped keys."""
    newest_first = sorted(entries, key=lambda k: int(entries[k].get('serial', 0)), reverse=True)
    kept = [current] + [k for k in newest_first if k != current][:max(keep - 1, 0)]
    removed = [k for k in newest_first if k not in kept]
    for key in removed:
        del entries[key]
    return list(reversed(removed))  # oldest first


# -------------------------------------------------------------------------------------------------- tool calls


def _interpreter_version(interpreter: Optional[str], env_name: str) -> Tuple[int, ...]:
    if interpreter is None:
        return tuple(sys.version_info[:3])
    out = _run_tool([interpreter, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
                    f'querying the interpreter of environment {env_name!r}', 'python')
    version = _version_tuple(out.strip().splitlines()[-1] if out.strip() else '')
    if len(version) < 2:
        raise InstallError(f'could not read the version of {interpreter} (environment {env_name!r}); got {out!r}')
    return version


def _create_venv(env_dir: Path, spec: EnvironmentSpec) -> None:
    with_pip = not _launcher_pip_usable()
    if spec.interpreter is None:
        import subprocess
        import venv

        try:
            venv.EnvBuilder(with_pip=with_pip, symlinks=os.name != 'nt').create(str(env_dir))
        except (OSError, subprocess.CalledProcessError) as exc:
            raise InstallError(f'creating the venv of environment {spec.name!r} in {env_dir} failed: {exc}') \
                from exc
        return
    cmd = [spec.interpreter, '-m', 'venv'] + ([] if with_pip else ['--without-pip']) + [str(env_dir)]
    _run_tool(cmd, f'creating the venv of environment {spec.name!r} with {spec.interpreter}', 'venv')


def _conda_exe(env_name: str) -> str:
    for name in ('mamba', 'conda'):
        found = shutil.which(name)
        if found:
            return found
    raise InstallError(f"environment {env_name!r} has kind: conda but neither conda nor mamba is on PATH; install "
                       'Miniforge (https://github.com/conda-forge/miniforge) or use kind: venv')


def _conda_python_spec(spec: Optional[str]) -> str:
    if not spec:
        return 'python'
    text = spec.replace(' ', '')
    if re.fullmatch(r'\d+(\.\d+)*', text):
        return f'python={text}'
    if re.fullmatch(r'==\d+(\.\d+)*\.\*', text):
        return f'python={text[2:-2]}'
    return f'python{text}'


def _create_conda(env_dir: Path, spec: EnvironmentSpec) -> None:
    cmd = [_conda_exe(spec.name), 'create', '--yes', '--quiet', '--prefix', str(env_dir)]
    for channel in spec.channels:
        cmd += ['--channel', channel]
    cmd += [_conda_python_spec(spec.python), *spec.conda]
    _run_tool(cmd, f'creating the conda environment {spec.name!r}', 'conda')


@functools.lru_cache(maxsize=1)
def _launcher_pip_usable() -> bool:
    """True if the launcher's interpreter has a pip that supports ``--python`` (pip >= 22.3)."""
    import importlib.metadata
    import importlib.util

    if importlib.util.find_spec('pip') is None:
        return False
    try:
        version = _version_tuple(importlib.metadata.version('pip'))
    except importlib.metadata.PackageNotFoundError:
        return False
    return version[:2] >= (22, 3)


def _pip_install(python: Path, target: Path, packages: Sequence[str], pip_args: Sequence[str], *, no_deps: bool,
                 what: str) -> None:
    if _launcher_pip_usable():
        cmd = [sys.executable, '-m', 'pip', '--python', str(python)]
    else:
        cmd = [str(python), '-m', 'pip']
    cmd += ['install', '--target', str(target), '--no-input', '--disable-pip-version-check',
            '--no-warn-script-location', '--progress-bar', 'off']
    if no_deps:
        cmd.append('--no-deps')
    cmd += [*pip_args, *packages]
    _run_pip(cmd, what)


def _run_pip(cmd: List[str], what: str) -> str:
    """Run a pip command; tests replace this function to watch or break pip."""
    return _run_tool(cmd, what, 'pip')


def _run_tool(cmd: List[str], what: str, tool: str) -> str:
    import subprocess

    env = dict(os.environ)
    env.setdefault('PIP_DISABLE_PIP_VERSION_CHECK', '1')
    logger().debug('running %s', cmd)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              env=env, check=False)
    except OSError as exc:
        raise InstallError(f'{what} failed: cannot run {cmd[0]}: {exc.strerror or exc}') from exc
    output = proc.stdout.decode('utf-8', 'replace')
    if proc.returncode != 0:
        logger().debug('%s output:\n%s', tool, output)
        raise InstallError(f'{what} failed: {_summary(output)} ({tool} exit code {proc.returncode})', output=output)
    return output


def _summary(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('ERROR:')]
    text = errors[-1][len('ERROR:'):].strip() if errors else (lines[-1] if lines else 'no output')
    return text if len(text) <= 300 else text[:297] + '...'
