"""Tests for the background executor (``base_plugins/background.py``) and its plugin."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from scitrera_app_framework.api import Variables
from scitrera_app_framework.base_plugins import EXT_BACKGROUND_EXEC, get_background_exec
from scitrera_app_framework.base_plugins.background import BackgroundExecutor
from scitrera_app_framework.base_plugins.bg_exec import BackgroundThreadExecutorPlugin as BackgroundExecPlugin
from scitrera_app_framework.core.plugins import PluginInitError, get_extension, register_plugin, shutdown_all_plugins

TIMEOUT = 5.0
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar('request_id', default='none')


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ('SAF_JOB_THREADS', 'SAF_JOB_COLLISIONS_INFO', 'APP_NAME'):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def make_exec() -> Iterator[Callable[..., BackgroundExecutor]]:
    """Factory of executors that are all shut down (waiting) at the end of the test."""
    made: list[BackgroundExecutor] = []

    def _make(**kwargs: Any) -> BackgroundExecutor:
        ex = BackgroundExecutor(**kwargs)
        made.append(ex)
        return ex

    yield _make
    for ex in made:
        ex.shutdown(wait=True, cancel_pending=True)


@pytest.fixture
def plugin_v() -> Iterator[Variables]:
    """A fresh Variables whose plugins are shut down after the test."""
    v = Variables()
    yield v
    shutdown_all_plugins(v)


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _wait_until(cond: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def _block_workers(ex: BackgroundExecutor, n: int = 1) -> threading.Event:
    """Occupy ``n`` workers until the returned event is set (returns once they are all running)."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def _blocker() -> None:
        started.release()
        release.wait(TIMEOUT)

    for _ in range(n):
        assert ex.submit_job(_blocker)
    for _ in range(n):
        assert started.acquire(timeout=TIMEOUT)
    return release


# --- plugin and configuration --------------------------------------------------------------------------------
def test_plugin_provides_executor_with_default_threads(plugin_v: Variables) -> None:
    register_plugin(BackgroundExecPlugin, v=plugin_v)
    ex = get_extension(EXT_BACKGROUND_EXEC, v=plugin_v)
    assert isinstance(ex, BackgroundExecutor)
    assert ex.max_workers == 4
    assert get_background_exec(plugin_v) is ex
    assert BackgroundExecPlugin.eager is False


def test_thread_names_are_prefixed(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=2)
    assert ex.submit(lambda: threading.current_thread().name).result(TIMEOUT).startswith('saf-job')


def test_get_background_exec_registers_plugin_on_demand(plugin_v: Variables) -> None:
    ex = get_background_exec(plugin_v)
    assert isinstance(ex, BackgroundExecutor)
    assert get_extension(EXT_BACKGROUND_EXEC, v=plugin_v) is ex


def test_saf_job_threads_from_variables(plugin_v: Variables) -> None:
    plugin_v.set('SAF_JOB_THREADS', '3')
    assert get_background_exec(plugin_v).max_workers == 3


def test_saf_job_threads_from_environment(plugin_v: Variables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_JOB_THREADS', ' 2 ')
    assert get_background_exec(plugin_v).max_workers == 2


@pytest.mark.parametrize('bad', ['abc', '0', '-3', '1.5', ''])
def test_invalid_saf_job_threads_is_a_clear_error(plugin_v: Variables, bad: str) -> None:
    plugin_v.set('SAF_JOB_THREADS', bad)
    register_plugin(BackgroundExecPlugin, v=plugin_v)
    with pytest.raises(PluginInitError) as ei:
        get_extension(EXT_BACKGROUND_EXEC, v=plugin_v)
    msg = str(ei.value)
    assert 'BackgroundThreadExecutorPlugin' in msg and EXT_BACKGROUND_EXEC in msg
    assert 'SAF_JOB_THREADS' in msg and repr(bad) in msg
    cause: BaseException | None = ei.value
    while cause is not None and not isinstance(cause, ValueError):
        cause = cause.__cause__
    assert isinstance(cause, ValueError)
    # fixing the value and asking again works
    plugin_v.set('SAF_JOB_THREADS', '1')
    assert get_extension(EXT_BACKGROUND_EXEC, v=plugin_v).max_workers == 1


def test_invalid_saf_job_threads_from_environment(plugin_v: Variables, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_JOB_THREADS', 'abc')
    with pytest.raises(PluginInitError, match=r"SAF_JOB_THREADS.*'abc'"):
        get_background_exec(plugin_v)


def test_executor_rejects_bad_max_workers() -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match='max_workers'):
            BackgroundExecutor(max_workers=bad)  # type: ignore[arg-type]


# --- plain jobs ----------------------------------------------------------------------------------------------
def test_submit_job_runs_and_returns_true(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=2)
    done = threading.Event()
    got: list[Any] = []

    def job(a: int, b: int = 0) -> None:
        got.append(a + b)
        done.set()

    assert ex.submit_job(job, 1, b=2) is True
    assert done.wait(TIMEOUT)
    assert got == [3]


def test_submit_returns_future_with_result(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec()
    assert ex.submit(pow, 2, 10).result(TIMEOUT) == 1024
    # keyword named like a parameter of submit itself is passed through to the job
    assert ex.submit(lambda fn: fn, fn='x').result(TIMEOUT) == 'x'


def test_exception_in_job_is_logged_with_traceback(make_exec: Callable[..., BackgroundExecutor],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger('test.bg.errors')
    ex = make_exec(max_workers=1, logger=logger)

    def exploding_job() -> None:
        raise RuntimeError('kaboom')

    caplog.set_level(logging.DEBUG, logger='test.bg.errors')
    fut = ex.submit(exploding_job)
    with pytest.raises(RuntimeError, match='kaboom'):
        fut.result(TIMEOUT)
    assert ex.submit_job(exploding_job) is True
    assert _wait_until(lambda: len([r for r in caplog.records if r.name == 'test.bg.errors']) >= 2)
    recs = [r for r in caplog.records if r.name == 'test.bg.errors']
    for r in recs:
        assert r.levelno == logging.ERROR
        assert 'exploding_job' in r.getMessage()
        assert r.exc_info is not None and r.exc_info[0] is RuntimeError
    assert 'kaboom' in caplog.text and 'Traceback' in caplog.text


def test_job_runs_in_copy_of_submitting_context(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=2)

    def job() -> str:
        seen = _request_id.get()
        _request_id.set('changed-in-job')  # must not leak back to the submitter
        return seen

    token = _request_id.set('req-42')
    try:
        assert ex.submit(job).result(TIMEOUT) == 'req-42'
        assert _request_id.get() == 'req-42'
        _request_id.set('req-43')
        assert ex.submit(job).result(TIMEOUT) == 'req-43'
        got: list[str] = []
        done = threading.Event()

        def unique_job() -> None:
            got.append(_request_id.get())
            done.set()

        assert ex.submit_unique_job('ctx', unique_job)
        assert done.wait(TIMEOUT)
        assert got == ['req-43']
    finally:
        _request_id.reset(token)
    # a worker thread's own context is untouched by the jobs it ran
    assert ex.submit(_request_id.get).result(TIMEOUT) == 'none'


def test_submit_after_shutdown(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec()
    ex.shutdown(wait=True)
    assert ex.submit_job(_noop, 'never') is False
    assert ex.submit_unique_job('u', _noop, 'never') is False
    assert ex.submit_unique_job_pre('u', _noop, _noop) is False
    assert ex.submit_unique_job_post('u', _noop, _noop) is False
    assert ex.get_jobs() == []
    with pytest.raises(RuntimeError, match='shut down'):
        ex.submit(_noop, 'never')
    ex.shutdown()  # a second shutdown is harmless


def test_shutdown_cancels_pending_jobs(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=1)
    release = _block_workers(ex)
    ran: list[str] = []
    futures = [ex.submit(ran.append, f'plain{i}') for i in range(3)]
    assert ex.submit_unique_job('u1', ran.append, 'unique')
    assert ex.queue_length() == 4
    assert ex.get_jobs() == ['u1']
    ex.shutdown(wait=False, cancel_pending=True)
    assert all(f.cancelled() for f in futures)
    assert ex.queue_length() == 0
    assert ex.get_jobs() == [] and not ex.contains_job('u1')
    release.set()
    ex.shutdown(wait=True)
    assert ran == []


def test_shutdown_without_cancel_runs_queued_jobs(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=1)
    release = _block_workers(ex)
    ran: list[int] = []
    for i in range(3):
        assert ex.submit_job(ran.append, i)
    ex.shutdown(wait=False, cancel_pending=False)
    assert ex.queue_length() == 3
    assert ex.submit_job(ran.append, 99) is False
    release.set()
    ex.shutdown(wait=True, cancel_pending=False)
    assert ran == [0, 1, 2]
    assert ex.queue_length() == 0


def test_queue_length(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=2)
    assert ex.queue_length() == 0
    release = _block_workers(ex, 2)
    assert ex.queue_length() == 0
    done = threading.Semaphore(0)
    for _ in range(5):
        ex.submit_job(done.release)
    assert ex.queue_length() == 5
    release.set()
    for _ in range(5):
        assert done.acquire(timeout=TIMEOUT)
    assert ex.queue_length() == 0


def test_context_manager_waits_for_jobs() -> None:
    ran: list[int] = []
    with BackgroundExecutor(max_workers=1) as ex:
        for i in range(5):
            ex.submit_job(ran.append, i)
    assert ran == [0, 1, 2, 3, 4]
    assert ex.is_shutdown


# --- unique jobs ---------------------------------------------------------------------------------------------
def test_unique_job_collision_while_queued_or_running(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=1)
    gate = threading.Event()
    running = threading.Event()
    runs: list[str] = []

    def job(tag: str) -> None:
        running.set()
        gate.wait(TIMEOUT)
        runs.append(tag)

    assert ex.submit_unique_job('job-a', job, 'a1') is True
    assert running.wait(TIMEOUT)
    assert ex.contains_job('job-a')
    assert ex.submit_unique_job('job-a', job, 'a2') is False  # running
    assert ex.submit_unique_job('job-b', job, 'b1') is True  # queued behind job-a
    assert ex.submit_unique_job('job-b', job, 'b2') is False  # queued
    assert ex.submit_unique_job_pre('job-b', lambda: None, job, 'b3') is False
    assert ex.submit_unique_job_post('job-b', job, lambda r: None, 'b4') is False
    assert ex.get_jobs() == ['job-a', 'job-b']
    assert not ex.contains_job('job-c')
    gate.set()
    assert _wait_until(lambda: ex.get_jobs() == [])
    assert runs == ['a1', 'b1']
    # the id is free again once the job has finished
    assert ex.submit_unique_job('job-a', job, 'a3') is True
    assert _wait_until(lambda: not ex.contains_job('job-a'))
    assert runs == ['a1', 'b1', 'a3']


def test_unique_job_id_released_after_failure(make_exec: Callable[..., BackgroundExecutor],
                                              caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger('test.bg.unique_fail')
    caplog.set_level(logging.DEBUG, logger='test.bg.unique_fail')
    ex = make_exec(max_workers=1, logger=logger)

    def failing_unique() -> None:
        raise ValueError('bad job')

    assert ex.submit_unique_job('f1', failing_unique)
    assert _wait_until(lambda: not ex.contains_job('f1') and 'bad job' in caplog.text)
    rec = next(r for r in caplog.records if r.name == 'test.bg.unique_fail' and r.levelno == logging.ERROR)
    assert "'f1'" in rec.getMessage() and 'failing_unique' in rec.getMessage()
    assert rec.exc_info is not None and rec.exc_info[0] is ValueError
    assert ex.submit_unique_job('f1', lambda: None) is True


@pytest.mark.parametrize('info', [True, False])
def test_collision_log_level(plugin_v: Variables, caplog: pytest.LogCaptureFixture, info: bool) -> None:
    plugin_v.set('SAF_JOB_THREADS', '1')
    plugin_v.set('SAF_JOB_COLLISIONS_INFO', 'true' if info else 'false')
    caplog.set_level(logging.DEBUG)
    ex = get_background_exec(plugin_v)
    release = _block_workers(ex)
    try:
        assert ex.submit_unique_job('dup', _noop, 'x') is True
        assert ex.submit_unique_job('dup', _noop, 'y') is False
    finally:
        release.set()
    recs = [r for r in caplog.records if "'dup'" in r.getMessage() and 'already queued or running' in r.getMessage()]
    assert len(recs) == 1
    assert recs[0].levelno == (logging.INFO if info else logging.DEBUG)
    assert recs[0].name.endswith(EXT_BACKGROUND_EXEC)


def test_unique_job_pre_and_post_order(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=2)
    events: list[str] = []
    done = threading.Event()
    threads: set[str] = set()

    def pre() -> None:
        threads.add(threading.current_thread().name)
        events.append('pre')

    def job(x: int, y: int = 1) -> int:
        threads.add(threading.current_thread().name)
        events.append('job')
        return x * y

    def post(result: int) -> None:
        threads.add(threading.current_thread().name)
        events.append(f'post:{result}')
        done.set()

    assert ex.submit_unique_job_pre('p', pre, job, 3, y=4)
    assert _wait_until(lambda: not ex.contains_job('p'))
    assert events == ['pre', 'job']
    events.clear()
    assert ex.submit_unique_job_post('q', job, post, 5, y=6)
    assert done.wait(TIMEOUT)
    assert events == ['job', 'post:30']
    assert all(t.startswith('saf-job') for t in threads)


def test_unique_job_holds_id_during_post(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=1)
    seen: list[bool] = []
    done = threading.Event()

    def post(_: Any) -> None:
        seen.append(ex.contains_job('hold'))
        seen.append(ex.submit_unique_job('hold', _noop, 'never'))
        done.set()

    assert ex.submit_unique_job_post('hold', lambda: 1, post)
    assert done.wait(TIMEOUT)
    assert seen == [True, False]


def test_failing_pre_skips_job_and_is_logged(make_exec: Callable[..., BackgroundExecutor],
                                             caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger('test.bg.pre')
    caplog.set_level(logging.DEBUG, logger='test.bg.pre')
    ex = make_exec(max_workers=1, logger=logger)
    ran: list[str] = []

    def bad_pre() -> None:
        raise OSError('pre failed')

    assert ex.submit_unique_job_pre('x', bad_pre, ran.append, 'job')
    assert _wait_until(lambda: not ex.contains_job('x') and 'pre failed' in caplog.text)
    assert ran == []
    rec = next(r for r in caplog.records if r.name == 'test.bg.pre')
    assert 'bad_pre' in rec.getMessage() and "'x'" in rec.getMessage()
    assert rec.exc_info is not None and rec.exc_info[0] is OSError


def test_failing_job_skips_post_and_failing_post_is_logged(make_exec: Callable[..., BackgroundExecutor],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger('test.bg.post')
    caplog.set_level(logging.DEBUG, logger='test.bg.post')
    ex = make_exec(max_workers=1, logger=logger)
    posts: list[Any] = []

    def failing_job() -> None:
        raise KeyError('job failed')

    def bad_post(result: Any) -> None:
        raise LookupError(f'post failed on {result}')

    assert ex.submit_unique_job_post('a', failing_job, posts.append)
    assert ex.submit_unique_job_post('b', lambda: 7, bad_post)
    assert _wait_until(lambda: ex.get_jobs() == [] and 'post failed on 7' in caplog.text)
    assert posts == []
    msgs = [r.getMessage() for r in caplog.records if r.name == 'test.bg.post']
    assert any('failing_job' in m and "'a'" in m for m in msgs)
    assert any('bad_post' in m and "'b'" in m for m in msgs)
    assert all(r.exc_info for r in caplog.records if r.name == 'test.bg.post')


def test_many_threads_racing_for_one_unique_id(make_exec: Callable[..., BackgroundExecutor]) -> None:
    ex = make_exec(max_workers=2)
    release = _block_workers(ex, 2)
    barrier = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def racer() -> None:
        barrier.wait(TIMEOUT)
        ok = ex.submit_unique_job('contested', lambda: None)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=racer) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    release.set()
    assert sorted(results) == [False] * 15 + [True]
    assert _wait_until(lambda: not ex.contains_job('contested'))


# --- through the framework -----------------------------------------------------------------------------------
def test_through_test_harness() -> None:
    from scitrera_app_framework import init_framework_test_harness
    from scitrera_app_framework.testing import reset_framework

    try:
        v = init_framework_test_harness('t', v=Variables(), base_plugins=True)
        ex = get_background_exec(v)
        assert isinstance(ex, BackgroundExecutor)
        assert get_extension(EXT_BACKGROUND_EXEC, v=v) is ex
        assert ex.submit(sum, [1, 2, 3]).result(TIMEOUT) == 6
    finally:
        reset_framework()
    assert ex.is_shutdown


def test_plugin_shutdown_runs_queued_jobs_unless_told_to_cancel() -> None:
    import threading as _threading

    from scitrera_app_framework.api import Variables as _Variables
    from scitrera_app_framework.base_plugins import get_background_exec
    from scitrera_app_framework.core.plugins import shutdown_all_plugins

    for cancel, expected in (('false', 5), ('true', 0)):
        v = _Variables()
        v.set('SAF_JOB_THREADS', '1')
        v.set('SAF_JOB_SHUTDOWN_CANCEL_PENDING', cancel)
        ex = get_background_exec(v)
        gate = _threading.Event()
        done: list[int] = []
        ex.submit_job(gate.wait, 5)  # occupies the only worker, so the next five stay queued
        for i in range(5):
            ex.submit_job(done.append, i)
        gate.set()
        shutdown_all_plugins(v)
        assert len(done) == expected, (cancel, done)
