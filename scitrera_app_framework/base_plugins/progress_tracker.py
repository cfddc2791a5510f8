"""Progress tracker: per-task progress in 0..1, overall progress, change callbacks, child-tracker rollup.

Semantics:

- ``update(task_id, p)`` opens or updates a task; ``p`` must be a number in 0..1 (NaN and values outside are
  rejected). A task is removed ("completed") when it reaches 1.0, or by :meth:`ProgressTracker.complete`.
- :meth:`ProgressTracker.overall` is the weighted mean of the open tasks (weight 1.0 unless given). With no
  open task it is 1.0: nothing is outstanding.
- Callbacks ``fn(tracker, task_id, progress)`` are called after every change (a task opened, moved, or
  completed; completion reports 1.0), in the thread that made the change and outside the tracker's lock
  (so callbacks of changes made concurrently by different threads may interleave). A failing callback is
  logged and does not affect the update or the other callbacks.
- ``parent.add_child(child)`` makes the child's overall progress one task of the parent (id ``child.name``
  unless given, with a weight). The task starts at the child's overall progress (0.0 while the child has no
  open task yet), follows every change of the child, and is completed (removed, and the child detached) when
  the child's overall progress reaches 1.0, i.e. when its last open task completes.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from typing import Any, Callable, Hashable, Optional

from .._exports import Exports
from ..api.plugins import Plugin
from ..api.variables import Variables
from . import EXT_PROGRESS_TRACKER

__all__ = ['ProgressCallback', 'ProgressTracker', 'ProgressTrackerPlugin', 'EXT_PROGRESS_TRACKER']

ProgressCallback = Callable[['ProgressTracker', Hashable, float], Any]

_log = logging.getLogger(__name__)
_names = itertools.count(1)
_tree_lock = threading.Lock()  # serializes add_child/remove_child across trackers (cycle checks, link updates)


def _check_progress(task_id: Hashable, progress: Any) -> float:
    """Return ``progress`` as a float in 0..1.

    Raises:
        ValueError: not a number, NaN, or outside 0..1 (names the task and the value).
    """
    if isinstance(progress, bool):
        raise ValueError(f'progress of task {task_id!r} must be a number in 0..1, got {progress!r}')
    try:
        p = float(progress)
    except (TypeError, ValueError):
        raise ValueError(f'progress of task {task_id!r} must be a number in 0..1, got {progress!r}') from None
    if not 0.0 <= p <= 1.0:  # also false for NaN
        raise ValueError(f'progress of task {task_id!r} must be in 0..1 (0 = not started, 1 = done), '
                         f'got {progress!r}')
    return p


def _check_weight(what: str, weight: Any) -> float:
    """Return ``weight`` as a positive finite float.

    Raises:
        ValueError: anything else (names ``what`` and the value).
    """
    try:
        w = float(weight)
    except (TypeError, ValueError):
        raise ValueError(f'weight of {what} must be a positive number, got {weight!r}') from None
    if isinstance(weight, bool) or not (w > 0.0 and math.isfinite(w)):
        raise ValueError(f'weight of {what} must be a positive finite number, got {weight!r}')
    return w


class _Change:
    """What one state change must report once the lock is released."""

    __slots__ = ('task_id', 'progress', 'version', 'overall', 'callbacks', 'parents')

    def __init__(self, task_id: Hashable, progress: float, version: int, overall: float,
                 callbacks: tuple[Any, ...], parents: tuple[Any, ...]) -> None:
        self.task_id = task_id
        self.progress = progress
        self.version = version
        self.overall = overall
        self.callbacks = callbacks
        self.parents = parents


class ProgressTracker:
    """Thread-safe tracker of task progress (see the module docstring for the exact semantics).

    Args:
        name: the tracker's name (default ``tracker-<n>``, unique in the process); also the default task id
            of this tracker when it is added as a child of another tracker.
        logger: where failing callbacks are logged (default: this module's logger).
    """

    def __init__(self, name: Optional[str] = None, logger: Optional[logging.Logger] = None) -> None:
        self.name = name if name is not None else f'tracker-{next(_names)}'
        self._logger = logger if logger is not None else _log
        self._lock = threading.Lock()
        self._progress: dict[Hashable, float] = {}
        self._weights: dict[Hashable, float] = {}  # only tasks whose weight is not 1.0
        self._callbacks: tuple[ProgressCallback, ...] = ()
        self._version = 0  # incremented on every change; lets a parent ignore out-of-order child reports
        self._parents: tuple[tuple[ProgressTracker, Hashable], ...] = ()  # (parent, my task id in the parent)
        self._children: dict[Hashable, ProgressTracker] = {}  # task id -> child tracker
        self._child_versions: dict[Hashable, int] = {}

    # --- reading -----------------------------------------------------------------------------------------
    def overall(self) -> float:
        """Return the weighted mean progress of the open tasks, or 1.0 when there is none."""
        with self._lock:
            return self._overall_locked()

    def _overall_locked(self) -> float:
        progress = self._progress
        if not progress:
            return 1.0
        weights = self._weights
        if not weights:
            return sum(progress.values()) / len(progress)
        total = weighted = 0.0
        for task_id, p in progress.items():
            w = weights.get(task_id, 1.0)
            total += w
            weighted += w * p
        return weighted / total

    def tasks(self) -> dict[Hashable, float]:
        """Return a snapshot ``{task id: progress}`` of the open tasks (child trackers included)."""
        with self._lock:
            return dict(self._progress)

    def get(self, task_id: Hashable, default: Optional[float] = None) -> Optional[float]:
        """Return the progress of an open task, or ``default`` when it is not open."""
        return self._progress.get(task_id, default)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._progress

    def __len__(self) -> int:
        return len(self._progress)

    # --- writing -----------------------------------------------------------------------------------------
    def update(self, task_id: Hashable, progress: float, weight: Optional[float] = None) -> float:
        """Set the progress of ``task_id`` (opening it if needed); at 1.0 the task is completed and removed.

        ``weight`` (default: keep the task's weight, 1.0 for a new task) is the task's share of
        :meth:`overall`. Returns the overall progress after the update.

        Raises:
            ValueError: ``progress`` is not a number in 0..1 (NaN included), ``weight`` is not positive, or
                ``task_id`` is the rollup of a child tracker (update the child instead).
        """
        p = _check_progress(task_id, progress)
        w = _check_weight(f'task {task_id!r}', weight) if weight is not None else None
        with self._lock:
            if task_id in self._children:
                raise ValueError(f'task {task_id!r} of tracker {self.name!r} is the rollup of child tracker '
                                 f'{self._children[task_id].name!r}; update the child tracker instead')
            if w is not None:
                if w == 1.0:
                    self._weights.pop(task_id, None)
                else:
                    self._weights[task_id] = w
            change = self._set_locked(task_id, p, weight_changed=w is not None)
            overall = self._overall_locked() if change is None else change.overall
        if change is not None:
            self._notify(change)
        return overall

    def complete(self, task_id: Hashable) -> bool:
        """Complete (remove) an open task; a child tracker's task also detaches the child.

        Returns True when the task was open, False otherwise.
        """
        detached: Optional[ProgressTracker] = None
        with self._lock:
            if task_id not in self._progress:
                return False
            detached = self._children.pop(task_id, None)
            self._child_versions.pop(task_id, None)
            change = self._set_locked(task_id, 1.0)
        if detached is not None:
            detached._drop_parent(self, task_id)
        if change is not None:
            self._notify(change)
        return True

    def _set_locked(self, task_id: Hashable, p: float, weight_changed: bool = False) -> Optional[_Change]:
        """Apply a progress value (caller holds the lock); return the change to report, or None if none."""
        old = self._progress.get(task_id)
        if p >= 1.0:
            if old is None:
                self._weights.pop(task_id, None)
                return None
            del self._progress[task_id]
            self._weights.pop(task_id, None)
        elif old == p and not weight_changed:
            return None
        else:
            self._progress[task_id] = p
        self._version += 1
        return _Change(task_id, p, self._version, self._overall_locked(), self._callbacks, self._parents)

    def _notify(self, change: _Change) -> None:
        """Report a change (caller does not hold the lock): callbacks first, then parent trackers."""
        for cb in change.callbacks:
            try:
                cb(self, change.task_id, change.progress)
            except Exception:
                self._logger.exception('progress callback %r of tracker %r failed for task %r (progress %r)',
                                       cb, self.name, change.task_id, change.progress)
        for parent, my_task_id in change.parents:
            parent._child_changed(my_task_id, self, change.version, change.overall)

    # --- callbacks ---------------------------------------------------------------------------------------
    def add_callback(self, fn: ProgressCallback) -> None:
        """Call ``fn(tracker, task_id, progress)`` after every change.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        if not callable(fn):
            raise TypeError(f'progress callback must be callable, got {fn!r}')
        with self._lock:
            self._callbacks = self._callbacks + (fn,)

    def remove_callback(self, fn: ProgressCallback) -> bool:
        """Stop calling ``fn``; return True when it was registered."""
        with self._lock:
            for i, cb in enumerate(self._callbacks):
                if cb == fn:
                    self._callbacks = self._callbacks[:i] + self._callbacks[i + 1:]
                    return True
        return False

    def clear_callbacks(self) -> None:
        """Remove every callback."""
        with self._lock:
            self._callbacks = ()

    # --- child trackers ----------------------------------------------------------------------------------
    def add_child(self, child: ProgressTracker, weight: float = 1.0, task_id: Optional[Hashable] = None) -> Hashable:
        """Count ``child``'s overall progress as one task of this tracker; return that task's id.

        The task id is ``task_id`` or ``child.name``; ``weight`` is its share of :meth:`overall`. The task is
        completed (and the child detached) when the child's overall progress reaches 1.0.

        Raises:
            TypeError: ``child`` is not a ProgressTracker.
            ValueError: the child is this tracker or one of its ancestors (a cycle), the task id is already
                open here, or ``weight`` is not positive.
        """
        if not isinstance(child, ProgressTracker):
            raise TypeError(f'add_child expects a ProgressTracker, got {child!r}')
        tid: Hashable = child.name if task_id is None else task_id
        w = _check_weight(f'child tracker {child.name!r}', weight)
        with _tree_lock:
            if child is self or child._is_ancestor_of(self):
                raise ValueError(f'cannot add tracker {child.name!r} as a child of {self.name!r}: it would create '
                                 f'a cycle (a tracker cannot be its own descendant)')
            with child._lock, self._lock:
                if tid in self._progress:
                    raise ValueError(f'tracker {self.name!r} already has an open task {tid!r}; pass a distinct '
                                     f'task_id to add_child')
                start = child._overall_locked() if child._progress else 0.0
                self._children[tid] = child
                self._child_versions[tid] = child._version
                if w != 1.0:
                    self._weights[tid] = w
                self._progress[tid] = start
                self._version += 1
                change = _Change(tid, start, self._version, self._overall_locked(), self._callbacks,
                                 self._parents)
                child._parents = child._parents + ((self, tid),)
        self._notify(change)
        return tid

    def remove_child(self, child: ProgressTracker) -> bool:
        """Detach ``child`` and remove its task (as if completed); return True when it was a child."""
        with self._lock:
            tid = next((t for t, c in self._children.items() if c is child), None)
        return tid is not None and self.complete(tid)

    def children(self) -> dict[Hashable, ProgressTracker]:
        """Return a snapshot ``{task id: child tracker}`` of the attached child trackers."""
        with self._lock:
            return dict(self._children)

    def _is_ancestor_of(self, other: ProgressTracker) -> bool:
        """True when ``self`` is a (transitive) parent of ``other`` (caller holds ``_tree_lock``)."""
        stack = [p for p, _ in other._parents]
        seen: set[int] = set()
        while stack:
            t = stack.pop()
            if t is self:
                return True
            if id(t) not in seen:
                seen.add(id(t))
                stack.extend(p for p, _ in t._parents)
        return False

    def _drop_parent(self, parent: ProgressTracker, task_id: Hashable) -> None:
        with _tree_lock, self._lock:
            self._parents = tuple(pt for pt in self._parents if not (pt[0] is parent and pt[1] == task_id))

    def _child_changed(self, task_id: Hashable, child: ProgressTracker, version: int, overall: float) -> None:
        """Apply a child's new overall progress, ignoring reports from detached children and stale versions."""
        detached = False
        with self._lock:
            if self._children.get(task_id) is not child or version <= self._child_versions.get(task_id, 0):
                return
            self._child_versions[task_id] = version
            if overall >= 1.0:
                del self._children[task_id]
                del self._child_versions[task_id]
                detached = True
            change = self._set_locked(task_id, overall)
        if detached:
            child._drop_parent(self, task_id)
        if change is not None:
            self._notify(change)

    def __repr__(self) -> str:
        return f'<ProgressTracker {self.name!r} tasks={len(self._progress)} overall={self.overall():.3f}>'


class ProgressTrackerPlugin(Plugin[ProgressTracker]):
    """Provides a :class:`ProgressTracker` at ``EXT_PROGRESS_TRACKER`` (lazy)."""

    eager = False

    def extension_point_name(self, v: Variables) -> str:
        """Return ``EXT_PROGRESS_TRACKER``."""
        return EXT_PROGRESS_TRACKER

    def initialize(self, v: Variables, logger: logging.Logger) -> ProgressTracker:
        """Return a new tracker named after the app that logs failing callbacks to the plugin's logger."""
        return ProgressTracker(name=str(v.get('APP_NAME') or 'progress'), logger=logger)

    def shutdown(self, v: Variables, logger: logging.Logger, value: ProgressTracker) -> None:
        """Drop the tracker's callbacks so nothing is notified after shutdown."""
        value.clear_callbacks()


# kept importable here before 0.1.0: deprecated, with a warning naming the home
_EXPORTS = Exports(__name__, globals(), moved={'get_progress_tracker': 'scitrera_app_framework.base_plugins'})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
