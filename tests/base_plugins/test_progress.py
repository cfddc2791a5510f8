"""Tests for the progress tracker (``base_plugins/progress_tracker.py``) and its plugin."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, Hashable

import pytest

from scitrera_app_framework.api import Variables
from scitrera_app_framework.base_plugins import EXT_PROGRESS_TRACKER, get_progress_tracker
from scitrera_app_framework.base_plugins.progress_tracker import ProgressTracker, ProgressTrackerPlugin
from scitrera_app_framework.core.plugins import get_extension, register_plugin, shutdown_all_plugins


class _Recorder:
    """Callback that records ``(tracker name, task id, progress)``; thread-safe."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Hashable, float]] = []
        self._lock = threading.Lock()

    def __call__(self, tracker: ProgressTracker, task_id: Hashable, progress: float) -> None:
        with self._lock:
            self.calls.append((tracker.name, task_id, progress))


# --- basic math ----------------------------------------------------------------------------------------------
def test_overall_is_mean_of_open_tasks() -> None:
    t = ProgressTracker('t')
    assert t.overall() == 1.0  # nothing open: nothing outstanding
    assert t.tasks() == {}
    t.update('a', 0.2)
    t.update('b', 0.6)
    assert t.overall() == pytest.approx(0.4)
    assert t.update('c', 0.1) == pytest.approx(0.3)
    assert t.tasks() == {'a': 0.2, 'b': 0.6, 'c': 0.1}
    assert len(t) == 3 and 'a' in t and t.get('b') == 0.6 and t.get('zz') is None


def test_tasks_removed_at_one_and_by_complete() -> None:
    t = ProgressTracker('t')
    t.update('a', 0.5)
    t.update('b', 0.25)
    t.update('a', 1.0)
    assert t.tasks() == {'b': 0.25}
    assert t.overall() == 0.25
    assert t.complete('b') is True
    assert t.complete('b') is False
    assert t.complete('never-opened') is False
    assert t.tasks() == {} and t.overall() == 1.0
    t.update('x', 1)  # a task that goes straight to done is never open
    assert t.tasks() == {}


def test_tasks_snapshot_is_a_copy() -> None:
    t = ProgressTracker('t')
    t.update('a', 0.5)
    snap = t.tasks()
    snap['a'] = 0.9
    snap['b'] = 0.1
    assert t.tasks() == {'a': 0.5}


def test_integer_and_boundary_values() -> None:
    t = ProgressTracker('t')
    t.update('a', 0)
    assert t.tasks() == {'a': 0.0}
    t.update('a', 1)
    assert t.tasks() == {}


@pytest.mark.parametrize('bad', [float('nan'), -0.01, 1.5, float('inf'), -math.inf, 'abc', None, True, [0.5]])
def test_bad_progress_is_rejected(bad: Any) -> None:
    t = ProgressTracker('t')
    t.update('job-1', 0.5)
    with pytest.raises(ValueError) as ei:
        t.update('job-1', bad)
    msg = str(ei.value)
    assert "'job-1'" in msg and repr(bad) in msg
    assert t.tasks() == {'job-1': 0.5}  # state unchanged


def test_weights() -> None:
    t = ProgressTracker('t')
    t.update('big', 0.5, weight=3)
    t.update('small', 0.0)
    assert t.overall() == pytest.approx(1.5 / 4)
    t.update('big', 1.0)
    assert t.overall() == 0.0
    t.update('big', 0.5)  # a reopened task has weight 1 again
    assert t.overall() == pytest.approx(0.25)
    for bad in (0, -1, float('nan'), float('inf'), 'x'):
        with pytest.raises(ValueError, match="weight of task 'big'"):
            t.update('big', 0.5, weight=bad)  # type: ignore[arg-type]


# --- callbacks -----------------------------------------------------------------------------------------------
def test_callbacks_on_every_change() -> None:
    t = ProgressTracker('t')
    rec = _Recorder()
    t.add_callback(rec)
    t.update('a', 0.1)
    t.update('a', 0.1)  # no change, no call
    t.update('a', 0.7)
    t.update('b', 0.0)
    t.update('a', 1.0)
    t.complete('b')
    t.complete('b')  # not open: no call
    t.update('c', 1.0)  # never open: no call
    assert rec.calls == [('t', 'a', 0.1), ('t', 'a', 0.7), ('t', 'b', 0.0), ('t', 'a', 1.0), ('t', 'b', 1.0)]
    assert t.remove_callback(rec) is True
    assert t.remove_callback(rec) is False
    t.update('d', 0.5)
    assert len(rec.calls) == 5


def test_callback_sees_state_after_change() -> None:
    t = ProgressTracker('t')
    seen: list[tuple[dict, float]] = []
    t.add_callback(lambda tr, tid, p: seen.append((tr.tasks(), tr.overall())))
    t.update('a', 0.5)
    t.update('a', 1.0)
    assert seen == [({'a': 0.5}, 0.5), ({}, 1.0)]


def test_failing_callback_is_logged_and_does_not_break_updates(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger('test.progress.cb')
    caplog.set_level(logging.DEBUG, logger='test.progress.cb')
    t = ProgressTracker('t', logger=logger)
    rec = _Recorder()

    def broken_callback(tracker: ProgressTracker, task_id: Hashable, progress: float) -> None:
        raise RuntimeError('callback exploded')

    t.add_callback(broken_callback)
    t.add_callback(rec)
    assert t.update('a', 0.5) == 0.5
    assert t.tasks() == {'a': 0.5}
    assert rec.calls == [('t', 'a', 0.5)]
    [r] = [r for r in caplog.records if r.name == 'test.progress.cb']
    assert r.levelno == logging.ERROR and r.exc_info is not None
    assert 'broken_callback' in r.getMessage() and "'a'" in r.getMessage()


def test_add_callback_rejects_non_callable() -> None:
    with pytest.raises(TypeError, match='callable'):
        ProgressTracker('t').add_callback('not a function')  # type: ignore[arg-type]


# --- child rollup --------------------------------------------------------------------------------------------
def test_child_rollup_counts_as_one_task() -> None:
    parent = ProgressTracker('parent')
    child = ProgressTracker('child')
    parent.update('own', 0.5)
    tid = parent.add_child(child)
    assert tid == 'child'
    assert parent.tasks() == {'own': 0.5, 'child': 0.0}  # empty child starts at 0.0
    child.update('c1', 0.5)
    child.update('c2', 0.0)
    assert parent.tasks()['child'] == pytest.approx(0.25)
    assert parent.overall() == pytest.approx((0.5 + 0.25) / 2)
    with pytest.raises(ValueError, match='child tracker'):
        parent.update('child', 0.9)
    child.update('c1', 1.0)
    assert parent.tasks()['child'] == 0.0
    child.update('c2', 1.0)  # child's last task done: rolled up as complete, removed, child detached
    assert parent.tasks() == {'own': 0.5}
    assert parent.children() == {}
    child.update('late', 0.3)
    assert parent.tasks() == {'own': 0.5}


def test_child_with_progress_starts_at_its_overall_and_weight() -> None:
    parent = ProgressTracker('parent')
    child = ProgressTracker('child')
    child.update('x', 0.8)
    parent.update('own', 0.0)
    assert parent.add_child(child, weight=3.0, task_id='sub') == 'sub'
    assert parent.tasks() == {'own': 0.0, 'sub': 0.8}
    assert parent.overall() == pytest.approx(2.4 / 4)
    assert parent.children() == {'sub': child}


def test_child_callbacks_and_parent_callbacks() -> None:
    parent = ProgressTracker('parent')
    child = ProgressTracker('child')
    prec, crec = _Recorder(), _Recorder()
    parent.add_callback(prec)
    child.add_callback(crec)
    parent.add_child(child)
    child.update('c', 0.5)
    child.update('c', 1.0)
    assert crec.calls == [('child', 'c', 0.5), ('child', 'c', 1.0)]
    assert prec.calls == [('parent', 'child', 0.0), ('parent', 'child', 0.5), ('parent', 'child', 1.0)]


def test_nested_children_roll_up() -> None:
    root, mid, leaf = ProgressTracker('root'), ProgressTracker('mid'), ProgressTracker('leaf')
    root.add_child(mid)
    mid.add_child(leaf)
    mid.update('m', 0.5)
    leaf.update('l', 0.5)
    assert mid.overall() == 0.5
    assert root.tasks() == {'mid': 0.5}
    leaf.update('l', 1.0)
    assert mid.tasks() == {'m': 0.5}
    mid.update('m', 1.0)
    assert root.tasks() == {}
    assert root.overall() == 1.0


def test_add_child_errors() -> None:
    a, b, c = ProgressTracker('a'), ProgressTracker('b'), ProgressTracker('c')
    with pytest.raises(ValueError, match='cycle'):
        a.add_child(a)
    a.add_child(b)
    b.add_child(c)
    with pytest.raises(ValueError, match='cycle'):
        c.add_child(a)
    with pytest.raises(ValueError, match="already has an open task 'b'"):
        a.add_child(ProgressTracker('b'))
    with pytest.raises(ValueError, match='weight'):
        a.add_child(ProgressTracker('d'), weight=0)
    with pytest.raises(TypeError, match='ProgressTracker'):
        a.add_child('not a tracker')  # type: ignore[arg-type]


def test_remove_child_and_complete_child_task() -> None:
    parent = ProgressTracker('parent')
    c1, c2 = ProgressTracker('c1'), ProgressTracker('c2')
    parent.add_child(c1)
    parent.add_child(c2)
    assert parent.remove_child(c1) is True
    assert parent.remove_child(c1) is False
    assert parent.complete('c2') is True
    assert parent.tasks() == {} and parent.children() == {}
    c1.update('x', 0.5)
    c2.update('x', 0.5)
    assert parent.tasks() == {}
    # a detached child can be attached again
    parent.add_child(c1)
    assert parent.tasks() == {'c1': 0.5}


def test_default_names_are_unique() -> None:
    parent = ProgressTracker()
    kids = [ProgressTracker() for _ in range(3)]
    assert len({k.name for k in kids}) == 3
    for k in kids:
        parent.add_child(k)
    assert len(parent.tasks()) == 3


# --- concurrency ---------------------------------------------------------------------------------------------
def test_sixteen_threads_update_concurrently() -> None:
    parent = ProgressTracker('parent')
    shared_child = ProgressTracker('shared')
    parent.add_child(shared_child)
    rec = _Recorder()
    parent.add_callback(rec)
    steps = 50
    n_threads = 16
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(5)
            for s in range(1, steps + 1):
                parent.update(f'task-{i}', s / steps)
                shared_child.update(f'sub-{i}', s / steps)
                assert 0.0 <= parent.overall() <= 1.0
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert shared_child.tasks() == {}
    assert parent.tasks() == {}
    assert parent.overall() == 1.0
    own = [c for c in rec.calls if str(c[1]).startswith('task-')]
    assert len(own) == n_threads * steps
    for i in range(n_threads):
        mine = [p for _, tid, p in own if tid == f'task-{i}']
        assert mine == [s / steps for s in range(1, steps + 1)]  # one thread's changes arrive in order
    rollup = [p for _, tid, p in rec.calls if tid == 'shared']
    assert rollup.count(1.0) == 1  # callbacks of different threads may interleave, completion is reported once


# --- plugin --------------------------------------------------------------------------------------------------
def test_plugin_provides_tracker() -> None:
    v = Variables()
    try:
        register_plugin(ProgressTrackerPlugin, v=v)
        t = get_extension(EXT_PROGRESS_TRACKER, v=v)
        assert isinstance(t, ProgressTracker)
        assert get_progress_tracker(v) is t
        assert ProgressTrackerPlugin.eager is False
        rec = _Recorder()
        t.add_callback(rec)
        t.update('a', 0.5)
    finally:
        shutdown_all_plugins(v)
    t.update('a', 0.75)  # callbacks were dropped at shutdown
    assert len(rec.calls) == 1


def test_get_progress_tracker_registers_on_demand() -> None:
    v = Variables()
    try:
        t = get_progress_tracker(v)
        assert isinstance(t, ProgressTracker)
        assert get_extension(EXT_PROGRESS_TRACKER, v=v) is t
    finally:
        shutdown_all_plugins(v)
