"""The background executor plugin (the module of the original package, so the plugin's name is the same).

``BackgroundThreadExecutorPlugin`` provides the background executor at ``EXT_BACKGROUND_EXEC``: a
:class:`~.background.BackgroundExecutor` (``SAF_JOB_BACKEND=thread``, the default) or a
:class:`~._dask_client.DaskBackgroundExecutor` (``SAF_JOB_BACKEND=dask``; Dask is imported only then).
``base_plugins.background.BackgroundExecPlugin`` is the same class under its earlier name.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from .._exports import Exports
from ..api.plugins import Plugin
from ..api.variables import Variables
from ..core.shutdown import get_shutdown_manager, register_intake_stop
from ..util.parsing import parse_bool_strict
from . import EXT_BACKGROUND_EXEC
from .background import DEFAULT_JOB_THREADS, BackgroundExecutor, JobExecutor, parse_job_backend, parse_job_threads

#: share of ``SAF_SHUTDOWN_TIMEOUT`` the dask backend waits for its jobs at shutdown (the rest closes the cluster)
DASK_SHUTDOWN_SHARE = 0.75


class BackgroundThreadExecutorPlugin(Plugin[BackgroundExecutor]):
    """Provides the background executor at ``EXT_BACKGROUND_EXEC`` (lazy).

    Configuration: ``SAF_JOB_BACKEND`` (``thread``, the default, or ``dask``), ``SAF_JOB_THREADS`` (worker
    threads, or the embedded Dask cluster's worker processes, default 4), ``SAF_JOB_COLLISIONS_INFO`` (log
    rejected duplicate unique jobs at INFO instead of DEBUG, default False), ``SAF_JOB_SHUTDOWN_CANCEL_PENDING``
    (at shutdown drop queued jobs instead of running them, default False); for ``dask``: ``SAF_DASK_SCHEDULER``
    (the scheduler's address; unset: an embedded LocalCluster) and ``SAF_DASK_CONNECT_TIMEOUT`` (seconds, 10).
    """

    eager = False

    def __init__(self) -> None:
        super().__init__()
        self._executors: list[tuple[Variables, logging.Logger, JobExecutor]] = []
        self._stop_registered: set[int] = set()

    def on_registration(self, v: Variables) -> None:
        """Put the executor's intake stop in place now, whether or not the executor is ever used: in the
        shutdown's intake phase it runs after the app's own stoppers (a web server's included), so a request
        served until then can still hand jobs over."""
        if id(v) not in self._stop_registered:
            self._stop_registered.add(id(v))
            register_intake_stop(lambda: self._stop_all(v), v, last=True)

    def _stop_all(self, v: Variables) -> None:
        for owner, logger, executor in [e for e in self._executors if e[0] is v]:
            self._stop_intake(owner, logger, executor)

    def extension_point_name(self, v: Variables) -> str:
        """Return ``EXT_BACKGROUND_EXEC``."""
        return EXT_BACKGROUND_EXEC

    def initialize(self, v: Variables, logger: logging.Logger) -> BackgroundExecutor:
        """Create the executor of ``SAF_JOB_BACKEND`` from ``SAF_JOB_THREADS`` / ``SAF_JOB_COLLISIONS_INFO``.

        Raises:
            ValueError: ``SAF_JOB_THREADS`` is not a positive integer, ``SAF_JOB_COLLISIONS_INFO`` is not a
                boolean, or ``SAF_JOB_BACKEND`` is unknown (the registry reports it as a PluginInitError naming
                this plugin).
            JobBackendConfigError: the dask backend cannot start (``distributed`` missing, the scheduler at
                ``SAF_DASK_SCHEDULER`` unreachable).
        """
        backend = v.environ('SAF_JOB_BACKEND', default='thread', type_fn=parse_job_backend)
        threads = v.environ('SAF_JOB_THREADS', default=DEFAULT_JOB_THREADS, type_fn=parse_job_threads)
        collisions_info = v.environ('SAF_JOB_COLLISIONS_INFO', default=False, type_fn=parse_bool_strict)
        executor: Any
        if backend == 'dask':
            from ._dask_client import create_dask_executor
            executor = create_dask_executor(v, logger, threads, bool(collisions_info))
        else:
            executor = BackgroundExecutor(max_workers=threads, logger=logger, collisions_info=bool(collisions_info))
        self._executors.append((v, logger, executor))
        if id(v) not in self._stop_registered:  # (registered without on_registration: a subclass overrode it)
            self._stop_registered.add(id(v))
            register_intake_stop(lambda: self._stop_all(v), v, last=True)
        return executor  # type: ignore[no-any-return]

    def _stop_intake(self, v: Variables, logger: logging.Logger, executor: JobExecutor) -> None:
        """The shutdown's intake phase: refuse new jobs, cancel or finish the queued ones, wait for the workers
        (``SAF_SHUTDOWN_TIMEOUT`` bounds the wait), so no job outlives the plugins it uses."""
        cancel = bool(v.environ('SAF_JOB_SHUTDOWN_CANCEL_PENDING', default=False, type_fn=parse_bool_strict))
        queued = executor.queue_length()
        if queued:
            logger.info('background executor: %s %d queued job(s) before shutting down',
                        'cancelling' if cancel else 'finishing', queued)
        self._shutdown(executor, cancel)

    @staticmethod
    def _shutdown(executor: JobExecutor, cancel: bool) -> None:
        if executor.backend == 'dask':
            # the jobs run elsewhere: wait for them within the shutdown timeout, then close the cluster
            timeout: Optional[float] = get_shutdown_manager().timeout
            executor.shutdown(wait=True, cancel_pending=cancel,  # type: ignore[call-arg]
                              timeout=None if timeout is None else timeout * DASK_SHUTDOWN_SHARE)
        else:
            executor.shutdown(wait=True, cancel_pending=cancel)

    def shutdown(self, v: Variables, logger: logging.Logger, value: BackgroundExecutor) -> None:
        """Shut the executor down gracefully: queued and running jobs finish first (so a job submitted just
        before exit still runs), unless ``SAF_JOB_SHUTDOWN_CANCEL_PENDING`` is true. ``SAF_SHUTDOWN_TIMEOUT``
        bounds the wait when shutdown runs from a signal or at exit (the dask backend waits for at most 3/4 of
        it, then cancels what is left and closes its client and embedded cluster)."""
        cancel = v.environ('SAF_JOB_SHUTDOWN_CANCEL_PENDING', default=False, type_fn=parse_bool_strict)
        self._shutdown(value, bool(cancel))


__all__ = ['BackgroundThreadExecutorPlugin', 'EXT_BACKGROUND_EXEC', 'DASK_SHUTDOWN_SHARE']

# kept importable here before 0.1.0: deprecated, with a warning naming the home
_EXPORTS = Exports(__name__, globals(), moved={'get_background_exec': 'scitrera_app_framework.base_plugins'})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
