"""Small helpers with no better home."""

from __future__ import annotations

import time
from typing import Any

from .._exports import Exports


def now_ms() -> int:
    """Return the current wall-clock time in whole milliseconds since the epoch."""
    return time.time_ns() // 1_000_000


def no_op(*args: Any, **kwargs: Any) -> None:
    """Accept anything and do nothing; returns None."""
    return None


__all__ = ['now_ms', 'no_op']

# the secrets policy lives in util.secrets; importing it from here is deprecated since 0.1.0
_EXPORTS = Exports(__name__, globals(), moved={'is_secret_key': 'scitrera_app_framework.util.secrets',
                                               'mask_value': 'scitrera_app_framework.util.secrets'})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
