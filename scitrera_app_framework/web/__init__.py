"""Services on real web servers: uvicorn (``serve``), any ASGI server (``lifespan``), gunicorn (``gunicorn_conf``).

Everything here keeps the framework's lifecycle promises (see the README, "Web services"): readiness turns true
once the server listens and the app's start-up completed; at SIGTERM/SIGINT readiness turns false at once, the
server keeps serving through ``SAF_SHUTDOWN_DRAIN_SECONDS``, then stops accepting and finishes the requests in
flight, then the app's lifespan shutdown, the intake phase (the app's stoppers, then the background executor's),
plugin shutdown, the shutdown hooks and the line ``stopped (exit N) in X s``; the exit code is the README's table's.

- :func:`serve` runs uvicorn with the framework owning the signals.
- :func:`lifespan` is an ASGI lifespan for ``FastAPI(lifespan=lifespan)`` / ``Starlette(lifespan=lifespan)``:
  use it as it is, or call it with options (``lifespan(v=v)``, ``lifespan(app_name='svc', setup=fn)``) to get
  one. Under uvicorn (its CLI, ``uvicorn.Server.serve`` in your own asyncio main, gunicorn's uvicorn worker) it
  takes SIGTERM/SIGINT over from the server so the drain happens before the listener closes.
- :class:`RequestContextMiddleware`: a request id in the log context of every record of the request.
- :func:`probes`: an ASGI app answering ``/livez`` ``/readyz`` ``/healthz`` (mount it, or let the middleware answer
  them); :func:`wsgi_probes` wraps a WSGI app the same way; :func:`add_probe` adds a route.
- FastAPI dependencies: :func:`app_variables`, :func:`app_logger`, :func:`extension`.
- ``gunicorn -c python:scitrera_app_framework.web.gunicorn_conf``: per-worker init for sync, gthread and uvicorn
  workers.

uvicorn and Starlette are imported only when one of these is used (``import scitrera_app_framework`` never
imports them). The extra ``web`` installs uvicorn; Starlette/FastAPI are used where the app brings them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exports import Exports
from ..exceptions import SAFError


class WebConfigError(SAFError, ValueError):
    """A web setting or call cannot work (names the setting or argument, the value and what to use instead)."""


_EXPORTS = Exports(__name__, globals(), lazy={
    'serve': '._serve', 'find_uvicorn_server': '._serve', 'take_signals_from_uvicorn': '._serve',
    'route_uvicorn_logs': '._serve',
    'lifespan': '._lifespan',
    'RequestContextMiddleware': '._middleware', 'current_request_id': '._middleware',
    'probes': '._probes', 'wsgi_probes': '._probes', 'add_probe': '._probes', 'probe_response': '._probes',
    'PROBE_ROUTES': '._probes',
    'app_variables': '._deps', 'app_logger': '._deps', 'extension': '._deps',
})

__all__ = ['WebConfigError', 'PROBE_ROUTES', 'RequestContextMiddleware', 'add_probe', 'app_logger', 'app_variables',
           'current_request_id', 'extension', 'find_uvicorn_server', 'lifespan', 'probe_response', 'probes',
           'route_uvicorn_logs', 'serve', 'take_signals_from_uvicorn', 'wsgi_probes']


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()


if TYPE_CHECKING:  # pragma: no cover
    from ._deps import app_logger, app_variables, extension
    from ._lifespan import lifespan
    from ._middleware import RequestContextMiddleware, current_request_id
    from ._probes import PROBE_ROUTES, add_probe, probe_response, probes, wsgi_probes
    from ._serve import find_uvicorn_server, route_uvicorn_logs, serve, take_signals_from_uvicorn
