"""A gunicorn config for the tests: the framework's hooks, plus a quick stop timed into gthread's race window.

``-c python:gunicorn_race_conf -k gthread``: the worker's first hand-over of a connection to its thread pool (the
main thread inside ``ThreadPoolExecutor.submit``, holding the pool's lock while it starts a pool thread: where
py-spy saw the hung workers) sends SIGINT to the master and waits there, lock held, until the master's SIGQUIT
(its quick stop) has been handled. Without the framework's handler the worker's ``handle_quit`` needs that same
lock and the worker hangs until gunicorn kills it at ``graceful_timeout``.
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


def post_worker_init(worker: Any) -> None:
    gunicorn_conf.post_worker_init(worker)
    _QuitInsideSubmit.master = worker.ppid
    worker.tpool = _QuitInsideSubmit(max_workers=worker.cfg.threads)
