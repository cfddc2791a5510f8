"""Prometheus metrics: ``/metrics`` on the probe server scraped during a run and parsed with prometheus-client's own
text parser, the framework's ``saf_*`` metrics moving as jobs run, the app's metrics on the same page, the switches,
and gunicorn's multiprocess mode under real gunicorn workers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from scitrera_app_framework import Plugin, init_framework, register_plugin
from scitrera_app_framework.base_plugins import get_background_exec
from scitrera_app_framework.core.health import health_server_address
from scitrera_app_framework.core.metrics import (
    MetricsUnavailableError,
    disable_metrics,
    enable_metrics,
    metrics_enabled,
    metrics_response,
    render_metrics,
)
from scitrera_app_framework.testing import reset_framework

needs_metrics = pytest.mark.needs_metrics
TIMEOUT = 30.0


def _scrape_url(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET a /metrics page and parse it with prometheus-client's parser: {(sample name, labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
        assert resp.status == 200
        assert resp.headers['Content-Type'].startswith('text/plain')
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> Optional[float]:
    return samples.get((name, tuple(sorted(labels.items()))))


def _wait_until(cond: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class SlowPlugin(Plugin):
    eager = True

    def extension_point_name(self, v: Any) -> str:
        return 'slow-point'

    def initialize(self, v: Any, logger: Any) -> str:
        return 'slow'


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    for key in ('SAF_JOB_BACKEND', 'SAF_METRICS_ENABLED', 'PROMETHEUS_MULTIPROC_DIR', 'SAF_JOB_THREADS'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('SAF_HEALTH_PORT', '0')
    monkeypatch.setenv('SAF_JOB_THREADS', '1')
    monkeypatch.setenv('DB_PASSWORD', 'hunter2-secret-value')
    reset_framework()
    register_plugin(SlowPlugin)
    v = init_framework('metrics-app', stateful=False, shutdown_hooks=False, base_plugins=True, fault_handler=False,
                       metrics=True, region='eu')
    address = health_server_address(v)
    assert address is not None
    try:
        yield v, f'http://127.0.0.1:{address[1]}/metrics'
    finally:
        reset_framework()


@needs_metrics
def test_metrics_scraped_during_a_run_move_as_jobs_run(app: tuple[Any, str]) -> None:
    import prometheus_client

    v, url = app
    orders = prometheus_client.Counter('test_orders', 'orders the app took', ('kind',))
    try:
        before = _scrape_url(url)
        assert _value(before, 'saf_ready') == 1.0
        assert _value(before, 'saf_plugins', state='initialized') is not None
        assert (_value(before, 'saf_plugin_init_seconds', plugin=f'{SlowPlugin.__module__}.SlowPlugin',
                       extension_point='slow-point') or -1) >= 0
        # the executor is lazy: not initialized yet, so no queue depth (a scrape never initializes it)
        assert _value(before, 'saf_executor_queue_depth', backend='thread') is None
        submitted0 = _value(before, 'saf_jobs_submitted_total', backend='thread') or 0.0
        completed0 = _value(before, 'saf_jobs_completed_total', backend='thread') or 0.0
        failed0 = _value(before, 'saf_jobs_failed_total', backend='thread') or 0.0
        warnings0 = _value(before, 'saf_log_records_total', level='WARNING') or 0.0

        executor = get_background_exec(v)
        assert _value(_scrape_url(url), 'saf_executor_queue_depth', backend='thread') == 0.0
        gate = threading.Event()
        running = threading.Event()

        def blocker() -> None:
            running.set()
            gate.wait(TIMEOUT)

        def fails() -> None:
            raise RuntimeError('job failed on purpose')

        first = executor.submit(blocker)
        try:
            assert running.wait(TIMEOUT)
            queued = [executor.submit(orders.labels('book').inc) for _ in range(3)]
            failing = executor.submit(fails)
            during = _scrape_url(url)  # one worker thread, blocked: the rest waits in the queue
            assert _value(during, 'saf_executor_queue_depth', backend='thread') == 4.0
            assert _value(during, 'saf_jobs_submitted_total', backend='thread') == submitted0 + 5
            assert _value(during, 'saf_jobs_completed_total', backend='thread') == completed0
        finally:
            gate.set()
        for f in [first, *queued]:
            f.result(TIMEOUT)
        with pytest.raises(RuntimeError):
            failing.result(TIMEOUT)
        logging_warning = __import__('logging').getLogger('metrics-app').warning
        logging_warning('a warning to count')

        def settled() -> bool:  # the counters are updated by the Futures' callbacks, right after result()
            s = _scrape_url(url)
            return (_value(s, 'saf_jobs_completed_total', backend='thread') == completed0 + 4
                    and _value(s, 'saf_jobs_failed_total', backend='thread') == failed0 + 1)
        assert _wait_until(settled)
        after = _scrape_url(url)
        assert _value(after, 'saf_executor_queue_depth', backend='thread') == 0.0
        assert _value(after, 'saf_job_duration_seconds_count', backend='thread') == completed0 + failed0 + 5
        assert (_value(after, 'saf_log_records_total', level='WARNING') or 0) >= warnings0 + 1
        assert (_value(after, 'saf_log_records_total', level='ERROR') or 0) >= 1  # the failed job's line
        assert _value(after, 'test_orders_total', kind='book') == 3.0  # the app's own metric, same page
        page = render_metrics()[0].decode()
        assert 'hunter2' not in page and 'DB_PASSWORD' not in page
    finally:
        prometheus_client.REGISTRY.unregister(orders)


@needs_metrics
def test_readiness_gauge_follows_the_app(app: tuple[Any, str]) -> None:
    from scitrera_app_framework.core.health import set_ready

    v, url = app
    set_ready(False, v)
    assert _value(_scrape_url(url), 'saf_ready') == 0.0
    set_ready(True, v)
    assert _value(_scrape_url(url), 'saf_ready') == 1.0


@needs_metrics
def test_enable_is_idempotent_and_disable_unregisters(app: tuple[Any, str]) -> None:
    import prometheus_client

    v, _ = app
    assert metrics_enabled()
    enable_metrics(v)  # again: nothing registered twice (prometheus-client would raise on a duplicate)
    disable_metrics()
    assert not metrics_enabled()
    assert b'saf_jobs_submitted' not in prometheus_client.generate_latest(prometheus_client.REGISTRY)
    status, body, _ = metrics_response(v)
    assert status == 404 and b'SAF_METRICS_ENABLED' in body
    enable_metrics(v)
    assert metrics_enabled()


def test_metrics_off_the_probe_says_how_to_switch_them_on(spawn: Any) -> None:
    child = spawn("""
        import sys, urllib.request, urllib.error
        from scitrera_app_framework.core.health import health_server_address
        v = init_framework('off', stateful=False, shutdown_hooks=False)
        host, port = health_server_address(v)
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=20)
        except urllib.error.HTTPError as e:
            say(f'status {e.code} ' + e.read().decode().strip())
        say('imported ' + repr('prometheus_client' in sys.modules))
    """, SAF_HEALTH_PORT='0')
    line = child.wait_for('status*')
    assert line.startswith('status 404 metrics are off: set SAF_METRICS_ENABLED=true')
    assert child.wait_for('imported*') == 'imported False'
    assert child.finish() == 0


def test_switched_on_without_prometheus_client_warns_and_starts(spawn: Any) -> None:
    child = spawn("""
        import sys
        sys.modules['prometheus_client'] = None  # as if it were not installed
        v = init_framework('nometrics', stateful=False, shutdown_hooks=False)
        from scitrera_app_framework.core.metrics import metrics_enabled, render_metrics, MetricsUnavailableError
        say('started ' + repr(metrics_enabled()))
        try:
            render_metrics()
        except MetricsUnavailableError as e:
            say('error ' + str(e))
    """, SAF_METRICS_ENABLED='true')
    assert child.wait_for('started*') == 'started False'
    assert "pip install 'scitrera-app-framework[metrics]'" in child.wait_for('error*')
    assert child.finish() == 0
    assert 'SAF_METRICS_ENABLED=true' in child.stderr() and 'prometheus-client' in child.stderr()


def test_a_bad_switch_value_names_the_variable(spawn: Any) -> None:
    child = spawn("""
        try:
            init_framework('bad', stateful=False, shutdown_hooks=False)
        except ValueError as e:
            say('error ' + str(e))
    """, SAF_METRICS_ENABLED='maybe')
    line = child.wait_for('error*')
    assert 'SAF_METRICS_ENABLED' in line and 'maybe' in line
    assert child.finish() == 0


def test_enable_metrics_without_prometheus_client_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'prometheus_client', None)  # type: ignore[arg-type]
    with pytest.raises(MetricsUnavailableError, match=r"enable_metrics\(\).*scitrera-app-framework\[metrics\]"):
        enable_metrics()
    assert not metrics_enabled()


@needs_metrics
def test_shutdown_phase_seconds_are_recorded(spawn: Any) -> None:
    child = spawn("""
        from scitrera_app_framework.core.shutdown import get_shutdown_manager
        from scitrera_app_framework.core.metrics import render_metrics
        from prometheus_client.parser import text_string_to_metric_families
        register_plugin(NoisyPlugin)
        v = init_framework('phases', stateful=False, shutdown_hooks=False, metrics=True)
        get_shutdown_manager().add_app(v)
        get_shutdown_manager().run('test')
        for family in text_string_to_metric_families(render_metrics()[0].decode()):
            for s in family.samples:
                if s.name == 'saf_shutdown_phase_seconds':
                    say('phase ' + s.labels['phase'] + ' ' + repr(s.value >= 0))
        say('done')
    """)
    child.wait_for('done')
    phases = [line for line in child.lines if line.startswith('phase ')]
    assert 'phase plugin shutdown True' in phases and 'phase readiness True' in phases
    assert 'phase user hooks True' in phases and 'phase logs True' in phases
    assert child.finish() == 0


# --- gunicorn's multiprocess mode ------------------------------------------------------------------------------
GUNICORN_APP = '''
import os
import prometheus_client
from scitrera_app_framework import init_framework, get_background_exec
from scitrera_app_framework.core.metrics import render_metrics

v = init_framework('mp-app', stateful=False, shutdown_hooks=False, base_plugins=True, metrics=True)
prometheus_client.Counter('mp_worker_starts', 'workers that started').inc()
get_background_exec(v).submit(lambda: None).result(20)  # one framework job per worker


def app(environ, start_response):
    if environ['PATH_INFO'] == '/metrics':
        body, ctype = render_metrics()
        start_response('200 OK', [('Content-Type', ctype), ('Content-Length', str(len(body)))])
        return [body]
    body = str(os.getpid()).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
'''

GUNICORN_CONF = '''
def child_exit(server, worker):
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


@needs_metrics
@pytest.mark.needs_gunicorn
def test_gunicorn_multiprocess_mode_sums_the_workers(tmp_path: Path) -> None:
    mp_dir = tmp_path / 'prom'
    mp_dir.mkdir()
    (tmp_path / 'mpapp.py').write_text(textwrap.dedent(GUNICORN_APP))
    (tmp_path / 'gconf.py').write_text(textwrap.dedent(GUNICORN_CONF))
    port = _free_port()
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'PROMETHEUS_'))}
    # HOME in the temporary directory: gunicorn >= 25 puts its control socket under ~/.gunicorn
    env.update(PROMETHEUS_MULTIPROC_DIR=str(mp_dir), PYTHONPATH=str(tmp_path), HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, '-m', 'gunicorn', '-w', '2', '-b', f'127.0.0.1:{port}', '-c',
                             str(tmp_path / 'gconf.py'), 'mpapp:app'], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / 'gunicorn.err', 'w'))
    url = f'http://127.0.0.1:{port}/metrics'
    seen: dict[Any, float] = {}
    try:
        def both_workers_counted() -> bool:
            nonlocal seen
            try:
                seen = _scrape_url(url)
            except (urllib.error.URLError, ConnectionError, OSError):
                return False
            return (_value(seen, 'mp_worker_starts_total') == 2.0
                    and _value(seen, 'saf_jobs_completed_total', backend='thread') == 2.0)
        assert _wait_until(both_workers_counted, 60), (seen, (tmp_path / 'gunicorn.err').read_text()[-3000:])
        assert _value(seen, 'saf_jobs_submitted_total', backend='thread') == 2.0
        assert _value(seen, 'saf_ready') == 1.0  # the answering worker's own gauge
        assert len(list(mp_dir.iterdir())) >= 2  # each worker wrote its own files
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@needs_metrics
def test_with_a_fixed_logger_the_hosts_root_logger_gets_no_handler(spawn: Any) -> None:
    child = spawn("""
        import logging
        from scitrera_app_framework import init_framework_embedded
        from scitrera_app_framework.core.metrics import render_metrics
        v = init_framework_embedded('embedded', metrics=True)
        say('root handlers ' + repr(logging.getLogger().handlers))
        logging.getLogger('SAF').warning('counted')
        page = render_metrics()[0].decode()
        say('warnings ' + next(line for line in page.splitlines()
                              if line.startswith('saf_log_records_total{level="WARNING"}')))
    """)
    assert child.wait_for('root handlers*') == 'root handlers []'
    assert child.wait_for('warnings*').endswith(' 1.0')
    assert child.finish() == 0
