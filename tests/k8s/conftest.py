"""Fixtures for the Kubernetes helper tests: a tiny in-process fake API server on 127.0.0.1."""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

import pytest

from scitrera_app_framework.k8s import util as k8s_util


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeKubeAPI:
    """State of the fake API server; tests read and script it directly.

    ``objects`` maps an item path (``/api/v1/namespaces/default/pods/web``) to the stored object.
    ``pod_phases[name]`` is the sequence of phases the pod shows on creation and then on successive GETs (the last
    one repeats).
    ``delete_lingers[name]`` keeps a deleted pod visible for that many more GETs (like a grace period).
    ``fail_next`` makes the next request answer with that HTTP status.
    """

    url: str = ''
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    pod_phases: dict[str, list[str]] = field(default_factory=dict)
    delete_lingers: dict[str, int] = field(default_factory=dict)
    discovery: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: Optional[int] = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _version: int = 0

    def calls(self, method: Optional[str] = None) -> list[RecordedRequest]:
        return [r for r in self.requests if method is None or r.method == method]

    def put_pod(self, name: str, phase: str = 'Running', namespace: str = 'default') -> dict[str, Any]:
        pod = {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, 'namespace': namespace},
               'spec': {'containers': [{'name': 'main', 'image': 'busybox'}]}, 'status': {'phase': phase}}
        self.objects[f'/api/v1/namespaces/{namespace}/pods/{name}'] = pod
        return pod

    # -- request handling ---------------------------------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append(RecordedRequest(method, parts.path, query, headers, body))
            if self.fail_next is not None:
                status, self.fail_next = self.fail_next, None
                return status, _status(status, 'InternalError', 'injected failure')
            return self._route(method, parts.path, query, headers, body)

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: Any) -> tuple[int, Any]:
        segments = [s for s in path.split('/') if s]
        if segments[:2] == ['api', 'v1']:
            rest, group_version = segments[2:], 'v1'
        elif segments[:1] == ['apis'] and len(segments) >= 3:
            rest, group_version = segments[3:], '/'.join(segments[1:3])
        else:
            return 404, _status(404, 'NotFound', f'no route for {path}')
        if not rest:
            if method == 'GET' and path in self.discovery:
                return 200, self.discovery[path]
            return 404, _status(404, 'NotFound', f'{group_version} not served')
        if rest[0] == 'namespaces' and len(rest) >= 3:
            namespace: Optional[str] = rest[1]
            rest = rest[2:]
        else:
            namespace = None
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        collection_path = '/' + '/'.join(segments[: len(segments) - (1 if name else 0)])
        if name is None:
            if method != 'POST':
                return 405, _status(405, 'MethodNotAllowed', f'{method} on a collection')
            return self._create(collection_path, plural, namespace, body)
        item_path = f'{collection_path}/{name}'
        if method == 'GET':
            return self._get(item_path, plural, name)
        if method == 'PUT':
            return self._replace(item_path, plural, name, body)
        if method == 'PATCH':
            return self._apply(item_path, plural, name, namespace, query, headers, body)
        if method == 'DELETE':
            return self._delete(item_path, plural, name)
        return 405, _status(405, 'MethodNotAllowed', method)

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    def _store(self, item_path: str, plural: str, namespace: Optional[str], obj: dict[str, Any]) -> dict[str, Any]:
        metadata = obj.setdefault('metadata', {})
        if namespace is not None:
            metadata['namespace'] = namespace
        metadata['resourceVersion'] = self._next_version()
        metadata.setdefault('uid', f'uid-{metadata.get("name")}')
        if plural == 'pods':
            script = self.pod_phases.get(metadata['name'])
            obj['status'] = {'phase': (script.pop(0) if len(script) > 1 else script[0]) if script else 'Pending'}
        self.objects[item_path] = obj
        return obj

    def _create(self, collection_path: str, plural: str, namespace: Optional[str], body: Any) -> tuple[int, Any]:
        name = (body.get('metadata') or {}).get('name')
        item_path = f'{collection_path}/{name}'
        if item_path in self.objects:
            return 409, _status(409, 'AlreadyExists', f'{plural} "{name}" already exists')
        return 201, self._store(item_path, plural, namespace, copy.deepcopy(body))

    def _get(self, item_path: str, plural: str, name: str) -> tuple[int, Any]:
        obj = self.objects.get(item_path)
        if obj is None:
            return 404, _status(404, 'NotFound', f'{plural} "{name}" not found')
        if obj.get('metadata', {}).get('deletionTimestamp'):
            left = self.delete_lingers.get(name, 0)
            if left <= 0:
                del self.objects[item_path]
                return 404, _status(404, 'NotFound', f'{plural} "{name}" not found')
            self.delete_lingers[name] = left - 1
        elif plural == 'pods':
            script = self.pod_phases.get(name)
            if script:
                obj['status'] = {'phase': script.pop(0) if len(script) > 1 else script[0]}
        return 200, obj

    def _replace(self, item_path: str, plural: str, name: str, body: Any) -> tuple[int, Any]:
        current = self.objects.get(item_path)
        if current is None:
            return 404, _status(404, 'NotFound', f'{plural} "{name}" not found')
        wanted = (body.get('metadata') or {}).get('resourceVersion')
        if wanted and wanted != current['metadata']['resourceVersion']:
            return 409, _status(409, 'Conflict', 'the object has been modified')
        namespace = current['metadata'].get('namespace')
        return 200, self._store(item_path, plural, namespace, copy.deepcopy(body))

    def _apply(self, item_path: str, plural: str, name: str, namespace: Optional[str], query: dict[str, str],
               headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if headers.get('content-type') != 'application/apply-patch+yaml':
            return 415, _status(415, 'UnsupportedMediaType', headers.get('content-type', ''))
        if not query.get('fieldManager'):
            return 422, _status(422, 'Invalid', 'fieldManager is required for apply patch')
        current = self.objects.get(item_path)
        merged = _merge(copy.deepcopy(current), body) if current else copy.deepcopy(body)
        return (200 if current else 201), self._store(item_path, plural, namespace, merged)

    def _delete(self, item_path: str, plural: str, name: str) -> tuple[int, Any]:
        obj = self.objects.get(item_path)
        if obj is None:
            return 404, _status(404, 'NotFound', f'{plural} "{name}" not found')
        if self.delete_lingers.get(name):
            obj['metadata']['deletionTimestamp'] = '2024-01-01T00:00:00Z'
        else:
            del self.objects[item_path]
        return 200, obj


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message,
            'reason': reason, 'code': code}


def _handler_for(api: FakeKubeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get('Content-Length') or 0)
            raw = self.rfile.read(length) if length else b''
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload = api.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
            pass

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeKubeAPI]:
    """A running fake API server on an ephemeral loopback port; stopped after the test."""
    api = FakeKubeAPI()
    server = ThreadingHTTPServer(('127.0.0.1', 0), _handler_for(api))
    server.daemon_threads = True
    api.url = f'http://127.0.0.1:{server.server_address[1]}'
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def api_client(fake_api: FakeKubeAPI) -> Iterator[Any]:
    """A ``kubernetes.client.ApiClient`` pointed at the fake server with a bearer token."""
    kubernetes = pytest.importorskip('kubernetes')
    configuration = kubernetes.client.Configuration(host=fake_api.url)
    configuration.api_key['authorization'] = 'explicit-token'
    configuration.api_key_prefix['authorization'] = 'Bearer'
    client = kubernetes.client.ApiClient(configuration=configuration)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def kubeconfig(fake_api: FakeKubeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write a kubeconfig for the fake server into tmp_path and point KUBECONFIG at it."""
    path = tmp_path / 'kubeconfig'
    path.write_text(
        'apiVersion: v1\n'
        'kind: Config\n'
        'clusters:\n'
        f'- name: fake\n  cluster:\n    server: {fake_api.url}\n'
        'users:\n'
        '- name: tester\n  user:\n    token: kubeconfig-token\n'
        'contexts:\n'
        '- name: fake\n  context:\n    cluster: fake\n    user: tester\n'
        'current-context: fake\n'
    )
    monkeypatch.setenv('KUBECONFIG', str(path))
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('KUBERNETES_SERVICE_HOST', raising=False)
    return path


@pytest.fixture(autouse=True)
def _reset_default_client() -> Iterator[None]:
    """Each test starts and ends without a cached default ApiClient."""
    k8s_util.set_api_client(None)
    yield
    previous = k8s_util.set_api_client(None)
    if previous is not None and hasattr(previous, 'close'):
        previous.close()
