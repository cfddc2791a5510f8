"""The one process-wide default :class:`Variables` instance."""

from __future__ import annotations

from typing import Optional

from ..api.variables import Variables

#: the default instance, or None (read directly by the registry's fast path; set it with set_default_variables)
current: Optional[Variables] = None


def get_variables(v: Optional[Variables] = None) -> Variables:
    """Return ``v`` if given, else the default ``Variables`` (created on first use)."""
    global current
    if v is not None:
        return v
    if current is None:
        current = Variables()
    return current


def set_default_variables(v: Optional[Variables]) -> None:
    """Make ``v`` the default instance (None forgets it; the next :func:`get_variables` makes a new one)."""
    global current
    current = v


def peek_default_variables() -> Optional[Variables]:
    """Return the default instance without creating one."""
    return current


__all__ = ['get_variables', 'set_default_variables', 'peek_default_variables']
