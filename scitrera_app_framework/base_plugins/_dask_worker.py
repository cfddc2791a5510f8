"""The worker side of the ``dask`` job backend: what runs in a Dask worker process (and, for the logging
identity, on the scheduler).

:func:`run_remote_job` runs one job inside the submitting context (log context fields, tenant, trace parent) and
sends back its result or a picklable failure; :class:`WorkerLogSettings`, :func:`ensure_worker_logging`,
:func:`adopt_app_logger` and :class:`WorkerLoggingPlugin` give a worker the app's logging identity;
:func:`shielded_worker` builds the embedded cluster's workers in their own session. Dask pickles these functions
and classes by reference (module and name): a worker imports this module, not the client's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import traceback
from typing import Any, Callable, NamedTuple, Optional

from ..core.log_format import log_context
from ..core.logs import configure_logging, find_framework_handler
from ..core.tracing import attached_trace
from .background import JobBackendError


class WorkerLogSettings(NamedTuple):
    """The submitting app's logging identity, as a worker process applies it (built by
    :func:`~._dask_client.log_settings_of`): the level, format, date format, static fields and redaction of its
    records, and ``logger``, the name of the app's main logger (what ``get_logger()`` returns on the worker;
    ``get_logger(name='job')`` is its child)."""

    level: int
    format: Optional[str]
    datefmt: Optional[str]
    static: tuple[tuple[str, str], ...]
    redact: bool
    logger: Optional[str] = None


_worker_logging: Optional[WorkerLogSettings] = None
_worker_logger: Optional[logging.Logger] = None  # the app logger this module set on the worker
_worker_logging_lock = threading.Lock()


def ensure_worker_logging(settings: Optional[WorkerLogSettings]) -> None:
    """In a worker process, take on the app's logging identity: install the framework's log handler with the
    app's settings, once, unless the process already has a handler on its root logger (a worker whose logging was
    set up by its owner), and make ``settings.logger`` the process's app logger, so that ``get_logger()`` and
    ``get_logger(name='job')`` in a job give ``<app>`` and ``<app>.job`` (without the warning about
    ``init_framework``), unless the process initialized an app of its own.

    Cheap when nothing changed (one comparison): it runs for every job, and when the executor's worker plugin is
    installed on a worker."""
    global _worker_logging
    if settings is None or _worker_logging == settings:
        return
    with _worker_logging_lock:
        if _worker_logging == settings:
            return
        root = logging.getLogger()
        if not (root.handlers and find_framework_handler() is None):  # else someone else's logging: left alone
            if find_framework_handler() is None:
                configure_logging(settings.level, settings.format, settings.datefmt, dict(settings.static),
                                  redact=settings.redact, lean_records=False)
        if settings.logger:
            adopt_app_logger(settings.logger)
        _worker_logging = settings


def adopt_app_logger(name: str, dask_scheduler: Any = None) -> None:
    """Make the logger ``name`` this process's app logger (what ``get_logger()`` returns), unless the process
    initialized an app of its own: workers, and the scheduler, which imports a job's module when it unpickles
    the task (so a module-level ``get_logger(name=...)`` does not warn there either)."""
    global _worker_logger
    from ..core.context import get_app_context
    from ..core.logs import set_app_logger

    ctx = get_app_context(None)
    if ctx.logger is None or ctx.logger is _worker_logger:  # not an app initialized in this process
        _worker_logger = logging.getLogger(name)
        set_app_logger(None, _worker_logger)  # type: ignore[arg-type]


try:
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - the executor reports the missing package (import_distributed)
    _PluginBase = object  # type: ignore[assignment,misc]


class WorkerLoggingPlugin(_PluginBase):
    """A Dask worker plugin giving every worker of the cluster, present and joining later, the app's logging
    identity (:func:`ensure_worker_logging`) before it runs any job, so a job module's import-time
    ``get_logger(name=...)`` gets it too. The executor registers it under ``saf-logging-<app logger>``."""

    def __init__(self, settings: WorkerLogSettings) -> None:
        self.settings = settings

    def setup(self, worker: Any = None) -> None:
        """Called by Dask on each worker."""
        ensure_worker_logging(self.settings)


def shielded_worker(**kwargs: Any) -> Any:
    """The embedded cluster's worker factory, called by the nanny inside the new worker process: first leave the
    app's session and process group (``os.setsid``), then build the :class:`distributed.Worker`.

    A terminal sends Ctrl-C (SIGINT), Ctrl-\\ and Ctrl-Z to its whole foreground process group, which the
    spawned worker processes share with the app: each would stop its running job. In their own session they no
    longer receive the terminal's signals, and the app alone decides (the shutdown phases finish or cancel the
    jobs, then close the cluster). A worker still ends when the app does: distributed's worker processes exit when
    their parent goes away, and the cluster is closed at shutdown.
    """
    if hasattr(os, 'setsid'):
        try:
            os.setsid()
        except OSError:  # already a session or group leader: nothing to leave
            pass
    from distributed import Worker
    return Worker(**kwargs)


def _annotate(e: BaseException, stage: str) -> None:
    """Attach what the submitting side logs (stage, worker, traceback text) to a job's exception."""
    try:
        e.saf_stage = stage  # type: ignore[attr-defined]
        e.saf_worker = f'{socket.gethostname()} pid {os.getpid()}'  # type: ignore[attr-defined]
        e.saf_remote_traceback = traceback.format_exc()  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # an exception type that takes no attributes: dask's traceback is used
        pass


def _announce_start(started: Optional[tuple[str, str]]) -> None:
    """Tell the submitting client that the job ``(topic, key)`` started (a Dask event; best effort)."""
    if started is None:
        return
    try:
        from distributed import get_worker
        get_worker().log_event(started[0], started[1])
    except Exception:  # not on a Dask worker (a test calling the function directly), or the worker is closing
        pass


def run_remote_job(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   fields: Optional[dict[str, Any]], tenant: Optional[str], pre_fn: Optional[Callable[[], Any]],
                   post_fn: Optional[Callable[[Any], Any]], settings: Optional[WorkerLogSettings],
                   started: Optional[tuple[str, str]] = None, traceparent: Optional[str] = None) -> Any:
    """Run one job on a worker inside the submitting context (log context fields, tenant); returns its result.

    First announces the start (``started`` is the client's event topic and the task key), then ``pre_fn()``
    runs, then the job, then ``post_fn(result)`` (unique jobs); an exception of any stage propagates with
    ``saf_stage`` (``pre``, ``job`` or ``post``), ``saf_worker`` and ``saf_remote_traceback`` set on it (one that
    cannot be pickled is replaced by a :class:`JobBackendError` naming its type and message, with the same
    attributes). ``traceparent`` (the submitter's active OpenTelemetry span, W3C) is the job's remote parent span
    context.
    """
    _announce_start(started)
    ensure_worker_logging(settings)
    with contextlib.ExitStack() as stack:
        if fields:
            stack.enter_context(log_context(**fields))
        if tenant is not None:
            from ..ext_plugins._tenant_base import tenant_context
            stack.enter_context(tenant_context(tenant))
        if traceparent is not None:
            stack.enter_context(attached_trace(traceparent))
        stage = 'pre'
        try:
            if pre_fn is not None:
                pre_fn()
            stage = 'job'
            result = fn(*args, **kwargs)
            stage = 'post'
            if post_fn is not None:
                post_fn(result)
            return result
        except Exception as e:
            _annotate(e, stage)
            stand_in = _picklable_failure(e)
            if stand_in is e:
                raise
        raise stand_in  # outside the except block: Dask pickles an exception's context too, and that one cannot be


def _picklable_failure(e: BaseException) -> BaseException:
    """``e`` if it can be pickled (to come back to the submitting side); else a :class:`JobBackendError` naming its
    type and message, with the same ``saf_*`` attributes (the worker's traceback included)."""
    try:
        import cloudpickle
        chain: list[BaseException] = []
        seen: Optional[BaseException] = e
        while seen is not None and len(chain) < 20 and seen not in chain:  # Dask sends the causes along
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__
        cloudpickle.dumps(chain)
        return e
    except Exception as problem:
        try:
            message = str(e)
        except Exception:  # a __str__ that fails too
            message = '<str() failed>'
        stand_in = JobBackendError(
            f'{type(e).__module__}.{type(e).__qualname__}: {message[:500]} (this exception cannot be pickled to come '
            f'back from the worker: {type(problem).__name__}: {str(problem)[:200]}; the worker\'s traceback is in '
            f'saf_remote_traceback)')
        for name in ('saf_stage', 'saf_worker', 'saf_remote_traceback'):
            if hasattr(e, name):
                setattr(stand_in, name, getattr(e, name))
        return stand_in


__all__ = ['WorkerLogSettings', 'ensure_worker_logging', 'adopt_app_logger', 'WorkerLoggingPlugin',
           'shielded_worker', 'run_remote_job']
