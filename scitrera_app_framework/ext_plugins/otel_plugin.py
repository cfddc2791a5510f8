"""Tracing with OpenTelemetry: :class:`OTelPlugin` sets up the SDK's tracer provider from the standard ``OTEL_*``
variables, and traces background jobs and plugin initialization.

Switched on by ``init_framework(..., otel=True)`` or ``SAF_OTEL_ENABLED=true`` (extra ``otel``:
``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp``). Settings, read from the app's :class:`Variables` (the
process environment first, as usual):

- ``OTEL_SDK_DISABLED=true``: no provider is set up (the plugin's value is None);
- ``OTEL_SERVICE_NAME`` (default: the app name), ``OTEL_RESOURCE_ATTRIBUTES`` (``key=value,...``; a secret-named
  key's value is masked), ``service.version`` from ``BUILD_CONTAINER_VERSION`` (default ``DEV``);
- ``OTEL_TRACES_EXPORTER``: ``otlp`` (default), ``console`` (JSON spans on stdout) or ``none`` (spans are made,
  so log lines carry trace ids, but not exported); a comma-separated list sets up several;
- ``OTEL_EXPORTER_OTLP_PROTOCOL`` (or ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``): ``http/protobuf`` (default) or
  ``grpc``; the endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), headers and
  timeout are read by the exporter itself, from the process environment, as the SDK documents;
- ``SAF_OTEL_JOB_SPANS`` (default true): a span ``job <name>`` around each background job, child of the span
  that was active when it was submitted: in the worker thread for the thread backend (the job's log lines carry
  it); for the Dask backend made by the submitting process, from submission to the end of the job (the job's log
  lines on the worker carry the submitter's span, whose context crosses to the worker);
- ``SAF_OTEL_PLUGIN_SPANS`` (default true): a span ``plugin.initialize <extension point>`` around the
  initialization of each plugin initialized after this one (``init_framework`` initializes it first);
- ``SAF_OTEL_SHUTDOWN_TIMEOUT`` (seconds, default 5): the bound on flushing and shutting down the provider in the
  plugin shutdown phase.

The tracer provider is set once per process: when the app has set one already, that one is used (and left to the
app to shut down). Span attributes set by the framework are names only (job function, plugin, extension point,
backend), never configuration values.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import unquote

from ..api.plugins import Plugin
from ..core import instrument
from ..exceptions import ConfigurationError
from ..util.parsing import parse_bool_strict
from ..util.secrets import MASK, is_secret_key, mask_text, mask_url_credentials

if TYPE_CHECKING:  # pragma: no cover
    from ..api.variables import Variables

EXT_OTEL = 'otel'
INSTALL_HINT = "pip install 'scitrera-app-framework[otel]'"
EXPORTERS = ('otlp', 'console', 'none')
PROTOCOLS = ('http/protobuf', 'grpc')
DEFAULT_SHUTDOWN_TIMEOUT = 5.0
_OWNER = 'otel'
_TRACER_NAME = 'scitrera_app_framework'


class OTelConfigError(ConfigurationError):
    """An ``OTEL_*`` / ``SAF_OTEL_*`` setting is invalid; the message names the variable, its value and the choices."""


def parse_exporters(value: Any) -> tuple[str, ...]:
    """Parse ``OTEL_TRACES_EXPORTER``: a comma-separated list of ``otlp``, ``console``, ``none`` (empty: otlp).

    Raises:
        OTelConfigError: an unknown exporter (names it and the choices).
    """
    names = tuple(dict.fromkeys(p.strip().lower() for p in str(value or '').split(',') if p.strip())) or ('otlp',)
    bad = [n for n in names if n not in EXPORTERS]
    if bad:
        raise OTelConfigError(f'OTEL_TRACES_EXPORTER={str(value)[:80]!r}: unknown exporter {bad[0]!r}; use '
                              f'{", ".join(EXPORTERS)} (a comma-separated list for several)')
    if 'none' in names:
        return ()
    return names


def parse_protocol(value: Any, variable: str = 'OTEL_EXPORTER_OTLP_PROTOCOL') -> str:
    """Parse the OTLP protocol: ``http/protobuf`` (default when empty) or ``grpc``.

    Raises:
        OTelConfigError: another value (names the variable).
    """
    text = str(value or '').strip().lower() or 'http/protobuf'
    if text not in PROTOCOLS:
        raise OTelConfigError(f'{variable}={str(value)[:80]!r} is not supported; use one of {", ".join(PROTOCOLS)}')
    return text


def parse_resource_attributes(value: Any) -> dict[str, str]:
    """Parse ``OTEL_RESOURCE_ATTRIBUTES`` (``key=value,key2=value2``, percent-encoded) into a dict; the value of a
    secret-named key is masked.

    Raises:
        OTelConfigError: an entry without ``=`` or with an empty key (names the entry, not its value).
    """
    out: dict[str, str] = {}
    for i, part in enumerate(str(value or '').split(',')):
        if not part.strip():
            continue
        key, sep, val = part.partition('=')
        key = unquote(key.strip())
        if not sep or not key:
            raise OTelConfigError(f'OTEL_RESOURCE_ATTRIBUTES: entry {i + 1} is not key=value (write '
                                  f'key1=value1,key2=value2, percent-encoding "," and "=" inside values)')
        val = unquote(val.strip())
        out[key] = MASK if is_secret_key(key) and val else val
    return out


def _seconds(value: Any) -> float:
    t = float(value)
    if not t >= 0:
        raise ValueError('expected seconds >= 0, e.g. 5')
    return t


class OTelPlugin(Plugin[Any]):
    """Sets up OpenTelemetry tracing (see the module docstring); its value is the ``TracerProvider`` in use (None
    when ``OTEL_SDK_DISABLED``)."""

    eager = True

    def __init__(self) -> None:
        super().__init__()
        self._owned: Any = None  # the provider this plugin set (and shuts down)
        self._timeout = DEFAULT_SHUTDOWN_TIMEOUT

    def name(self) -> str:
        return EXT_OTEL

    def extension_point_name(self, v: Variables) -> str:
        return EXT_OTEL

    def initialize(self, v: Variables, logger: logging.Logger) -> Any:
        if v.environ('OTEL_SDK_DISABLED', default=False, type_fn=parse_bool_strict):
            logger.info('OpenTelemetry is disabled (OTEL_SDK_DISABLED=true): no tracer provider set up')
            return None
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
        except ImportError as e:
            logger.warning('OpenTelemetry tracing is switched on but the SDK cannot be imported (%s): install it '
                           'with %s; continuing without tracing', e, INSTALL_HINT)
            return None
        exporters = v.environ('OTEL_TRACES_EXPORTER', default='otlp', type_fn=parse_exporters)
        self._timeout = float(v.environ('SAF_OTEL_SHUTDOWN_TIMEOUT', default=DEFAULT_SHUTDOWN_TIMEOUT,
                                        type_fn=_seconds))  # read now: a bad value fails at start, not at exit
        job_spans = v.environ('SAF_OTEL_JOB_SPANS', default=True, type_fn=parse_bool_strict)
        plugin_spans = v.environ('SAF_OTEL_PLUGIN_SPANS', default=True, type_fn=parse_bool_strict)
        current = trace.get_tracer_provider()
        if not isinstance(current, trace.ProxyTracerProvider):
            logger.info('a tracer provider is already set (%s): using it; OTEL_TRACES_EXPORTER and the resource '
                        'settings are left to it', type(current).__name__)
            provider = current
        else:
            provider = TracerProvider(resource=Resource.create(self._resource_attributes(v)))
            for name in exporters:
                provider.add_span_processor(self._processor(v, name))
            trace.set_tracer_provider(provider)
            if trace.get_tracer_provider() is not provider:  # set concurrently by someone else: theirs wins
                provider.shutdown()
                provider = trace.get_tracer_provider()
            else:
                self._owned = provider
                logger.info('OpenTelemetry tracing: service %s, exporter(s) %s', self._service_name(v),
                            ', '.join(self._describe(v, n) for n in exporters) or 'none')
        tracer = provider.get_tracer(_TRACER_NAME)
        if job_spans:
            instrument.set_job_wrapper(_OWNER, _job_wrapper(tracer))
            instrument.set_job_tracker(_OWNER, _remote_job_tracker(tracer))
        if plugin_spans:
            instrument.set_plugin_init_observer(_OWNER, _plugin_span(tracer))
        return provider

    def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
        instrument.set_job_wrapper(_OWNER, None)
        instrument.set_job_tracker(_OWNER, None)
        instrument.set_plugin_init_observer(_OWNER, None)
        provider, self._owned = self._owned, None
        if provider is None:
            return
        timeout = self._timeout
        if not _bounded(lambda: _flush_and_shutdown(provider, timeout), timeout):
            logger.warning('OpenTelemetry: flushing the spans did not finish within %gs (SAF_OTEL_SHUTDOWN_TIMEOUT); '
                           'spans not exported yet are lost (is the collector at OTEL_EXPORTER_OTLP_ENDPOINT up?)',
                           timeout)

    # --- set-up ----------------------------------------------------------------------------------------------
    @staticmethod
    def _service_name(v: Variables) -> str:
        from ..core.context import get_app_context
        name = v.environ('OTEL_SERVICE_NAME', default='')
        return str(name).strip() or get_app_context(v).app_name or str(v.get('SAF_BASE_APP_NAME') or 'app')

    def _resource_attributes(self, v: Variables) -> dict[str, str]:
        attrs = {'service.version': str(v.environ('BUILD_CONTAINER_VERSION', default='DEV'))}
        attrs.update(v.environ('OTEL_RESOURCE_ATTRIBUTES', default='', type_fn=parse_resource_attributes))
        explicit = str(v.environ('OTEL_SERVICE_NAME', default='') or '').strip()
        if explicit or 'service.name' not in attrs:
            attrs['service.name'] = self._service_name(v)
        return attrs

    @staticmethod
    def _protocol(v: Variables) -> str:
        for variable in ('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'):
            raw = v.environ(variable, default='')
            if str(raw or '').strip():
                return parse_protocol(raw, variable)
        return 'http/protobuf'

    def _processor(self, v: Variables, name: str) -> Any:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
        if name == 'console':
            return SimpleSpanProcessor(ConsoleSpanExporter())
        protocol = self._protocol(v)
        try:
            if protocol == 'grpc':
                from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            else:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore
        except ImportError as e:
            raise OTelConfigError(f'OTEL_TRACES_EXPORTER=otlp with protocol {protocol} needs the OTLP exporter, '
                                  f'which cannot be imported ({e}): install it with {INSTALL_HINT}, or set '
                                  f'OTEL_TRACES_EXPORTER=console or none') from e
        return BatchSpanProcessor(OTLPSpanExporter())

    def _describe(self, v: Variables, name: str) -> str:
        if name != 'otlp':
            return name
        endpoint = v.get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') or v.get('OTEL_EXPORTER_OTLP_ENDPOINT') or 'default'
        return f'otlp ({self._protocol(v)} to {mask_url_credentials(str(endpoint))})'


def _flush_and_shutdown(provider: Any, timeout: float) -> None:
    provider.force_flush(int(timeout * 1000))
    provider.shutdown()


def _bounded(fn: Callable[[], Any], timeout: float) -> bool:
    """Run ``fn`` in a daemon thread; True when it finished within ``timeout`` seconds (0: no limit)."""
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception as e:  # an exporter failing at exit: reported, not raised
            logging.getLogger('saf.otel').warning('OpenTelemetry shutdown failed: %s: %s', type(e).__name__, e)
        finally:
            done.set()

    threading.Thread(target=run, name='saf-otel-shutdown', daemon=True).start()
    return done.wait(timeout if timeout > 0 else None)


def _job_wrapper(tracer: Any) -> Callable[[str, Callable[..., Any]], Callable[..., Any]]:
    from opentelemetry import context as otel_context
    from opentelemetry.trace import Status, StatusCode

    from ..base_plugins.background import job_name

    def wrap(backend: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if backend != 'thread':  # a wrapper does not cross processes: the traceparent does (see the docstring)
            return fn
        parent = otel_context.get_current()
        label = job_name(fn)

        def traced(*args: Any, **kwargs: Any) -> Any:
            with tracer.start_as_current_span(f'job {label}', context=parent, record_exception=False,
                                              set_status_on_exception=False,
                                              attributes={'saf.job.name': label, 'saf.job.backend': backend}) as span:
                try:
                    return fn(*args, **kwargs)
                except BaseException as e:
                    span.set_status(Status(StatusCode.ERROR, type(e).__name__))
                    span.record_exception(e, attributes=_masked_exception(e))
                    raise

        traced.__qualname__ = label  # job_name(traced) == job_name(fn): the executor's log lines stay the same
        traced.__module__ = None  # type: ignore[assignment]
        return traced

    return wrap


def _remote_job_tracker(tracer: Any) -> Callable[[str, Any, str], None]:
    """Jobs of a backend that runs them in other processes (Dask): a span ``job <name>`` from submission to the
    end of the job, made here, child of the submitter's span (the worker's log lines carry the submitter's
    trace through the W3C ``traceparent``)."""
    from opentelemetry.trace import Status, StatusCode

    def track(backend: str, future: Any, label: str) -> None:
        if backend == 'thread':  # spanned in the worker thread by the wrapper
            return
        span = tracer.start_span(f'job {label}', attributes={'saf.job.name': label, 'saf.job.backend': backend})

        def done(f: Any) -> None:
            try:
                if f.cancelled():
                    span.set_attribute('saf.job.cancelled', True)
                else:
                    error = f.exception()
                    if error is not None:
                        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                        span.record_exception(error, attributes=_masked_exception(error))
            finally:
                span.end()

        future.add_done_callback(done)

    return track


def _masked_exception(e: BaseException) -> dict[str, str]:
    """The exception event's message and stack trace with secrets masked (``password=...``, URL credentials)."""
    import traceback
    text = ''.join(traceback.format_exception(type(e), e, e.__traceback__))
    return {'exception.message': mask_text(str(e))[:1000], 'exception.stacktrace': mask_text(text)[-20000:]}


def _plugin_span(tracer: Any) -> Callable[[str, str], Any]:
    @contextlib.contextmanager
    def observe(name: str, point: str) -> Iterator[None]:
        from opentelemetry.trace import Status, StatusCode
        with tracer.start_as_current_span(f'plugin.initialize {point}', record_exception=False,
                                          set_status_on_exception=False,
                                          attributes={'saf.plugin.name': name, 'saf.plugin.extension_point': point}
                                          ) as span:
            try:
                yield
            except BaseException as e:
                span.set_status(Status(StatusCode.ERROR, type(e).__name__))
                raise
    return observe


__all__ = ['OTelPlugin', 'OTelConfigError', 'EXT_OTEL', 'EXPORTERS', 'PROTOCOLS', 'DEFAULT_SHUTDOWN_TIMEOUT',
           'INSTALL_HINT', 'parse_exporters', 'parse_protocol', 'parse_resource_attributes']
