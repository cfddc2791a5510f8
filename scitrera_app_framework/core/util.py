"""Configuration sources for :class:`Variables`: ``.env``, YAML, JSON and TOML files, secrets directories, and
the declared-variables reference.

Every file source sits below the environment and local values and above defaults, in the order added; its keys
match the way environment names do (``v.get('port')`` finds ``PORT``).
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from .._exports import Exports
from ..api.variables import Variables
from ..exceptions import SAFError
from ..util.config_files import read_env_file as _read_env_file
from ..util.config_sources import FileSource, SecretsDirSource
from ..util.secrets import MASK, is_secret_key, mask_value
from .defaults import get_variables

__all__ = ['SecretsDirError', 'read_env_file', 'add_env_file_source', 'add_file_source',
           'add_secrets_dir_source', 'config_file_entries', 'add_config_files_from', 'describe_variables',
           'variables_markdown', 'stop_watching']


class SecretsDirError(SAFError, FileNotFoundError):
    """A secrets directory that must exist does not (or is not a directory); names it and how to fix it."""


def read_env_file(path: Union[str, os.PathLike[str]]) -> dict[str, Optional[str]]:
    """Read a ``.env`` file once and return its values, ``${NAME}`` expanded from the file's earlier values and
    the process environment (python-dotenv's results; see :mod:`scitrera_app_framework.util.config_files`).

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigFileError: not UTF-8, or a line cannot be parsed (names the file and the line; a secret value is
            never quoted).
        ImportError: the file needs python-dotenv's parser (quoted values, escapes) and it is not installed.
    """
    return _read_env_file(path)


def add_env_file_source(path: Union[str, os.PathLike[str]] = '.env', v: Optional[Variables] = None,
                        required: bool = False, missing_ok: Optional[bool] = None) -> dict[str, Optional[str]]:
    """Read a ``.env`` file and add its values as a source of ``v`` (below local values, above defaults; keys
    matched like environment names); return the values.

    The process environment is not modified. A missing file is ignored with a warning naming it, as the
    original does; ``required=True`` makes it an error (``missing_ok`` is the older spelling of
    ``not required``). ``v.reload()`` re-reads it.

    Raises:
        FileNotFoundError: the file does not exist and ``required`` is true.
        ConfigFileError: not UTF-8, or a malformed line (names file and line; secrets never quoted).
        ImportError: the file needs python-dotenv's parser and python-dotenv is missing (the ``dotenv`` extra).
    """
    if missing_ok is not None:
        required = not missing_ok
    v = get_variables(v)
    if not os.path.exists(os.fspath(path)) and not required:
        from .logs import get_logger
        get_logger(v).warning('.env file %s not found: ignored (pass required=True to make this an error)',
                              os.path.abspath(os.fspath(path)))
        return {}
    src = FileSource(path, kind='env')
    v.add_source(src)
    return dict(src.items())


def add_file_source(path: Union[str, os.PathLike[str]], v: Optional[Variables] = None, prefix: Optional[str] = None,
                    optional: bool = False, watch: bool = False) -> FileSource:
    """Add a ``.yaml``/``.yml``, ``.json``, ``.toml`` (or ``.env``) file as a source of ``v``; return the source.

    Nested tables are flattened to upper-case ``SECTION_KEY`` names (``db: {host: x}`` answers ``v.get('DB_HOST')``
    and ``v.get('db_host')``); lists stay lists; ``prefix='app'`` puts ``APP_`` before every name. An
    ``optional`` file may be missing (it gives no values until it appears and ``v.reload()`` runs).
    ``watch=True`` re-reads it when it changes (needs the optional ``watchfiles`` package) and calls the
    ``v.on_reload`` callbacks with the changed keys. The watch is on the file's directory (and on the directory of
    every link on the way to it), not on the file, so every change is seen: an edit in place, a rename over it
    (vim, ``sed -i``, Ansible, ``mv``), a delete and re-create, a Kubernetes ConfigMap volume swapping its
    ``..data`` link. A file that vanishes is logged (a WARNING naming it; its last good values stay) and read
    again when it reappears. A change made after this returns is seen.

    Raises:
        FileNotFoundError: the file is missing and not ``optional``.
        ConfigFileError: not UTF-8, malformed, nested too deeply, or not a mapping (names the file and line).
        ValueError: an unknown file extension.
        ImportError: ``watch=True`` without ``watchfiles`` (names the package to install).
    """
    v = get_variables(v)
    src = FileSource(path, prefix=prefix, optional=optional)
    if watch:
        _watchfiles()  # before adding: nothing changes when it is missing
    v.add_source(src)
    if watch:
        _watch(v, src.path)
    return src


def add_secrets_dir_source(path: Union[str, os.PathLike[str]] = '/run/secrets', v: Optional[Variables] = None,
                           watch: bool = False, optional: bool = False) -> SecretsDirSource:
    """Add a secrets directory (one file per key, trailing newline stripped; the Kubernetes secret-volume layout
    with its ``..data`` links included) as a source of ``v``; return the source. ``v.reload()`` (or
    ``watch=True``, with ``watchfiles``) sees an updated volume. Every value from it is treated as a secret
    wherever the framework prints it.

    A directory that does not exist (a volume that failed to mount) is an error, as a missing file is for
    :func:`add_file_source`; with ``optional=True`` it gives no values until it appears and ``v.reload()`` runs.

    Raises:
        SecretsDirError: the directory does not exist (or is not a directory) and is not ``optional``.
        ImportError: ``watch=True`` without ``watchfiles``.
    """
    from ..util.secrets import mark_secret_key

    v = get_variables(v)
    full = os.path.abspath(os.fspath(path))
    if not optional and not os.path.isdir(full):
        what = 'is not a directory' if os.path.exists(full) else 'does not exist'
        raise SecretsDirError(f'the secrets directory {full!r} {what} (a secret volume that did not mount?); fix the '
                              f'path, mount it, or make it optional (optional=True; SAF_SECRETS_DIR={full}?)')
    src = SecretsDirSource(full)
    if watch:
        _watchfiles()
    for k in src.keys():
        mark_secret_key(k)
    v.add_source(src)
    if watch:
        _watch(v, src.path)
    return src


def config_file_entries(value: str) -> list[tuple[str, bool]]:
    """Split a ``SAF_CONFIG_FILES`` value into ``(path, optional)`` entries.

    Entries are separated by ``os.pathsep`` (``:`` on POSIX, ``;`` on Windows) when the value contains it, else
    by commas; so a path containing a comma is written with ``os.pathsep`` separators (``/etc/a,b/app.yaml:``
    works alone too: a trailing separator). A trailing ``?`` marks an entry optional. Empty entries are ignored.
A leading ``~`` is the home directory (also in ``SAF_SECRETS_DIR``).

    Raises:
        ConfigurationError: an entry has no known configuration file type (names the entry, its position and the
            separator to use when a path contains a comma).
    """
    from ..exceptions import ConfigurationError
    from ..util.config_sources import FILE_KINDS

    sep = os.pathsep if os.pathsep in value else ','
    raw = [item.strip() for item in value.split(sep)]
    items = [item for item in raw if item]
    out: list[tuple[str, bool]] = []
    for n, item in enumerate(items, 1):
        optional = item.endswith('?')
        path = os.path.expanduser(item.rstrip('?').strip())  # ('~/app.yaml': no shell expands it in a container)
        ext = os.path.splitext(path)[1].lower()
        if ext not in FILE_KINDS and not os.path.basename(path).startswith('.env'):
            hint = (f'; a path containing a comma: separate the entries with {os.pathsep!r} (os.pathsep) instead of '
                    f'commas' if sep == ',' and len(items) > 1 else '')
            raise ConfigurationError(
                f'SAF_CONFIG_FILES: entry {n} of {len(items)}, {path!r}, is not a configuration file '
                f'({", ".join(FILE_KINDS)} or a file named .env*){hint}')
        out.append((path, optional))
    return out


def add_config_files_from(v: Variables) -> list[FileSource]:
    """Add the files named by ``SAF_CONFIG_FILES`` (see :func:`config_file_entries`: ``os.pathsep``- or
    comma-separated; a trailing ``?`` marks a file optional) and the directory named by ``SAF_SECRETS_DIR``, in
    that order; return the file sources (``init_framework`` calls it first thing). Every entry is checked before
    any is added.

    Raises:
        ConfigurationError: an entry is not a configuration file name (names the entry).
        FileNotFoundError / ConfigFileError: as :func:`add_file_source` (the message names the file).
        SecretsDirError: ``SAF_SECRETS_DIR`` names a directory that does not exist (and has no ``?``).
    """
    out = []
    entries = config_file_entries(str(v.environ('SAF_CONFIG_FILES', default='') or ''))
    for path, optional in entries:
        out.append(add_file_source(path, v, optional=optional))
    secrets_dir = str(v.environ('SAF_SECRETS_DIR', default=None) or '').strip()
    if secrets_dir:  # required, as named; a trailing '?' makes it optional (as for SAF_CONFIG_FILES)
        add_secrets_dir_source(os.path.expanduser(secrets_dir.rstrip('?').strip()), v,
                               optional=secrets_dir.endswith('?'))
    return out


def _watchfiles() -> Any:
    try:
        import watchfiles
    except ImportError as e:
        raise ImportError("watching configuration files needs the watchfiles package: pip install "
                          "'scitrera-app-framework[watch]'") from e
    return watchfiles


# the running file watchers (process-wide: their threads must all stop at interpreter exit, whatever app they serve)
_watchers: list[_FileWatch] = []
_WATCH_DEBOUNCE_MS = 200
_MAX_LINK_HOPS = 40


def _watch_points(path: str) -> tuple[set[str], set[str]]:
    """What to watch for ``path``: ``(directories, names)``. The directories are the existing parents of the path
    and of every symbolic link on the way to the real file (a ConfigMap's ``app.yaml -> ..data/app.yaml`` and
    ``..data -> ..2026_...``); the names are those paths, whose events matter. Watching directories, not the
    file, survives a rename over the file, a delete and re-create, and a swap of ``..data``."""
    dirs: set[str] = set()
    names: set[str] = set()
    todo = [os.path.abspath(path)]
    while todo and len(names) < _MAX_LINK_HOPS:
        p = todo.pop()
        if p in names:
            continue
        names.add(p)
        dirs.add(os.path.dirname(p))
        # the first link among p's ancestors (or p itself): follow it, the rest of the path below its target
        prefix = os.path.sep
        for part in p.split(os.path.sep)[1:]:
            prefix = os.path.join(prefix, part)
            if os.path.islink(prefix):
                try:
                    target = os.readlink(prefix)
                except OSError:
                    break
                names.add(prefix)
                dirs.add(os.path.dirname(prefix))
                rest = os.path.relpath(p, prefix)
                todo.append(os.path.normpath(os.path.join(os.path.dirname(prefix), target, rest)))
                break
    return {d for d in dirs if os.path.isdir(d)}, names


def _identity(dirs: set[str]) -> frozenset[tuple[str, int, int]]:
    """The watched directories as (path, device, inode): a directory replaced under the same name differs."""
    out = set()
    for d in dirs:
        try:
            st = os.stat(d)
        except OSError:
            continue
        out.add((d, st.st_dev, st.st_ino))
    return frozenset(out)


class _FileWatch:
    """The thread that follows one file (or secrets directory) and reloads ``v`` when it changes."""

    def __init__(self, v: Variables, path: str) -> None:
        import logging
        import threading

        self.v = v
        self.path = path
        self.is_dir = os.path.isdir(path)
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, name=f'saf-watch:{os.path.basename(path)}', daemon=True)
        self.missing = False
        self.failure: Optional[str] = None  # the last watch failure logged (logged once until it changes)
        self.log = logging.getLogger('saf.config')

    def _relevant(self, changed: str, names: set[str]) -> bool:
        if self.is_dir:
            return True  # the watched directory itself: every entry is a secret (or its ..data link)
        return any(changed == n or changed.startswith(n + os.sep) for n in names)

    def _check(self) -> None:
        """Reload unless the file vanished (then warn once and keep its last good values)."""
        if not os.path.exists(self.path):
            if not self.missing:
                self.missing = True
                self.log.warning('watched configuration %s vanished (deleted, renamed away or a broken link); '
                                 'keeping its last good values until it reappears', self.path)
            return
        if self.missing:
            self.missing = False
            self.log.info('watched configuration %s is back; reading it again', self.path)
        self.v.reload()

    def _points(self) -> tuple[set[str], set[str]]:
        if self.is_dir:
            return ({self.path} if os.path.isdir(self.path) else set()), {self.path}
        return _watch_points(self.path)

    def run(self) -> None:
        from watchfiles._rust_notify import RustNotify  # the watchfiles backend's documented direct interface

        backoff = 0.1
        first = True
        while not self.stop.is_set():
            try:
                dirs, names = self._points()
                if not dirs:
                    raise FileNotFoundError(f'no directory of {self.path} exists (yet)')
                identity = _identity(dirs)
                with RustNotify(sorted(dirs), False, False, 300, self.is_dir, True) as notify:
                    self.ready.set()
                    if not first:
                        self._check()  # changes between two watchers were not heard
                    if self.failure is not None:
                        self.failure = None
                        self.log.info('watching %s again', self.path)
                    first = False
                    backoff = 0.1
                    while not self.stop.is_set():
                        changes = notify.watch(_WATCH_DEBOUNCE_MS, 50, 2000, self.stop)
                        if changes == 'stop':
                            return
                        if isinstance(changes, set) and any(self._relevant(c, names) for _k, c in changes):
                            self._check()
                        # a link now points elsewhere, or a watched directory was replaced (or removed): watch
                        # the directories there are now (checked after each change, and every 2 s)
                        if _identity(self._points()[0]) != identity:
                            break
            except Exception as e:  # no directory yet, the watch limit reached, ...
                self.ready.set()
                if self.stop.is_set():
                    return
                text = f'{type(e).__name__}: {e}'
                if text != self.failure:
                    self.failure = text
                    self.log.warning('cannot watch %s (%s); retrying until it can (every %gs at most)', self.path,
                                     text, 5.0)
                first = False
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


def _watch(v: Variables, path: str) -> None:
    _watchfiles()
    watch = _FileWatch(v, path)
    if not _watchers:
        # stop the watchers at interpreter exit, before daemon threads are abandoned inside native code (a thread
        # killed there at exit can abort the process on some Pythons)
        from ._stdlib import register_before_thread_join
        if not register_before_thread_join(stop_watching):
            import atexit
            atexit.register(stop_watching)
    _watchers.append(watch)
    watch.thread.start()
    watch.ready.wait(10.0)  # a change made once this returns is seen


def stop_watching(timeout: float = 2.0) -> None:
    """Stop every file watcher started with ``watch=True`` and wait (up to ``timeout`` seconds each) for it to
    end; ``testing.reset_framework()`` and interpreter exit call it."""
    while _watchers:
        watch = _watchers.pop()
        watch.stop.set()
        watch.thread.join(timeout)


def describe_variables(v: Optional[Variables] = None) -> list[dict[str, Any]]:
    """The declared variables of ``v`` (``environ(..., help=..., secret=..., required=...)``) and the ones
    registered with a default or a type, sorted by name: ``name``, ``env`` (the environment variable), ``type``,
    ``default`` (masked when secret), ``secret``, ``required``, ``help``."""
    v = get_variables(v)
    declared = v.declared()
    rows = []
    for key in sorted(set(declared) | {k for k in v.keys() if isinstance(k, str) and not k.startswith('=|')}):
        info = v.explain(key)
        if key not in declared and info['type'] is None and info['default'] is None:
            continue  # a plain value, not a declared setting
        help_, secret, required = declared.get(key, (None, False, False))
        secret = secret or is_secret_key(key)
        rows.append({'name': key, 'env': key.upper(), 'type': info['type'] or 'str',
                     'default': MASK if secret and info['default'] not in (None, '') else
                     mask_value(key, info['default']),
                     'secret': secret, 'required': required, 'help': help_ or ''})
    return rows


def variables_markdown(rows: list[dict[str, Any]]) -> str:
    """Render :func:`describe_variables` rows as a Markdown table (an app's configuration reference)."""
    def cell(x: Any) -> str:
        text = '' if x is None else (f'`{x}`' if not isinstance(x, bool) else ('yes' if x else ''))
        return text.replace('|', '\\|').replace('\n', ' ')

    lines = ['| variable | type | default | required | secret | description |', '|---|---|---|---|---|---|']
    for r in rows:
        default = '' if r['default'] is None else cell(r['default'])
        help_text = str(r['help']).replace('|', '\\|').replace('\n', ' ')
        lines.append(f"| `{r['env']}` | {r['type']} | {default} | {cell(r['required'])} | {cell(r['secret'])} | "
                     f"{help_text} |")
    return '\n'.join(lines) + '\n'


# ConfigFileError lives in util.config_files (importing it from here is deprecated since 0.1.0)
_EXPORTS = Exports(__name__, globals(), moved={'ConfigFileError': 'scitrera_app_framework.util.config_files'})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
