"""``reset_framework``: the implementation behind :mod:`scitrera_app_framework.testing`."""

from __future__ import annotations

from ..core.core import restore_working_directory
from ..core.defaults import peek_default_variables, set_default_variables
from ..core.health import stop_health_server
from ..core.logs import remove_framework_handler
from ..core.metrics import disable_metrics
from ..core.plugins import shutdown_all_plugins
from ..core.shutdown import get_shutdown_manager
from ..core.util import stop_watching
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
    disable_metrics()
    get_shutdown_manager().reset()
    reset_secret_patterns()
    stop_watching()
    restore_working_directory()
