"""FastAPI dependencies: the app's ``Variables``, its logger and an extension point's value."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from starlette.requests import HTTPConnection
else:
    try:  # FastAPI resolves the annotations below at run time: with FastAPI, Starlette is there
        from starlette.requests import HTTPConnection
    except ImportError:  # no Starlette: importable all the same (the names are for FastAPI apps)
        HTTPConnection = Any

from ..api.variables import Variables
from ..core.defaults import get_variables
from ..core.logs import get_logger
from ..core.plugins import get_extension


def app_variables(conn: HTTPConnection) -> Variables:
    """Dependency: the app's ``Variables`` (``app.state.v``, set by the lifespan; else the default ``Variables``).

    ``def handler(v: Variables = Depends(app_variables))``.
    """
    v = getattr(conn.app.state, 'v', None)
    return v if isinstance(v, Variables) else get_variables()


def app_logger(conn: HTTPConnection) -> logging.Logger:
    """Dependency: the app's logger (``get_logger(v)`` of :func:`app_variables`)."""
    return get_logger(app_variables(conn))


def extension(name_or_type: Any) -> Callable[[HTTPConnection], Any]:
    """A dependency returning ``get_extension(name_or_type, v)`` for the app's ``Variables``:
    ``def handler(db = Depends(extension('db')))``. Errors are get_extension's (ExtensionNotFoundError, ...)."""

    def dependency(conn: HTTPConnection) -> Any:
        return get_extension(name_or_type, app_variables(conn))

    dependency.__name__ = f'extension_{getattr(name_or_type, "__name__", name_or_type)}'
    return dependency


__all__ = ['app_variables', 'app_logger', 'extension']
