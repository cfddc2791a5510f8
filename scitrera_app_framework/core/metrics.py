"""Prometheus metrics of the framework (``saf_*``) and :func:`render_metrics`, the ``/metrics`` page.

Switched on by ``init_framework(..., metrics=True)`` or ``SAF_METRICS_ENABLED=true`` (needs ``prometheus-client``:
extra ``metrics``); off, nothing here runs and ``prometheus_client`` is never imported. The framework's metrics are
registered in prometheus-client's default registry, so the app's own metrics, registered the usual way
(``Counter('orders_total', ...)``), are on the same page.

Metrics (no label ever holds a configuration value, so no secret can appear in one):

- ``saf_ready`` (gauge, 1/0), ``saf_plugins{state}`` (plugins per registry state),
  ``saf_plugin_init_seconds{plugin, extension_point}`` (how long each initialized plugin's ``initialize`` took),
  ``saf_executor_queue_depth{backend}`` (jobs waiting for a worker): read from the app when scraped;
- ``saf_jobs_submitted_total{backend}``, ``saf_jobs_completed_total{backend}``, ``saf_jobs_failed_total{backend}``
  (cancelled jobs count in neither of the last two), ``saf_job_duration_seconds{backend}`` (histogram, from
  submission to the end of the job: queueing included);
- ``saf_log_records_total{level}``: records that reached the root logger's handlers (with ``fixed_logger``: the
  app logger's, so the host's root logger gets no handler);
- ``saf_shutdown_phase_seconds{phase}``: how long each shutdown phase of the last shutdown took.

Multiprocess mode (gunicorn with several workers): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared
by the workers before they start (prometheus-client's own convention). Counters and histograms of every worker are
then summed by :func:`render_metrics` in whichever worker answers the scrape; the gauges read from the app when
scraped (ready, plugins, queue depth, plugin initialization seconds) are that worker's. Call
``prometheus_client.multiprocess.mark_process_dead(worker.pid)`` from gunicorn's ``child_exit`` hook.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator, Optional

from ..exceptions import ConfigurationError
from . import instrument

if TYPE_CHECKING:  # pragma: no cover
    from ..api.variables import Variables

METRICS_VAR = 'SAF_METRICS_ENABLED'
MULTIPROC_DIR_VAR = 'PROMETHEUS_MULTIPROC_DIR'
_OWNER = 'metrics'
_LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')


class MetricsUnavailableError(ConfigurationError):
    """Metrics were switched on (``SAF_METRICS_ENABLED`` / ``metrics=True``) but ``prometheus-client`` is not installed;
    the message names the switch and the extra to install."""


class _State:
    __slots__ = ('v', 'jobs_submitted', 'jobs_completed', 'jobs_failed', 'job_seconds', 'log_records',
                 'shutdown_seconds', 'collector', 'log_handler', 'log_target', 'registered')

    def __init__(self) -> None:
        self.v: Optional[Variables] = None
        self.jobs_submitted: Any = None
        self.jobs_completed: Any = None
        self.jobs_failed: Any = None
        self.job_seconds: Any = None
        self.log_records: Any = None
        self.shutdown_seconds: Any = None
        self.registered: list[Any] = []
        self.collector: Any = None
        self.log_handler: Optional[logging.Handler] = None
        self.log_target: Optional[logging.Logger] = None


_state: Optional[_State] = None
_lock = threading.RLock()


def metrics_enabled() -> bool:
    """True while the framework's metrics are on (:func:`enable_metrics`)."""
    return _state is not None


def _import_prometheus(source: str) -> Any:
    try:
        import prometheus_client
    except ImportError as e:
        raise MetricsUnavailableError(
            f"{source} switches the Prometheus metrics on, but prometheus-client cannot be imported ({e}): install "
            f"it with pip install 'scitrera-app-framework[metrics]', or switch metrics off") from e
    return prometheus_client


def enable_metrics(v: Optional[Variables] = None, source: str = 'enable_metrics()') -> None:
    """Switch the framework's metrics on for the app of ``v`` (idempotent; a second app replaces the first as the
    one whose state is read when scraped). Returns None.

    Raises:
        MetricsUnavailableError: ``prometheus-client`` is not installed (``source`` names the switch).
    """
    global _state
    pc = _import_prometheus(source)
    from .defaults import get_variables
    v = get_variables(v)
    with _lock:
        if _state is not None:
            _state.v = v
            return
        st = _State()
        st.v = v
        labels = ('backend',)
        st.jobs_submitted = pc.Counter('saf_jobs_submitted', 'Background jobs queued', labels)
        st.jobs_completed = pc.Counter('saf_jobs_completed', 'Background jobs that returned', labels)
        st.jobs_failed = pc.Counter('saf_jobs_failed', 'Background jobs that raised', labels)
        st.job_seconds = pc.Histogram('saf_job_duration_seconds',
                                      'Seconds from the submission of a background job to its end', labels)
        st.log_records = pc.Counter('saf_log_records', 'Log records handled by the root logger, by level',
                                    ('level',))
        st.shutdown_seconds = pc.Gauge('saf_shutdown_phase_seconds', 'Seconds each phase of the last shutdown took',
                                       ('phase',), multiprocess_mode='max')
        st.registered = [st.jobs_submitted, st.jobs_completed, st.jobs_failed, st.job_seconds, st.log_records,
                         st.shutdown_seconds]
        for backend in instrument.JOB_BACKENDS:  # every series from 0, so rate() and increase() see the first job
            for metric in (st.jobs_submitted, st.jobs_completed, st.jobs_failed, st.job_seconds):
                metric.labels(backend)
        st.collector = _AppCollector(st)
        pc.REGISTRY.register(st.collector)
        children = {name: st.log_records.labels(name) for name in _LEVELS}
        st.log_handler = _LogCounter(children, st.log_records)
        st.log_target = _count_logs_on(v)
        st.log_target.addHandler(st.log_handler)
        _state = st
        instrument.set_job_tracker(_OWNER, _track_job)
        instrument.set_shutdown_phase_observer(_shutdown_phase)


def _count_logs_on(v: Variables) -> logging.Logger:
    """Where ``saf_log_records_total`` counts: the root logger when the framework's handler is on it; with
    ``fixed_logger`` (the host's logging is left alone, and a handler on its root logger would make a later
    ``logging.basicConfig`` do nothing) the app logger."""
    from .context import get_app_context
    from .logs import find_framework_handler
    if find_framework_handler() is not None:
        return logging.getLogger()
    app_logger = get_app_context(v).logger
    return app_logger if app_logger is not None else logging.getLogger('SAF')


def disable_metrics() -> None:
    """Switch the framework's metrics off and unregister them (tests; an app does not need it). Returns None."""
    global _state
    with _lock:
        st = _state
        if st is None:
            return
        _state = None
        instrument.set_job_tracker(_OWNER, None)
        instrument.set_shutdown_phase_observer(None)
        if st.log_handler is not None and st.log_target is not None:
            st.log_target.removeHandler(st.log_handler)
        import prometheus_client as pc
        for metric in [*st.registered, st.collector]:
            try:
                pc.REGISTRY.unregister(metric)
            except KeyError:
                pass


def enable_metrics_from_env(v: Variables, default: Any = False) -> bool:
    """Switch metrics on when ``SAF_METRICS_ENABLED`` (default ``default``, init_framework's ``metrics=``) is true;
    returns whether they are on.

    Raises:
        MetricsUnavailableError: switched on without prometheus-client installed.
        VariableTypeError: ``SAF_METRICS_ENABLED`` is not a boolean.
    """
    from ..util.parsing import parse_bool_strict
    if not v.environ(METRICS_VAR, default=default, type_fn=parse_bool_strict):
        return False
    enable_metrics(v, source=f'{METRICS_VAR}=true (or init_framework(metrics=True))')
    return True


def render_metrics(v: Optional[Variables] = None) -> tuple[bytes, str]:
    """The ``/metrics`` page: ``(body, content type)`` in the Prometheus text format.

    prometheus-client's default registry (the framework's metrics and the app's own), or with
    ``PROMETHEUS_MULTIPROC_DIR`` set the metrics of every process written there plus this process's app
    gauges. Mount it in any web framework: ``body, ctype = render_metrics()``.

    Raises:
        MetricsUnavailableError: prometheus-client is not installed.
    """
    pc = _import_prometheus('render_metrics()')
    if os.environ.get(MULTIPROC_DIR_VAR):
        from prometheus_client import multiprocess
        registry = pc.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        st = _state
        if st is not None:
            registry.register(_AppCollector(st))
        return pc.generate_latest(registry), str(pc.CONTENT_TYPE_LATEST)
    return pc.generate_latest(pc.REGISTRY), str(pc.CONTENT_TYPE_LATEST)


def metrics_response(v: Optional[Variables] = None) -> tuple[int, bytes, str]:
    """``(HTTP status, body, content type)`` for a ``/metrics`` request: 200 and :func:`render_metrics` while
    metrics are on, else 404 with a text body saying how to switch them on."""
    if _state is None:
        body = (f'metrics are off: set {METRICS_VAR}=true (or init_framework(..., metrics=True)) and install '
                f"prometheus-client (pip install 'scitrera-app-framework[metrics]')\n").encode()
        return 404, body, 'text/plain; charset=utf-8'
    body, ctype = render_metrics(v)
    return 200, body, ctype


# ----------------------------------------------------------------------------------------------------------------
# what the hooks do


def _track_job(backend: str, future: Any, name: str) -> None:
    st = _state
    if st is None:
        return
    t0 = time.monotonic()
    st.jobs_submitted.labels(backend).inc()

    def done(f: Any) -> None:
        s = _state
        if s is None or f.cancelled():
            return
        try:
            failed = f.exception() is not None
        except BaseException:  # noqa: B036 - cancelled meanwhile, or the Future's own failure
            return
        (s.jobs_failed if failed else s.jobs_completed).labels(backend).inc()
        s.job_seconds.labels(backend).observe(time.monotonic() - t0)

    future.add_done_callback(done)


def _shutdown_phase(phase: str, seconds: float) -> None:
    st = _state
    if st is not None and phase:
        st.shutdown_seconds.labels(phase).set(seconds)


class _LogCounter(logging.Handler):
    """Counts the records the root logger hands to its handlers (writes nothing)."""

    def __init__(self, children: dict[str, Any], counter: Any) -> None:
        super().__init__(logging.NOTSET)
        self._children = children
        self._counter = counter

    def handle(self, record: logging.LogRecord) -> bool:
        child = self._children.get(record.levelname)
        if child is None:
            child = self._counter.labels(str(record.levelname)[:40])
        child.inc()
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does the work
        self.handle(record)


class _AppCollector:
    """The gauges read from the app when scraped: ready, plugins by state, plugin initialization seconds, the
    executor's queue depth."""

    def __init__(self, st: _State) -> None:
        self._st = st

    def describe(self) -> list[Any]:
        return []  # collected at scrape time only (no names reserved at registration)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        v = self._st.v
        if v is None:
            return
        from .health import is_ready
        from .plugins import describe_plugins
        yield GaugeMetricFamily('saf_ready', '1 while the app is ready (the /readyz probe), else 0',
                                value=1.0 if is_ready(v) else 0.0)
        plugins = describe_plugins(v)
        by_state = GaugeMetricFamily('saf_plugins', 'Registered plugins by state', labels=('state',))
        counts: dict[str, int] = {}
        for p in plugins:
            counts[str(p['state'])] = counts.get(str(p['state']), 0) + 1
        for state in ('registered', 'initializing', 'initialized', 'failed', 'shut down'):
            counts.setdefault(state, 0)
        for state, n in sorted(counts.items()):
            by_state.add_metric((state,), float(n))
        yield by_state
        init = GaugeMetricFamily('saf_plugin_init_seconds', 'Seconds the initialize of each initialized plugin took',
                                 labels=('plugin', 'extension_point'))
        for p in plugins:
            if p.get('init_ms') is not None:
                init.add_metric((str(p['name']), str(p['extension_point'])), float(p['init_ms']) / 1000.0)
        yield init
        depth = GaugeMetricFamily('saf_executor_queue_depth', 'Background jobs waiting for a worker',
                                  labels=('backend',))
        for backend, waiting in instrument.queue_depths(v):  # the executor's reader (core.instrument)
            depth.add_metric((backend,), float(waiting))
        yield depth


__all__ = ['METRICS_VAR', 'MULTIPROC_DIR_VAR', 'MetricsUnavailableError', 'metrics_enabled',
           'enable_metrics', 'disable_metrics', 'enable_metrics_from_env', 'render_metrics', 'metrics_response']
