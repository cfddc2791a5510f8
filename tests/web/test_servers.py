"""Real servers on 127.0.0.1 in child processes, stopped by SIGTERM/SIGINT in the middle of a request.

One harness for every server: the service (``svc_app.py``) is started, a slow request and a job are put in flight,
``/readyz`` is polled every 100 ms and a client keeps sending requests (a new connection each), then the signal is
sent. Checked: the request in flight gets 200; readiness is off before the listener closes and the listener stays
open for at least the drain after the signal; no connection is refused while ``/readyz`` says 200; the client sees
only 200s, then refused connections, never a 500; the lifespan's shutdown ran; the job finished; the hook ran once;
the exit code is the README's.
"""

from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.needs_web, pytest.mark.needs_fastapi]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DRAIN = 0.8
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_', 'WEB_')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    finally:
        conn.close()


def outcome(port: int, path: str) -> str:
    """'200', '503', ... or 'refused' / 'reset' / 'timeout'."""
    try:
        return str(get(port, path)[0])
    except ConnectionRefusedError:
        return 'refused'
    except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
        return 'reset'
    except socket.timeout:
        return 'timeout'


@dataclass
class Service:
    proc: subprocess.Popen[str]
    port: int
    err_path: Path
    lines: list[str] = field(default_factory=list)
    events: queue.Queue[str] = field(default_factory=queue.Queue)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.lines.append(line)
            self.events.put(line)

    def wait_line(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        for line in list(self.lines):
            if re.search(pattern, line):
                return line
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f'no line {pattern!r} in {timeout}s; stdout: {self.lines}; '
                                     f'stderr: {self.stderr()}')
            try:
                line = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if re.search(pattern, line):
                return line

    def stderr(self) -> str:
        return self.err_path.read_text(errors='replace')[-6000:]

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f'exited {self.proc.returncode} before ready: {self.lines} {self.stderr()}')
            if outcome(self.port, '/readyz') == '200':
                return
            time.sleep(0.1)
        raise AssertionError(f'never ready; stdout {self.lines}; stderr {self.stderr()}')

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait(10)


def start(argv: list[str], tmp_path: Path, port: int, **env: str) -> Service:
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    full.update({'PYTHONPATH': os.pathsep.join([str(HERE), str(ROOT)]), 'PYTHONUNBUFFERED': '1',
                 'WEB_PORT': str(port), 'SAF_SHUTDOWN_DRAIN_SECONDS': str(DRAIN), 'SAF_SHUTDOWN_TIMEOUT': '30',
                 'SAF_SETUP_STATEFUL': 'false', 'PYTHONWARNINGS': 'ignore::DeprecationWarning'})
    full.update(env)
    full['HOME'] = str(tmp_path)  # gunicorn >= 25 puts its control socket under ~/.gunicorn: keep it in the test's dir
    err_path = tmp_path / f'stderr-{port}.txt'
    err = open(err_path, 'w')
    proc = subprocess.Popen(argv, cwd=tmp_path, env=full, stdout=subprocess.PIPE, stderr=err, text=True,
                            start_new_session=True,
                            # SIGINT at its default whatever the suite inherited (a background job ignores it)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err.close()
    svc = Service(proc, port, err_path)
    threading.Thread(target=svc.read, daemon=True).start()
    return svc


def py(*args: str) -> list[str]:
    return [sys.executable, *args]


GUNICORN = ['-m', 'gunicorn', '-c', 'python:scitrera_app_framework.web.gunicorn_conf', '--graceful-timeout', '30',
            '--log-level', 'info']

# name -> (argv given the port, env, ASGI lifespan runs, stop signals expected to be graceful)
CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    'serve': (py(str(HERE / 'svc_app.py')), {'WEB_INIT': 'import'}),
    'serve-init-in-lifespan': (py(str(HERE / 'svc_app.py')), {'WEB_INIT': 'lifespan'}),
    'uvicorn-cli-init-at-import': (py('-m', 'uvicorn', 'svc_app:app', '--host', '127.0.0.1', '--port', '{port}'),
                                   {'WEB_INIT': 'import'}),
    'uvicorn-cli-init-in-lifespan': (py('-m', 'uvicorn', 'svc_app:app', '--host', '127.0.0.1', '--port', '{port}'),
                                     {'WEB_INIT': 'lifespan'}),
    'server-serve-in-asyncio-main': (py(str(HERE / 'svc_app.py')), {'WEB_INIT': 'main', 'WEB_RUN': 'server'}),
    'gunicorn-sync': (py(*GUNICORN, '-b', '127.0.0.1:{port}', '-w', '2', 'svc_app:app'),
                      {'WEB_KIND': 'wsgi', 'WEB_INIT': 'none', 'SAF_APP_NAME': 'websvc',
                       'SAF_GUNICORN_INIT': 'svc_app:setup', 'SAF_BASE_PLUGINS': 'true'}),
    'gunicorn-gthread': (py(*GUNICORN, '-b', '127.0.0.1:{port}', '-k', 'gthread', '--threads', '4', 'svc_app:app'),
                         {'WEB_KIND': 'wsgi', 'WEB_INIT': 'none', 'SAF_APP_NAME': 'websvc',
                          'SAF_GUNICORN_INIT': 'svc_app:setup', 'SAF_BASE_PLUGINS': 'true'}),
    'gunicorn-uvicorn-worker': (py(*GUNICORN, '-b', '127.0.0.1:{port}', '-k', 'uvicorn.workers.UvicornWorker',
                                   'svc_app:app'), {'WEB_INIT': 'lifespan'}),
}
ASGI = {'serve', 'serve-init-in-lifespan', 'uvicorn-cli-init-at-import', 'uvicorn-cli-init-in-lifespan',
        'server-serve-in-asyncio-main', 'gunicorn-uvicorn-worker'}
GUNICORN_CASES = {c for c in CASES if c.startswith('gunicorn')}
PARAMS = [pytest.param(case, sig, id=f'{case}-{sig}') for case in CASES for sig in ('SIGTERM', 'SIGINT')
          if not (case in GUNICORN_CASES and sig == 'SIGINT')]


class Poller(threading.Thread):
    """GETs ``path`` (a new connection each) every ``every`` seconds until stopped; records (sent, done, outcome)."""

    def __init__(self, port: int, path: str, every: float) -> None:
        super().__init__(daemon=True)
        self.port, self.path, self.every = port, path, every
        self.samples: list[tuple[float, float, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t0 = time.monotonic()
            res = outcome(self.port, self.path)
            self.samples.append((t0, time.monotonic(), res))
            self.stop.wait(max(0.0, self.every - (time.monotonic() - t0)))


def check_shutdown(svc: Service, sig: str, asgi: bool, expect_code: int, drain: bool = True) -> None:
    port = svc.port
    svc.wait_ready()
    slow_result: list[str] = []
    slow = threading.Thread(target=lambda: slow_result.append(outcome(port, '/slow')), daemon=True)
    probes = Poller(port, '/readyz', 0.1)
    client = Poller(port, '/fast', 0.05)
    probes.start()
    client.start()
    deadline = time.monotonic() + 30
    while len(probes.samples) < 2 or len(client.samples) < 2:  # both answered before anything is in flight
        assert time.monotonic() < deadline, f'no answers: {probes.samples} {client.samples}'
        time.sleep(0.05)
    slow.start()
    svc.wait_line('SLOW STARTED', 30)
    pid = svc.proc.pid
    t_signal = time.monotonic()
    os.kill(pid, getattr(signal, sig))
    try:
        code = svc.proc.wait(60)
    finally:
        probes.stop.set()
        client.stop.set()
        svc.kill()
    slow.join(15)
    probes.join(15)
    client.join(15)
    out = '\n'.join(svc.lines)
    err = svc.stderr()
    why = f'\nstdout:\n{out}\nstderr:\n{err}\nprobes: {probes.samples}\nclient: {client.samples}'
    assert slow_result == ['200'], f'the request in flight: {slow_result}{why}'
    assert code == expect_code, f'exit code {code}, expected {expect_code}{why}'
    out = '\n'.join(svc.lines)
    if not drain:  # a server that keeps its own signals: no drain, but nothing in flight is lost
        outcomes = [res for _, _, res in client.samples]
        assert not [o for o in outcomes if o.startswith('5')], f'server errors: {outcomes}{why}'
        assert out.count('LIFESPAN SHUTDOWN') == 1 and out.count('HOOK RAN') == 1, why
        job_pid = re.search(r'JOB DONE slow pid=(\d+)', out).group(1)  # type: ignore[union-attr]
        assert out.index(f'JOB DONE slow pid={job_pid}') < out.index(f'HOOK RAN pid={job_pid}'), why
        assert 'CancelledError' not in err and '--- Logging error ---' not in err, why
        return
    # readiness: 200 until the signal, 503 from (soon after) the signal until the listener closed, then refused
    rel = [(round(t0 - t_signal, 3), round(t1 - t_signal, 3), res) for t0, t1, res in probes.samples]
    before = [r for r in rel if r[1] < 0]
    assert before and all(r[2] == '200' for r in before), f'before the signal: {before}{why}'
    first_refused = next((r for r in rel if r[2] == 'refused'), None)
    first_503 = next((r for r in rel if r[2] == '503'), None)
    assert first_503 is not None, f'/readyz never said 503{why}'
    assert first_refused is None or first_refused[0] > first_503[1], f'refused before readiness dropped{why}'
    assert all(r[2] != '200' for r in rel if r[0] > 0.5), f'/readyz 200 after the signal: {rel}{why}'
    # the listener stays open for the drain after the signal: nothing refused before it is over
    assert first_refused is None or first_refused[0] >= DRAIN * 0.9, f'refused within the drain: {rel}{why}'
    # the client: 200s, then refused (after readiness dropped); never a 500
    outcomes = [res for _, _, res in client.samples]
    assert outcomes and outcomes[0] == '200', why
    assert not [o for o in outcomes if o.startswith('5')], f'server errors: {outcomes}{why}'
    first_bad = next((i for i, o in enumerate(outcomes) if o != '200'), len(outcomes))
    assert all(o in ('refused', 'reset') for o in outcomes[first_bad:]), f'client: {outcomes}{why}'
    crel = [(round(t0 - t_signal, 3), res) for t0, _, res in client.samples]
    assert all(t >= DRAIN * 0.9 for t, res in crel if res == 'refused'), f'refused within the drain: {crel}{why}'
    # the phases
    if asgi:
        assert out.count('LIFESPAN SHUTDOWN') == 1, why
    assert out.count('JOB DONE slow') >= 1 and out.count('SLOW DONE queued=True') >= 1, why
    assert out.count('HOOK RAN') == out.count('SETUP pid='), why  # once per process that set up
    job_pid = re.search(r'JOB DONE slow pid=(\d+)', out).group(1)  # type: ignore[union-attr]
    assert out.index(f'JOB DONE slow pid={job_pid}') < out.index(f'HOOK RAN pid={job_pid}'), why
    assert re.search(r'stopped \(exit \d+\) in [0-9.]+ s', err), f'no "stopped" line{why}'
    assert 'Traceback' not in err and 'CancelledError' not in err and '--- Logging error ---' not in err, why


@pytest.mark.parametrize('case, sig', PARAMS)
def test_server_stops_gracefully(case: str, sig: str, tmp_path: Path) -> None:
    argv, env = CASES[case]
    port = free_port()
    argv = [a.replace('{port}', str(port)) for a in argv]
    if case in GUNICORN_CASES:
        pytest.importorskip('gunicorn')
    svc = start(argv, tmp_path, port, **env)
    try:
        expect = 130 if sig == 'SIGINT' else 0
        check_shutdown(svc, sig, case in ASGI, expect)
        if case in ('serve', 'server-serve-in-asyncio-main'):
            assert 'AFTER SERVE' in svc.lines, svc.lines
    finally:
        svc.kill()


@pytest.mark.needs_hypercorn
@pytest.mark.parametrize('sig', ['SIGTERM', 'SIGINT'])
@pytest.mark.parametrize('workers', ['0', '1'])
def test_hypercorn_keeps_its_signals_and_loses_nothing_in_flight(workers: str, sig: str, tmp_path: Path) -> None:
    """hypercorn stops on its own signal handling (the lifespan gives it back after init_framework): no drain there,
    but the request in flight completes, the lifespan's shutdown, the job and the hook run, nothing is cancelled."""
    port = free_port()
    argv = py('-m', 'hypercorn', 'svc_app:app', '--bind', f'127.0.0.1:{port}', '--workers', workers)
    svc = start(argv, tmp_path, port, WEB_INIT='lifespan')
    try:
        check_shutdown(svc, sig, True, 0, drain=False)
    finally:
        svc.kill()


@pytest.mark.needs_gunicorn
@pytest.mark.parametrize('case', ['gunicorn-sync', 'gunicorn-gthread'])
def test_gunicorn_sigint_stays_its_quick_stop_and_each_worker_runs_the_phases(case: str, tmp_path: Path) -> None:
    """SIGINT to the gunicorn master is gunicorn's quick stop (workers get SIGQUIT and exit at once, a request in
    flight is cut): the master is left alone, and every worker still runs the framework's phases once as it exits."""
    argv, env = CASES[case]
    port = free_port()
    svc = start([a.replace('{port}', str(port)) for a in argv], tmp_path, port, **env)
    try:
        svc.wait_ready()
        workers = 2 if case == 'gunicorn-sync' else 1
        deadline = time.monotonic() + 60
        while sum('SETUP pid=' in ln for ln in svc.lines) < workers:  # every worker has initialized
            assert time.monotonic() < deadline, svc.lines
            time.sleep(0.05)
        os.kill(svc.proc.pid, signal.SIGINT)
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    assert code == 0, f'{out}\n{err}'
    pids = re.findall(r'SETUP pid=(\d+)', out)
    assert pids and all(out.count(f'HOOK RAN pid={p}') == 1 for p in pids), f'{out}\n{err}'
    assert len(pids) == workers and '--- Logging error ---' not in err and err.count('Worker exiting') == workers, err


@pytest.mark.needs_gunicorn
def test_a_gthread_worker_quick_stopped_while_it_hands_a_connection_to_its_pool_exits_and_runs_the_phases(
        tmp_path: Path) -> None:
    """The gthread race, made deterministic: the master's SIGQUIT reaches the worker while its main thread is inside
    ``ThreadPoolExecutor.submit`` (the pool's lock held, starting a pool thread). gunicorn's own ``handle_quit`` shuts
    the pool down, which takes that lock: the worker hung until ``graceful_timeout`` and was SIGKILLed without its
    phases. With the framework's quick-stop handler it exits at once and runs them (``gunicorn_race_conf.py``)."""
    port = free_port()
    argv = py('-m', 'gunicorn', '-c', 'python:gunicorn_race_conf', '--graceful-timeout', '20', '--log-level', 'info',
              '-b', f'127.0.0.1:{port}', '-k', 'gthread', '--threads', '4', 'svc_app:app')
    svc = start(argv, tmp_path, port, **CASES['gunicorn-gthread'][1], RACE_WINDOW='submit')
    try:
        pid = svc.wait_line(r'SETUP pid=\d+').split('=')[1]
        assert outcome(port, '/fast') != '200'  # its hand-over to the pool quick-stops the server
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    assert f'QUICK STOP FROM SUBMIT pid={pid}' in out, f'the race window was not hit\n{out}\n{err}'
    assert 'was sent SIGKILL' not in err and 'NO SIGQUIT' not in out, f'the worker hung\n{out}\n{err}'
    assert code == 0 and out.count(f'HOOK RAN pid={pid}') == 1, f'exit {code}\n{out}\n{err}'
    assert f'Worker exiting (pid: {pid})' in err and 'Traceback' not in err, err


@pytest.mark.needs_gunicorn
@pytest.mark.parametrize('kind', ['sync', 'gthread'])
def test_a_quick_stop_that_reaches_a_worker_before_gunicorn_installed_its_handlers_is_not_lost(
        kind: str, tmp_path: Path) -> None:
    """The master's SIGQUIT reaches a worker between the fork and gunicorn's ``init_signals``, while the worker still
    has the master's handlers (they queue the signal where nothing reads it): it was lost, the worker booted and
    served, and gunicorn killed it at ``graceful_timeout`` without its phases. The config's ``post_fork`` records
    it and ``post_worker_init`` delivers it again: the worker quick-stops once it booted and runs the phases."""
    port = free_port()
    argv = py('-m', 'gunicorn', '-c', 'python:gunicorn_race_conf', '--graceful-timeout', '20', '--log-level', 'info',
              '-b', f'127.0.0.1:{port}', '-k', kind, 'svc_app:app')
    svc = start(argv, tmp_path, port, **CASES['gunicorn-gthread'][1], RACE_WINDOW='fork')
    try:
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    pid = re.search(r'QUICK STOP FROM POST_FORK pid=(\d+)', out)
    assert pid is not None and 'NO SIGQUIT' not in out, f'the race window was not hit\n{out}\n{err}'
    assert 'was sent SIGKILL' not in err, f'the worker lost the quick stop\n{out}\n{err}'
    assert code == 0 and out.count(f'HOOK RAN pid={pid.group(1)}') == 1, f'exit {code}\n{out}\n{err}'
    assert f'Worker exiting (pid: {pid.group(1)})' in err and 'Traceback' not in err, err


def test_a_request_longer_than_the_timeout_is_cancelled_by_uvicorn_and_the_phases_still_run(tmp_path: Path) -> None:
    """SAF_SHUTDOWN_TIMEOUT bounds the requests in flight: uvicorn cancels them after 3/4 of what the timeout leaves
    after the drain, so the lifespan's shutdown and the phases run and the exit is graceful, not the watchdog's."""
    port = free_port()
    svc = start(py(str(HERE / 'svc_app.py')), tmp_path, port, WEB_INIT='import', SAF_SHUTDOWN_TIMEOUT='4',
                SAF_SHUTDOWN_DRAIN_SECONDS='0.4')
    try:
        svc.wait_ready()
        slow_result: list[str] = []
        slow = threading.Thread(target=lambda: slow_result.append(outcome(port, '/slow?s=30')), daemon=True)
        slow.start()
        svc.wait_line('SLOW STARTED', 30)
        t0 = time.monotonic()
        os.kill(svc.proc.pid, signal.SIGTERM)
        code = svc.proc.wait(60)
        took = time.monotonic() - t0
        slow.join(15)
    finally:
        svc.kill()
    out, err = '\n'.join(svc.lines), svc.stderr()
    # graceful, not the watchdog's exit (124 at SAF_SHUTDOWN_TIMEOUT); the time itself is no proof under load
    assert code == 0 and 'overran SAF_SHUTDOWN_TIMEOUT' not in err, f'exit {code} after {took:.1f}s\n{out}\n{err}'
    assert 'timeout graceful shutdown exceeded' in err and 'LIFESPAN SHUTDOWN' in out and 'HOOK RAN' in out, err
    assert re.search(r'stopped \(exit 0\) in [0-9.]+ s', err), err
    assert slow_result and slow_result[0] != '200', slow_result


def test_the_middleware_answers_the_probes_behind_a_root_path(tmp_path: Path) -> None:
    """``uvicorn --root-path /api`` (a proxy strips the prefix): the scope's path is ``/api/readyz`` for a request to
    ``/readyz``; the middleware still answers the probes there, as the app answers its routes."""
    port = free_port()
    svc = start(py('-m', 'uvicorn', 'svc_app:app', '--host', '127.0.0.1', '--port', str(port), '--root-path', '/api'),
                tmp_path, port, WEB_INIT='import')
    try:
        deadline = time.monotonic() + 90
        while outcome(port, '/fast') != '200':  # the app answers its own route behind the prefix
            assert svc.proc.poll() is None and time.monotonic() < deadline, f'{svc.lines}\n{svc.stderr()}'
            time.sleep(0.1)
        for path in ('/readyz', '/livez', '/healthz'):
            status, body, _ = get(port, path)
            while status == 503 and time.monotonic() < deadline:  # readiness turns true once uvicorn says started
                time.sleep(0.1)
                status, body, _ = get(port, path)
            assert status == 200 and body.startswith(b'{'), (path, status, body)
    finally:
        svc.kill()


@pytest.mark.needs_gunicorn
def test_a_gunicorn_init_function_that_raises_is_named_in_one_line_and_the_master_stops(tmp_path: Path) -> None:
    """``SAF_GUNICORN_INIT`` names a function that raises: the error line names the variable and the function (not
    only the bare exception), the worker fails to boot and gunicorn stops (no crash loop hiding the error)."""
    (tmp_path / 'bad_init.py').write_text('def register(v):\n    raise RuntimeError("db plugin: no DSN")\n')
    port = free_port()
    svc = start(py(*GUNICORN, '-b', f'127.0.0.1:{port}', 'svc_app:app'), tmp_path, port, WEB_KIND='wsgi',
                WEB_INIT='none', SAF_APP_NAME='websvc', SAF_GUNICORN_INIT='bad_init:register')
    try:
        code = svc.proc.wait(60)
    finally:
        svc.kill()
    err = svc.stderr()
    assert code != 0 and 'Worker failed to boot' in err, err
    assert re.search(r"SAF_GUNICORN_INIT='bad_init:register'.*RuntimeError: db plugin: no DSN", err), err
