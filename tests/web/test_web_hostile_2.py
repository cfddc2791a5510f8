"""Hostile cases on real servers (second pass): streams, server-sent events and WebSockets open at SIGTERM, serve()
on a unix socket and on an inherited file descriptor, readiness while the background executor is saturated, gunicorn
worker recycling (``--max-requests``) and ``--preload``, the probe server's ``/metrics`` and slow clients.

The servers run in child processes on 127.0.0.1 (the harness of ``test_servers.py``); one server is shared by the
cases that do not interfere (the streams, the WebSocket, the saturated executor and the probe port are all checked on
the same ``serve()`` before and at its SIGTERM).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest
from test_servers import GUNICORN, HERE, ROOT, Service, free_port, get, outcome, py, start

pytestmark = [pytest.mark.needs_web, pytest.mark.needs_fastapi]

SVC = str(HERE / 'svc_hostile.py')
TIMEOUT = 6.0  # SAF_SHUTDOWN_TIMEOUT of the shared server
DRAIN = 0.8


class StreamReader(threading.Thread):
    """GETs ``path`` and reads the (chunked) body as it comes; records the chunks and how the stream ended."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.chunks: list[bytes] = []
        self.status: Optional[int] = None
        self.end: str = ''
        self.ended_at: float = 0.0
        self.first = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)
        try:
            conn.request('GET', self.path)
            r = conn.getresponse()
            self.status = r.status
            while True:
                data = r.read1(65536)
                if not data:
                    self.end = 'complete'
                    break
                self.chunks.append(data)
                self.first.set()
        except (http.client.IncompleteRead, ConnectionError, OSError) as e:
            self.end = f'cut: {type(e).__name__}'
        finally:
            self.ended_at = time.monotonic()
            self.first.set()
            conn.close()

    @property
    def body(self) -> bytes:
        return b''.join(self.chunks)


class WsClient(threading.Thread):
    """A WebSocket client (``websockets``' sync client): one echo round trip, then waits for the server to close."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.opened = threading.Event()
        self.echo = ''
        self.close_code: Optional[int] = None
        self.error = ''
        self.closed_at = 0.0

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect
        try:
            with connect(f'ws://127.0.0.1:{self.port}/ws', open_timeout=20, close_timeout=5) as ws:
                ws.send('hi')
                self.echo = str(ws.recv(timeout=20))
                self.opened.set()
                try:
                    ws.recv(timeout=60)  # nothing comes: the server closes
                except ConnectionClosed as e:
                    self.close_code = e.rcvd.code if e.rcvd is not None else None
                    self.error = f'{type(e).__name__}: {e}'
        except Exception as e:
            self.error = f'{type(e).__name__}: {e}'
        finally:
            self.closed_at = time.monotonic()
            self.opened.set()


def health_get(port: int, path: str) -> tuple[int, bytes]:
    status, body, _ = get(port, path, timeout=10)
    return status, body


@pytest.mark.needs_metrics
def test_streams_websocket_saturation_and_probe_port_under_serve(tmp_path: Path) -> None:
    """One serve() (SAF_SHUTDOWN_TIMEOUT=6, drain 0.8 s, the probe port and metrics on; uvicorn's WebSockets on the
    ``websockets`` package, its default when installed):

    - before the signal: with every job thread busy and 50 jobs queued, /readyz stays 200 (app and probe port) and
      answers at once: saturation is load, not unreadiness (README "Web services");
    - the probe port's listening line and its 404 name /metrics (metrics are on); 30 slow-loris clients holding
      connections open on it do not keep /readyz from answering;
    - at SIGTERM, with a finite stream, an endless server-sent-events stream and a WebSocket open: the WebSocket
      stays open through the drain, then is closed with 1012 (service restart); the finite stream completes; the
      endless one is cut when the grace share of the timeout is over; the exit is graceful (0, not the watchdog's
      124), the lifespan shutdown and the hook run once, the "stopped" line is there.
    """
    pytest.importorskip('websockets')
    port, hport = free_port(), free_port()
    svc = start(py(SVC), tmp_path, port, WEB_WS='websockets', SAF_SHUTDOWN_TIMEOUT=str(TIMEOUT),
                SAF_SHUTDOWN_DRAIN_SECONDS=str(DRAIN), SAF_HEALTH_PORT=str(hport), SAF_METRICS_ENABLED='true')
    loris: list[socket.socket] = []
    try:
        svc.wait_ready()
        out_err = lambda: f'\nstdout: {svc.lines}\nstderr: {svc.stderr()}'  # noqa: E731
        # --- the probe port: its line and its 404 name /metrics
        deadline = time.monotonic() + 20
        while 'health endpoint listening' not in svc.stderr():
            assert time.monotonic() < deadline, out_err()
            time.sleep(0.1)
        line = next(ln for ln in svc.stderr().splitlines() if 'health endpoint listening' in ln)
        assert '/metrics' in line, line
        status, body = health_get(hport, '/nope')
        assert status == 404 and '/metrics' in json.loads(body)['routes'], body
        assert health_get(hport, '/metrics')[0] == 200
        # --- slow-loris clients on the probe port do not block the probes
        for _ in range(30):
            s = socket.create_connection(('127.0.0.1', hport), timeout=10)
            s.sendall(b'GET /readyz HTTP/1.1\r\nHost: x\r\n')  # never finishes its headers
            loris.append(s)
        t0 = time.monotonic()
        assert health_get(hport, '/readyz')[0] == 200
        assert time.monotonic() - t0 < 5, 'a probe waited behind slow clients'
        # --- the executor saturated: readiness unchanged, probes answer at once
        status, body, _ = get(port, '/saturate?n=50')
        sat = json.loads(body)
        assert status == 200 and sat['queued'] == sat['workers'] + 50 and sat['waiting'] >= 50, sat
        for p, path in ((port, '/readyz'), (hport, '/readyz'), (port, '/healthz'), (hport, '/healthz')):
            t0 = time.monotonic()
            status, body, _ = get(p, path)
            assert status == 200, (p, path, status, body)
            assert time.monotonic() - t0 < 5, (p, path)
        assert get(port, '/release')[0] == 200
        # --- at SIGTERM: a finite stream, an endless SSE stream and a WebSocket in flight
        ws = WsClient(port)
        ws.start()
        assert ws.opened.wait(30) and ws.echo == 'echo hi', ws.error
        sse = StreamReader(port, '/sse')
        finite = StreamReader(port, '/stream?n=10&dt=0.15')
        sse.start()
        finite.start()
        assert sse.first.wait(30) and finite.first.wait(30), out_err()
        t_signal = time.monotonic()
        os.kill(svc.proc.pid, signal.SIGTERM)
        code = svc.proc.wait(60)
        took = time.monotonic() - t_signal
        for t in (ws, sse, finite):
            t.join(15)
    finally:
        for s in loris:
            s.close()
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    why = f'\nexit {code} after {took:.1f}s\nstdout:\n{out}\nstderr:\n{err}'
    assert code == 0 and 'overran SAF_SHUTDOWN_TIMEOUT' not in err, why
    assert took < TIMEOUT + 3, why
    # the finite stream completed, the endless one was cut after the drain
    assert finite.status == 200 and finite.end == 'complete', (finite.end, finite.body, why)
    assert finite.body.count(b'chunk ') == 10 and 'STREAM DONE' in out, why
    assert sse.status == 200 and sse.end != 'complete' or 'SSE CANCELLED' in out, (sse.end, why)
    assert sse.ended_at - t_signal >= DRAIN * 0.9, f'the SSE stream was cut within the drain{why}'
    # the WebSocket: open through the drain, then closed by the server with 1012 (service restart)
    assert ws.close_code == 1012 and 'WS CLOSED code=1012' in out, (ws.close_code, ws.error, why)
    assert ws.closed_at - t_signal >= DRAIN * 0.9, f'the WebSocket was closed within the drain{why}'
    # the phases, once
    assert out.count('LIFESPAN SHUTDOWN') == 1 and out.count('HOOK RAN') == 1, why
    assert out.index('LIFESPAN SHUTDOWN') < out.index('HOOK RAN'), why
    assert len(re.findall(r'stopped \(exit 0\) in [0-9.]+ s', err)) == 1, why
    assert 'AFTER SERVE' in out and '--- Logging error ---' not in err, why


def _uds_get(path_or_sock: Any, path: str) -> tuple[int, bytes]:
    import httpx
    transport = httpx.HTTPTransport(uds=path_or_sock)
    with httpx.Client(transport=transport, base_url='http://svc', timeout=10) as c:
        r = c.get(path)
        return r.status_code, r.content


def _check_drain_and_exit(svc: Service, ask: Any, why_extra: str = '') -> None:
    """SIGTERM with a slow stream in flight: /readyz turns 503 during the drain (still answered), the stream
    completes, exit 0, the phases once."""
    stream_result: list[Any] = []

    def read_stream() -> None:
        try:
            stream_result.append(ask('/stream?n=6&dt=0.15'))
        except Exception as e:
            stream_result.append(e)

    t = threading.Thread(target=read_stream, daemon=True)
    t.start()
    svc.wait_line('STREAM STARTED', 30)
    os.kill(svc.proc.pid, signal.SIGTERM)
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and svc.proc.poll() is None:
        try:
            seen.append(ask('/readyz')[0])
        except Exception as e:
            seen.append(type(e).__name__)
            break
        if seen[-1] == 503:
            break
        time.sleep(0.05)
    code = svc.proc.wait(60)
    t.join(15)
    out, err = '\n'.join(svc.lines), svc.stderr()
    why = f'{why_extra}\nreadyz after the signal: {seen}\nstdout:\n{out}\nstderr:\n{err}'
    assert 503 in seen, why
    assert code == 0 and stream_result and not isinstance(stream_result[0], Exception), (stream_result, why)
    assert stream_result[0][0] == 200 and stream_result[0][1].count(b'chunk ') == 6, (stream_result, why)
    assert out.count('LIFESPAN SHUTDOWN') == 1 and out.count('HOOK RAN') == 1, why
    assert re.search(r'stopped \(exit 0\) in [0-9.]+ s', err), why


def test_serve_on_a_unix_socket(tmp_path: Path) -> None:
    """serve(uds=...): ready and the probes answer on the socket, the listening line names the socket, the drain and
    the phases as on TCP; the socket file is gone after the exit."""
    sock_path = str(tmp_path / 'svc.sock')
    port = free_port()  # not listened on: only the harness's bookkeeping
    svc = start(py(SVC), tmp_path, port, WEB_BIND='uds', WEB_UDS=sock_path)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert svc.proc.poll() is None and time.monotonic() < deadline, f'{svc.lines}\n{svc.stderr()}'
            try:
                if _uds_get(sock_path, '/readyz')[0] == 200:
                    break
            except Exception:
                pass
            time.sleep(0.1)
        for path in ('/livez', '/healthz', '/fast'):
            assert _uds_get(sock_path, path)[0] == 200, path
        assert re.search(rf'running on unix socket {re.escape(sock_path)}', svc.stderr()), svc.stderr()
        _check_drain_and_exit(svc, lambda p: _uds_get(sock_path, p))
        # as uvicorn.run does: the socket file is removed at exit (a stale one would look like a live service)
        assert not os.path.exists(sock_path), os.listdir(tmp_path)
    finally:
        svc.kill()


def test_serve_on_an_inherited_file_descriptor(tmp_path: Path) -> None:
    """serve(fd=N) on a listening socket the parent bound and passed down (systemd/supervisor style): ready, the
    probes, the drain and the phases; the listening line names the socket's address."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(('127.0.0.1', 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    os.set_inheritable(fd, True)
    env = {k: val for k, val in os.environ.items() if not k.startswith('SAF_')}
    env.update({'PYTHONPATH': os.pathsep.join([str(HERE), str(ROOT)]), 'PYTHONUNBUFFERED': '1', 'WEB_BIND': 'fd',
                'WEB_FD': str(fd), 'SAF_SHUTDOWN_DRAIN_SECONDS': str(DRAIN), 'SAF_SHUTDOWN_TIMEOUT': '30',
                'SAF_SETUP_STATEFUL': 'false', 'HOME': str(tmp_path)})
    err_path = tmp_path / 'stderr-fd.txt'
    with open(err_path, 'w') as err:
        proc = subprocess.Popen(py(SVC), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True, pass_fds=(fd,))
    listener.close()  # the child has it now: only its listener accepts
    svc = Service(proc, port, err_path)
    threading.Thread(target=svc.read, daemon=True).start()
    try:
        svc.wait_ready()
        for path in ('/livez', '/healthz', '/fast'):
            assert outcome(port, path) == '200', path
        assert re.search(rf'running on socket .*127\.0\.0\.1.*{port}', svc.stderr()), svc.stderr()
        _check_drain_and_exit(svc, lambda p: get(port, p)[:2])
    finally:
        svc.kill()


def test_serve_refuses_fd_and_uds_together_with_a_clear_error(tmp_path: Path) -> None:
    """uvicorn binds fd first and ignores the others silently: serve() says which one to keep."""
    import subprocess as sp
    code = ('from scitrera_app_framework.web import serve, WebConfigError\n'
            'try:\n    serve(lambda *a: None, fd=3, uds="/tmp/x.sock")\n'
            'except WebConfigError as e:\n    print("ERR", e)\n')
    env = {k: val for k, val in os.environ.items() if not k.startswith('SAF_')}
    env['PYTHONPATH'] = str(ROOT)
    r = sp.run(py('-c', code), capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert r.stdout.startswith('ERR') and 'fd=3' in r.stdout and 'uds=' in r.stdout, (r.stdout, r.stderr)


WSGI_SVC = 'svc_wsgi_hostile:app'


def _readyz_until_503(svc: Service, port: int, deadline: float) -> list[str]:
    """Ask ``/readyz`` on ``port`` every 50 ms (after a SIGTERM) until it answers 503, the service exits or the
    deadline passes; return the outcomes seen."""
    seen: list[str] = []
    while svc.proc.poll() is None and time.monotonic() < deadline:
        seen.append(outcome(port, '/readyz'))
        if seen[-1] == '503':
            break
        time.sleep(0.05)
    return seen


def _preload(tmp_path: Path, **env: str) -> tuple[Service, int]:
    port = free_port()
    svc = start(py(*GUNICORN, '-b', f'127.0.0.1:{port}', '-w', '2', '--preload', '--graceful-timeout', '5',
                   WSGI_SVC), tmp_path, port, WEB_INIT='import', SAF_APP_NAME='websvc', SAF_SHUTDOWN_TIMEOUT='4',
                **env)
    svc.wait_ready()
    return svc, port


@pytest.mark.needs_gunicorn
def test_gunicorn_preload_workers_run_background_jobs(tmp_path: Path) -> None:
    """``gunicorn --preload`` with a warm-up job at import: the master's pool has a worker thread (idle) when it
    forks; in each worker the pool thinks that thread exists and never starts one, so no job ever runs there."""
    svc, port = _preload(tmp_path, WEB_WARMUP='true')
    try:
        for _ in range(4):
            status, body, _ = get(port, '/job', timeout=30)
            assert status == 200, (body, svc.lines, svc.stderr())
            assert body.decode().split(' for ')[0] != f'job ran in {svc.proc.pid}', body
    finally:
        svc.kill()


@pytest.mark.needs_gunicorn
def test_gunicorn_preload_workers_have_their_own_shutdown_wake_up_pipe(tmp_path: Path) -> None:
    """The cause of the next test's hang, seen deterministically: after ``--preload`` the worker's shutdown watchdog
    must not wait on the pipe it inherited from the master (the master's watchdog, or a sibling's, reads the
    wake-ups meant for it)."""
    svc, port = _preload(tmp_path)
    try:
        master_pipe = svc.wait_line(r'MASTER PIPE \d+', 30).split()[-1]
        worker_pipe = get(port, '/wakepipe')[1].decode()
    finally:
        svc.kill()
    assert worker_pipe != master_pipe, (worker_pipe, master_pipe)


@pytest.mark.needs_gunicorn
# not strict: the wake-ups land on the right watchdog by chance in some runs (the previous test shows the cause
# deterministically); drop the mark with the fix
def test_gunicorn_preload_workers_drain_and_stop_at_sigterm(tmp_path: Path) -> None:
    """``gunicorn --preload`` (init_framework at import, in the master): at SIGTERM every worker goes not ready,
    drains, stops and runs its phases once, promptly (not killed at graceful_timeout): each worker's shutdown
    watchdog must wake on its own signals, not share its wake-up pipe with the master and the other workers."""
    svc, port = _preload(tmp_path)
    try:
        master = svc.proc.pid
        deadline = time.monotonic() + 30
        os.kill(master, signal.SIGTERM)
        seen = _readyz_until_503(svc, port, deadline)
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    why = f'\nreadyz: {seen}\nstdout:\n{out}\nstderr:\n{err}'
    workers = set(re.findall(r'Booting worker with pid: (\d+)', err))
    assert code == 0 and '503' in seen and 'SIGKILL' not in err, why
    assert len(workers) == 2 and all(out.count(f'HOOK RAN pid={w}') == 1 for w in workers), why
    assert '--- Logging error ---' not in err and 'Traceback' not in err, why


@pytest.mark.needs_gunicorn
def test_gunicorn_max_requests_recycles_workers_cleanly(tmp_path: Path) -> None:
    """``--max-requests 5`` (sync worker): every recycled worker initialized once and ran the phases once, the log
    says why it exited, and clients see only 200s across the recycles."""
    port = free_port()
    svc = start(py(*GUNICORN, '-b', f'127.0.0.1:{port}', '-w', '1', '--max-requests', '5',
                   '--max-requests-jitter', '0', WSGI_SVC), tmp_path, port, WEB_INIT='none', SAF_APP_NAME='websvc',
                SAF_GUNICORN_INIT='svc_wsgi_hostile:setup')
    try:
        svc.wait_ready()
        statuses = []
        for i in range(24):
            statuses.append(outcome(port, '/job' if i % 2 else '/pid'))
        deadline = time.monotonic() + 60
        while len(re.findall(r'HOOK RAN pid=', '\n'.join(svc.lines))) < 4:  # the recycled workers ran their hooks
            assert time.monotonic() < deadline, (svc.lines, svc.stderr())
            time.sleep(0.05)
        os.kill(svc.proc.pid, signal.SIGTERM)
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    why = f'\nclient: {statuses}\nstdout:\n{out}\nstderr:\n{err}'
    assert code == 0 and set(statuses) == {'200'}, why
    setups = re.findall(r'SETUP pid=(\d+)', out)
    assert len(setups) >= 5 and len(set(setups)) == len(setups), why  # one init per worker
    assert all(out.count(f'HOOK RAN pid={p}') == 1 for p in setups), why
    assert err.count('Autorestarting worker after current request') >= 4, why
    assert '--- Logging error ---' not in err and 'Traceback' not in err, why


def test_probe_server_cuts_a_client_that_trickles_its_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow-loris client that sends one byte of its request every 0.3 s never trips the per-read timeout; the probe
    server must still end the connection at its per-connection deadline (each one holds a thread), and other probes
    are answered meanwhile."""
    from scitrera_app_framework import Variables
    from scitrera_app_framework.core._probe_server import ProbeServer
    from scitrera_app_framework.core.health import start_health_server, stop_health_server

    monkeypatch.setattr(ProbeServer, 'connection_deadline', 1.0, raising=False)
    v = Variables()
    host, hport = start_health_server(v, port=0)
    try:
        s = socket.create_connection((host, hport), timeout=10)
        request = b'GET /livez HTTP/1.1\r\n' + b'X-Slow: ' + b'a' * 200
        t0 = time.monotonic()
        cut = ''
        try:
            for i in range(len(request)):
                s.sendall(request[i:i + 1])
                if i == 2:  # meanwhile, a probe on another connection is answered
                    assert get(hport, '/livez')[0] == 200
                if time.monotonic() - t0 > 15:
                    break
                r, _, _ = __import__('select').select([s], [], [], 0.3)
                if r:
                    data = s.recv(4096)
                    cut = f'closed after {time.monotonic() - t0:.1f}s ({data[:40]!r})'
                    break
        except OSError as e:
            cut = f'{type(e).__name__} after {time.monotonic() - t0:.1f}s'
        finally:
            s.close()
        assert cut, 'the trickling client was never cut'
        assert time.monotonic() - t0 < 10, cut
    finally:
        stop_health_server(v)


@pytest.mark.needs_gunicorn
def test_gunicorn_workers_share_the_probe_port_with_reuse_port(tmp_path: Path) -> None:
    """``SAF_HEALTH_PORT`` under ``gunicorn -w 2``: every worker starts the probe server. Without
    ``SAF_HEALTH_REUSE_PORT`` the second worker's bind fails and the error says what to set; with it each worker binds
    the port (SO_REUSEPORT), the service boots, the probes answer, and at SIGTERM they say 503 during the drain."""
    port, hport = free_port(), free_port()
    argv = py(*GUNICORN, '-b', f'127.0.0.1:{port}', '-w', '2', WSGI_SVC)
    env = {'WEB_INIT': 'none', 'SAF_APP_NAME': 'websvc', 'SAF_GUNICORN_INIT': 'svc_wsgi_hostile:setup',
           'SAF_HEALTH_PORT': str(hport)}
    svc = start(argv, tmp_path, port, **env)
    try:
        code = svc.proc.wait(60)  # the second worker fails to boot: gunicorn stops
    finally:
        svc.kill()
    assert code != 0 and 'SAF_HEALTH_REUSE_PORT=true' in svc.stderr(), svc.stderr()
    (tmp_path / 'reuse').mkdir()
    svc = start(argv, tmp_path / 'reuse', port, SAF_HEALTH_REUSE_PORT='true', **env)
    try:
        svc.wait_ready()
        deadline = time.monotonic() + 60
        while svc.stderr().count('health endpoint listening') < 2:  # both workers bound it
            assert svc.proc.poll() is None and time.monotonic() < deadline, svc.stderr()
            time.sleep(0.1)
        assert all(health_get(hport, '/readyz')[0] == 200 for _ in range(6))
        os.kill(svc.proc.pid, signal.SIGTERM)
        seen = _readyz_until_503(svc, hport, deadline)
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    assert code == 0 and '503' in seen, f'{seen}\n{out}\n{err}'
    assert out.count('HOOK RAN') == 2 and 'Traceback' not in err, f'{out}\n{err}'


def test_a_bad_reuse_port_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework import Variables
    from scitrera_app_framework.core.health import health_server_address, start_health_server

    monkeypatch.setenv('SAF_HEALTH_REUSE_PORT', 'maybe')
    v = Variables()
    with pytest.raises(ValueError, match=r"SAF_HEALTH_REUSE_PORT='maybe' is not a boolean: use true"):
        start_health_server(v, port=0)
    assert health_server_address(v) is None


@pytest.mark.needs_gunicorn
def test_gunicorn_uvicorn_worker_max_requests_recycles_cleanly(tmp_path: Path) -> None:
    """``-k uvicorn.workers.UvicornWorker --max-requests 5``: uvicorn stops the worker by itself (no signal); the
    lifespan's shutdown and the phases run once per worker, the clients see only 200s, and SIGTERM at the end is
    graceful."""
    port = free_port()
    svc = start(py(*GUNICORN, '-b', f'127.0.0.1:{port}', '-w', '1', '-k', 'uvicorn.workers.UvicornWorker',
                   '--max-requests', '5', '--max-requests-jitter', '0', 'svc_hostile:app'), tmp_path, port)
    try:
        svc.wait_ready()
        statuses = []
        for _ in range(12):  # uvicorn checks its request count every 0.1 s: space the requests so workers recycle
            statuses.append(outcome(port, '/fast'))
            time.sleep(0.15)
        deadline = time.monotonic() + 60
        while '\n'.join(svc.lines).count('HOOK RAN') < 2:
            assert time.monotonic() < deadline, f'{statuses}\n{svc.lines}\n{svc.stderr()[-3000:]}'
            time.sleep(0.05)
        svc.wait_ready()
        os.kill(svc.proc.pid, signal.SIGTERM)
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    why = f'\nclient: {statuses}\nstdout:\n{out}\nstderr:\n{err}'
    assert code == 0 and set(statuses) == {'200'}, why
    setups = re.findall(r'SETUP pid=(\d+)', out)
    assert len(setups) >= 3 and len(set(setups)) == len(setups), why
    assert all(out.count(f'HOOK RAN pid={p}') == 1 for p in setups), why
    assert out.count('LIFESPAN SHUTDOWN') == len(setups), why
    assert 'Traceback' not in err and '--- Logging error ---' not in err, why
