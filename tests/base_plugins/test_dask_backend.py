"""The ``dask`` job backend against a real Dask ``LocalCluster`` (2 worker processes on 127.0.0.1, one per session).

The job functions are module-level so that the worker processes import them from this module (by reference).
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import logging
import os
import socket
import threading
import time
from typing import Any, Callable, Iterator

import pytest

from scitrera_app_framework.api import Variables
from scitrera_app_framework.base_plugins import get_background_exec
from scitrera_app_framework.base_plugins.background import JobBackendConfigError, JobBackendError
from scitrera_app_framework.core.log_format import log_context
from scitrera_app_framework.core.plugins import PluginInitError, shutdown_all_plugins

pytestmark = pytest.mark.needs_dask

TIMEOUT = 20.0


# --- jobs (run on the workers) -----------------------------------------------------------------------------
def job_pid(delay: float = 0.0) -> int:
    time.sleep(delay)
    return os.getpid()


def job_sleep(seconds: float, value: Any = None) -> Any:
    time.sleep(seconds)
    return value


def _inner_failure(what: str) -> None:
    raise ValueError(f'boom: {what}')


def job_fail(what: str) -> None:
    _inner_failure(what)


def job_log_line(message: str) -> tuple[int, str, Any]:
    """Log one line through the worker's framework handler (captured) and report the tenant seen there."""
    from scitrera_app_framework.core.logs import find_framework_handler
    from scitrera_app_framework.ext_plugins.multi_tenant import current_tenant

    handler = find_framework_handler()
    if handler is None:
        return os.getpid(), '', current_tenant()
    buf = io.StringIO()
    old = handler.setStream(buf)
    try:
        logging.getLogger('worker.job').warning('job says %s', message)
    finally:
        handler.setStream(old)
    return os.getpid(), buf.getvalue(), current_tenant()


def job_unpicklable_result() -> Any:
    return threading.Lock()  # cannot be pickled: it cannot come back from the worker


class _LockedError(Exception):
    """An exception that cannot be pickled (it holds a lock)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def job_unpicklable_error(message: str) -> None:
    raise _LockedError(message)


def job_pre_fail() -> None:
    raise RuntimeError('pre says no')


def job_post_check(result: Any) -> None:
    if not isinstance(result, int) or result == 0:
        raise AssertionError(f'post got {result!r}')


# --- fixtures ----------------------------------------------------------------------------------------------
@pytest.fixture(scope='session')
def dask_cluster() -> Iterator[str]:
    """One LocalCluster for the session: 2 worker processes, one thread each; yields the scheduler address."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host='127.0.0.1',
                           dashboard_address='127.0.0.1:0')
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=20)


@pytest.fixture
def make_exec(dask_cluster: str) -> Iterator[Callable[..., Any]]:
    """Executors connected to the session cluster, shut down (cancelling what is left) after the test."""
    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor

    made: list[DaskBackgroundExecutor] = []

    def _make(**kwargs: Any) -> DaskBackgroundExecutor:
        kwargs.setdefault('scheduler', dask_cluster)
        ex = DaskBackgroundExecutor(**kwargs)
        made.append(ex)
        return ex

    yield _make
    for ex in made:
        ex.shutdown(wait=True, cancel_pending=True, timeout=10)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ('SAF_JOB_BACKEND', 'SAF_DASK_SCHEDULER', 'SAF_JOB_THREADS', 'SAF_DASK_CONNECT_TIMEOUT'):
        monkeypatch.delenv(key, raising=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _wait_until(cond: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# --- tests -------------------------------------------------------------------------------------------------
def test_jobs_run_in_other_processes_and_futures_are_concurrent_futures(make_exec: Callable[..., Any]) -> None:
    ex = make_exec()
    assert ex.backend == 'dask' and ex.max_workers == 2 and not ex.embedded
    futures = [ex.submit(job_pid, 0.1) for _ in range(6)]
    assert all(isinstance(f, concurrent.futures.Future) for f in futures)
    done, not_done = concurrent.futures.wait(futures, timeout=TIMEOUT)
    assert not not_done
    pids = {f.result() for f in done}
    assert os.getpid() not in pids
    assert len(pids) == 2  # both worker processes took jobs
    assert [f.result() for f in concurrent.futures.as_completed(futures)]
    assert ex.submit_job(job_sleep, 0) is True
    assert ex.submit(job_sleep, 0, value={'k': [1, 2]}).result(TIMEOUT) == {'k': [1, 2]}


def test_unique_ids_are_unique_across_concurrent_submitters(make_exec: Callable[..., Any]) -> None:
    executors = [make_exec(), make_exec()]  # two clients of one cluster, as two replicas would be
    barrier = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def submitter(ex: Any) -> None:
        barrier.wait()
        ok = ex.submit_unique_job('report-42', job_sleep, 1.0)
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=submitter, args=(executors[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert sorted(results) == [False] * 7 + [True]
    assert executors[0].contains_job('report-42') and executors[1].contains_job('report-42')
    owner = next(ex for ex in executors if ex.get_jobs() == ['report-42'])
    other = executors[1] if owner is executors[0] else executors[0]
    assert other.get_jobs() == []
    assert executors[0].submit_unique_job('other-id', job_sleep, 0) is True  # other ids are free
    # once the job is done, the id is free again, on every submitter
    assert _wait_until(lambda: not owner.contains_job('report-42'))
    assert not other.contains_job('report-42')
    assert other.submit_unique_job('report-42', job_sleep, 0) is True


def test_unique_pre_and_post_run_on_the_worker(make_exec: Callable[..., Any],
                                               caplog: pytest.LogCaptureFixture) -> None:
    ex = make_exec()
    assert ex.submit_unique_job_post('p1', job_pid, job_post_check, 0.0) is True
    assert ex.submit_unique_job_pre('p2', job_pre_fail, job_sleep, 0.0) is True
    with caplog.at_level(logging.ERROR):
        assert _wait_until(lambda: ex.get_jobs() == [])
        # the id is released before the collector thread logs the failure: wait for the line as well
        assert _wait_until(lambda: "pre function of unique job 'p2' failed" in caplog.text)
    text = caplog.text
    assert "pre function of unique job 'p2' failed" in text and 'RuntimeError: pre says no' in text
    assert 'p1' not in text


def test_a_failing_job_is_logged_here_with_the_remote_traceback(make_exec: Callable[..., Any],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger('test.dask.failures')
    ex = make_exec(logger=logger)
    with caplog.at_level(logging.ERROR, logger='test.dask.failures'):
        future = ex.submit(job_fail, 'remote')
        with pytest.raises(ValueError, match='boom: remote'):
            future.result(TIMEOUT)
        assert _wait_until(lambda: 'failed' in caplog.text)
    error = future.exception()
    assert error is not None and 'Traceback' in error.saf_remote_traceback  # type: ignore[attr-defined]
    record = next(r for r in caplog.records if r.name == 'test.dask.failures')
    message = record.getMessage()
    assert 'background job' in message and 'job_fail failed on' in message
    assert f'pid {os.getpid()}' not in message  # it ran elsewhere
    assert '_inner_failure' in message and 'ValueError: boom: remote' in message  # the worker's frames


def test_context_fields_and_tenant_are_in_the_workers_log_records(make_exec: Callable[..., Any]) -> None:
    from scitrera_app_framework.base_plugins._dask_backend import WorkerLogSettings
    from scitrera_app_framework.ext_plugins.multi_tenant import tenant_context

    settings = WorkerLogSettings(logging.INFO, 'json', None, (('app', 'ctx-app'), ('version', 'DEV')), True)
    ex = make_exec(log_settings=settings)
    with tenant_context('acme'), log_context(request_id='r-42', attempt=3, obj=object()):
        future = ex.submit(job_log_line, 'hello')
    pid, line, tenant = future.result(TIMEOUT)
    assert pid != os.getpid()
    assert tenant == 'acme'
    record = json.loads(line)
    assert record['message'] == 'job says hello'
    assert record['request_id'] == 'r-42' and record['attempt'] == 3 and record['tenant'] == 'acme'
    assert record['obj'].startswith('<object object')  # a value that is not plain crossed as its str
    assert record['app'] == 'ctx-app'
    # outside the context, the worker's records carry no such fields
    _pid, line2, tenant2 = ex.submit(job_log_line, 'bare').result(TIMEOUT)
    assert tenant2 is None and 'request_id' not in json.loads(line2)


def test_shutdown_finishes_queued_jobs(make_exec: Callable[..., Any]) -> None:
    ex = make_exec()
    futures = [ex.submit(job_sleep, 0.2, i) for i in range(6)]  # 2 workers: 4 of them queue
    ex.shutdown(wait=True, cancel_pending=False, timeout=TIMEOUT)
    assert [f.result(0) for f in futures] == list(range(6))
    assert ex.is_shutdown and ex.client.status == 'closed'
    with pytest.raises(RuntimeError, match='shut down'):
        ex.submit(job_sleep, 0)
    assert ex.submit_job(job_sleep, 0) is False
    assert ex.submit_unique_job('late', job_sleep, 0) is False


def test_shutdown_cancels_queued_jobs_and_running_ones_finish(make_exec: Callable[..., Any]) -> None:
    ex = make_exec()
    futures = [ex.submit(job_sleep, 0.6, i) for i in range(6)]
    assert _wait_until(lambda: sum(f.running() for f in futures) == 2)  # the workers announced their starts
    assert ex.queue_length() == 4
    ex.shutdown(wait=True, cancel_pending=True, timeout=TIMEOUT)
    running = [f for f in futures if not f.cancelled()]
    assert len(running) == 2 and sorted(f.result(0) for f in running) == sorted(
        i for i, f in enumerate(futures) if not f.cancelled())
    assert sum(f.cancelled() for f in futures) == 4
    assert ex.queue_length() == 0


def test_cancel_a_queued_future(make_exec: Callable[..., Any]) -> None:
    ex = make_exec()
    blockers = [ex.submit(job_sleep, 0.5) for _ in range(2)]
    assert _wait_until(lambda: all(f.running() for f in blockers))
    queued = ex.submit(job_sleep, 0, 'never')
    assert queued.cancel() is True and queued.cancelled()
    assert blockers[0].cancel() is False  # started: runs to the end, as in a thread pool
    done, _ = concurrent.futures.wait([queued], timeout=1)
    assert queued in done


def test_shutdown_wait_is_bounded_by_its_timeout(make_exec: Callable[..., Any]) -> None:
    ex = make_exec()
    slow = ex.submit(job_sleep, 2.0)
    assert _wait_until(slow.running)
    t0 = time.monotonic()
    ex.shutdown(wait=True, cancel_pending=False, timeout=0.5)
    assert time.monotonic() - t0 < 1.9
    with pytest.raises(JobBackendError, match='still running'):
        slow.result(0)


def test_a_scheduler_nobody_listens_on_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f'tcp://127.0.0.1:{_free_port()}'
    monkeypatch.setenv('SAF_JOB_BACKEND', 'dask')
    monkeypatch.setenv('SAF_DASK_SCHEDULER', address)
    monkeypatch.setenv('SAF_DASK_CONNECT_TIMEOUT', '1')
    v = Variables()
    t0 = time.monotonic()
    with pytest.raises(PluginInitError) as info:
        get_background_exec(v)
    assert time.monotonic() - t0 < 10
    cause = info.value.__cause__
    assert isinstance(cause, JobBackendConfigError)
    assert 'SAF_DASK_SCHEDULER' in str(cause) and address in str(cause) and 'within 1s' in str(cause)
    shutdown_all_plugins(v)


def test_a_scheduler_lost_later_makes_submit_fail_fast() -> None:
    from distributed import LocalCluster

    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor

    scheduler_only = LocalCluster(n_workers=0, processes=False, protocol='tcp', host='127.0.0.1',
                                  dashboard_address='127.0.0.1:0')
    ex = DaskBackgroundExecutor(scheduler=scheduler_only.scheduler_address, connect_timeout=5)
    try:
        waiting = ex.submit(job_sleep, 0)  # no workers: it waits on the scheduler
        scheduler_only.close(timeout=5)
        assert _wait_until(lambda: ex.client.status != 'running', 10)
        t0 = time.monotonic()
        with pytest.raises(JobBackendError, match='unreachable'):
            ex.submit(job_sleep, 0)
        with pytest.raises(JobBackendError, match='SAF_DASK_SCHEDULER'):
            ex.submit_unique_job('u', job_sleep, 0)
        assert time.monotonic() - t0 < 1.0
        with pytest.raises(JobBackendError, match='lost'):
            waiting.result(TIMEOUT)
    finally:
        ex.shutdown(wait=True, timeout=2)
        scheduler_only.close(timeout=5)


def test_plugin_on_the_cluster_and_shutdown_finishes_queued_jobs(dask_cluster: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor

    monkeypatch.setenv('SAF_JOB_BACKEND', 'DASK')
    monkeypatch.setenv('SAF_DASK_SCHEDULER', dask_cluster)
    v = Variables()
    ex = get_background_exec(v)
    assert isinstance(ex, DaskBackgroundExecutor)
    futures = [ex.submit(job_sleep, 0.2, i) for i in range(4)]
    shutdown_all_plugins(v)
    assert [f.result(0) for f in futures] == [0, 1, 2, 3]
    assert ex.is_shutdown


def test_embedded_local_cluster_is_started_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_JOB_BACKEND', 'dask')
    monkeypatch.setenv('SAF_JOB_THREADS', '1')
    v = Variables()
    ex = get_background_exec(v)
    try:
        assert ex.embedded and ex.max_workers == 1  # type: ignore[attr-defined]
        assert '127.0.0.1' in ex.scheduler_address  # type: ignore[attr-defined]
        assert ex.submit(job_pid).result(TIMEOUT) != os.getpid()
    finally:
        shutdown_all_plugins(v)
    assert ex.client.status == 'closed'  # type: ignore[attr-defined]
    assert ex._cluster.status.name == 'closed'  # type: ignore[attr-defined]


async def _close_worker_and_nanny(dask_worker: Any) -> None:
    """Run on a worker: close it and its nanny (the nanny does not start another)."""
    await dask_worker.close(nanny=True)


def test_an_embedded_cluster_with_no_worker_left_fails_its_jobs_at_once() -> None:
    """The worker ends while a job runs and one waits (it closes itself and its nanny, what a worker does at a
    SIGINT sent to it alone; done here without a signal, so the test does not depend on the signal dispositions
    the suite inherits): the executor no longer waits for a task no worker will run; both futures fail naming
    the cause, and further submissions fail at once."""
    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor

    ex = DaskBackgroundExecutor(max_workers=1)
    try:
        running = ex.submit(job_sleep, 600)
        assert _wait_until(running.running)
        queued = ex.submit(job_sleep, 600)
        ex.client.run(_close_worker_and_nanny, wait=False)
        # failed at once, without waiting for a shutdown
        assert _wait_until(lambda: running.done() and queued.done(), 60), 'the jobs still wait for no worker'
        with pytest.raises(JobBackendError, match='no worker left'):
            ex.submit(job_pid)
        done = threading.Event()
        t = threading.Thread(target=lambda: (ex.shutdown(wait=True, cancel_pending=False, timeout=None), done.set()),
                             daemon=True)
        t.start()
        assert done.wait(60), 'shutdown still waits for jobs no worker will run'
        for future in (running, queued):
            error = future.exception(0)
            assert isinstance(error, JobBackendError), error
            assert 'no worker left' in str(error) and 'LocalCluster' in str(error)
    finally:
        ex.shutdown(wait=True, timeout=5)


class _Gate:
    """Stands in for an executor's queue of finished jobs: holds the collector until :meth:`open`, so that every job
    finished meanwhile is completed in one batch."""

    def __init__(self, q: Any) -> None:
        self.q = q
        self.waiting = threading.Event()
        self.opened = threading.Event()

    def get(self, timeout: Any = None) -> Any:
        self.waiting.set()
        self.opened.wait()
        return self.q.get(timeout=timeout)

    def get_nowait(self) -> Any:
        return self.q.get_nowait()

    def put(self, item: Any) -> None:
        self.q.put(item)

    def open(self) -> None:
        self.opened.set()


def test_a_result_that_cannot_come_back_fails_only_its_own_job(make_exec: Callable[..., Any],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """A job returning something that cannot be pickled fails, naming the problem; the jobs finished at the same
    time (fetched in the same batch) keep their results, and each such failure is logged as a job failure."""
    logger = logging.getLogger('test.dask.results')
    ex = make_exec(logger=logger)
    gate = _Gate(ex._done)
    original = ex._done
    ex._done = gate
    original.put('-')  # wakes the collector, which then waits at the gate
    assert gate.waiting.wait(TIMEOUT)
    with caplog.at_level(logging.ERROR, logger='test.dask.results'):
        futures = [ex.submit(job_sleep, 0, i) for i in range(4)]
        bad = [ex.submit(job_unpicklable_result), ex.submit(job_unpicklable_result)]
        futures += [ex.submit(job_sleep, 0, i) for i in range(4, 8)]
        assert _wait_until(lambda: all(f._saf_job.dask_future.status == 'finished' for f in futures + bad))
        gate.open()
        assert [f.result(TIMEOUT) for f in futures] == list(range(8))
        for f in bad:
            error = f.exception(TIMEOUT)
            assert isinstance(error, JobBackendError), error
            assert 'job_unpicklable_result' in str(error) and 'picklable' in str(error), str(error)
        assert _wait_until(lambda: len([r for r in caplog.records if r.name == 'test.dask.results']) >= 2)
    messages = [r.getMessage() for r in caplog.records if r.name == 'test.dask.results']
    assert all(r.levelno == logging.ERROR for r in caplog.records if r.name == 'test.dask.results')
    assert sum('job_unpicklable_result' in m for m in messages) == 2, messages


def test_an_exception_that_cannot_be_pickled_still_comes_back_with_its_traceback(
        make_exec: Callable[..., Any], caplog: pytest.LogCaptureFixture) -> None:
    """A job raising an exception that cannot be pickled (it holds a lock, a socket, ...): its future fails with
    an error naming the exception's type, its message and why it could not come back, with the worker's
    traceback (``saf_remote_traceback``), as for any other failure."""
    logger = logging.getLogger('test.dask.unpicklable')
    ex = make_exec(logger=logger)
    with caplog.at_level(logging.ERROR, logger='test.dask.unpicklable'):
        future = ex.submit(job_unpicklable_error, 'held a lock')
        error = future.exception(TIMEOUT)
        assert _wait_until(lambda: any(r.name == 'test.dask.unpicklable' for r in caplog.records))
    assert isinstance(error, JobBackendError), repr(error)
    text = str(error)
    assert '_LockedError' in text and 'held a lock' in text and 'pickle' in text, text
    assert getattr(error, 'saf_stage', None) == 'job'
    remote = getattr(error, 'saf_remote_traceback', '')
    assert 'job_unpicklable_error' in remote and '_LockedError: held a lock' in remote, remote
    message = next(r.getMessage() for r in caplog.records if r.name == 'test.dask.unpicklable')
    assert 'job_unpicklable_error' in message and 'held a lock' in message, message
    assert ex.submit(job_sleep, 0, 'next').result(TIMEOUT) == 'next'  # the worker goes on


def job_forever() -> None:
    while True:  # a job that never returns (a hung call, a loop without exit)
        time.sleep(0.05)


def test_a_job_that_never_returns_does_not_stretch_a_bounded_shutdown() -> None:
    """``shutdown(wait=True, timeout=...)`` with an embedded cluster whose worker runs a job that never returns:
    after the timeout the job is abandoned and the cluster closed without waiting the seconds a worker gets to
    finish gracefully (distributed's nanny waits 4s before it kills a worker): the app's shutdown budget
    (``SAF_SHUTDOWN_TIMEOUT``, of which the executor gets 3/4) must hold, or the watchdog ends the exit with 124."""
    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor

    ex = DaskBackgroundExecutor(max_workers=1)
    [pid] = ex.client.run(os.getpid).values()
    try:
        stuck = ex.submit(job_forever)
        assert _wait_until(stuck.running)
        t0 = time.monotonic()
        ex.shutdown(wait=True, cancel_pending=True, timeout=0.2)
        took = time.monotonic() - t0
        with pytest.raises(JobBackendError, match='still running'):
            stuck.result(0)
        assert took < 3.8, f'shutdown with timeout=0.2 took {took:.1f}s'  # the nanny's graceful wait alone is 4s
        assert ex._cluster.status.name == 'closed'
        assert _wait_until(lambda: not _pid_alive(pid), 10), 'the worker process is still alive'
    finally:
        ex.shutdown(wait=True, timeout=5)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not reaped yet) is not alive
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return True


def test_an_argument_that_cannot_be_pickled_is_a_clear_error(make_exec: Callable[..., Any]) -> None:
    """A job's argument that cannot reach a worker (a lock, an open socket, a generator): the submission fails at
    once naming the job and the argument (distributed's own error names only its internal task graph type), and
    nothing is left queued or claimed."""
    from scitrera_app_framework.exceptions import SAFError

    ex = make_exec()
    lock = threading.Lock()
    with pytest.raises(TypeError) as info:
        ex.submit(job_sleep, 0, lock)
    error = info.value
    assert isinstance(error, SAFError), repr(error)
    text = str(error)
    assert 'job_sleep' in text and 'args[1]' in text and 'lock' in text and 'pickle' in text, text
    with pytest.raises(TypeError, match=r"kwargs\['value'\]"):
        ex.submit(job_sleep, 0, value=lock)
    with pytest.raises(TypeError, match='args'):
        ex.submit_unique_job('pickle-u', job_sleep, 0, lock)
    assert ex.pending_count() == 0 and not ex.contains_job('pickle-u')
    assert ex.submit_unique_job('pickle-u', job_sleep, 0, 'ok')  # the id was not left claimed
    assert ex.submit(job_sleep, 0, 'fine').result(TIMEOUT) == 'fine'


def test_a_scheduler_that_stops_answering_does_not_hang_unique_jobs(tmp_path: Any) -> None:
    """An external scheduler that keeps its connections but stops answering (SIGSTOP: a frozen VM, a process
    stuck in a long GC): ``submit_unique_job`` asks it for the id, and must fail with ``JobBackendError`` after the
    connect timeout instead of hanging the caller for ever; once it answers again, unique jobs work."""
    import signal
    import subprocess
    import sys

    from scitrera_app_framework.base_plugins._dask_backend import DaskBackgroundExecutor

    port = _free_port()
    scheduler = subprocess.Popen(
        [sys.executable, '-m', 'distributed.cli.dask_scheduler', '--host', '127.0.0.1', '--port', str(port),
         '--dashboard-address', '127.0.0.1:0'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ex = None
    try:
        ex = DaskBackgroundExecutor(scheduler=f'tcp://127.0.0.1:{port}', connect_timeout=30)
        ex._call_timeout = 1.0  # what connect_timeout sets; short here, the connection above may take long
        os.kill(scheduler.pid, signal.SIGSTOP)
        outcome: dict[str, Any] = {}

        def submit() -> None:
            try:
                outcome['result'] = ex.submit_unique_job('frozen', job_sleep, 0)  # type: ignore[union-attr]
            except Exception as e:  # noqa: BLE001 - reported below
                outcome['error'] = e

        t = threading.Thread(target=submit, daemon=True)
        t.start()
        t.join(TIMEOUT)
        assert not t.is_alive(), 'submit_unique_job still waits for a scheduler that does not answer'
        error = outcome.get('error')
        assert isinstance(error, JobBackendError), outcome
        assert "'frozen'" in str(error) and 'did not answer' in str(error), str(error)
        assert ex.get_jobs() == []
        os.kill(scheduler.pid, signal.SIGCONT)
        assert _wait_until(lambda: ex.submit_unique_job('thawed', job_sleep, 0) is True)  # type: ignore[union-attr]
    finally:
        os.kill(scheduler.pid, signal.SIGCONT)
        if ex is not None:
            ex.shutdown(wait=True, timeout=2)
        scheduler.terminate()
        scheduler.wait(TIMEOUT)
