"""Small helpers with no better home."""

from __future__ import annotations

import time
from typing import Any

from .secrets import is_secret_key, mask_value  # noqa: F401 - kept importable here (the one policy is there)


def now_ms() -> int:
    """Return the current wall-clock time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def no_op(*args: Any, **kwargs: Any) -> None:
    """Accept anything and do nothing; returns None."""
    return None


__all__ = ['now_ms', 'no_op', 'is_secret_key', 'mask_value']
