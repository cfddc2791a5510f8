"""Deploying apps, libs and environments into a central repository (the layout is in :mod:`.repository`).

The functions have the original 0.0.69's names and signatures (our extras are keyword-only)::

    from scitrera_app_framework.slaunch import deploy

    deploy.deploy_environments('envs')                  # envs/<env>/requirements.txt [+ environment.yml]
    deploy.deploy_libraries('build')                    # build/_libs/<lib>/ -> _libs/<lib>/<version>/
    deploy.deploy_library('shared', 'build/_libs/shared')            # the same for one lib
    deploy.deploy_applications('build', update_current=True)       # build/<app>/ -> <app>/<version>/
    deploy.deploy_application('myapp', 'build/myapp', update_current=True)
    deploy.update_manifest('myapp', force_current_ver='1.0')        # roll back

The repository is ``$SLAUNCH_REPOSITORY_PATH`` (``/slaunch_repo``), or ``repository=`` (keyword-only).

- An app's build directory (``build/myapp``) is copied as ``<app>/<version>/``. Its version is ``__version__`` in
  ``_<app>_version.py`` (the original's rule), else a ``version`` key of its ``manifest.yaml``, a ``VERSION`` or
  ``version.txt`` file, or ``__version__`` in ``__init__.py``/``version.py``/``_version.py``/``main.py``. Its
  ``manifest.yaml`` names the environment (``environment=`` and the other keywords override it).
- A lib's build directory is copied as ``_libs/<lib>/<version>/``, the directory put on the app's ``sys.path``,
  so it holds the importable ``<lib>/`` package (or ``<lib>.py``, or a compiled ``<lib>.*.so``/``.pyd``) and a
  ``manifest.yaml`` (required, as in the original; it may be empty). Its version: ``__version__`` of
  ``__init__.py`` in the build directory or in ``<lib>/``, of ``<lib>.py``, or of the compiled module (imported in
  a child interpreter), else a ``VERSION`` file or a ``version`` key of its ``manifest.yaml``.
- ``ignore_fn`` is a :func:`shutil.copytree` ``ignore`` callable (``(directory, names) -> names to skip``); the
  default, :func:`default_ignore`, skips ``__pycache__``, ``*.pyc``, ``*.build``, ``*-build-report-*.xml`` and
  VCS/tool caches.

Safety rules (the launcher's refusals come first: anything a launcher would refuse is refused here, with a
:class:`~.errors.DeployError` naming it, before the repository changes): names are checked (no ``..``, no path
separators); file names with a backslash or a control character (a newline would break the hash list) or a part
that is a Windows device name (``CON``, ``nul.txt``, ``COM1``...: a launcher there cannot create it) and an
``entrypoint`` outside the version are refused; a version is written to a staging directory beside its final
place, with its ``.slaunch-files.sha256`` list, and renamed into place only when complete (a new app's or lib's
first version is staged inside a staging directory renamed to the app's directory: a killed deploy never leaves an
app directory without a version, and the next deploy removes one an older slaunch left); a deployed version is
never changed unless ``overwrite=True`` (the same files deployed again are only recorded: the retry of a deploy
killed before its index entry was written); every writer of a repository (deploys and ``update_manifest`` of apps
and of libs) holds the one lock file ``<repository>/.deploy.lock``; the indexes (``manifest.yaml``) are rewritten
atomically; an ``overwrite=True`` replacement swaps the two directories in one step on Linux
(``renameat2(RENAME_EXCHANGE)``: launchers never find it missing), elsewhere moves the old copy aside as
``.old-<version>``; the old copy is removed only once the new one is in place, so a deploy killed at any instant
is rolled back (old copy restored) or forward (old copy removed) by the next deploy into the repository. Disk
errors (a full disk) are a ``DeployError`` naming the file; the repository is then as it was.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._files import SUMS_NAME, current_umask, hash_file, read_sums, rel_path_problem, write_sums
from ._log import logger
from .errors import DeployError, InvalidNameError, ManifestError, ManifestFetchError, StateError
from .paths import is_windows_device_name, validate_name
from .repository import (
    APP_MANIFEST,
    DEFAULT_ENTRYPOINT,
    ENVS_DIR,
    INDEX_FILE,
    LIBS_DIR,
    entrypoint_problem,
    repository_path,
)

__all__ = ['read_app_version', 'read_lib_version', 'update_manifest', 'deploy_application', 'deploy_applications',
           'deploy_library', 'deploy_libraries', 'deploy_environments', 'default_ignore', 'DEPLOY_LOCK',
           'TEST_PAUSE_ENV_VAR']

PathLike = Union[str, 'os.PathLike[str]']
IgnoreFn = Callable[[str, List[str]], Iterable[str]]
DEPLOY_LOCK = '.deploy.lock'
#: test seam: ``<point>:<directory>`` makes a deploy stop at ``<point>`` (``locked``: the lock is held;
#: ``copying``: the first file is staged; ``staged``: the version is complete beside its place;
#: ``replace-exchanged``: an ``overwrite=True`` replacement swapped the directories (Linux), the old copy not yet
#: removed; ``replace-old-moved``, ``replace-new-placed``: inside the two-rename replacement used where directories
#: cannot be swapped (naming them selects it); ``placed``: the version is in place, the index not yet written),
#: create ``<directory>/<point>.reached`` and wait until ``<directory>/<point>.go`` exists
TEST_PAUSE_ENV_VAR = 'SLAUNCH_DEPLOY_TEST_PAUSE'
_IGNORED_NAMES = frozenset({'.git', '.hg', '.svn', '__pycache__', '.mypy_cache', '.pytest_cache', '.ruff_cache',
                            '.DS_Store'})
_IGNORED_PATTERNS = ('*.pyc', '*.pyo', '*.build', '*-build-report-*.xml')
_OWN_FILES = frozenset({'.slaunch-files.json', SUMS_NAME})
_OLD_PREFIX = '.old-'
_STAGE_PREFIX = '.deploy-'
_LEGACY_TRASH_PREFIX = '.trash-'
_INDEX_TMP_PREFIX = '.manifest-'
_VERSION_FILES = ('VERSION', 'version.txt')
_VERSION_RE = re.compile(r'''^__version__\s*(?::\s*str\s*)?=\s*['"]([^'"]+)['"]''', re.M)
_VERSION_MARK = '@@slaunch-version@@ '
_READ_COMPILED = '''\
import importlib.util, sys
spec = importlib.util.spec_from_file_location(sys.argv[1], sys.argv[2])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
version = getattr(module, '__version__', None)
sys.stdout.write('\\n' + _MARK + ('' if version is None else str(version)))
'''.replace('_MARK', repr(_VERSION_MARK))


def default_ignore(directory: str, names: List[str]) -> List[str]:
    """The default ``ignore_fn``: ``__pycache__``, ``*.pyc``/``*.pyo``, ``*.build``, ``*-build-report-*.xml``,
    VCS directories and tool caches."""
    return [n for n in names if n in _IGNORED_NAMES or any(fnmatch.fnmatch(n, p) for p in _IGNORED_PATTERNS)]


# ------------------------------------------------------------------------------------------------ versions


def _version_in(path: Path) -> Optional[str]:
    if path.is_file():
        match = _VERSION_RE.search(path.read_text(encoding='utf-8', errors='replace'))
        if match:
            return match.group(1).strip()
    return None


def _version_from_files(directory: Path, modules: Sequence[str]) -> Optional[str]:
    for name in _VERSION_FILES:
        path = directory / name
        if path.is_file():
            try:
                text = path.read_bytes().decode('utf-8-sig').strip()  # a BOM (Windows editors) is not the version
            except UnicodeDecodeError:
                raise DeployError(f'{path}: the version file is not UTF-8 text (UTF-16 from a Windows tool?); write '
                                  'it as UTF-8, e.g. 1.0') from None
            except OSError as exc:
                raise DeployError(f'{path}: cannot read the version file: {exc.strerror or exc}') from None
            if text:
                return text.splitlines()[0].strip()
    for name in modules:
        found = _version_in(directory / name)
        if found:
            return found
    return None


def _manifest_version(directory: Path) -> Optional[str]:
    manifest = directory / APP_MANIFEST
    if manifest.is_file():
        data = _load_yaml(manifest)
        if isinstance(data, Mapping) and data.get('version') not in (None, ''):
            value = data['version']
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise DeployError(f'{manifest}: version must be a version string such as \'1.0\' (quote it), got '
                                  f'{value!r} ({type(value).__name__})')
            return str(value)
    return None


def _checked_version(version: Optional[str], where: Path, what: str) -> str:
    if version is None:
        raise DeployError(f'cannot find the version of {what} {where}: add __version__ = \'1.0\' '
                          f'({"to _<app>_version.py" if what == "app" else "to its __init__.py"}), a VERSION file, '
                          f'or a version key to its {APP_MANIFEST} (or pass version=)')
    try:
        return validate_name(version, f'{what} version')
    except InvalidNameError as exc:
        raise DeployError(f'{where}: {exc}') from None


def read_app_version(app_path: PathLike, app_name: Optional[str] = None) -> str:
    """Return the version of the app built in ``app_path``: ``__version__`` in ``_<app_name>_version.py`` (the
    original's rule; ``app_name`` defaults to the directory's name), else the other places listed in the module
    docstring. Nothing is imported.

    Raises :class:`DeployError` (a ``ValueError``, as the original raised) when there is none or it is unsafe.
    """
    directory = Path(app_path)
    name = app_name or directory.resolve().name
    version = _version_in(directory / f'_{name}_version.py') or _manifest_version(directory) \
        or _version_from_files(directory, ('__init__.py', 'version.py', '_version.py', 'main.py'))
    return _checked_version(version, directory, 'app')


def _compiled_modules(directory: Path, name: str) -> List[Path]:
    import importlib.machinery

    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES) + ('.pyc',)
    return sorted(p for p in directory.glob(f'{name}.*') if p.is_file() and p.name.endswith(suffixes))


def _compiled_version(module: Path, name: str) -> Optional[str]:
    """``__version__`` of a compiled module, imported in a child interpreter (its import runs no code here)."""
    import subprocess
    import sys

    try:
        proc = subprocess.run([sys.executable, '-I', '-c', _READ_COMPILED, name, str(module)], capture_output=True,
                              text=True, timeout=120, cwd=str(module.parent))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeployError(f'cannot read the version of the compiled module {module}: {exc}') from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ['(no output)'])[-1]
        raise DeployError(f'cannot read the version of the compiled module {module}: importing it failed: {last}; '
                          'pass version= or build it for this Python')
    _printed, found, version = proc.stdout.rpartition(_VERSION_MARK)  # what the module printed at import: ignored
    return (version.strip() or None) if found else None


def read_lib_version(lib_path: PathLike, lib_name: Optional[str] = None) -> str:
    """Return the version of the lib built in ``lib_path``: ``__version__`` of ``__init__.py`` in it or in its
    ``<lib_name>/`` package, of ``<lib_name>.py``, or of a compiled module ``<lib_name>.*.so``/``.pyd``/``.pyc``
    in it (the original read the root's ``__init__.py`` or the compiled module); else a ``VERSION`` file or a
    ``version`` key of its ``manifest.yaml``. ``lib_path`` may also be a module file. ``lib_name`` defaults to
    the directory's name.

    Raises :class:`DeployError` (a ``ValueError``) when there is none or it is unsafe.
    """
    path = Path(lib_path)
    if path.is_file():
        return _checked_version(_version_in(path), path, 'lib')
    name = lib_name or path.resolve().name
    version = _version_from_files(path, ('__init__.py', 'version.py', '_version.py'))
    if version is None:
        version = _version_from_files(path / name, ('__init__.py', 'version.py', '_version.py')) \
            or _version_in(path / f'{name}.py') or _manifest_version(path)
    if version is None:
        for module in _compiled_modules(path, name):
            version = _compiled_version(module, name)
            if version:
                break
    return _checked_version(version, path, 'lib')


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
        data, marks = parse_yaml(text, origin)
    except ManifestFetchError:
        return None
    except ManifestError as exc:
        raise DeployError(str(exc)) from None
    if isinstance(data, dict):  # a version written as a YAML number (1.10) is the version as written, as launchers
        for key in ('version',):  # read it, never the float 1.1
            if _is_number(data.get(key)):
                data[key] = marks.raw.get((key,), str(data[key]))
        pins = data.get('lib_versions')
        if isinstance(pins, dict):
            for lib, value in list(pins.items()):
                if _is_number(value):
                    pins[lib] = marks.raw.get(('lib_versions', lib), str(value))
    return data


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------------ the repository


def _disk_error(exc: OSError, what: str) -> DeployError:
    import errno

    name = exc.filename2 or exc.filename  # a failed rename: its destination is the file that matters
    where = f'{name}: ' if name else ''
    hint = ('the disk holding the repository is full; free space and deploy again' if exc.errno in
            (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) else 'check the repository\'s permissions and disk')
    return DeployError(f'deploying {what} failed: {where}{exc.strerror or exc}; {hint} (the repository is as it '
                       'was before this deploy)')


@contextlib.contextmanager
def _deploy_lock(repo: Path) -> Iterator[None]:
    """Hold the repository's one lock (every writer takes it), then finish replacements a crashed deploy left."""
    from ._inuse import exclusive_root_lock
    from .errors import InstallError

    try:
        repo.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DeployError(f'cannot create the repository {repo}: {exc.strerror or exc}; set '
                          'SLAUNCH_REPOSITORY_PATH to a writable directory') from exc
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive_root_lock(repo / DEPLOY_LOCK, 'deploying'))
        except InstallError as exc:
            cause = exc.__cause__
            reason = (cause.strerror or str(cause)) if isinstance(cause, OSError) else str(exc)
            raise DeployError(f'cannot lock the repository {repo}: {reason} ({repo / DEPLOY_LOCK}); deployers need a '
                              'writable repository (launchers only read it)') from None
        try:
            _recover_repository(repo)
        except OSError as exc:
            raise _disk_error(exc, 'the recovery of an interrupted deploy') from exc
        _test_pause('locked')
        yield


def _recover_repository(repo: Path) -> None:
    """Roll back or forward every replacement a killed deploy left (see :func:`_recover`), remove its staging
    directories, and remove an app or lib directory left without any version (by a deploy of a new app killed
    before slaunch placed a new app's directory whole)."""
    with contextlib.suppress(OSError):  # a new app's (or the environments') staging: only ever a staged copy
        for staged in repo.glob(f'{_STAGE_PREFIX}*'):
            shutil.rmtree(staged, ignore_errors=True)
    parents = [repo / ENVS_DIR]
    versioned: List[Path] = []
    for base in (repo, repo / LIBS_DIR):
        try:
            found = [p for p in base.iterdir() if p.is_dir() and not p.name.startswith('.')]
        except OSError:
            continue
        parents += found
        versioned += [p for p in found if p.name.lower() != INDEX_FILE  # (a directory there is an operator's error)
                      and not (base == repo and p.name in (ENVS_DIR, LIBS_DIR))]
    for parent in dict.fromkeys(parents):
        _recover(parent)
    for directory in versioned:  # an app (lib) directory holds its versions: empty now, it holds nothing
        with contextlib.suppress(OSError):
            if not any(directory.iterdir()):
                logger().warning('%s: removing the empty directory an interrupted deploy left', directory)
                directory.rmdir()
    for index_dir in (repo, repo / LIBS_DIR):  # an index write killed before its rename
        for stale in index_dir.glob(f'{_INDEX_TMP_PREFIX}*.tmp'):
            with contextlib.suppress(OSError):
                stale.unlink()


def _recover(parent: Path) -> None:
    """In ``parent`` (a directory of versions): an old copy moved aside (``.old-<v>``) is removed when ``<v>`` is
    in place (the replacement finished: roll forward) and renamed back otherwise (roll back); staging directories
    (never the only copy of anything) are removed."""
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if name.startswith(_OLD_PREFIX):
            final = parent / name[len(_OLD_PREFIX):]
            if final.exists():
                logger().warning('%s: finishing a replacement an interrupted deploy left (removing the old copy)',
                                 final)
                shutil.rmtree(entry, ignore_errors=True)
            else:
                logger().warning('%s: undoing a replacement an interrupted deploy left (restoring the old copy)',
                                 final)
                os.replace(entry, final)
        elif name.startswith(_LEGACY_TRASH_PREFIX) and entry.is_dir():  # left by slaunch 0.1's deploy
            for inner in list(entry.iterdir()):
                if not (parent / inner.name).exists():
                    logger().warning('%s: restoring the copy an interrupted deploy left in %s', parent / inner.name,
                                     entry)
                    os.replace(inner, parent / inner.name)
            shutil.rmtree(entry, ignore_errors=True)
        elif name.startswith(_STAGE_PREFIX):
            shutil.rmtree(entry, ignore_errors=True)


def _test_pause(point: str) -> None:
    """The test seam of :data:`TEST_PAUSE_ENV_VAR` (a no-op unless it names ``point``)."""
    spec = os.environ.get(TEST_PAUSE_ENV_VAR, '')
    wanted, _, directory = spec.partition(':')
    if wanted != point or not directory:
        return
    Path(directory, f'{point}.reached').touch()
    while not Path(directory, f'{point}.go').exists():
        time.sleep(0.01)


def _dump_yaml(data: Any) -> bytes:
    import yaml

    try:
        text = yaml.safe_dump(data, default_flow_style=False, sort_keys=True, allow_unicode=True)
    except TypeError:  # keys of several types (an x- annotation with `1:` beside `a:`) cannot be sorted
        text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return text.encode('utf-8')


def _check_name(value: object, what: str, call: str) -> str:
    if isinstance(value, os.PathLike):
        raise DeployError(f'{call}: the first argument is the {what} (a string), got the path {os.fspath(value)!r}; '
                          'the signatures are the original\'s, e.g. deploy_application(name, app_path) and '
                          'update_manifest(name, latest_ver); the repository is $SLAUNCH_REPOSITORY_PATH or '
                          'repository=')
    try:
        name = validate_name(value, what)
    except InvalidNameError as exc:
        raise DeployError(f'{call}: {exc}') from None
    if what in ('app name', 'lib name'):
        if name.lower() == INDEX_FILE:
            raise DeployError(f'{call}: invalid {what} {name!r}: it is the name of the repository\'s index file '
                              f'({INDEX_FILE}); choose another name')
        if name.startswith('x-'):
            raise DeployError(f'{call}: invalid {what} {name!r}: launchers skip index entries starting with '
                              "'x-' (the operator's own annotations), so it could never be launched; choose "
                              'another name')
    return name


def _index_file(repo: Path, libs: bool) -> Path:
    return repo / LIBS_DIR / INDEX_FILE if libs else repo / INDEX_FILE


def _deployed(repo: Path, libs: bool, name: str) -> List[str]:
    base = repo / LIBS_DIR / name if libs else repo / name
    try:
        return sorted((p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith('.')),
                      key=_version_key)
    except OSError:
        return []


def update_manifest(name: str, latest_ver: Optional[str] = None, libs: bool = False, update_current_ver: bool = False,
                    force_current_ver: Optional[str] = None, *,
                    repository: Optional[PathLike] = None) -> Dict[str, Optional[str]]:
    """Update the entry ``name`` of the repository's index (``manifest.yaml``; ``_libs/manifest.yaml`` when
    ``libs``), the original's signature: ``latest_ver`` becomes ``latest``; ``update_current_ver`` makes
    ``latest`` the ``current`` version; ``force_current_ver`` makes that version ``current`` (how operators roll
    back). An entry without ``current`` gets ``latest``. The file is rewritten atomically under the repository's
    lock; its ``x-`` keys (the operator's own annotations, ignored by launchers) are kept.

    Returns the entry (``{'current': ..., 'latest': ...}``). Raises :class:`DeployError` for an unsafe name or
    version, a version that is not deployed (or, for an app, one a launcher would refuse: a directory made by
    hand), a missing repository, a malformed index, or a name with nothing to record.
    """
    libs = bool(libs)
    name = _check_name(name, 'lib name' if libs else 'app name', 'update_manifest')
    for value, label in ((latest_ver, 'latest_ver'), (force_current_ver, 'force_current_ver')):
        if value is not None:
            try:
                validate_name(value, f'{"lib" if libs else "app"} version ({label})')
            except InvalidNameError as exc:
                raise DeployError(str(exc)) from None
    repo = repository_path(repository)
    if not repo.is_dir():  # never create a repository only to say that nothing is deployed in it
        raise DeployError(f'update_manifest: no repository at {repo}; set SLAUNCH_REPOSITORY_PATH (or repository=) '
                          'to the repository the versions were deployed to')
    with _deploy_lock(repo):
        if not libs:  # a directory made by hand (or half copied) is no version: launchers would refuse it
            for value in {v for v in (latest_ver, force_current_ver) if v is not None}:
                if (repo / name / value).is_dir():
                    _check_as_launcher(repo, repo / name / value, name, value)
        try:
            return _update_index(repo, libs, name, latest_ver, update_current_ver, force_current_ver, explicit=True)
        except OSError as exc:
            raise _disk_error(exc, f'the index entry of {name}') from exc


def _update_index(repo: Path, libs: bool, name: str, latest_ver: Optional[str], update_current_ver: bool,
                  force_current_ver: Optional[str], explicit: bool = False) -> Dict[str, Optional[str]]:
    """Update one entry (the caller holds the lock). A deploy (``explicit`` false) only raises ``latest``."""
    from .repository import read_index
    from .state import write_atomic

    path = _index_file(repo, libs)
    what = 'lib' if libs else 'app'
    try:
        for value, label in ((latest_ver, 'latest_ver'), (force_current_ver, 'force_current_ver')):
            if value is not None:
                validate_name(value, f'{what} version ({label})')
        entries = read_index(path, what=what) if path.is_file() else {}
    except (InvalidNameError, ManifestError) as exc:
        raise DeployError(str(exc)) from None
    deployed = _deployed(repo, libs, name)
    for value, label in ((latest_ver, 'latest_ver'), (force_current_ver, 'force_current_ver')):
        if value is not None and value not in deployed:
            shown = ', '.join(deployed) or 'none'
            raise DeployError(f'{what} {name} {value} ({label}) is not deployed in {repo} (deployed versions: '
                              f'{shown}); deploy it first, or name a deployed version')
    data: Dict[str, Any] = {key: {'current': e.current, 'latest': e.latest} for key, e in entries.items()}
    raw = _load_yaml(path) if path.is_file() else None
    if isinstance(raw, Mapping):  # the operator's own x- annotations are kept as they are
        data.update({key: value for key, value in raw.items() if isinstance(key, str) and key.startswith('x-')})
    entry = data.get(name, {'current': None, 'latest': None})
    if latest_ver is not None:
        old = entry.get('latest')
        if explicit or old is None or _version_key(latest_ver) > _version_key(old):
            entry['latest'] = latest_ver
    if force_current_ver is not None:
        entry['current'] = force_current_ver
    elif (update_current_ver or entry.get('current') is None) and entry.get('latest') is not None:
        entry['current'] = entry['latest'] if explicit or latest_ver is None else latest_ver
    if entry.get('current') is None and entry.get('latest') is None:
        raise DeployError(f'{what} {name} is not in {path} and no version was given; pass latest_ver= (a deployed '
                          'version) or deploy it')
    data[name] = entry
    write_atomic(path, _dump_yaml(data), prefix=_INDEX_TMP_PREFIX, mode=0o666 & ~current_umask())  # read by all
    logger().info('%s: %s current=%s latest=%s', path, name, entry['current'], entry['latest'])
    return dict(entry)


def _listed(src: Path, ignore_fn: Optional[IgnoreFn]) -> List[Tuple[str, Path]]:
    """The files to copy below ``src`` as ``(relative POSIX path, path)``, ``ignore_fn`` applied per directory
    (like :func:`shutil.copytree`); our own hash lists are never copied."""
    ignore = ignore_fn if ignore_fn is not None else default_ignore
    out: List[Tuple[str, Path]] = []

    def _unlistable(exc: OSError) -> None:  # os.walk would skip the directory, and the version would lack it
        raise DeployError(f'{exc.filename}: the build directory cannot be listed: {exc.strerror or exc}; fix its '
                          'permissions or leave it out (ignore_fn)') from None

    for dirpath, dirnames, filenames in os.walk(src, onerror=_unlistable):
        base = Path(dirpath)
        skipped = set(ignore(dirpath, sorted(dirnames + filenames)) or ())
        rel_base = base.relative_to(src).as_posix()
        entries = [n for n in dirnames if n not in skipped and (base / n).is_symlink()] + \
                  [n for n in filenames if n not in skipped]
        dirnames[:] = sorted(n for n in dirnames if n not in skipped and not (base / n).is_symlink())
        for name in sorted(entries):
            if rel_base == '.' and name in _OWN_FILES:
                continue
            out.append((name if rel_base == '.' else f'{rel_base}/{name}', base / name))
    return out


def _device_name_problem(rel: str) -> Optional[str]:
    """Why the relative path ``rel`` cannot be created on Windows (a part that is a device name), or None: the
    launcher's name rule (:func:`.paths.validate_name`) applied to every file and directory a version holds."""
    part = next((p for p in rel.split('/') if is_windows_device_name(p)), None)
    if part is None:
        return None
    return (f'{part!r} is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9, with any '
            'extension): a launcher there cannot create it')


def _source_problem(rel: str, path: Path) -> Optional[str]:
    """Why the build file ``path`` cannot be copied (found before anything is written), or None."""
    import stat

    try:
        rel.encode('utf-8')
    except UnicodeEncodeError:
        return 'its name is not valid UTF-8 (the hash list, and launchers on other systems, need UTF-8 names)'
    try:
        st = path.stat()
    except OSError as exc:
        if path.is_symlink():
            import errno

            return (f'it is a symlink to {os.readlink(path)!r}, which does not exist' if exc.errno == errno.ENOENT
                    else f'it is a symlink to {os.readlink(path)!r} that cannot be followed: {exc.strerror or exc}')
        return f'it cannot be read: {exc.strerror or exc}'
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        kind = ('a named pipe' if stat.S_ISFIFO(st.st_mode) else 'a socket' if stat.S_ISSOCK(st.st_mode)
                else 'a device' if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 'not a regular file')
        return f'it is {kind}, not a regular file'
    if not os.access(path, os.R_OK):
        return 'it cannot be read: permission denied'
    return None


def _refuse_folded_collisions(src: Path, listed: List[Tuple[str, Path]], what: str) -> None:
    """Refuse two files whose paths differ only in case or Unicode normalization: on a macOS or Windows
    launcher's disk they are one file, and copying the second would silently replace the first."""
    import unicodedata

    seen: Dict[str, str] = {}
    for rel, _path in listed:
        key = unicodedata.normalize('NFC', rel).casefold()
        if key in seen:
            raise DeployError(f'{what}: the files {seen[key]!r} and {rel!r} of {src} differ only in case or Unicode '
                              'normalization; on macOS and Windows they are one file (one would replace the other '
                              'in a launcher\'s copy); rename one or leave it out (ignore_fn)')
        seen[key] = rel


def _copy_source(src: Path, dest: Path, what: str, ignore_fn: Optional[IgnoreFn]) -> Dict[str, str]:
    """Copy the directory ``src`` into ``dest``; return the hashes. Names a launcher would refuse are refused
    before anything is copied."""
    from ._progress import Progress

    listed = _listed(src, ignore_fn)
    base = os.path.realpath(src)
    for rel, path in listed:
        problem = rel_path_problem(rel) or _device_name_problem(rel) or _source_problem(rel, path)
        if problem:
            raise DeployError(f'{what}: the file {rel!r} of {src} cannot be deployed: {problem}; rename it or leave '
                              'it out (ignore_fn)')
        if path.is_symlink() and os.path.commonpath([base, os.path.realpath(path)]) != base:
            raise DeployError(f'{path} is a symlink that points out of {src}; copy the file instead')
        if path.is_symlink() and path.is_dir():
            raise DeployError(f'{path} is a symlink to a directory; copy the directory instead (or leave it out '
                              'with ignore_fn)')
    _refuse_folded_collisions(src, listed, what)
    hashes: Dict[str, str] = {}
    total = sum(path.stat().st_size for _, path in listed)
    with Progress(f'deploying {what}', total=total, unit='bytes') as bar:
        for rel, path in listed:
            target = dest.joinpath(*rel.split('/'))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)  # a symlink to a file of the source: its content, as launchers copy it
            hashes[rel] = hash_file(target)
            bar.advance(target.stat().st_size)
            if len(hashes) == 1:
                _test_pause('copying')
    return hashes


def _seal(staged: Path, hashes: Dict[str, str], what: str) -> None:
    """Write the hash list and read it back as a launcher will (a list a launcher refuses is never placed)."""
    write_sums(staged, hashes)
    try:
        back = read_sums(staged / SUMS_NAME)
    except StateError as exc:  # pragma: no cover - rel_path_problem refused such names already
        raise DeployError(f'{what}: {exc}') from None
    if back != hashes:  # pragma: no cover - same
        raise DeployError(f'{what}: the hash list does not read back as written; a file name is not portable')


def _exchange(staged: Path, final: Path) -> bool:
    """Swap the directories ``staged`` and ``final`` in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``);
    False where that is not available (other systems, file systems without it such as NFS): the caller then
    replaces in two renames. The test seam's two-rename points select the two renames."""
    import errno
    import sys

    if not sys.platform.startswith('linux') or os.environ.get(TEST_PAUSE_ENV_VAR, '').startswith(
            ('replace-old-moved:', 'replace-new-placed:')):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a libc without it (glibc < 2.28, some musl builds)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(staged), at_fdcwd, os.fsencode(final), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(final))


def _place(staged: Path, final: Path, overwrite: bool, what: str) -> None:
    """Rename the complete ``staged`` directory to ``final``. A replacement (``overwrite``) exchanges the two
    directories in one step where the system can (Linux), then removes the old copy; elsewhere it moves the old
    copy aside as ``.old-<name>`` first and removes it only once the new one is in place. :func:`_recover`
    finishes or undoes a replacement killed in between."""
    if not final.exists():
        os.replace(staged, final)
        return
    if not overwrite:
        raise DeployError(f'{what} is already deployed at {final} with other files; deploy a new version (deployed '
                          'versions never change under running launchers) or pass overwrite=True')
    if _exchange(staged, final):  # one atomic step: launchers never find the directory missing
        _test_pause('replace-exchanged')  # ``staged`` now holds the old copy; the recovery removes a staging name
        shutil.rmtree(staged, ignore_errors=True)
        return
    old = final.with_name(_OLD_PREFIX + final.name)
    os.replace(final, old)
    _test_pause('replace-old-moved')
    os.replace(staged, final)
    _test_pause('replace-new-placed')
    shutil.rmtree(old, ignore_errors=True)


def _stage_in(parent: Path, name: str) -> Path:
    """A new staging directory in ``parent``, with the mode of any directory the process creates (0777 less the
    umask; not mkdtemp's 0700: renamed into place it is what every launching user of the repository reads)."""
    import secrets

    parent.mkdir(parents=True, exist_ok=True)
    while True:
        staged = parent / f'{_STAGE_PREFIX}{name}-{secrets.token_hex(4)}'
        try:
            staged.mkdir(0o777)
            return staged
        except FileExistsError:  # pragma: no cover - 32 random bits
            continue


def _same_files(staged: Path, final: Path) -> bool:
    """True when the deployed ``final`` holds exactly the files of the complete ``staged`` copy: the same hash
    list, every file of it intact, nothing else."""
    from ._files import iter_files

    try:
        if (final / SUMS_NAME).read_bytes() != (staged / SUMS_NAME).read_bytes():
            return False
        sums = read_sums(final / SUMS_NAME)
        present = [rel for rel, _ in iter_files(final)]
        return sorted(present) == sorted(sums) and all(hash_file(final.joinpath(*rel.split('/'))) == digest
                                                       for rel, digest in sums.items())
    except (OSError, StateError):
        return False


def _deploy_dir(repo: Path, final: Path, what: str, overwrite: bool, fill: Callable[[Path], Dict[str, str]]) -> None:
    """Stage, fill, seal and place one version directory (the caller holds the lock). A version already deployed
    with the same files is left as it is (a retry of a deploy killed before its index entry was written); with
    other files it is refused unless ``overwrite``. A version (or environment) with the same files is never
    replaced, so launchers never miss it for a moment.

    The first version of a new app or lib is staged as ``<parent>/.deploy-<name>-<random>/<version>/`` and the
    whole staging directory renamed to ``<name>/``: the app's directory appears with its version in it, so a
    deploy killed at any instant never leaves an app directory without a version."""
    created = [p for p in (final.parent.parent,) if p != repo and not p.exists()]
    new_parent = final.parent != repo and not final.parent.exists()
    staged: Optional[Path] = None
    box: Optional[Path] = None
    placed = False
    try:
        if new_parent:
            box = _stage_in(final.parent.parent, final.parent.name)
            staged = box / final.name
            staged.mkdir(0o777)
        else:
            staged = _stage_in(final.parent, final.name)
        _seal(staged, fill(staged), what)
        _test_pause('staged')
        if box is not None:
            os.replace(box, final.parent)  # (under the lock nothing else creates it meanwhile)
            box = staged = None
        elif final.exists() and _same_files(staged, final):  # nothing to change (nor a moment without it)
            logger().info('%s is already deployed at %s with the same files; recording it', what, final)
            placed = True
            return
        else:
            _place(staged, final, overwrite, what)
        placed = True
        _test_pause('placed')
    except OSError as exc:
        raise _disk_error(exc, what) from exc
    finally:
        for leftover in (box, staged):
            if leftover is not None and leftover.exists():
                shutil.rmtree(leftover, ignore_errors=True)
        for directory in ([] if placed else created):  # only if still empty
            with contextlib.suppress(OSError):
                directory.rmdir()


def _record(repo: Path, libs: bool, name: str, version: str, update_current: bool, final: Path, existed: bool,
            what: str) -> Dict[str, Optional[str]]:
    """Record a placed version in the index. If that fails, a new version is taken out again (the repository is
    as it was); a replaced one stays (its index entry is unchanged) and the error says so."""
    try:
        return _update_index(repo, libs, name, version, update_current, None)
    except (OSError, DeployError) as exc:
        if existed:
            fix = (f"; the new copy of {what} is in place, its index entry unchanged: run update_manifest({name!r}, "
                   f"{version!r}{', libs=True' if libs else ''}) once fixed")
            raise DeployError(f'recording {what} in the index failed: {exc}{fix}') from exc
        shutil.rmtree(final, ignore_errors=True)
        with contextlib.suppress(OSError):
            final.parent.rmdir()  # only if it is empty now
        if isinstance(exc, DeployError):
            raise DeployError(f'{exc} (nothing of {what} was deployed)') from None
        raise _disk_error(exc, f'the index entry of {what}') from exc


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
    pins = data.get('lib_versions')
    if pins is not None and not isinstance(pins, Mapping):
        where = own if lib_versions is None and own.is_file() else app_dir
        raise DeployError(f'{where}: lib_versions must be a mapping of lib name -> version (e.g. '
                          f'{{shared: "1.2"}}; an empty version means the lib\'s current), got {pins!r}')
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
    if entry is not None and not isinstance(entry, str):
        raise DeployError(f'{app_dir}: entrypoint must be a file of the app (a string), got {entry!r}')
    entry = (entry or '').strip()
    if entry:
        problem = entrypoint_problem(entry)
        if problem:
            raise DeployError(f'{app_dir}: entrypoint {problem}; every launcher would refuse it')
        if not app_dir.joinpath(*entry.replace('\\', '/').split('/')).is_file():
            raise DeployError(f'{app_dir}: the entrypoint {entry!r} is not a file of the app; fix entrypoint= (an '
                              'empty entrypoint runs the environment\'s python)')
    return data


def _check_as_launcher(repo: Path, staged: Path, name: str, version: str) -> None:
    """Read the staged version as a launcher will (a manifest it refuses is never placed); warn about an
    environment or a pinned lib version the repository does not have yet."""
    from .errors import InstallError
    from .repository import read_version_dir_spec

    try:
        spec = read_version_dir_spec(repo, staged, name, version)
    except (ManifestError, InstallError, InvalidNameError) as exc:
        shown = str(exc).replace(str(staged), str(repo / name / version))
        raise DeployError(f'{name} {version}: a launcher would refuse this version: {shown}') from None
    if not (repo / ENVS_DIR / spec.environment).is_dir():
        logger().warning('%s %s: the environment %r is not deployed in %s yet (deploy_environments); launchers '
                         'refuse the version until it is', name, version, spec.environment, repo)
    for lib, lib_version in spec.lib_versions.items():
        if lib_version is not None and not (repo / LIBS_DIR / lib / lib_version).is_dir():
            logger().warning('%s %s: lib %s %s is not deployed in %s yet (deploy_library)', name, version, lib,
                             lib_version, repo)


def deploy_application(name: str, app_path: PathLike, update_current: bool = False,
                       ignore_fn: Optional[IgnoreFn] = None, *, repository: Optional[PathLike] = None,
                       version: Optional[str] = None, environment: Optional[str] = None,
                       entrypoint: Optional[str] = None, lib_versions: Optional[Mapping[str, Optional[str]]] = None,
                       pip_requirements: Optional[Sequence[str]] = None,
                       conda_requirements: Optional[Sequence[str]] = None,
                       overwrite: bool = False) -> Dict[str, Optional[str]]:
    """Deploy the app built in ``app_path`` as ``<repository>/<name>/<version>/`` and record it in the
    repository's ``manifest.yaml`` (the original's signature; ``update_current``: make it the version launchers
    run). ``ignore_fn``: see the module docstring.

    Keyword-only extras: ``repository``, ``version`` (default :func:`read_app_version`), ``environment``,
    ``entrypoint``, ``lib_versions``, ``pip_requirements``, ``conda_requirements`` (written over the app's own
    ``manifest.yaml``) and ``overwrite`` (replace a deployed version). Returns the index entry
    (``{'current': ..., 'latest': ...}``). Raises :class:`DeployError`; the repository is then unchanged.
    """
    name = _check_name(name, 'app name', 'deploy_application')
    src = Path(app_path)
    if not src.is_dir():
        raise DeployError(f'{src} is not a directory; pass the directory holding the built app {name!r}')
    try:
        version = validate_name(version, 'app version') if version is not None else read_app_version(src, name)
    except InvalidNameError as exc:
        raise DeployError(str(exc)) from None
    meta = _app_manifest(src, environment, entrypoint, lib_versions, pip_requirements, conda_requirements)
    repo = repository_path(repository)
    what = f'{name} {version}'

    def _fill(staged: Path) -> Dict[str, str]:
        hashes = _copy_source(src, staged, what, ignore_fn)
        (staged / APP_MANIFEST).write_bytes(_dump_yaml(meta))
        hashes[APP_MANIFEST] = hash_file(staged / APP_MANIFEST)
        _check_as_launcher(repo, staged, name, version)
        return hashes

    with _deploy_lock(repo):
        final = repo / name / version
        existed = final.exists()
        _deploy_dir(repo, final, what, overwrite, _fill)
        entry = _record(repo, False, name, version, update_current, final, existed, what)
    logger().info('deployed %s to %s', what, final)
    return entry


def _batch(kind: str, root: Path, subset: Optional[Iterable[str]],
           deploy_one: Callable[[str, Path], Any]) -> List[str]:
    """Deploy every directory of ``root`` (or the ``subset``); the others are deployed even if one fails, then a
    :class:`DeployError` names the failures. Returns the deployed names."""
    if not root.is_dir():
        raise DeployError(f'{root} is not a directory of {kind} build directories')
    wanted = None if subset is None else [subset] if isinstance(subset, str) else list(subset)
    if wanted is None:
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(('.', '_')))
    else:
        missing = [n for n in wanted if not (root / n).is_dir()]
        if missing:
            raise DeployError(f'{root} has no {kind} build directories named {", ".join(missing)}; nothing was '
                              'deployed')
        names = wanted
    done: List[str] = []
    failed: List[str] = []
    for name in names:
        try:
            deploy_one(name, root / name)
        except DeployError as exc:
            logger().error('deploying %s %s failed: %s', kind, name, exc)
            failed.append(f'{name} ({exc})')
        else:
            done.append(name)
    if failed:
        raise DeployError(f'{len(failed)} of {len(names)} {kind}s of {root} were not deployed: {"; ".join(failed)}; '
                          f'deployed: {", ".join(done) or "none"}')
    return done


def deploy_applications(build_root: PathLike, update_current: bool = False, subset: Optional[Iterable[str]] = None,
                        ignore_fn: Optional[IgnoreFn] = None, *, repository: Optional[PathLike] = None,
                        **kwargs: Any) -> List[str]:
    """:func:`deploy_application` for each app directory of ``build_root`` (not ``_libs``, nor names starting
    with ``.`` or ``_``), or for the names in ``subset`` (the original's signature). The extra keywords go to
    each :func:`deploy_application`.

    Returns the deployed app names. If some fail the others are still deployed, then a :class:`DeployError`
    names the failures (the original printed them and went on).
    """
    return _batch('app', Path(build_root), subset,
                  lambda n, p: deploy_application(n, p, update_current, ignore_fn, repository=repository, **kwargs))


def deploy_library(pkg: str, build_path: PathLike, update_current: bool = False, version: Optional[str] = None,
                   ignore_fn: Optional[IgnoreFn] = None, *, repository: Optional[PathLike] = None,
                   overwrite: bool = False) -> Dict[str, Optional[str]]:
    """Deploy the lib ``pkg`` built in ``build_path``: its files land in ``<repository>/_libs/<pkg>/<version>/``
    (the directory launchers put on the app's ``sys.path``) and it is recorded in ``_libs/manifest.yaml`` (the
    original's signature). ``build_path`` must hold a ``manifest.yaml``; ``version`` defaults to
    :func:`read_lib_version`. ``overwrite`` (keyword-only) replaces a deployed version.

    Returns the index entry. Raises :class:`DeployError`; the repository is then unchanged.
    """
    pkg = _check_name(pkg, 'lib name', 'deploy_library')
    src = Path(build_path)
    if not src.is_dir():
        raise DeployError(f'{src} is not a directory; pass the build directory of lib {pkg!r} (its files go on the '
                          'app\'s path)')
    if not (src / APP_MANIFEST).is_file():
        raise DeployError(f'{src} has no {APP_MANIFEST}; a lib build directory needs one (the original\'s rule; it '
                          'may be empty)')
    meta = _load_yaml(src / APP_MANIFEST)
    if meta is not None and not isinstance(meta, Mapping):
        raise DeployError(f'{src / APP_MANIFEST}: expected a mapping (or an empty file)')
    try:
        version = validate_name(version, 'lib version') if version is not None else read_lib_version(src, pkg)
    except InvalidNameError as exc:
        raise DeployError(str(exc)) from None
    if not ((src / pkg).is_dir() or (src / f'{pkg}.py').is_file() or _compiled_modules(src, pkg)):
        logger().warning('lib %s: %s has no %s/ package, %s.py or compiled %s module at its top; `import %s` will '
                         'not find it on the app\'s path', pkg, src, pkg, pkg, pkg, pkg)
    repo = repository_path(repository)
    what = f'lib {pkg} {version}'
    with _deploy_lock(repo):
        final = repo / LIBS_DIR / pkg / version
        existed = final.exists()
        _deploy_dir(repo, final, what, overwrite, lambda staged: _copy_source(src, staged, what, ignore_fn))
        entry = _record(repo, True, pkg, version, update_current, final, existed, what)
    logger().info('deployed %s to %s', what, final)
    return entry


def deploy_libraries(build_root: PathLike, update_current: bool = False, subset: Optional[Iterable[str]] = None,
                     ignore_fn: Optional[IgnoreFn] = None, *, repository: Optional[PathLike] = None,
                     overwrite: bool = False) -> List[str]:
    """:func:`deploy_library` for each directory of ``build_root/_libs`` (or the names in ``subset``), the
    original's signature. Returns the deployed lib names; failures as in :func:`deploy_applications`."""
    return _batch('lib', Path(build_root) / LIBS_DIR, subset,
                  lambda n, p: deploy_library(n, p, update_current, None, ignore_fn, repository=repository,
                                              overwrite=overwrite))


def _copy_env(src: Path, what: str, staged: Path) -> Dict[str, str]:
    return _copy_source(src, staged, what, None)


def deploy_environments(environments_root: Union[PathLike, Mapping[str, PathLike]], *,
                        repository: Optional[PathLike] = None, names: Optional[Iterable[str]] = None) -> List[Path]:
    """Deploy environment definitions as ``<repository>/_env/<env>/`` (the original's signature):
    ``environments_root`` is a directory of ``<env>/requirements.txt`` [+ ``environment.yml``] directories
    (``names``, keyword-only, picks some), or a mapping of env name -> such a directory. Each replaces the
    deployed one (launchers rebuild the environment beside the old one when its files changed). Returns the
    deployed directories.

    Raises :class:`DeployError` for an unsafe name or a directory with neither file.
    """
    if isinstance(environments_root, Mapping):
        items = [(str(k), Path(v)) for k, v in environments_root.items()]
    else:
        base = Path(environments_root)
        if not base.is_dir():
            raise DeployError(f'{base} is not a directory of environment directories')
        wanted = set(names) if names is not None else None
        items = [(p.name, p) for p in sorted(base.iterdir()) if p.is_dir() and not p.name.startswith(('.', '_'))
                 and (wanted is None or p.name in wanted)]
        missing = sorted((wanted or set()) - {n for n, _ in items})
        if missing:
            raise DeployError(f'{base} has no environment directories named {", ".join(missing)}')
    for env, src in items:
        _check_name(env, 'environment name', 'deploy_environments')
        if not any((src / f).is_file() for f in ('requirements.txt', 'environment.yml', 'environment.yaml')):
            raise DeployError(f'{src} has neither requirements.txt nor environment.yml; nothing to deploy for '
                              f'environment {env!r}')
    repo = repository_path(repository)
    out: List[Path] = []
    with _deploy_lock(repo):
        for env, src in items:
            final = repo / ENVS_DIR / env
            what = f'environment {env}'
            _deploy_dir(repo, final, what, True, functools.partial(_copy_env, src, what))
            logger().info('deployed %s to %s', what, final)
            out.append(final)
    return out
