"""Instrumentation hooks: where the executors, the plugin registry and the shutdown phases report to metrics and
tracing (:mod:`.metrics`, the OpenTelemetry plugin) when those are switched on.

Every hook is None while nothing observes it; the instrumented code reads the module attribute and skips the
call, so switched-off observability costs one attribute read. Hooks are set by :mod:`.metrics` and
:mod:`scitrera_app_framework.ext_plugins.otel_plugin`, never by apps.

One source goes the other way: a scrape of the metrics asks the queue depth readers (:func:`queue_depths`), which
the executor module registers when it is imported (:func:`set_queue_depth_reader`). So core reads the executor's
figures without importing the plugins built on it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Optional, TypeVar

_F = TypeVar('_F')

#: the background executors' backends (``SAF_JOB_BACKEND``), the ``backend`` given to the job hooks; the job metrics
#: start a series of each at 0
JOB_BACKENDS = ('thread', 'dask')

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
_queue_readers: dict[str, Callable[[Any], Optional[tuple[str, int]]]] = {}


def set_job_wrapper(owner: str, wrap: Optional[Callable[[str, Callable[..., Any]], Callable[..., Any]]]) -> None:
    """Add (or with None remove) ``owner``'s job wrapper; wrappers compose in the order they were added."""
    global JOB_WRAPPER, JOBS_OBSERVED
    JOB_WRAPPER = _combine(_job_wrappers, owner, wrap, _chain_wrappers)
    JOBS_OBSERVED = bool(_job_wrappers or _job_trackers)


def set_job_tracker(owner: str, track: Optional[Callable[[str, Any, str], None]]) -> None:
    """Add (or with None remove) ``owner``'s job tracker."""
    global JOB_TRACKER, JOBS_OBSERVED
    JOB_TRACKER = _combine(_job_trackers, owner, track, _chain_trackers)
    JOBS_OBSERVED = bool(_job_wrappers or _job_trackers)


def set_plugin_init_observer(owner: str, observe: Optional[Callable[[str, str], ContextManager[Any]]]) -> None:
    """Add (or with None remove) ``owner``'s context manager factory around plugin initialization."""
    global PLUGIN_INIT
    PLUGIN_INIT = _combine(_plugin_inits, owner, observe, _chain_observers)


def _combine(table: dict[str, _F], owner: str, fn: Optional[_F], chain: Callable[[list[_F]], _F]) -> Optional[_F]:
    """Update ``owner``'s entry of ``table``; the hook to publish: None, the one entry, or ``chain`` of them all."""
    if fn is None:
        table.pop(owner, None)
    else:
        table[owner] = fn
    entries = list(table.values())
    if not entries:
        return None
    return entries[0] if len(entries) == 1 else chain(entries)


def _chain_wrappers(wrappers: list[Callable[[str, Callable[..., Any]], Callable[..., Any]]]
                    ) -> Callable[[str, Callable[..., Any]], Callable[..., Any]]:
    def chained(backend: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        for w in wrappers:
            fn = w(backend, fn)
        return fn
    return chained


def _chain_trackers(trackers: list[Callable[[str, Any, str], None]]) -> Callable[[str, Any, str], None]:
    def chained(backend: str, future: Any, name: str) -> None:
        for t in trackers:
            t(backend, future, name)
    return chained


def _chain_observers(observers: list[Callable[[str, str], ContextManager[Any]]]
                     ) -> Callable[[str, str], ContextManager[Any]]:
    @contextlib.contextmanager
    def chained(name: str, point: str) -> Any:
        with contextlib.ExitStack() as stack:
            for o in observers:
                stack.enter_context(o(name, point))
            yield
    return chained


def set_shutdown_phase_observer(observe: Optional[Callable[[str, float], None]]) -> None:
    """Set (or with None clear) the shutdown phase observer (one: the metrics)."""
    global SHUTDOWN_PHASE
    SHUTDOWN_PHASE = observe


def set_queue_depth_reader(owner: str, read: Optional[Callable[[Any], Optional[tuple[str, int]]]]) -> None:
    """Add (or with None remove) ``owner``'s queue depth reader: ``read(v)`` returns ``(backend, jobs waiting for a
    worker)`` of the app of ``v``'s executor, or None when it has none ready (a read never creates one)."""
    if read is None:
        _queue_readers.pop(owner, None)
    else:
        _queue_readers[owner] = read


def queue_depths(v: Any) -> list[tuple[str, int]]:
    """The ``(backend, jobs waiting)`` of each reader that has a figure for the app of ``v``; a reader that raises
    (an executor shutting down) gives none."""
    out = []
    for read in list(_queue_readers.values()):
        try:
            depth = read(v)
        except Exception:  # no figure rather than a failed scrape
            continue
        if depth is not None:
            out.append(depth)
    return out


__all__ = ['JOB_WRAPPER', 'JOBS_OBSERVED', 'JOB_TRACKER', 'PLUGIN_INIT', 'SHUTDOWN_PHASE',
           'set_job_wrapper', 'set_job_tracker', 'set_plugin_init_observer', 'set_shutdown_phase_observer',
           'set_queue_depth_reader', 'queue_depths']
