"""A gunicorn config for the tests: the framework's hooks, plus a quick stop timed into one of two race windows.

``-c python:gunicorn_race_conf``, ``RACE_WINDOW`` says which:

- ``submit`` (``-k gthread``): the worker's first hand-over of a connection to its thread pool (the main thread
  inside ``ThreadPoolExecutor.submit``, holding the pool's lock while it starts a pool thread: where py-spy saw the
  hung workers) sends SIGINT to the master and waits there, lock held, until the master's SIGQUIT (its quick stop)
  has been handled. gthread's own ``handle_quit`` needs that same lock: the worker hung until gunicorn killed it
  at ``graceful_timeout``.
- ``fork``: just after the fork (``post_fork``, before gunicorn installs the worker's signal handlers) the worker
  sends SIGINT to the master and holds the master's SIGQUIT back until it is there, then lets it in: the handler
  in place then was the master's, inherited at the fork, which queued it where nothing reads it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scitrera_app_framework.web import gunicorn_conf

worker_exit = gunicorn_conf.worker_exit


class _QuitInsideSubmit(ThreadPoolExecutor):
    """Quick-stops the server from inside ``submit`` (the pool's lock held) the first time it starts a thread."""

    master = 0
    fired = False

    def _adjust_thread_count(self) -> None:
        if not self.fired:
            type(self).fired = True
            sys.stdout.write(f'QUICK STOP FROM SUBMIT pid={os.getpid()}\n')
            sys.stdout.flush()
            os.kill(self.master, signal.SIGINT)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:  # the master's SIGQUIT is handled between two of these sleeps
                time.sleep(0.05)
            sys.stdout.write('NO SIGQUIT WITHIN 20 s\n')
            sys.stdout.flush()
        super()._adjust_thread_count()


def post_fork(server: Any, worker: Any) -> None:
    framework_post_fork = getattr(gunicorn_conf, 'post_fork', None)
    if framework_post_fork is not None:
        framework_post_fork(server, worker)
    if os.environ.get('RACE_WINDOW') != 'fork':
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGQUIT})
    sys.stdout.write(f'QUICK STOP FROM POST_FORK pid={os.getpid()}\n')
    sys.stdout.flush()
    os.kill(worker.ppid, signal.SIGINT)
    deadline = time.monotonic() + 20
    while signal.SIGQUIT not in signal.sigpending() and time.monotonic() < deadline:
        time.sleep(0.01)
    if signal.SIGQUIT not in signal.sigpending():
        sys.stdout.write('NO SIGQUIT WITHIN 20 s\n')
        sys.stdout.flush()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGQUIT})  # the handler in place now gets it


def post_worker_init(worker: Any) -> None:
    if os.environ.get('RACE_WINDOW') == 'submit':
        _QuitInsideSubmit.master = worker.ppid
        worker.tpool = _QuitInsideSubmit(max_workers=worker.cfg.threads)
    gunicorn_conf.post_worker_init(worker)
