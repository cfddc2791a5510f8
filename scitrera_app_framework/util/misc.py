"""Small helpers with no better home."""

from __future__ import annotations

import re
import time
from typing import Any

_SECRET_RE = re.compile(r'password|passwd|secret|token|credential|api_?key|private_?key|auth', re.IGNORECASE)


def now_ms() -> int:
    """Return the current wall-clock time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def no_op(*args: Any, **kwargs: Any) -> None:
    """Accept anything and do nothing; returns None."""
    return None


def is_secret_key(key: Any) -> bool:
    """Return True when a variable name looks like it holds a secret (password, token, api_key, ...)."""
    return isinstance(key, str) and _SECRET_RE.search(key) is not None


_URL_PASSWORD_RE = re.compile(r'(://[^/@:\s]*:)[^/@\s]+@')


def mask_value(key: Any, value: Any) -> Any:
    """Return ``value``, or a mask (``'****'``) when ``key`` looks secret and the value is non-empty.

    A password inside a URL (``scheme://user:password@host``) is masked whatever the key.
    """
    if value in (None, ''):
        return value
    if is_secret_key(key):
        return '****'
    if isinstance(value, str) and '://' in value and '@' in value:
        return _URL_PASSWORD_RE.sub(r'\1****@', value)
    return value
