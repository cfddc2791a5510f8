"""Pods through the API: :func:`start_pod` (create, replace, wait) and the state checks :func:`pod_exists`,
:func:`is_pod_running`, :func:`is_pod_in_terminated_state`.

Waiting polls the Pod every ``wait_delay`` seconds under one overall bound per call (:class:`_Deadline`); each
request's own timeout is cut to what is left of that bound.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Callable, Optional
from urllib.parse import quote

from ._client import get_api_client
from ._metadata import namespace_or_default, required_name
from ._objects import as_dict
from ._transport import REQUEST_TIMEOUT, is_not_found, request

#: default bound, in seconds, on the waiting done by :func:`start_pod`.
DEFAULT_WAIT_TIMEOUT = 300.0

_TERMINATED_PHASES = ('Succeeded', 'Failed')


def _pod_path(pod_def: Any) -> str:
    namespace = quote(namespace_or_default(pod_def), safe='')
    return f'/api/v1/namespaces/{namespace}/pods/{quote(required_name(pod_def), safe="")}'


def _read_pod(client: Any, pod_def: Any, timeout: Optional[float] = REQUEST_TIMEOUT) -> Optional[dict[str, Any]]:
    """Return the live pod as a dict, or None when it does not exist."""
    try:
        return request(client, 'GET', _pod_path(pod_def), timeout=timeout)  # type: ignore[no-any-return]
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def _phase(pod: Optional[Mapping[str, Any]]) -> Optional[str]:
    return ((pod or {}).get('status') or {}).get('phase')


def pod_exists(pod_def: Any, *, api_client: Any = None) -> bool:
    """Return True when the Pod named by ``pod_def`` (dict or client object) exists in its namespace.

    Raises ImportError without the kubernetes package, :class:`KubeConfigError` without a configuration, and
    ``ApiException`` for API errors other than 404.
    """
    return _read_pod(get_api_client(api_client), pod_def) is not None


def is_pod_running(pod_def: Any, strict: bool = False, *, api_client: Any = None) -> bool:
    """Return True when the live Pod's phase is Running, or Pending as well when ``strict`` is False.

    A missing Pod is not running. Raises as :func:`pod_exists`.
    """
    phase = _phase(_read_pod(get_api_client(api_client), pod_def))
    return phase == 'Running' or (not strict and phase == 'Pending')


def is_pod_in_terminated_state(pod_def: Any, *, api_client: Any = None) -> bool:
    """Return True when the live Pod has finished (phase Succeeded or Failed); False if missing or still going.

    Raises as :func:`pod_exists`.
    """
    return _phase(_read_pod(get_api_client(api_client), pod_def)) in _TERMINATED_PHASES


class _Deadline:
    """Tracks the overall bound of one waiting call."""

    def __init__(self, timeout: Optional[float]) -> None:
        self.timeout = timeout
        self.end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> Optional[float]:
        return None if self.end is None else max(self.end - time.monotonic(), 0.0)

    def request_timeout(self) -> float:
        remaining = self.remaining()
        return REQUEST_TIMEOUT if remaining is None else min(max(remaining, 0.05), REQUEST_TIMEOUT)

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def _poll_pod(client: Any, pod_def: Any, done: Callable[[Optional[dict[str, Any]]], bool], goal: str,
              wait_delay: float, deadline: _Deadline, missing_ok: bool = False) -> Optional[dict[str, Any]]:
    """Read the pod every ``wait_delay`` seconds until ``done(pod)``; returns the last pod read (None if gone).

    Raises TimeoutError naming the pod and the goal when the deadline passes first, and LookupError when the pod
    disappears (unless ``missing_ok``).
    """
    import urllib3

    label = f'{namespace_or_default(pod_def)}/{required_name(pod_def)}'
    pod: Optional[dict[str, Any]] = None
    while True:
        try:
            pod = _read_pod(client, pod_def, timeout=deadline.request_timeout())
        except urllib3.exceptions.HTTPError as exc:
            if not deadline.expired():
                raise
            raise TimeoutError(f'pod {label} did not {goal} within {deadline.timeout}s: {exc}') from exc
        if done(pod):
            return pod
        if pod is None and not missing_ok:
            raise LookupError(f'pod {label} disappeared while waiting for it to {goal}')
        remaining = deadline.remaining()
        if remaining is not None and remaining <= 0:
            state = 'gone' if pod is None else f'phase {_phase(pod)!r}'
            raise TimeoutError(f'pod {label} did not {goal} within {deadline.timeout}s (last seen: {state})')
        time.sleep(wait_delay if remaining is None else min(wait_delay, remaining))


def start_pod(pod_def: Any, wait: bool = True, replace: bool = False, wait_delay: float = 0.25,
              wait_until_terminated: bool = False, *, timeout: Optional[float] = DEFAULT_WAIT_TIMEOUT,
              api_client: Any = None) -> Any:
    """Create a Pod from ``pod_def`` (dict or client object) and optionally wait for it.

    With ``replace``, an existing Pod of that name is deleted first and its removal awaited (Pod specs are mostly
    immutable, so replacing means re-creating). With ``wait``, the Pod is polled every ``wait_delay`` seconds
    until it is Running (or has already finished); ``wait_until_terminated`` waits until it has finished
    (Succeeded or Failed) instead, and implies waiting. ``timeout`` bounds all waiting of the call in seconds
    (None: no bound). ``apiVersion``/``kind`` default to ``v1``/``Pod``.

    Returns the last Pod state read (the creation response when not waiting), as a dict.
    Raises TimeoutError naming the pod when the wait exceeds ``timeout``; LookupError when the Pod is deleted by
    someone else while being waited for; ValueError for a non-Pod object or a
    negative ``wait_delay``/``timeout``; ``ApiException`` for API errors, e.g. ``status == 409`` when the Pod exists
    and ``replace`` is False; ImportError and :class:`KubeConfigError` as the other API helpers.
    """
    if wait_delay < 0:
        raise ValueError(f'wait_delay must be >= 0, got {wait_delay!r}')
    if timeout is not None and timeout < 0:
        raise ValueError(f'timeout must be >= 0 seconds or None, got {timeout!r}')
    client = get_api_client(api_client)
    body = as_dict(pod_def, client)
    body.setdefault('apiVersion', 'v1')
    body.setdefault('kind', 'Pod')
    if body['apiVersion'] != 'v1' or body['kind'] != 'Pod':
        raise ValueError(f'start_pod() needs a v1 Pod, got {body["apiVersion"]}/{body["kind"]}')
    deadline = _Deadline(timeout)

    if replace and _read_pod(client, body) is not None:
        try:
            request(client, 'DELETE', _pod_path(body))
        except Exception as exc:
            if not is_not_found(exc):
                raise
        _poll_pod(client, body, lambda pod: pod is None, 'go away after deletion', wait_delay, deadline,
                  missing_ok=True)

    namespace = quote(namespace_or_default(body), safe='')
    created = request(client, 'POST', f'/api/v1/namespaces/{namespace}/pods', body=body)
    if not (wait or wait_until_terminated):
        return created

    def finished(pod: Optional[dict[str, Any]]) -> bool:
        return _phase(pod) in _TERMINATED_PHASES

    def running(pod: Optional[dict[str, Any]]) -> bool:
        return _phase(pod) == 'Running' or finished(pod)

    if wait_until_terminated:
        return _poll_pod(client, body, finished, 'terminate (Succeeded or Failed)', wait_delay, deadline)
    return _poll_pod(client, body, running, 'reach phase Running', wait_delay, deadline)
