"""Instrumentation hooks: where the executors, the plugin registry and the shutdown phases report to metrics and
tracing (:mod:`.metrics`, the OpenTelemetry plugin) when those are switched on.

Every hook is None while nothing observes it; the instrumented code reads the module attribute and skips the
call, so switched-off observability costs one attribute read. Hooks are set by :mod:`.metrics` and
:mod:`scitrera_app_framework.ext_plugins.otel_plugin`, never by apps.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Optional

#: ``wrap(backend, fn) -> fn``: called in the submitting thread before a job is queued; may wrap the job function
#: (e.g. in a span whose parent is the submitter's span). Thread backend only (a wrapper would not cross processes).
JOB_WRAPPER: Optional[Callable[[str, Callable[..., Any]], Callable[..., Any]]] = None
#: True while a job wrapper or tracker is set (the executors' one check per submission)
JOBS_OBSERVED = False
#: ``track(backend, future, job name)``: called once a job was queued, with its Future (counters, duration)
JOB_TRACKER: Optional[Callable[[str, Any, str], None]] = None
#: ``observe(plugin name, extension point) -> context manager`` around a plugin's ``initialize``
PLUGIN_INIT: Optional[Callable[[str, str], ContextManager[Any]]] = None
#: ``phase(name, seconds)``: a shutdown phase ended after ``seconds``
SHUTDOWN_PHASE: Optional[Callable[[str, float], None]] = None

_job_wrappers: dict[str, Callable[[str, Callable[..., Any]], Callable[..., Any]]] = {}
_job_trackers: dict[str, Callable[[str, Any, str], None]] = {}
_plugin_inits: dict[str, Callable[[str, str], ContextManager[Any]]] = {}


def set_job_wrapper(owner: str, wrap: Optional[Callable[[str, Callable[..., Any]], Callable[..., Any]]]) -> None:
    """Add (or with None remove) ``owner``'s job wrapper; wrappers compose in the order they were added."""
    global JOB_WRAPPER, JOBS_OBSERVED
    _update(_job_wrappers, owner, wrap)
    wrappers = list(_job_wrappers.values())
    if not wrappers:
        JOB_WRAPPER = None
    elif len(wrappers) == 1:
        JOB_WRAPPER = wrappers[0]
    else:
        def chained(backend: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            for w in wrappers:
                fn = w(backend, fn)
            return fn
        JOB_WRAPPER = chained
    JOBS_OBSERVED = bool(_job_wrappers or _job_trackers)


def set_job_tracker(owner: str, track: Optional[Callable[[str, Any, str], None]]) -> None:
    """Add (or with None remove) ``owner``'s job tracker."""
    global JOB_TRACKER, JOBS_OBSERVED
    _update(_job_trackers, owner, track)
    trackers = list(_job_trackers.values())
    if not trackers:
        JOB_TRACKER = None
    elif len(trackers) == 1:
        JOB_TRACKER = trackers[0]
    else:
        def chained(backend: str, future: Any, name: str) -> None:
            for t in trackers:
                t(backend, future, name)
        JOB_TRACKER = chained
    JOBS_OBSERVED = bool(_job_wrappers or _job_trackers)


def set_plugin_init_observer(owner: str, observe: Optional[Callable[[str, str], ContextManager[Any]]]) -> None:
    """Add (or with None remove) ``owner``'s context manager factory around plugin initialization."""
    global PLUGIN_INIT
    _update(_plugin_inits, owner, observe)
    observers = list(_plugin_inits.values())
    if not observers:
        PLUGIN_INIT = None
    elif len(observers) == 1:
        PLUGIN_INIT = observers[0]
    else:
        @contextlib.contextmanager
        def chained(name: str, point: str) -> Any:
            with contextlib.ExitStack() as stack:
                for o in observers:
                    stack.enter_context(o(name, point))
                yield
        PLUGIN_INIT = chained


def set_shutdown_phase_observer(observe: Optional[Callable[[str, float], None]]) -> None:
    """Set (or with None clear) the shutdown phase observer (one: the metrics)."""
    global SHUTDOWN_PHASE
    SHUTDOWN_PHASE = observe


def _update(table: dict[str, Any], owner: str, fn: Any) -> None:
    if fn is None:
        table.pop(owner, None)
    else:
        table[owner] = fn


__all__ = ['JOB_WRAPPER', 'JOBS_OBSERVED', 'JOB_TRACKER', 'PLUGIN_INIT', 'SHUTDOWN_PHASE', 'set_job_wrapper',
           'set_job_tracker', 'set_plugin_init_observer', 'set_shutdown_phase_observer']
