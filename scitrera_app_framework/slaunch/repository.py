"""The original slaunch's central repository: reading it, and launching its apps through a local cache.

Layout (written by :mod:`.deploy`, or by the original's deploy tools)::

    $SLAUNCH_REPOSITORY_PATH/            default /slaunch_repo
      manifest.yaml                      app name -> {current: <version>, latest: <version>}
      <app>/<version>/                   the app's files, as deployed
        manifest.yaml                    environment, entrypoint, lib_versions, pip_requirements, conda_requirements
        .slaunch-files.sha256            sha256 of every file (written by slaunch.deploy; optional)
      _libs/manifest.yaml                lib name -> {current, latest}
      _libs/<lib>/<version>/             the lib's build directory (put on sys.path: <lib>/__init__.py, manifest.yaml)
      _env/<env>/requirements.txt        pip requirements of environment <env> (options such as --find-links too)
      _env/<env>/environment.yml         conda environment file (optional)

An app version's ``manifest.yaml``: ``environment`` (required: a directory of ``_env``), ``entrypoint`` (a file
of the version, default ``main.py``; empty means the environment's python itself), ``lib_versions`` (lib name ->
version; an empty version means the lib's ``current``), ``pip_requirements`` (requirement lines installed into
the version's own ``.slaunch-deps`` directory) and ``conda_requirements`` (conda packages added to a conda
environment). Other keys are ignored with a warning (a likely misspelling is named).

Environments are venvs built from ``requirements.txt``; an environment with an ``environment.yml`` is a conda
environment when conda, mamba or micromamba is on PATH (or named by ``$SLAUNCH_CONDA_EXE``). slaunch never
installs Miniconda itself.

Everything is installed into a local cache, a slaunch root (see :mod:`.installer`) under the framework's working
path of the desktop app ``slaunch`` (``init_framework_desktop('slaunch')``: ``~/.config/slaunch``, or
``$STATEFUL_ROOT/slaunch``), or ``$SLAUNCH_CACHE_PATH``. When the repository cannot be reached the cached version
is launched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional, Tuple, Union

from ._checker import Checker, describe
from ._files import SUMS_NAME, iter_files, read_sums
from ._log import LOGGER_NAME, logger
from ._marks import KeyPath, Marks
from ._parse import parse_yaml
from .errors import InstallError, ManifestError, ManifestFetchError
from .installer import DEPS_DIR, BuildSpec, EnvInfo, RootSession
from .paths import resolve_root, validate_name

__all__ = [
    'REPOSITORY_ENV_VAR', 'DEFAULT_REPOSITORY', 'CACHE_ENV_VAR', 'INDEX_FILE', 'APP_MANIFEST', 'LIBS_DIR',
    'ENVS_DIR', 'DEFAULT_ENTRYPOINT', 'IndexEntry', 'AppVersionSpec', 'repository_path', 'cache_root',
    'read_index', 'read_app_version_spec', 'environment_spec', 'copy_tree', 'tree_digest', 'install_version',
    'repository_repairers', 'entrypoint_problem', 'read_version_dir_spec',
]

REPOSITORY_ENV_VAR = 'SLAUNCH_REPOSITORY_PATH'
DEFAULT_REPOSITORY = '/slaunch_repo'
CACHE_ENV_VAR = 'SLAUNCH_CACHE_PATH'
INDEX_FILE = 'manifest.yaml'
APP_MANIFEST = 'manifest.yaml'
LIBS_DIR = '_libs'
ENVS_DIR = '_env'
DEFAULT_ENTRYPOINT = 'main.py'
_APP_KEYS = ('environment', 'entrypoint', 'lib_versions', 'pip_requirements', 'conda_requirements')
_INFO_KEYS = ('version', 'name', 'description')  # informational: read by deploy, ignored here
_MAX_INDEX_BYTES = 5 * 1024 * 1024


def repository_path(path: Union[str, os.PathLike[str], None] = None) -> Path:
    """Return the repository: ``path``, else ``$SLAUNCH_REPOSITORY_PATH``, else ``/slaunch_repo``."""
    if path is not None and os.fspath(path):
        return Path(path).expanduser()
    return Path(os.environ.get(REPOSITORY_ENV_VAR, '').strip() or DEFAULT_REPOSITORY).expanduser()


def cache_root(root: Union[str, os.PathLike[str], None] = None) -> Path:
    """Return the local cache (a slaunch root): ``root``, else ``$SLAUNCH_CACHE_PATH``, else the working path of
    ``init_framework_desktop('slaunch')`` (``~/.config/slaunch``; ``$STATEFUL_ROOT/slaunch`` when set).

    The framework is initialized on a private :class:`Variables` with a fixed logger and no shutdown hooks, so
    the caller's own framework set-up and logging are untouched.
    """
    if root is not None:
        return resolve_root(root)
    explicit = os.environ.get(CACHE_ENV_VAR, '').strip()
    if explicit:
        return resolve_root(explicit)
    import logging

    from ..api import EnvPlacement, Variables
    from ..core import get_working_path
    from ..core.core import init_framework_desktop

    quiet = logging.getLogger(LOGGER_NAME + '.framework')
    quiet.setLevel(logging.WARNING)
    v = Variables(env_placement=EnvPlacement.BOTTOM2)
    v.set('APP_NAME', 'slaunch')  # the cache must not follow an APP_NAME meant for an app
    init_framework_desktop('slaunch', v=v, fixed_logger=quiet, shutdown_hooks=False, base_plugins=False,
                           fault_handler=False, pyroscope=False, stateful_chdir=False)
    path = get_working_path(v, default='')
    return resolve_root(path or os.path.join(os.path.expanduser('~'), '.config', 'slaunch'))


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class IndexEntry:
    """One entry of a repository ``manifest.yaml``: the version launched by default and the newest deployed."""

    current: Optional[str]
    latest: Optional[str]


def _read_yaml(path: Path) -> Tuple[Any, Marks]:
    """Read and parse a repository YAML file (bounded); a missing or unreadable file is a ManifestFetchError."""
    from ._fetch import read_source

    text, origin, _fmt, _base = read_source(path)
    if len(text) > _MAX_INDEX_BYTES:  # pragma: no cover - read_source already caps the size
        raise ManifestError('too large', source=origin)
    return parse_yaml(text, origin)


def _version(chk: Checker, value: Any, path: KeyPath, what: str) -> str:
    """A version written as a YAML number (``1.10``) is taken as written; then checked as a safe name."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = chk.marks.raw.get(path, str(value))
    return chk.name(chk.string(value, path, what), path, what)


def read_index(source: Union[str, os.PathLike[str], Mapping[str, Any]], what: str = 'app') -> Dict[str, IndexEntry]:
    """Return the entries of a repository index (``manifest.yaml`` or ``_libs/manifest.yaml``), or of an
    already-loaded mapping of the same shape.

    Raises :class:`ManifestFetchError` when the file cannot be read and :class:`ManifestError` (file, line, key
    path) when its content is wrong.
    """
    if isinstance(source, Mapping):
        data: Any = source
        chk = Checker('<index>', Marks(), '.')
    else:
        data, marks = _read_yaml(Path(source))
        chk = Checker(str(Path(source)), marks, '.')
    if data is None:
        return {}
    out: Dict[str, IndexEntry] = {}
    for name, entry in chk.named_mapping(data, (), what).items():
        if name.startswith('x-'):
            continue
        body = chk.mapping(entry if entry is not None else {}, (name,), ('current', 'latest'))
        versions = {key: _version(chk, body[key], (name, key), f'{what} version') if body.get(key) is not None
                    else None for key in ('current', 'latest')}
        out[name] = IndexEntry(current=versions['current'], latest=versions['latest'])
    return out


@dataclass(frozen=True)
class AppVersionSpec:
    """An app version of the repository as its ``manifest.yaml`` describes it."""

    app: str
    version: str
    directory: Path
    manifest_file: Path
    environment: str
    entrypoint: str
    entry_kind: str
    entry_location: str
    lib_versions: Dict[str, Optional[str]] = field(default_factory=dict)
    pip_requirements: Tuple[str, ...] = ()
    conda_requirements: Tuple[str, ...] = ()


def read_app_version_spec(repo: Path, app: str, version: str) -> AppVersionSpec:
    """Return the spec of ``<repo>/<app>/<version>/manifest.yaml``.

    Raises :class:`InstallError` when the version is not in the repository, :class:`ManifestError` (file, line,
    key path) for a malformed manifest or an entrypoint that is not a file of the version.
    """
    validate_name(app, 'app name')
    validate_name(version, 'app version')
    directory = repo / app / version
    if not directory.is_dir():
        raise InstallError(f'{app} {version} is not in the repository: {directory} does not exist; deploy it or '
                           f'fix {repo / INDEX_FILE}')
    return read_version_dir_spec(repo, directory, app, version)


def read_version_dir_spec(repo: Path, directory: Path, app: str, version: str) -> AppVersionSpec:
    """Return the spec of the app version in ``directory`` (its ``manifest.yaml``), read exactly as a launcher
    reads ``<repo>/<app>/<version>/`` (deploy checks a staged version with it before placing it).

    Raises :class:`InstallError` when it has no readable ``manifest.yaml``, :class:`ManifestError` (file, line,
    key path) for a malformed one or an entrypoint that is not a file of the version.
    """
    manifest_file = directory / APP_MANIFEST
    try:
        data, marks = _read_yaml(manifest_file)
    except ManifestFetchError as exc:
        raise InstallError(f'{app} {version} in the repository has no readable {APP_MANIFEST}: {exc}') from None
    chk = Checker(str(manifest_file), marks, str(directory))
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise chk.error((), f'expected a mapping with environment, entrypoint, ..., got {describe(data)}')
    _warn_unknown(chk, data)
    body = {k: v for k, v in data.items() if k in _APP_KEYS}
    if body.get('environment') is None:
        raise chk.error(('environment',), f'required key is missing; add environment: <name of a directory of '
                                          f'{repo / ENVS_DIR}>')
    environment = chk.name(chk.string(body['environment'], ('environment',), 'an environment name'),
                           ('environment',), 'environment name')
    entry = body.get('entrypoint', DEFAULT_ENTRYPOINT)
    entry = '' if entry is None else chk.string(entry, ('entrypoint',), 'a file of the app (e.g. main.py)',
                                                allow_empty=True).strip()
    location = chk.location(('entrypoint',) if 'entrypoint' in body else ())
    if entry:
        problem = entrypoint_problem(entry)
        if problem:
            raise chk.error(('entrypoint',), problem)
        parts = entry.replace('\\', '/').split('/')
        entry = '/'.join(parts)
        if not directory.joinpath(*parts).is_file():
            top = sorted(p.name for p in directory.iterdir() if p.name != APP_MANIFEST and not p.name.startswith('.'))
            shown = ', '.join(top[:10]) + (', ...' if len(top) > 10 else '')
            raise chk.error(('entrypoint',), f'{entry!r} is not a file of {app} {version} (it has: '
                                             f'{shown or "no files"}); fix entrypoint or redeploy')
    libs: Dict[str, Optional[str]] = {}
    if body.get('lib_versions') is not None:
        for lib, lib_version in chk.named_mapping(body['lib_versions'], ('lib_versions',), 'lib').items():
            libs[lib] = None if lib_version in (None, '') else _version(chk, lib_version, ('lib_versions', lib),
                                                                          'lib version')
    return AppVersionSpec(
        app=app, version=version, directory=directory, manifest_file=manifest_file, environment=environment,
        entrypoint=entry, entry_kind='script' if entry else 'python', entry_location=location, lib_versions=libs,
        pip_requirements=_lines(chk, body.get('pip_requirements'), ('pip_requirements',)),
        conda_requirements=_lines(chk, body.get('conda_requirements'), ('conda_requirements',)))


def entrypoint_problem(entry: str) -> Optional[str]:
    """Return why ``entry`` (an app version's ``entrypoint``, not empty) is refused, or None: it must be a relative
    path of a file of the version (no ``..``, not absolute, no drive, no control character)."""
    parts = entry.replace('\\', '/').split('/')
    if entry.startswith(('/', '\\')) or any(p in ('', '.', '..') for p in parts) or ':' in parts[0] \
            or any(ord(ch) < 32 or ch in '\x7f\x85\u2028\u2029' for ch in entry):
        return f"{entry!r} must be a relative path of a file of the app (no '..', not absolute)"
    return None


def _lines(chk: Checker, value: Any, path: KeyPath) -> Tuple[str, ...]:
    """A list of strings, or one string of lines (as in a requirements file)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(line.strip() for line in value.splitlines() if line.strip())
    return tuple(item.strip() for item in chk.string_list(value, path, 'requirements'))


def _warn_unknown(chk: Checker, data: Mapping[str, Any]) -> None:
    import difflib

    for key in data:
        if key in _APP_KEYS or key in _INFO_KEYS or (isinstance(key, str) and key.startswith('x-')):
            continue
        hint = difflib.get_close_matches(str(key), _APP_KEYS, n=1)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ''
        logger().warning('%s: ignoring unknown key (known keys: %s)%s', chk.location((str(key),)),
                         ', '.join(_APP_KEYS), suggestion)


def environment_spec(repo: Path, env: str, conda_requirements: Tuple[str, ...] = ()) -> BuildSpec:
    """Return the :class:`BuildSpec` of ``<repo>/_env/<env>/``: a conda environment when it has an
    ``environment.yml`` and a conda is available, else a venv; its ``requirements.txt`` is the package layer.

    Raises :class:`InstallError` when the environment is not in the repository.
    """
    from . import _tools

    validate_name(env, 'environment name')
    directory = repo / ENVS_DIR / env
    requirements = directory / 'requirements.txt'
    conda_file = next((directory / n for n in ('environment.yml', 'environment.yaml') if (directory / n).is_file()),
                      None)
    if not directory.is_dir():
        raise InstallError(f'environment {env!r} is not in the repository: {directory} does not exist; deploy it '
                           '(slaunch.deploy.deploy_environments) or fix the app\'s manifest')
    req_files = (requirements,) if requirements.is_file() and _has_requirements(requirements) else ()
    req_digest = _file_digest(requirements) if req_files else None
    if conda_file is not None and _tools.find_conda() is not None:
        return BuildSpec(name=env, kind='conda', conda=tuple(conda_requirements), conda_file=conda_file,
                         conda_file_digest=_file_digest(conda_file), requirement_files=req_files,
                         requirement_digest=req_digest, cwd=directory)
    if conda_file is not None:
        logger().info('environment %r: %s is not used (no conda, mamba or micromamba found); building a venv from '
                      'requirements.txt', env, conda_file.name)
    if conda_requirements:
        logger().warning('environment %r is a venv: conda_requirements %s are not installed', env,
                         ' '.join(conda_requirements))
    return BuildSpec(name=env, requirement_files=req_files, requirement_digest=req_digest, cwd=directory)


def _has_requirements(path: Path) -> bool:
    """True when a requirements file names something to install (not only comments and options)."""
    for raw in path.read_text(encoding='utf-8', errors='replace').splitlines():
        line = raw.split(' #', 1)[0].strip()
        if not line or line.startswith('#'):
            continue
        if not line.startswith('-') or line.startswith(('-r', '-e', '-c', '--requirement', '--editable')):
            return True
    return False


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def tree_digest(directory: Path) -> str:
    """Digest of a deployed directory: of its ``.slaunch-files.sha256`` when it has one, else of its listing
    (paths, sizes, times). A redeploy of the same version changes it."""
    sums = directory / SUMS_NAME
    if sums.is_file():
        return _file_digest(sums)
    digest = hashlib.sha256()
    try:
        for rel, path in iter_files(directory):
            st = path.stat()
            digest.update(f'{rel}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
    except OSError as exc:
        raise _unreadable(exc, str(directory)) from None
    return digest.hexdigest()[:16]


def _unreadable(exc: OSError, what: str) -> InstallError:
    return InstallError(f'{what}: {exc.filename} in the repository cannot be read: {exc.strerror or exc}; make the '
                        'repository readable by the users who launch from it')


def copy_tree(src: Path, dest: Path, what: str) -> None:
    """Copy the files of a deployed directory into ``dest`` with progress, checking each copy against the
    directory's ``.slaunch-files.sha256`` when it has one (then only the listed files are copied).

    Raises :class:`InstallError` for a file that is missing or differs from the list, or a symlink that points
    out of ``src``.
    """
    from ._files import hash_file
    from ._progress import Progress

    sums = read_sums(src / SUMS_NAME) if (src / SUMS_NAME).is_file() else None
    if sums is not None:
        listed = [(rel, src.joinpath(*rel.split('/'))) for rel in sorted(sums)]
    else:
        try:
            listed = list(iter_files(src))
        except OSError as exc:
            raise _unreadable(exc, what) from None
    real_src = os.path.realpath(src)
    total = 0
    for rel, path in listed:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            where = f'listed in {src / SUMS_NAME} but' if sums is not None else 'a symlink whose target is'
            raise InstallError(f'{what}: {rel} is {where} missing in the repository; redeploy it') from None
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(path)
            raise _unreadable(exc, what) from None
        if os.path.commonpath([real_src, os.path.realpath(path)]) != real_src:
            raise InstallError(f'{what}: {path} is a symlink that points out of {src}; deploy the file itself')
    with Progress(f'copying {what}', total=total, unit='bytes') as bar:
        for rel, path in listed:
            target = dest.joinpath(*rel.split('/'))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            if sums is not None and hash_file(target) != sums[rel]:
                raise InstallError(f'{what}: {rel} in the repository differs from its hash in {src / SUMS_NAME} '
                                   '(changed after deploying, or a deploy in progress); redeploy it')
            bar.advance(target.stat().st_size)


# ------------------------------------------------------------------------------------------------ installing


def _ensure_lib(session: RootSession, repo: Path, lib: str, version: str, update: bool, force: bool) -> None:
    validate_name(lib, 'lib name')
    validate_name(version, 'lib version')
    src = repo / LIBS_DIR / lib / version
    existing = session.state['libs'].get(lib, {'versions': {}})['versions'].get(version)
    if existing is not None and session.path(existing['dir']).is_dir() and not force:
        if not update or not src.is_dir() or tree_digest(src) == existing.get('digest'):
            return
        logger().info('lib %r %s was redeployed; updating the cached copy', lib, version)
    if not src.is_dir():
        raise InstallError(f'lib {lib!r} {version} is not in the repository: {src} does not exist; deploy it '
                           '(slaunch.deploy.deploy_library)')
    rel, files = _install_staged(session, f'lib-{lib}-{version}-', f'lib {lib!r} {version}', f'libs/{lib}/{version}',
                                 lambda staged: copy_tree(src, staged, f'lib {lib} {version}'))
    session.add_lib(lib, version, {'dir': rel, 'serial': session.next_serial(), 'installed_at': _now(),
                                   'source': str(src), 'files': files, 'digest': tree_digest(src)})


class _Installed(NamedTuple):
    """A directory :func:`_install_staged` put in place."""

    rel: str  #: where it went, relative to the root
    files: int  #: how many files its file list holds


def _install_staged(session: RootSession, stage_prefix: str, what: str, base: str,
                    fill: Callable[[Path], None]) -> _Installed:
    """Fill a new staging directory, record its files and rename it into place under ``base`` (or ``base@<serial>``
    when that is taken); the staging directory is removed whatever happens."""
    staged = session.stage(stage_prefix)
    try:
        fill(staged)
        files = session.record(staged, what)
        rel = session.fresh_rel(base)
        session.commit(staged, rel)
    finally:
        if staged.exists():
            shutil.rmtree(staged, ignore_errors=True)
    return _Installed(rel, files)


def _now() -> str:
    import time

    return time.strftime('%Y-%m-%dT%H:%M:%S%z')


def _fill_version(spec: AppVersionSpec, env: EnvInfo, staged: Path) -> None:
    """Copy the version's files into ``staged`` and install its pip requirements into ``.slaunch-deps``."""
    from . import _tools

    copy_tree(spec.directory, staged, f'{spec.app} {spec.version}')
    if spec.pip_requirements:
        req_file = staged.parent / f'{staged.name}.requirements.txt'
        req_file.write_text('\n'.join(spec.pip_requirements) + '\n', encoding='utf-8')
        try:
            _tools.pip_install(env.python, staged / DEPS_DIR, (), (), no_deps=False, requirement_files=[req_file],
                               what=f'installing the pip_requirements of {spec.app} {spec.version}',
                               cwd=spec.directory)
        finally:
            req_file.unlink()


def install_version(session: RootSession, repo: Path, app: str, version: str, libs_index: Callable[[], Dict[str,
                    IndexEntry]], app_update: bool = False, libs_update: bool = False,
                    reset: bool = False) -> Dict[str, Any]:
    """Make sure ``app`` ``version`` from the repository, its environment and its libs are in the cache; return
    the version record to switch to (see :meth:`RootSession.switch`). Nothing is switched here.

    A cached version is a snapshot: its files, entry point, environment name and lib versions stay as they were
    copied, even if the same version was redeployed since (``app_update`` copies it again; ``libs_update`` copies
    its libs again when they were redeployed; ``reset`` rebuilds everything). The environment follows the
    repository's ``_env`` files on every launch (rebuilt beside the old one when they change).

    Raises :class:`InstallError` (what is installed stays as it was) or :class:`ManifestError`.
    """
    directory = repo / app / version
    existing = session.state['apps'].get(app, {'versions': {}})['versions'].get(version)
    usable = existing is not None and existing['origin'] == 'repository' and not reset \
        and session.path(existing['dir']).is_dir()
    if usable and existing is not None:
        redeployed = directory.is_dir() and tree_digest(directory) != existing.get('digest')
        if redeployed and app_update:
            logger().info('%s %s was redeployed; updating the cached copy', app, version)
        else:
            if redeployed:
                logger().info('%s %s was redeployed; the cached copy runs (--slaunch-app-update takes the new one)',
                              app, version)
            build_spec = environment_spec(repo, existing['environment'], tuple(existing.get('conda') or ()))
            env = session.ensure_environment(build_spec)
            for lib, lib_version in (existing.get('libs') or {}).items():
                _ensure_lib(session, repo, lib, lib_version, update=libs_update, force=False)
            if existing.get('python') == env.python_version or not existing.get('deps'):
                return {**existing, 'build': env.build, 'layer': env.layer}
    spec = read_app_version_spec(repo, app, version)
    build_spec = environment_spec(repo, spec.environment, spec.conda_requirements)
    env = session.ensure_environment(build_spec, force=reset)
    libs: Dict[str, str] = {}
    for lib, lib_version in spec.lib_versions.items():
        if lib_version is None:
            entry = libs_index().get(lib)
            lib_version = entry.current or entry.latest if entry is not None else None
            if lib_version is None:
                raise ManifestError(f'lib {lib!r} has no version here and no current version in '
                                    f'{repo / LIBS_DIR / INDEX_FILE}; pin it or deploy the lib',
                                    source=str(spec.manifest_file), key_path=f'lib_versions.{lib}')
        _ensure_lib(session, repo, lib, lib_version, update=libs_update, force=reset)
        libs[lib] = lib_version
    rel, files = _install_staged(session, f'app-{app}-{version}-', f'{app} {version}', f'apps/{app}/{version}',
                                 lambda staged: _fill_version(spec, env, staged))
    return {'dir': rel, 'serial': session.next_serial(), 'installed_at': _now(), 'origin': 'repository',
            'python': env.python_version, 'source': str(spec.directory), 'pip_args': [], 'args': [], 'env': {},
            'files': files, 'digest': tree_digest(spec.directory), 'deps': bool(spec.pip_requirements),
            'conda': list(spec.conda_requirements), 'environment': spec.environment, 'entry': spec.entrypoint,
            'entry_kind': spec.entry_kind, 'entry_location': spec.entry_location, 'libs': libs,
            'build': env.build, 'layer': env.layer}


def repository_repairers(session: RootSession, repo: Path, app: str, version: str,
                         python: Path) -> Dict[str, Callable[[Dict[str, Any], Path], None]]:
    """Return the repairers (see :meth:`RootSession.check_version`) of a cached repository version: fresh copies
    from the repository (and a fresh install of its pip requirements), the layer from pip."""
    from .installer import pip_repair_source

    def _app(rec: Dict[str, Any], staged: Path) -> None:
        spec = read_app_version_spec(repo, app, version)
        env = EnvInfo(name=rec['environment'], build='', kind='venv', env_dir=python.parent, python=python,
                       python_version='', layer=None, layer_dir=None)
        _fill_version(spec, env, staged)

    def _lib(rec: Dict[str, Any], staged: Path) -> None:
        copy_tree(Path(rec['source']), staged, f'lib {Path(rec["source"]).parent.name}')

    def _layer(rec: Dict[str, Any], staged: Path) -> None:
        pip_repair_source(python, tuple(rec.get('packages') or ()), False,
                          'reinstalling damaged packages')(rec, staged)

    return {'app': _app, 'lib': _lib, 'layer': _layer}

