"""Probes on the app itself: ``/livez`` ``/readyz`` ``/healthz`` ``/metrics``, the semantics of the
``SAF_HEALTH_PORT`` endpoint.

One table of routes (:data:`PROBE_ROUTES`) serves the ASGI app (:func:`probes`, also answered by
:class:`~._middleware.RequestContextMiddleware` with ``probes=True``) and the WSGI wrapper (:func:`wsgi_probes`);
:func:`add_probe` adds a route (a ``/metrics`` endpoint, say) to all of them with one function.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Union

from ..api.variables import Variables
from ..core.context import get_app_context
from ..core.defaults import get_variables
from ..core.health import health, is_ready

#: what a probe returns: (status, body) with a dict body sent as JSON, or (status, body, content type) with a str
#: or bytes body sent as it is
ProbeResult = Union[tuple[int, Any], tuple[int, Any, str]]
ProbeFn = Callable[[Variables], ProbeResult]


def _livez(v: Variables) -> ProbeResult:
    return 200, {'live': True}


def _readyz(v: Variables) -> ProbeResult:
    if is_ready(v):
        return 200, {'ready': True}
    return 503, {'ready': False, 'state': get_app_context(v).state}


def _healthz(v: Variables) -> ProbeResult:
    report = health(v)
    return (200 if report['status'] == 'ok' else 503), report


def _metrics(v: Variables) -> ProbeResult:
    """The Prometheus page of :mod:`~scitrera_app_framework.core.metrics` (404 with a how-to while metrics are
    off), the same answer as ``/metrics`` on the ``SAF_HEALTH_PORT`` server."""
    from ..core.metrics import metrics_response
    return metrics_response(v)


#: path -> probe function; :func:`add_probe` adds to it
PROBE_ROUTES: dict[str, ProbeFn] = {'/livez': _livez, '/readyz': _readyz, '/healthz': _healthz,
                                    '/metrics': _metrics}


def add_probe(path: str, fn: ProbeFn) -> None:
    """Answer ``GET``/``HEAD`` ``path`` with ``fn(v)`` on every probe app and middleware of this process.

    ``fn`` returns ``(status, dict)`` (sent as JSON) or ``(status, str | bytes, content_type)``.

    Raises:
        WebConfigError: ``path`` does not start with ``/`` or ``fn`` is not callable.
    """
    from . import WebConfigError
    if not isinstance(path, str) or not path.startswith('/') or len(path) < 2:
        raise WebConfigError(f'add_probe: path must start with "/" (e.g. "/metrics"), got {path!r}')
    if not callable(fn):
        raise WebConfigError(f'add_probe: the probe for {path} must be callable fn(v) -> (status, body), got {fn!r}')
    PROBE_ROUTES[path.rstrip('/')] = fn


def probe_response(path: str, v: Optional[Variables] = None) -> Optional[tuple[int, bytes, str]]:
    """``(status, body bytes, content type)`` for a probe path, or None when ``path`` is not a probe."""
    fn = PROBE_ROUTES.get(path.rstrip('/') or '/')
    if fn is None:
        return None
    v = get_variables(v)
    try:
        result = fn(v)
    except Exception as e:  # a probe never raises into the server: it reports
        return 500, json.dumps({'error': f'{type(e).__name__}: {e}'[:300]}).encode(), 'application/json'
    status, body = result[0], result[1]
    if isinstance(body, (str, bytes)):
        ctype = result[2] if len(result) > 2 else 'text/plain; charset=utf-8'
        return status, body.encode() if isinstance(body, str) else body, ctype
    return status, json.dumps(body, default=str, separators=(',', ':')).encode(), 'application/json'


async def send_probe(send: Any, method: str, answer: tuple[int, bytes, str]) -> None:
    """Send a probe answer over ASGI (no body for HEAD)."""
    status, body, ctype = answer
    if method not in ('GET', 'HEAD'):
        status, body, ctype = 405, b'{"error":"method not allowed","allow":["GET","HEAD"]}', 'application/json'
    await send({'type': 'http.response.start', 'status': status,
                'headers': [(b'content-type', ctype.encode()), (b'content-length', str(len(body)).encode()),
                            (b'cache-control', b'no-store')]})
    await send({'type': 'http.response.body', 'body': b'' if method == 'HEAD' else body})


def probes(v: Optional[Variables] = None) -> Callable[..., Any]:
    """An ASGI app answering the probe routes for ``v``'s app (default: the app's ``state.v``, else the default
    ``Variables``), 404 for any other path. Mount it (``app.mount('/', probes())`` after your routes, or at a
    prefix) or route to it."""

    async def probe_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] == 'lifespan':  # mounted as a whole app: nothing to start
            while True:
                message = await receive()
                if message['type'] == 'lifespan.startup':
                    await send({'type': 'lifespan.startup.complete'})
                elif message['type'] == 'lifespan.shutdown':
                    await send({'type': 'lifespan.shutdown.complete'})
                    return
        if scope['type'] != 'http':
            return
        path = scope.get('path', '/')
        root = scope.get('root_path', '')
        if root and path.startswith(root):
            path = path[len(root):] or '/'
        answer = probe_response(path, v if v is not None else _scope_v(scope))
        if answer is None:
            answer = (404, json.dumps({'error': 'not found', 'routes': sorted(PROBE_ROUTES)}).encode(),
                      'application/json')
        await send_probe(send, scope.get('method', 'GET'), answer)

    return probe_app


def _scope_v(scope: dict[str, Any]) -> Optional[Variables]:
    app = scope.get('app')
    state = getattr(app, 'state', None)
    v = getattr(state, 'v', None)
    return v if isinstance(v, Variables) else None


def wsgi_probes(wsgi_app: Callable[..., Any], v: Optional[Variables] = None) -> Callable[..., Any]:
    """Wrap a WSGI app so that it answers the probe routes (for gunicorn's sync and gthread workers)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        answer = probe_response(environ.get('PATH_INFO', '/') or '/', v)
        if answer is None:
            return wsgi_app(environ, start_response)
        status, body, ctype = answer
        method = environ.get('REQUEST_METHOD', 'GET')
        reason = {200: 'OK', 503: 'Service Unavailable', 500: 'Internal Server Error'}.get(status, 'Probe')
        start_response(f'{status} {reason}', [('Content-Type', ctype), ('Content-Length', str(len(body))),
                                              ('Cache-Control', 'no-store')])
        return [b''] if method == 'HEAD' else [body]

    return app


__all__ = ['PROBE_ROUTES', 'ProbeFn', 'ProbeResult', 'add_probe', 'probe_response', 'send_probe', 'probes',
           'wsgi_probes']
