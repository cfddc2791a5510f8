"""The probe endpoint's HTTP server (:mod:`http.server`): the request handler and the server classes.

Imported by :func:`~.health.start_health_server` when a server starts (so ``http.server`` is imported only then).
The server answers each probe path with ``route(variables, path)`` (:mod:`.health` sets both), and ``/metrics``
with :func:`~.metrics.metrics_response`.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from ..api.variables import Variables
from ..util.secrets import mask_text

_log = logging.getLogger('saf.health')
_REQUEST_TIMEOUT = 5.0  # seconds: a stalled client cannot hold a handler thread for longer
_CONNECTION_DEADLINE = 10.0  # seconds: nor can a client that trickles its request (see ProbeServer)


def _peer(conn: socket.socket) -> str:
    try:
        return str(conn.getpeername())
    except OSError:
        return '?'


class ProbeHandler(BaseHTTPRequestHandler):
    """Answers the probe paths with JSON (``server.route``) and ``/metrics`` with the Prometheus page; every other
    method gets a JSON 405, a malformed request a JSON error; nothing is written to stderr."""

    server_version = 'saf-health'
    timeout = _REQUEST_TIMEOUT
    server: ProbeServer

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._probe(body=True)

    def do_HEAD(self) -> None:
        self._probe(body=False)

    def _method_not_allowed(self) -> None:
        self._send(405, {'error': f'method {self.command} not allowed', 'allow': ['GET', 'HEAD']},
                   body=True, extra={'Allow': 'GET, HEAD'})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed

    def _probe(self, body: bool) -> None:
        if self.path.split('?', 1)[0].rstrip('/') == '/metrics':  # Prometheus (core.metrics)
            self._metrics(body)
            return
        try:
            code, payload = self.server.route(self.server.variables, self.path)
        except Exception as e:  # never raise into the server thread: report it
            _log.debug('health probe %s failed', self.path, exc_info=True)
            code, payload = 500, {'error': mask_text(f'{type(e).__name__}: {e}')}
        self._send(code, payload, body)

    def _metrics(self, body: bool) -> None:
        from .metrics import metrics_response
        try:
            code, data, ctype = metrics_response(self.server.variables)
        except Exception as e:
            _log.debug('metrics scrape failed', exc_info=True)
            code, ctype = 500, 'text/plain; charset=utf-8'
            data = f'metrics failed: {mask_text(f"{type(e).__name__}: {e}")}\n'.encode()
        try:
            self.send_response(code)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(data)))
            self.send_header('Cache-Control', 'no-store')
            self.end_headers()
            if body:
                self.wfile.write(data)
        except OSError as e:  # the client went away
            _log.debug('metrics scrape: client gone: %s', e)

    def _send(self, code: int, payload: dict[str, Any], body: bool,
              extra: Optional[dict[str, str]] = None) -> None:
        try:
            data = json.dumps(payload, default=str, separators=(',', ':')).encode('utf-8')
        except Exception as e:
            code, data = 500, json.dumps({'error': f'cannot encode the report: {type(e).__name__}'}).encode()
        try:
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.send_header('Cache-Control', 'no-store')
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(data)
        except OSError as e:  # the client went away
            _log.debug('health probe %s: client gone: %s', getattr(self, 'path', '?'), e)

    def send_error(self, code: int, message: Optional[str] = None, explain: Optional[str] = None) -> None:
        # malformed requests and unsupported methods get JSON too (the stdlib sends HTML)
        self.close_connection = True
        reason = message or self.responses.get(code, ('error',))[0]
        self._send(code, {'error': reason}, body=self.command != 'HEAD')

    def log_message(self, format: str, *args: Any) -> None:
        # the stdlib writes one stderr line per request: log at DEBUG instead
        _log.debug('health probe from %s: %s', self.client_address[0], format % args)


class ProbeServer(ThreadingHTTPServer):
    """The IPv4 probe server: daemon handler threads, no FQDN lookup at bind, failures logged at DEBUG; ``variables``
    (the app), ``route`` (path -> status and JSON body) and ``thread`` (the serving thread) are set by
    :func:`~.health.start_health_server`.

    Each connection lives at most ``connection_deadline`` seconds: a probe is answered at once, and a client that
    trickles its request (a byte every few seconds never trips the per-read timeout) would hold its thread forever;
    the serving loop shuts such connections down (each connection has its own thread, so slow clients never delay
    the other probes)."""

    daemon_threads = True
    block_on_close = False
    connection_deadline = _CONNECTION_DEADLINE
    reuse_port = False  # SO_REUSEPORT (set before the bind)
    variables: Variables
    route: Callable[[Variables, str], tuple[int, dict[str, Any]]]
    thread: Optional[threading.Thread] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: dict[socket.socket, float] = {}  # connection -> when it must be over (monotonic)
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[request] = time.monotonic() + self.connection_deadline
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def service_actions(self) -> None:
        # called by serve_forever at every poll interval: cut the connections past their deadline
        super().service_actions()
        now = time.monotonic()
        with self._open_lock:
            late = [conn for conn, until in self._open.items() if until <= now]
            for conn in late:
                del self._open[conn]
        for conn in late:
            _log.debug('health probe connection %s cut after %gs (a slow client)', _peer(conn),
                       self.connection_deadline)
            try:
                conn.shutdown(socket.SHUT_RDWR)  # the handler's read ends; its thread closes the socket
            except OSError:
                pass

    def server_bind(self) -> None:
        if self.reuse_port:  # SAF_HEALTH_REUSE_PORT: the app's other processes bind the same port
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on DNS; not needed here
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # the stdlib prints a traceback to stderr; a probe failure is not worth that
        _log.debug('health probe from %s failed', client_address, exc_info=True)


class ProbeServer6(ProbeServer):
    """The probe server on an IPv6 address."""

    address_family = socket.AF_INET6


__all__ = ['ProbeHandler', 'ProbeServer', 'ProbeServer6']
