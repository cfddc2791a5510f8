"""slaunch's loggers: one name for every module, ``logging`` imported only when something is logged.

``scitrera_app_framework.slaunch`` carries what slaunch decides (warnings about fallbacks, what it installs);
its child ``scitrera_app_framework.slaunch.progress`` carries the progress lines of long steps (the CLI shows
them by default when stderr is not a terminal; on a terminal it draws a bar instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

LOGGER_NAME = 'scitrera_app_framework.slaunch'
PROGRESS_LOGGER_NAME = LOGGER_NAME + '.progress'


def logger() -> logging.Logger:
    """Return the ``scitrera_app_framework.slaunch`` logger (importing :mod:`logging` on first use)."""
    import logging

    return logging.getLogger(LOGGER_NAME)


def progress_logger() -> logging.Logger:
    """Return the ``scitrera_app_framework.slaunch.progress`` logger."""
    import logging

    return logging.getLogger(PROGRESS_LOGGER_NAME)
