"""Readiness and health: :func:`is_ready`, :func:`set_ready`, the :func:`health` report and an HTTP probe endpoint.

Readiness follows the app's lifecycle (``AppContext.state``): an app is ready only while it is ``running`` and
has not marked itself unready with :func:`set_ready`; it is not ready during ``init_framework`` and stops being
ready as soon as shutdown starts.

The probe endpoint is a standard-library ``ThreadingHTTPServer`` running in a daemon thread, one per app (kept
on ``AppContext.health_server``). It answers ``GET``/``HEAD`` with JSON:

* ``/livez``: always 200 ``{"live": true}`` while the process answers;
* ``/readyz``: 200 ``{"ready": true}``, else 503 ``{"ready": false, "state": ...}``;
* ``/healthz``: the :func:`health` report, 200 when its status is ``ok``, else 503;
* ``/metrics``: the Prometheus text page (:func:`~.metrics.render_metrics`) while metrics are on
  (``SAF_METRICS_ENABLED``), else 404 with a line saying how to switch them on;
* anything else: 404.

:func:`start_health_server_from_env` starts it when ``SAF_HEALTH_PORT`` is set (``0``: an ephemeral port),
bound to ``SAF_HEALTH_HOST`` (default ``127.0.0.1``); with ``SAF_HEALTH_REUSE_PORT=true`` it binds with SO_REUSEPORT
so that several processes of one app (gunicorn workers) share the port. ``http.server`` is imported only when a
server starts.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import threading
from typing import TYPE_CHECKING, Any, Optional

from ..api.variables import Variables
from ..util.parsing import parse_bool_strict
from ..util.secrets import mask_text
from .context import RUNNING, STOPPED, STOPPING, get_app_context
from .defaults import get_variables

if TYPE_CHECKING:  # pragma: no cover
    from http.server import ThreadingHTTPServer

HEALTH_PORT_VAR = 'SAF_HEALTH_PORT'
HEALTH_HOST_VAR = 'SAF_HEALTH_HOST'
DEFAULT_HEALTH_HOST = '127.0.0.1'
_REUSE_PORT_VAR = 'SAF_HEALTH_REUSE_PORT'  # several processes of one app (gunicorn workers) bind the one port
ROUTES = ('/livez', '/readyz', '/healthz')

_log = logging.getLogger('saf.health')
_PORT_RE = re.compile(r'[0-9]{1,5}')
_ADDR_IN_USE = frozenset({errno.EADDRINUSE, 10048})  # 10048: WSAEADDRINUSE (Windows)
_POLL_INTERVAL = 0.1  # seconds: how quickly stop_health_server takes effect


# --- readiness ---------------------------------------------------------------------------------------------
def is_ready(v: Optional[Variables] = None) -> bool:
    """Return True when the app of ``v`` (default ``Variables`` when None) is running and marked ready.

    False before and during ``init_framework`` (state ``created``/``starting``), after :func:`set_ready`
    ``(False)``, and from the moment shutdown starts (state ``stopping``/``stopped``).
    """
    ctx = get_app_context(v)
    return ctx.state == RUNNING and bool(ctx.ready)


def set_ready(ready: bool, v: Optional[Variables] = None) -> None:
    """Mark the app of ``v`` ready or not (e.g. unready while warming a cache); returns None.

    Readiness also requires the app to be running: ``set_ready(True)`` does not make a starting or stopping
    app ready.
    """
    ctx = get_app_context(v)
    ready = bool(ready)
    if ctx.ready != ready:
        ctx.ready = ready
        _log.debug('app %s marked %s', ctx.app_name or '?', 'ready' if ready else 'not ready')


# --- the report --------------------------------------------------------------------------------------------
def mask_error_text(text: Any) -> Optional[str]:
    """Return ``text`` as a string with credentials masked (URL passwords, ``password=...`` pairs); None stays.

    Used for every error text the health report and the probe endpoint show.
    """
    return None if text is None else mask_text(text)


def health(v: Optional[Variables] = None) -> dict[str, Any]:
    """Return a JSON-serializable health report of the app of ``v`` (default ``Variables`` when None).

    Keys: ``status`` (``ok`` | ``starting`` | ``stopping`` | ``stopped`` | ``failing``), ``ready``
    (:func:`is_ready`), ``live`` (True), ``app``, ``state``, ``shutting_down``, ``plugins`` (one dict per
    plugin: ``name``, ``extension_point``, ``state``, ``error``) and ``failures`` (``{'where', 'error'}``
    dicts). Error texts have credentials masked.

    The status is ``stopping``/``stopped`` once shutdown has started; otherwise ``failing`` when a plugin
    failed to initialize, or when the app is running and failures were recorded; otherwise ``ok`` while
    running and ``starting`` before.
    """
    from .plugins import describe_plugins  # at call time: core.plugins may import this module

    v = get_variables(v)
    ctx = get_app_context(v)
    state = ctx.state
    with ctx.lock:
        recorded = list(ctx.failures)
    plugins = [{'name': str(p['name']), 'extension_point': str(p['extension_point']), 'state': str(p['state']),
                'error': mask_error_text(p['error'])} for p in describe_plugins(v)]
    failures = [{'where': str(where), 'error': mask_error_text(error)} for where, error in recorded]
    if state == STOPPING:
        status = 'stopping'
    elif state == STOPPED:
        status = 'stopped'
    elif any(p['state'] == 'failed' for p in plugins) or (state == RUNNING and failures):
        status = 'failing'
    elif state == RUNNING:
        status = 'ok'
    else:
        status = 'starting'
    return {
        'status': status,
        'ready': state == RUNNING and bool(ctx.ready),
        'live': True,
        'app': ctx.app_name or _str_or_none(v.get('APP_NAME')),
        'state': state,
        'shutting_down': state in (STOPPING, STOPPED),
        'plugins': plugins,
        'failures': failures,
    }


def _str_or_none(value: Any) -> Optional[str]:
    return None if value in (None, '') else str(value)


def _route(v: Variables, path: str) -> tuple[int, dict[str, Any]]:
    """Return (HTTP status, JSON body) for a probe path."""
    path = path.split('?', 1)[0].split('#', 1)[0].rstrip('/') or '/'
    if path == '/livez':
        return 200, {'live': True}
    if path == '/readyz':
        if is_ready(v):
            return 200, {'ready': True}
        return 503, {'ready': False, 'state': get_app_context(v).state}
    if path == '/healthz':
        report = health(v)
        return (200 if report['status'] == 'ok' else 503), report
    return 404, {'error': 'not found', 'path': path[:200], 'routes': list(_served_routes())}


def _served_routes() -> tuple[str, ...]:
    """The probe server's routes: :data:`ROUTES`, and ``/metrics`` while metrics are on (``SAF_METRICS_ENABLED``)."""
    from .metrics import metrics_enabled  # at call time: the metrics module is imported only when asked
    return (*ROUTES, '/metrics') if metrics_enabled() else ROUTES


# --- the probe server (its classes: ._probe_server) ------------------------------------------------------
def _validate_port(value: Any, source: str) -> int:
    """Return ``value`` as a TCP port number (0..65535); raises ValueError naming ``source`` and the value."""
    if isinstance(value, int) and not isinstance(value, bool):
        port: Optional[int] = value
    elif isinstance(value, str) and _PORT_RE.fullmatch(value.strip()):
        port = int(value.strip())
    else:
        port = None
    if port is None or not 0 <= port <= 65535:
        raise ValueError(f'{source}={value!r} is not a TCP port: use an integer from 1 to 65535, 0 for an '
                         f'ephemeral port, or leave {HEALTH_PORT_VAR} unset to disable the health endpoint')
    return port


def _server_address(server: Any) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def _start(v: Optional[Variables], host: Optional[str], port: Optional[int]) -> tuple[tuple[str, int], bool]:
    """Start the probe server of ``v`` unless one runs; returns (bound address, whether it was started now)."""
    v = get_variables(v)
    ctx = get_app_context(v)
    with ctx.lock:
        if ctx.health_server is not None:
            return _server_address(ctx.health_server), False
        if host is None:
            host = str(v.environ(HEALTH_HOST_VAR, default=DEFAULT_HEALTH_HOST) or DEFAULT_HEALTH_HOST).strip()
        if port is None:
            raw = v.environ(HEALTH_PORT_VAR, default=None)
            port = 0 if raw in (None, '') or str(raw).strip() == '' else _validate_port(raw, HEALTH_PORT_VAR)
        else:
            port = _validate_port(port, 'port')
        reuse = _reuse_port(v)
        from ._probe_server import ProbeHandler, ProbeServer, ProbeServer6  # http.server: only when one starts
        cls = ProbeServer6 if ':' in host else ProbeServer
        try:
            server = cls((host, port), ProbeHandler, bind_and_activate=False)
            try:
                server.reuse_port = reuse
                server.server_bind()
                server.server_activate()
            except BaseException:
                server.server_close()
                raise
        except OSError as e:
            why = e.strerror or str(e)
            hint = ('another process listens there: choose a free port, or 0 for an ephemeral one; several '
                    f'processes of one app (gunicorn workers) share it with {_REUSE_PORT_VAR}=true'
                    if getattr(e, 'errno', None) in _ADDR_IN_USE and not reuse else
                    'another process listens there: choose a free port, or 0 for an ephemeral one'
                    if getattr(e, 'errno', None) in _ADDR_IN_USE else
                    f'check {HEALTH_HOST_VAR} (an address of this host) and {HEALTH_PORT_VAR} '
                    f'(ports below 1024 need privileges)')
            raise OSError(e.errno, f'cannot start the health endpoint on {host}:{port} '
                                   f'({HEALTH_HOST_VAR}={host!r}, {HEALTH_PORT_VAR}={port}): {why}; {hint}') from e
        server.variables = v
        server.route = _route
        bound = _server_address(server)
        thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': _POLL_INTERVAL},
                                  name=f'saf-health:{bound[1]}', daemon=True)
        server.thread = thread
        try:
            thread.start()
        except BaseException:
            server.server_close()
            raise
        ctx.health_server = server
    _log.debug('health endpoint started on %s:%d', *bound)
    return bound, True


def _reuse_port(v: Variables) -> bool:
    """``SAF_HEALTH_REUSE_PORT``: bind with SO_REUSEPORT (each process of the app answers on the one port)."""
    raw = v.environ(_REUSE_PORT_VAR, default=None)
    try:
        reuse = parse_bool_strict(raw)
    except ValueError:
        raise ValueError(f'{_REUSE_PORT_VAR}={raw!r} is not a boolean: use true (several processes of one app, '
                         f'such as gunicorn workers, bind {HEALTH_PORT_VAR} together) or false') from None
    if reuse and not hasattr(socket, 'SO_REUSEPORT'):
        raise ValueError(f'{_REUSE_PORT_VAR}=true: this platform has no SO_REUSEPORT; unset it and give each '
                         f'process its own {HEALTH_PORT_VAR}')
    return reuse


def start_health_server(v: Optional[Variables] = None, host: Optional[str] = None,
                        port: Optional[int] = None) -> tuple[str, int]:
    """Start the probe endpoint of the app of ``v`` in a daemon thread; returns the bound ``(host, port)``.

    ``host`` defaults to ``SAF_HEALTH_HOST``, else ``127.0.0.1``; ``port`` to ``SAF_HEALTH_PORT``, else 0;
    port 0 binds an ephemeral port (the returned address has the real one). When the app's server already
    runs, returns its address and starts nothing. The server is kept on ``AppContext.health_server``.

    Raises:
        ValueError: the port is not an integer from 0 to 65535 (names the variable and the value).
        OSError: the address cannot be bound (port in use, unknown host, no privilege); names host and port.
    """
    return _start(v, host, port)[0]


def start_health_server_from_env(v: Optional[Variables], logger: Optional[logging.Logger] = None
                                 ) -> Optional[tuple[str, int]]:
    """Start the probe endpoint when ``SAF_HEALTH_PORT`` is set; returns the bound ``(host, port)`` or None.

    Does nothing (returns None) when ``SAF_HEALTH_PORT`` is unset or empty. Binds ``SAF_HEALTH_HOST`` (default
    ``127.0.0.1``) and logs one INFO line ``health endpoint listening on http://HOST:PORT (/livez /readyz
    /healthz)`` (and ``/metrics`` while metrics are on) to ``logger`` (default ``saf.health``). Idempotent: when
    the server already runs, returns its address without logging again.

    Raises:
        ValueError: ``SAF_HEALTH_PORT`` is not an integer from 0 to 65535.
        OSError: the port is in use or the host cannot be bound (the message names both variables).
    """
    v = get_variables(v)
    raw = v.environ(HEALTH_PORT_VAR, default=None)
    if raw is None or str(raw).strip() == '':
        return None
    port = _validate_port(raw, HEALTH_PORT_VAR)
    address, started = _start(v, None, port)
    if started:
        host, bound = address
        shown = f'[{host}]' if ':' in host else host
        (logger or _log).info('health endpoint listening on http://%s:%d (%s)', shown, bound,
                              ' '.join(_served_routes()))
    return address


def health_server_address(v: Optional[Variables] = None) -> Optional[tuple[str, int]]:
    """Return the ``(host, port)`` the probe endpoint of ``v`` listens on, or None when none runs."""
    server = get_app_context(v).health_server
    return _server_address(server) if server is not None else None


def stop_health_server(v: Optional[Variables] = None, timeout: float = 5.0) -> None:
    """Stop the probe endpoint of the app of ``v`` and free its port; returns None (no-op when none runs).

    Waits up to ``timeout`` seconds for the server thread to end. Safe to call from any thread.
    """
    ctx = get_app_context(v)
    with ctx.lock:
        server: Optional[ThreadingHTTPServer] = ctx.health_server
        ctx.health_server = None
    if server is None:
        return
    thread: Optional[threading.Thread] = getattr(server, 'thread', None)
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        server.shutdown()  # returns once serve_forever has left its loop (within the poll interval)
        thread.join(timeout)
    server.server_close()
    _log.debug('health endpoint stopped')


__all__ = ['is_ready', 'set_ready', 'health', 'mask_error_text', 'start_health_server',
           'start_health_server_from_env', 'stop_health_server', 'health_server_address', 'HEALTH_PORT_VAR',
           'HEALTH_HOST_VAR', 'DEFAULT_HEALTH_HOST']
