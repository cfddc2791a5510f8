"""Readiness, the health report and the HTTP probe endpoint (``core.health``).

Each test uses its own ``Variables`` and simulates lifecycle phases by setting ``AppContext.state`` directly;
servers bind 127.0.0.1 on an ephemeral port and are stopped by the ``v`` fixture.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
from typing import Any, Iterator, Optional

import pytest

from scitrera_app_framework import Plugin, Variables, get_extension, register_plugin
from scitrera_app_framework.core import health as health_mod
from scitrera_app_framework.core.context import get_app_context
from scitrera_app_framework.core.health import (
    health,
    health_server_address,
    is_ready,
    mask_error_text,
    set_ready,
    start_health_server,
    start_health_server_from_env,
    stop_health_server,
)
from scitrera_app_framework.core.plugins import PluginInitError
from scitrera_app_framework.testing import reset_framework

SECRET_URL = 'postgres://user:s3cret@db.example:5432/app'


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('SAF_HEALTH_PORT', raising=False)
    monkeypatch.delenv('SAF_HEALTH_HOST', raising=False)
    monkeypatch.delenv('APP_NAME', raising=False)


@pytest.fixture
def v() -> Iterator[Variables]:
    """A fresh Variables; its probe server (if a test started one) is stopped afterwards."""
    variables = Variables()
    try:
        yield variables
    finally:
        stop_health_server(variables)


@pytest.fixture
def addr(v: Variables) -> tuple[str, int]:
    """The address of a running probe server for ``v``."""
    return start_health_server(v, port=0)


def _request(address: tuple[str, int], path: str, method: str = 'GET') -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(address[0], address[1], timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): val for k, val in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _get_json(address: tuple[str, int], path: str) -> tuple[int, Any]:
    status, headers, body = _request(address, path)
    assert headers['content-type'] == 'application/json'
    return status, json.loads(body)


def _set_state(v: Variables, state: str) -> None:
    get_app_context(v).state = state


class _FailingDb(Plugin[str]):
    def extension_point_name(self, v: Variables) -> str:
        return 'db'

    def initialize(self, v: Variables, logger: logging.Logger) -> str:
        raise ConnectionError(f'cannot connect to {SECRET_URL}')


class _Cache(Plugin[dict]):
    def extension_point_name(self, v: Variables) -> str:
        return 'cache'

    def initialize(self, v: Variables, logger: logging.Logger) -> dict:
        return {}


def _free_port_in_use() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(1)
    return sock


# --- readiness ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('state, ready', [('created', False), ('starting', False), ('running', True),
                                          ('stopping', False), ('stopped', False)])
def test_is_ready_follows_the_lifecycle_state(v: Variables, state: str, ready: bool) -> None:
    _set_state(v, state)
    assert is_ready(v) is ready


def test_set_ready_switches_readiness_only_while_running(v: Variables) -> None:
    _set_state(v, 'running')
    set_ready(False, v)
    assert is_ready(v) is False
    set_ready(True, v)
    assert is_ready(v) is True
    _set_state(v, 'starting')
    assert is_ready(v) is False  # set_ready(True) does not override the phase
    _set_state(v, 'stopping')
    set_ready(True, v)
    assert is_ready(v) is False


def test_is_ready_defaults_to_the_default_variables() -> None:
    reset_framework()
    try:
        assert is_ready() is False
        get_app_context().state = 'running'
        assert is_ready() is True
        set_ready(False)
        assert is_ready() is False
    finally:
        reset_framework()


# --- the report -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize('state, status', [('created', 'starting'), ('starting', 'starting'), ('running', 'ok'),
                                           ('stopping', 'stopping'), ('stopped', 'stopped')])
def test_health_status_per_state(v: Variables, state: str, status: str) -> None:
    _set_state(v, state)
    report = health(v)
    assert report['status'] == status
    assert report['state'] == state
    assert report['ready'] is (state == 'running')
    assert report['live'] is True
    assert report['shutting_down'] is (state in ('stopping', 'stopped'))
    assert report['plugins'] == [] and report['failures'] == []
    assert json.loads(json.dumps(report)) == report


def test_health_lists_plugins_and_app_name(v: Variables) -> None:
    get_app_context(v).app_name = 'svc-eu'
    register_plugin(_Cache, v)
    _set_state(v, 'running')
    assert get_extension('cache', v) == {}
    report = health(v)
    assert report['app'] == 'svc-eu'
    assert report['status'] == 'ok'
    assert report['plugins'] == [{'name': _Cache().name(), 'extension_point': 'cache', 'state': 'initialized',
                                  'error': None}]


def test_health_app_falls_back_to_app_name_variable(v: Variables) -> None:
    v.set('APP_NAME', 'from-variable')
    assert health(v)['app'] == 'from-variable'


def test_failed_plugin_makes_health_failing_with_masked_error(v: Variables) -> None:
    register_plugin(_FailingDb, v)
    _set_state(v, 'running')
    with pytest.raises(PluginInitError, match='failed to initialize'):
        get_extension('db', v)
    report = health(v)
    assert report['status'] == 'failing'
    assert report['ready'] is True  # readiness is the app's decision; health reports the failure
    (plugin,) = report['plugins']
    assert plugin['state'] == 'failed'
    assert plugin['error'].startswith('ConnectionError: cannot connect to postgres://user:****@db.example')
    assert 's3cret' not in json.dumps(report)


def test_failed_plugin_is_failing_even_while_starting(v: Variables) -> None:
    register_plugin(_FailingDb, v)
    _set_state(v, 'starting')
    with pytest.raises(PluginInitError):
        get_extension('db', v)
    assert health(v)['status'] == 'failing'


def test_recorded_failures_count_while_running_and_are_masked(v: Variables) -> None:
    ctx = get_app_context(v)
    ctx.record_failure('plugin cache shutdown', f'OSError: lost {SECRET_URL}')
    ctx.record_failure('hook', 'host=db password=hunter2 user=app')
    _set_state(v, 'starting')
    assert health(v)['status'] == 'starting'
    _set_state(v, 'running')
    report = health(v)
    assert report['status'] == 'failing'
    assert report['failures'] == [
        {'where': 'plugin cache shutdown', 'error': 'OSError: lost postgres://user:****@db.example:5432/app'},
        {'where': 'hook', 'error': 'host=db password=**** user=app'},
    ]
    _set_state(v, 'stopping')
    assert health(v)['status'] == 'stopping'


def test_mask_error_text() -> None:
    assert mask_error_text(None) is None
    assert mask_error_text('plain error') == 'plain error'
    assert mask_error_text(ValueError('x')) == 'x'
    assert mask_error_text(f'see {SECRET_URL} and api_key=abc123&x=1') == (
        'see postgres://user:****@db.example:5432/app and api_key=****&x=1')


# --- the probe endpoint ---------------------------------------------------------------------------------------
def test_routes_before_start(v: Variables, addr: tuple[str, int]) -> None:
    assert _get_json(addr, '/livez') == (200, {'live': True})
    assert _get_json(addr, '/readyz') == (503, {'ready': False, 'state': 'created'})
    status, body = _get_json(addr, '/healthz')
    assert status == 503 and body['status'] == 'starting' and body['ready'] is False


def test_routes_while_running(v: Variables, addr: tuple[str, int]) -> None:
    _set_state(v, 'running')
    assert _get_json(addr, '/livez') == (200, {'live': True})
    assert _get_json(addr, '/readyz') == (200, {'ready': True})
    assert _get_json(addr, '/readyz/?probe=k8s') == (200, {'ready': True})
    status, body = _get_json(addr, '/healthz')
    assert status == 200 and body == health(v)


def test_routes_when_marked_not_ready(v: Variables, addr: tuple[str, int]) -> None:
    _set_state(v, 'running')
    set_ready(False, v)
    assert _get_json(addr, '/readyz') == (503, {'ready': False, 'state': 'running'})
    assert _get_json(addr, '/livez') == (200, {'live': True})
    status, body = _get_json(addr, '/healthz')
    assert status == 200 and body['status'] == 'ok' and body['ready'] is False
    set_ready(True, v)
    assert _get_json(addr, '/readyz') == (200, {'ready': True})


@pytest.mark.parametrize('state', ['stopping', 'stopped'])
def test_routes_while_shutting_down(v: Variables, addr: tuple[str, int], state: str) -> None:
    _set_state(v, state)
    assert _get_json(addr, '/readyz') == (503, {'ready': False, 'state': state})
    status, body = _get_json(addr, '/healthz')
    assert status == 503 and body['status'] == state and body['shutting_down'] is True
    assert _get_json(addr, '/livez') == (200, {'live': True})


def test_failed_plugin_gives_503_without_the_secret(v: Variables, addr: tuple[str, int]) -> None:
    register_plugin(_FailingDb, v)
    _set_state(v, 'running')
    with pytest.raises(PluginInitError):
        get_extension('db', v)
    status, headers, raw = _request(addr, '/healthz')
    assert status == 503
    assert b's3cret' not in raw
    body = json.loads(raw)
    assert body['status'] == 'failing'
    assert 'postgres://user:****@' in body['plugins'][0]['error']


def test_unknown_path_is_404_json(addr: tuple[str, int]) -> None:
    status, body = _get_json(addr, '/nosuch')
    assert status == 404
    assert body['error'] == 'not found' and body['routes'] == ['/livez', '/readyz', '/healthz']


def test_head_has_headers_and_no_body(v: Variables, addr: tuple[str, int]) -> None:
    _set_state(v, 'running')
    status, headers, raw = _request(addr, '/healthz', method='HEAD')
    assert status == 200 and raw == b''
    assert headers['content-type'] == 'application/json'
    assert int(headers['content-length']) == len(json.dumps(health(v), separators=(',', ':')))
    assert _request(addr, '/readyz', method='HEAD')[0] == 200
    _set_state(v, 'stopping')
    status, _, raw = _request(addr, '/readyz', method='HEAD')
    assert (status, raw) == (503, b'')


def test_other_methods_get_json_errors(addr: tuple[str, int]) -> None:
    status, headers, raw = _request(addr, '/livez', method='POST')
    assert status == 405 and headers['allow'] == 'GET, HEAD'
    assert headers['content-type'] == 'application/json' and json.loads(raw)['error']
    status, headers, raw = _request(addr, '/livez', method='BREW')
    assert status == 501 and headers['content-type'] == 'application/json' and json.loads(raw)['error']


def test_a_failing_report_gives_500_json(v: Variables, addr: tuple[str, int],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(v: Optional[Variables] = None) -> dict:
        raise RuntimeError(f'registry broken near {SECRET_URL}')

    monkeypatch.setattr(health_mod, 'health', boom)
    status, headers, raw = _request(addr, '/healthz')
    assert status == 500 and headers['content-type'] == 'application/json'
    assert json.loads(raw) == {'error': 'RuntimeError: registry broken near postgres://user:****@db.example:5432/app'}
    assert _get_json(addr, '/livez') == (200, {'live': True})  # the server survives


def test_requests_are_logged_at_debug_not_on_stderr(addr: tuple[str, int], caplog: pytest.LogCaptureFixture,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger='saf.health')
    capfd.readouterr()
    assert _request(addr, '/livez')[0] == 200
    assert _request(addr, '/nope')[0] == 404
    lines = [r.getMessage() for r in caplog.records if r.name == 'saf.health']
    assert any('GET /livez' in line and '200' in line for line in lines), lines
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == 'saf.health')
    assert '" 200 -' not in capfd.readouterr().err  # the stdlib's own access-log line


def test_concurrent_probes(v: Variables, addr: tuple[str, int]) -> None:
    _set_state(v, 'running')
    results: list[int] = []

    def probe() -> None:
        for path in ('/livez', '/readyz', '/healthz'):
            results.append(_request(addr, path)[0])

    threads = [threading.Thread(target=probe) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 48


# --- starting and stopping ------------------------------------------------------------------------------------
def test_start_binds_loopback_by_default_and_is_idempotent(v: Variables) -> None:
    assert health_server_address(v) is None
    host, port = start_health_server(v, port=0)
    assert host == '127.0.0.1' and port > 0
    assert start_health_server(v, port=0) == (host, port)
    assert health_server_address(v) == (host, port)
    server = get_app_context(v).health_server
    assert server is not None and server.thread.daemon is True


def test_start_reads_host_and_port_from_variables(v: Variables) -> None:
    v.set('SAF_HEALTH_HOST', '127.0.0.1')
    v.set('SAF_HEALTH_PORT', '0')
    host, port = start_health_server(v)
    assert host == '127.0.0.1' and port > 0


def test_start_rejects_a_bad_port_argument(v: Variables) -> None:
    for bad in (-1, 65536, True):
        with pytest.raises(ValueError, match='not a TCP port'):
            start_health_server(v, port=bad)  # type: ignore[arg-type]
    assert health_server_address(v) is None


def test_from_env_does_nothing_when_unset_or_empty(v: Variables, monkeypatch: pytest.MonkeyPatch) -> None:
    assert start_health_server_from_env(v, logging.getLogger('t')) is None
    monkeypatch.setenv('SAF_HEALTH_PORT', '  ')
    assert start_health_server_from_env(v, logging.getLogger('t')) is None
    assert health_server_address(v) is None


def test_from_env_starts_and_logs_one_info_line(v: Variables, monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv('SAF_HEALTH_PORT', '0')
    caplog.set_level(logging.INFO, logger='test.app')
    logger = logging.getLogger('test.app')
    address = start_health_server_from_env(v, logger)
    assert address is not None and address == health_server_address(v)
    assert start_health_server_from_env(v, logger) == address  # idempotent, logs once
    lines = [r.getMessage() for r in caplog.records if r.name == 'test.app']
    assert lines == [f'health endpoint listening on http://127.0.0.1:{address[1]} (/livez /readyz /healthz)']
    assert caplog.records[0].levelno == logging.INFO
    assert _get_json(address, '/livez') == (200, {'live': True})


@pytest.mark.parametrize('value', ['abc', '-1', '65536', '80.5', '8080x', '1e3', '+80'])
def test_from_env_rejects_bad_ports(v: Variables, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv('SAF_HEALTH_PORT', value)
    with pytest.raises(ValueError) as info:
        start_health_server_from_env(v, logging.getLogger('t'))
    msg = str(info.value)
    assert f'SAF_HEALTH_PORT={value!r}' in msg
    assert 'integer from 1 to 65535' in msg and '0 for an ephemeral port' in msg and 'unset' in msg
    assert health_server_address(v) is None


def test_port_in_use_is_a_clear_oserror(v: Variables, monkeypatch: pytest.MonkeyPatch) -> None:
    busy = _free_port_in_use()
    try:
        port = busy.getsockname()[1]
        monkeypatch.setenv('SAF_HEALTH_PORT', str(port))
        with pytest.raises(OSError) as info:
            start_health_server_from_env(v, logging.getLogger('t'))
        msg = str(info.value)
        assert 'SAF_HEALTH_PORT' in msg and '127.0.0.1' in msg and str(port) in msg
        assert 'choose a free port' in msg
        assert health_server_address(v) is None
    finally:
        busy.close()


def test_stop_frees_the_port(v: Variables) -> None:
    host, port = start_health_server(v, port=0)
    assert _request((host, port), '/livez')[0] == 200
    stop_health_server(v)
    assert health_server_address(v) is None
    assert get_app_context(v).health_server is None
    with pytest.raises(ConnectionRefusedError):
        _request((host, port), '/livez')
    # the same port can be bound again (a listener would make this fail even with SO_REUSEADDR)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)
    finally:
        sock.close()
    assert start_health_server(v, port=port) == (host, port)  # and a new server can start there
    stop_health_server(v)
    stop_health_server(v)  # a second stop is a no-op


def test_stop_without_a_server_is_a_no_op(v: Variables) -> None:
    stop_health_server(v)
    assert health_server_address(v) is None
