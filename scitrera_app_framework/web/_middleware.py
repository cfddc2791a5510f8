"""``RequestContextMiddleware``: a request id on every log record of the request (pure ASGI, no Starlette needed)."""

from __future__ import annotations

import re
import uuid
from typing import Any, Callable, Optional

from ..api.variables import Variables
from ..core.log_format import bind_log_context, current_log_context, unbind_log_context
from ._probes import probe_response, send_probe

_SAFE_ID = re.compile(r'[A-Za-z0-9._:/+=@-]{1,128}')


def current_request_id(field: str = 'request_id') -> Optional[str]:
    """The request id of the request being handled (None outside one)."""
    value = current_log_context().get(field)
    return None if value is None else str(value)


class RequestContextMiddleware:
    """Pure ASGI middleware: takes the request id from ``header`` (default ``X-Request-ID``) or generates one
    (``uuid4().hex``), echoes it on the response, and puts it (as ``field``, default ``request_id``) in the log
    context of the request, so every record of it carries the id: the app's, the server's access line and the
    server's "Exception in ASGI application" line (the id stays bound when the app raises; each request runs in its
    own task). An incoming id that is not 1-128 characters of ``A-Za-z0-9._:/+=@-`` is replaced by a generated one
    (a client cannot write arbitrary text into the log).

    With ``probes=True`` (the default) it also answers the probe routes (``/livez`` ``/readyz`` ``/healthz``, also
    behind a ``root_path`` prefix, see
    :func:`~scitrera_app_framework.web.probes`) before the app sees them, for ``v``'s app (default: the app's
    ``state.v`` set by :func:`~scitrera_app_framework.web.lifespan`, else the default ``Variables``).

    Add it last (``app.add_middleware(RequestContextMiddleware)``) so it is the outermost of your middlewares.
    """

    def __init__(self, app: Callable[..., Any], header: str = 'X-Request-ID', *, field: str = 'request_id',
                 probes: bool = True, v: Optional[Variables] = None,
                 generate: Optional[Callable[[], str]] = None) -> None:
        from . import WebConfigError
        if not isinstance(header, str) or not header.strip():
            raise WebConfigError(f'RequestContextMiddleware: header must be a header name such as "X-Request-ID", '
                                 f'got {header!r}')
        self.app = app
        self.header = header.strip()
        self._header_key = self.header.lower().encode('latin-1')
        self.field = field
        self.probes = probes
        self.v = v
        self._generate = generate or (lambda: uuid.uuid4().hex)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope['type']
        if kind != 'http' and kind != 'websocket':
            await self.app(scope, receive, send)
            return
        if self.probes and kind == 'http':
            path = scope.get('path', '/')
            root = scope.get('root_path', '')
            if root and path.startswith(root):  # behind a prefix (uvicorn --root-path): the path includes it
                path = path[len(root):] or '/'
            answer = probe_response(path, self.v if self.v is not None else _scope_v(scope))
            if answer is not None:
                await send_probe(send, scope.get('method', 'GET'), answer)
                return
        rid = None
        key = self._header_key
        for name, value in scope.get('headers', ()):
            if name == key:
                text = value.decode('latin-1')
                if _SAFE_ID.fullmatch(text):
                    rid = text
                break
        if rid is None:
            rid = self._generate()
        raw = rid.encode('latin-1', 'replace')
        header = self._header_key

        async def send_with_id(message: dict[str, Any]) -> None:
            if message['type'] == 'http.response.start':
                headers = list(message.get('headers', ()))
                headers.append((header, raw))
                message = {**message, 'headers': headers}
            await send(message)

        token = bind_log_context(**{self.field: rid})
        await self.app(scope, receive, send_with_id)
        # on success the binding is undone; when the app raised it stays for the server's error line (the request's
        # task ends right after, and its context with it)
        unbind_log_context(token)


def _scope_v(scope: dict[str, Any]) -> Optional[Variables]:
    state = getattr(scope.get('app'), 'state', None)
    v = getattr(state, 'v', None)
    return v if isinstance(v, Variables) else None


__all__ = ['RequestContextMiddleware', 'current_request_id']
