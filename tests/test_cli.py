"""The ``saf`` command, run as a subprocess: each subcommand, each exit code, secrets never in any output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SECRET = 'hunter2-SECRET'
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')

APP = '''
from scitrera_app_framework import Plugin, init_framework, register_plugin

class Db(Plugin):
    def extension_point_name(self, v):
        return 'db'
    def initialize(self, v, logger):
        return v.environ('DB_URL')

class Api(Plugin):
    def extension_point_name(self, v):
        return 'api'
    def get_dependencies(self, v):
        return ('db',)

class Broken(Plugin):
    eager = False
    def extension_point_name(self, v):
        return 'broken'
    def initialize(self, v, logger):
        raise RuntimeError('cannot reach postgres://u:hunter2-SECRET@db/x')

def setup():
    v = init_framework('demo-app', stateful=False, shutdown_hooks=False)
    v.environ('DB_URL', help='the database', required=True)
    v.environ('API_KEY', default='', secret=True, help='key for the upstream API')
    v.environ('WORKERS', default=4, type_fn=int, help='worker threads')
    register_plugin(Db, v, init=True)
    register_plugin(Api, v, init=True)
    register_plugin(Broken, v)
    return v

def setup_broken():
    from scitrera_app_framework import get_extension
    v = setup()
    try:
        get_extension('broken', v)
    except Exception:
        pass
    return v

def setup_prints():
    print('hello from setup')
    return setup()

def setup_fails():
    raise ValueError('bad settings near ' + 'postgres://u:hunter2-SECRET@h/db' + '\\nsecond line')
'''


def saf(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / 'demo_app.py').write_text(APP)
    full = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
    full.update({'DB_URL': f'postgres://user:{SECRET}@db:5432/app', 'API_KEY': SECRET, 'WORKERS': '8'})
    full.update(env)
    return subprocess.run([sys.executable, '-m', 'scitrera_app_framework', *args], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=60)


def _clean(p: subprocess.CompletedProcess) -> None:
    assert SECRET not in p.stdout + p.stderr, p.stdout + p.stderr


def test_config_table_with_the_app(tmp_path: Path) -> None:
    p = saf(tmp_path, 'config', '--app', 'demo_app:setup')
    assert p.returncode == 0, p.stderr
    _clean(p)
    lines = {ln.split()[0]: ln for ln in p.stdout.splitlines()[2:]}
    assert 'postgres://user:****@db:5432/app' in lines['DB_URL'] and 'environment (DB_URL)' in lines['DB_URL']
    assert '****' in lines['API_KEY']
    assert lines['WORKERS'].split()[1:] == ['8', 'environment', '(WORKERS)', 'int']


def test_config_json_explain_and_docs(tmp_path: Path) -> None:
    p = saf(tmp_path, 'config', '--app', 'demo_app:setup', '--json')
    assert p.returncode == 0 and {r['key']: r for r in json.loads(p.stdout)}['API_KEY']['value'] == '****'
    _clean(p)
    p = saf(tmp_path, 'config', '--app', 'demo_app:setup', '--explain', 'workers')
    assert p.returncode == 0
    assert 'value: 8' in p.stdout and 'layer: environment' in p.stdout and 'help: worker threads' in p.stdout
    p = saf(tmp_path, 'config', '--app', 'demo_app:setup', '--docs')
    assert p.returncode == 0 and '| `DB_URL` | str |' in p.stdout and 'key for the upstream API' in p.stdout
    _clean(p)


def test_config_without_an_app_shows_the_framework_settings(tmp_path: Path) -> None:
    p = saf(tmp_path, 'config', SAF_SHUTDOWN_TIMEOUT='5')
    assert p.returncode == 0 and 'SAF_INSTALL_SHUTDOWN_HOOKS' in p.stdout
    _clean(p)


def test_plugins_table_json_and_dot(tmp_path: Path) -> None:
    p = saf(tmp_path, 'plugins', '--app', 'demo_app:setup_broken')
    assert p.returncode == 1, p.stderr  # a plugin failed: the table, and exit code 1
    rows = {ln.split()[0]: ln for ln in p.stdout.splitlines()[2:]}
    assert 'initialized' in rows['demo_app.Db'] and 'db' in rows['demo_app.Api'].split()[-1]
    assert 'failed' in rows['demo_app.Broken']
    _clean(p)
    p = saf(tmp_path, 'plugins', '--app', 'demo_app:setup', '--dot')
    assert p.stdout.startswith('digraph plugins {') and '"api" -> "db"' in p.stdout
    p = saf(tmp_path, 'plugins', '--app', 'demo_app:setup_broken', '--json')
    assert json.loads(p.stdout)[2]['state'] == 'failed'
    _clean(p)


def test_health_exit_codes(tmp_path: Path) -> None:
    p = saf(tmp_path, 'health', '--app', 'demo_app:setup')
    assert p.returncode == 0 and json.loads(p.stdout)['status'] == 'ok'
    p = saf(tmp_path, 'health', '--app', 'demo_app:setup_broken')
    assert p.returncode == 1 and json.loads(p.stdout)['status'] == 'failing'
    _clean(p)


def test_version(tmp_path: Path) -> None:
    p = saf(tmp_path, 'version')
    assert p.returncode == 0 and p.stdout.startswith('scitrera-app-framework ')


@pytest.mark.parametrize('args', [(), ('bogus',), ('config', '--json', '--docs'), ('plugins', '--nope')])
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    p = saf(tmp_path, *args)
    assert p.returncode == 2 and 'usage: saf' in p.stderr


@pytest.mark.parametrize('spec, text', [
    ('demo_app:setup_fails', 'ValueError: bad settings near postgres://u:****@h/db (...)'),
    ('no_such_module:setup', "cannot import 'no_such_module'"),
    ('demo_app:missing', "has no function 'missing'"),
    ('demo_app', 'expected MODULE:FUNC'),
])
def test_runtime_errors_are_one_line_exit_1(tmp_path: Path, spec: str, text: str) -> None:
    p = saf(tmp_path, 'config', '--app', spec)
    assert p.returncode == 1
    assert len(p.stderr.strip().splitlines()) == 1 and text in p.stderr and 'Traceback' not in p.stderr
    _clean(p)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    p = saf(tmp_path, '--debug', 'config', '--app', 'demo_app:setup_fails')
    assert p.returncode == 1 and 'Traceback' in p.stderr


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).with_name('saf')
    if not exe.exists():
        pytest.fail(f'the saf console script is missing next to {sys.executable}: reinstall the package')
    p = subprocess.run([str(exe), 'version'], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and 'scitrera-app-framework' in p.stdout
    assert textwrap.dedent(p.stdout).strip()


def test_output_of_the_setup_does_not_corrupt_json(tmp_path: Path) -> None:
    p = saf(tmp_path, 'config', '--app', 'demo_app:setup_prints', '--json')
    assert p.returncode == 0 and json.loads(p.stdout) and 'hello from setup' in p.stderr


def test_a_sigterm_during_the_setup_is_not_a_success(tmp_path: Path) -> None:
    """saf does not let the app install its shutdown handlers: a SIGTERM ends it as it would any command."""
    import signal
    (tmp_path / 'slow_app.py').write_text(textwrap.dedent("""
        import time
        from scitrera_app_framework import init_framework
        def setup():
            v = init_framework('slow', stateful=False)
            print('setting-up', flush=True)
            time.sleep(30)
            return v
    """))
    full = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
    proc = subprocess.Popen([sys.executable, '-m', 'scitrera_app_framework', 'health', '--app', 'slow_app:setup'],
                            cwd=tmp_path, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if 'setting-up' in line:
                break
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


# --- issue 19 items 9 and 10, issue 20: saf's output is always usable ------------------------------------------------

HOSTILE = '''
import math, sys, threading
print('printed at import')
sys.stdout.write('written at import\\n')
import os
os.write(1, b'raw fd write at import\\n')
from scitrera_app_framework import Plugin, init_framework, register_plugin

class Unprintable:
    def __repr__(self):
        raise RuntimeError('no repr for you')
    __str__ = __repr__

class BadMapping(dict):
    def items(self):
        raise RuntimeError('cannot list')

class Worker(Plugin):
    """keeps a non-daemon thread until its shutdown"""
    def extension_point_name(self, v):
        return 'worker'
    def initialize(self, v, logger):
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, name='worker-loop')  # not a daemon
        t.start()
        return stop, t
    def shutdown(self, v, logger, value):
        stop, t = value
        stop.set()
        t.join()
        print('worker stopped', file=sys.stderr)

class Failing(Plugin):
    def extension_point_name(self, v):
        return 'failing'
    def initialize(self, v, logger):
        raise RuntimeError('the cache at redis://u:hunter2-SECRET@h/0 is down')

def setup(**kw):
    v = init_framework('hostile', stateful=False)
    v.set('TUPLE_KEYS', {('a', 1): 'x', ('b', 2): {'nested': ('t',)}})
    v.set('UNPRINTABLE', Unprintable())
    v.set('NOT_A_NUMBER', math.nan)
    v.set('INFINITE', [math.inf, -math.inf])
    loop = [1]
    loop.append(loop)
    v.set('RECURSIVE', loop)
    v.set('HUGE_INT', 10 ** 5000)
    v.set('BAD_MAPPING', BadMapping())
    v.environ('APP_WORKERS', default=3, type_fn=int, help='worker threads')
    v.environ('SAF_SECRET_KEYS', default='')
    for key, val in kw.items():
        v.set('ARG_' + key.upper(), val)
    register_plugin(Worker, v, init=True)
    return v

def setup_failing():
    v = setup()
    register_plugin(Failing, v)
    from scitrera_app_framework import init_all_plugins
    init_all_plugins(v)
    return v
'''


def _hostile(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / 'hostile_app.py').write_text(HOSTILE)
    return saf(tmp_path, *args, **env)


def test_config_json_is_always_valid_json(tmp_path: Path) -> None:
    """Prints at import (print, sys.stdout, the raw file descriptor), tuple keys, a value whose repr raises,
    NaN and infinities: stdout is one valid JSON document; what cannot be shown is a placeholder naming its type."""
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--json', '--all')
    assert p.returncode == 0, p.stderr
    rows = {r['key']: r for r in json.loads(p.stdout)}
    assert 'printed at import' in p.stderr and 'raw fd write at import' in p.stderr
    assert rows['TUPLE_KEYS']['value'] == {"('a', 1)": 'x', "('b', 2)": {'nested': ['t']}}
    assert rows['UNPRINTABLE']['value'] == '<unprintable Unprintable>'
    assert rows['NOT_A_NUMBER']['value'] == '<float nan>'
    assert rows['INFINITE']['value'] == ['<float inf>', '<float -inf>']
    assert rows['RECURSIVE']['value'][0] == 1 and '"<recursive list>"' in json.dumps(rows['RECURSIVE']['value'])
    assert rows['HUGE_INT']['value'] == '<int of 16,610 bits>'
    assert rows['BAD_MAPPING']['value'] == '<unprintable BadMapping>'
    _clean(p)


def test_config_table_survives_an_unprintable_value(tmp_path: Path) -> None:
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--all')
    assert p.returncode == 0, p.stderr
    lines = {ln.split()[0]: ln for ln in p.stdout.splitlines() if ln.strip() and not ln.startswith(('-', ' '))}
    assert '<unprintable Unprintable>' in lines['UNPRINTABLE']


def test_saf_runs_the_shutdown_phases_before_exiting(tmp_path: Path) -> None:
    """A plugin keeping a non-daemon thread until its shutdown: saf still ends (and shut the plugin down)."""
    for cmd in (('config',), ('plugins',), ('health',)):
        p = _hostile(tmp_path, *cmd, '--app', 'hostile_app:setup')
        assert p.returncode == 0, p.stderr
        assert 'worker stopped' in p.stderr


def test_plugins_and_health_print_their_table_when_a_plugin_fails(tmp_path: Path) -> None:
    p = _hostile(tmp_path, 'plugins', '--app', 'hostile_app:setup_failing')
    assert p.returncode == 1, p.stderr
    rows = {ln.split()[0]: ln for ln in p.stdout.splitlines()[2:]}
    assert 'initialized' in rows['hostile_app.Worker']
    assert 'failed' in rows['hostile_app.Failing'] and 'redis://u:****@h/0 is down' in rows['hostile_app.Failing']
    assert 'PluginInitError' in p.stderr and "'hostile_app.Failing'" in p.stderr  # the error, once, on stderr
    assert 'worker stopped' in p.stderr
    _clean(p)
    p = _hostile(tmp_path, 'plugins', '--app', 'hostile_app:setup_failing', '--json')
    states = {r['name']: r['state'] for r in json.loads(p.stdout)}
    assert p.returncode == 1 and states['hostile_app.Failing'] == 'failed'
    p = _hostile(tmp_path, 'health', '--app', 'hostile_app:setup_failing')
    assert p.returncode == 1 and json.loads(p.stdout)['status'] != 'ok'
    _clean(p)


def test_framework_variables_are_shown_apart(tmp_path: Path) -> None:
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup')
    assert p.returncode == 0, p.stderr
    keys = [ln.split()[0] for ln in p.stdout.splitlines()[2:] if ln.strip()]
    assert 'APP_WORKERS' in keys and not any(k.startswith(('SAF_', 'LOGGING_', '(')) for k in keys[:-1])
    assert 'framework variables hidden' in p.stdout
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--all')
    assert 'SAF_INSTALL_SHUTDOWN_HOOKS' in p.stdout and 'APP_WORKERS' in p.stdout
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--docs')
    assert '| `APP_WORKERS` | int |' in p.stdout and 'SAF_SECRET_KEYS' not in p.stdout
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--docs', '--all')
    line = next(ln for ln in p.stdout.splitlines() if '`SAF_SECRET_KEYS`' in ln)
    assert not line.rstrip(' |').endswith('yes |') and '| yes |' not in line  # not a secret
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--explain', 'SAF_SECRET_KEYS',
                 SAF_SECRET_KEYS='license')
    assert 'value: license' in p.stdout and 'secret: False' in p.stdout


def test_app_arguments_reach_the_setup_function(tmp_path: Path) -> None:
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--app-arg', 'region=eu-west',
                 '--app-arg', 'shards=3', '--explain', 'ARG_REGION')
    assert p.returncode == 0, p.stderr
    assert 'value: eu-west' in p.stdout
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--app-arg', 'noequals')
    assert p.returncode == 2 and "argument --app-arg: 'noequals': expected KEY=VALUE" in p.stderr
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup_failing', '--app-arg', 'x=1')
    assert p.returncode == 1 and "unexpected keyword argument 'x'" in p.stderr


def test_secret_named_app_argument_is_never_printed(tmp_path: Path) -> None:
    """``--app-arg api_token=VALUE``: the value is a known secret value from the start, so the setup's error
    line (also with ``--debug``) masks it; a malformed secret-named argument is not echoed by the usage error."""
    TOKEN = 'tok-VALUE-9911'  # (not in the environment saf() sets)
    (tmp_path / 'tok_app.py').write_text(textwrap.dedent('''
        def fail(api_token='x'):
            raise ValueError(f'upstream refused token {api_token}')
    '''))
    for extra in ((), ('--debug',)):
        p = saf(tmp_path, *extra, 'config', '--app', 'tok_app:fail', '--app-arg', f'api_token={TOKEN}')
        assert p.returncode == 1 and 'upstream refused token ****' in p.stderr, p.stderr
        assert TOKEN not in p.stderr + p.stdout
    for bad in (f'API-TOKEN={TOKEN}', f'api token={TOKEN}', f'9password={TOKEN}'):
        p = saf(tmp_path, 'config', '--app', 'tok_app:fail', '--app-arg', bad)
        assert p.returncode == 2 and 'expected KEY=VALUE' in p.stderr, p.stderr
        assert TOKEN not in p.stderr + p.stdout


THREADED = '''
import sys
import threading
from scitrera_app_framework import init_framework

def setup():
    v = init_framework('threaded-app', stateful=False)
    stop = threading.Event()
    threading.Thread(target=stop.wait, name='app-poller').start()  # never stopped: the app forgot it
    return v

def exits():
    sys.exit('fatal: cannot reach the license server')

def goodbye():
    import atexit
    v = init_framework('goodbye-app', stateful=False)
    atexit.register(lambda: print('goodbye from atexit'))  # runs after saf printed its output
    return v
'''


@pytest.mark.parametrize('entry', ['-m', 'console'])
def test_saf_exits_although_the_app_left_a_thread_running(tmp_path: Path, entry: str) -> None:
    """A non-daemon thread the app never stops (not a plugin's: the shutdown phases do not know it): saf prints its
    output, names the thread on stderr and exits instead of waiting for ever."""
    (tmp_path / 'threaded_app.py').write_text(THREADED)
    cmd = ([sys.executable, '-m', 'scitrera_app_framework'] if entry == '-m' else
           [sys.executable, '-c', 'from scitrera_app_framework.cli import console_main; console_main()'])
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES)}
    p = subprocess.run([*cmd, 'config', '--app', 'threaded_app:setup', '--json'], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout), list) and "'app-poller'" in p.stderr, p.stderr


def test_an_app_exiting_with_a_message_shows_it(tmp_path: Path) -> None:
    (tmp_path / 'threaded_app.py').write_text(THREADED)
    p = saf(tmp_path, 'config', '--app', 'threaded_app:exits')
    assert p.returncode == 1
    assert p.stderr.strip().splitlines()[-1] == ('saf: error: the app exited (SystemExit): fatal: cannot reach the '
                                                  'license server'), p.stderr


def test_what_the_app_prints_at_exit_stays_off_stdout(tmp_path: Path) -> None:
    (tmp_path / 'threaded_app.py').write_text(THREADED)
    p = saf(tmp_path, 'config', '--app', 'threaded_app:goodbye', '--json')
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [] and 'goodbye from atexit' in p.stderr


@pytest.mark.parametrize('args', [
    ('config', '--app-args', 'API_TOKEN=tok-VALUE-9911'),  # a misspelt option: the words after it are echoed
    ('config', 'API_TOKEN=tok-VALUE-9911'),
    ('config', '--all', '--password=tok-VALUE-9911'),
    ('plugins', '--app', 'demo_app:setup', 'token: tok-VALUE-9911'),
])
def test_usage_errors_never_print_a_secret(tmp_path: Path, args: tuple[str, ...]) -> None:
    p = saf(tmp_path, *args)
    assert p.returncode == 2 and 'saf' in p.stderr and 'error' in p.stderr, p.stderr
    assert 'tok-VALUE-9911' not in p.stdout + p.stderr, p.stderr


def test_a_repeated_app_argument_is_a_usage_error_naming_the_key(tmp_path: Path) -> None:
    """``--app-arg region=a --app-arg region=b``: which one the setup gets would be a silent guess (argparse's
    last wins), so it is a usage error naming the key; the values are not printed (the key may be a secret)."""
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--app-arg', 'region=eu-west',
                 '--app-arg', 'shards=3', '--app-arg', 'region=us-east', '--explain', 'ARG_REGION')
    assert p.returncode == 2, p.stdout + p.stderr
    assert 'argument --app-arg: region is given more than once; give each key once' in p.stderr, p.stderr
    assert 'eu-west' not in p.stderr and 'us-east' not in p.stderr
    p = _hostile(tmp_path, 'config', '--app', 'hostile_app:setup', '--app-arg', 'api_token=tok-VALUE-9911',
                 '--app-arg', 'api_token=tok-VALUE-9911')
    assert p.returncode == 2 and 'argument --app-arg: api_token is given more than once' in p.stderr, p.stderr
    assert 'tok-VALUE-9911' not in p.stderr + p.stdout


HANGING = '''
import threading
import time

if __import__('os').environ.get('HANG_AT_IMPORT'):
    threading.Event().wait()

def setup():
    threading.Event().wait()

def slow():
    time.sleep(0.2)
'''


@pytest.mark.parametrize('where, doing', [
    ('', 'running its setup function hang_app:setup'),
    ('1', 'importing hang_app'),
])
def test_a_hanging_app_is_bounded_by_timeout(tmp_path: Path, where: str, doing: str) -> None:
    """``--app`` whose import or setup never returns: saf stops after ``--timeout`` seconds with exit code 124 and
    one line naming the app, what it was doing and where it waited."""
    (tmp_path / 'hang_app.py').write_text(HANGING)
    env = {'HANG_AT_IMPORT': where} if where else {}
    p = saf(tmp_path, 'config', '--app', 'hang_app:setup', '--timeout', '1', **env)
    assert p.returncode == 124, (p.returncode, p.stderr)
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("saf: error: --app 'hang_app:setup' did not finish within 1s: it was " + doing), last
    assert 'hang_app.py' in last and '--timeout' in last, last
    p = saf(tmp_path, 'config', '--app', 'hang_app:slow', '--timeout', '30')  # within the bound: a success
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize('value', ['-1', 'soon', 'nan', 'inf'])
def test_a_bad_timeout_is_a_usage_error(tmp_path: Path, value: str) -> None:
    p = saf(tmp_path, 'config', '--timeout', value)
    assert p.returncode == 2 and 'argument --timeout' in p.stderr and 'seconds' in p.stderr, p.stderr
