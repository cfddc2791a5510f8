"""Building environments and installing app versions below a slaunch root, without ever breaking what works.

Root layout::

    <root>/state.json                 what is installed (see :mod:`.state`), replaced atomically
    <root>/.lock                      held while installing (never while an app runs)
    <root>/.locks/<dir>.lock          "in use" marks of running instances (see :mod:`._inuse`)
    <root>/.tmp/                      staging and trash; whatever is left there is deleted by the next run
    <root>/envs/<env>@<n>/            environment build n: a venv (or conda env) holding only the interpreter
    <root>/layers/<env>/<hash>/       a package layer: the environment's requirements + libs (``pip --target``)
    <root>/apps/<app>/<version>/      one app version (``pip --target``, ``--no-deps`` by default, or a copy)
    <root>/libs/<lib>/<version>/      one lib version copied from a central repository (see :mod:`.repository`)

Rules:

- **Built beside, switched in when complete.** A new environment build, layer or app version is made in a new
  directory (staged in ``.tmp`` and renamed into place where the tool allows it; an environment is built at its
  final, new path because venvs and conda envs cannot be moved) and recorded as a spare. Only when everything an
  app needs is ready does one state write switch the app to it. A failure or a crash at any point leaves the
  previous environment and version current and untouched; leftovers are deleted by the next run.
- **Removed only when unused.** An app's current version pins the environment build and layer it runs with.
  What is no longer pinned (or beyond ``keep_versions``) is retired: deleted at once when no running instance
  holds its "in use" lock, else listed as pending in the state and deleted by a later run.
- **Recorded.** Every installed directory gets a file list with hashes (:mod:`._files`), checked at launch.

Why layers instead of installing into the venv: a ``--target`` directory can be built in ``.tmp`` and renamed into
place in one step. A layer is named by the hash of its package set (requirements and libs in any order, pip args,
python version, build), so an unchanged manifest means "nothing to do" without calling pip.

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
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from . import _tools
from ._files import Damage, Entry, check_files, make_record, read_record, write_record
from ._inuse import InUse, exclusive_root_lock, lock_path, remove_lock_file, retiring
from ._log import LOGGER_NAME, logger
from .errors import InstallError, IntegrityError, StateError
from .manifest import AppSpec, Manifest, python_satisfies
from .paths import env_python
from .plan import LaunchPlan
from .state import load_state, remove_stale_temp_files, save_state

__all__ = ['LOGGER_NAME', 'VERIFY_ENV_VAR', 'DEPS_DIR', 'BuildSpec', 'EnvInfo', 'RecordedDir', 'RootSession',
           'open_root', 'verify_mode', 'pip_repair_source']

TMP_DIR = '.tmp'
LOCK_FILE = '.lock'
VERIFY_ENV_VAR = 'SLAUNCH_VERIFY'
DEPS_DIR = '.slaunch-deps'
_LOUD_RECORD_BYTES = 64 * 1024 * 1024


def verify_mode(value: Optional[str] = None) -> str:
    """Return the launch check mode: ``value`` or ``$SLAUNCH_VERIFY``: ``off``, ``quick`` (default) or ``full``.

    Raises :class:`~scitrera_app_framework.exceptions.ConfigurationError` for anything else.
    """
    from ..exceptions import ConfigurationError

    raw = os.environ.get(VERIFY_ENV_VAR, '') if value is None else value
    mode = raw.strip().lower() or 'quick'
    if mode not in ('off', 'quick', 'full'):
        raise ConfigurationError(f'{VERIFY_ENV_VAR}={raw[:50]!r} is not a check mode; use off, quick (sizes and '
                                 'times, the default) or full (every hash)')
    return mode


@dataclass(frozen=True)
class BuildSpec:
    """What an environment must be: the build (kind, interpreter, conda packages or file) and its package layer
    (pip requirements, requirement files, pip args)."""

    name: str
    kind: str = 'venv'
    python: Optional[str] = None
    interpreter: Optional[str] = None
    conda: Tuple[str, ...] = ()
    channels: Tuple[str, ...] = ()
    conda_file: Optional[Path] = None
    conda_file_digest: Optional[str] = None
    packages: Tuple[str, ...] = ()
    requirement_files: Tuple[Path, ...] = ()
    requirement_digest: Optional[str] = None
    pip_args: Tuple[str, ...] = ()
    #: where pip runs for the layer (relative paths in requirement files are relative to it)
    cwd: Optional[Path] = None

    @classmethod
    def from_manifest(cls, manifest: Manifest, env_name: str) -> BuildSpec:
        """Return the spec of environment ``env_name`` of a manifest (its requirements plus its libs)."""
        env = manifest.environments[env_name]
        return cls(name=env.name, kind=env.kind, python=env.python, interpreter=env.interpreter, conda=env.conda,
                   channels=env.channels, packages=manifest.environment_packages(env_name), pip_args=env.pip_args)

    def build_key(self) -> str:
        """Digest of what makes a build (a change means a new build): kind, interpreter, conda packages / file."""
        conda = _digest([list(self.conda), list(self.channels)]) if self.kind == 'conda' else None
        return _digest({'kind': self.kind, 'interpreter': self.interpreter, 'conda': conda,
                        'file': self.conda_file_digest})

    def layer_key(self, python: str, build_id: str) -> str:
        """Digest of what makes a layer (same as slaunch 0.1.0's for its builds, so they are reused)."""
        payload: Dict[str, Any] = {'packages': sorted(self.packages), 'pip_args': list(self.pip_args),
                                   'python': python, 'kind': self.kind}
        if self.requirement_digest is not None:
            payload['files'] = self.requirement_digest
        if build_id != 'legacy':
            payload['build'] = build_id
        return _digest(payload)

    @property
    def has_packages(self) -> bool:
        """True when the environment has a package layer."""
        return bool(self.packages or self.requirement_files)


@dataclass(frozen=True)
class EnvInfo:
    """An environment build ready for installs, and its package layer (None without packages)."""

    name: str
    build: str
    kind: str
    env_dir: Path
    python: Path
    python_version: str
    layer: Optional[str]
    layer_dir: Optional[Path]
    pip_args: Tuple[str, ...] = ()


@contextlib.contextmanager
def open_root(root: Path) -> Iterator[RootSession]:
    """Create ``root`` if needed, lock it, delete leftovers of interrupted runs and retired directories no longer
    in use, and yield a :class:`RootSession`.

    Raises :class:`InstallError` if the root cannot be created and :class:`StateError` for a corrupt state file.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InstallError(f'cannot create the slaunch root {root}: {exc.strerror or exc}; pass a writable root '
                           'or set SLAUNCH_ROOT') from exc
    with exclusive_root_lock(root / LOCK_FILE):
        _clean_tmp(root / TMP_DIR)
        remove_stale_temp_files(root)
        session = RootSession(root)
        session.tidy()
        yield session


def _clean_tmp(tmp: Path) -> None:
    if not tmp.is_dir():
        return
    for entry in tmp.iterdir():
        logger().info('removing %s left behind by an interrupted install', entry)
        _remove(entry)


def _remove(path: Path) -> bool:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return True
    except OSError as exc:
        logger().warning('could not remove %s (%s); the next run retries', path, exc)
        return False
    return True


def _now() -> str:
    return time.strftime('%Y-%m-%dT%H:%M:%S%z')


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode('utf-8')).hexdigest()[:16]


def _prune(entries: Dict[str, Any], current: str, keep: int) -> List[str]:
    """Drop the oldest entries (by install serial) beyond ``keep``, never ``current``; return the dropped keys."""
    newest_first = sorted(entries, key=lambda k: int(entries[k].get('serial', 0)), reverse=True)
    kept = [current] + [k for k in newest_first if k != current][:max(keep - 1, 0)]
    removed = [k for k in newest_first if k not in kept]
    return list(reversed(removed))  # oldest first


class RecordedDir(NamedTuple):
    """A recorded directory of an installed version (:meth:`RootSession.dirs_of`)."""

    what: str  #: how messages name it (``app 'x' 1.0``, ``lib 'y' 2.0``, ``the packages of environment 'e'``)
    kind: str  #: ``'app'``, ``'lib'`` or ``'layer'`` (the key of its repairer in :meth:`RootSession.check_version`)
    record: Dict[str, Any]  #: its record in the state file


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

    def next_serial(self) -> int:
        """Return a new install serial (saved with the next :meth:`save`)."""
        self.state['serial'] = int(self.state.get('serial', 0)) + 1
        return int(self.state['serial'])

    def stage(self, prefix: str) -> Path:
        """Return a new empty directory in ``.tmp`` (deleted by the next run if left there)."""
        self.tmp.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=str(self.tmp)))

    def path(self, rel: str) -> Path:
        """Return ``root/rel`` for a ``dir`` value of the state, checking that it stays inside the root."""
        path = self.root.joinpath(*rel.split('/'))
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(path)
        if os.path.commonpath([real_root, real]) != real_root or real == real_root:
            raise StateError(f'{self.root / "state.json"} names {rel!r}, which resolves to {real}, outside the '
                             'slaunch root; remove the symlink or move the state file away')
        return path

    def fresh_rel(self, base: str) -> str:
        """Return ``base`` if nothing is there, else ``base@<serial>`` (a new directory beside the old one)."""
        if not os.path.lexists(self.path(base)) and base not in self.state['pending']:
            return base
        return f'{base}@{self.next_serial()}'

    def _discard(self, path: Path) -> bool:
        """Move ``path`` into the trash (one rename, so it is gone at once), then delete it."""
        if not os.path.lexists(path):
            return True
        trash = self.stage('trash-')
        os.replace(path, trash / path.name)
        return _remove(trash)

    def begin(self, rel: str) -> None:
        """Note (saved) that ``rel`` is about to be created: until :meth:`settle` records it as installed, it is
        pending, so a crash leaves it to be deleted by the next run (nothing else is ever deleted unasked)."""
        if rel not in self.state['pending']:
            self.state['pending'].append(rel)
        self.save()

    def settle(self, rel: str) -> None:
        """``rel`` is recorded as installed (saved by the caller's next :meth:`save`): no longer pending."""
        if rel in self.state['pending']:
            self.state['pending'].remove(rel)

    def commit(self, staged: Path, rel: str) -> Path:
        """Rename the finished ``staged`` directory to ``rel`` (pending until recorded); returns the path."""
        final = self.path(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(final):  # fresh_rel picks a free name: something else was put there meanwhile
            raise InstallError(f'{final} appeared while installing; slaunch never replaces what it did not '
                               'install: move it away')
        self.begin(rel)
        os.replace(staged, final)
        return final

    def record(self, staged: Path, what: str) -> int:
        """Hash every file of ``staged`` into its file list; return the number of files."""
        from ._progress import Progress

        total = sum(p.lstat().st_size for _, p in _iter(staged))
        mode = None if total >= _LOUD_RECORD_BYTES else 'off'  # hashing a few MB takes no time worth showing
        with Progress(f'recording the files of {what}', total=total, unit='bytes', mode=mode) as bar:
            files = make_record(staged, on_file=bar.advance)
        write_record(staged, files)
        return len(files)

    # ------------------------------------------------------------------------------------------ retirement

    def retire(self, rel: str) -> None:
        """Delete ``root/rel`` now if no running instance uses it, else list it as pending (deleted later)."""
        lock = lock_path(self.root, rel)
        with retiring(lock) as free:
            if free:
                if self._discard(self.path(rel)):
                    remove_lock_file(lock)
                    if rel in self.state['pending']:
                        self.state['pending'].remove(rel)
                    return
            else:
                logger().info('keeping %s for now: a running instance uses it (removed by a later run)', rel)
        if rel not in self.state['pending']:
            self.state['pending'].append(rel)

    def tidy(self) -> None:
        """Delete the pending directories no running instance uses: retired ones, and those an interrupted run
        was creating (only directories slaunch listed itself are ever deleted)."""
        before = list(self.state['pending'])
        recorded = set(self._recorded_dirs())
        for rel in before:
            if rel in recorded:  # recorded after all (a crash between the two writes): keep it
                self.settle(rel)
                continue
            self.retire(rel)
        if self.state['pending'] != before:
            self.save()

    def _recorded_dirs(self) -> Iterator[str]:
        for env in self.state['envs'].values():
            for build in env['builds'].values():
                yield build['dir']
            for layer in env['layers'].values():
                yield layer['dir']
        for app in self.state['apps'].values():
            for rec in app['versions'].values():
                yield rec['dir']
        for lib in self.state['libs'].values():
            for rec in lib['versions'].values():
                yield rec['dir']

    # ---------------------------------------------------------------------------------------------- environments

    def ensure_environment(self, spec: BuildSpec, force: bool = False) -> EnvInfo:
        """Return a build of ``spec`` (an existing matching one, or a new one built beside the others) and its
        package layer (existing or new). Nothing is switched: see :meth:`switch`.

        Raises :class:`InstallError`; the builds and layers already installed are untouched then.
        """
        build_id = self._ensure_build(spec, force)
        layer = self._ensure_layer(spec, build_id, force)
        return self.env_info(spec.name, build_id, layer, spec.pip_args)

    def env_info(self, env_name: str, build_id: str, layer: Optional[str],
                 pip_args: Tuple[str, ...] = ()) -> EnvInfo:
        """Return the :class:`EnvInfo` of a recorded build and layer (``pip_args``: the environment's)."""
        env = self.state['envs'][env_name]
        build = env['builds'][build_id]
        env_dir = self.path(build['dir'])
        layer_dir = self.path(env['layers'][layer]['dir']) if layer else None
        return EnvInfo(name=env_name, build=build_id, kind=build['kind'], env_dir=env_dir,
                       python=env_python(env_dir, build['kind']), python_version=build['python'], layer=layer,
                       layer_dir=layer_dir, pip_args=pip_args)

    def _ensure_build(self, spec: BuildSpec, force: bool) -> str:
        env = self.state['envs'].setdefault(spec.name, {'builds': {}, 'layers': {}})
        key = spec.build_key()
        reason = 'it does not exist yet'
        for build_id, build in sorted(env['builds'].items(), key=lambda kv: -int(kv[1]['serial'])):
            reason = 'its kind, interpreter or conda packages changed'
            if build['spec'] != key:
                continue
            if spec.python and not python_satisfies(_tools.version_tuple(build['python']), spec.python):
                reason = f'its python {build["python"]} does not satisfy {spec.python!r}'
                continue
            if not env_python(self.path(build['dir']), build['kind']).exists():
                reason = 'its interpreter is missing'
                continue
            if force:
                reason = 'a full reset was asked for'
                break
            return str(build_id)
        return self._build(spec, key, reason)

    def _build(self, spec: BuildSpec, key: str, reason: str) -> str:
        version: Tuple[int, ...] = ()
        if spec.kind == 'venv':  # checked before anything is built
            version = _tools.interpreter_version(spec.interpreter, spec.name)
            _check_python(spec, version)
        serial = self.next_serial()
        while os.path.lexists(self.path(f'envs/{spec.name}@{serial}')):  # not ours: never touched
            serial = self.next_serial()
        rel = f'envs/{spec.name}@{serial}'
        env_dir = self.path(rel)
        logger().info('building %s environment %r in %s (%s)', spec.kind, spec.name, env_dir, reason)
        env_dir.parent.mkdir(parents=True, exist_ok=True)
        self.begin(rel)
        python = env_python(env_dir, spec.kind)
        try:
            if spec.kind == 'venv':
                _tools.create_venv(env_dir, spec.name, spec.interpreter)
            else:
                _tools.create_conda(env_dir, spec.name, spec.python, spec.conda, spec.channels, spec.conda_file)
            if not python.exists():
                raise InstallError(f'environment {spec.name!r} was built but has no interpreter at {python}')
            if spec.kind == 'conda':
                version = _tools.interpreter_version(str(python), spec.name)
                _check_python(spec, version)
        except BaseException:
            self._discard(env_dir)
            raise
        self.state['envs'][spec.name]['builds'][str(serial)] = {
            'dir': rel, 'kind': spec.kind, 'interpreter': spec.interpreter,
            'python': '.'.join(str(p) for p in version[:3]), 'spec': key, 'created_at': _now(), 'serial': serial}
        self.settle(rel)
        self.save()  # a spare until an app switches to it
        return str(serial)

    def _ensure_layer(self, spec: BuildSpec, build_id: str, force: bool) -> Optional[str]:
        if not spec.has_packages:
            return None
        env = self.state['envs'][spec.name]
        build = env['builds'][build_id]
        key = spec.layer_key(build['python'], build_id)
        layer = env['layers'].get(key)
        if layer is not None and self.path(layer['dir']).is_dir() and not force:
            return key
        python = env_python(self.path(build['dir']), build['kind'])
        shown = ' '.join(spec.packages + tuple(f'-r {f}' for f in spec.requirement_files))
        logger().info('environment %r: installing packages: %s', spec.name, shown)
        staged = self.stage(f'layer-{spec.name}-')
        try:
            _tools.pip_install(python, staged, spec.packages, spec.pip_args, no_deps=False,
                               requirement_files=spec.requirement_files, cwd=spec.cwd,
                               what=f'installing the packages of environment {spec.name!r}')
            files = self.record(staged, f'the packages of environment {spec.name!r}')
            rel = f'layers/{spec.name}/{key}'
            if os.path.lexists(self.path(rel)) or rel in self.state['pending']:
                rel = f'{rel}r{self.next_serial()}'
            self.commit(staged, rel)
        finally:
            if staged.exists():
                _remove(staged)
        old = env['layers'].get(key)
        env['layers'][key] = {'dir': rel, 'build': build_id, 'serial': self.next_serial(), 'installed_at': _now(),
                              'packages': list(spec.packages), 'pip_args': list(spec.pip_args),
                              'req_files': [str(f) for f in spec.requirement_files], 'files': files}
        self.settle(rel)
        self.save()
        if old is not None and old['dir'] != rel:
            self.retire(old['dir'])
            self.save()
        return key

    # ---------------------------------------------------------------------------------------------------- apps

    def manifest_version(self, spec: AppSpec, env: EnvInfo) -> Tuple[Dict[str, Any], bool]:
        """Return the version record of ``spec`` for ``env``: the installed one (with the launch settings of the
        manifest) or a new install beside it. Returns ``(record, installed now?)``; nothing is switched yet.

        Raises :class:`InstallError` (the installed versions are left untouched).
        """
        app_rec = self.state['apps'].get(spec.name) or {'current': None, 'versions': {}}
        rec = app_rec['versions'].get(spec.version)
        launch = {'environment': spec.environment, 'entry': spec.entry, 'entry_kind': 'module',
                  'entry_location': spec.entry_location, 'args': list(spec.args), 'env': dict(spec.env)}
        if rec is not None and rec['origin'] == 'manifest' and rec.get('python') == env.python_version \
                and rec['environment'] == spec.environment and self.path(rec['dir']).is_dir():
            return {**rec, **launch, 'build': env.build, 'layer': env.layer}, False
        logger().info('app %r: installing version %s from %s', spec.name, spec.version, spec.source)
        pip_args = list(env.pip_args) + list(spec.pip_args)
        staged = self.stage(f'app-{spec.name}-{spec.version}-')
        try:
            _tools.pip_install(env.python, staged, (spec.source,), pip_args,
                               no_deps=not spec.install_deps,
                               what=f'installing app {spec.name!r} {spec.version} from {spec.source}')
            if not any(staged.iterdir()):
                raise InstallError(f'installing app {spec.name!r} {spec.version} from {spec.source} installed '
                                   'nothing; check the source')
            files = self.record(staged, f'app {spec.name!r} {spec.version}')
            rel = self.fresh_rel(f'apps/{spec.name}/{spec.version}')
            self.commit(staged, rel)
        finally:
            if staged.exists():
                _remove(staged)
        new = {'dir': rel, 'serial': self.next_serial(), 'installed_at': _now(), 'origin': 'manifest',
               'python': env.python_version, 'source': spec.source, 'pip_args': pip_args,
               'deps': spec.install_deps, 'libs': {}, 'files': files, 'digest': None, **launch,
               'build': env.build, 'layer': env.layer}
        return new, True

    def switch(self, app: str, version: str, rec: Dict[str, Any], keep: int) -> None:
        """Make ``rec`` the current version of ``app`` in one state write, then retire what is no longer needed:
        a directory the record replaced, versions beyond ``keep``, unpinned builds, layers (the newest ``keep``
        of each environment stay) and libs."""
        app_rec = self.state['apps'].setdefault(app, {'current': None, 'versions': {}})
        old = app_rec['versions'].get(version)
        unchanged = app_rec.get('current') == version and old == rec
        retire: List[str] = []
        if old is not None and old['dir'] != rec['dir']:
            retire.append(old['dir'])
        if app_rec.get('current') != version and old is not None:
            logger().info('app %r: switching to the kept version %s', app, version)
        app_rec['versions'][version] = rec
        app_rec['current'] = version
        self.settle(rec['dir'])
        for key in _prune(app_rec['versions'], version, keep):
            logger().info('app %r: removing old version %s', app, key)
            retire.append(app_rec['versions'].pop(key)['dir'])
        retire += self._unpinned(keep)
        if unchanged and not retire:
            return
        self.save()  # forget first: a crash below leaves only unrecorded directories
        for rel in retire:
            self.retire(rel)
        self.save()

    def _unpinned(self, keep: int) -> List[str]:
        """Drop builds, layers and lib versions no app version pins (keeping each environment's newest build and
        newest layers) from the state; return their directories."""
        builds, layers, libs = set(), set(), set()
        for app in self.state['apps'].values():
            for rec in app['versions'].values():
                builds.add((rec['environment'], rec.get('build')))
                layers.add((rec['environment'], rec.get('layer')))
                for lib, version in (rec.get('libs') or {}).items():
                    libs.add((lib, version))
        out: List[str] = []
        for env_name, env in self.state['envs'].items():
            newest = sorted(env['builds'], key=lambda b: -int(env['builds'][b]['serial']))[:1]
            for build_id in list(env['builds']):
                if (env_name, build_id) not in builds and build_id not in newest:
                    out.append(env['builds'].pop(build_id)['dir'])
            newest_layers = sorted(env['layers'], key=lambda k: -int(env['layers'][k]['serial']))[:keep]
            for key in list(env['layers']):
                layer = env['layers'][key]
                if (env_name, key) in layers or (key in newest_layers and layer['build'] in env['builds']):
                    continue
                out.append(env['layers'].pop(key)['dir'])
        for lib_name, lib in self.state['libs'].items():
            for version in list(lib['versions']):
                if (lib_name, version) not in libs:
                    out.append(lib['versions'].pop(version)['dir'])
        return out

    def add_lib(self, lib: str, version: str, rec: Dict[str, Any]) -> None:
        """Record a lib version (installed by the caller into ``rec['dir']``), retiring a directory it replaces."""
        versions = self.state['libs'].setdefault(lib, {'versions': {}})['versions']
        old = versions.get(version)
        versions[version] = rec
        self.settle(rec['dir'])
        self.save()
        if old is not None and old['dir'] != rec['dir']:
            self.retire(old['dir'])
            self.save()

    # ------------------------------------------------------------------------------------------------- launch

    def installed_plan(self, app: str) -> Optional[LaunchPlan]:
        """Return the plan for the app's current installed version, or None if it is not (completely) installed."""
        app_rec = self.state['apps'].get(app)
        if app_rec is None or not app_rec.get('current'):
            return None
        version = app_rec['current']
        rec = app_rec['versions'].get(version)
        return self.plan_for(app, version, rec) if rec is not None else None

    def plan_for(self, app: str, version: str, rec: Dict[str, Any]) -> Optional[LaunchPlan]:
        """Return the :class:`LaunchPlan` of a version record, or None if something it needs is gone."""
        env_name = rec['environment']
        env = self.state['envs'].get(env_name)
        if env is None or not env['builds']:
            return None
        build_id = rec.get('build')
        if build_id not in env['builds']:
            build_id = max(env['builds'], key=lambda b: int(env['builds'][b]['serial']))
        build = env['builds'][build_id]
        layer_id = rec.get('layer')
        layer = env['layers'].get(layer_id) if layer_id else None
        if layer_id and layer is None:
            return None
        app_dir = self.path(rec['dir'])
        env_dir = self.path(build['dir'])
        python = env_python(env_dir, build['kind'])
        layer_dir = self.path(layer['dir']) if layer else None
        extra: List[Path] = []
        if (app_dir / DEPS_DIR).is_dir():
            extra.append(app_dir / DEPS_DIR)
        for lib, lib_version in (rec.get('libs') or {}).items():
            lib_rec = self.state['libs'].get(lib, {'versions': {}})['versions'].get(lib_version)
            if lib_rec is None:
                return None
            extra.append(self.path(lib_rec['dir']))
        needed = [app_dir, *extra] + ([layer_dir] if layer_dir is not None else [])
        if not python.exists() or not all(p.is_dir() for p in needed):
            return None
        return LaunchPlan(app=app, version=version, root=self.root, environment=env_name, kind=build['kind'],
                          env_dir=env_dir, python=python, app_dir=app_dir, layer_dir=layer_dir, entry=rec['entry'],
                          args=tuple(rec.get('args') or ()), env=dict(rec.get('env') or {}),
                          entry_kind=rec.get('entry_kind', 'module'), extra_dirs=tuple(extra),
                          entry_location=rec.get('entry_location'))

    def dirs_of(self, app: str, version: str) -> List[RecordedDir]:
        """Return ``(what, kind, record)`` of every recorded directory a version uses: the version, its libs,
        its layer (kind is ``'app'``, ``'lib'`` or ``'layer'``)."""
        rec = self.state['apps'][app]['versions'][version]
        out = [RecordedDir(f'app {app!r} {version}', 'app', rec)]
        for lib, lib_version in (rec.get('libs') or {}).items():
            lib_rec = self.state['libs'].get(lib, {'versions': {}})['versions'].get(lib_version)
            if lib_rec is not None:
                out.append(RecordedDir(f'lib {lib!r} {lib_version}', 'lib', lib_rec))
        env = self.state['envs'].get(rec['environment'])
        if env is not None and rec.get('layer') in env['layers']:
            out.append(RecordedDir(f'the packages of environment {rec["environment"]!r}', 'layer',
                                   env['layers'][rec['layer']]))
        return out

    def hold(self, plan: LaunchPlan) -> InUse:
        """Mark everything ``plan`` uses as in use (shared locks; see :mod:`._inuse`) and return the marks."""
        marks = InUse()
        try:
            for path in (plan.app_dir, *plan.extra_dirs, plan.layer_dir, plan.env_dir):
                if path is None or path.name == DEPS_DIR:
                    continue
                marks.hold(lock_path(self.root, path.relative_to(self.root).as_posix()))
        except BaseException:
            marks.release()
            raise
        return marks

    # ---------------------------------------------------------------------------------------------- integrity

    def check_version(self, app: str, version: str, mode: str,
                      repairers: Optional[Dict[str, Callable[[Dict[str, Any], Path], None]]] = None) -> None:
        """Check the files of a version (and its libs and layer) against their lists; repair damage with
        ``repairers[kind](record, staging dir)`` (which fills the staging dir with fresh copies) or raise.

        Raises :class:`IntegrityError` naming the damaged files when they cannot be repaired.
        """
        if mode == 'off':
            return
        for what, kind, rec in self.dirs_of(app, version):
            directory = self.path(rec['dir'])
            files = read_record(directory)
            if files is None:
                if rec.get('files') is None:  # installed by slaunch 0.1.0: record what is there now
                    logger().info('recording the files of %s (installed by an older slaunch)', what)
                    rec['files'] = self.record(directory, what)
                    self.save()
                    continue
                raise IntegrityError(f'{what} in {directory} has lost its file list ({directory}/'
                                     '.slaunch-files.json); install a new version (from a repository: '
                                     '--slaunch-full-reset) or set SLAUNCH_VERIFY=off to launch it unchecked')
            damage = check_files(directory, files, mode)
            if damage:
                repair = (repairers or {}).get(kind)
                problem = 'no source to repair it from'
                if repair is not None:
                    try:
                        self._repair(directory, files, damage, what, functools.partial(repair, rec))
                        continue
                    except (InstallError, OSError) as exc:
                        problem = f'repair failed: {exc}'
                raise IntegrityError(f'{what} is damaged: {damage.describe()} in {directory}; {problem}. Make '
                                     'its source reachable again and relaunch (it is then repaired), install a new '
                                     'version (from a repository: --slaunch-full-reset) or set SLAUNCH_VERIFY=off '
                                     'to launch it anyway')
            if damage.refreshed:
                write_record(directory, files)

    def _repair(self, directory: Path, files: Dict[str, Entry], damage: Damage, what: str,
                fetch: Callable[[Path], None]) -> None:
        """Put fresh copies of the damaged files in place, one atomic rename each (a running instance keeps
        working); each copy must have the recorded hash."""
        from ._files import hash_file

        logger().warning('%s is damaged (%s); repairing it', what, damage.describe())
        staged = self.stage('repair-')
        try:
            fetch(staged)
            for rel in damage.bad:
                fresh = staged.joinpath(*rel.split('/'))
                if not fresh.is_file() or hash_file(fresh) != files[rel].sha256:
                    raise InstallError(f'the source no longer has the installed {rel} (its content changed)')
            for rel in damage.bad:
                target = directory.joinpath(*rel.split('/'))
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f'.{target.name}.slaunch-repair')
                shutil.copy2(staged.joinpath(*rel.split('/')), tmp)
                os.replace(tmp, target)
                st = target.lstat()
                files[rel] = Entry(st.st_size, st.st_mtime_ns, files[rel].sha256)
        finally:
            _remove(staged)
        for cache in sorted(directory.rglob('__pycache__'), reverse=True):  # may hold the damaged code's bytecode
            _remove(cache)
        write_record(directory, files)
        logger().warning('%s repaired (%d file(s) restored)', what, len(damage.bad))


def _check_python(spec: BuildSpec, version: Tuple[int, ...]) -> None:
    if spec.python is not None and not python_satisfies(version, spec.python):
        shown = '.'.join(str(p) for p in version[:3])
        raise InstallError(f"environment {spec.name!r} requires python {spec.python!r} but the interpreter is "
                           f"{shown}; run the launcher with a matching python or set 'interpreter' in the "
                           'environment')


def _iter(root: Path) -> Iterator[Tuple[str, Path]]:
    from ._files import iter_files

    return iter_files(root)


def pip_repair_source(python: Path, packages: Sequence[str], no_deps: bool,
                      what: str) -> Callable[[Dict[str, Any], Path], None]:
    """Return a repairer (see :meth:`RootSession.check_version`) that reinstalls ``packages`` with the recorded
    pip args and requirement files into the staging directory."""
    def _repair(rec: Dict[str, Any], staged: Path) -> None:
        _tools.pip_install(python, staged, packages, rec.get('pip_args') or (), no_deps=no_deps,
                           requirement_files=[Path(f) for f in rec.get('req_files') or ()], what=what)

    return _repair
