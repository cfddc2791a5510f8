"""Shutdown hooks: newest first, once, errors isolated, SIGTERM/SIGINT, SAF_SHUTDOWN_TIMEOUT, atexit.

The ``ShutdownManager`` logic is tested in-process on private instances (nothing installed); signals and
exit behaviour are tested on child interpreters.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

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


def test_timeout_bounds_a_slow_hook_and_later_hooks_run(caplog: pytest.LogCaptureFixture) -> None:
    m = ShutdownManager()
    m.timeout = 0.3
    release = threading.Event()
    calls: list[str] = []

    def stuck_hook() -> None:
        release.wait(10)

    m.register(calls.append, 'later')
    m.register(stuck_hook)
    t0 = time.monotonic()
    try:
        with caplog.at_level(logging.ERROR, logger='saf.shutdown'):
            m.run()
        elapsed = time.monotonic() - t0
    finally:
        release.set()
    assert elapsed < 2
    assert calls == ['later']
    assert any('stuck_hook' in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


def test_invalid_timeout_env_warns_and_runs_unbounded(monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv('SAF_SHUTDOWN_TIMEOUT', 'soon')
    m = ShutdownManager()
    calls: list[str] = []
    m.register(calls.append, 'x')
    with caplog.at_level(logging.WARNING, logger='saf.shutdown'):
        m.run()
    assert calls == ['x']
    assert any('SAF_SHUTDOWN_TIMEOUT' in r.getMessage() and 'soon' in r.getMessage() for r in caplog.records)


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


# --- child processes ------------------------------------------------------------------------------------------
_APP = """
import os, signal, sys, threading, time
from scitrera_app_framework import Plugin, init_framework, register_plugin, register_shutdown_function

def say(s):
    print(s, flush=True)

class NoisyPlugin(Plugin):
    eager = True
    def initialize(self, v, logger):
        return 'value'
    def shutdown(self, v, logger, value):
        say('plugin-shutdown ' + value)
"""


class Child:
    """A child interpreter whose stdout lines can be awaited; stderr goes to a file."""

    def __init__(self, code: str, cwd: Path, env: dict[str, str]) -> None:
        full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
        full.update(env)
        self._err_path = cwd / f'stderr-{id(self)}.txt'
        self._err = open(self._err_path, 'w')
        self.proc = subprocess.Popen([sys.executable, '-c', _APP + textwrap.dedent(code)], cwd=cwd, env=full,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.lines: list[str] = []
        self._q: queue.Queue[Optional[str]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def wait_for(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._q.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                pytest.fail(f'child did not print {text!r} within {timeout}s; stdout so far: {self.lines}')
            if line is None:
                pytest.fail(f'child exited before printing {text!r}: rc={self.proc.wait()}, stdout={self.lines}, '
                            f'stderr={self.stderr()}')
            if line == text:
                return

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 15) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def stderr(self) -> str:
        self._err.flush()
        return self._err_path.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    children: list[Child] = []

    def _spawn(code: str, **env: str) -> Child:
        c = Child(code, tmp_path, env)
        children.append(c)
        return c

    yield _spawn
    for c in children:
        c.close()


def _after_ready(child: Child) -> list[str]:
    return child.lines[child.lines.index('ready') + 1:]


@pytest.mark.parametrize('signame, wait', [('SIGTERM', 'time.sleep(30)'), ('SIGINT', 'threading.Event().wait(30)')])
def test_signal_runs_hooks_once_and_exits_zero(spawn: Callable[..., Child], signame: str, wait: str) -> None:
    child = spawn(f"""
        v = init_framework('svc')
        register_plugin(NoisyPlugin, v, init=True)
        register_shutdown_function(say, 'hook-a')
        def hook_b():
            say('hook-b')
        register_shutdown_function(hook_b)
        def exploding_hook():
            raise RuntimeError('kaboom')
        register_shutdown_function(exploding_hook)
        say('ready')
        {wait}
        say('not-interrupted')
    """)
    child.wait_for('ready')
    child.send(getattr(signal, signame))
    rc = child.finish()
    err = child.stderr()
    assert rc == 0, err
    # newest first; the plugin shutdown hook was registered by init_framework, before the others
    assert _after_ready(child) == ['hook-b', 'hook-a', 'plugin-shutdown value'], err
    assert 'exploding_hook' in err and 'kaboom' in err
    assert signame in err  # "received SIGTERM: shutting down"
    assert 'Logging error' not in err and 'closed file' not in err


def test_second_signal_during_slow_hook_does_not_restart_shutdown(spawn: Callable[..., Child]) -> None:
    child = spawn("""
        v = init_framework('svc')
        register_plugin(NoisyPlugin, v, init=True)
        register_shutdown_function(say, 'fast-hook')
        def slow_hook():
            say('slow-start')
            time.sleep(1.0)
            say('slow-end')
        register_shutdown_function(slow_hook)
        say('ready')
        time.sleep(30)
    """)
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    child.wait_for('slow-start')
    child.send(signal.SIGTERM)
    child.send(signal.SIGINT)
    rc = child.finish()
    err = child.stderr()
    assert rc == 0, err
    assert _after_ready(child) == ['slow-start', 'slow-end', 'fast-hook', 'plugin-shutdown value'], err
    assert 'already in progress' in err


@pytest.mark.parametrize('signame', ['SIGTERM', 'SIGINT'])
def test_shutdown_timeout_reports_the_slow_hook_and_runs_the_rest(spawn: Callable[..., Child],
                                                                  signame: str) -> None:
    child = spawn("""
        v = init_framework('svc')
        register_plugin(NoisyPlugin, v, init=True)
        register_shutdown_function(say, 'late-hook-ran')
        def sleepy_hook():
            say('sleepy-start')
            time.sleep(10)
            say('sleepy-end')
        register_shutdown_function(sleepy_hook)
        say('ready')
        time.sleep(30)
    """, SAF_SHUTDOWN_TIMEOUT='1')
    child.wait_for('ready')
    t0 = time.monotonic()
    child.send(getattr(signal, signame))
    rc = child.finish()
    elapsed = time.monotonic() - t0
    err = child.stderr()
    assert rc == 0, err
    assert elapsed < 3.0, f'took {elapsed:.1f}s'
    assert _after_ready(child) == ['sleepy-start', 'late-hook-ran', 'plugin-shutdown value'], err
    assert 'sleepy_hook' in err and 'SAF_SHUTDOWN_TIMEOUT' in err


@pytest.mark.parametrize('env_value, keyword, expected', [
    (None, True, True),
    ('true', False, True),
    ('false', True, False),
])
def test_hooks_at_normal_exit_follow_via_atexit(spawn: Callable[..., Child], env_value: Optional[str],
                                                keyword: bool, expected: bool) -> None:
    env = {} if env_value is None else {'SAF_SHUTDOWN_HOOK_VIA_ATEXIT': env_value}
    child = spawn(f"""
        v = init_framework('svc', shutdown_hooks_via_atexit={keyword})
        register_plugin(NoisyPlugin, v, init=True)
        register_shutdown_function(say, 'hook-a')
        register_shutdown_function(say, 'hook-b')
        say('ready')
    """, **env)
    rc = child.finish()
    assert rc == 0, child.stderr()
    assert _after_ready(child) == (['hook-b', 'hook-a', 'plugin-shutdown value'] if expected else [])


def test_hooks_run_once_after_sys_exit_and_exit_code_is_kept(spawn: Callable[..., Child]) -> None:
    child = spawn("""
        v = init_framework('svc')
        register_shutdown_function(say, 'hook-a')
        say('ready')
        sys.exit(3)
    """)
    assert child.finish() == 3
    assert _after_ready(child) == ['hook-a']


def test_no_signal_handlers_when_install_is_off(spawn: Callable[..., Child]) -> None:
    child = spawn("""
        v = init_framework('svc')
        register_shutdown_function(say, 'hook-a')
        say('sigterm-default' if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else 'sigterm-replaced')
        say('sigint-default' if signal.getsignal(signal.SIGINT) is signal.default_int_handler else 'sigint-replaced')
        say('ready')
        time.sleep(30)
    """, SAF_INSTALL_SHUTDOWN_HOOKS='false')
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == -signal.SIGTERM
    assert child.lines == ['sigterm-default', 'sigint-default', 'ready']


def test_shutdown_hooks_keyword_false(spawn: Callable[..., Child]) -> None:
    child = spawn("""
        v = init_framework('svc', shutdown_hooks=False)
        register_shutdown_function(say, 'hook-a')
        say('sigterm-default' if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else 'sigterm-replaced')
        say('ready')
    """)
    assert child.finish() == 0
    assert child.lines == ['sigterm-default', 'ready']  # no atexit hook either


def test_init_from_a_worker_thread_installs_no_signal_handler(spawn: Callable[..., Child]) -> None:
    child = spawn("""
        errors = []
        def work():
            try:
                init_framework('svc')
            except BaseException as e:
                errors.append(repr(e))
        t = threading.Thread(target=work); t.start(); t.join(10)
        say('errors=' + repr(errors))
        say('sigterm-default' if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL else 'sigterm-replaced')
        register_shutdown_function(say, 'hook-at-exit')
    """)
    assert child.finish() == 0, child.stderr()
    assert child.lines == ['errors=[]', 'sigterm-default', 'hook-at-exit']


# After the hooks have finished, a further SIGTERM/SIGINT must still end the process (e.g. one stuck at exit on a
# non-daemon thread): only a signal arriving *while* the hooks run is ignored.


def test_signal_after_signal_driven_shutdown_ends_a_process_stuck_at_exit(spawn: Callable[..., Child]) -> None:
    # the hooks ran, sys.exit() now waits for a non-daemon thread; a second Ctrl-C must still end the process
    child = spawn("""
        v = init_framework('svc')
        register_shutdown_function(say, 'hook-a')
        threading.Thread(target=time.sleep, args=(3,), name='stubborn-worker').start()
        say('ready')
        time.sleep(30)
    """)
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    child.wait_for('hook-a')
    time.sleep(0.3)  # the sequence has finished; the interpreter is joining the worker
    t0 = time.monotonic()
    child.send(signal.SIGINT)
    child.finish()
    assert time.monotonic() - t0 < 1.5


def test_sigterm_after_manual_run_of_the_hooks_ends_the_process(spawn: Callable[..., Child]) -> None:
    child = spawn("""
        from scitrera_app_framework import run_shutdown_hooks
        v = init_framework('svc')
        register_shutdown_function(say, 'hook-a')
        run_shutdown_hooks()
        say('ready')
        time.sleep(3)
        say('still-alive')
    """)
    child.wait_for('ready')
    t0 = time.monotonic()
    child.send(signal.SIGTERM)
    child.finish()
    assert time.monotonic() - t0 < 1.5
    assert 'still-alive' not in child.lines
