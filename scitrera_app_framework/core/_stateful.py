"""The stateful directory: ``init_framework``'s per-run working directory and the getters that find it.

``init_framework`` calls :func:`setup_stateful_dir` (its stateful step); the directory is kept on the app context
(``AppContext.stateful_path``). The working directory the framework left when it changed into one is remembered for
``testing.reset_framework`` (:func:`restore_working_directory`) and for paths given relative to where the process
started (:func:`original_working_directory`). :mod:`.core` re-exports everything public here.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Optional, Union

from ..api.variables import Variables
from ..exceptions import SAFError
from ..util.misc import now_ms
from ..util.parsing import parse_bool_strict
from .context import get_app_context
from .defaults import get_variables

_original_cwd: Optional[str] = None  # the cwd before the framework first changed it (see testing.reset_framework)


class StatefulDirError(SAFError, OSError):
    """The stateful directory cannot be created; names the path and the variables that chose it."""


StatefulDirError.__module__ = 'scitrera_app_framework.core.core'  # its public home (tracebacks name it so)


def setup_stateful_dir(v: Variables, app_name: str, default_root: str, default_run_id: Optional[str],
                       default_strategy: Union[str, Callable[[], Any], None], chdir_default: bool,
                       logger: logging.Logger, root_key: str = 'STATEFUL_ROOT') -> None:
    """Create the stateful directory ``<root>/<RUN_ID>/<RUN_SERIAL>/<app name>`` (the parts that are set) under
    the root ``root_key`` names (default ``default_root``; nothing when it does not exist) and change into it
    (``SAF_STATEFUL_CHDIR``, default ``chdir_default``).

    Raises:
        ValueError: ``SAF_STATEFUL_SERIAL_STRATEGY`` is not a known strategy.
        StatefulDirError: the directory would be outside the root, or cannot be created.
    """
    global _original_cwd
    root_key = str(root_key or 'STATEFUL_ROOT')
    root = v.environ(root_key, default=default_root)
    if not root:
        return
    root = os.path.expanduser(str(root))
    if not os.path.isabs(root):
        root = os.path.join(_original_cwd or os.getcwd(), root)
    if not os.path.isdir(root):
        logger.debug('stateful root %s does not exist: no stateful directory', root)
        return
    run_id = v.environ('RUN_ID', default=default_run_id)
    strategy = v.environ('SAF_STATEFUL_SERIAL_STRATEGY', default=default_strategy)
    if strategy not in (None, '') and not callable(strategy) and str(strategy).strip().lower() != 'ms':
        raise ValueError(f'SAF_STATEFUL_SERIAL_STRATEGY={strategy!r} is not a known strategy; use "ms" '
                         f'(current time in milliseconds) or leave it unset')
    serial = v.get('RUN_SERIAL')
    if serial in (None, '') and strategy not in (None, ''):
        # computed once: a second init_framework on the same Variables keeps the same serial (and directory)
        serial = v.environ('RUN_SERIAL', default=strategy() if callable(strategy) else now_ms())
    parts = [str(p) for p in (run_id, serial, app_name) if p not in (None, '')]
    path = os.path.join(root, *parts)
    real_root = os.path.realpath(root)
    if parts and not os.path.realpath(path).startswith(real_root + os.sep):
        raise StatefulDirError(
            f'the stateful directory {path!r} would be outside {root_key}={root!r}: RUN_ID={run_id!r}, '
            f'RUN_SERIAL={serial!r} and APP_NAME={app_name!r} must be plain names (no "..", no absolute paths)')
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise StatefulDirError(
            f'cannot create the stateful directory {path!r} ({root_key}={root!r}, RUN_ID={run_id!r}, '
            f'RUN_SERIAL={serial!r}, APP_NAME={app_name!r}): {e}; make {root_key} writable, point it elsewhere, '
            f'or set SAF_SETUP_STATEFUL=false') from e
    get_app_context(v).stateful_path = path
    if v.environ('SAF_STATEFUL_CHDIR', default=chdir_default, type_fn=parse_bool_strict):
        if _original_cwd is None:
            _original_cwd = os.getcwd()
        os.chdir(path)
        logger.debug('working directory is now %s', path)


def restore_working_directory() -> None:
    """Change back to the working directory the framework left when it entered a stateful directory, and
    forget it (used by ``testing.reset_framework``)."""
    global _original_cwd
    if _original_cwd is not None:
        os.chdir(_original_cwd)
        _original_cwd = None


def original_working_directory() -> Optional[str]:
    """The working directory before the framework first entered a stateful directory, or None."""
    return _original_cwd


def is_stateful_ready(v: Optional[Variables] = None) -> Optional[str]:
    """Return the stateful directory ``init_framework`` set up for ``v`` (a str), or None when there is none
    (also for a stand-in ``v`` that is not a :class:`Variables`)."""
    return get_stateful_path(v)


def get_stateful_path(v: Optional[Variables] = None) -> Optional[str]:
    """Return the stateful directory set up for ``v``, or None."""
    v = get_variables(v)
    if not isinstance(v, Variables):  # a stand-in with only get(): it has no app context
        return None
    return get_app_context(v).stateful_path


def get_working_path(v: Optional[Variables] = None, default: str = '.', env_key: str = 'DATA_WORKING_PATH') -> str:
    """Return ``env_key``'s value if set, else the stateful directory, else ``default``."""
    v = get_variables(v)
    val = v.get(env_key)
    if val not in (None, ''):
        return str(val)
    return get_app_context(v).stateful_path or default


__all__ = ['StatefulDirError', 'setup_stateful_dir', 'restore_working_directory', 'original_working_directory',
           'is_stateful_ready', 'get_stateful_path', 'get_working_path']
