"""Shutdown hooks in-process, on private ``ShutdownManager`` instances (nothing installed): newest first, once,
each isolated from the others' failures, on the calling thread.

Signals, exit codes and the watchdog are tested on child interpreters in ``test_lifecycle_signals.py``.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from scitrera_app_framework import register_shutdown_function
from scitrera_app_framework.core.shutdown import ShutdownManager, get_shutdown_manager
from scitrera_app_framework.testing import reset_framework

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME',)


# --- in-process: the manager ----------------------------------------------------------------------------------
def test_hooks_run_newest_first_with_their_arguments() -> None:
    m = ShutdownManager()
    calls: list[object] = []
    m.register(calls.append, 'a')
    m.register(lambda *a, **kw: calls.append((a, kw)), 1, 2, k='v')
    m.register(calls.append, 'c')
    assert m.run() is True
    assert calls == ['c', ((1, 2), {'k': 'v'}), 'a']
    assert m.state == 'done'


def test_hooks_property_lists_names_newest_first() -> None:
    m = ShutdownManager()

    def first() -> None: ...

    def second() -> None: ...

    m.register(first)
    m.register(second)
    assert [n.rsplit('.', 1)[-1] for n in m.hooks] == ['second', 'first']
    assert all(n.startswith(__name__) for n in m.hooks)


def test_hooks_run_once() -> None:
    m = ShutdownManager()
    calls: list[str] = []
    m.register(calls.append, 'x')
    assert m.run() is True
    assert m.run() is False
    assert m.run(reason='again') is False
    assert calls == ['x']


def test_concurrent_runs_run_hooks_once() -> None:
    m = ShutdownManager()
    calls: list[int] = []
    m.register(lambda: (time.sleep(0.05), calls.append(1)))
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(m.run())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert calls == [1]
    assert sorted(results) == [False] * 7 + [True]


def test_raising_hook_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    m = ShutdownManager()
    calls: list[str] = []

    def exploding_hook() -> None:
        raise RuntimeError('kaboom')

    m.register(calls.append, 'oldest')
    m.register(exploding_hook)
    m.register(calls.append, 'newest')
    with caplog.at_level(logging.ERROR, logger='saf.shutdown'):
        assert m.run() is True
    assert calls == ['newest', 'oldest']
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert 'exploding_hook' in errors[0].getMessage()
    assert errors[0].exc_info is not None and 'kaboom' in str(errors[0].exc_info[1])


def test_non_callable_is_rejected() -> None:
    m = ShutdownManager()
    with pytest.raises(TypeError, match='callable'):
        m.register('not a function')  # type: ignore[arg-type]
    assert m.hooks == []


def test_unregister() -> None:
    m = ShutdownManager()
    calls: list[str] = []

    def hook() -> None:
        calls.append('hook')

    m.register(hook)
    assert m.unregister(hook) is True
    assert m.unregister(hook) is False
    m.run()
    assert calls == []


def test_hooks_run_on_the_calling_thread_even_with_a_timeout() -> None:
    m = ShutdownManager()
    m.timeout = 5.0
    local = threading.local()
    local.marker = 'main'
    seen: list[object] = []
    m.register(lambda: seen.append((threading.get_ident(), getattr(local, 'marker', None))))
    m.run()
    assert seen == [(threading.get_ident(), 'main')]


@pytest.mark.parametrize('exc', [SystemExit(4), KeyboardInterrupt(), GeneratorExit()])
def test_a_hook_raising_a_base_exception_does_not_stop_the_others(exc: BaseException,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    m = ShutdownManager()
    calls: list[str] = []

    def bad_hook() -> None:
        raise exc

    m.register(calls.append, 'oldest')
    m.register(bad_hook)
    m.register(calls.append, 'newest')
    with caplog.at_level(logging.ERROR, logger='saf.shutdown'):
        assert m.run() is True
    assert calls == ['newest', 'oldest']
    assert any('bad_hook' in r.getMessage() for r in caplog.records)
    assert len(m.failures) == 1 and 'bad_hook' in m.failures[0]


def test_register_shutdown_function_is_usable_as_decorator() -> None:
    reset_framework()
    try:
        @register_shutdown_function
        def my_hook() -> None: ...

        assert callable(my_hook) and my_hook.__name__ == 'my_hook'
        assert [n.rsplit('.', 1)[-1] for n in get_shutdown_manager().hooks] == ['my_hook']
    finally:
        reset_framework()
    assert get_shutdown_manager().hooks == []
