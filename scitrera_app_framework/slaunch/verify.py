"""``slaunch verify APP [VERSION]``: check an installed version's files against their recorded hashes.

Every file of the version, of its libs and of its package layer is hashed (a *full* check; launches do a quick
one, see :mod:`.launcher`) and compared with the file list written when it was installed. The report names
modified and missing files, and files that are there but were not installed (``__pycache__`` aside; an app may
write its own files, so these are listed but do not fail the check). Nothing is changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

from ._files import check_files, extra_files, read_record
from .errors import ManifestError
from .installer import open_root
from .paths import resolve_root, validate_name

__all__ = ['DirReport', 'VerifyReport', 'verify_app', 'installed_versions']


@dataclass
class DirReport:
    """The check of one installed directory."""

    what: str
    path: Path
    files: int = 0
    modified: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    extra: List[str] = field(default_factory=list)
    #: True when the directory has no file list (installed by slaunch 0.1.0; the next launch records one)
    unrecorded: bool = False

    @property
    def ok(self) -> bool:
        """True when no file is modified or missing."""
        return not (self.modified or self.missing)

    def lines(self) -> List[str]:
        """The report as text lines (one per problem, or one ``ok`` line)."""
        if self.unrecorded:
            return [f'unchecked: {self.what} ({self.path}) has no file list yet (installed by an older slaunch); '
                    'launching it records one']
        out = [f'modified: {self.what}: {rel}' for rel in self.modified]
        out += [f'missing: {self.what}: {rel}' for rel in self.missing]
        out += [f'extra: {self.what}: {rel} (not installed by slaunch)' for rel in self.extra]
        if self.ok:
            out.append(f'ok: {self.what} ({self.files} files, {self.path})')
        return out


@dataclass
class VerifyReport:
    """The check of an app version: one :class:`DirReport` per directory it uses."""

    app: str
    version: str
    root: Path
    dirs: List[DirReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every directory is intact."""
        return all(d.ok for d in self.dirs)

    def lines(self) -> List[str]:
        """The report as text lines, ending with a summary line."""
        out = [line for d in self.dirs for line in d.lines()]
        bad = sum(len(d.modified) + len(d.missing) for d in self.dirs)
        out.append(f'{self.app} {self.version}: ' + ('intact' if self.ok else
                                                      f'DAMAGED ({bad} file(s)); a launch repairs it from its '
                                                      'source when it can, or reinstall it'))
        return out


def installed_versions(app: str, root: Union[str, os.PathLike[str], None] = None) -> Optional[List[str]]:
    """Return the installed versions of ``app`` in ``root`` (current first), or None when it is not installed."""
    root_path = resolve_root(root)
    if not (root_path / 'state.json').is_file():
        return None
    with open_root(root_path) as session:
        app_rec = session.state['apps'].get(app)
        if app_rec is None or not app_rec['versions']:
            return None
        current = app_rec.get('current')
        return sorted(app_rec['versions'], key=lambda v: (v != current, v))


def verify_app(app: str, version: Optional[str] = None,
               root: Union[str, os.PathLike[str], None] = None) -> VerifyReport:
    """Check ``app`` ``version`` (default: the current one) installed in ``root`` (default ``$SLAUNCH_ROOT`` or
    the per-user data directory); see the module docstring.

    Raises :class:`ManifestError` when the app or version is not installed there, :class:`StateError` for a
    corrupt state file or file list.
    """
    validate_name(app, 'app name')
    root_path = resolve_root(root)
    with open_root(root_path) as session:
        app_rec = session.state['apps'].get(app)
        if app_rec is None or not app_rec['versions']:
            raise ManifestError(f'app {app!r} is not installed here', source=str(root_path / 'state.json'))
        version = version or app_rec.get('current')
        if version not in app_rec['versions']:
            known = ', '.join(sorted(app_rec['versions']))
            raise ManifestError(f'{app} {version} is not installed here (installed: {known})',
                                source=str(root_path / 'state.json'))
        report = VerifyReport(app=app, version=str(version), root=root_path)
        for what, _kind, rec in session.dirs_of(app, str(version)):
            directory = session.path(rec['dir'])
            entry = DirReport(what=what, path=directory)
            files = read_record(directory) if directory.is_dir() else None
            if not directory.is_dir():
                entry.missing.append('(the whole directory)')
            elif files is None:
                entry.unrecorded = rec.get('files') is None
                if not entry.unrecorded:
                    entry.missing.append('.slaunch-files.json (the file list itself)')
            else:
                damage = check_files(directory, files, 'full')
                entry.files = len(files)
                entry.modified, entry.missing = damage.modified, damage.missing
                entry.extra = extra_files(directory, files)
            report.dirs.append(entry)
        return report
