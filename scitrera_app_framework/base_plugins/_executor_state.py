"""The state the framework's executors share: how many workers, and whether :meth:`shutdown` was called.

:class:`ExecutorStateMixin` answers :class:`~.background.JobExecutor`'s ``max_workers`` and ``is_shutdown`` from
two attributes the executor sets (``_max_workers`` in its constructor, ``_shut_down`` when it shuts down); the
thread backend and the Dask backend both use it.
"""

from __future__ import annotations


class ExecutorStateMixin:
    """``max_workers`` and ``is_shutdown`` read from ``self._max_workers`` and ``self._shut_down``; put it before
    :class:`~.background.JobExecutor` among the bases."""

    _max_workers: int
    _shut_down: bool

    @property
    def max_workers(self) -> int:
        """Number of workers: the worker threads (thread backend); the worker threads of the embedded cluster, or of
        the cluster at connection time (dask backend)."""
        return self._max_workers

    @property
    def is_shutdown(self) -> bool:
        """True once :meth:`shutdown` was called (new jobs are then rejected)."""
        return self._shut_down


__all__ = ['ExecutorStateMixin']
