"""The earlier module name of :mod:`scitrera_app_framework.base_plugins.progress_tracker` (deprecated since 0.1.0).

Importing ``ProgressTracker``, ``ProgressTrackerPlugin`` or ``ProgressCallback`` from here still works until 0.3.0,
with a DeprecationWarning: import them from ``progress_tracker`` (the module that defines them, as in the
original package).
"""

from __future__ import annotations

from .._exports import Exports

__all__: list[str] = []

_EXPORTS = Exports(__name__, globals(), moved=dict.fromkeys(
    ['ProgressCallback', 'ProgressTracker', 'ProgressTrackerPlugin'],
    'scitrera_app_framework.base_plugins.progress_tracker'))


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
