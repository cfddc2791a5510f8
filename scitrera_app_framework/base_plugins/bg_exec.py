"""The background executor plugin under the module name of the original package.

``BackgroundThreadExecutorPlugin`` provides the :class:`~.background.BackgroundExecutor` at
``EXT_BACKGROUND_EXEC``; it is defined in :mod:`scitrera_app_framework.base_plugins.background` (where
``BackgroundExecPlugin`` is the same class under its earlier name). Every name here is the same object as there.
"""

from __future__ import annotations

from . import EXT_BACKGROUND_EXEC, get_background_exec
from .background import BackgroundExecutor, BackgroundThreadExecutorPlugin

__all__ = ['BackgroundThreadExecutorPlugin', 'BackgroundExecutor', 'EXT_BACKGROUND_EXEC', 'get_background_exec']
