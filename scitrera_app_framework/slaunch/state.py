"""The slaunch state file (``<root>/state.json``): what is installed, read (bounded, shape-checked) and written
atomically.

Layout (format 2)::

    {"format": 2, "serial": 9,
     "envs": {"main": {
         "builds": {"4": {"dir": "envs/main@4", "kind": "venv", "interpreter": null, "python": "3.11.7",
                          "spec": "<digest>", "created_at": "...", "serial": 4}},
         "layers": {"<hash>": {"dir": "layers/main/<hash>", "build": "4", "serial": 5, "installed_at": "...",
                               "packages": ["requests>=2"]}}}},
     "apps": {"myapp": {"current": "2.0", "versions": {"2.0": {
         "dir": "apps/myapp/2.0", "serial": 9, "installed_at": "...", "origin": "manifest", "environment": "main",
         "build": "4", "layer": "<hash>", "python": "3.11.7", "source": "...", "pip_args": [],
         "entry": "myapp.cli:main", "entry_kind": "module", "entry_location": "m.yaml:12: apps.myapp.entry",
         "args": [], "env": {}, "libs": {}, "files": 12}}}},
     "libs": {"shared": {"versions": {"1.2": {"dir": "libs/shared/1.2", "serial": 3, "installed_at": "...",
                                              "source": "...", "files": 4}}}},
     "pending": ["envs/main@2"]}

``dir`` values are relative to the root (a root can be moved or copied); ``pending`` lists directories that are
no longer installed but were still used by a running instance when they were retired: they are deleted by a
later run once nothing uses them. A format-1 file (slaunch 0.1.0) is read and upgraded in memory; it is
written back as format 2 on the next change.

Reading is bounded: at most :data:`MAX_STATE_BYTES`, nesting checked by the shared JSON reader, and every value
checked against the layout above; an error is a :class:`StateError` naming the file, the line and the key path.
Writes go to a temporary file in the root, are flushed and fsynced, then ``os.replace``d over the old file: a
crash at any point leaves either the old or the new state, never a partial one.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, NamedTuple, Optional

from ._checker import describe
from ._marks import KeyPath, format_path
from .errors import InvalidNameError, StateError
from .paths import validate_name

__all__ = ['STATE_FILE', 'STATE_FORMAT', 'MAX_STATE_BYTES', 'new_state', 'load_state', 'save_state',
           'remove_stale_temp_files']

STATE_FILE = 'state.json'
STATE_FORMAT = 2
MAX_STATE_BYTES = 32 * 1024 * 1024
_TMP_PREFIX = '.state-'
_TMP_SUFFIX = '.tmp'
_FIX = 'move it away (slaunch then reinstalls what it needs) or restore it from a backup'

# a directory below the root: kind/name[@n] or kind/name/version[@n] or layers/env/hash
_DIR_RE = re.compile(r'(envs/[A-Za-z0-9][A-Za-z0-9._+-]{0,99}(@\d+)?'
                     r'|(apps|libs)/[A-Za-z0-9][A-Za-z0-9._+-]{0,99}/[A-Za-z0-9][A-Za-z0-9._+-]{0,99}(@\d+)?'
                     r'|layers/[A-Za-z0-9][A-Za-z0-9._+-]{0,99}/[A-Za-z0-9]{1,64})')


def new_state() -> Dict[str, Any]:
    """Return an empty state."""
    return {'format': STATE_FORMAT, 'serial': 0, 'envs': {}, 'apps': {}, 'libs': {}, 'pending': []}


def load_state(root: Path) -> Dict[str, Any]:
    """Return the state stored in ``root`` (an empty state if there is none; a format-1 state upgraded).

    Raises :class:`StateError` naming the file (and line and key path) when it is unreadable, too large, not
    JSON, of another format or holds a value of the wrong type.
    """
    from ..util.config_files import ConfigFileError, decode_utf8, parse_json_text

    path = root / STATE_FILE
    try:
        with open(path, 'rb') as handle:
            raw = handle.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return new_state()
    except OSError as exc:
        raise StateError(f'{path}: cannot read the slaunch state file: {exc.strerror or exc}') from exc
    if len(raw) > MAX_STATE_BYTES:
        raise StateError(f'{path}: the slaunch state file is larger than {MAX_STATE_BYTES} bytes; {_FIX}')
    try:
        text = decode_utf8(str(path), raw)
        data = parse_json_text(text, str(path))
    except ConfigFileError as exc:
        detail = str(exc)[len(str(path)):].lstrip(':0123456789 ')
        where = f'{path}:{exc.line}' if exc.line is not None else str(path)
        raise StateError(f'{where}: the slaunch state file is corrupt ({detail}); {_FIX}') from None
    check = _StateChecker(path, text)
    if not isinstance(data, dict):
        raise check.error((), f"expected an object with 'envs' and 'apps', got {describe(data)}")
    fmt = data.get('format')
    if fmt == 1:
        check.check(data, _FORMAT1)
        return _upgrade(data)
    if fmt != STATE_FORMAT:
        raise StateError(f'{path}: state format {fmt!r} is not supported by this slaunch (expected '
                         f'{STATE_FORMAT}); use the slaunch version that wrote it, or {_FIX}')
    check.check(data, _FORMAT2)
    data.setdefault('libs', {})
    data.setdefault('pending', [])
    return data


def save_state(root: Path, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``root/state.json`` atomically (temp file, fsync, ``os.replace``).

    Raises ``OSError`` if the root is not writable; the previous state file is then untouched.
    """
    payload = json.dumps(state, indent=2, sort_keys=True) + '\n'
    write_atomic(root / STATE_FILE, payload.encode('utf-8'), prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX)


def write_atomic(path: Path, data: bytes, prefix: str = '.slaunch-', suffix: str = '.tmp',
                 mode: Optional[int] = None) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file in the same directory and ``os.replace``.
    The file is private (0600) unless ``mode`` is given (set before the rename, so no reader sees another mode).

    Raises ``OSError``; ``path`` is then untouched and the temporary file removed.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=str(path.parent))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            if mode is not None and hasattr(os, 'fchmod'):
                os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def remove_stale_temp_files(root: Path) -> None:
    """Delete temp files left by a :func:`save_state` that crashed before ``os.replace``."""
    for stale in root.glob(f'{_TMP_PREFIX}*{_TMP_SUFFIX}'):
        try:
            stale.unlink()
        except OSError:
            pass


def fsync_dir(path: Path) -> None:
    """fsync a directory (POSIX), so a rename in it survives a power cut; errors are ignored."""
    if os.name == 'nt':
        return
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------- shape checks

# a schema is a type name, a tuple of alternatives, a {'*': schema} mapping of safe names, or a dict of fields
# ({'key': schema}, a leading '?' marks an optional key)
Schema = Any

_STR, _INT, _NULL_STR = 'str', 'int', ('str', 'null')
_STR_LIST = ['str']
_STR_MAP = {'*str': 'str'}

_LAYER1 = {'serial': _INT, '?installed_at': _STR, '?packages': _STR_LIST}
_FORMAT1 = {
    'format': _INT, '?serial': ('int', 'null'),
    'envs': {'*': {'kind': ('kind',), '?interpreter': _NULL_STR, 'python': _STR, '?created_at': _STR,
                   '?current': _NULL_STR, '?conda_hash': _NULL_STR, '?layers': {'*hash': _LAYER1}}},
    'apps': {'*': {'current': ('version', 'null'), '?versions': {'*version': {
        '?serial': _INT, '?installed_at': _STR, 'environment': ('name',), '?python': _STR, '?source': _STR,
        'entry': _STR, '?args': _STR_LIST, '?env': _STR_MAP}}}},
}
_FORMAT2 = {
    'format': _INT, 'serial': _INT,
    'envs': {'*': {'builds': {'*id': {'dir': ('dir',), 'kind': ('kind',), 'interpreter': _NULL_STR,
                                      'python': _STR, 'spec': _STR, '?created_at': _STR, 'serial': _INT}},
                   'layers': {'*hash': {'dir': ('dir',), 'build': _STR, 'serial': _INT, '?installed_at': _STR,
                                        '?packages': _STR_LIST, '?pip_args': _STR_LIST, '?req_files': _STR_LIST,
                                        '?files': ('int', 'null')}}}},
    'apps': {'*': {'current': ('version', 'null'), 'versions': {'*version': {
        'dir': ('dir',), 'serial': _INT, '?installed_at': _STR, 'origin': ('origin',), 'environment': ('name',),
        'build': _NULL_STR, 'layer': _NULL_STR, 'python': _STR, '?source': _STR, '?pip_args': _STR_LIST,
        'entry': _STR, 'entry_kind': ('entry_kind',), '?entry_location': _NULL_STR, '?args': _STR_LIST,
        '?env': _STR_MAP, '?libs': {'*version_of': ('version',)}, '?files': ('int', 'null'),
        '?digest': _NULL_STR, '?deps': ('bool',), '?conda': _STR_LIST}}}},
    '?libs': {'*': {'versions': {'*version': {'dir': ('dir',), 'serial': _INT, '?installed_at': _STR,
                                              '?source': _STR, '?files': ('int', 'null'),
                                              '?digest': _NULL_STR}}}},
    '?pending': [('dir',)],
}


def _is_name(value: Any) -> bool:
    try:
        validate_name(value, 'name')
    except InvalidNameError:
        return False
    return True


class _Atom(NamedTuple):
    """A leaf type of the state schema: how errors name it, and the test of a value."""

    what: str
    test: Callable[[Any], bool]


_ATOMS: Dict[str, _Atom] = {
    'str': _Atom('a string', lambda v: isinstance(v, str)),
    'int': _Atom('an integer', lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    'null': _Atom('null', lambda v: v is None),
    'bool': _Atom('true or false', lambda v: isinstance(v, bool)),
    'name': _Atom('a safe name', _is_name),
    'version': _Atom('a safe version name', _is_name),
    'kind': _Atom("'venv' or 'conda'", lambda v: v in ('venv', 'conda')),
    'origin': _Atom("'manifest' or 'repository'", lambda v: v in ('manifest', 'repository')),
    'entry_kind': _Atom("'module', 'script' or 'python'", lambda v: v in ('module', 'script', 'python')),
    'dir': _Atom('a directory below the root', lambda v: isinstance(v, str) and _DIR_RE.fullmatch(v) is not None),
}
_KEY_KINDS = {'*': 'name', '*id': 'id', '*hash': 'id', '*version': 'version', '*version_of': 'name', '*str': 'env'}
_ID_RE = re.compile(r'[A-Za-z0-9]{1,64}')
_ENV_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')


class _StateChecker:
    """Checks loaded state data against a schema; errors name the file, the line (found lazily) and key path."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def error(self, key_path: KeyPath, problem: str) -> StateError:
        from ._parse import json_marks

        line = None
        if len(self.text) <= 4 * 1024 * 1024:  # lines are cosmetic: not worth composing a huge file
            marks = json_marks(self.text)
            for cut in range(len(key_path), -1, -1):
                line = marks.lines.get(key_path[:cut])
                if line is not None:
                    break
        where = f'{self.path}:{line}' if line is not None else str(self.path)
        shown = format_path(key_path)
        return StateError(f'{where}: {shown + ": " if shown else ""}{problem}; {_FIX}')

    def check(self, value: Any, schema: Schema, path: KeyPath = ()) -> None:
        if isinstance(schema, str):
            schema = (schema,)
        if isinstance(schema, tuple):
            if not any(_ATOMS[atom].test(value) for atom in schema):
                what = ' or '.join(_ATOMS[atom].what for atom in schema)
                raise self.error(path, f'expected {what}, got {describe(value)}')
            return
        if isinstance(schema, list):
            if not isinstance(value, list):
                raise self.error(path, f'expected a list, got {describe(value)}')
            for index, item in enumerate(value):
                self.check(item, schema[0], path + (index,))
            return
        if not isinstance(value, Mapping):
            raise self.error(path, f'expected an object, got {describe(value)}')
        star = next((k for k in schema if k.startswith('*')), None)
        if star is not None:
            for key, item in value.items():
                self._check_key(key, _KEY_KINDS[star], path)
                self.check(item, schema[star], path + (key,))
            return
        for field_name, sub in schema.items():
            optional = field_name.startswith('?')
            key = field_name.lstrip('?')
            if key not in value:
                if optional:
                    continue
                raise self.error(path + (key,), 'required key is missing')
            if optional and value[key] is None and sub not in (_NULL_STR,):
                continue
            self.check(value[key], sub, path + (key,))

    def _check_key(self, key: Any, kind: str, path: KeyPath) -> None:
        if kind in ('name', 'version'):
            ok = _is_name(key)
        else:
            ok = isinstance(key, str) and bool((_ID_RE if kind == 'id' else _ENV_RE).fullmatch(key))
        if not ok:
            raise self.error(path + (str(key),), f'{key!r} is not a valid key here (it would name an unsafe path)')


def _upgrade(old: Dict[str, Any]) -> Dict[str, Any]:
    """Return the format-2 equivalent of a format-1 state (slaunch 0.1.0 layout: ``envs/<env>``,
    ``layers/<env>/<hash>``, ``apps/<app>/<version>``)."""
    import hashlib

    state = new_state()
    state['serial'] = int(old.get('serial') or 0)
    current_layer: Dict[str, Optional[str]] = {}
    for env_name, rec in old['envs'].items():
        conda_hash = rec.get('conda_hash') if rec['kind'] == 'conda' else None
        spec = hashlib.sha256(json.dumps({'kind': rec['kind'], 'interpreter': rec.get('interpreter'),
                                          'conda': conda_hash, 'file': None}, sort_keys=True).encode()
                              ).hexdigest()[:16]
        layers = {key: {'dir': f'layers/{env_name}/{key}', 'build': 'legacy', 'serial': layer['serial'],
                        'installed_at': layer.get('installed_at', ''), 'packages': list(layer.get('packages') or [])}
                  for key, layer in (rec.get('layers') or {}).items()}
        state['envs'][env_name] = {
            'builds': {'legacy': {'dir': f'envs/{env_name}', 'kind': rec['kind'], 'interpreter': rec.get('interpreter'),
                                  'python': rec['python'], 'spec': spec, 'created_at': rec.get('created_at', ''),
                                  'serial': 0}},
            'layers': layers}
        current_layer[env_name] = rec.get('current') if rec.get('current') in layers else None
    for app_name, app in old['apps'].items():
        versions = {}
        for version, rec in (app.get('versions') or {}).items():
            env_name = rec['environment']
            versions[version] = {
                'dir': f'apps/{app_name}/{version}', 'serial': int(rec.get('serial') or 0),
                'installed_at': rec.get('installed_at', ''), 'origin': 'manifest', 'environment': env_name,
                'build': 'legacy' if env_name in state['envs'] else None, 'layer': current_layer.get(env_name),
                'python': rec.get('python', ''), 'source': rec.get('source', ''), 'pip_args': [],
                'entry': rec['entry'], 'entry_kind': 'module', 'entry_location': None,
                'args': list(rec.get('args') or []), 'env': dict(rec.get('env') or {}), 'libs': {}, 'files': None}
        state['apps'][app_name] = {'current': app.get('current'), 'versions': versions}
    return state
