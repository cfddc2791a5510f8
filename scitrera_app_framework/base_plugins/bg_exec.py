"""The background executor plugin (the module of the original package, so the plugin's name is the same).

``BackgroundThreadExecutorPlugin`` provides the :class:`~.background.BackgroundExecutor` at
``EXT_BACKGROUND_EXEC``; ``base_plugins.background.BackgroundExecPlugin`` is the same class under its earlier
name.
"""

from __future__ import annotations

import logging

from ..api.plugins import Plugin
from ..api.variables import Variables
from ..core.shutdown import register_intake_stop
from ..util.parsing import ext_parse_bool
from . import EXT_BACKGROUND_EXEC, get_background_exec
from .background import DEFAULT_JOB_THREADS, BackgroundExecutor, parse_job_threads


class BackgroundThreadExecutorPlugin(Plugin[BackgroundExecutor]):
    """Provides the :class:`BackgroundExecutor` at ``EXT_BACKGROUND_EXEC`` (lazy).

    Configuration: ``SAF_JOB_THREADS`` (worker threads, default 4), ``SAF_JOB_COLLISIONS_INFO`` (log
    rejected duplicate unique jobs at INFO instead of DEBUG, default False) and
    ``SAF_JOB_SHUTDOWN_CANCEL_PENDING`` (at shutdown drop queued jobs instead of running them, default False).
    """

    eager = False

    def extension_point_name(self, v: Variables) -> str:
        """Return ``EXT_BACKGROUND_EXEC``."""
        return EXT_BACKGROUND_EXEC

    def initialize(self, v: Variables, logger: logging.Logger) -> BackgroundExecutor:
        """Create the executor from ``SAF_JOB_THREADS`` / ``SAF_JOB_COLLISIONS_INFO``.

        Raises:
            ValueError: ``SAF_JOB_THREADS`` is not a positive integer or ``SAF_JOB_COLLISIONS_INFO`` is not a
                boolean (the registry reports it as a PluginInitError naming this plugin).
        """
        threads = v.environ('SAF_JOB_THREADS', default=DEFAULT_JOB_THREADS, type_fn=parse_job_threads)
        collisions_info = v.environ('SAF_JOB_COLLISIONS_INFO', default=False, type_fn=ext_parse_bool)
        executor = BackgroundExecutor(max_workers=threads, logger=logger, collisions_info=bool(collisions_info))
        register_intake_stop(lambda: self._stop_intake(v, logger, executor), v)
        return executor

    def _stop_intake(self, v: Variables, logger: logging.Logger, executor: BackgroundExecutor) -> None:
        """The shutdown's intake phase: refuse new jobs, cancel or finish the queued ones, wait for the workers
        (``SAF_SHUTDOWN_TIMEOUT`` bounds the wait), so no job outlives the plugins it uses."""
        cancel = bool(v.environ('SAF_JOB_SHUTDOWN_CANCEL_PENDING', default=False, type_fn=ext_parse_bool))
        queued = executor.queue_length()
        if queued:
            logger.info('background executor: %s %d queued job(s) before shutting down',
                        'cancelling' if cancel else 'finishing', queued)
        executor.shutdown(wait=True, cancel_pending=cancel)

    def shutdown(self, v: Variables, logger: logging.Logger, value: BackgroundExecutor) -> None:
        """Shut the executor down gracefully: queued and running jobs finish first (so a job submitted just
        before exit still runs), unless ``SAF_JOB_SHUTDOWN_CANCEL_PENDING`` is true. ``SAF_SHUTDOWN_TIMEOUT``
        bounds the wait when shutdown runs from a signal or at exit."""
        cancel = v.environ('SAF_JOB_SHUTDOWN_CANCEL_PENDING', default=False, type_fn=ext_parse_bool)
        value.shutdown(wait=True, cancel_pending=bool(cancel))


__all__ = ['BackgroundThreadExecutorPlugin', 'BackgroundExecutor', 'EXT_BACKGROUND_EXEC', 'get_background_exec']
