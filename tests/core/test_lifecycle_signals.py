"""Shutdown on signals, in child interpreters: unwinding, phases and their order, exit codes, the watchdog.

Every child resets SIGINT to Python's default first (see ``conftest.PROLOGUE``), so these tests pass whatever
SIGINT disposition pytest inherited (``nohup``, a shell's background job).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

from scitrera_app_framework.core.shutdown import (
    EXIT_FORCED,
    EXIT_HOOK_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_TIMEOUT,
)

Spawn = Callable[..., Any]  # the ``spawn`` fixture of conftest.py, returning a conftest.Child


# --- the main thread unwinds, then the phases run on it ---------------------------------------------------------
@pytest.mark.parametrize('signame, expected_rc', [('SIGTERM', EXIT_OK), ('SIGINT', EXIT_SIGINT)])
@pytest.mark.parametrize('wait', [
    'time.sleep(60)',
    'threading.Event().wait(60)',
    'import queue; queue.Queue().get()',
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.accept()',
    'x = 0\nwhile True:\n    x += 1',
])
def test_signal_unwinds_a_busy_or_blocked_main_thread(spawn: Spawn, signame: str, expected_rc: int,
                                                      wait: str) -> None:
    body = '\n'.join('    ' + line for line in wait.splitlines())
    child = spawn(f"""
v = init_framework('svc')
register_plugin(NoisyPlugin, v, init=True)
register_shutdown_function(say, 'hook-a')
def hook_b():
    say('hook-b main=' + str(threading.current_thread() is threading.main_thread()))
register_shutdown_function(hook_b)
try:
    say('ready')
{body}
finally:
    say('finally-ran')
say('not-reached')
""")
    child.wait_for('ready')
    child.send(getattr(signal, signame))
    rc = child.finish()
    err = child.stderr()
    assert rc == expected_rc, err
    # the stack unwound first; then plugins shut down, then user hooks newest first, all on the main thread
    assert child.after() == ['finally-ran', 'plugin-shutdown value', 'hook-b main=True', 'hook-a'], err
    assert f'received {signame}: shutting down' in err
    assert 'Traceback' not in err and 'Logging error' not in err


@pytest.mark.parametrize('submit', [
    'ex.submit_job(len, "x")',
    'ex.submit_unique_job(n % 7, len, "x")',
    'ex.submit(len, "x")',
    'ex.submit_unique_job_post(n % 3, len, len, "x")',
])
def test_sigterm_during_a_submit_loop_exits_every_time(spawn: Spawn, submit: str) -> None:
    """The main thread spends nearly all its time inside the executor's submit (the pool's locks); the signal
    must be delivered only once it is out of them. 5 children per form, 20 in all."""
    children = [spawn(f"""
from scitrera_app_framework import get_background_exec
v = init_framework('svc', base_plugins=True)
register_shutdown_function(say, 'hook-ran')
ex = get_background_exec(v)
say('ready')
n = 0
while True:
    n += 1
    {submit}
    if n == 200:
        say('looping')
""", SAF_JOB_SHUTDOWN_CANCEL_PENDING='true', SAF_SHUTDOWN_TIMEOUT='20') for _ in range(5)]
    for c in children:
        c.wait_for('looping')  # deep in the submit loop
    for c in children:
        c.send(signal.SIGTERM)
    for c in children:
        rc = c.finish()
        assert rc == EXIT_OK, c.stderr()
        assert c.after('looping') == ['hook-ran'], c.stderr()


def test_a_lock_held_by_the_main_thread_is_released_before_the_hooks(spawn: Spawn) -> None:
    if sys.version_info < (3, 10):  # a signal between the lock's __enter__ and the with block loses its __exit__
        pytest.skip('bpo-29988: before Python 3.10 a with statement can lose __exit__ to a signal')
    child = spawn("""
lock = threading.Lock()
v = init_framework('svc')
def needs_the_lock():
    if lock.acquire(timeout=5):
        say('hook-got-lock')
        lock.release()
    else:
        say('hook-lock-timeout')
register_shutdown_function(needs_the_lock)
say('ready')
n = 0
while True:
    with lock:
        n += 1
        if n == 1000:
            say('looping')
""")
    child.wait_for('looping')  # the main thread takes and releases the lock in a loop
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK, child.stderr()
    assert child.after('looping') == ['hook-got-lock']


def test_except_keyboard_interrupt_still_handles_ctrl_c(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('cli')
register_shutdown_function(say, 'hook')
try:
    say('ready')
    time.sleep(60)
except KeyboardInterrupt:
    say('caught-ctrl-c')
""")
    child.wait_for('ready')
    child.send(signal.SIGINT)
    assert child.finish() == EXIT_SIGINT, child.stderr()
    assert child.after() == ['caught-ctrl-c', 'hook']


def test_a_caught_shutdown_request_still_runs_the_phases_at_exit(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('svc')
register_shutdown_function(say, 'hook')
try:
    say('ready')
    time.sleep(60)
except BaseException as e:
    say('caught ' + type(e).__name__)
say('cleanup-done')
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK, child.stderr()
    assert child.after() == ['caught ShutdownRequested', 'cleanup-done', 'hook']


def test_sigint_ignored_at_start_stays_ignored(spawn: Spawn) -> None:
    # a service started in the background by a shell inherits SIGINT ignored: it keeps it that way
    child = spawn("""
signal.signal(signal.SIGINT, signal.SIG_IGN)
v = init_framework('svc')
register_shutdown_function(say, 'hook')
say('sigint-ignored' if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else 'sigint-handled')
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGINT)  # ignored: discarded when sent (handled, it would stop the child with 130, not 0)
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK
    assert child.lines == ['sigint-ignored', 'ready', 'hook']


# --- exit codes -------------------------------------------------------------------------------------------------
def test_sigterm_exit_code_override(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('job')
say('ready')
time.sleep(60)
""", SAF_SHUTDOWN_EXIT_CODE='143')
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == 143


def test_bad_exit_code_setting_fails_at_start(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('job')
""", SAF_SHUTDOWN_EXIT_CODE='lots')
    assert child.finish() == 1
    err = child.stderr()
    assert 'SAF_SHUTDOWN_EXIT_CODE' in err and "'lots'" in err and '0 to 255' in err


@pytest.mark.parametrize('var, value', [('SAF_SHUTDOWN_TIMEOUT', 'soon'), ('SAF_SHUTDOWN_DRAIN_SECONDS', '-1')])
def test_bad_shutdown_seconds_fail_at_start(spawn: Spawn, var: str, value: str) -> None:
    child = spawn("v = init_framework('svc')", **{var: value})
    assert child.finish() == 1
    err = child.stderr()
    assert var in err and repr(value) in err


@pytest.mark.parametrize('raise_what', ['SystemExit(4)', 'RuntimeError("kaboom")', 'KeyboardInterrupt()'])
def test_failing_hook_gives_its_own_code_and_later_hooks_still_run(spawn: Spawn, raise_what: str) -> None:
    child = spawn(f"""
v = init_framework('svc')
register_plugin(NoisyPlugin, v, init=True)
register_shutdown_function(say, 'older-hook')
def bad_hook():
    say('bad-hook')
    raise {raise_what}
register_shutdown_function(bad_hook)
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    rc = child.finish()
    assert rc == EXIT_HOOK_FAILED, child.stderr()
    assert child.after() == ['plugin-shutdown value', 'bad-hook', 'older-hook']
    assert 'bad_hook' in child.stderr()


def test_failing_plugin_shutdown_gives_the_hook_failure_code(spawn: Spawn) -> None:
    child = spawn("""
class Bad(Plugin):
    def shutdown(self, v, logger, value):
        raise SystemExit(9)
v = init_framework('svc')
register_plugin(Bad, v, init=True)
register_plugin(NoisyPlugin, v, init=True)
register_shutdown_function(say, 'hook')
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_HOOK_FAILED, child.stderr()
    assert child.after() == ['plugin-shutdown value', 'hook']


def test_a_hung_background_job_is_bounded_by_the_timeout(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework import get_background_exec
v = init_framework('svc', base_plugins=True)
register_shutdown_function(say, 'hook-not-reached')
ex = get_background_exec(v)
ex.submit_job(time.sleep, 600)
say('ready')
time.sleep(60)
""", SAF_SHUTDOWN_TIMEOUT='1')
    child.wait_for('ready')
    t0 = time.monotonic()
    child.send(signal.SIGTERM)
    rc = child.finish()
    elapsed = time.monotonic() - t0
    err = child.stderr()
    assert rc == EXIT_TIMEOUT, err
    assert elapsed < 3.5, f'took {elapsed:.1f}s'
    assert 'SAF_SHUTDOWN_TIMEOUT=1s' in err and "phase 'intake'" in err and 'saf-job' in err


def test_many_queued_jobs_are_bounded_by_the_timeout(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework import get_background_exec
v = init_framework('svc', base_plugins=True)
ex = get_background_exec(v)
for _ in range(1000):
    ex.submit_job(time.sleep, 0.01)
say('ready')
time.sleep(60)
""", SAF_SHUTDOWN_TIMEOUT='1', SAF_JOB_THREADS='1')
    child.wait_for('ready')
    t0 = time.monotonic()
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_TIMEOUT, child.stderr()
    assert time.monotonic() - t0 < 3.5


def test_a_hung_non_daemon_thread_is_bounded_by_the_timeout(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('svc')
register_shutdown_function(say, 'hook')
threading.Thread(target=time.sleep, args=(600,), name='stubborn-worker').start()
say('ready')
time.sleep(60)
""", SAF_SHUTDOWN_TIMEOUT='1')
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_TIMEOUT
    assert child.after() == ['hook']
    assert 'stubborn-worker' in child.stderr()


def test_queued_jobs_finish_before_the_plugins_they_use_shut_down(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework import get_background_exec, get_extension
class Db(Plugin):
    eager = False
    def extension_point_name(self, v):
        return 'db'
    def initialize(self, v, logger):
        return {'open': True}
    def shutdown(self, v, logger, value):
        value['open'] = False
        say('db-closed')
def job(i):
    db = get_extension('db')
    time.sleep(0.2)
    say(f'job-{i} db-open={db["open"]}')
v = init_framework('svc', base_plugins=True)
register_plugin(Db, v)
ex = get_background_exec(v)  # initialized before the db, which a job initializes later
started = threading.Event()
ex.submit_job(lambda: (started.set(), job(0)))
ex.submit_job(job, 1)
started.wait(10)
say('ready')
time.sleep(60)
""", SAF_JOB_THREADS='1')
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK, child.stderr()
    assert child.after() == ['job-0 db-open=True', 'job-1 db-open=True', 'db-closed']


def test_second_signal_is_ignored_and_third_forces_exit(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('svc')
def slow_hook():
    say('slow-start')
    time.sleep(30)
    say('slow-end')
register_shutdown_function(slow_hook)
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    child.wait_for('slow-start')
    child.send(signal.SIGTERM)
    child.wait_for_stderr('shutdown is already in progress')  # the second one is only logged
    assert child.proc.poll() is None
    t0 = time.monotonic()
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_FORCED
    assert time.monotonic() - t0 < 3
    err = child.stderr()
    assert 'shutdown is already in progress' in err and 'forcing an immediate exit' in err
    assert 'slow-end' not in child.lines


def test_second_sigint_forces_exit(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('cli')
def slow_hook():
    say('slow-start')
    time.sleep(30)
register_shutdown_function(slow_hook)
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGINT)
    child.wait_for('slow-start')
    child.send(signal.SIGINT)
    assert child.finish() == EXIT_FORCED
    assert 'forcing an immediate exit' in child.stderr()


def test_signal_after_the_phases_finished_ends_a_process_stuck_at_exit(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('svc')
register_shutdown_function(say, 'hook-a')
threading.Thread(target=time.sleep, args=(30,), name='stubborn-worker').start()
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    child.wait_for('hook-a')
    child.wait_for_stderr('stopped (exit 0)')  # the phases' last line: the interpreter is joining the worker
    t0 = time.monotonic()
    child.send(signal.SIGINT)
    assert child.finish() == EXIT_FORCED
    assert time.monotonic() - t0 < 3


def test_sigterm_after_a_manual_run_of_the_phases_unwinds(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework.core.shutdown import run_shutdown_hooks
v = init_framework('svc')
register_shutdown_function(say, 'hook-a')
run_shutdown_hooks()
try:
    say('ready')
    time.sleep(30)
finally:
    say('finally-ran')
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK
    assert child.lines == ['hook-a', 'ready', 'finally-ran']


# --- normal exit ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('env_value, keyword, expected', [
    (None, True, True),
    ('true', False, True),
    ('false', True, False),
])
def test_phases_at_normal_exit_follow_via_atexit(spawn: Spawn, env_value: object, keyword: bool,
                                                 expected: bool) -> None:
    env = {} if env_value is None else {'SAF_SHUTDOWN_HOOK_VIA_ATEXIT': str(env_value)}
    child = spawn(f"""
v = init_framework('svc', shutdown_hooks_via_atexit={keyword})
register_plugin(NoisyPlugin, v, init=True)
register_shutdown_function(say, 'hook-a')
register_shutdown_function(say, 'hook-b')
say('ready')
""", **env)
    assert child.finish() == 0, child.stderr()
    assert child.after() == (['plugin-shutdown value', 'hook-b', 'hook-a'] if expected else [])


def test_sys_exit_code_is_kept_and_phases_run_once(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('svc')
register_shutdown_function(say, 'hook-a')
say('ready')
sys.exit(3)
""")
    assert child.finish() == 3
    assert child.after() == ['hook-a']


def test_background_jobs_queued_at_a_normal_exit_still_run(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework import get_background_exec
v = init_framework('svc', base_plugins=True)
register_shutdown_function(say, 'hook')
ex = get_background_exec(v)
for i in range(3):
    ex.submit_job(lambda i=i: (time.sleep(0.05), say(f'job-{i}')))
say('ready')
""", SAF_JOB_THREADS='1')
    assert child.finish() == 0, child.stderr()
    assert child.after() == ['job-0', 'job-1', 'job-2', 'hook']


def test_no_signal_handlers_when_install_is_off(spawn: Spawn) -> None:
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


def test_init_from_a_worker_thread_installs_no_signal_handler(spawn: Spawn) -> None:
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


# --- after shutdown ---------------------------------------------------------------------------------------------
def test_get_extension_after_shutdown_is_a_clear_error(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework import get_extension
class Lazy(Plugin):
    eager = False
    def extension_point_name(self, v):
        return 'lazy-thing'
    def initialize(self, v, logger):
        say('initialized-again')
        return 1
v = init_framework('svc')
register_plugin(Lazy, v)
def late_hook():
    try:
        get_extension('lazy-thing')
    except Exception as e:
        say(type(e).__name__ + ': ' + str(e))
register_shutdown_function(late_hook)
say('ready')
time.sleep(60)
""")
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK, child.stderr()
    out = child.after()
    assert len(out) == 1 and 'lazy-thing' in out[0] and 'shut down' in out[0], out
    assert 'initialized-again' not in child.lines


# --- readiness and the probe endpoint ---------------------------------------------------------------------------
def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_probes_before_during_drain_and_during_shutdown(spawn: Spawn, tmp_path: Path) -> None:
    child = spawn("""
from scitrera_app_framework.core.health import health_server_address
v = init_framework('svc')
host, port = health_server_address(v)
say(f'probe http://{host}:{port}')
def slow_hook():
    say('hook-start')
    for _ in range(1000):
        if os.path.exists('release'):
            break
        time.sleep(0.02)
register_shutdown_function(slow_hook)
say('ready')
n = 0
while True:  # the main thread keeps working through the drain
    n += 1
    if n % 200000 == 0:
        say('working')
""", SAF_HEALTH_PORT='0', SAF_SHUTDOWN_DRAIN_SECONDS='1.5')
    base = child.wait_for('probe *').split(' ', 1)[1]
    assert re.match(r"http://127\.0\.0\.1:\d+$", base)
    child.wait_for('ready')
    assert _get(base + '/readyz')[0] == 200
    assert _get(base + '/livez')[0] == 200
    t0 = time.monotonic()
    child.send(signal.SIGTERM)
    # during the drain: not ready, still alive, and the main thread still works
    deadline = time.monotonic() + 5
    while _get(base + '/readyz')[0] != 503:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert _get(base + '/livez')[0] == 200
    seen = len(child.lines)
    deadline = time.monotonic() + 5
    while 'working' not in child.lines[seen:]:
        assert time.monotonic() < deadline, 'the main thread stopped working during the drain'
        time.sleep(0.01)
    assert 'hook-start' not in child.lines
    # after the drain the phases run; the endpoint answers (not ready) until the end
    child.wait_for('hook-start')
    assert time.monotonic() - t0 >= 1.4
    status, body = _get(base + '/readyz')
    assert status == 503 and body['ready'] is False
    assert _get(base + '/healthz')[0] == 503
    assert _get(base + '/livez')[0] == 200
    (tmp_path / 'release').write_text('')
    assert child.finish() == EXIT_OK, child.stderr()


def test_not_ready_until_init_framework_returns(spawn: Spawn) -> None:
    child = spawn("""
from scitrera_app_framework.core.health import is_ready
from scitrera_app_framework import Variables
class Slow(Plugin):
    def initialize(self, v, logger):
        say('during-init ready=' + str(is_ready(v)))
        return 1
v = Variables()
register_plugin(Slow, v)
say('before ready=' + str(is_ready(v)))
init_framework('svc', v=v)
say('after ready=' + str(is_ready(v)))
def hook():
    say('in-hook ready=' + str(is_ready(v)))
register_shutdown_function(hook)
""")
    assert child.finish() == 0, child.stderr()
    assert child.lines == ['before ready=False', 'during-init ready=False', 'after ready=True',
                           'in-hook ready=False']


# --- asyncio apps -----------------------------------------------------------------------------------------------
_ASYNC_APP = """
import asyncio
from scitrera_app_framework.core.async_mode import async_plugins_ready, capture_async_loop
class Pool(Plugin):
    def extension_point_name(self, v):
        return 'pool'
    def initialize(self, v, logger):
        return {'open': True}
    async def async_ready(self, v, logger, value):
        say('pool-ready')
    async def async_stopping(self, v, logger, value):
        await asyncio.sleep(0.1)  # a real await: the loop must still run here
        value['open'] = False
        say('pool-async-stopping')
    def shutdown(self, v, logger, value):
        say('pool-shutdown open=' + str(value['open']))
async def main():
    v = init_framework('aio')
    register_plugin(Pool, v, init=True)
    register_shutdown_function(say, 'user-hook')
    {capture}
    say('ready')
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        say('main-cancelled')
        raise
    finally:
        await asyncio.sleep(0.05)
        say('main-finally')
asyncio.run(main())
say('not-reached')
"""


@pytest.mark.parametrize('capture', ['await async_plugins_ready(v)', 'capture_async_loop(v)', 'pass'])
@pytest.mark.parametrize('signame, expected_rc', [('SIGTERM', EXIT_OK), ('SIGINT', EXIT_SIGINT)])
def test_asyncio_app_cancels_main_then_runs_async_stopping_then_sync_phases(spawn: Spawn, capture: str,
                                                                           signame: str, expected_rc: int) -> None:
    child = spawn(_ASYNC_APP.replace('{capture}', capture))
    child.wait_for('ready')
    child.send(getattr(signal, signame))
    rc = child.finish()
    err = child.stderr()
    assert rc == expected_rc, err
    out = [ln for ln in child.after() if ln != 'pool-ready']
    assert out == ['main-cancelled', 'main-finally', 'pool-async-stopping', 'pool-shutdown open=False',
                   'user-hook'], err
    assert 'Traceback' not in err


def test_asyncio_app_drains_on_the_loop(spawn: Spawn) -> None:
    child = spawn("""
import asyncio
from scitrera_app_framework.core.health import is_ready
async def main():
    v = init_framework('aio')
    register_shutdown_function(say, 'user-hook')
    say('ready')
    try:
        while True:
            await asyncio.sleep(0.05)
            if not is_ready(v):
                say('still-serving-not-ready')
                break
        await asyncio.sleep(60)
    finally:
        say('main-finally')
asyncio.run(main())
""", SAF_SHUTDOWN_DRAIN_SECONDS='0.5')
    child.wait_for('ready')
    t0 = time.monotonic()
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_OK, child.stderr()
    assert time.monotonic() - t0 >= 0.45
    assert child.after() == ['still-serving-not-ready', 'main-finally', 'user-hook']


def test_debug_plugins_switches_the_registry_lines_on(spawn: Spawn) -> None:
    code = """
class P(Plugin):
    def initialize(self, v, logger):
        return 1
v = init_framework('svc')
register_plugin(P, v, init=True)
"""
    quiet = spawn(code)
    assert quiet.finish() == 0
    assert 'saf.plugins' not in quiet.stderr()
    loud = spawn(code, SAF_DEBUG_PLUGINS='true')
    assert loud.finish() == 0
    err = loud.stderr()
    assert 'saf.plugins' in err and 'initialized' in err and '__main__.P' in err


def test_a_signal_while_exit_joins_threads_forces_the_exit(spawn: Spawn) -> None:
    """main returned, the phases ran at exit, the interpreter waits for a non-daemon thread: a signal then
    ends the process (code 125), without raising into the interpreter's shutdown."""
    child = spawn("""
v = init_framework('svc')
register_shutdown_function(say, 'hook-ran')
def worker():
    time.sleep(30)
    say('worker-finished')
threading.Thread(target=worker, name='slow-worker').start()
say('ready')
""", LOGGING_LEVEL='DEBUG')
    child.wait_for('hook-ran')
    child.wait_for_stderr('stopped in')  # the phases' last line (DEBUG after a normal exit): joining the worker
    child.send(signal.SIGTERM)
    assert child.finish() == EXIT_FORCED
    err = child.stderr()
    assert 'Exception ignored' not in err and 'Traceback' not in err
    assert 'worker-finished' not in child.lines


def test_a_signal_at_the_last_line_of_the_phases_forces_the_exit(spawn: Spawn) -> None:
    """The ``stopped in`` line says the phases are over: a signal sent as it is written (here by a handler on that
    very record, so the signal arrives while the line is being logged) already forces the exit while the interpreter
    joins a non-daemon thread. (The state used to turn over only after the line: the signal was ignored as one
    during the phases, and the process waited for the thread.)"""
    child = spawn("""
import logging
class SignalAtLastLine(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith('stopped in'):
            os.kill(os.getpid(), signal.SIGTERM)
logging.getLogger('saf.shutdown').addHandler(SignalAtLastLine())
v = init_framework('svc')
def worker():
    time.sleep(30)
    say('worker-finished')
threading.Thread(target=worker, name='slow-worker').start()
say('ready')
""", LOGGING_LEVEL='DEBUG')
    child.wait_for('ready')
    assert child.finish(20) == EXIT_FORCED, child.stderr()
    assert 'worker-finished' not in child.lines


@pytest.mark.parametrize('var', ['SAF_SHUTDOWN_TIMEOUT', 'SAF_SHUTDOWN_DRAIN_SECONDS'])
def test_absurd_shutdown_seconds_fail_at_start(spawn: Spawn, var: str) -> None:
    child = spawn("v = init_framework('svc')", **{var: '1e10'})
    assert child.finish() == 1
    assert var in child.stderr() and '1,000,000' in child.stderr()


# --- a signal that another thread receives ---------------------------------------------------------------------
# The kernel gives a process-directed signal to any thread that does not block it; only that thread's blocking
# call is interrupted. A helper thread here takes the signal itself (pthread_kill on its own thread) while the
# main thread is blocked: the framework must still handle it now, not when the blocking call ends by itself.
_OTHER_THREAD_SENDS = """
def _send(signum):
    say('sending')
    signal.pthread_kill(threading.get_ident(), signum)
def send_from_another_thread(signum, after=0.2):
    t = threading.Timer(after, _send, (signum,))
    t.daemon = True
    t.start()
"""


@pytest.mark.skipif(not hasattr(signal, 'SIGRTMAX'), reason='the main thread is poked with a real-time signal')
@pytest.mark.parametrize('signame, expected_rc', [('SIGTERM', EXIT_OK), ('SIGINT', EXIT_SIGINT)])
@pytest.mark.parametrize('wait', ['threading.Event().wait()', 'time.sleep(120)', 'import queue; queue.Queue().get()'])
def test_a_signal_taken_by_another_thread_unwinds_a_blocked_main_thread(spawn: Spawn, signame: str,
                                                                        expected_rc: int, wait: str) -> None:
    child = spawn(_OTHER_THREAD_SENDS + f"""
v = init_framework('svc')
register_shutdown_function(say, 'hook-ran')
say('ready')
send_from_another_thread(signal.{signame})
try:
    {wait}
finally:
    say('finally-ran')
""")
    child.wait_for('ready')
    t0 = time.monotonic()
    rc = child.finish(timeout=20)
    assert rc == expected_rc, child.stderr()
    assert child.after() == ['sending', 'finally-ran', 'hook-ran'], child.stderr()
    assert time.monotonic() - t0 < 10, 'the signal waited for the blocking call to end by itself'


@pytest.mark.skipif(not hasattr(signal, 'SIGRTMAX'), reason='the main thread is poked with a real-time signal')
def test_a_signal_taken_by_another_thread_cancels_an_asyncio_main_task(spawn: Spawn) -> None:
    child = spawn(_OTHER_THREAD_SENDS + """
import asyncio
async def main():
    init_framework('aio')
    register_shutdown_function(say, 'hook-ran')
    say('ready')
    send_from_another_thread(signal.SIGTERM)
    try:
        await asyncio.sleep(120)
    except asyncio.CancelledError:
        say('main-cancelled')
        raise
asyncio.run(main())
""")
    child.wait_for('ready')
    assert child.finish(timeout=20) == EXIT_OK, child.stderr()
    assert child.after() == ['sending', 'main-cancelled', 'hook-ran'], child.stderr()


@pytest.mark.skipif(not hasattr(signal, 'SIGRTMAX'), reason='the main thread is poked with a real-time signal')
def test_a_second_sigint_taken_by_another_thread_forces_the_exit_while_a_hook_blocks(spawn: Spawn) -> None:
    child = spawn(_OTHER_THREAD_SENDS + """
v = init_framework('svc')
def stuck():
    say('hook-blocks')
    send_from_another_thread(signal.SIGINT)
    threading.Event().wait()
register_shutdown_function(stuck)
say('ready')
threading.Event().wait()
""", SAF_SHUTDOWN_TIMEOUT='60')
    child.wait_for('ready')
    child.send(signal.SIGINT)
    assert child.finish(timeout=20) == EXIT_FORCED, child.stderr()
    assert child.after() == ['hook-blocks', 'sending'], child.stderr()
    assert 'forcing an immediate exit' in child.stderr()


def test_the_programs_own_wakeup_fd_and_poke_signal_handler_are_kept(spawn: Spawn) -> None:
    child = spawn("""
r, w = os.pipe()
os.set_blocking(w, False)
signal.set_wakeup_fd(w)
rt = getattr(signal, 'SIGRTMAX', None)
def mine(signum, frame):
    pass
if rt is not None:
    signal.signal(rt, mine)
v = init_framework('svc')
say('wakeup-kept=' + str(signal.set_wakeup_fd(-1) == w))
say('poke-kept=' + str(rt is None or signal.getsignal(rt) is mine))
""")
    assert child.finish() == EXIT_OK, child.stderr()
    assert child.lines == ['wakeup-kept=True', 'poke-kept=True'], child.stderr()


@pytest.mark.skipif(not hasattr(os, 'fork') or not hasattr(signal, 'SIGRTMAX'), reason='POSIX fork')
def test_a_forked_child_does_not_write_its_signals_into_the_parents_pipe(spawn: Spawn) -> None:
    child = spawn("""
v = init_framework('svc')
fd = signal.set_wakeup_fd(-1)
signal.set_wakeup_fd(fd)
say('parent-armed=' + str(fd != -1))
pid = os.fork()
if pid == 0:
    os.write(1, ('child-wakeup-fd=' + str(signal.set_wakeup_fd(-1)) + '\\n').encode())
    os._exit(0)
os.waitpid(pid, 0)
""")
    assert child.finish() == EXIT_OK, child.stderr()
    assert child.lines == ['parent-armed=True', 'child-wakeup-fd=-1'], child.stderr()


@pytest.mark.skipif(not hasattr(signal, 'SIGRTMAX'), reason='the main thread is poked with a real-time signal')
def test_a_third_sigterm_taken_by_another_thread_forces_the_exit_while_the_watchdog_was_busy(spawn: Spawn) -> None:
    # The watchdog is slow (a log handler that takes its time, or a loaded machine): a second SIGTERM, handled by
    # the main thread, and a third, taken by another thread while the main thread blocks, reach the signal pipe
    # before the watchdog reads it. The second's handler run must not count as the third's: the third forces.
    child = spawn("""
import logging
from scitrera_app_framework.core.shutdown import get_shutdown_manager
v = init_framework('svc')
main, manager = threading.get_ident(), get_shutdown_manager()
class Slow(logging.Handler):
    def emit(self, record):
        if threading.current_thread().name != 'saf-shutdown-watchdog' or \\
                not record.getMessage().startswith('received SIGTERM: shutting down'):
            return
        signal.pthread_kill(main, signal.SIGTERM)  # the second: the main thread runs the handler (ignored)
        deadline = time.monotonic() + 10
        while manager._nsignals < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        say('third')
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # the third, taken by this thread
logging.getLogger('saf.shutdown').addHandler(Slow())
say('ready')
threading.Event().wait()
""", SAF_SHUTDOWN_DRAIN_SECONDS='60', SAF_SHUTDOWN_TIMEOUT='120')
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    child.wait_for('third')
    assert child.finish(timeout=20) == EXIT_FORCED, child.stderr()
    assert 'forcing an immediate exit' in child.stderr()


@pytest.mark.skipif(not hasattr(signal, 'SIGRTMAX'), reason='the main thread is poked with a real-time signal')
def test_a_poke_signal_handler_the_program_installs_after_init_is_never_called_by_the_watchdog(spawn: Spawn) -> None:
    # The program takes SIGRTMAX over after init_framework: the watchdog must not call the program's handler (it
    # cannot wake the main thread then; it says so at DEBUG, and the signal waits for the blocking call to end).
    child = spawn(_OTHER_THREAD_SENDS + """
import logging
v = init_framework('svc')
register_shutdown_function(say, 'hook-ran')
def mine(signum, frame):
    say('program-handler-called')
signal.signal(signal.SIGRTMAX, mine)
release = threading.Event()
class Release(logging.Handler):
    def emit(self, record):
        if 'is not woken' in record.getMessage():
            release.set()
log = logging.getLogger('saf.shutdown')
log.setLevel(logging.DEBUG)
log.addHandler(Release())
say('ready')
send_from_another_thread(signal.SIGTERM)
try:
    release.wait()
finally:
    say('finally-ran')
""")
    child.wait_for('ready')
    assert child.finish(timeout=20) == EXIT_OK, child.stderr()
    assert child.after() == ['sending', 'finally-ran', 'hook-ran'], child.stderr()


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX fork')
def test_pool_terminate_ends_busy_forked_workers_when_a_drain_is_configured(spawn: Spawn) -> None:
    # A forked worker inherits the framework's SIGTERM handler but not the watchdog that ends a drain: the drain
    # must not apply there, else Pool.terminate() (SIGTERM to each worker, then join) waits for the task to end.
    child = spawn("""
import multiprocessing
ctx = multiprocessing.get_context('fork')
v = init_framework('svc')
parent = os.getpid()
register_shutdown_function(lambda: os.getpid() == parent and say('hook-ran'))
started = ctx.Event()
def task():
    started.set()
    threading.Event().wait(25)  # (bounded: a worker that outlives a failed test holds the test's stdout pipe)
pool = ctx.Pool(1)
pool.apply_async(task)
say('started=' + str(started.wait(15)))
pool.terminate()
say('terminated')
""", SAF_SHUTDOWN_DRAIN_SECONDS='60')
    child.wait_for('started=True')
    assert child.finish(timeout=20) == EXIT_OK, child.stderr()
    assert child.after('started=True') == ['terminated', 'hook-ran'], child.stderr()


def test_the_shutdown_timeout_ends_the_process_when_a_log_handler_blocks_the_main_thread(spawn: Spawn) -> None:
    # A hook logs and the log handler never returns (a full pipe, a remote sink that hangs): it holds the handler's
    # lock, so the watchdog's own last line cannot be written either; SAF_SHUTDOWN_TIMEOUT must still end the exit.
    child = spawn("""
import logging
v = init_framework('svc')
class Stuck(logging.Handler):
    def emit(self, record):
        if record.getMessage() == 'hook logs':
            say('log-blocks')
            threading.Event().wait()
logging.getLogger().addHandler(Stuck())
register_shutdown_function(lambda: logging.getLogger('app').warning('hook logs'))
say('ready')
threading.Event().wait()
""", SAF_SHUTDOWN_TIMEOUT='1')
    child.wait_for('ready')
    child.send(signal.SIGTERM)
    child.wait_for('log-blocks')
    assert child.finish(timeout=20) == EXIT_TIMEOUT, child.stderr()


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX fork')
def test_forked_multiprocessing_workers_do_not_run_the_apps_shutdown(spawn: Spawn) -> None:
    """A fork-started worker (Pool, Process) is not the app: its exit runs none of the app's plugin shutdowns or
    hooks (they run once, in the app's process; the original's atexit hooks never ran in such a worker either)."""
    child = spawn("""
import multiprocessing
v = init_framework('svc')
register_plugin(NoisyPlugin, v, init=True)
register_shutdown_function(lambda: say('hook-ran in ' + ('app' if os.getpid() == APP else 'worker')))
APP = os.getpid()
def work(x):
    return x * 2
ctx = multiprocessing.get_context('fork')
with ctx.Pool(2) as pool:
    say('pool ' + str(pool.map(work, range(4))))
p = ctx.Process(target=work, args=(1,))
p.start()
p.join()
say('process exit ' + str(p.exitcode))
say('ready')
""")
    assert child.finish() == EXIT_OK, child.stderr()
    assert child.lines == ['pool [0, 2, 4, 6]', 'process exit 0', 'ready', 'plugin-shutdown value',
                           'hook-ran in app'], child.stderr()
