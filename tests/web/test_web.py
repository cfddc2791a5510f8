"""``scitrera_app_framework.web`` without a server (probes, middleware, dependencies, lifespan under a test client,
configuration errors) and uvicorn's log lines through the framework (a real server in a child process)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from scitrera_app_framework.api.variables import Variables

ROOT = Path(__file__).resolve().parent.parent.parent
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_', 'WEB_')


def run_child(code: str, tmp_path: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    full.update({'SAF_SETUP_STATEFUL': 'false', 'PYTHONWARNINGS': 'ignore::DeprecationWarning', **env})
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=tmp_path, env=full, text=True,
                          capture_output=True, timeout=timeout)


# --- no server libraries on import -----------------------------------------------------------------------------
def test_importing_the_framework_and_web_imports_no_server_library(tmp_path: Path) -> None:
    proc = run_child("""
        import sys
        import scitrera_app_framework, scitrera_app_framework.web, scitrera_app_framework.web.gunicorn_conf
        from scitrera_app_framework import init_framework
        init_framework('x')
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('uvicorn', 'starlette', 'fastapi', 'gunicorn')))
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '[]'


def test_web_config_error_is_a_saf_error() -> None:
    from scitrera_app_framework.exceptions import SAFError
    from scitrera_app_framework.web import WebConfigError
    assert issubclass(WebConfigError, SAFError) and issubclass(WebConfigError, ValueError)


# --- probes ----------------------------------------------------------------------------------------------------
@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_probe_app_answers_the_routes_with_the_health_semantics() -> None:
    from starlette.testclient import TestClient

    from scitrera_app_framework.web import probes
    v = Variables()  # never initialized: live, not ready
    with TestClient(probes(v)) as client:
        assert client.get('/livez').json() == {'live': True}
        r = client.get('/readyz')
        assert r.status_code == 503 and r.json() == {'ready': False, 'state': 'created'}
        assert r.headers['cache-control'] == 'no-store'
        r = client.get('/healthz')
        assert r.status_code == 503 and r.json()['status'] == 'starting'
        assert client.head('/livez').content == b''
        r = client.post('/livez')
        assert r.status_code == 405 and r.json()['allow'] == ['GET', 'HEAD']
        r = client.get('/nope')
        assert r.status_code == 404 and '/readyz' in r.json()['routes']


@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_add_probe_adds_a_route_to_every_probe_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from scitrera_app_framework.web import PROBE_ROUTES, WebConfigError, add_probe, probes, wsgi_probes
    monkeypatch.setattr('scitrera_app_framework.web._probes.PROBE_ROUTES', dict(PROBE_ROUTES))
    from scitrera_app_framework.web import _probes
    add_probe('/metrics', lambda v: (200, 'up 1\n', 'text/plain; version=0.0.4'))
    assert '/metrics' in _probes.PROBE_ROUTES
    with TestClient(probes(Variables())) as client:
        r = client.get('/metrics')
        assert r.status_code == 200 and r.text == 'up 1\n' and r.headers['content-type'].startswith('text/plain')
    add_probe('/boom', lambda v: 1 / 0)  # type: ignore[arg-type,return-value]
    with TestClient(probes(Variables())) as client:
        r = client.get('/boom')
        assert r.status_code == 500 and 'ZeroDivisionError' in r.json()['error']
    seen: list[Any] = []
    app = wsgi_probes(lambda environ, start: seen.append(environ['PATH_INFO']) or [b'app'], Variables())
    status: list[str] = []
    assert app({'PATH_INFO': '/metrics', 'REQUEST_METHOD': 'GET'}, lambda s, h: status.append(s)) == [b'up 1\n']
    assert app({'PATH_INFO': '/readyz', 'REQUEST_METHOD': 'GET'}, lambda s, h: status.append(s))
    assert app({'PATH_INFO': '/other', 'REQUEST_METHOD': 'GET'}, lambda s, h: status.append(s)) == [b'app']
    assert status == ['200 OK', '503 Service Unavailable'] and seen == ['/other']
    with pytest.raises(WebConfigError, match='must start with "/"'):
        add_probe('metrics', lambda v: (200, {}))
    with pytest.raises(WebConfigError, match='must be callable'):
        add_probe('/x', 'not callable')  # type: ignore[arg-type]


# --- the middleware --------------------------------------------------------------------------------------------
@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_request_id_is_taken_or_generated_echoed_and_in_the_log_context() -> None:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from scitrera_app_framework.core.log_format import current_log_context
    from scitrera_app_framework.web import RequestContextMiddleware, WebConfigError, current_request_id

    app = FastAPI()

    @app.get('/id')
    async def rid() -> dict[str, Any]:
        return {'id': current_request_id(), 'ctx': dict(current_log_context())}

    app.add_middleware(RequestContextMiddleware, probes=False)
    with TestClient(app) as client:
        r = client.get('/id', headers={'X-Request-ID': 'abc-123'})
        assert r.json() == {'id': 'abc-123', 'ctx': {'request_id': 'abc-123'}}
        assert r.headers['x-request-id'] == 'abc-123'
        r = client.get('/id')
        generated = r.json()['id']
        assert len(generated) == 32 and r.headers['x-request-id'] == generated
        r = client.get('/id', headers={'X-Request-ID': 'a b\tc'})
        assert r.json()['id'] != 'a b\tc' and len(r.json()['id']) == 32  # replaced: not written into the log
        r = client.get('/id', headers={'X-Request-ID': 'x' * 129})
        assert len(r.json()['id']) == 32
        assert client.get('/readyz').status_code == 404  # probes=False: the app's own 404
    assert current_request_id() is None
    with pytest.raises(WebConfigError, match='header must be a header name'):
        RequestContextMiddleware(app, header=' ')


@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_middleware_uses_a_configured_header_and_answers_probes() -> None:
    from fastapi import FastAPI
    from starlette.testclient import TestClient

    from scitrera_app_framework.web import RequestContextMiddleware

    app = FastAPI()
    app.add_middleware(RequestContextMiddleware, header='X-Correlation-ID', field='corr', v=Variables())
    with TestClient(app) as client:
        r = client.get('/readyz', headers={'X-Correlation-ID': 'c1'})
        assert r.status_code == 503 and 'x-correlation-id' not in r.headers  # a probe is not a request of the app
        r = client.get('/missing', headers={'X-Correlation-ID': 'c1'})
        assert r.status_code == 404 and r.headers['x-correlation-id'] == 'c1'


# --- lifespan and dependencies under a test client (init in the lifespan, off the main thread) ----------------
@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_lifespan_and_dependencies_under_a_test_client(tmp_path: Path) -> None:
    proc = run_child("""
        import logging
        from fastapi import Depends, FastAPI
        from starlette.testclient import TestClient
        from scitrera_app_framework import Plugin, Variables, register_plugin, register_shutdown_function
        from scitrera_app_framework.core.health import is_ready
        from scitrera_app_framework.web import app_logger, app_variables, extension, lifespan

        class Db(Plugin):
            def extension_point_name(self, v): return 'db'
            def initialize(self, v, logger): return 'db-handle'
            async def async_ready(self, v, logger, value): print('async_ready', value, flush=True)
            async def async_stopping(self, v, logger, value): print('async_stopping', value, flush=True)
            def shutdown(self, v, logger, value): print('db shutdown', flush=True)

        def setup(v):
            register_plugin(Db, v, init=True)
            register_shutdown_function(print, 'hook', flush=True)

        app = FastAPI(title='deps-svc', lifespan=lifespan(setup=setup))

        @app.get('/deps')
        def deps(v: Variables = Depends(app_variables), log: logging.Logger = Depends(app_logger),
                 db: str = Depends(extension('db'))):
            return {'same_v': v is app.state.v, 'logger': log.name, 'db': db, 'ready': is_ready(v)}

        with TestClient(app) as client:
            print(client.get('/deps').json(), flush=True)
        print('after', flush=True)
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines == ['async_ready db-handle', "{'same_v': True, 'logger': 'deps-svc', 'db': 'db-handle', "
                     "'ready': True}", 'async_stopping db-handle', 'db shutdown', 'hook', 'after'], proc.stderr
    # the test client runs the app in another thread: the framework says what that costs
    assert 'not the main thread: no SIGTERM/SIGINT handler' in proc.stderr


# --- configuration errors --------------------------------------------------------------------------------------
@pytest.mark.needs_web
def test_serve_refuses_workers_reload_and_other_threads() -> None:
    import threading

    from scitrera_app_framework.web import WebConfigError, serve
    with pytest.raises(WebConfigError, match='workers=2.*gunicorn'):
        serve(object(), workers=2)
    with pytest.raises(WebConfigError, match='reload=True'):
        serve(object(), reload=True)
    errors: list[BaseException] = []

    def other() -> None:
        try:
            serve(object())
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=other, name='not-main')
    t.start()
    t.join()
    assert isinstance(errors[0], WebConfigError) and "not in thread 'not-main'" in str(errors[0])


def test_gunicorn_init_function_errors_name_the_variable_and_value() -> None:
    from scitrera_app_framework.web import WebConfigError
    from scitrera_app_framework.web.gunicorn_conf import load_init_function
    assert load_init_function('os.path:join') is os.path.join
    with pytest.raises(WebConfigError, match=r"SAF_GUNICORN_INIT='nocolon' is not \"module:function\""):
        load_init_function('nocolon')
    with pytest.raises(WebConfigError, match=r"cannot import 'no_such_module_xyz'"):
        load_init_function('no_such_module_xyz:f')
    with pytest.raises(WebConfigError, match=r"'os' has no attribute 'nope'"):
        load_init_function('os:nope')
    with pytest.raises(WebConfigError, match='is not callable'):
        load_init_function('os:sep')


# --- uvicorn's lines through the framework's handler -----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


@pytest.mark.needs_web
@pytest.mark.needs_fastapi
def test_uvicorn_lines_are_json_with_the_request_id_and_no_color(tmp_path: Path) -> None:
    import http.client
    port = _free_port()
    code = f"""
        from fastapi import FastAPI, HTTPException
        from fastapi.responses import PlainTextResponse
        from scitrera_app_framework import init_framework
        from scitrera_app_framework.web import RequestContextMiddleware, lifespan, serve
        init_framework('logsvc')
        app = FastAPI(lifespan=lifespan)

        @app.middleware('http')  # a BaseHTTPMiddleware: the app runs in another task
        async def passthrough(request, call_next):
            return await call_next(request)

        @app.get('/ok')
        async def ok():
            return PlainTextResponse('ok')

        @app.get('/boom')
        async def boom():
            raise RuntimeError('kaput')

        app.add_middleware(RequestContextMiddleware)
        serve(app, host='127.0.0.1', port={port})
    """
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    full.update({'SAF_SETUP_STATEFUL': 'false', 'LOGGING_FORMAT': 'json'})
    proc = subprocess.Popen([sys.executable, '-c', textwrap.dedent(code)], cwd=tmp_path, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, 'server did not start'
            try:
                conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
                conn.request('GET', '/readyz')
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        for path, rid in (('/ok', 'req-ok'), ('/boom', 'req-boom')):
            conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
            conn.request('GET', path, headers={'X-Request-ID': rid})
            r = conn.getresponse()
            r.read()
            assert r.status == (200 if path == '/ok' else 500)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    records = []
    for line in err.splitlines():
        assert line.startswith('{'), f'not a JSON line: {line!r}'
        records.append(json.loads(line))
    assert not [r for r in records if 'color_message' in r]
    access = [r for r in records if r['logger'] == 'uvicorn.access' and '/readyz' not in r['message']]
    assert {r.get('request_id') for r in access} == {'req-ok', 'req-boom'}, access
    errors = [r for r in records if r['logger'] == 'uvicorn.error' and 'Exception in ASGI application' in r['message']]
    assert errors and errors[0].get('request_id') == 'req-boom', errors
    assert any(r['logger'] == 'uvicorn.error' and 'Uvicorn running on' in r['message'] for r in records)
    assert records[-1]['message'].startswith('stopped (exit 0) in ')


@pytest.mark.needs_web
@pytest.mark.needs_fastapi
@pytest.mark.needs_metrics
def test_the_probes_serve_metrics_like_the_health_port(tmp_path: Path) -> None:
    """``/metrics`` is one of the probe routes: 404 with a how-to while metrics are off, the Prometheus page
    (the framework's ``saf_*`` metrics and the app's own) once they are on; a child process, since metrics
    register in prometheus-client's process-wide registry."""
    proc = run_child("""
        import json
        from prometheus_client import Counter
        from prometheus_client.parser import text_string_to_metric_families
        from starlette.testclient import TestClient
        from scitrera_app_framework import init_framework
        from scitrera_app_framework.web import probes
        v = init_framework('metricsvc', shutdown_hooks=False)
        with TestClient(probes(v)) as client:
            off = client.get('/metrics')
        from scitrera_app_framework.core.metrics import enable_metrics
        enable_metrics(v)
        Counter('app_orders', 'orders taken').inc(3)
        with TestClient(probes(v)) as client:
            on = client.get('/metrics')
        names = {f.name: [s.value for s in f.samples] for f in text_string_to_metric_families(on.text)}
        print(json.dumps([off.status_code, off.text, on.status_code, on.headers['content-type'],
                          names.get('saf_ready'), names.get('app_orders')]))
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    off_status, off_text, on_status, ctype, ready, orders = json.loads(proc.stdout.strip().splitlines()[-1])
    assert off_status == 404 and 'SAF_METRICS_ENABLED' in off_text
    assert on_status == 200 and ctype.startswith('text/plain')
    assert ready == [1.0] and orders == [3.0]
