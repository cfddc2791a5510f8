"""The earlier module name of :mod:`scitrera_app_framework.base_plugins.progress_tracker`.

Every name here is the same object as in ``progress_tracker`` (the module that defines them, as in the
original package); new code should import from ``progress_tracker``.
"""

from __future__ import annotations

from .progress_tracker import ProgressCallback, ProgressTracker, ProgressTrackerPlugin

__all__ = ['ProgressCallback', 'ProgressTracker', 'ProgressTrackerPlugin']
