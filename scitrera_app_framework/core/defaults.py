"""The one process-wide default :class:`Variables` instance."""

from __future__ import annotations

from typing import Optional

from ..api.variables import Variables

_default: Optional[Variables] = None


def get_variables(v: Optional[Variables] = None) -> Variables:
    """Return ``v`` if given, else the default ``Variables`` (created on first use)."""
    global _default
    if v is not None:
        return v
    if _default is None:
        _default = Variables()
    return _default


def set_default_variables(v: Optional[Variables]) -> None:
    """Make ``v`` the default instance (None forgets it; the next :func:`get_variables` makes a new one)."""
    global _default
    _default = v


def peek_default_variables() -> Optional[Variables]:
    """Return the default instance without creating one."""
    return _default


__all__ = ['get_variables', 'set_default_variables', 'peek_default_variables']
