"""File lists with hashes: what an installed directory must contain, and the checks against it.

Every directory slaunch installs (an app version, a lib version, a package layer) gets a record,
``<dir>/.slaunch-files.json``: ``{"format": 1, "files": {"pkg/mod.py": [size, mtime_ns, "<sha256>"], ...}}``,
written just before the directory is renamed into place. ``__pycache__`` directories are left out (Python
rewrites them as it likes and checks them against their sources itself). The repository side
(:mod:`.deploy`) writes ``.slaunch-files.sha256`` in ``sha256sum`` format (``<hex>  <path>``), so a repository
can be checked with ``sha256sum -c`` as well.

Checks: ``quick`` compares sizes and modification times and hashes only files whose time changed; ``full``
hashes every file. A file whose size or hash differs is *modified*; one that is gone is *missing*.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple

from .errors import StateError

RECORD_NAME = '.slaunch-files.json'
SUMS_NAME = '.slaunch-files.sha256'
SKIP_DIRS = frozenset({'__pycache__'})
_OWN_FILES = frozenset({RECORD_NAME, SUMS_NAME})
MAX_RECORD_BYTES = 256 * 1024 * 1024
_CHUNK = 1024 * 1024

class Entry(NamedTuple):
    """One file of a record (a tuple, written as the JSON list ``[size, mtime_ns, sha256]``)."""

    size: int
    mtime_ns: int
    sha256: str  #: hex digest (of the link text for a symlink)


def _unlistable(exc: OSError) -> None:
    raise exc  # os.walk would skip the directory: a copy or record would silently lack its files


def iter_files(root: Path) -> Iterator[Tuple[str, Path]]:
    """Yield ``(relative POSIX path, path)`` of every file below ``root`` (sorted, symlinks not followed, the
    record files and ``__pycache__`` directories left out).

    Raises ``OSError`` (its ``filename`` the directory) for a directory that cannot be listed, never skips it."""
    for dirpath, dirnames, filenames in os.walk(root, onerror=_unlistable):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath)
        rel_base = base.relative_to(root).as_posix()
        for name in sorted(filenames):
            if rel_base == '.' and name in _OWN_FILES:
                continue
            yield (name if rel_base == '.' else f'{rel_base}/{name}'), base / name
        for name in list(dirnames):  # a symlink to a directory is listed as a file, not entered
            if (base / name).is_symlink():
                dirnames.remove(name)
                yield (name if rel_base == '.' else f'{rel_base}/{name}'), base / name


def hash_file(path: Path) -> str:
    """Return the sha256 hex digest of a file (of the link text for a symlink)."""
    digest = hashlib.sha256()
    if path.is_symlink():
        digest.update(b'symlink:' + os.fsencode(os.readlink(path)))
        return digest.hexdigest()
    with open(path, 'rb') as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def make_record(root: Path, on_file: Optional[Callable[[int], None]] = None) -> Dict[str, Entry]:
    """Return the record of every file below ``root``; ``on_file(size)`` is called per file (progress)."""
    files: Dict[str, Entry] = {}
    for rel, path in iter_files(root):
        st = path.lstat()
        files[rel] = Entry(st.st_size, st.st_mtime_ns, hash_file(path))
        if on_file is not None:
            on_file(st.st_size)
    return files


def write_record(root: Path, files: Dict[str, Entry]) -> None:
    """Write ``root/.slaunch-files.json`` atomically."""
    from .state import write_atomic

    payload = json.dumps({'format': 1, 'files': {k: list(v) for k, v in sorted(files.items())}},
                         separators=(',', ':'))
    write_atomic(root / RECORD_NAME, payload.encode('utf-8'), prefix='.slaunch-files-')


def read_record(root: Path) -> Optional[Dict[str, Entry]]:
    """Return the record of ``root`` or None when it has none.

    Raises :class:`StateError` (file, line, key) when it is too large, not JSON or of the wrong shape.
    """
    from ..util.config_files import ConfigFileError, decode_utf8, parse_json_text

    path = root / RECORD_NAME
    try:
        with open(path, 'rb') as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f'{path}: cannot read the file list: {exc.strerror or exc}') from exc
    fix = 'reinstall this version (slaunch verify names it) or set SLAUNCH_VERIFY=off'
    if len(raw) > MAX_RECORD_BYTES:
        raise StateError(f'{path}: the file list is larger than {MAX_RECORD_BYTES} bytes; {fix}')
    try:
        data = parse_json_text(decode_utf8(str(path), raw), str(path))
    except ConfigFileError as exc:
        raise StateError(f'{exc}; {fix}') from None
    files = data.get('files') if isinstance(data, dict) and data.get('format') == 1 else None
    if not isinstance(files, dict):
        raise StateError(f'{path}: files: expected an object of path -> [size, mtime_ns, sha256]; {fix}')
    out: Dict[str, Entry] = {}
    for rel, entry in files.items():
        if not (isinstance(entry, list) and len(entry) == 3 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                     for x in entry[:2])
                and isinstance(entry[2], str) and _safe_rel(rel)):
            raise StateError(f'{path}: files[{rel!r}]: expected [size, mtime_ns, sha256] of a path inside the '
                             f'directory; {fix}')
        out[rel] = Entry(*entry)
    return out


def _safe_rel(rel: object) -> bool:
    return isinstance(rel, str) and rel_path_problem(rel) is None


def rel_path_problem(rel: str) -> Optional[str]:
    """Return why ``rel`` cannot be a file of an installed or deployed directory (a relative POSIX path listed in
    a file list), or None when it can: no absolute path, no ``..``/``.``/empty part, no backslash (a separator on
    Windows), no control character (a newline would split a line of the file list)."""
    if not rel:
        return 'the path is empty'
    if rel.startswith('/'):
        return 'it is an absolute path'
    if '\\' in rel:
        return 'it contains a backslash (a path separator on Windows)'
    bad = next((ch for ch in rel if ord(ch) < 32 or ch in '\x7f\x85\u2028\u2029'), None)
    if bad is not None:
        return f'it contains the control character {bad!r} (a line break would split its line of the file list)'
    if any(part in ('', '.', '..') for part in rel.split('/')):
        return "it has an empty, '.' or '..' part"
    return None


@dataclass
class Damage:
    """What a check found: files that differ from the record, files that are gone, and whether the record's
    times were refreshed (a file was touched but its content is unchanged)."""

    modified: List[str] = field(default_factory=list)
    missing: List[str] = field(default_factory=list)
    refreshed: bool = False

    def __bool__(self) -> bool:
        return bool(self.modified or self.missing)

    @property
    def bad(self) -> List[str]:
        """Every damaged path (modified, then missing)."""
        return self.modified + self.missing

    def describe(self, limit: int = 5) -> str:
        """Return ``'2 modified (a.py, b.py), 1 missing (c.py)'`` (at most ``limit`` paths named per kind)."""
        parts = []
        for what, paths in (('modified', self.modified), ('missing', self.missing)):
            if paths:
                shown = ', '.join(paths[:limit]) + (f', ... ({len(paths) - limit} more)' if len(paths) > limit
                                                    else '')
                parts.append(f'{len(paths)} {what} ({shown})')
        return ', '.join(parts)


def check_files(root: Path, files: Dict[str, Entry], mode: str) -> Damage:
    """Check ``root`` against ``files`` (``mode`` ``'quick'`` or ``'full'``); updates the mtimes in ``files`` of
    touched-but-unchanged files (``Damage.refreshed``). Returns the :class:`Damage` found."""
    damage = Damage()
    for rel, (size, mtime, digest) in files.items():
        path = root.joinpath(*rel.split('/'))
        try:
            st = path.lstat()
        except FileNotFoundError:
            damage.missing.append(rel)
            continue
        except OSError:
            damage.modified.append(rel)
            continue
        if st.st_size != size and not path.is_symlink():
            damage.modified.append(rel)
            continue
        if mode == 'quick' and st.st_mtime_ns == mtime:
            continue
        try:
            same = hash_file(path) == digest
        except OSError:
            same = False
        if not same:
            damage.modified.append(rel)
        elif st.st_mtime_ns != mtime:
            files[rel] = Entry(size, st.st_mtime_ns, digest)
            damage.refreshed = True
    return damage


def extra_files(root: Path, files: Dict[str, Entry]) -> List[str]:
    """Return files below ``root`` that the record does not list (``__pycache__`` aside)."""
    return [rel for rel, _ in iter_files(root) if rel not in files]


def read_sums(path: Path) -> Dict[str, str]:
    """Read a ``sha256sum``-format list (``<hex>  <path>``); raises :class:`StateError` for a malformed line."""
    from ..util.config_files import ConfigFileError, decode_utf8

    try:
        with open(path, 'rb') as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
    except OSError as exc:
        raise StateError(f'{path}: cannot read the file list: {exc.strerror or exc}') from exc
    if len(raw) > MAX_RECORD_BYTES:
        raise StateError(f'{path}: the file list is larger than {MAX_RECORD_BYTES} bytes')
    try:
        text = decode_utf8(str(path), raw)
    except ConfigFileError as exc:
        raise StateError(str(exc)) from None
    out: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, rel = line.partition('  ')
        if not sep or len(digest) != 64 or not _safe_rel(rel):
            raise StateError(f'{path}:{number}: expected "<sha256>  <relative path>"; redeploy this directory')
        out[rel] = digest
    return out


def write_sums(root: Path, files: Dict[str, str]) -> None:
    """Write ``root/.slaunch-files.sha256`` (sorted ``<hex>  <path>`` lines) atomically, readable as any file the
    process creates (0666 less the umask: it is read by every user who launches from a shared repository)."""
    from .state import write_atomic

    text = ''.join(f'{digest}  {rel}\n' for rel, digest in sorted(files.items()))
    write_atomic(root / SUMS_NAME, text.encode('utf-8'), prefix='.slaunch-sums-', mode=0o666 & ~current_umask())


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux), else by setting it back at
    once."""
    try:
        with open('/proc/self/status', encoding='ascii', errors='replace') as handle:
            for line in handle:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old
