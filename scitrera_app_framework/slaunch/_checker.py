"""Typed checks of loaded manifest values whose errors carry the source, the line and the key path.

:class:`Checker` knows nothing of the manifest's keys: :mod:`._schema` says which keys exist and what each must be.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Tuple

from ._marks import KeyPath, Marks, format_path
from .errors import InvalidNameError, ManifestError
from .paths import validate_name


def describe(value: Any) -> str:
    """Return ``value`` for a message: its (shortened) repr and its YAML-ish type, e.g. ``1.5 (number)``."""
    names = {dict: 'mapping', list: 'list', str: 'string', bool: 'boolean', int: 'integer', float: 'number',
             type(None): 'null'}
    kind = names.get(type(value), type(value).__name__)
    if value is None:
        return 'null'
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + '...'
    return f'{text} ({kind})'


class Checker:
    """Schema-directed validation with errors that carry source, line and key path.

    Each check returns the checked value and raises the :class:`ManifestError` built by :meth:`error` otherwise.
    ``required_hints`` maps a key that :meth:`mapping` may require to what to write there (for the error).
    """

    required_hints: ClassVar[Mapping[str, str]] = {}

    def __init__(self, origin: str, marks: Marks, base: str) -> None:
        self.origin = origin
        self.marks = marks
        self.base = base

    def error(self, path: KeyPath, problem: str) -> ManifestError:
        """Return (not raise) a :class:`ManifestError` at ``path``, with the line of it or of its nearest parent."""
        line = None
        for cut in range(len(path), -1, -1):
            line = self.marks.lines.get(path[:cut])
            if line is not None:
                break
        return ManifestError(problem, source=self.origin, line=line, key_path=format_path(path) or None)

    def location(self, path: KeyPath) -> str:
        """Return where ``path`` is written, as errors show it: ``<source>[:<line>]: <key path>``."""
        return str(self.error(path, 'x'))[:-len(': x')]

    def mapping(self, value: Any, path: KeyPath, allowed: Tuple[str, ...], required: Tuple[str, ...] = (),
                what: str = 'a mapping') -> Dict[str, Any]:
        """Return the settings mapping ``value`` without its ``x-`` keys; unknown or missing keys are errors."""
        if not isinstance(value, Mapping):
            raise self.error(path, f'expected {what}, got {describe(value)}')
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.error(path, f'keys must be strings, got {describe(key)}; quote it')
            if key.startswith('x-'):
                continue
            if key not in allowed:
                import difflib

                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ''
                raise self.error(path + (key,), f'unknown key; {suggestion}allowed keys: {", ".join(allowed)} '
                                                 "(prefix your own keys with 'x-')")
            out[key] = item
        for key in required:
            if key not in out:
                raise self.error(path + (key,), f'required key is missing; add {key}: {self.required_hints[key]}')
        return out

    def named_mapping(self, value: Any, path: KeyPath, what: str) -> Dict[str, Any]:
        """Return a mapping of safe names (environments, libs, apps) -> settings."""
        if not isinstance(value, Mapping):
            raise self.error(path, f'expected a mapping of {what} name -> settings, got {describe(value)}')
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.error(path, f'{what} names must be strings, got {describe(key)}; quote it')
            self.name(key, path + (key,), f'{what} name')
            out[key] = item
        return out

    def name(self, value: Any, path: KeyPath, what: str) -> str:
        """Return ``value`` if it is a safe name (see :func:`.paths.validate_name`)."""
        try:
            return validate_name(value, what)
        except InvalidNameError as exc:
            raise self.error(path, str(exc)) from None

    def string(self, value: Any, path: KeyPath, what: str = 'a string', allow_empty: bool = False) -> str:
        """Return ``value`` if it is a (non-blank, unless ``allow_empty``) string; a number gets a quoting hint."""
        if not isinstance(value, str):
            hint = ''
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                raw = self.marks.raw.get(path)
                hint = f'; quote it: "{raw}"' if raw else '; quote it'
            elif isinstance(value, bool):
                hint = '; quote it (YAML reads yes/no/on/off/true/false as booleans)'
            raise self.error(path, f'expected {what}, got {describe(value)}{hint}')
        if not allow_empty and not value.strip():
            raise self.error(path, f'expected {what}, got an empty string')
        return value

    def string_list(self, value: Any, path: KeyPath, what: str) -> Tuple[str, ...]:
        """Return a list of strings as a tuple."""
        if not isinstance(value, list):
            raise self.error(path, f'expected a list of {what}, got {describe(value)}')
        return tuple(self.string(item, path + (i,), f'{what[:-1] if what.endswith("s") else what} (a string)')
                     for i, item in enumerate(value))

    def boolean(self, value: Any, path: KeyPath) -> bool:
        """Return ``value`` if it is a boolean."""
        if not isinstance(value, bool):
            raise self.error(path, f'expected true or false, got {describe(value)}')
        return value

    def positive_int(self, value: Any, path: KeyPath) -> int:
        """Return ``value`` if it is an integer >= 1 (booleans are not integers here)."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(path, f'expected an integer >= 1, got {describe(value)}')
        return value
