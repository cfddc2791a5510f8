"""The ``dask`` backend's embedded LocalCluster under a terminal's Ctrl-C, in a child app started in its own
session: SIGINT goes to the whole process group, as a terminal sends it. The cluster's processes are shielded from
it (the app decides), the running job finishes per the drain rules, the app exits 130, and no process is left."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import pytest

pytestmark = pytest.mark.needs_dask

TIMEOUT = 60.0

APP = r'''
import json, os, sys, time
from pathlib import Path


def job(release: str) -> int:
    """Runs on a worker: says it started, then waits until the test releases it."""
    # written aside and renamed: the test sees the file only once it holds the pid (a write is not atomic)
    Path(release + '.started.tmp').write_text(str(os.getpid()))
    os.replace(release + '.started.tmp', release + '.started')
    while not os.path.exists(release):
        time.sleep(0.02)
    return 42


def say(s: str) -> None:
    sys.stdout.write(s + '\n')
    sys.stdout.flush()


if __name__ == '__main__':
    from scitrera_app_framework import init_framework
    from scitrera_app_framework.base_plugins import get_background_exec

    v = init_framework('dask-sigint', base_plugins=True)
    ex = get_background_exec(v)
    future = ex.submit(job, sys.argv[1])
    future.add_done_callback(lambda f: say('job completed: ' + (repr(f.result()) if not f.exception() else
                                                                repr(f.exception()))))
    pids = sorted(ex.client.run(os.getpid).values())
    say('workers ' + json.dumps(pids))
    say('ready')
    while True:  # the app's main loop, until Ctrl-C
        time.sleep(0.05)
'''


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux ``/proc/<pid>/task/<tid>/children``)."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f'/proc/{p}/task')
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f'/proc/{p}/task/{tid}/children') as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for k in kids:
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


class App:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        script = tmp_path / 'app.py'
        script.write_text(APP)
        self.release = str(tmp_path / 'release')
        full = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
        full.update(env)
        self.err_path = tmp_path / 'stderr.txt'
        self._err = open(self.err_path, 'w')
        self.proc = subprocess.Popen([sys.executable, str(script), self.release], cwd=tmp_path, env=full,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, start_new_session=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.lines: list[str] = []
        self._q: queue.Queue[Optional[str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip('\n'))
        self._q.put(None)

    def wait_line(self, prefix: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f'no line {prefix!r} within {timeout}s; stdout {self.lines}; stderr:\n'
                                     f'{self.stderr()}') from None
            if line is None:
                raise AssertionError(f'the app ended before {prefix!r}; stdout {self.lines}; stderr:\n'
                                     f'{self.stderr()}')
            self.lines.append(line)
            if line.startswith(prefix):
                return line

    def stderr(self) -> str:
        self._err.flush()
        return self.err_path.read_text(errors='replace')[-6000:]

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(TIMEOUT)
        self._err.close()


def _wait_file(path: str, app: App, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if app.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f'{path} did not appear; stderr:\n{app.stderr()}')
        time.sleep(0.02)


def test_ctrl_c_to_the_process_group_lets_the_running_job_finish(tmp_path: Path) -> None:
    app = App(tmp_path, {'SAF_JOB_BACKEND': 'dask', 'SAF_JOB_THREADS': '1', 'SAF_SHUTDOWN_TIMEOUT': '120'})
    try:
        workers = json.loads(app.wait_line('workers ').split(' ', 1)[1])
        app.wait_line('ready')
        _wait_file(app.release + '.started', app)
        assert int(Path(app.release + '.started').read_text()) in workers
        spawned = _descendants(app.proc.pid)  # the workers and whatever else the cluster started
        assert set(workers) <= spawned
        assert all(os.getpgid(pid) != app.proc.pid for pid in workers)  # not in the app's process group
        os.killpg(app.proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole foreground group
        # the app is shutting down (intake phase: waiting for the running job); the worker survived the SIGINT
        deadline = time.monotonic() + TIMEOUT
        while 'received SIGINT: shutting down' not in app.stderr():
            assert app.proc.poll() is None and time.monotonic() < deadline, app.stderr()
            time.sleep(0.05)
        assert all(_alive(pid) for pid in workers), app.stderr()
        Path(app.release).write_text('go')
        assert app.wait_line('job completed') == 'job completed: 42'
        assert app.proc.wait(TIMEOUT) == 130, app.stderr()
    finally:
        app.close()
    deadline = time.monotonic() + TIMEOUT
    while any(_alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in spawned if _alive(pid)], 'processes started by the app outlived it'
