"""Trace ids in log records: the active OpenTelemetry span's ids in JSON lines and plain formats, in background jobs
(threads, and Dask worker processes), and no OpenTelemetry cost or import when it is not installed.

The spans come from a real ``opentelemetry-sdk`` ``TracerProvider`` with its in-memory exporter; it is never made
the process's global provider (that can be set once per process: the plugin's tests run in child interpreters).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from scitrera_app_framework import init_framework
from scitrera_app_framework.base_plugins import get_background_exec
from scitrera_app_framework.core.logs import build_formatter, find_framework_handler, validate_log_format
from scitrera_app_framework.core.tracing import (
    TRACE,
    attached_trace,
    current_trace_ids,
    parse_traceparent,
    trace_carrier,
)
from scitrera_app_framework.testing import reset_framework

needs_otel = pytest.mark.needs_otel


@pytest.fixture
def tracer() -> Iterator[tuple[Any, Any]]:
    """A tracer of a private SDK provider and its in-memory exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer('tests'), exporter
    provider.shutdown()


def _record(msg: str = 'hello', **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord('t.logger', logging.INFO, __file__, 1, msg, (), None, func='f')
    record.__dict__.update(extra)
    return record


def _hex(span: Any) -> tuple[str, str]:
    sc = span.get_span_context()
    return f'{sc.trace_id:032x}', f'{sc.span_id:016x}'


# --- formatters ------------------------------------------------------------------------------------------------
@needs_otel
def test_json_lines_carry_the_active_spans_ids_and_nothing_without_one(tracer: tuple[Any, Any]) -> None:
    fmt = build_formatter('json', None, {'app': 'a'})
    outside = json.loads(fmt.format(_record('outside')))
    assert 'trace_id' not in outside and 'span_id' not in outside
    with tracer[0].start_as_current_span('request') as span:
        inside = json.loads(fmt.format(_record('inside')))
        with tracer[0].start_as_current_span('child') as child:
            nested = json.loads(fmt.format(_record('nested', user='u1')))
    assert (inside['trace_id'], inside['span_id']) == _hex(span)
    assert (nested['trace_id'], nested['span_id']) == _hex(child) and nested['user'] == 'u1'
    assert nested['trace_id'] == inside['trace_id'] and nested['span_id'] != inside['span_id']
    assert len(inside['trace_id']) == 32 and len(inside['span_id']) == 16
    assert inside['trace_id'] == inside['trace_id'].lower()
    after = json.loads(fmt.format(_record('after')))
    assert 'trace_id' not in after


@needs_otel
def test_a_user_field_named_trace_id_does_not_replace_the_spans(tracer: tuple[Any, Any]) -> None:
    fmt = build_formatter('json', None, {})
    with tracer[0].start_as_current_span('request') as span:
        line = json.loads(fmt.format(_record('x', trace_id='mine')))
    assert line['trace_id'] == _hex(span)[0] and line['extra_trace_id'] == 'mine'
    # without a span the user's field is written as it is
    assert json.loads(fmt.format(_record('x', trace_id='mine')))['trace_id'] == 'mine'


@needs_otel
def test_plain_format_placeholders_are_the_ids_or_empty(tracer: tuple[Any, Any]) -> None:
    fmt_text = '%(levelname)s [%(trace_id)s %(span_id)s] %(message)s'
    validate_log_format(fmt_text)  # the placeholders are valid record fields
    fmt = build_formatter(fmt_text, None, {})
    assert fmt.format(_record('outside')) == 'INFO [ ] outside'
    with tracer[0].start_as_current_span('request') as span:
        assert fmt.format(_record('inside')) == f'INFO [{_hex(span)[0]} {_hex(span)[1]}] inside'


def test_plain_format_placeholders_validate_and_are_empty_without_a_span() -> None:
    fmt_text = '%(message)s trace=%(trace_id)s span=%(span_id)s'
    validate_log_format(fmt_text)
    assert build_formatter(fmt_text, None, {}).format(_record('m')) == 'm trace= span='


@needs_otel
def test_current_ids_carrier_and_attach_round_trip(tracer: tuple[Any, Any]) -> None:
    assert current_trace_ids() is None and trace_carrier() is None
    with tracer[0].start_as_current_span('request') as span:
        ids = current_trace_ids()
        carrier = trace_carrier()
    assert ids == _hex(span)
    assert carrier is not None and carrier.startswith(f'00-{ids[0]}-{ids[1]}-')
    parsed = parse_traceparent(carrier)
    assert parsed is not None and parsed[:2] == (int(ids[0], 16), int(ids[1], 16)) and parsed[2] & 1  # sampled
    with attached_trace(carrier):
        assert current_trace_ids() == ids
    assert current_trace_ids() is None
    for bad in ('', 'junk', '00-' + '0' * 32 + '-' + '1' * 16 + '-01', '01-' + 'a' * 32 + '-' + 'b' * 16 + '-01',
                None, 42):
        assert parse_traceparent(bad) is None
        with attached_trace(bad):  # type: ignore[arg-type]
            assert current_trace_ids() is None


# --- a request under a span submits a job: both lines carry the trace ----------------------------------------
@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, io.StringIO]]:
    for key in ('SAF_JOB_BACKEND', 'LOGGING_FORMAT', 'SAF_HEALTH_PORT'):
        monkeypatch.delenv(key, raising=False)
    reset_framework()
    v = init_framework('trace-app', log_format='json', stateful=False, shutdown_hooks=False, base_plugins=True,
                       fault_handler=False)
    buf = io.StringIO()
    handler = find_framework_handler()
    assert handler is not None
    handler.setStream(buf)
    try:
        yield v, buf
    finally:
        reset_framework()


def _lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def _serve(handle: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@needs_otel
def test_a_request_under_a_span_and_the_job_it_submits_log_the_same_trace(app: tuple[Any, io.StringIO],
                                                                          tracer: tuple[Any, Any]) -> None:
    v, buf = app
    log = logging.getLogger('trace-app.http')
    job_done = threading.Event()

    def job(order: str) -> str:
        logging.getLogger('trace-app.job').info('processing %s', order)
        job_done.set()
        return order

    def handle(request: BaseHTTPRequestHandler) -> None:
        with tracer[0].start_as_current_span('GET /orders'):
            log.info('request %s', request.path)
            future = get_background_exec(v).submit(job, 'o-1')
            body = future.result(20).encode()
        request.send_response(200)
        request.send_header('Content-Length', str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    for base in _serve(handle):
        with urllib.request.urlopen(base + '/orders', timeout=20) as resp:
            assert resp.read() == b'o-1'
    assert job_done.wait(20)
    lines = _lines(buf)
    request_line = next(line for line in lines if line['message'] == 'request /orders')
    job_line = next(line for line in lines if line['message'] == 'processing o-1')
    (span,) = tracer[1].get_finished_spans()
    trace_id, span_id = _hex(span)
    assert request_line['trace_id'] == job_line['trace_id'] == trace_id
    assert request_line['span_id'] == job_line['span_id'] == span_id  # no job spans without the plugin
    assert job_line['thread'].startswith('saf-job')
    assert not any('trace_id' in line for line in lines if line['message'].startswith('starting app='))


# --- the Dask backend: the job runs in another process -------------------------------------------------------
def dask_job_line(message: str) -> str:
    """Runs on a Dask worker: log one line through the worker's framework handler and return it."""
    handler = find_framework_handler()
    if handler is None:
        return ''
    out = io.StringIO()
    old = handler.setStream(out)
    try:
        logging.getLogger('worker.job').warning('job says %s', message)
    finally:
        handler.setStream(old)
    return out.getvalue()


@pytest.mark.needs_dask
@needs_otel
def test_dask_jobs_log_the_trace_of_the_submitter(tracer: tuple[Any, Any]) -> None:
    from distributed import LocalCluster

    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor, WorkerLogSettings

    settings = WorkerLogSettings(logging.INFO, 'json', None, (('app', 'dask-trace'),), True)
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host='127.0.0.1',
                           dashboard_address='127.0.0.1:0')
    try:
        ex = DaskBackgroundExecutor(cluster.scheduler_address, log_settings=settings)
        try:
            with tracer[0].start_as_current_span('request') as span:
                traced = ex.submit(dask_job_line, 'traced').result(60)
            untraced = ex.submit(dask_job_line, 'untraced').result(60)
        finally:
            ex.shutdown(wait=True, timeout=20)
    finally:
        cluster.close(timeout=20)
    line = json.loads(traced)
    assert line['message'] == 'job says traced' and line['app'] == 'dask-trace'
    assert (line['trace_id'], line['span_id']) == _hex(span)
    assert 'trace_id' not in json.loads(untraced)


# --- without opentelemetry-api: nothing is looked up, nothing imported ---------------------------------------
def test_import_and_init_never_import_opentelemetry_or_prometheus(spawn: Any) -> None:
    child = spawn("""
        import sys
        import scitrera_app_framework
        from scitrera_app_framework.testing import reset_framework
        v = init_framework('plain', log_format='json', stateful=False, shutdown_hooks=False, base_plugins=True)
        from scitrera_app_framework import get_background_exec, get_logger
        get_background_exec(v).submit(get_logger(v).info, 'job').result(10)
        get_logger(v).info('line')
        tops = ('opentelemetry', 'prometheus_client')
        say('imported: ' + repr(sorted(m for m in sys.modules if m.split('.')[0] in tops)))
    """)
    assert child.wait_for('imported:*') == 'imported: []'
    assert child.finish() == 0


def test_without_opentelemetry_installed_the_formatters_never_look_for_a_span(spawn: Any) -> None:
    child = spawn("""
        import json, sys
        sys.modules['opentelemetry'] = None  # as if opentelemetry-api were not installed
        from scitrera_app_framework.core.tracing import TRACE, current_trace_ids, trace_carrier
        from scitrera_app_framework.core.logs import build_formatter
        import logging
        fmt = build_formatter('json', None, {})
        plain = build_formatter('%(message)s [%(trace_id)s]', None, {})
        r = logging.LogRecord('x', 20, 'x.py', 1, 'm', (), None)
        say('decided ' + repr((TRACE.decided, TRACE.available, fmt._trace, plain._trace)))
        say('json ' + fmt.format(r))
        say('plain ' + plain.format(r))
        say('ids ' + repr((current_trace_ids(), trace_carrier())))
    """)
    assert child.wait_for('decided*') == 'decided (True, False, None, None)'
    assert 'trace_id' not in child.wait_for('json*')
    assert child.wait_for('plain*') == 'plain m []'
    assert child.wait_for('ids*') == 'ids (None, None)'
    assert child.finish() == 0


@needs_otel
def test_the_trace_source_binds_once_opentelemetry_is_imported(spawn: Any) -> None:
    """Installed but not imported at init: no lookup until the app imports opentelemetry.trace, then ids."""
    child = spawn("""
        import json, sys
        v = init_framework('late', log_format='json', stateful=False, shutdown_hooks=False)
        from scitrera_app_framework.core.tracing import TRACE
        import logging
        logging.getLogger('late').info('before')
        say('before ' + repr((TRACE.available, TRACE.probe is None, 'opentelemetry.trace' in sys.modules)))
        from opentelemetry.sdk.trace import TracerProvider
        tracer = TracerProvider().get_tracer('t')
        with tracer.start_as_current_span('s') as span:
            say('ids ' + repr(TRACE.ids() == (format(span.get_span_context().trace_id, '032x'),
                                              format(span.get_span_context().span_id, '016x'))))
        say('bound ' + repr(TRACE.probe is not None))
    """)
    assert child.wait_for('before*') == 'before (True, True, False)'
    assert child.wait_for('ids*') == 'ids True'
    assert child.wait_for('bound*') == 'bound True'
    assert child.finish() == 0


def test_trace_source_reset_forgets_the_decision() -> None:
    was = TRACE.decide()
    TRACE.reset()
    assert not TRACE.decided and TRACE.probe is None
    assert TRACE.decide() == was


@needs_otel
@pytest.mark.needs_metrics
def test_the_observability_example_logs_one_trace_for_the_request_and_its_job(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / 'examples' / 'observability_example.py'
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'OTEL_'))}
    proc = subprocess.run([sys.executable, str(example)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'saf_jobs_completed_total{backend="thread"} 1.0' in proc.stdout
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith('{')]
    request = next(line for line in lines if line['message'] == 'request for order o-1')
    job = next(line for line in lines if line['message'] == 'processing order o-1')
    assert request['trace_id'] == job['trace_id'] and len(job['trace_id']) == 32
    assert request['span_id'] != job['span_id']  # the job runs in its own span (the plugin's job spans)
