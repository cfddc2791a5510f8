"""Deploying apps, libs and environments into a central repository (the layout is in :mod:`.repository`).

::

    from scitrera_app_framework.slaunch import deploy

    deploy.deploy_environments('envs/')                 # envs/<env>/requirements.txt [+ environment.yml]
    deploy.deploy_library('src/mylib')                   # version from mylib/__init__.py's __version__
    deploy.deploy_application('apps/myapp', environment='base', lib_versions={'mylib': '1.2'},
                              update_current_ver=True)   # version from VERSION or __version__

The repository defaults to ``$SLAUNCH_REPOSITORY_PATH`` (``/slaunch_repo``). The same safety rules as for
installs apply: names are checked (no ``..``, no path separators), a version is written to a temporary
directory beside its final place and renamed into place only when complete (with its ``.slaunch-files.sha256``
list, which launchers check every copy against), a deployed version is never changed unless ``overwrite=True``
(and then replaced in one rename), and deployers on several machines are serialized by a lock file in the
repository. The indexes (``manifest.yaml``) are rewritten atomically.

A version is read from the source directory without importing it: a ``version`` key of its ``manifest.yaml``, a
``VERSION`` or ``version.txt`` file, or ``__version__ = '...'`` in ``__init__.py``, ``version.py``,
``_version.py`` or ``main.py``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._files import hash_file, iter_files, write_sums
from ._log import logger
from .errors import DeployError, InvalidNameError, ManifestError, ManifestFetchError
from .paths import validate_name
from .repository import APP_MANIFEST, DEFAULT_ENTRYPOINT, ENVS_DIR, INDEX_FILE, LIBS_DIR, repository_path

__all__ = ['read_app_version', 'read_lib_version', 'update_manifest', 'deploy_application', 'deploy_applications',
           'deploy_library', 'deploy_libraries', 'deploy_environments', 'DEPLOY_LOCK']

PathLike = Union[str, 'os.PathLike[str]']
DEPLOY_LOCK = '.deploy.lock'
_SKIP_NAMES = frozenset({'.git', '.hg', '.svn', '__pycache__', '.mypy_cache', '.pytest_cache', '.ruff_cache',
                         '.DS_Store', '.slaunch-files.json', '.slaunch-files.sha256'})
_VERSION_FILES = ('VERSION', 'version.txt')
_VERSION_RE = re.compile(r'''^__version__\s*(?::\s*str\s*)?=\s*['"]([^'"]+)['"]''', re.M)


# ------------------------------------------------------------------------------------------------ versions


def _version_from_files(directory: Path, modules: Sequence[str]) -> Optional[str]:
    for name in _VERSION_FILES:
        path = directory / name
        if path.is_file():
            text = path.read_text(encoding='utf-8').strip()
            if text:
                return text.splitlines()[0].strip()
    for name in modules:
        path = directory / name
        if path.is_file():
            match = _VERSION_RE.search(path.read_text(encoding='utf-8', errors='replace'))
            if match:
                return match.group(1).strip()
    return None


def _checked_version(version: Optional[str], where: Path, what: str) -> str:
    if version is None:
        raise DeployError(f'cannot find the version of {what} {where}: add a VERSION file, a version key to its '
                          f"{APP_MANIFEST}, or __version__ = '1.0' to its __init__.py (or pass version=)")
    try:
        return validate_name(version, f'{what} version')
    except InvalidNameError as exc:
        raise DeployError(f'{where}: {exc}') from None


def read_app_version(app_dir: PathLike) -> str:
    """Return the version of the app in ``app_dir`` (see the module docstring for where it is looked for).

    Raises :class:`DeployError` when there is none or it is not a safe name.
    """
    directory = Path(app_dir)
    version = None
    manifest = directory / APP_MANIFEST
    if manifest.is_file():
        data = _load_yaml(manifest)
        if isinstance(data, Mapping) and data.get('version') not in (None, ''):
            version = str(data['version'])
    version = version or _version_from_files(directory, ('__init__.py', 'version.py', '_version.py', 'main.py'))
    return _checked_version(version, directory, 'app')


def read_lib_version(lib_dir: PathLike) -> str:
    """Return the version of the lib ``lib_dir`` (a package directory, or a module file ``name.py``).

    Raises :class:`DeployError` when there is none or it is not a safe name.
    """
    path = Path(lib_dir)
    if path.is_file():
        match = _VERSION_RE.search(path.read_text(encoding='utf-8', errors='replace'))
        return _checked_version(match.group(1).strip() if match else None, path, 'lib')
    return _checked_version(_version_from_files(path, ('__init__.py', 'version.py', '_version.py')), path, 'lib')


def _version_key(version: str) -> Tuple[Tuple[int, Any], ...]:
    """Order versions the way people read them: ``1.10`` after ``1.9``, ``1.0rc1`` before ``1.0``."""
    parts: List[Tuple[int, Any]] = []
    for token in re.findall(r'\d+|[A-Za-z]+', version):
        parts.append((1, int(token)) if token.isdigit() else (0, token.lower()))
    parts.append((0, '~'))  # a release sorts after its pre-releases (letters sort before '~')
    return tuple(parts)


def _load_yaml(path: Path) -> Any:
    from ._fetch import read_source
    from ._parse import parse_yaml

    try:
        text, origin, _fmt, _base = read_source(path)
        return parse_yaml(text, origin)[0]
    except ManifestFetchError:
        return None
    except ManifestError as exc:
        raise DeployError(str(exc)) from None


# ------------------------------------------------------------------------------------------------ the repository


@contextlib.contextmanager
def _deploy_lock(repo: Path) -> Iterator[None]:
    from ._inuse import exclusive_root_lock

    try:
        repo.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeployError(f'cannot create the repository {repo}: {exc.strerror or exc}; set '
                          'SLAUNCH_REPOSITORY_PATH to a writable directory') from exc
    with exclusive_root_lock(repo / DEPLOY_LOCK):
        yield


def _dump_yaml(data: Any) -> bytes:
    import yaml

    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True, allow_unicode=True).encode('utf-8')


def _index_path(manifest: PathLike) -> Path:
    path = Path(manifest)
    return path / INDEX_FILE if path.is_dir() or not path.suffix else path


def update_manifest(manifest: PathLike, name: str, version: str, update_current_ver: bool = False) -> Dict[str, Any]:
    """Record ``name`` ``version`` in a repository index (``manifest.yaml``, or a directory holding it):
    ``latest`` becomes the newer of the two, ``current`` becomes ``version`` when ``update_current_ver`` is true
    or the entry had none. The file is rewritten atomically, under the repository's deploy lock.

    Returns the whole index. Raises :class:`DeployError` for an unsafe name or a malformed index.
    """
    path = _index_path(manifest)
    with _deploy_lock(path.parent):
        return _update_index(path, name, version, update_current_ver)


def _update_index(path: Path, name: str, version: str, update_current_ver: bool) -> Dict[str, Any]:
    from .repository import read_index
    from .state import write_atomic

    try:
        validate_name(name, 'name')
        validate_name(version, 'version')
        entries = read_index(path) if path.is_file() else {}
    except (InvalidNameError, ManifestError) as exc:
        raise DeployError(str(exc)) from None
    data: Dict[str, Any] = {key: {'current': e.current, 'latest': e.latest} for key, e in entries.items()}
    entry = data.setdefault(name, {'current': None, 'latest': None})
    latest = entry.get('latest')
    if latest is None or _version_key(version) > _version_key(latest):
        entry['latest'] = version
    if update_current_ver or entry.get('current') is None:
        entry['current'] = version
    write_atomic(path, _dump_yaml(data), prefix='.manifest-')
    logger().info('%s: %s current=%s latest=%s', path, name, entry['current'], entry['latest'])
    return data


def _copy_source(src: Path, dest: Path, what: str) -> Dict[str, str]:
    """Copy ``src`` (a directory, or one file) into ``dest`` (skipping VCS and cache files); return the hashes."""
    from ._progress import Progress

    if src.is_file():
        listed = [(src.name, src)]
    else:
        listed = [(rel, path) for rel, path in iter_files(src)
                  if not any(part in _SKIP_NAMES for part in rel.split('/')) and not rel.endswith(('.pyc', '.pyo'))]
    hashes: Dict[str, str] = {}
    total = sum(path.stat().st_size for _, path in listed)
    with Progress(f'deploying {what}', total=total, unit='bytes') as bar:
        for rel, path in listed:
            target = dest.joinpath(*rel.split('/'))
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                real = os.path.realpath(path)
                base = os.path.realpath(src if src.is_dir() else src.parent)
                if os.path.commonpath([base, real]) != base:
                    raise DeployError(f'{path} is a symlink that points out of {src}; copy the file instead')
            shutil.copy2(path, target)
            hashes[rel] = hash_file(target)
            bar.advance(target.stat().st_size)
    return hashes


def _place(staged: Path, final: Path, overwrite: bool, what: str) -> None:
    """Rename the complete ``staged`` directory to ``final`` (replacing it in one rename if ``overwrite``)."""
    if final.exists():
        if not overwrite:
            raise DeployError(f'{what} is already deployed at {final}; deploy a new version (deployed versions '
                              'never change under running launchers) or pass overwrite=True')
        trash = Path(tempfile.mkdtemp(prefix=f'.trash-{final.name}-', dir=str(final.parent)))
        os.replace(final, trash / final.name)
        os.replace(staged, final)
        shutil.rmtree(trash, ignore_errors=True)
        return
    os.replace(staged, final)


def _stage_in(parent: Path, name: str) -> Path:
    """A new staging directory in ``parent`` (under the deploy lock, so any older one is a crashed deploy's)."""
    parent.mkdir(parents=True, exist_ok=True)
    for stale in list(parent.glob('.deploy-*')) + list(parent.glob('.trash-*')):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f'.deploy-{name}-', dir=str(parent)))


def _app_manifest(app_dir: Path, environment: Optional[str], entrypoint: Optional[str],
                  lib_versions: Optional[Mapping[str, Optional[str]]], pip_requirements: Optional[Sequence[str]],
                  conda_requirements: Optional[Sequence[str]]) -> Dict[str, Any]:
    data: Dict[str, Any] = {}
    own = app_dir / APP_MANIFEST
    if own.is_file():
        loaded = _load_yaml(own)
        if loaded is not None and not isinstance(loaded, Mapping):
            raise DeployError(f'{own}: expected a mapping (environment, entrypoint, ...)')
        data.update(loaded or {})
    for key, value in (('environment', environment), ('entrypoint', entrypoint), ('lib_versions', lib_versions),
                       ('pip_requirements', pip_requirements), ('conda_requirements', conda_requirements)):
        if value is not None:
            data[key] = dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, (list, tuple)) \
                else value
    if data.get('environment') in (None, ''):
        raise DeployError(f'{app_dir}: the app needs an environment (environment=... or an environment key in its '
                          f'{APP_MANIFEST})')
    try:
        validate_name(data['environment'], 'environment name')
        for lib, lib_version in (data.get('lib_versions') or {}).items():
            validate_name(lib, 'lib name')
            if lib_version not in (None, ''):
                validate_name(str(lib_version), 'lib version')
    except InvalidNameError as exc:
        raise DeployError(f'{app_dir}: {exc}') from None
    entry = data.get('entrypoint', DEFAULT_ENTRYPOINT)
    if entry and not (app_dir / str(entry)).is_file():
        raise DeployError(f'{app_dir}: the entrypoint {entry!r} is not a file of the app; fix entrypoint= (an '
                          'empty entrypoint runs the environment\'s python)')
    return data


def deploy_application(app_dir: PathLike, repository: Optional[PathLike] = None, *, name: Optional[str] = None,
                       version: Optional[str] = None, update_current_ver: bool = False,
                       environment: Optional[str] = None, entrypoint: Optional[str] = None,
                       lib_versions: Optional[Mapping[str, Optional[str]]] = None,
                       pip_requirements: Optional[Sequence[str]] = None,
                       conda_requirements: Optional[Sequence[str]] = None, overwrite: bool = False) -> Path:
    """Deploy the app in ``app_dir`` as ``<repository>/<name>/<version>/`` and record it in the repository's
    ``manifest.yaml`` (``update_current_ver``: make it the version launchers run).

    ``name`` defaults to the directory's name, ``version`` to :func:`read_app_version`. The version's
    ``manifest.yaml`` is the app's own (if it has one) with the given keywords on top. Returns the deployed
    directory. Raises :class:`DeployError` (nothing is changed in the repository then).
    """
    src = Path(app_dir)
    if not src.is_dir():
        raise DeployError(f'{src} is not a directory; pass the directory holding the app')
    repo = repository_path(repository)
    try:
        name = validate_name(name or src.resolve().name, 'app name')
        version = validate_name(version, 'app version') if version is not None else read_app_version(src)
    except InvalidNameError as exc:
        raise DeployError(str(exc)) from None
    if name.startswith('_'):  # pragma: no cover - validate_name already refuses it
        raise DeployError(f'app name {name!r} is reserved')
    meta = _app_manifest(src, environment, entrypoint, lib_versions, pip_requirements, conda_requirements)
    with _deploy_lock(repo):
        final = repo / name / version
        if final.exists() and not overwrite:
            raise DeployError(f'{name} {version} is already deployed at {final}; deploy a new version (deployed '
                              'versions never change under running launchers) or pass overwrite=True')
        staged = _stage_in(final.parent, version)
        try:
            hashes = _copy_source(src, staged, f'{name} {version}')
            (staged / APP_MANIFEST).write_bytes(_dump_yaml(meta))
            hashes[APP_MANIFEST] = hash_file(staged / APP_MANIFEST)
            write_sums(staged, hashes)
            _place(staged, final, overwrite, f'{name} {version}')
        finally:
            if staged.exists():
                shutil.rmtree(staged, ignore_errors=True)
        _update_index(repo / INDEX_FILE, name, version, update_current_ver)
    logger().info('deployed %s %s to %s', name, version, final)
    return final


def deploy_applications(app_dirs: Iterable[PathLike], repository: Optional[PathLike] = None,
                        **kwargs: Any) -> List[Path]:
    """:func:`deploy_application` for each directory (same keywords for all); returns the deployed directories."""
    return [deploy_application(app_dir, repository, **kwargs) for app_dir in app_dirs]


def deploy_library(lib_dir: PathLike, repository: Optional[PathLike] = None, *, name: Optional[str] = None,
                   version: Optional[str] = None, update_current_ver: bool = False,
                   overwrite: bool = False) -> Path:
    """Deploy the lib ``lib_dir`` (a package directory, or a module ``name.py``) as
    ``<repository>/_libs/<name>/<version>/<name>[.py]`` and record it in ``_libs/manifest.yaml``.

    ``name`` defaults to the package's (file's) name, ``version`` to :func:`read_lib_version`. Returns the
    deployed version directory (the one put on ``sys.path``). Raises :class:`DeployError`.
    """
    src = Path(lib_dir)
    if not src.exists():
        raise DeployError(f'{src} does not exist; pass a package directory or a module file')
    repo = repository_path(repository)
    stem = src.stem if src.is_file() else src.resolve().name
    try:
        name = validate_name(name or stem, 'lib name')
        version = validate_name(version, 'lib version') if version is not None else read_lib_version(src)
    except InvalidNameError as exc:
        raise DeployError(str(exc)) from None
    with _deploy_lock(repo):
        final = repo / LIBS_DIR / name / version
        if final.exists() and not overwrite:
            raise DeployError(f'lib {name} {version} is already deployed at {final}; deploy a new version or pass '
                              'overwrite=True')
        staged = _stage_in(final.parent, version)
        try:
            inner = staged / (src.name if src.is_file() else stem)
            if src.is_file():
                hashes = _copy_source(src, staged, f'lib {name} {version}')
            else:
                hashes = {f'{stem}/{rel}': h for rel, h in
                          _copy_source(src, inner, f'lib {name} {version}').items()}
            write_sums(staged, hashes)
            _place(staged, final, overwrite, f'lib {name} {version}')
        finally:
            if staged.exists():
                shutil.rmtree(staged, ignore_errors=True)
        _update_index(repo / LIBS_DIR / INDEX_FILE, name, version, update_current_ver)
    logger().info('deployed lib %s %s to %s', name, version, final)
    return final


def deploy_libraries(lib_dirs: Iterable[PathLike], repository: Optional[PathLike] = None,
                     **kwargs: Any) -> List[Path]:
    """:func:`deploy_library` for each source (same keywords for all); returns the deployed directories."""
    return [deploy_library(lib_dir, repository, **kwargs) for lib_dir in lib_dirs]


def deploy_environments(source: Union[PathLike, Mapping[str, PathLike]], repository: Optional[PathLike] = None,
                        names: Optional[Iterable[str]] = None) -> List[Path]:
    """Deploy environment definitions as ``<repository>/_env/<env>/``: ``source`` is a directory of
    ``<env>/requirements.txt`` [+ ``environment.yml``] directories (``names`` picks some), or a mapping of env
    name -> such a directory. Each replaces the deployed one in one rename (launchers rebuild the environment
    beside the old one when its files changed). Returns the deployed directories.

    Raises :class:`DeployError` for an unsafe name or a directory with neither file.
    """
    if isinstance(source, Mapping):
        items = [(str(k), Path(v)) for k, v in source.items()]
    else:
        base = Path(source)
        if not base.is_dir():
            raise DeployError(f'{base} is not a directory of environment directories')
        wanted = set(names) if names is not None else None
        items = [(p.name, p) for p in sorted(base.iterdir()) if p.is_dir() and not p.name.startswith(('.', '_'))
                 and (wanted is None or p.name in wanted)]
        missing = sorted((wanted or set()) - {n for n, _ in items})
        if missing:
            raise DeployError(f'{base} has no environment directories named {", ".join(missing)}')
    repo = repository_path(repository)
    out: List[Path] = []
    with _deploy_lock(repo):
        for env, src in items:
            try:
                validate_name(env, 'environment name')
            except InvalidNameError as exc:
                raise DeployError(str(exc)) from None
            if not any((src / f).is_file() for f in ('requirements.txt', 'environment.yml', 'environment.yaml')):
                raise DeployError(f'{src} has neither requirements.txt nor environment.yml; nothing to deploy for '
                                  f'environment {env!r}')
            final = repo / ENVS_DIR / env
            staged = _stage_in(final.parent, env)
            try:
                write_sums(staged, _copy_source(src, staged, f'environment {env}'))
                _place(staged, final, True, f'environment {env}')
            finally:
                if staged.exists():
                    shutil.rmtree(staged, ignore_errors=True)
            logger().info('deployed environment %s to %s', env, final)
            out.append(final)
    return out
