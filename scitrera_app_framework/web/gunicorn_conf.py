"""gunicorn configuration: ``gunicorn -c python:scitrera_app_framework.web.gunicorn_conf [-k WORKER] module:app``.

For the sync, gthread and uvicorn (``-k uvicorn.workers.UvicornWorker``) workers. The master is left alone; each
worker, once it has loaded the app (``post_worker_init``):

- initializes the framework (``init_framework(SAF_APP_NAME)``; a no-op when the app module did it at import),
  then calls ``SAF_GUNICORN_INIT=module:function`` with the worker's ``Variables`` (register the app's plugins
  there; an exception from it is re-raised as ``WebConfigError`` naming the variable and the function, and the
  worker fails to boot);
- sync and gthread workers: gunicorn keeps its own signal handling, except that SIGTERM (gunicorn's graceful stop)
  first goes through the framework: readiness off, the drain (``SAF_SHUTDOWN_DRAIN_SECONDS``) while the worker
  still accepts and serves, then gunicorn's graceful stop (the request in flight finishes). SIGINT/SIGQUIT stay
  gunicorn's quick stop (for gthread workers the base worker's: gthread's own can deadlock, see
  ``_quick_stop_handler``). Uvicorn workers: the framework's :func:`~scitrera_app_framework.web.lifespan` takes the
  signals over from the worker's uvicorn server;
- runs the framework's shutdown phases when it exits (``worker_exit``): intake, plugin shutdown, hooks, the
  ``stopped`` line;
- a stop signal that arrives between the fork and gunicorn's worker handlers is recorded (``post_fork``) and
  delivered again at the end of ``post_worker_init`` (the master's handlers, inherited at the fork, lost it).

Settings set here from the environment: ``graceful_timeout`` (gunicorn's limit before it kills a worker) is raised
to ``SAF_SHUTDOWN_TIMEOUT`` + 5 s when that is set, so the framework's own watchdog is the one that ends an overrun.
Anything given on gunicorn's command line wins over this module.
"""

from __future__ import annotations

import functools
import importlib
import math
import os
import signal
from typing import Any, Optional

INIT_VAR = 'SAF_GUNICORN_INIT'
APP_NAME_VAR = 'SAF_APP_NAME'


def _graceful_timeout() -> Optional[int]:
    raw = os.environ.get('SAF_SHUTDOWN_TIMEOUT', '').strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None  # init_framework reports the bad value in the worker
    return None if value is None or value <= 0 else int(math.ceil(value)) + 5


_gt = _graceful_timeout()
if _gt is not None:
    graceful_timeout = _gt


def load_init_function(spec: str) -> Any:
    """Import ``module:function`` (``SAF_GUNICORN_INIT``) and return the function.

    Raises:
        WebConfigError: the value is not ``module:function``, the module does not import, or the attribute is
            missing or not callable (names the variable and the value).
    """
    from . import WebConfigError
    module_name, sep, attr = spec.strip().partition(':')
    if not sep or not module_name or not attr:
        raise WebConfigError(f'{INIT_VAR}={spec!r} is not "module:function" (e.g. myapp.plugins:register)')
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise WebConfigError(f'{INIT_VAR}={spec!r}: cannot import {module_name!r}: {e}') from e
    fn = module
    for part in attr.split('.'):
        fn = getattr(fn, part, None)  # type: ignore[assignment]
        if fn is None:
            raise WebConfigError(f'{INIT_VAR}={spec!r}: {module_name!r} has no attribute {attr!r}')
    if not callable(fn):
        raise WebConfigError(f'{INIT_VAR}={spec!r}: {attr!r} is not callable (it is called with the worker\'s '
                             f'Variables)')
    return fn


def _is_uvicorn_worker(worker: Any) -> bool:
    return any(c.__module__.startswith('uvicorn') for c in type(worker).__mro__)


_STOP_SIGNALS = ('SIGQUIT', 'SIGINT', 'SIGTERM')
_early_signals: list[int] = []  # stop signals that reached the worker before gunicorn's handlers were installed


def _record_early_signal(signum: int, frame: Any) -> None:
    _early_signals.append(signum)


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook (in the worker, just after the fork): record the stop signals until gunicorn installs its own.

    Until then the worker has the master's handlers, inherited at the fork: they queue a signal in the worker's copy
    of the master's queue, where nothing reads it, so a quick stop (SIGQUIT) or a stop (SIGTERM) arriving then was
    lost, and gunicorn killed the worker at ``graceful_timeout`` without its phases. :func:`post_worker_init`
    delivers the recorded signals again once the worker's handlers are in place.
    """
    del _early_signals[:]
    for name in _STOP_SIGNALS:
        signal.signal(getattr(signal, name), _record_early_signal)


def _redeliver_early_signals() -> None:
    while _early_signals:
        signal.raise_signal(_early_signals.pop(0))


def post_worker_init(worker: Any) -> None:
    """gunicorn hook (in the worker, after the app loaded): the framework's per-worker start-up."""
    from ..core.core import init_framework
    from ..core.shutdown import get_shutdown_manager

    name = os.environ.get(APP_NAME_VAR, '').strip() or str(getattr(worker.cfg, 'proc_name', '') or 'app')
    v = init_framework(name)
    spec = os.environ.get(INIT_VAR, '').strip()
    if spec:
        fn = load_init_function(spec)
        try:
            fn(v)
        except Exception as e:  # name the function: a bare exception does not say which hook failed
            from . import WebConfigError
            raise WebConfigError(f'{INIT_VAR}={spec!r} raised {type(e).__name__}: {e} (the worker does not boot; '
                                 f'fix the function or unset {INIT_VAR})') from e
    if _is_uvicorn_worker(worker):
        # its uvicorn server installs its own handlers when it starts (web.lifespan takes them over then); until then
        # the stop signals are at their default (the worker class resets them): a recorded one is not delivered
        del _early_signals[:]
        return
    manager = get_shutdown_manager()
    manager.install(via_atexit=False, signals=('SIGTERM',))
    manager.hand_signals_to(lambda signum: worker.handle_exit(signum, None))
    # SIGINT and SIGQUIT stay gunicorn's quick stop (init_framework may have installed the framework's for SIGINT)
    quick_stop = _quick_stop_handler(worker)
    signal.signal(signal.SIGINT, quick_stop)
    signal.signal(signal.SIGQUIT, quick_stop)
    signal.siginterrupt(signal.SIGTERM, False)
    _redeliver_early_signals()  # a stop that arrived before gunicorn's handlers: handled now, as if it just came


def _quick_stop_handler(worker: Any) -> Any:
    """The SIGINT/SIGQUIT handler for ``worker``: gunicorn's own, except for the gthread worker's.

    gthread's ``handle_quit`` shuts its thread pool down from inside the signal handler, which takes the pool's
    lock. The main thread holds that same lock whenever it hands a connection to the pool (``submit``, which may
    wait there for a new pool thread to start): a quick stop arriving then deadlocks the worker on itself, and
    gunicorn SIGKILLs it at ``graceful_timeout`` without its shutdown phases. Its handler is replaced by the base
    worker's (``alive`` off, ``worker_int``, ``sys.exit(0)``, which unwinds ``submit`` and frees the lock);
    :func:`worker_exit` shuts the pool down instead. A subclass with its own ``handle_quit`` keeps it.
    """
    try:
        from gunicorn.workers.base import Worker
        from gunicorn.workers.gthread import ThreadWorker
    except ImportError:  # pragma: no cover - gunicorn runs this module, so it is there
        return worker.handle_quit
    if isinstance(worker, ThreadWorker) and type(worker).handle_quit is ThreadWorker.handle_quit:
        return functools.partial(Worker.handle_quit, worker)
    return worker.handle_quit


def worker_exit(server: Any, worker: Any) -> None:
    """gunicorn hook (in the worker, as it exits): the framework's shutdown phases.

    A gthread worker's thread pool is shut down first (what its quick stop no longer does in the signal handler;
    after a graceful stop gunicorn already did it, and a second time does nothing).
    """
    from ..core.shutdown import get_shutdown_manager
    pool_shutdown = getattr(getattr(worker, 'tpool', None), 'shutdown', None)
    if callable(pool_shutdown):
        pool_shutdown(wait=False)
    get_shutdown_manager().run('gunicorn worker exit')


__all__ = ['post_fork', 'post_worker_init', 'worker_exit', 'load_init_function', 'INIT_VAR', 'APP_NAME_VAR']
