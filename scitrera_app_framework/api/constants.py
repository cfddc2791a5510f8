"""Sentinels and internal-key helpers shared by the public API."""

from __future__ import annotations

import enum
from typing import Any


class _Sentinel:
    __slots__ = ('_name',)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return self._name


NOT_SET: Any = _Sentinel('NOT_SET')
"""Marks "no value given" where ``None`` is a legitimate value."""

NO_MATCH: Any = _Sentinel('NO_MATCH')
"""Returned by lookups that found nothing, where ``None`` could be a real value."""


class EnvPlacement(enum.Enum):
    """Where the process environment sits among a :class:`Variables`' layers."""

    TOP = 'top'  #: environment, local, sources, defaults
    BOTTOM = 'bottom'  #: local, sources, defaults, environment
    BOTTOM2 = 'bottom2'  #: local, sources, environment, defaults
    IGNORED = 'ignored'  #: local, sources, defaults


def is_epp(key: Any) -> bool:
    """Return True for framework-internal keys, which look like ``=|NAME|``."""
    return isinstance(key, str) and len(key) > 3 and key[0] == '=' and key[1] == '|' and key[-1] == '|'


def epp(name: str) -> str:
    """Return the internal key for ``name`` (``=|name|``)."""
    return f'=|{name}|'


__all__ = ['NOT_SET', 'NO_MATCH', 'EnvPlacement', 'is_epp', 'epp']
