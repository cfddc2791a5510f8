"""One HTTP request to the API server, sent through the ``ApiClient``'s own connection pool.

Requests go straight to REST paths (``/api/v1/...``, ``/apis/<group>/<version>/...``) with the client's host,
default headers and credentials (bearer tokens, API keys; TLS and client certificates live in its pool manager), so
they behave as the generated APIs do while the code stays independent of the generated client's version. Non-2xx
answers raise ``kubernetes.client.exceptions.ApiException`` (or its status-specific subclass).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import urlencode

from ._client import require_kubernetes

#: timeout, in seconds, of a single HTTP request that is not part of a bounded wait.
REQUEST_TIMEOUT = 60.0

_ERROR_CLASSES = {
    400: 'BadRequestException', 401: 'UnauthorizedException', 403: 'ForbiddenException',
    404: 'NotFoundException', 409: 'ConflictException', 422: 'UnprocessableEntityException',
}


def request(
    api_client: Any,
    method: str,
    path: str,
    *,
    query: Optional[Mapping[str, str]] = None,
    body: Any = None,
    content_type: str = 'application/json',
    timeout: Optional[float] = REQUEST_TIMEOUT,
) -> Any:
    """Send one request to the API server; returns the decoded JSON body (None when empty).

    Raises ``kubernetes.client.exceptions.ApiException`` (or its status-specific subclass) for non-2xx answers.
    """
    kubernetes = require_kubernetes()
    exceptions = kubernetes.client.exceptions
    configuration = api_client.configuration
    headers: dict[str, str] = {}
    headers.update(getattr(api_client, 'default_headers', None) or {})
    headers['Accept'] = 'application/json'
    query_params = dict(query or {})
    for auth in (configuration.auth_settings() or {}).values():
        value = auth.get('value')
        if not value:
            continue
        if auth.get('in') == 'header':
            headers[auth['key']] = value
        elif auth.get('in') == 'query':
            query_params[auth['key']] = value
    url = str(configuration.host).rstrip('/') + path
    if query_params:
        url += '?' + urlencode(query_params)
    data = None
    if body is not None:
        data = json.dumps(body).encode('utf-8')
        headers['Content-Type'] = content_type
    kwargs: dict[str, Any] = {}
    if timeout is not None:
        kwargs['timeout'] = max(timeout, 0.05)
    response = api_client.rest_client.pool_manager.request(method, url, body=data, headers=headers, **kwargs)
    raw = response.data or b''
    if not 200 <= response.status <= 299:
        fallback = 'ServiceException' if response.status >= 500 else 'ApiException'
        error_cls = _ERROR_CLASSES.get(response.status, fallback)
        error = getattr(exceptions, error_cls, exceptions.ApiException)(status=response.status, reason=response.reason)
        error.body = raw.decode('utf-8', errors='replace')
        error.headers = response.headers
        raise error
    return json.loads(raw) if raw.strip() else None


def is_not_found(exc: BaseException) -> bool:
    """Return True when ``exc`` is the client's ``ApiException`` for an HTTP 404 answer."""
    exceptions = require_kubernetes().client.exceptions
    return isinstance(exc, exceptions.ApiException) and getattr(exc, 'status', None) == 404
