"""OpenTelemetry trace ids for log records, and the trace context that follows a job to another process.

Nothing here imports OpenTelemetry at import time, and nothing here needs it: when ``opentelemetry-api`` is not
installed, :func:`tracing_available` is False (decided once per process, the first time a formatter asks) and the
formatters never look for a span. When it is installed, the trace source binds itself the first time a record is
formatted after the app (or the framework's OpenTelemetry plugin) imported ``opentelemetry.trace``; before that no
span can be active, and a record only checks ``sys.modules`` for it.

The per-record work while no span is active is one ``ContextVar.get`` (OpenTelemetry's own context variable, used
only after a self-check shows that it is what ``opentelemetry.context.get_current()`` reads; otherwise that public
function is called). While a span is active :data:`TRACE` gives the W3C ids: ``trace_id`` (32 lowercase hex
digits) and ``span_id`` (16).

Threads: OpenTelemetry keeps its context in a :mod:`contextvars` variable, so the background executor's thread
backend (which runs every job in a copy of the submitter's context) carries it as it is. Processes (the Dask
backend): :func:`trace_carrier` gives the W3C ``traceparent`` text of the active span on the submitting side and
:func:`attached_trace` makes it the (remote) parent context on the worker while the job runs.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from typing import Any, Callable, Iterator, Optional

#: the JSON fields (and plain-format placeholders) the trace ids are written as
TRACE_FIELDS: tuple[str, str] = ('trace_id', 'span_id')

_TRACEPARENT = re.compile(r'00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})')


class TraceSource:
    """Where the formatters get the active span's ids from (one instance: :data:`TRACE`).

    ``available``: ``opentelemetry-api`` is installed (decided once by :meth:`decide`). ``probe``: None until
    bound, then a zero-argument callable returning the current OpenTelemetry context (falsy when it is empty, so
    no span is active). :meth:`ids` returns ``(trace_id, span_id)`` as W3C hex, or None.
    """

    __slots__ = ('available', 'decided', 'probe', '_key', '_last', '_lock')

    def __init__(self) -> None:
        self.available = False
        self.decided = False
        self.probe: Optional[Callable[[], Any]] = None
        self._key: Optional[str] = None
        self._last: tuple[Any, Optional[tuple[str, str]]] = (None, None)  # (span context, its ids), swapped whole
        self._lock = threading.Lock()

    def decide(self) -> bool:
        """Decide (once per process) whether ``opentelemetry-api`` is installed; returns :attr:`available`."""
        if not self.decided:
            self.available = _api_installed()
            self.decided = True
        return self.available

    def ids(self) -> Optional[tuple[str, str]]:
        """``(trace_id, span_id)`` of the active span (W3C lowercase hex), or None when none is active (or
        OpenTelemetry is not installed or not imported yet). Never raises."""
        probe = self.probe
        if probe is None:
            if not self.available or 'opentelemetry.trace' not in sys.modules or not self.bind():
                return None
            probe = self.probe
            if probe is None:
                return None
        try:
            ctx = probe()
            if not ctx:
                return None
            span = ctx.get(self._key)
            if span is None:
                return None
            sc = span.get_span_context()
            last = self._last
            if last[0] is sc:
                return last[1]
            ids = (f'{sc.trace_id:032x}', f'{sc.span_id:016x}') if sc.is_valid else None
            self._last = (sc, ids)
            return ids
        except Exception:  # an odd span or context object: no ids rather than a failed record
            return None

    def bind(self) -> bool:
        """Find OpenTelemetry's context variable and the span key (``opentelemetry.trace`` is imported by now);
        True when bound."""
        with self._lock:
            if self.probe is not None:
                return True
            try:
                from opentelemetry import context as otel_context
                from opentelemetry import trace as otel_trace
            except Exception:
                self.available = False
                return False
            keys = list(otel_trace.set_span_in_context(otel_trace.INVALID_SPAN, otel_context.Context()))
            if len(keys) != 1:
                self.available = False
                return False
            self._key = keys[0]
            self.probe = _fast_probe(otel_context) or otel_context.get_current
            return True

    def reset(self) -> None:
        """Forget the binding and the decision (tests)."""
        with self._lock:
            self.available = self.decided = False
            self.probe = None
            self._key = None
            self._last = (None, None)


def _api_installed() -> bool:
    """True when ``opentelemetry.trace`` can be imported; looks at the files only (imports nothing, not even the
    ``opentelemetry`` namespace package)."""
    import importlib.util
    import os
    try:
        spec = importlib.util.find_spec('opentelemetry')
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    return any(os.path.exists(os.path.join(str(path), 'trace', '__init__.py'))
               for path in (spec.submodule_search_locations or ()))


def _fast_probe(otel_context: Any) -> Optional[Callable[[], Any]]:
    """``ContextVar.get`` of OpenTelemetry's runtime context when it is a context variable and provably the one
    ``get_current()`` reads (a marker context attached, read back, detached); None otherwise."""
    import contextvars
    runtime = getattr(otel_context, '_RUNTIME_CONTEXT', None)
    var = getattr(runtime, '_current_context', None)
    if not isinstance(var, contextvars.ContextVar):
        return None
    marker = otel_context.set_value('saf-trace-probe', True, otel_context.Context())
    token = otel_context.attach(marker)
    try:
        same = var.get() is marker and otel_context.get_current() is marker
    finally:
        otel_context.detach(token)
    if not same or var.get() is not otel_context.get_current():
        return None
    return var.get


#: the process's trace source (the formatters read it)
TRACE = TraceSource()


def tracing_available() -> bool:
    """True when ``opentelemetry-api`` is installed (decided once per process; imports nothing of it)."""
    return TRACE.decide()


def current_trace_ids() -> Optional[tuple[str, str]]:
    """``(trace_id, span_id)`` of the active OpenTelemetry span as W3C lowercase hex, or None."""
    if not TRACE.decide():
        return None
    return TRACE.ids()


def trace_carrier() -> Optional[str]:
    """The W3C ``traceparent`` of the active span (``00-<trace>-<span>-<flags>``), or None when none is active;
    what :func:`attached_trace` takes on the other side of a process boundary."""
    if not TRACE.decide() or 'opentelemetry.trace' not in sys.modules:
        return None
    try:
        from opentelemetry import trace as otel_trace
        sc = otel_trace.get_current_span().get_span_context()
        if not sc.is_valid:
            return None
        return f'00-{sc.trace_id:032x}-{sc.span_id:016x}-{int(sc.trace_flags) & 0xff:02x}'
    except Exception:
        return None


def parse_traceparent(text: Any) -> Optional[tuple[int, int, int]]:
    """``(trace_id, span_id, flags)`` of a W3C ``traceparent`` (version 00); None when malformed or all-zero."""
    if not isinstance(text, str):
        return None
    m = _TRACEPARENT.fullmatch(text.strip())
    if m is None:
        return None
    trace_id, span_id, flags = int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, flags


@contextlib.contextmanager
def attached_trace(carrier: Optional[str]) -> Iterator[None]:
    """Make the span of a ``traceparent`` (from :func:`trace_carrier`) the current, remote parent span inside
    the block, so records logged there carry its trace id. Without a valid carrier or without OpenTelemetry
    installed it does nothing."""
    parsed = parse_traceparent(carrier) if carrier else None
    if parsed is None or not tracing_available():
        yield
        return
    try:
        from opentelemetry import context as otel_context
        from opentelemetry import trace as otel_trace
        sc = otel_trace.SpanContext(trace_id=parsed[0], span_id=parsed[1], is_remote=True,
                                    trace_flags=otel_trace.TraceFlags(parsed[2]))
        token = otel_context.attach(otel_trace.set_span_in_context(otel_trace.NonRecordingSpan(sc)))
    except Exception:
        yield
        return
    try:
        yield
    finally:
        otel_context.detach(token)


__all__ = ['TRACE_FIELDS', 'TraceSource', 'TRACE', 'tracing_available', 'current_trace_ids', 'trace_carrier',
           'parse_traceparent', 'attached_trace']
