"""Platform detection, the default slaunch root, interpreter paths and safe names.

Everything that differs between Windows, macOS and Linux lives here, so the rest of slaunch never looks at
``sys.platform`` itself.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Mapping, Optional, Union

from .errors import InvalidNameError

__all__ = [
    'ROOT_ENV_VAR', 'platform_kind', 'default_root', 'resolve_root', 'env_python', 'scripts_dir',
    'validate_name', 'safe_child', 'is_windows_device_name',
]

ROOT_ENV_VAR = 'SLAUNCH_ROOT'

_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._+-]{0,99}')
_NAME_RULE = ("use 1-100 characters from letters, digits, '.', '_', '-' and '+', starting with a letter or digit "
              "(no path separators, no '..', no absolute paths)")
_WINDOWS_RESERVED = frozenset(
    ['con', 'prn', 'aux', 'nul', 'conin$', 'conout$'] + [f'{d}{i}' for d in ('com', 'lpt')
                                                         for i in [*range(1, 10), '\u00b9', '\u00b2', '\u00b3']]
)


def is_windows_device_name(name: str) -> bool:
    """True when the file or directory name ``name`` (one path component) is a Windows device name: ``CON``,
    ``PRN``, ``AUX``, ``NUL``, ``COM1``-``COM9``, ``LPT1``-``LPT9`` (and ``CONIN$``, ``CONOUT$``, ``COM\u00b9``...),
    in any case, with any extension and spaces before it (``nul.txt``, ``Aux.py``, ``con .txt``): Windows opens
    the device instead of a file of that name, so such a file cannot be created or copied there."""
    return name.split('.', 1)[0].rstrip(' ').lower() in _WINDOWS_RESERVED


def platform_kind(platform: Optional[str] = None) -> str:
    """Return ``'windows'``, ``'macos'`` or ``'linux'`` (any other POSIX system counts as linux).

    ``platform`` defaults to ``sys.platform``.
    """
    plat = sys.platform if platform is None else platform
    if plat.startswith(('win', 'cygwin', 'msys')):
        return 'windows'
    if plat == 'darwin':
        return 'macos'
    return 'linux'


def default_root(environ: Optional[Mapping[str, str]] = None, platform: Optional[str] = None,
                 home: Optional[Path] = None) -> Path:
    """Return the slaunch root used when none is given.

    ``$SLAUNCH_ROOT`` wins when set; otherwise a per-user data directory: ``%LOCALAPPDATA%\\slaunch`` on
    Windows, ``~/Library/Application Support/slaunch`` on macOS, ``$XDG_DATA_HOME/slaunch`` (when absolute) or
    ``~/.local/share/slaunch`` elsewhere. The directory is not created.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(ROOT_ENV_VAR, '').strip()
    if explicit:
        return Path(explicit).expanduser()
    base_home = Path.home() if home is None else home
    kind = platform_kind(platform)
    if kind == 'windows':
        local = env.get('LOCALAPPDATA', '').strip()
        return (Path(local) if local else base_home / 'AppData' / 'Local') / 'slaunch'
    if kind == 'macos':
        return base_home / 'Library' / 'Application Support' / 'slaunch'
    xdg = env.get('XDG_DATA_HOME', '').strip()
    if xdg and os.path.isabs(xdg):  # the XDG spec says relative values are to be ignored
        return Path(xdg) / 'slaunch'
    return base_home / '.local' / 'share' / 'slaunch'


def resolve_root(root: Union[str, os.PathLike[str], None] = None) -> Path:
    """Return the absolute slaunch root: ``root`` when given, else :func:`default_root`.

    Raises :class:`InvalidNameError` for an empty root.
    """
    if root is None:
        path = default_root()
    else:
        if not os.fspath(root):
            raise InvalidNameError('the slaunch root is an empty path; pass a directory or unset root= to use '
                                   f'${ROOT_ENV_VAR} / the per-user default')
        path = Path(root).expanduser()
    absolute = Path(os.path.abspath(path))
    if os.pathsep in str(absolute):
        raise InvalidNameError(f'the slaunch root {str(absolute)!r} contains {os.pathsep!r}, which cannot appear in '
                               'PYTHONPATH entries; choose another directory')
    return absolute


def env_python(env_dir: Path, kind: str = 'venv', platform: Optional[str] = None) -> Path:
    """Return the interpreter of an environment: ``Scripts/python.exe`` (venv) or ``python.exe`` (conda) on
    Windows, ``bin/python`` elsewhere."""
    if platform_kind(platform) == 'windows':
        return env_dir / 'python.exe' if kind == 'conda' else env_dir / 'Scripts' / 'python.exe'
    return env_dir / 'bin' / 'python'


def scripts_dir(prefix: Path, kind: str = 'venv', platform: Optional[str] = None) -> Path:
    """Return the directory holding console scripts below ``prefix`` (a venv, conda env or ``--target`` dir)."""
    if platform_kind(platform) == 'windows':
        return prefix / 'Scripts'
    return prefix / 'bin'


def validate_name(value: object, what: str) -> str:
    """Return ``value`` if it is a safe, portable directory name; raise :class:`InvalidNameError` otherwise.

    ``what`` describes the name in the message (e.g. ``"app name"``). Rejected: non-strings, empty names, path
    separators, ``..``, absolute paths, leading dots, trailing dots, Windows device names (``CON``, ``NUL``...).
    """
    if not isinstance(value, str):
        raise InvalidNameError(f'invalid {what} {value!r}: expected a string; {_NAME_RULE}')
    reason = _name_problem(value)
    if reason:
        raise InvalidNameError(f'invalid {what} {value!r}: {reason}; {_NAME_RULE}')
    return value


def _name_problem(value: str) -> Optional[str]:
    if not value:
        return 'it is empty'
    if os.path.isabs(value) or value.startswith(('/', '\\')) or re.match(r'[A-Za-z]:', value):
        return 'it is an absolute path, which would escape the slaunch root'
    if '..' in value:
        return "'..' would escape the slaunch root"
    if '/' in value or '\\' in value:
        return 'it contains a path separator'
    if value == '.':
        return "'.' is not a name"
    if not _NAME_RE.fullmatch(value):
        return 'it contains a character that is not allowed' if len(value) <= 100 else 'it is too long'
    if value.endswith('.'):
        return 'it ends with a dot'
    if is_windows_device_name(value):
        return 'it is a reserved device name on Windows'
    return None


def safe_child(root: Path, *parts: str) -> Path:
    """Return ``root/part/...`` after checking every part with :func:`validate_name` and that the resolved path
    (symlinks followed) stays inside ``root``. Raises :class:`InvalidNameError` otherwise."""
    path = root
    for part in parts:
        validate_name(part, 'path component')
        path = path / part
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if real != real_root and real_root not in real.parents:
        raise InvalidNameError(f'{path} resolves to {real}, outside the slaunch root {real_root}; remove the '
                               'symlink that points out of the root')
    return path
