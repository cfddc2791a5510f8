"""The intake phase's order (the app's stoppers, then the background executor's, in place from init), the last
line of a signal-driven shutdown, ``wait_for_shutdown`` instead of ``Thread.join`` (bpo-45274), the WARNING when
``init_framework`` runs off the main thread, and ``hand_signals_to`` (a server that stops itself)."""

from __future__ import annotations

import re
import signal
from typing import Any, Callable

import pytest

from scitrera_app_framework.api.variables import Variables
from scitrera_app_framework.core.shutdown import ShutdownManager, register_intake_stop

Child = Any  # conftest.Child (the spawn fixture's children)


def test_register_intake_stop_rejects_a_non_callable() -> None:
    with pytest.raises(TypeError, match='must be callable'):
        register_intake_stop('not a function', Variables())  # type: ignore[arg-type]


def test_intake_stoppers_with_last_run_after_the_others() -> None:
    v = Variables()
    calls: list[str] = []
    register_intake_stop(lambda: calls.append('last-1'), v, last=True)
    register_intake_stop(lambda: calls.append('a'), v)
    register_intake_stop(lambda: calls.append('last-2'), v, last=True)
    register_intake_stop(lambda: calls.append('b'), v)
    m = ShutdownManager()
    m.add_app(v)
    m.run()
    assert calls == ['b', 'a', 'last-2', 'last-1']


def test_the_executor_stops_after_an_intake_registered_later_even_if_first_used_later(
        spawn: Callable[..., Child]) -> None:
    # the executor is first used after the app registered its own stop: its stop still comes last, so the app's
    # intake (a server finishing its requests) can hand jobs over until then
    c = spawn("""
        from scitrera_app_framework import get_background_exec
        from scitrera_app_framework.core.shutdown import register_intake_stop, run_shutdown_hooks
        v = init_framework('order', base_plugins=True, stateful=False)
        def app_intake():
            ok = get_background_exec(v).submit_job(lambda: (time.sleep(0.3), say('late job done')))
            say(f'app intake: job queued={ok}')
        register_intake_stop(app_intake, v)
        get_background_exec(v).submit_job(say, 'first job')
        run_shutdown_hooks()
        say('over')
    """)
    assert c.finish() == 0, c.stderr()
    assert c.lines == ['first job', 'app intake: job queued=True', 'late job done', 'over'], c.stderr()


def test_sigterm_shutdown_ends_with_the_stopped_line(spawn: Callable[..., Child]) -> None:
    c = spawn("""
        init_framework('svc', stateful=False)
        say('ready')
        while True:
            time.sleep(0.05)
    """, LOGGING_LEVEL='DEBUG')
    c.wait_for('ready')
    c.send(signal.SIGINT)
    assert c.finish() == 130
    lines = [ln for ln in c.stderr().splitlines() if ln.strip()]
    assert re.search(r'stopped \(exit 130\) in [0-9.]+ s$', lines[-1]), lines[-3:]
    assert any(re.search(r'shutdown phases: readiness [0-9.]+s, intake .*user hooks [0-9.]+s', ln) for ln in lines)


def test_wait_for_shutdown_keeps_the_main_thread_safe_while_a_thread_serves(spawn: Callable[..., Child]) -> None:
    # the serving thread needs 0.5 s to finish after its intake stop: the process must not exit before it has
    c = spawn("""
        from scitrera_app_framework.core.shutdown import register_intake_stop, wait_for_shutdown
        init_framework('svc', stateful=False)
        stop = threading.Event()
        def serve():
            while not stop.is_set():
                time.sleep(0.02)
            time.sleep(0.5)
            say('server finished')
        t = threading.Thread(target=serve, name='server')
        t.start()
        def intake():
            stop.set()
            t.join()
            say('intake stopped')
        register_intake_stop(intake)
        register_shutdown_function(say, 'hook')
        assert wait_for_shutdown(timeout=0.2) is False
        say('ready')
        wait_for_shutdown()
        say('never here: the signal unwinds the main thread')
    """)
    c.wait_for('ready')
    c.send(signal.SIGTERM)
    assert c.finish() == 0, c.stderr()
    assert c.after('ready') == ['server finished', 'intake stopped', 'hook'], c.stderr()


def test_init_off_the_main_thread_warns_what_is_not_installed(spawn: Callable[..., Child]) -> None:
    c = spawn("""
        t = threading.Thread(target=lambda: init_framework('svc', stateful=False), name='worker-1')
        t.start(); t.join()
        say('done')
    """)
    assert c.finish() == 0
    err = c.stderr()
    assert "init_framework ran in thread 'worker-1', not the main thread: no SIGTERM/SIGINT handler" in err, err
    assert 'WARNING' in err and 'web.serve' in err


def test_a_server_that_takes_the_signals_stops_itself_after_the_drain(spawn: Callable[..., Child]) -> None:
    c = spawn("""
        from scitrera_app_framework.core.health import is_ready
        from scitrera_app_framework.core.shutdown import get_shutdown_manager
        v = init_framework('svc', stateful=False)
        stop = threading.Event()
        t0 = []
        get_shutdown_manager().hand_signals_to(lambda signum: stop.set())
        say('ready')
        while not stop.is_set():  # the "server": keeps serving (not ready) through the drain, no unwinding
            if not is_ready(v) and not t0:
                t0.append(time.monotonic())
                say('not ready')
            time.sleep(0.01)
        say(f'stopped after {time.monotonic() - t0[0]:.1f}')
        get_shutdown_manager().run('server stopped')
        say('phases ran')
    """, SAF_SHUTDOWN_DRAIN_SECONDS='0.6')
    c.wait_for('ready')
    c.send(signal.SIGTERM)
    assert c.finish() == 0, c.stderr()
    after = c.after('ready')
    assert after[0] == 'not ready' and after[2] == 'phases ran', after
    assert float(after[1].split()[-1]) >= 0.5, after
