"""Observability in one init call: trace ids in JSON log lines, job spans, and Prometheus metrics on the probe port.

Run: ``python examples/observability_example.py`` (with ``pip install 'scitrera-app-framework[otel,metrics]'``;
without the extras the app still runs and says what it skipped). Spans are not exported here
(``OTEL_TRACES_EXPORTER=none``); point ``OTEL_EXPORTER_OTLP_ENDPOINT`` at a collector and drop that line to export.
"""

from __future__ import annotations

import importlib.util
import json
import os
import urllib.request

from scitrera_app_framework import get_background_exec, get_logger, init_framework
from scitrera_app_framework.core.health import health_server_address

os.environ.setdefault('OTEL_TRACES_EXPORTER', 'none')  # spans get ids (for the log lines) but are not exported
os.environ.setdefault('SAF_HEALTH_PORT', '0')  # probes and /metrics on a free port
os.environ.setdefault('LOGGING_FORMAT', 'json')



def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


have_otel = installed('opentelemetry.sdk')
have_metrics = installed('prometheus_client')

v = init_framework('orders', stateful=False, base_plugins=True, otel=have_otel, metrics=have_metrics)
log = get_logger(v)


def process(order_id: str) -> str:
    log.info('processing order %s', order_id)  # carries the request's trace_id (and the job span's span_id)
    return order_id


def handle_request(order_id: str) -> str:
    log.info('request for order %s', order_id)
    return get_background_exec(v).submit(process, order_id).result(10)


if have_otel:
    from opentelemetry import trace

    with trace.get_tracer('orders').start_as_current_span('POST /orders'):
        handle_request('o-1')
else:
    print('opentelemetry is not installed: no trace ids (pip install "scitrera-app-framework[otel]")')
    handle_request('o-1')

if have_metrics:
    port = (health_server_address(v) or ('127.0.0.1', 0))[1]
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10) as resp:
        page = resp.read().decode()
    for line in page.splitlines():
        if line.startswith(('saf_jobs_completed_total', 'saf_ready')):
            print(line)
else:
    print('prometheus-client is not installed: no /metrics (pip install "scitrera-app-framework[metrics]")')
print(json.dumps({'otel': have_otel, 'metrics': have_metrics}))
print('observability example done')
