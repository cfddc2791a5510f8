"""Configuration sources for :class:`~scitrera_app_framework.Variables`: files, a secrets directory, the command line.

Every source here matches keys the way the environment is matched: a lookup tries the key as given, then the
key upper-cased, so ``v.get('port')`` finds ``PORT`` in a ``.env`` file. Each can say where a key came from
(:meth:`describe`), and file-backed sources re-read themselves on :meth:`reload` (a file that became malformed
keeps the last good values and the error is reported to the caller).

- :class:`FileSource`: ``.env``, ``.yaml``/``.yml``, ``.json`` or ``.toml``; nested tables are flattened to
  upper-case ``SECTION_KEY`` names (``db: {host: x}`` answers ``DB_HOST`` and ``db_host``), lists stay lists.
- :class:`SecretsDirSource`: one file per key (``/run/secrets``), trailing newline stripped; understands the
  Kubernetes volume layout, whose visible files are links into a ``..data`` directory swapped atomically.
- :class:`CliSource`: an ``argparse.Namespace`` or ``--key=value`` arguments.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import threading
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Union

from .config_files import (
    ConfigFileError,
    KeyLines,
    json_key_lines,
    parse_env_text,
    parse_json_text,
    parse_toml_text,
    parse_yaml_document,
    read_text,
    toml_key_lines,
    two_lines,
)
from .secrets import add_secret_values, is_secret_key, mark_secret_key

_NO = object()
_log = logging.getLogger('saf.config')
FILE_KINDS = {'.env': 'env', '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json', '.toml': 'toml'}


class KeySource:
    """A read-only mapping source with environment-style key matching (exact, then upper-cased)."""

    kind = 'source'

    def __init__(self, data: Optional[Mapping[str, Any]] = None) -> None:
        self._lock = threading.Lock()
        self._set(dict(data or {}))

    def _set(self, data: dict[str, Any]) -> None:
        upper = {k.upper(): v for k, v in data.items() if isinstance(k, str)}
        self._data, self._upper = data, upper  # swapped together: readers see one or the other

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (or of ``key.upper()``), else ``default``."""
        val = self._data.get(key, _NO)
        if val is _NO:
            val = self._upper.get(key.upper(), _NO) if isinstance(key, str) else _NO
            if val is _NO:
                return default
        return val

    def __contains__(self, key: object) -> bool:
        return self.get(key, _NO) is not _NO  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        val = self.get(key, _NO)
        if val is _NO:
            raise KeyError(key)
        return val

    def keys(self) -> list[str]:
        """The keys, as the source holds them."""
        return list(self._data)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._data.items())

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def describe(self, key: str) -> str:
        """Where ``key``'s value comes from (for provenance)."""
        return self.kind

    def reload(self) -> set[str]:
        """Re-read the source; return the keys whose values changed (none for a fixed mapping)."""
        return set()

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {len(self._data)} keys>'


def flatten(data: Mapping[Any, Any], prefix: str = '', sep: str = '_',
            on_collision: Optional[Callable[[str, tuple[str, ...], tuple[str, ...]], Any]] = None) -> dict[str, Any]:
    """Flatten nested mappings into upper-case ``SECTION_KEY`` names; lists and other values stay as they are.

    Two keys can give one name (``db: {host: ...}`` beside ``db_host:``, or ``level`` beside ``LEVEL``): the later
    one wins, unless ``on_collision`` is given: it is then called with the name and the two key paths (the keys
    as written, outermost first) and may raise. The check costs nothing unless there is a collision.
    """
    out: dict[str, Any] = {}
    leaves = 0
    stack: list[tuple[str, Mapping[Any, Any]]] = [(prefix, data)]
    while stack:
        pre, node = stack.pop()
        for k, val in node.items():
            name = f'{pre}{sep}{k}' if pre else str(k)
            if isinstance(val, Mapping) and val:
                stack.append((name, val))
            else:
                out[name.upper()] = val
                leaves += 1
    if on_collision is not None and leaves != len(out):
        _find_collision(data, prefix, sep, on_collision)
    return out


def _find_collision(data: Mapping[Any, Any], prefix: str, sep: str,
                    on_collision: Callable[[str, tuple[str, ...], tuple[str, ...]], Any]) -> None:
    origin: dict[str, tuple[str, ...]] = {}
    stack: list[tuple[str, tuple[str, ...], Mapping[Any, Any]]] = [(prefix, (), data)]
    while stack:
        pre, kpath, node = stack.pop()
        for k, val in node.items():
            name = f'{pre}{sep}{k}' if pre else str(k)
            sub = kpath + (str(k),)
            if isinstance(val, Mapping) and val:
                stack.append((name, sub, val))
                continue
            up = name.upper()
            if up in origin:
                on_collision(up, origin[up], sub)
            origin[up] = sub


def _secret_values_in(data: Mapping[Any, Any]) -> list[Any]:
    """The scalar values held under a secret-named key, at any depth: in the flattened mapping, inside lists (a
    list of upstreams each with its ``password``) and every scalar of a list or mapping held by a secret key."""
    out: list[Any] = []
    stack: list[tuple[Any, bool, int]] = [(data, False, 0)]
    while stack:
        node, secret, depth = stack.pop()
        if depth > 64:
            continue
        items = node.items() if isinstance(node, Mapping) else ((None, val) for val in node)
        for k, val in items:
            sec = secret or (k is not None and is_secret_key(k))
            if isinstance(val, (Mapping, list, tuple)):
                stack.append((val, sec, depth + 1))
            elif sec and isinstance(val, (str, int, float)):
                out.append(val)
    return out


def _same(a: Any, b: Any) -> bool:
    """Equality for change detection: NaN equals NaN (also inside lists and mappings); a change of type is a
    change (``1`` to ``1.0`` or ``True``)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(x, b[k]) for k, x in a.items())
    try:
        return bool(a == b)
    except Exception:
        return False


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """The keys added, removed or changed between two snapshots of a source (NaN equals NaN)."""
    return {k for k in set(old) | set(new) if not _same(old.get(k, _NO), new.get(k, _NO))}


class FileSource(KeySource):
    """Settings read from one file (``.env``, YAML, JSON or TOML); see the module docstring.

    Args:
        path: the file. Its extension picks the reader (a file named ``.env...`` is a ``.env`` file).
        prefix: put ``PREFIX_`` before every key (``prefix='db'`` turns ``host`` into ``DB_HOST``).
        optional: a missing file (or one behind a dangling link, a link loop or a regular file where a directory
            should be) gives no values (and is read again on :meth:`reload`) instead of an error.
        environ: where ``${NAME}`` in a ``.env`` file is looked up after the file's own values (default: the
            process environment).
        kind: ``env``, ``yaml``, ``json`` or ``toml`` when the extension does not say.

    Raises:
        FileNotFoundError: the file is missing and not ``optional``.
        ConfigFileError: the file is not UTF-8, cannot be parsed, or is not a mapping (names the file and line).
        ValueError: unknown extension.
    """

    def __init__(self, path: Union[str, os.PathLike[str]], prefix: Optional[str] = None, optional: bool = False,
                 environ: Optional[Mapping[str, str]] = None, kind: Optional[str] = None) -> None:
        self.path = os.path.abspath(os.fspath(path))
        ext = os.path.splitext(self.path)[1].lower()
        if kind is None:
            kind = 'env' if os.path.basename(self.path).startswith('.env') else FILE_KINDS.get(ext)
        if kind not in FILE_KINDS.values():
            raise ValueError(f'{self.path!r}: unknown configuration file type {ext!r}; use one of '
                             f'{", ".join(FILE_KINDS)} (or a file named .env*)')
        self.kind = str(kind)
        self.prefix = prefix.strip('_').upper() if prefix else ''
        self.optional = optional
        self._environ = environ
        self._lines: dict[str, int] = {}
        self.last_error: Optional[BaseException] = None
        super().__init__(self._read())

    def _read(self, keep_if_blank: bool = False) -> dict[str, Any]:
        try:
            p, text = read_text(self.path)
        except (FileNotFoundError, NotADirectoryError):
            if self.optional:
                self._lines = {}
                return {}
            raise
        except OSError as e:
            if self.optional and e.errno == errno.ELOOP:  # behind a link loop: missing, as behind a dangling link
                self._lines = {}
                return {}
            raise
        if keep_if_blank and not text.strip():
            # open(path, 'w') and a shell's '>' empty the file before writing it: not "no settings"
            raise ConfigFileError(p, None, 'the file is empty (being written?); its last good values stay until it '
                                           'holds settings again (to clear them on purpose, leave a comment in it)')
        lines: dict[str, int] = {}
        if self.kind == 'env':
            raw = parse_env_text(text, p, self._environ, lines)
            data: dict[str, Any] = {(f'{self.prefix}_{k}' if self.prefix else k): val for k, val in raw.items()}
            lines = {(f'{self.prefix}_{k}' if self.prefix else k).upper(): n for k, n in lines.items()}
        else:
            keylines: Optional[KeyLines] = None
            if self.kind == 'yaml':
                parsed, keylines = parse_yaml_document(text, p)
            else:
                parsed = (parse_json_text if self.kind == 'json' else parse_toml_text)(text, p)
            if parsed is None:
                parsed = {}
            if not isinstance(parsed, Mapping):
                raise ConfigFileError(p, 1, f'the top level of a configuration file must be a mapping of settings, '
                                            f'got {type(parsed).__name__}')
            data = flatten(parsed, self.prefix, on_collision=lambda name, a, b: self._collision(p, text, keylines,
                                                                                                name, a, b))
            if keylines:
                pre = f'{self.prefix}_' if self.prefix else ''
                lines = {(pre + '_'.join(kp)).upper(): n for kp, n in keylines.items()}
        self._lines = lines
        add_secret_values(_secret_values_in(data))
        return data

    def _collision(self, p: str, text: str, keylines: Optional[KeyLines], name: str, a: tuple[str, ...],
                   b: tuple[str, ...]) -> None:
        """Raise the error for two keys that flatten to one name, with their lines where the reader can tell."""
        if keylines is None:
            if self.kind == 'json':
                keylines = {jk.path: jk.line for jk in json_key_lines(text) if jk.path is not None}
            else:
                keylines = toml_key_lines(text)
        la, lb = keylines.get(a), keylines.get(b)
        if la is not None and lb is not None and lb < la:
            a, b, la, lb = b, a, lb, la
        where = f' ({two_lines(la, lb)})' if la is not None and lb is not None else ''
        raise ConfigFileError(p, lb, f'the keys {".".join(a)!r} and {".".join(b)!r} both give the setting {name} '
                                     f'once nested keys are flattened{where}; keep one')

    def describe(self, key: str) -> str:
        """``file /path/app.yaml:12`` (the line where the reader knows it: YAML files)."""
        line = self._lines.get(key.upper())
        return f'file {self.path}:{line}' if line is not None else f'file {self.path}'

    def reload(self) -> set[str]:
        """Re-read the file; return the changed keys.

        Raises:
            ConfigFileError / FileNotFoundError / OSError: the file cannot be read now, or it became empty (as it
                is while ``open(path, 'w')`` or a shell's ``>`` writes it); the last good values stay (the caller
                logs the error).
        """
        with self._lock:
            try:
                new = self._read(keep_if_blank=bool(self._data))
            except BaseException as e:
                self.last_error = e
                raise
            self.last_error = None
            old = self._data
            self._set(new)
        return changed_keys(old, new)

    def __repr__(self) -> str:
        return f'<FileSource {self.path} ({len(self._data)} keys)>'


class SecretsDirSource(KeySource):
    """One secret per file in a directory (Docker and Kubernetes secret volumes); see the module docstring.

    File names are the keys (matched like environment names); names starting with ``.`` are skipped (the
    Kubernetes ``..data`` link and its timestamped directories); links are followed, so the volume's atomic swap
    of ``..data`` is seen by :meth:`reload`. A missing directory gives no values. Every key read, at start or by a
    later :meth:`reload`, is marked secret and its value registered as a known secret value (see
    :mod:`.secrets`).
    """

    kind = 'secrets'

    def __init__(self, path: Union[str, os.PathLike[str]] = '/run/secrets') -> None:
        self.path = os.path.abspath(os.fspath(path))
        super().__init__(self._read())

    def _read(self) -> dict[str, Any]:
        if not os.path.isdir(self.path):
            return {}
        data: dict[str, Any] = {}
        for name in sorted(os.listdir(self.path)):
            if name.startswith('.'):
                continue
            full = os.path.join(self.path, name)
            if not os.path.isfile(full):  # (follows links: a link into ..data is a file)
                continue
            try:
                with open(full, 'rb') as f:
                    raw = f.read()
            except OSError as e:
                _log.warning('secrets directory %s: cannot read %s (%s); skipped', self.path, name, e.strerror)
                continue
            try:
                text = raw.decode('utf-8')
            except UnicodeDecodeError:  # a keystore, a DER key: not a setting; open the file yourself
                _log.debug('secrets directory %s: %s is not UTF-8 text; skipped', self.path, name)
                continue
            data[name] = text[:-2] if text.endswith('\r\n') else text[:-1] if text.endswith('\n') else text
        for name in data:  # every value from a secrets source is secret, whenever it appeared (also on reload)
            mark_secret_key(name)
        add_secret_values(data.values())
        return data

    def describe(self, key: str) -> str:
        for name in self._data:
            if name == key or name.upper() == key.upper():
                return f'secrets file {os.path.join(self.path, name)}'
        return f'secrets directory {self.path}'

    def reload(self) -> set[str]:
        with self._lock:
            new = self._read()
            old = self._data
            self._set(new)
        return changed_keys(old, new)

    def __repr__(self) -> str:
        return f'<SecretsDirSource {self.path} ({len(self._data)} keys)>'


class CliSource(KeySource):
    """Values from the command line: an ``argparse.Namespace`` (attributes that are not None) or arguments
    ``--key=value``, ``--key value`` and ``--flag`` (True); ``--log-level`` answers ``LOG_LEVEL`` and
    ``log_level``. Arguments that are not options are ignored.

    ``flags`` maps variable names to the option that sets them (``{'WORDTOOL_REPEAT': '--repeat'}``, as
    :func:`scitrera_app_framework.cmdline.add_settings_options` builds them): provenance and error messages name
    that option instead of one derived from the key.

    Raises:
        TypeError: neither a namespace nor a sequence of strings.
    """

    kind = 'cli'

    def __init__(self, args: Any, flags: Optional[Mapping[str, str]] = None) -> None:
        self._flags: dict[str, str] = {}
        super().__init__(self._parse(args))
        if flags:
            self._flags.update({str(k).upper(): str(f) for k, f in flags.items()})

    def flag(self, key: str) -> Optional[str]:
        """The option that sets ``key`` (``--repeat``), when known."""
        return self._flags.get(key.upper())

    def merged(self, newer: CliSource) -> CliSource:
        """A new source with this one's values and ``newer``'s on top: a key both set (matched upper-cased, like
        every lookup here) takes ``newer``'s value; flags merge the same way."""
        taken = {k.upper() for k in newer.keys()}
        out = CliSource(None)
        data = {k: val for k, val in self._data.items() if k.upper() not in taken}
        data.update(newer._data)
        out._set(data)
        out._flags = {**self._flags, **newer._flags}
        return out

    def _parse(self, args: Any) -> dict[str, Any]:
        if args is None:
            return {}
        if isinstance(args, argparse.Namespace) or (hasattr(args, '__dict__') and not isinstance(
                args, (list, tuple, str, bytes, Mapping))):
            data = {str(k).replace('-', '_'): val for k, val in vars(args).items()
                    if val is not None and isinstance(k, str) and k and not k.startswith('_')}
            self._flags = {k.upper(): f'--{k.replace("_", "-")}' for k in data}
            return data
        if isinstance(args, (str, bytes, Mapping)) or not isinstance(args, Iterable):
            raise TypeError(f'add_cli_source takes an argparse.Namespace or a list of "--key=value" strings, '
                            f'got {type(args).__name__}')
        items = list(args)
        bad = [a for a in items if not isinstance(a, str)]
        if bad:
            raise TypeError(f'add_cli_source: every argument must be a str, got {type(bad[0]).__name__}')
        data = {}
        i = 0
        while i < len(items):
            a = items[i]
            i += 1
            if a == '--':
                break  # the end of options
            if not a.startswith('--') or a.startswith('---') or a[2:3] == '=':
                continue
            name, eq, value = a[2:].partition('=')
            if not eq:
                if i < len(items) and not items[i].startswith('--'):
                    value = items[i]
                    i += 1
                else:
                    value = 'true'
            key = name.replace('-', '_')
            for old in [k for k in data if k.upper() == key.upper()]:
                del data[old]  # --A=2 after --a=1: the later one wins
            data[key] = value
            self._flags[key.upper()] = f'--{name}'
        return data

    def describe(self, key: str) -> str:
        flag = self._flags.get(key.upper())
        return f'command line {flag}' if flag else 'command line'


__all__ = ['KeySource', 'FileSource', 'SecretsDirSource', 'CliSource', 'flatten', 'changed_keys', 'FILE_KINDS']
