"""A small HTTP service on the standard library, with Kubernetes-style probes and a clean SIGTERM stop.

``GET /hello`` is served on ``HTTP_HOST:HTTP_PORT`` (default ``127.0.0.1:8080``; port 0 picks a free one; use
``HTTP_HOST=0.0.0.0`` in a container). ``SAF_HEALTH_PORT`` turns on the probe endpoint (``/livez``, ``/readyz``,
``/healthz``) on its own port. SIGTERM (or Ctrl-C) makes ``/readyz`` answer 503 at once, keeps serving for
``SAF_SHUTDOWN_DRAIN_SECONDS``, then unwinds ``serve_forever()``, closes the socket, runs the shutdown hooks and
exits (0 after SIGTERM, 130 after Ctrl-C)::

    HTTP_PORT=8080 SAF_HEALTH_PORT=8081 python examples/http_service.py
    curl localhost:8080/hello; curl -i localhost:8081/readyz
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scitrera_app_framework import get_logger, init_framework, register_shutdown_function


class HelloHandler(BaseHTTPRequestHandler):
    """Answers ``GET /hello`` with a JSON greeting; anything else is a 404."""

    def do_GET(self) -> None:
        if self.path.split('?', 1)[0] != '/hello':
            self.send_error(404, 'try /hello')
            return
        body = json.dumps({'hello': 'world'}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        get_logger(name='access').debug(format, *args)  # the framework's logging instead of raw stderr lines


def on_shutdown(logger: logging.Logger) -> None:
    logger.info('http-service stopped: shutdown hook ran')


def main() -> int:
    v = init_framework('http-service')  # starts the probe endpoint when SAF_HEALTH_PORT is set
    logger = get_logger(v)
    register_shutdown_function(on_shutdown, logger)

    host = v.environ('HTTP_HOST', default='127.0.0.1')
    port = v.environ('HTTP_PORT', default=8080, type_fn=int)
    with ThreadingHTTPServer((host, port), HelloHandler) as server:
        logger.info('serving http://%s:%d/hello', *server.server_address[:2])
        server.serve_forever()  # SIGTERM unwinds it; leaving the ``with`` closes the socket
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
