"""The OpenTelemetry plugin, with the real opentelemetry-sdk, in child interpreters (the global tracer provider can
be set once per process): the provider from ``OTEL_*``, job and plugin-initialization spans, the bounded flush at
shutdown, bad settings, secrets kept out of span attributes."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from scitrera_app_framework.ext_plugins.otel_plugin import (
    OTelConfigError,
    parse_exporters,
    parse_protocol,
    parse_resource_attributes,
)

pytestmark = pytest.mark.needs_otel

IN_MEMORY = """
import json, logging
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # the app's own provider: the plugin uses it

def dump_spans():
    for s in exporter.get_finished_spans():
        say('span ' + json.dumps({'name': s.name, 'id': format(s.context.span_id, '016x'),
                                  'trace': format(s.context.trace_id, '032x'),
                                  'parent': format(s.parent.span_id, '016x') if s.parent else None,
                                  'status': s.status.status_code.name, 'attributes': dict(s.attributes),
                                  'events': [dict(e.attributes) for e in s.events]}))
"""


def _spans(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in lines if line.startswith('span ')]


def test_job_and_plugin_spans_under_the_apps_provider(spawn: Any) -> None:
    child = spawn(IN_MEMORY + """
class DbPlugin(Plugin):
    eager = True
    def extension_point_name(self, v):
        return 'db'
    def initialize(self, v, logger):
        logger.info('connecting')
        return 'db'

register_plugin(DbPlugin)
from scitrera_app_framework import get_background_exec
from scitrera_app_framework.core.logs import find_framework_handler
import io
buf = io.StringIO()
v = init_framework('otel-app', log_format='json', stateful=False, shutdown_hooks=False, base_plugins=True, otel=True)
find_framework_handler().setStream(buf)
log = logging.getLogger('otel-app')

def work(n):
    log.info('working %s', n)
    return n

def broken():
    raise RuntimeError('cannot connect with password=hunter2')

tracer = trace.get_tracer('app')
with tracer.start_as_current_span('request'):
    ex = get_background_exec(v)
    assert ex.submit(work, 1).result(20) == 1
    try:
        ex.submit(broken).result(20)
    except RuntimeError:
        pass
    assert ex.submit_unique_job('u1', work, 2)
from scitrera_app_framework.core.plugins import shutdown_all_plugins
import time
deadline = time.monotonic() + 20
while len([s for s in exporter.get_finished_spans() if s.name.startswith('job ')]) < 3 and time.monotonic() < deadline:
    time.sleep(0.01)
for line in buf.getvalue().splitlines():
    if 'working' in line:
        say('log ' + line)
dump_spans()
shutdown_all_plugins(v)
say('done')
""")
    child.wait_for('done')
    assert child.finish() == 0
    spans = _spans(child.lines)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_name.setdefault(s['name'], []).append(s)
    (request,) = by_name['request']
    jobs = [s for s in spans if s['name'].startswith('job ')]
    assert len(jobs) == 3
    assert all(j['parent'] == request['id'] and j['trace'] == request['trace'] for j in jobs)
    assert {j['attributes']['saf.job.backend'] for j in jobs} == {'thread'}
    (failed,) = [j for j in jobs if j['name'].endswith('broken')]
    assert failed['status'] == 'ERROR'
    assert 'hunter2' not in json.dumps(spans)  # the exception message is masked in the span's event
    assert any('password=' in json.dumps(e) for e in failed['events'])
    (plugin_span,) = by_name['plugin.initialize db']
    assert plugin_span['attributes'] == {'saf.plugin.name': plugin_span['attributes']['saf.plugin.name'],
                                         'saf.plugin.extension_point': 'db'}
    assert plugin_span['parent'] is None
    # the job's log lines carry the job span (a child of the request span: the same trace)
    logs = [json.loads(line[4:]) for line in child.lines if line.startswith('log ')]
    assert len(logs) == 2
    job_ids = {j['id'] for j in jobs}
    assert all(entry['trace_id'] == request['trace'] and entry['span_id'] in job_ids for entry in logs)


def test_console_exporter_and_resource_from_the_environment(spawn: Any) -> None:
    child = spawn("""
from opentelemetry import trace
v = init_framework('svc', stateful=False, shutdown_hooks=False, otel=True)
with trace.get_tracer('t').start_as_current_span('hello'):
    pass
from scitrera_app_framework.core.plugins import get_extension, shutdown_all_plugins
provider = get_extension('otel', v)
say('provider ' + type(provider).__name__ + ' ' + repr(trace.get_tracer_provider() is provider))
shutdown_all_plugins(v)
say('done')
""", OTEL_TRACES_EXPORTER='console', BUILD_CONTAINER_VERSION='1.2.3',
                  OTEL_RESOURCE_ATTRIBUTES='deployment.environment=prod,team%2Cname=a%3Db,api_token=abc123')
    child.wait_for('done')
    assert child.finish() == 0
    assert 'provider TracerProvider True' in child.lines
    out = '\n'.join(child.lines)
    start = out.index('{')
    span = json.loads(out[start:out.index('\nprovider')])
    assert span['name'] == 'hello'
    res = span['resource']['attributes']
    assert res['service.name'] == 'svc' and res['service.version'] == '1.2.3'
    assert res['deployment.environment'] == 'prod' and res['team,name'] == 'a=b'
    assert res['api_token'] == '****' and 'abc123' not in out


def test_service_name_variable_wins_and_sdk_disabled_sets_nothing(spawn: Any) -> None:
    child = spawn("""
from opentelemetry import trace
v = init_framework('svc', stateful=False, shutdown_hooks=False, otel=True)
from scitrera_app_framework.core.plugins import get_extension
say('value ' + repr(get_extension('otel', v)) + ' ' + type(trace.get_tracer_provider()).__name__)
""", OTEL_SDK_DISABLED='true')
    assert child.wait_for('value*') == 'value None ProxyTracerProvider'
    assert child.finish() == 0
    child = spawn("""
from opentelemetry import trace
v = init_framework('svc', stateful=False, shutdown_hooks=False)
say('resource ' + trace.get_tracer_provider().resource.attributes['service.name'])
""", OTEL_TRACES_EXPORTER='none', OTEL_SERVICE_NAME='orders', SAF_OTEL_ENABLED='true',
        OTEL_RESOURCE_ATTRIBUTES='service.name=ignored')
    assert child.wait_for('resource*') == 'resource orders'
    assert child.finish() == 0


def test_a_bad_exporter_is_a_clear_error(spawn: Any) -> None:
    child = spawn("""
try:
    init_framework('svc', stateful=False, shutdown_hooks=False, otel=True)
except Exception as e:
    say('error ' + type(e).__name__ + ': ' + str(e))
""", OTEL_TRACES_EXPORTER='zipkin')
    line = child.wait_for('error*')
    assert 'OTEL_TRACES_EXPORTER' in line and 'zipkin' in line and 'otlp, console, none' in line
    assert child.finish() == 0


def test_bad_switch_values_name_the_variable(spawn: Any) -> None:
    for env in ({'SAF_OTEL_SHUTDOWN_TIMEOUT': 'soon'}, {'SAF_OTEL_JOB_SPANS': 'perhaps'},
                {'OTEL_EXPORTER_OTLP_PROTOCOL': 'http/json'}, {'OTEL_RESOURCE_ATTRIBUTES': 'a=1,junk'}):
        child = spawn("""
try:
    init_framework('svc', stateful=False, shutdown_hooks=False, otel=True)
except Exception as e:
    say('error ' + str(e))
""", **env)
        line = child.wait_for('error*')
        name, value = next(iter(env.items()))
        assert name in line, (env, line)
        assert child.finish() == 0


def test_job_spans_can_be_switched_off(spawn: Any) -> None:
    child = spawn(IN_MEMORY + """
from scitrera_app_framework import get_background_exec
v = init_framework('otel-app', stateful=False, shutdown_hooks=False, otel=True)
with trace.get_tracer('app').start_as_current_span('request'):
    get_background_exec(v).submit(lambda: None).result(20)
dump_spans()
say('done')
""", SAF_OTEL_JOB_SPANS='false', SAF_OTEL_PLUGIN_SPANS='false')
    child.wait_for('done')
    assert child.finish() == 0
    assert [s['name'] for s in _spans(child.lines)] == ['request']


@pytest.mark.needs_dask
def test_dask_jobs_get_a_span_from_submission_to_their_end(spawn: Any) -> None:
    child = spawn(IN_MEMORY + """
import time
from scitrera_app_framework import get_background_exec
v = init_framework('otel-dask', stateful=False, shutdown_hooks=False, otel=True)
ex = get_background_exec(v)

def double(n):
    return 2 * n

def broken():
    raise ValueError('rejected with token=abc123')

with trace.get_tracer('app').start_as_current_span('request'):
    assert ex.submit(double, 21).result(60) == 42
    try:
        ex.submit(broken).result(60)
    except ValueError:
        pass
deadline = time.monotonic() + 30
while len([s for s in exporter.get_finished_spans() if s.name.startswith('job ')]) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
dump_spans()
ex.shutdown(wait=True, timeout=20)
say('done')
""", SAF_JOB_BACKEND='dask', SAF_JOB_THREADS='1')
    child.wait_for('done', timeout=120)
    assert child.finish(60) == 0
    spans = _spans(child.lines)
    (request,) = [s for s in spans if s['name'] == 'request']
    jobs = {s['name']: s for s in spans if s['name'].startswith('job ')}
    assert set(jobs) == {'job __main__.double', 'job __main__.broken'}, spans
    assert all(j['parent'] == request['id'] and j['attributes']['saf.job.backend'] == 'dask' for j in jobs.values())
    assert jobs['job __main__.broken']['status'] == 'ERROR' and jobs['job __main__.double']['status'] == 'UNSET'
    assert 'abc123' not in json.dumps(spans)


class _Collector:
    """A real HTTP server standing in for an OpenTelemetry collector: records each OTLP/HTTP request."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[str, str, bytes]] = []
        self.received = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                outer.requests.append((self.path, self.headers.get('Content-Type', ''), body))
                self.send_response(200)
                self.send_header('Content-Type', 'application/x-protobuf')
                self.send_header('Content-Length', '0')
                self.end_headers()
                outer.received.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_spans_reach_an_otlp_http_collector_at_shutdown(spawn: Any) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    collector = _Collector()
    try:
        child = spawn("""
from opentelemetry import trace
v = init_framework('shipping', stateful=False, shutdown_hooks=False, otel=True)
with trace.get_tracer('t').start_as_current_span('ship order'):
    pass
from scitrera_app_framework.core.plugins import shutdown_all_plugins
shutdown_all_plugins(v)  # flushes the batch processor
say('done')
""", OTEL_EXPORTER_OTLP_ENDPOINT=f'http://127.0.0.1:{collector.port}', BUILD_CONTAINER_VERSION='2.0.1')
        child.wait_for('done', timeout=60)
        assert child.finish() == 0
        assert collector.received.wait(10)
    finally:
        collector.close()
    path, ctype, body = collector.requests[0]
    assert path == '/v1/traces' and ctype == 'application/x-protobuf'
    request = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource['service.name'] == 'shipping' and resource['service.version'] == '2.0.1'
    names = [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    assert names == ['ship order']


@pytest.fixture
def silent_collector() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (an OTLP collector that hangs)."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(16)
    stop = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def test_shutdown_flush_is_bounded_when_the_collector_hangs(spawn: Any, silent_collector: int,
                                                            tmp_path: Path) -> None:
    child = spawn("""
from opentelemetry import trace
v = init_framework('svc', stateful=False, shutdown_hooks=False, otel=True)
with trace.get_tracer('t').start_as_current_span('lost'):
    pass
from scitrera_app_framework.core.plugins import shutdown_all_plugins
say('shutting down')
shutdown_all_plugins(v)
say('shut down')
""", OTEL_TRACES_EXPORTER='otlp', OTEL_EXPORTER_OTLP_ENDPOINT=f'http://127.0.0.1:{silent_collector}',
        OTEL_EXPORTER_OTLP_TIMEOUT='60', SAF_OTEL_SHUTDOWN_TIMEOUT='1')
    child.wait_for('shutting down')
    child.wait_for('shut down', timeout=45)  # well before the exporter's own 60 s timeout
    child.proc.kill()
    child.proc.wait(10)
    err = child.stderr()
    assert 'did not finish within 1s (SAF_OTEL_SHUTDOWN_TIMEOUT)' in err
    assert f'otlp (http/protobuf to http://127.0.0.1:{silent_collector})' in err


# --- the parsers ---------------------------------------------------------------------------------------------
def test_parse_exporters() -> None:
    assert parse_exporters('') == ('otlp',)
    assert parse_exporters(' Console , otlp,console') == ('console', 'otlp')
    assert parse_exporters('none') == ()
    with pytest.raises(OTelConfigError, match=r"OTEL_TRACES_EXPORTER='jaeger'.*unknown exporter 'jaeger'"):
        parse_exporters('jaeger')


def test_parse_protocol() -> None:
    assert parse_protocol('') == 'http/protobuf' and parse_protocol('GRPC') == 'grpc'
    with pytest.raises(OTelConfigError, match='OTEL_EXPORTER_OTLP_PROTOCOL=.*http/json'):
        parse_protocol('http/json')


def test_parse_resource_attributes() -> None:
    assert parse_resource_attributes('a=1, b = two ,,c=x%3Dy') == {'a': '1', 'b': 'two', 'c': 'x=y'}
    assert parse_resource_attributes('db.password=s3cret') == {'db.password': '****'}
    with pytest.raises(OTelConfigError, match='entry 2 is not key=value') as info:
        parse_resource_attributes('a=1,secretvalue')
    assert 'secretvalue' not in str(info.value)
