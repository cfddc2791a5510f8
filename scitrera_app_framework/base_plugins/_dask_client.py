"""The client side of the ``dask`` job backend: :class:`DaskBackgroundExecutor`, the background executor API on
a Dask cluster, in the submitting process.

It submits each job as :func:`~._dask_worker.run_remote_job` with the submitting context, claims unique job ids on
the scheduler (:mod:`._dask_scheduler`), collects the outcomes in batches on one thread and completes the jobs'
:class:`DaskJobFuture`, and closes the client and the embedded cluster at shutdown.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import pickle
import queue
import sys
import threading
import time
import traceback
import uuid
from typing import TYPE_CHECKING, Any, Callable, Hashable, NamedTuple, Optional

from ..core import instrument
from ..core.critical import enter as _enter
from ..core.critical import leave as _leave
from ..core.log_format import current_log_context
from ..core.logs import find_framework_handler
from ..core.tracing import trace_carrier
from ..util.parsing import parse_bool_strict, parse_seconds
from ..util.secrets import mask_text, mask_url_credentials
from ._dask_scheduler import CLAIM_TTL, claim_unique, release_unique, release_unique_many, unique_active
from ._dask_worker import WorkerLoggingPlugin, WorkerLogSettings, adopt_app_logger, run_remote_job, shielded_worker
from ._executor_state import ExecutorStateMixin
from .background import (
    DEFAULT_JOB_THREADS,
    JobBackendConfigError,
    JobBackendError,
    JobExecutor,
    JobSerializationError,
    job_name,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..api.variables import Variables

#: prefix of the scheduler task keys of unique jobs
UNIQUE_KEY_PREFIX = 'saf-unique-'
#: seconds to wait for the scheduler at start-up (``SAF_DASK_CONNECT_TIMEOUT``)
DEFAULT_CONNECT_TIMEOUT = 10.0

_GONE = frozenset(('stopping', 'stopped', 'closing', 'closing_gracefully', 'closed', 'failed'))  # nanny states
_PLAIN_TYPES = (str, int, float, bool, type(None))

_log = logging.getLogger('scitrera_app_framework.base_plugins._dask_backend')  # its name before the split


def import_distributed() -> Any:
    """Import and return :mod:`distributed`.

    Raises:
        JobBackendConfigError: it is not installed (names the extra to install).
    """
    try:
        import distributed
    except ImportError as e:
        raise JobBackendConfigError(
            f"SAF_JOB_BACKEND=dask needs Dask distributed, which cannot be imported ({e}): install it with "
            f"pip install 'scitrera-app-framework[dask]', or unset SAF_JOB_BACKEND for the thread backend") from e
    return distributed


def _unpicklable_part(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                      pre_fn: Optional[Callable[[], Any]], post_fn: Optional[Callable[[Any], Any]]) -> Optional[str]:
    """Which part of a job cannot be pickled (``"args[1] (a _thread.lock: TypeError: ...)"``), or None."""
    import cloudpickle

    parts: list[tuple[str, Any]] = [('the job function', fn)]
    parts += [(f'args[{i}]', a) for i, a in enumerate(args)]
    parts += [(f'kwargs[{k!r}]', a) for k, a in kwargs.items()]
    parts += [(name, f) for name, f in (('the pre function', pre_fn), ('the post function', post_fn)) if f is not None]
    for name, obj in parts:
        try:
            cloudpickle.dumps(obj)
        except Exception as e:
            return f'{name} (a {type(obj).__module__}.{type(obj).__qualname__}: {type(e).__name__}: {str(e)[:200]})'
    return None


def _lost_error(text: str) -> JobBackendError:
    """The error of a job whose outcome is unknown because the connection to the scheduler was lost."""
    error = JobBackendError(text)
    error.saf_lost = True  # type: ignore[attr-defined]
    return error


def _capture_context() -> tuple[Optional[dict[str, Any]], Optional[str]]:
    """The submitting context that crosses to the worker: log context fields (plain values) and the tenant."""
    ctx = current_log_context()
    fields = {str(k): (val if isinstance(val, _PLAIN_TYPES) else str(val)) for k, val in ctx.items()} if ctx else None
    tenant = None
    tenant_mod = _tenant_module()
    if tenant_mod is not None:
        tenant = tenant_mod.current_tenant()
    return fields, tenant


def _tenant_module() -> Any:
    """The tenant module if the app uses tenants (already imported); None otherwise."""
    return sys.modules.get(__package__.rpartition('.')[0] + '.ext_plugins._tenant_base')


class _Job:
    """One submitted job: its Dask future (kept so the task is not released) and its concurrent Future."""

    __slots__ = ('key', 'label', 'dask_future', 'future', 'job_id', 'id_key', 'token', 'cancel_requested',
                 'started')

    def __init__(self, key: str, label: str, job_id: Any = None, id_key: Optional[str] = None,
                 token: Optional[str] = None) -> None:
        self.key = key
        self.label = label
        self.dask_future: Any = None
        self.future: Optional[DaskJobFuture] = None
        self.job_id = job_id
        self.id_key = id_key
        self.token = token
        self.cancel_requested = False
        self.started = False


class _Outcome(NamedTuple):
    """How a job ended, as its Future is completed: its result, or its error (with the worker's traceback text),
    or cancelled."""

    result: Any = None
    error: Optional[BaseException] = None
    remote_tb: str = ''
    cancelled: bool = False


class DaskJobFuture(concurrent.futures.Future[Any]):
    """The :class:`concurrent.futures.Future` of a job on Dask; :meth:`cancel` also cancels the Dask task.

    It is ``running()`` once a worker has started the job (then :meth:`cancel` returns False, as for a thread
    pool's job). A job that a worker starts while it is being cancelled still runs there; its result is dropped.
    """

    def __init__(self, executor: DaskBackgroundExecutor, job: _Job) -> None:
        super().__init__()
        self._saf_executor = executor
        self._saf_job = job

    @property
    def key(self) -> str:
        """The job's task key on the Dask scheduler."""
        return self._saf_job.key

    def cancel(self) -> bool:
        """Cancel the job unless it started or is done; returns True when the Future is now cancelled."""
        if self.running() or self.done():
            return self.cancelled()
        self._saf_executor._cancel_dask([self._saf_job])
        return self._saf_cancelled()

    def _saf_cancelled(self) -> bool:
        """Mark the Future cancelled (the Dask side is cancelled already); True when it is."""
        with self._condition:  # re-entrant: the methods below take it again
            if concurrent.futures.Future.cancel(self):
                if self._state == 'CANCELLED':
                    self.set_running_or_notify_cancel()  # wakes concurrent.futures.wait / as_completed
                return True
            return False

    def _saf_running(self) -> None:
        """A worker started the job: the Future is running (unless it was cancelled or is done meanwhile)."""
        with self._condition:
            if self._state == 'PENDING':
                self.set_running_or_notify_cancel()


def log_settings_of(v: Optional[Variables]) -> Optional[WorkerLogSettings]:
    """The worker log settings matching the app's logging (None when the framework handler is not installed,
    e.g. ``fixed_logger``: workers' logging is then left alone)."""
    if find_framework_handler() is None:
        return None
    from ..core.context import get_app_context
    from ..core.defaults import get_variables

    v = get_variables(v)
    ctx = get_app_context(v)
    static = {'app': ctx.app_name or '', 'image': v.get('BUILD_IMAGE_NAME') or ctx.app_name or '',
              'version': v.get('BUILD_CONTAINER_VERSION') or 'DEV'}
    for k, val in ctx.params.items():
        static.setdefault(str(k), '' if val is None else str(val))
    fmt, datefmt = v.get('LOGGING_FORMAT'), v.get('LOGGING_DATE_FORMAT')
    try:
        redact = bool(parse_bool_strict(v.get('SAF_LOG_REDACT', True)))
    except ValueError:
        redact = True
    return WorkerLogSettings(logging.getLogger().level, None if fmt is None else str(fmt),
                             None if datefmt in (None, '') else str(datefmt),
                             tuple(sorted((k, str(val)) for k, val in static.items())), redact,
                             ctx.logger.name if ctx.logger is not None else None)


class DaskBackgroundExecutor(ExecutorStateMixin, JobExecutor):
    """The background executor API on Dask distributed (``SAF_JOB_BACKEND=dask``).

    Args:
        scheduler: the scheduler address (``tcp://host:8786``); None starts an embedded ``LocalCluster`` of
            ``max_workers`` worker processes (one thread each) on 127.0.0.1, closed by :meth:`shutdown`.
        max_workers: worker processes of the embedded cluster (>= 1).
        logger: where job failures and collisions are logged.
        collisions_info: log a rejected duplicate unique job at INFO (True) or DEBUG (False).
        connect_timeout: seconds to wait for the scheduler at start-up, and for its answer to each question the
            executor asks it (unique job ids).
        log_settings: how worker processes write log records (None: their logging is left alone).
        claim_ttl: seconds a unique-job claim holds if its task never reaches the scheduler.

    Raises:
        ValueError: ``max_workers`` is not a positive integer.
        JobBackendConfigError: ``distributed`` is missing, or the scheduler is unreachable (names
            ``SAF_DASK_SCHEDULER`` and the masked address).
    """

    backend = 'dask'

    def __init__(self, scheduler: Optional[str] = None, max_workers: int = DEFAULT_JOB_THREADS,
                 logger: Optional[logging.Logger] = None, collisions_info: bool = False,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, log_settings: Optional[WorkerLogSettings] = None,
                 claim_ttl: float = CLAIM_TTL) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f'DaskBackgroundExecutor: max_workers must be a positive integer, got {max_workers!r}')
        distributed = import_distributed()
        self._logger = logger if logger is not None else _log
        self._collision_level = logging.INFO if collisions_info else logging.DEBUG
        self._log_settings = log_settings
        self._claim_ttl = float(claim_ttl)
        self._call_timeout = float(connect_timeout)  # a scheduler that stops answering fails a call after this
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: dict[str, _Job] = {}
        self._jobs: dict[Hashable, Optional[_Job]] = {}  # unique ids of this executor (None: being claimed)
        self._shut_down = False
        self._closed = False
        self._lost_logged = False
        self._cluster: Any = None
        self._done: queue.SimpleQueue[Optional[str]] = queue.SimpleQueue()
        self._collector = threading.Thread(target=self._collect, name='saf-dask-results', daemon=True)
        self._topic = f'saf-job-started-{uuid.uuid4().hex}'
        if scheduler:
            self._where = f'the Dask scheduler at {mask_url_credentials(str(scheduler))}'
            try:
                self._client = distributed.Client(scheduler, timeout=connect_timeout, set_as_default=False)
            except Exception as e:
                raise JobBackendConfigError(
                    f'cannot reach the Dask scheduler SAF_DASK_SCHEDULER={mask_url_credentials(str(scheduler))!r} '
                    f'within {connect_timeout:g}s ({type(e).__name__}: {mask_text(str(e))[:300]}): start the '
                    f'scheduler or correct the address (tcp://host:8786), raise SAF_DASK_CONNECT_TIMEOUT, or '
                    f'unset SAF_DASK_SCHEDULER to run the jobs on an embedded LocalCluster') from None
            self._max_workers = int(max(1, sum(self._client.nthreads().values())))
        else:
            import dask

            # one task per worker thread at a time: the rest waits on the scheduler, where it can be cancelled.
            # The worker processes start their own session (shielded_worker): the terminal's Ctrl-C is the app's.
            with dask.config.set({'distributed.scheduler.worker-saturation': 1.0}):
                self._cluster = distributed.LocalCluster(
                    n_workers=max_workers, threads_per_worker=1, processes=True, host='127.0.0.1',
                    dashboard_address='127.0.0.1:0',
                    worker_class=functools.partial(distributed.Nanny, worker_class=shielded_worker))
            try:
                self._client = distributed.Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                raise
            self._where = f'the embedded Dask LocalCluster at {self._client.scheduler.address}'
            self._max_workers = max_workers
        self._client.subscribe_topic(self._topic, self._on_started)
        self._collector.start()
        if log_settings is not None:
            self._register_logging_plugin(log_settings)

    def _register_logging_plugin(self, settings: WorkerLogSettings) -> None:
        """Install :class:`WorkerLoggingPlugin` on the cluster (best effort: every job also carries the
        settings)."""
        name = f'saf-logging-{settings.logger or "app"}'
        register = getattr(self._client, 'register_plugin', None) or self._client.register_worker_plugin
        try:
            if settings.logger and self._cluster is None:  # an external scheduler (the embedded one is ours)
                self._on_scheduler(adopt_app_logger, settings.logger)
            register(WorkerLoggingPlugin(settings), name=name)
        except Exception as e:
            self._logger.debug('could not register the worker logging plugin on %s (%s: %s); each job sets the '
                               'logging identity when it starts', self._where, type(e).__name__, e)

    def _on_scheduler(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the scheduler's event loop; returns its result.

        Raises:
            TimeoutError: no answer within the connect timeout (a scheduler that stops answering, e.g. frozen).
            Whatever the call raises (the connection lost).
        """
        return self._client.run_on_scheduler(fn, *args, callback_timeout=self._call_timeout)

    # --- properties (max_workers, is_shutdown: ExecutorStateMixin) ---------------------------------------
    @property
    def client(self) -> Any:
        """The :class:`distributed.Client` (for what the executor API does not cover)."""
        return self._client

    @property
    def scheduler_address(self) -> str:
        """The scheduler's address (credentials masked)."""
        return mask_url_credentials(str(self._client.scheduler.address))

    @property
    def embedded(self) -> bool:
        """True when the executor started its own LocalCluster."""
        return self._cluster is not None

    # --- submitting --------------------------------------------------------------------------------------
    def _check_connected(self, label: str) -> None:
        status = self._client.status
        if status != 'running':
            raise JobBackendError(
                f'cannot submit {label}: {self._where} is unreachable (client status {status!r}); jobs fail at once '
                f'until it is back: check the scheduler (SAF_DASK_SCHEDULER) and the network')
        if self._no_worker_left():
            raise JobBackendError(f'cannot submit {label}: {self._no_worker_text()}')

    def _no_worker_left(self) -> bool:
        """True when the embedded cluster can no longer run anything: no worker on its scheduler and no nanny
        left that would start one (a worker that ended by a signal sent to it closes its nanny too). An external
        cluster may gain workers at any time: never true for it."""
        cluster = self._cluster
        if cluster is None:
            return False
        try:
            if cluster.scheduler.workers:
                return False
            nannies = list(cluster.workers.values())
        except Exception:  # the cluster is being torn down
            return False
        return all(getattr(getattr(n, 'status', None), 'name', 'running') in _GONE for n in nannies)

    def _fail_orphans(self) -> int:
        """Fail every unfinished job at once when the embedded cluster has no worker left; returns how many."""
        with self._lock:
            left = list(self._pending.values())
            for job in left:
                self._pending.pop(job.key, None)
                if job.job_id is not None and self._jobs.get(job.job_id) is job:
                    del self._jobs[job.job_id]
            self._idle.notify_all()
        if not left:
            return 0
        self._logger.error('background executor: %s; failing its %d unfinished job(s)', self._no_worker_text(),
                           len(left))
        self._cancel_dask(left)
        claims = [(job.id_key, job.token) for job in left if job.id_key is not None]
        if claims and self._client.status == 'running':
            try:
                self._on_scheduler(release_unique_many, claims)
            except Exception as e:
                self._logger.debug('could not release %d unique job id(s) on the scheduler: %s', len(claims), e)
        for job in left:
            if job.future is not None:
                self._complete(job.future, None, JobBackendError(
                    f'job {job.label} cannot finish: {self._no_worker_text()}; it may or may not have run'), False)
        return len(left)

    def _no_worker_text(self) -> str:
        return (f'{self._where} has no worker left (its worker processes ended: killed by a signal sent to them, '
                f'or out of memory; see the distributed.nanny log lines); create a new executor (restart the app)')

    def _start(self, job: _Job, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
               pre_fn: Optional[Callable[[], Any]], post_fn: Optional[Callable[[Any], Any]]) -> DaskJobFuture:
        """Submit ``job`` to the scheduler (the caller holds the lock and checked the state)."""
        fields, tenant = _capture_context()
        future = DaskJobFuture(self, job)
        job.future = future
        try:
            job.dask_future = self._client.submit(run_remote_job, fn, args, kwargs, fields, tenant, pre_fn, post_fn,
                                                  self._log_settings, (self._topic, job.key), key=job.key, pure=False,
                                                  traceparent=trace_carrier())
        except Exception as e:
            culprit = _unpicklable_part(fn, args, kwargs, pre_fn, post_fn)
            if culprit is None:
                raise
            raise JobSerializationError(
                f'cannot submit {job.label}: {culprit} cannot be pickled to reach a Dask worker; pass values that '
                f'can (or what the job needs to rebuild them: a path, a URL, settings)') from e
        self._pending[job.key] = job
        job.dask_future.add_done_callback(self._on_done)
        if instrument.JOB_TRACKER is not None:  # metrics on (core.instrument)
            instrument.JOB_TRACKER(self.backend, future, job.label)
        return future

    def _submit_plain(self, fn: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> Optional[DaskJobFuture]:
        label = job_name(fn)
        _enter()
        try:
            with self._lock:
                if self._shut_down:
                    return None
                self._check_connected(label)
                return self._start(_Job(f'{label}-{uuid.uuid4().hex}', label), fn, args, kwargs, None, None)
        finally:
            _leave()

    def submit_job(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Queue ``fn(*args, **kwargs)`` on the cluster; True when queued, False when the executor is shut down.

        Raises:
            JobBackendError: the scheduler is unreachable (fails at once, no waiting).
            JobSerializationError (a TypeError): the function or an argument cannot be pickled (names it).
        """
        if self._submit_plain(fn, args, kwargs) is None:
            self._logger.debug('background executor is shut down; job %s not queued', job_name(fn))
            return False
        return True

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """Queue ``fn(*args, **kwargs)`` on the cluster and return its :class:`concurrent.futures.Future`.

        Raises:
            RuntimeError: the executor is shut down.
            JobBackendError: the scheduler is unreachable (fails at once, no waiting).
            JobSerializationError (a TypeError): the function or an argument cannot be pickled (names it).
        """
        future = self._submit_plain(fn, args, kwargs)
        if future is None:
            raise RuntimeError(f'cannot submit {job_name(fn)}: the background executor is shut down '
                               f'(submit jobs before shutdown, or use submit_job which returns False)')
        return future

    def submit_unique_job(self, job_id: Hashable, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
        """Queue ``fn(*args, **kwargs)`` under ``job_id``, unique across the cluster.

        Returns False (and logs the collision) when a job with that id is queued or running anywhere on the
        cluster (submitted by any client), or when the executor is shut down; True when queued. Ids are compared
        by ``repr``.

        Raises:
            JobBackendError: the scheduler is unreachable.
            JobSerializationError (a TypeError): the function or an argument cannot be pickled (names it; the id is
                not left taken).
        """
        return self._submit_unique(job_id, None, fn, None, args, kwargs)

    def submit_unique_job_pre(self, job_id: Hashable, pre_fn: Callable[[], Any], fn: Callable[..., Any], /,
                              *args: Any, **kwargs: Any) -> bool:
        """Like :meth:`submit_unique_job`; the worker calls ``pre_fn()`` first (``fn`` is skipped if it raises)."""
        return self._submit_unique(job_id, pre_fn, fn, None, args, kwargs)

    def submit_unique_job_post(self, job_id: Hashable, fn: Callable[..., Any], post_fn: Callable[[Any], Any], /,
                               *args: Any, **kwargs: Any) -> bool:
        """Like :meth:`submit_unique_job`; the worker calls ``post_fn(result)`` after ``fn`` returns (the id
        stays taken until it has returned)."""
        return self._submit_unique(job_id, None, fn, post_fn, args, kwargs)

    def _collision(self, job_id: Hashable, label: str) -> bool:
        self._logger.log(self._collision_level, 'unique job %r is already queued or running; not queueing %s again',
                         job_id, label)
        return False

    def _submit_unique(self, job_id: Hashable, pre_fn: Optional[Callable[[], Any]], fn: Callable[..., Any],
                       post_fn: Optional[Callable[[Any], Any]], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        label = job_name(fn)
        id_key = UNIQUE_KEY_PREFIX + repr(job_id)
        token = uuid.uuid4().hex
        job = _Job(f'{id_key}-{token}', label, job_id, id_key, token)
        with self._lock:
            if self._shut_down:
                self._logger.debug('background executor is shut down; unique job %r (%s) not queued', job_id, label)
                return False
            if job_id in self._jobs:
                return self._collision(job_id, label)
            self._check_connected(label)
            self._jobs[job_id] = None  # claimed here while the scheduler is asked
        granted = False
        try:
            try:
                granted = self._on_scheduler(claim_unique, id_key, token, job.key, self._claim_ttl)
            except Exception as e:
                raise JobBackendError(f'cannot submit unique job {job_id!r} ({label}): {self._where} did not answer '
                                      f'({type(e).__name__}: {mask_text(str(e))[:200]})') from e
            if not granted:
                return self._collision(job_id, label)
            _enter()
            try:
                with self._lock:
                    if self._shut_down:
                        self._release_claim(job)
                        granted = False
                        return False
                    self._check_connected(label)
                    self._start(job, fn, args, kwargs, pre_fn, post_fn)
                    self._jobs[job_id] = job
                    return True
            finally:
                _leave()
        except BaseException:
            if granted:
                self._release_claim(job)
            raise
        finally:
            with self._lock:
                if self._jobs.get(job_id, job) is None:  # not started: forget the local claim
                    del self._jobs[job_id]

    def _release_claim(self, job: _Job) -> None:
        try:
            self._on_scheduler(release_unique, job.id_key, job.token)
        except Exception as e:  # the scheduler is gone: its claims are gone with it
            self._logger.debug('could not release unique job %r on the scheduler: %s', job.job_id, e)

    # --- completion --------------------------------------------------------------------------------------
    def _on_started(self, event: Any) -> None:
        """The client's event loop: a worker started one of our jobs."""
        try:
            key = event[1]
        except (TypeError, IndexError):
            return
        with self._lock:
            job = self._pending.get(key)
            if job is None or job.started:
                return
            job.started = True
        if job.future is not None:
            job.future._saf_running()

    def _on_done(self, dask_future: Any) -> None:
        """Dask's callback thread: hand the finished job to the collector thread (which fetches in batches)."""
        self._done.put(dask_future.key)

    def _collect(self) -> None:
        """The collector thread: take the finished jobs in batches, fetch their results with one ``gather``,
        release their unique ids, complete their concurrent Futures. Ends at a None."""
        while True:
            try:  # an embedded cluster is checked every second: one with no worker left fails its jobs at once
                keys = [self._done.get(timeout=1.0 if self._cluster is not None else None)]
            except queue.Empty:
                if self._pending and self._no_worker_left():
                    try:
                        self._fail_orphans()
                    except Exception as e:  # never let the collector die
                        self._logger.error('background executor: failing the jobs of a cluster with no worker '
                                           'left failed: %s', e, exc_info=True)
                continue
            while len(keys) < 1000:
                try:
                    keys.append(self._done.get_nowait())
                except queue.Empty:
                    break
            stop = None in keys
            with self._lock:
                jobs = [job for job in (self._pending.get(k) for k in keys if k is not None)
                        if job is not None and job.future is not None and job.dask_future is not None]
            if jobs:
                try:
                    self._finish(jobs)
                except Exception as e:  # never let the collector die: the Futures would never complete
                    self._logger.error('background executor: completing %d job(s) failed: %s', len(jobs), e,
                                       exc_info=True)
            if stop:
                return

    def _finish(self, jobs: list[_Job]) -> None:
        outcomes: dict[str, _Outcome] = {}
        finished = [job for job in jobs if job.dask_future.status == 'finished']
        if finished:
            self._gather(finished, outcomes)
        for job in jobs:
            if job.key not in outcomes:
                outcomes[job.key] = self._outcome(job)
        claims = [(job.id_key, job.token) for job in jobs if job.id_key is not None]
        if claims and self._client.status == 'running':
            try:
                self._on_scheduler(release_unique_many, claims)
            except Exception as e:  # the scheduler is gone: its claims are gone with it
                self._logger.debug('could not release %d unique job id(s) on the scheduler: %s', len(claims), e)
        with self._lock:
            for job in jobs:
                self._pending.pop(job.key, None)
                if job.job_id is not None and self._jobs.get(job.job_id) is job:
                    del self._jobs[job.job_id]
            if not self._pending:
                self._idle.notify_all()
        for job in jobs:
            outcome = outcomes[job.key]
            job.dask_future = None
            if outcome.error is not None:
                self._log_failure(job, outcome.error, outcome.remote_tb)
            if job.future is not None:
                self._complete(job.future, outcome.result, outcome.error, outcome.cancelled)

    def _gather(self, finished: list[_Job], outcomes: dict[str, _Outcome]) -> None:
        """Fetch the results of ``finished`` jobs into ``outcomes``: in one ``gather``, or, when that fails while
        the scheduler is still there (a result that cannot be pickled on its worker), one job at a time, so that
        only the jobs whose results cannot come back fail."""
        try:
            results = self._client.gather([job.dask_future for job in finished])
        except Exception as e:
            if self._client.status == 'running':
                if len(finished) > 1:
                    for job in finished:
                        self._gather([job], outcomes)
                    return
                job = finished[0]
                reason = (mask_text(str(e)).strip().splitlines() or [''])[0][:200]
                pickling = isinstance(e, (TypeError, pickle.PicklingError)) or 'serializ' in reason.lower()
                outcomes[job.key] = _Outcome(error=JobBackendError(
                    f'the result of job {job.label} could not be fetched from {self._where} ({type(e).__name__}: '
                    f'{reason})' + (': a job\'s result must be picklable to come back from a worker' if pickling
                                    else '')))
                return
            for job in finished:  # the connection was lost meanwhile
                outcomes[job.key] = _Outcome(error=_lost_error(
                    f'the outcome of job {job.label} could not be fetched from {self._where} '
                    f'({type(e).__name__}: {mask_text(str(e))[:200]})'))
            return
        for job, result in zip(finished, results):
            outcomes[job.key] = _Outcome(result=result)

    def _outcome(self, job: _Job) -> _Outcome:
        """The outcome of a job that did not finish normally."""
        dask_future = job.dask_future
        try:
            if dask_future.status == 'error':
                error = dask_future.exception()
                remote_tb = getattr(error, 'saf_remote_traceback', None) or ''.join(
                    traceback.format_tb(dask_future.traceback()))
                return _Outcome(error=error, remote_tb=remote_tb)
            if job.cancel_requested:
                return _Outcome(cancelled=True)
            # cancelled by the client itself: the connection to the scheduler was lost
            return _Outcome(error=_lost_error(f'{self._where} was lost before job {job.label} finished; it may or '
                                              f'may not have run'))
        except Exception as e:
            return _Outcome(error=_lost_error(f'the outcome of job {job.label} could not be fetched from '
                                              f'{self._where} ({type(e).__name__}: {mask_text(str(e))[:200]})'))

    def _log_failure(self, job: _Job, error: BaseException, remote_tb: str) -> None:
        if getattr(error, 'saf_lost', False):  # one lost connection fails many jobs: logged once
            if not self._lost_logged:
                self._lost_logged = True
                self._logger.error('%s (further jobs lost this way are logged at DEBUG)', error)
            else:
                self._logger.debug('%s', error)
            return
        where = getattr(error, 'saf_worker', None)
        tail = f' on {where}' if where else ''
        text = remote_tb.rstrip() or f'{type(error).__name__}: {error}'
        if not text.rstrip().endswith(f'{type(error).__name__}: {error}'.rstrip()) and 'Traceback' not in text:
            text = f'{text}\n{type(error).__name__}: {error}'
        stage = getattr(error, 'saf_stage', 'job')
        if job.job_id is None:
            self._logger.error('background job %s failed%s:\n%s', job.label, tail, text)
        elif stage == 'pre':
            self._logger.error('pre function of unique job %r failed%s; the job (%s) was not run:\n%s', job.job_id,
                               tail, job.label, text)
        elif stage == 'post':
            self._logger.error('post function of unique job %r (%s) failed%s:\n%s', job.job_id, job.label, tail, text)
        else:
            self._logger.error('unique job %r (%s) failed%s:\n%s', job.job_id, job.label, tail, text)

    @staticmethod
    def _complete(future: DaskJobFuture, result: Any, error: Optional[BaseException], cancelled: bool) -> None:
        if future.cancelled():
            return
        try:
            if cancelled:
                future._saf_cancelled()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
        except concurrent.futures.InvalidStateError:  # cancelled by its owner meanwhile
            pass

    def _cancel_dask(self, jobs: list[_Job]) -> None:
        """Cancel the Dask tasks of ``jobs`` (best effort: a lost scheduler has forgotten them anyway)."""
        futures = []
        for job in jobs:
            job.cancel_requested = True
            if job.dask_future is not None:
                futures.append(job.dask_future)
        if futures and self._client.status == 'running':
            try:
                self._client.cancel(futures)
            except Exception as e:
                self._logger.debug('cancelling %d job(s) on %s failed: %s', len(futures), self._where, e)

    # --- introspection -----------------------------------------------------------------------------------
    def queue_length(self) -> int:
        """Return how many of this executor's jobs have not started on a worker yet (a worker announces each
        start; an announcement still in flight counts the job as waiting)."""
        with self._lock:
            return sum(1 for job in self._pending.values() if not job.started)

    def contains_job(self, job_id: Hashable) -> bool:
        """Return True when a unique job with ``job_id`` is queued or running anywhere on the cluster."""
        if job_id in self._jobs:
            return True
        if self._client.status != 'running':
            return False
        try:
            return bool(self._on_scheduler(unique_active, UNIQUE_KEY_PREFIX + repr(job_id),
                                                      self._claim_ttl))
        except Exception as e:
            self._logger.debug('cannot ask %s about unique job %r: %s', self._where, job_id, e)
            return False

    def get_jobs(self) -> list[Hashable]:
        """Return the ids of this executor's unique jobs queued or running, in submission order."""
        with self._lock:
            return [k for k, job in self._jobs.items() if job is not None]

    def pending_count(self) -> int:
        """Return the number of this executor's jobs not finished yet (queued or running)."""
        return len(self._pending)

    # --- lifecycle ---------------------------------------------------------------------------------------
    def shutdown(self, wait: bool = False, cancel_pending: bool = True, timeout: Optional[float] = None) -> None:
        """Stop accepting jobs. With ``cancel_pending`` cancel the jobs no worker has started (the running ones
        finish). With ``wait`` wait for the rest (at most ``timeout`` seconds; then the ones not started are
        cancelled, the running ones fail with :class:`JobBackendError`, a warning says how many, and the embedded
        cluster's workers still running them are killed), then close the client and the embedded cluster. Without
        ``wait`` they are closed once the last job is done. Safe to call twice."""
        with self._lock:
            self._shut_down = True
            jobs = list(self._pending.values())
        if cancel_pending and jobs:
            queued = [j for j in jobs if not j.started]
            if queued:
                self._cancel_dask(queued)
                for job in queued:
                    if job.future is not None:
                        self._complete(job.future, None, None, True)
        if not wait:
            with self._lock:
                idle = not self._pending
            if idle:
                self.close()
            else:
                threading.Thread(target=self._close_when_idle, name='saf-dask-close', daemon=True).start()
            return
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        orphaned = False
        abandoned_running = False
        with self._lock:
            while self._pending and self._client.status == 'running':
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                if self._no_worker_left():
                    orphaned = True  # nothing will run them: do not wait for the timeout
                    break
                self._idle.wait(0.25 if remaining is None else min(0.25, remaining))
            left = list(self._pending.values())
        if orphaned:
            self._fail_orphans()
        elif left:
            self._logger.warning('background executor: %d job(s) on %s still unfinished after %gs; cancelling '
                                 'them', len(left), self._where, timeout if timeout is not None else 0)
            self._cancel_dask(left)
            for job in left:
                abandoned_running = abandoned_running or job.started
                if job.future is not None:
                    abandoned = JobBackendError(
                        f'job {job.label} was still running on {self._where} when the executor shut down (waited '
                        f'{timeout:g}s); its outcome is unknown') if job.started else None
                    self._complete(job.future, None, abandoned, abandoned is None)
        if abandoned_running:  # the time is up: their workers are stopped, not waited for
            self._stop_workers_now()
        self.close()

    def _stop_workers_now(self, grace: float = 0.5) -> None:
        """Close the embedded cluster's nannies, killing a worker still busy after ``grace`` seconds (a nanny's
        own close waits 4s for it, beyond the shutdown's time budget). Best effort."""
        cluster = self._cluster
        if cluster is None:
            return
        try:
            nannies = list(cluster.workers.values())
            if nannies:
                cluster.sync(_close_nannies, nannies, grace)
        except Exception as e:  # the cluster closes them (slower) all the same
            self._logger.debug('stopping the workers of %s failed: %s', self._where, e)

    def _close_when_idle(self) -> None:
        with self._lock:
            while self._pending and self._client.status == 'running':
                self._idle.wait(0.5)
        self.close()

    def close(self, timeout: float = 10.0) -> None:
        """Close the client and, when embedded, the LocalCluster (its worker processes end); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._shut_down = True
        self._done.put(None)
        if self._collector.is_alive() and self._collector is not threading.current_thread():
            self._collector.join(timeout)
        for what, obj in (('client', self._client), ('LocalCluster', self._cluster)):
            if obj is None:
                continue
            try:
                obj.close(timeout=timeout)
            except Exception as e:  # best effort at exit
                self._logger.debug('closing the Dask %s failed: %s', what, e)

    def __repr__(self) -> str:
        state = 'shut down' if self._shut_down else self._client.status
        return (f'<DaskBackgroundExecutor {self._where} workers={self._max_workers} pending={len(self._pending)} '
                f'unique_jobs={len(self.get_jobs())} {state}>')


async def _close_nannies(nannies: list[Any], grace: float) -> None:
    """In the cluster's event loop: close the nannies, each killing its worker after ``0.8 * grace`` seconds."""
    import asyncio

    await asyncio.gather(*(n.close(timeout=grace, reason='saf-shutdown-timeout') for n in nannies),
                         return_exceptions=True)


def parse_connect_timeout(value: Any) -> float:
    """Parse ``SAF_DASK_CONNECT_TIMEOUT``: seconds > 0.

    Raises:
        JobBackendConfigError: naming the variable and the value.
    """
    return parse_seconds(value, 'SAF_DASK_CONNECT_TIMEOUT', error=JobBackendConfigError)


def create_dask_executor(v: Variables, logger: logging.Logger, workers: int,
                         collisions_info: bool) -> DaskBackgroundExecutor:
    """Build the executor of the ``dask`` backend from ``SAF_DASK_SCHEDULER`` / ``SAF_DASK_CONNECT_TIMEOUT``.

    Raises:
        JobBackendConfigError: as :class:`DaskBackgroundExecutor`.
    """
    scheduler = v.environ('SAF_DASK_SCHEDULER', default=None)
    scheduler = str(scheduler).strip() if scheduler is not None and str(scheduler).strip() else None
    timeout = v.environ('SAF_DASK_CONNECT_TIMEOUT', default=DEFAULT_CONNECT_TIMEOUT, type_fn=parse_connect_timeout)
    executor = DaskBackgroundExecutor(scheduler, max_workers=workers, logger=logger, collisions_info=collisions_info,
                                      connect_timeout=float(timeout), log_settings=log_settings_of(v))
    logger.info('background jobs run on %s (%d worker thread(s))', executor._where, executor.max_workers)
    return executor


__all__ = ['DaskBackgroundExecutor', 'DaskJobFuture', 'log_settings_of', 'create_dask_executor',
           'parse_connect_timeout', 'import_distributed', 'UNIQUE_KEY_PREFIX', 'DEFAULT_CONNECT_TIMEOUT']
