"""slaunch's logger: one name for every module, ``logging`` imported only when something is logged."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

LOGGER_NAME = 'scitrera_app_framework.slaunch'


def logger() -> logging.Logger:
    """Return the ``scitrera_app_framework.slaunch`` logger (importing :mod:`logging` on first use)."""
    import logging

    return logging.getLogger(LOGGER_NAME)
