"""A WSGI service for gunicorn's ``--preload`` and ``--max-requests`` cases of ``test_web_hostile_2.py``.

WEB_INIT=import: ``init_framework`` at import (with ``--preload`` that is in the gunicorn master, before the fork),
and a warm-up job submitted then (the background executor starts a thread in the master). WEB_INIT=none: the
framework is left to ``gunicorn_conf`` (``SAF_GUNICORN_INIT=svc_wsgi_hostile:setup``). Routes: ``/job`` runs a
background job and waits for it (200 when it ran, 504 when it did not within 5 s), ``/pid`` answers the worker's pid;
the probes come from ``wsgi_probes``.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from scitrera_app_framework import get_background_exec, init_framework, register_shutdown_function
from scitrera_app_framework.web import wsgi_probes


def say(s: str) -> None:
    sys.stdout.write(s + '\n')
    sys.stdout.flush()


def hook() -> None:
    say(f'HOOK RAN pid={os.getpid()}')


def setup(v: object) -> None:
    register_shutdown_function(hook)
    say(f'SETUP pid={os.getpid()}')


def _warmup() -> None:
    say(f'WARMUP pid={os.getpid()}')


def _wake_pipe() -> int:
    from scitrera_app_framework.core.shutdown import get_shutdown_manager
    fd = get_shutdown_manager()._wake_r
    return -1 if fd is None else os.fstat(fd).st_ino


def _job() -> int:
    return os.getpid()


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ.get('PATH_INFO', '/')
    if path == '/job':
        try:
            ran_in = get_background_exec().submit(_job).result(5)
            status, body = '200 OK', f'job ran in {ran_in} for {os.getpid()}'.encode()
        except Exception as e:
            status, body = '504 Gateway Timeout', f'job did not run: {type(e).__name__}'.encode()
    elif path == '/wakepipe':  # the inode of this process's shutdown-watchdog wake-up pipe (fork safety)
        status, body = '200 OK', str(_wake_pipe()).encode()
    elif path == '/pid':
        status, body = '200 OK', str(os.getpid()).encode()
    else:
        status, body = '404 Not Found', b'not found'
    start_response(status, [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]


if os.environ.get('WEB_INIT', 'import') == 'import':
    setup(init_framework('websvc', base_plugins=True))
    say(f'MASTER PIPE {_wake_pipe()}')
    if os.environ.get('WEB_WARMUP') == 'true':
        get_background_exec().submit(_warmup).result(10)

app = wsgi_probes(_app)
