"""Background job executors: :class:`JobExecutor` (the API), :class:`BackgroundExecutor` (the ``thread`` backend,
a thin layer over :class:`concurrent.futures.ThreadPoolExecutor`) and the backend errors.

The ``dask`` backend (``SAF_JOB_BACKEND=dask``, :mod:`._dask_backend`) implements the same API on Dask
distributed; it is imported only when chosen.

In the thread backend every job runs in a copy of the submitting thread's :mod:`contextvars` context, so context
variables (log context, tenant, ...) follow the work into the worker thread. An exception raised by a job is logged
with its traceback and stays on the job's :class:`~concurrent.futures.Future`.

Unique jobs carry a caller-chosen id; while a job with that id is queued or running (including its pre/post
functions), submitting another one with the same id is rejected (returns False) and the collision is logged.
"""

from __future__ import annotations

import abc
import logging
import os
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import Any, Callable, Hashable, Optional

from .._exports import Exports
from ..core import instrument
from ..core.critical import enter as _enter
from ..core.critical import leave as _leave
from ..exceptions import ConfigurationError, SAFError
from ..util.parsing import ext_parse_int
from . import EXT_BACKGROUND_EXEC
from ._executor_state import ExecutorStateMixin

DEFAULT_JOB_THREADS = 4
THREAD_NAME_PREFIX = 'saf-job'
#: the values of ``SAF_JOB_BACKEND`` (defined with the job hooks, whose ``backend`` they are)
JOB_BACKENDS = instrument.JOB_BACKENDS

_log = logging.getLogger(__name__)


class JobBackendError(SAFError, RuntimeError):
    """The job backend cannot take or finish a job right now (e.g. the Dask scheduler was lost); the message
    names the backend, the (masked) address and what to check."""


class JobSerializationError(JobBackendError, TypeError):
    """A job cannot be sent to another process (the ``dask`` backend): its function or an argument cannot be
    pickled; the message names the job, the part (``args[1]``, ``kwargs['x']``) and its type."""


class JobBackendConfigError(ConfigurationError):
    """A job backend setting is unusable (``SAF_JOB_BACKEND``, ``SAF_DASK_SCHEDULER`` unreachable at start-up,
    ``distributed`` not installed); the message names the variable, its (masked) value and the fix."""


def job_name(fn: Any) -> str:
    """Return a readable name for a job function (``module.qualname`` when available)."""
    name = getattr(fn, '__qualname__', None) or getattr(fn, '__name__', None)
    if name is None:
        inner = getattr(fn, 'func', None)  # functools.partial
        return f'partial({job_name(inner)})' if inner is not None else repr(fn)
    module = getattr(fn, '__module__', None)
    return f'{module}.{name}' if module else str(name)


class JobExecutor(abc.ABC):
    """The background executor API, whatever runs the jobs (``thread`` or ``dask`` backend).

    ``submit_job`` / ``submit_unique_job*`` return True when the job was queued, False when it was refused
    (executor shut down, or a unique job id already queued or running); ``submit`` returns a
    :class:`concurrent.futures.Future`. A failing job is logged with its traceback and its exception stays on
    the Future.
    """

    #: the backend's name (``SAF_JOB_BACKEND``)
    backend = ''

    @property
    @abc.abstractmethod
    def max_workers(self) -> int:
        """Number of workers (threads, or Dask worker threads)."""

    @property
    @abc.abstractmethod
    def is_shutdown(self) -> bool:
        """True once :meth:`shutdown` was called (new jobs are then rejected)."""

    @abc.abstractmethod
    def submit_job(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Queue ``fn(*args, **kwargs)``; return True when queued, False when the executor is shut down."""

    @abc.abstractmethod
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args, **kwargs)`` and return its Future; raises RuntimeError once shut down."""

    @abc.abstractmethod
    def submit_unique_job(self, job_id: Hashable, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Queue ``fn(*args, **kwargs)`` under ``job_id``; False when that id is queued or running."""

    @abc.abstractmethod
    def submit_unique_job_pre(self, job_id: Hashable, pre_fn: Callable[[], Any], fn: Callable[..., Any], /,
                              *args: Any, **kwargs: Any) -> bool:
        """Like :meth:`submit_unique_job`, calling ``pre_fn()`` first (``fn`` does not run if it raises)."""

    @abc.abstractmethod
    def submit_unique_job_post(self, job_id: Hashable, fn: Callable[..., Any], post_fn: Callable[[Any], Any], /,
                               *args: Any, **kwargs: Any) -> bool:
        """Like :meth:`submit_unique_job`, calling ``post_fn(result)`` after ``fn`` returns."""

    @abc.abstractmethod
    def queue_length(self) -> int:
        """Return the number of jobs waiting for a worker (queued, not yet started)."""

    @abc.abstractmethod
    def contains_job(self, job_id: Hashable) -> bool:
        """Return True when a unique job with ``job_id`` is queued or running."""

    @abc.abstractmethod
    def get_jobs(self) -> list[Hashable]:
        """Return the ids of this executor's unique jobs currently queued or running, in submission order."""

    @abc.abstractmethod
    def shutdown(self, wait: bool = False, cancel_pending: bool = True) -> None:
        """Stop accepting jobs; cancel the queued ones (``cancel_pending``); wait for the rest (``wait``)."""

    def __enter__(self) -> JobExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown(wait=True, cancel_pending=False)


class _UniqueJob:
    """Marks one submission of a unique job id (so a stale cleanup never removes a newer job with that id)."""

    __slots__ = ('job_id',)

    def __init__(self, job_id: Hashable) -> None:
        self.job_id = job_id


class BackgroundExecutor(ExecutorStateMixin, JobExecutor):
    """Thread pool for background jobs (the ``thread`` backend), with unique-job tracking and exception logging.

    Args:
        max_workers: number of worker threads (>= 1).
        logger: where job failures and collisions are logged (default: this module's logger).
        collisions_info: log a rejected duplicate unique job at INFO (True) or DEBUG (False).
        thread_name_prefix: prefix of the worker thread names.

    Raises:
        ValueError: ``max_workers`` is not a positive integer.
    """

    backend = 'thread'

    def __init__(self, max_workers: int = DEFAULT_JOB_THREADS, logger: Optional[logging.Logger] = None,
                 collisions_info: bool = False, thread_name_prefix: str = THREAD_NAME_PREFIX) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f'BackgroundExecutor: max_workers must be a positive integer, got {max_workers!r}')
        self._max_workers = max_workers
        self._logger = logger if logger is not None else _log
        self._collision_level = logging.INFO if collisions_info else logging.DEBUG
        self._thread_name_prefix = thread_name_prefix
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._pool_submit = self._pool.submit
        _LIVE.add(self)
        self._run_job = self._run  # bound once: saves a bound-method allocation per submit
        self._lock = threading.Lock()  # guards _jobs (unique jobs only)
        self._jobs: dict[Hashable, _UniqueJob] = {}
        self._shut_down = False
        self._drained = False  # shut down with cancel_pending (the work queue holds no jobs any more)
        self._sentinels = 0  # wake-up sentinels the pool put in its work queue (one per shutdown call)

    # --- plain jobs ----------------------------------------------------------------------------------------
    def submit_job(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Queue ``fn(*args, **kwargs)``; return True when queued, False when the executor is shut down."""
        _enter()  # a shutdown signal must not unwind the main thread inside the pool's locks: deferred to leave()
        try:
            if instrument.JOBS_OBSERVED:  # observability on (metrics, spans): see core.instrument
                return self._submit_observed(fn, args, kwargs) is not None
            self._pool_submit(copy_context().run, self._run_job, fn, args, kwargs)
        except RuntimeError:
            self._logger.debug('background executor is shut down; job %s not queued', job_name(fn))
            return False
        finally:
            _leave()
        return True

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args, **kwargs)`` and return its Future (which carries the result or the exception).

        Raises:
            RuntimeError: the executor is shut down.
        """
        _enter()
        try:
            if instrument.JOBS_OBSERVED:
                return self._submit_observed(fn, args, kwargs)
            return self._pool_submit(copy_context().run, self._run_job, fn, args, kwargs)
        except RuntimeError as e:
            raise RuntimeError(f'cannot submit {job_name(fn)}: the background executor is shut down '
                               f'(submit jobs before shutdown, or use submit_job which returns False)') from e
        finally:
            _leave()

    def _submit_observed(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Future[Any]:
        """Submit through the observability hooks (:mod:`..core.instrument`); raises RuntimeError when shut down."""
        wrap, track = instrument.JOB_WRAPPER, instrument.JOB_TRACKER
        job = wrap(self.backend, fn) if wrap is not None else fn
        future = self._pool_submit(copy_context().run, self._run_job, job, args, kwargs)
        if track is not None:
            track(self.backend, future, job_name(fn))
        return future

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Worker side of a plain job: run it, log a failure with its traceback, re-raise for the Future."""
        try:
            return fn(*args, **kwargs)
        except Exception:
            self._logger.exception('background job %s failed', job_name(fn))
            raise

    # --- unique jobs ---------------------------------------------------------------------------------------
    def submit_unique_job(self, job_id: Hashable, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Queue ``fn(*args, **kwargs)`` under ``job_id``.

        Returns False (and logs the collision) when a job with that id is already queued or running, or when
        the executor is shut down; True when queued. The id is released once the job has finished.
        """
        return self._submit_unique(job_id, None, fn, None, args, kwargs)

    def submit_unique_job_pre(self, job_id: Hashable, pre_fn: Callable[[], Any], fn: Callable[..., Any], /,
                              *args: Any, **kwargs: Any) -> bool:
        """Like :meth:`submit_unique_job`, but the worker first calls ``pre_fn()`` (no arguments).

        If ``pre_fn`` raises, the failure is logged and ``fn`` is not run. Returns as :meth:`submit_unique_job`.
        """
        return self._submit_unique(job_id, pre_fn, fn, None, args, kwargs)

    def submit_unique_job_post(self, job_id: Hashable, fn: Callable[..., Any], post_fn: Callable[[Any], Any], /,
                               *args: Any, **kwargs: Any) -> bool:
        """Like :meth:`submit_unique_job`, but after ``fn`` returns the worker calls ``post_fn(result)``.

        ``post_fn`` is not called when ``fn`` raises; a failing ``post_fn`` is logged. The job id stays taken
        until ``post_fn`` has returned. Returns as :meth:`submit_unique_job`.
        """
        return self._submit_unique(job_id, None, fn, post_fn, args, kwargs)

    def _submit_unique(self, job_id: Hashable, pre_fn: Optional[Callable[[], Any]], fn: Callable[..., Any],
                       post_fn: Optional[Callable[[Any], Any]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        _enter()
        try:
            return self._submit_unique_locked(job_id, pre_fn, fn, post_fn, args, kwargs)
        finally:
            _leave()

    def _submit_unique_locked(self, job_id: Hashable, pre_fn: Optional[Callable[[], Any]], fn: Callable[..., Any],
                              post_fn: Optional[Callable[[Any], Any]], args: tuple[Any, ...],
                              kwargs: dict[str, Any]) -> bool:
        token = _UniqueJob(job_id)
        with self._lock:
            if self._shut_down:
                self._logger.debug('background executor is shut down; unique job %r (%s) not queued',
                                   job_id, job_name(fn))
                return False
            if job_id in self._jobs:
                self._logger.log(self._collision_level, 'unique job %r is already queued or running; '
                                 'not queueing %s again', job_id, job_name(fn))
                return False
            self._jobs[job_id] = token
        wrap, track = instrument.JOB_WRAPPER, instrument.JOB_TRACKER
        job = wrap(self.backend, fn) if wrap is not None else fn
        try:
            future = self._pool_submit(copy_context().run, self._run_unique, token, pre_fn, job, post_fn,
                                       args, kwargs)
        except RuntimeError:
            self._release(token)
            self._logger.debug('background executor is shut down; unique job %r (%s) not queued',
                               job_id, job_name(fn))
            return False
        # a job cancelled before it started (shutdown with cancel_pending) never runs: release its id then
        future.add_done_callback(lambda f: self._release(token) if f.cancelled() else None)
        if track is not None:
            track(self.backend, future, job_name(fn))
        return True

    def _run_unique(self, token: _UniqueJob, pre_fn: Optional[Callable[[], Any]], fn: Callable[..., Any],
                    post_fn: Optional[Callable[[Any], Any]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Worker side of a unique job: pre, job, post (each failure logged), then release the id."""
        job_id = token.job_id
        try:
            if pre_fn is not None:
                try:
                    pre_fn()
                except Exception:
                    self._logger.exception('pre function %s of unique job %r failed; the job (%s) was not run',
                                           job_name(pre_fn), job_id, job_name(fn))
                    raise
            try:
                result = fn(*args, **kwargs)
            except Exception:
                self._logger.exception('unique job %r (%s) failed', job_id, job_name(fn))
                raise
            if post_fn is not None:
                try:
                    post_fn(result)
                except Exception:
                    self._logger.exception('post function %s of unique job %r (%s) failed',
                                           job_name(post_fn), job_id, job_name(fn))
                    raise
            return result
        finally:
            self._release(token)

    def _release(self, token: _UniqueJob) -> None:
        """Forget a unique job id, unless it has since been taken by a newer submission."""
        with self._lock:
            if self._jobs.get(token.job_id) is token:
                del self._jobs[token.job_id]

    # --- introspection -------------------------------------------------------------------------------------
    def queue_length(self) -> int:
        """Return the number of jobs waiting for a worker (queued, not yet started); O(1), takes no lock.

        Reads the size of the pool's work queue, so a Future the caller cancelled still counts until a worker
        discards it; after ``shutdown(cancel_pending=True)`` it is 0.
        """
        if self._drained:  # shut down with cancel_pending: nothing can be waiting any more
            return 0
        # after shutdown the pool's work queue also holds one wake-up sentinel per pool.shutdown call
        n = self._pool._work_queue.qsize() - self._sentinels
        return n if n > 0 else 0

    def contains_job(self, job_id: Hashable) -> bool:
        """Return True when a unique job with ``job_id`` is queued or running."""
        return job_id in self._jobs

    def get_jobs(self) -> list[Hashable]:
        """Return the ids of the unique jobs currently queued or running, in submission order."""
        with self._lock:
            return list(self._jobs)

    # --- lifecycle -----------------------------------------------------------------------------------------
    def shutdown(self, wait: bool = False, cancel_pending: bool = True) -> None:
        """Stop accepting jobs; with ``cancel_pending`` drop the jobs not started yet; with ``wait`` block
        until the running (and, without ``cancel_pending``, the queued) jobs are done. Safe to call twice."""
        _enter()
        try:
            with self._lock:
                self._shut_down = True
                if cancel_pending:
                    self._drained = True
                else:
                    self._sentinels += 1
            # outside our lock: cancelling a queued unique job runs its done-callback, which takes the lock
            self._pool.shutdown(wait=False, cancel_futures=cancel_pending)
        finally:
            _leave()
        if wait:  # outside the critical section: a shutdown signal may interrupt this wait
            with self._lock:
                if not self._drained:
                    self._sentinels += 1  # each pool.shutdown call queues one more wake-up sentinel
            self._pool.shutdown(wait=True)

    def _reset_after_fork(self) -> None:
        """In a forked child (gunicorn --preload, multiprocessing's fork): the parent's worker threads do not exist
        here and its queued jobs are the parent's; start with a new, empty pool (same size)."""
        self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix=self._thread_name_prefix)
        self._pool_submit = self._pool.submit
        self._lock = threading.Lock()
        self._jobs = {}
        self._sentinels = 0

    def __repr__(self) -> str:
        state = 'shut down' if self._shut_down else 'running'
        return (f'<BackgroundExecutor workers={self._max_workers} queued={self.queue_length()} '
                f'unique_jobs={len(self._jobs)} {state}>')


_LIVE: weakref.WeakSet[BackgroundExecutor] = weakref.WeakSet()


def _reset_executors_in_child() -> None:
    for executor in list(_LIVE):
        if not executor._shut_down:
            executor._reset_after_fork()


if hasattr(os, 'register_at_fork'):  # POSIX
    os.register_at_fork(after_in_child=_reset_executors_in_child)


def parse_job_threads(value: Any) -> int:
    """Parse ``SAF_JOB_THREADS``: a positive integer.

    Raises:
        ValueError: naming SAF_JOB_THREADS and the value.
    """
    try:
        n = ext_parse_int(value, 'SAF_JOB_THREADS')
    except ValueError:
        raise ValueError(f'SAF_JOB_THREADS must be a positive integer (number of background worker threads), '
                         f'got {value!r}; set it to e.g. 4') from None
    if n < 1:
        raise ValueError(f'SAF_JOB_THREADS must be a positive integer (number of background worker threads), '
                         f'got {value!r}; set it to 1 or more')
    return n


def parse_job_backend(value: Any) -> str:
    """Parse ``SAF_JOB_BACKEND``: ``thread`` (the default) or ``dask``, any case; empty means ``thread``.

    Raises:
        JobBackendConfigError: naming SAF_JOB_BACKEND, the value and the choices.
    """
    text = '' if value is None else str(value).strip().lower()
    if not text:
        return 'thread'
    if text not in JOB_BACKENDS:
        raise JobBackendConfigError(f'SAF_JOB_BACKEND={str(value)[:60]!r} is not a job backend; use one of '
                                    f'{", ".join(JOB_BACKENDS)} (thread is the default)')
    return text


# the plugin class lives in bg_exec (its module in the original, so its default name() is the same);
# BackgroundExecPlugin was its name here: both paths are deprecated since 0.1.0
_EXPORTS = Exports(__name__, globals(), moved={
    'BackgroundThreadExecutorPlugin': 'scitrera_app_framework.base_plugins.bg_exec',
    'BackgroundExecPlugin': 'scitrera_app_framework.base_plugins.bg_exec:BackgroundThreadExecutorPlugin',
})


def _app_queue_depth(v: Any) -> Optional[tuple[str, int]]:
    """The metrics' ``saf_executor_queue_depth`` of the app of ``v`` (read through :mod:`..core.instrument` when
    scraped): ``(backend, jobs waiting)`` of its executor once the plugin at ``EXT_BACKGROUND_EXEC`` is initialized,
    else None (a scrape never initializes one)."""
    from ..core.plugins import describe_plugins, get_extension
    if not any(p['extension_point'] == EXT_BACKGROUND_EXEC and p['state'] == 'initialized'
               for p in describe_plugins(v)):
        return None
    executor = get_extension(EXT_BACKGROUND_EXEC, v)
    return str(executor.backend), int(executor.queue_length())


instrument.set_queue_depth_reader('background', _app_queue_depth)


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()


__all__ = ['JobExecutor', 'BackgroundExecutor', 'JobBackendError', 'JobSerializationError', 'JobBackendConfigError',
           'DEFAULT_JOB_THREADS', 'THREAD_NAME_PREFIX', 'JOB_BACKENDS', 'job_name', 'parse_job_threads',
           'parse_job_backend']
