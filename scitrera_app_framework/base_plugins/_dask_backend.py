"""The ``dask`` job backend: :class:`DaskBackgroundExecutor`, the background executor API on Dask distributed.

Imported only when ``SAF_JOB_BACKEND=dask`` (or by a direct import); ``distributed`` itself is imported when an
executor is created. ``SAF_DASK_SCHEDULER=tcp://host:8786`` connects to an existing scheduler; without it an
embedded :class:`distributed.LocalCluster` (worker processes on 127.0.0.1, ``SAF_JOB_THREADS`` of them, one
thread each, each in its own session so that a terminal's Ctrl-C reaches only the app: see
:func:`shielded_worker`) is started and closed at shutdown; if it has no worker left, its jobs fail at once.

How a job crosses the process boundary: ``fn``, its arguments and the pre/post functions are pickled
(cloudpickle: module-level functions by reference, so their module must be importable on the workers; lambdas
and closures by value) and run by :func:`run_remote_job` on a worker. The submitting context travels with it:
the :func:`~scitrera_app_framework.core.log_format.log_context` fields (str, int, float, bool and None values as they
are, anything else as its ``str``) and the current tenant id are set on the worker while the job runs (so
``current_tenant()`` and every log record of the job carry them), and so is the active OpenTelemetry span, as a
remote parent (W3C ``traceparent``; the job's log records carry its ``trace_id`` when the worker has
``opentelemetry-api``). Other context variables, thread-locals, the
app's ``Variables``, plugins and extension values, open files, sockets and locks do not cross; a job sees only
what it was given. The result comes back pickled (one that cannot be pickled fails its job, alone, with
:class:`JobBackendError` saying so); a failure comes back as the job's own exception with the
remote traceback text in its ``saf_remote_traceback`` attribute, and is logged here with that traceback.

The app's logging identity (:class:`WorkerLogSettings`: main logger name, level, format, static fields) reaches
every worker through :class:`WorkerLoggingPlugin` and with each job, so ``get_logger(name='job')`` in a job gives
``<app>.job`` with the app's format, as on the thread backend.

Unique jobs are unique across the cluster: the id is claimed on the scheduler (one claim at a time per id,
decided in the scheduler's event loop) and the job runs under the task key ``saf-unique-<repr(id)>-<token>``;
the id stays taken while that task is queued or running there, whichever client submitted it.

The backend in three modules, one per side, all re-exported here: :mod:`._dask_client` (the executor, in the
submitting process), :mod:`._dask_worker` (what runs on the workers: the job runner and the logging identity) and
:mod:`._dask_scheduler` (the unique-job claims, run in the scheduler's event loop). Dask pickles the functions and
plugins it sends to the other processes by module and name, so the worker and scheduler sides import only what
they need.
"""

from __future__ import annotations

from ._dask_client import (
    DEFAULT_CONNECT_TIMEOUT,
    UNIQUE_KEY_PREFIX,
    DaskBackgroundExecutor,
    DaskJobFuture,
    create_dask_executor,
    import_distributed,
    log_settings_of,
    parse_connect_timeout,
)
from ._dask_scheduler import CLAIM_TTL, claim_unique, release_unique, release_unique_many, unique_active
from ._dask_worker import (
    WorkerLoggingPlugin,
    WorkerLogSettings,
    adopt_app_logger,
    ensure_worker_logging,
    run_remote_job,
    shielded_worker,
)

__all__ = ['DaskBackgroundExecutor', 'DaskJobFuture', 'WorkerLogSettings', 'WorkerLoggingPlugin', 'adopt_app_logger',
           'shielded_worker', 'run_remote_job', 'claim_unique',
           'release_unique', 'release_unique_many', 'unique_active', 'ensure_worker_logging', 'log_settings_of',
           'create_dask_executor', 'parse_connect_timeout', 'import_distributed', 'UNIQUE_KEY_PREFIX',
           'DEFAULT_CONNECT_TIMEOUT', 'CLAIM_TTL']
