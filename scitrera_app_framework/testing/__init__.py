"""Test support: :func:`reset_framework` and a pytest plugin (fixture ``saf``) registered via ``pytest11``.

``reset_framework()`` returns the process to its pre-init state: it stops the default ``Variables``' probe
endpoint, shuts down its plugins, forgets the default ``Variables``, removes the framework's log handler from
the root logger, forgets every shutdown hook and app, restores the signal handlers it replaced, stops the
shutdown watchdog, forgets the extra secret-name patterns (``SAF_SECRET_KEYS``) and changes back to the working
directory the framework left.
"""

from __future__ import annotations

import os

from ..core import core as _core
from ..core.defaults import peek_default_variables, set_default_variables
from ..core.health import stop_health_server
from ..core.logs import remove_framework_handler
from ..core.plugins import shutdown_all_plugins
from ..core.shutdown import get_shutdown_manager
from ..util.secrets import reset_secret_patterns


def reset_framework(shutdown_plugins: bool = True) -> None:
    """Undo everything ``init_framework`` did to the process (see the module docstring)."""
    v = peek_default_variables()
    if v is not None:
        stop_health_server(v)
        if shutdown_plugins:
            shutdown_all_plugins(v)
    set_default_variables(None)
    remove_framework_handler()
    get_shutdown_manager().reset()
    reset_secret_patterns()
    if _core._original_cwd is not None:
        os.chdir(_core._original_cwd)
        _core._original_cwd = None


__all__ = ['reset_framework']
