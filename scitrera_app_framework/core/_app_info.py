"""What ``init_framework`` recorded about an app, for the app to read: :func:`get_app_params` (its resolved
parameters) and :func:`log_framework_variables` (every variable in one record, secrets masked). :mod:`.core`
re-exports both.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Optional

from ..api.variables import Variables
from ..util.secrets import mask_value
from .context import get_app_context
from .defaults import get_variables
from .logs import get_logger


def get_app_params(v: Optional[Variables] = None) -> dict[str, Any]:
    """Return the resolved app parameters given to ``init_framework`` (after environment overrides)."""
    return dict(get_app_context(v).params)


def log_framework_variables(v: Optional[Variables] = None, prefixes: Iterable[str] = (),
                            exclude_prefixes: Iterable[str] = (), log_module_versions: bool = False,
                            logger: Optional[logging.Logger] = None, level: int = logging.INFO) -> dict[str, Any]:
    """Log every known variable in one record, ``framework variables: NAME='value', ...``, secrets masked; return
    the masked mapping.

    ``prefixes``: only names starting with one of them (case-insensitive; all when empty); ``exclude_prefixes``:
    leave those out. ``log_module_versions``: a second record with Python's version and the versions of the
    imported top-level packages that declare one. Logged at INFO (``level``) on the app logger (``logger``).
    """
    v = get_variables(v)
    logger = logger or get_logger(v)
    inc = tuple(str(p).lower() for p in ([prefixes] if isinstance(prefixes, str) else prefixes))
    exc = tuple(str(p).lower() for p in ([exclude_prefixes] if isinstance(exclude_prefixes, str)
                                         else exclude_prefixes))
    values = {k: mask_value(k, val) for k, val in sorted(_safe_export(v).items())
              if (not inc or k.lower().startswith(inc)) and not (exc and k.lower().startswith(exc))}
    logger.log(level, 'framework variables: %s', ', '.join(f'{k}={val!r}' for k, val in values.items()))
    if log_module_versions:
        logger.log(level, 'module versions: %s', ', '.join(f'{n}=={ver}' for n, ver in _module_versions()))
    return values


def _module_versions() -> list[tuple[str, str]]:
    import platform
    import sys

    from .._version import __version__
    out = [('python', platform.python_version()), ('scitrera-app-framework', __version__)]
    import warnings
    for name, mod in sorted(sys.modules.items()):
        if '.' in name or name.startswith('_') or mod is None:
            continue
        with warnings.catch_warnings():  # some packages deprecate __version__ (click, markupsafe)
            warnings.simplefilter('ignore')
            ver = getattr(mod, '__version__', None)
        if isinstance(ver, str) and name != 'scitrera_app_framework':
            out.append((name, ver))
    return out


def _safe_export(v: Variables) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in v.keys():
        if isinstance(k, str) and not k.startswith('=|'):
            try:
                out[k] = v.get(k)
            except ValueError as e:
                out[k] = f'<invalid: {e}>'
    return out


__all__ = ['get_app_params', 'log_framework_variables']
