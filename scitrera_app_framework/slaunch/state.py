"""The slaunch state file (``<root>/state.json``): what is installed, read and written atomically.

Layout (format 1)::

    {"format": 1, "serial": 7,
     "envs": {"main": {"kind": "venv", "interpreter": null, "python": "3.11.7", "created_at": "...",
                       "current": "<layer hash or null>", "conda_hash": null,
                       "layers": {"<hash>": {"serial": 3, "installed_at": "...", "packages": [...]}}}},
     "apps": {"myapp": {"current": "2.0",
                        "versions": {"2.0": {"serial": 7, "installed_at": "...", "environment": "main",
                                             "python": "3.11.7", "source": "...", "entry": "myapp.cli:main",
                                             "args": [], "env": {}}}}}}

Paths are never stored: they are derived from the root and the names, so a root can be moved or copied.
Writes go to a temporary file in the root, are flushed and fsynced, then ``os.replace``d over the old file: a
crash at any point leaves either the old or the new state, never a partial one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict

from .errors import StateError

__all__ = ['STATE_FILE', 'STATE_FORMAT', 'new_state', 'load_state', 'save_state', 'remove_stale_temp_files']

STATE_FILE = 'state.json'
STATE_FORMAT = 1
_TMP_PREFIX = '.state-'
_TMP_SUFFIX = '.tmp'


def new_state() -> Dict[str, Any]:
    """Return an empty state."""
    return {'format': STATE_FORMAT, 'serial': 0, 'envs': {}, 'apps': {}}


def load_state(root: Path) -> Dict[str, Any]:
    """Return the state stored in ``root`` (an empty state if there is none).

    Raises :class:`StateError` naming the file (and line) when it is unreadable, not JSON, or of another format.
    """
    path = root / STATE_FILE
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        return new_state()
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f'cannot read the slaunch state file {path}: {exc}') from exc
    fix = ('move it away (slaunch then reinstalls what the manifest names) or restore it from a backup')
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f'{path}:{exc.lineno}:{exc.colno}: the slaunch state file is corrupt ({exc.msg}); '
                         f'{fix}') from None
    if not isinstance(data, dict) or not isinstance(data.get('envs'), dict) or not isinstance(data.get('apps'),
                                                                                               dict):
        raise StateError(f"{path}: the slaunch state file has an unexpected structure (expected an object with "
                         f"'envs' and 'apps'); {fix}")
    if data.get('format') != STATE_FORMAT:
        raise StateError(f'{path}: state format {data.get("format")!r} is not supported by this slaunch (expected '
                         f'{STATE_FORMAT}); use the slaunch version that wrote it, or {fix}')
    if not isinstance(data.get('serial'), int):
        data['serial'] = 0
    return data


def save_state(root: Path, state: Dict[str, Any]) -> None:
    """Write ``state`` to ``root/state.json`` atomically (temp file, fsync, ``os.replace``).

    Raises ``OSError`` if the root is not writable; the previous state file is then untouched.
    """
    payload = json.dumps(state, indent=2, sort_keys=True) + '\n'
    fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=str(root))
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, root / STATE_FILE)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    _fsync_dir(root)


def remove_stale_temp_files(root: Path) -> None:
    """Delete temp files left by a :func:`save_state` that crashed before ``os.replace``."""
    for stale in root.glob(f'{_TMP_PREFIX}*{_TMP_SUFFIX}'):
        try:
            stale.unlink()
        except OSError:
            pass


def _fsync_dir(path: Path) -> None:
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
