"""Command-line tools: options built from settings, strict parsing, ``run``'s exit codes, ``init_framework_cli``.

The parser is tested in process; everything that initializes the framework (logging, signals, exit) runs in a
child interpreter and its output and exit code are asserted.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Optional

import pytest

from scitrera_app_framework import Variables
from scitrera_app_framework.cmdline import (
    CommandLineError,
    add_settings_options,
    is_framework_variable,
    parse_strict,
    settings_parser,
)
from scitrera_app_framework.settings import Secret, Settings, field

SECRET = 'hunter2-SECRET'


class Db(Settings, prefix='DB'):
    host: str = field('localhost', help='database host')
    port: int = 5432


class Tool(Settings, prefix='WORDTOOL'):
    repeat: int = field(1, help='how many times (100% sure)')
    upper: bool = field(False, help='upper-case')
    ratio: float = 0.5
    sep: str = ' '
    api_token: Secret[str] = field(SECRET, help='the token')
    name: str = field(help='who')
    db: Db


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='wordtool')
    p.add_argument('--verbose', action='store_true')
    sub = p.add_subparsers(dest='command', required=True)
    sub.add_parser('count').add_argument('text')
    return p


def test_one_option_per_field_with_help_default_and_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    p = _parser()
    opts = add_settings_options(p, Tool)
    assert opts.flags == {'WORDTOOL_REPEAT': '--repeat', 'WORDTOOL_UPPER': '--upper', 'WORDTOOL_RATIO': '--ratio',
                          'WORDTOOL_SEP': '--sep', 'WORDTOOL_API_TOKEN': '--api-token', 'WORDTOOL_NAME': '--name',
                          'WORDTOOL_DB_HOST': '--db-host', 'WORDTOOL_DB_PORT': '--db-port'}
    with pytest.raises(SystemExit) as ei:
        p.parse_args(['--help'])
    assert ei.value.code == 0
    text = ' '.join(capsys.readouterr().out.split())  # (argparse wraps lines)
    assert '--repeat INT how many times (100% sure) (default: 1; env WORDTOOL_REPEAT)' in text
    assert '--upper, --no-upper upper-case (default: False; env WORDTOOL_UPPER)' in text
    assert '--ratio FLOAT (default: 0.5; env WORDTOOL_RATIO)' in text
    assert "--sep TEXT (default: ' '; env WORDTOOL_SEP)" in text
    assert '--api-token TEXT the token (secret; env WORDTOOL_API_TOKEN)' in text and SECRET not in text
    assert '--name TEXT who (required; env WORDTOOL_NAME)' in text
    assert '--db-host TEXT database host (default: localhost; env WORDTOOL_DB_HOST)' in text


def test_values_before_or_after_the_sub_command_and_the_app_fields_stay_apart() -> None:
    p = _parser()
    opts = add_settings_options(p, Tool)
    for argv in (['--repeat', '3', '--no-upper', 'count', 'hi'], ['count', 'hi', '--repeat=3', '--no-upper']):
        ns = parse_strict(p, argv)
        assert opts.values(ns) == {'WORDTOOL_REPEAT': 3, 'WORDTOOL_UPPER': False}
        assert vars(ns) == {'verbose': False, 'command': 'count', 'text': 'hi'}  # only the app's own fields
    ns = parse_strict(p, ['count', 'hi'])
    v = Variables()
    assert opts.apply(ns, v) == {}
    assert v.explain('WORDTOOL_REPEAT')['layer'] == 'not set' and 'command' not in v and 'text' not in v


def test_the_options_sit_at_the_command_line_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('WORDTOOL_REPEAT', '7')
    monkeypatch.setenv('WORDTOOL_NAME', 'env-name')
    p = _parser()
    opts = add_settings_options(p, Tool)
    v = Variables()
    opts.apply(parse_strict(p, ['--repeat', '2', '--db-port', '6543', 'count', 'x']), v)
    s = Tool.load(v)
    assert (s.repeat, s.db.port, s.name) == (2, 6543, 'env-name')  # the command line beats the environment
    info = v.explain('WORDTOOL_REPEAT')
    assert (info['layer'], info['origin'], info['value']) == ('cli', 'command line --repeat', 2)


def test_declared_variables_get_options_and_framework_ones_do_not() -> None:
    v = Variables()
    v.environ('HTTP_PORT', default=8080, type_fn=int, help='listen port')
    v.environ('VERBOSE_MODE', default=False, type_fn=bool, help='chatty')  # (a type named bool)
    v.environ('SAF_SHUTDOWN_TIMEOUT', default=None, help='framework')
    v.environ('LOGGING_LEVEL', default='INFO')
    p, opts = settings_parser('svc', v)
    assert opts.flags == {'HTTP_PORT': '--http-port', 'VERBOSE_MODE': '--verbose-mode'}
    ns = parse_strict(p, ['--http-port', '9000', '--verbose-mode'])
    assert opts.values(ns) == {'HTTP_PORT': 9000, 'VERBOSE_MODE': True}
    assert is_framework_variable('SAF_X') and is_framework_variable('logging_level')
    assert is_framework_variable('APP_NAME') and not is_framework_variable('HTTP_PORT')


def test_taken_options_fall_back_to_the_variable_name() -> None:
    class A(Settings, prefix='ALPHA'):
        port: int = 1
        verbose: bool = False

    class B(Settings, prefix='BETA'):
        port: int = 2

    p = _parser()  # has --verbose
    opts = add_settings_options(p, A, B)
    assert opts.flags == {'ALPHA_PORT': '--alpha-port', 'ALPHA_VERBOSE': '--alpha-verbose', 'BETA_PORT': '--beta-port'}
    p2 = argparse.ArgumentParser()
    p2.add_argument('--port')
    p2.add_argument('--gamma-port')

    class C(Settings, prefix='GAMMA'):
        port: int = 3

    with pytest.raises(CommandLineError, match=r"cannot add an option for GAMMA_PORT: the parser of '\S+' already "
                                               r"has --port and --gamma-port; rename"):
        add_settings_options(p2, C)
    with pytest.raises(TypeError, match='not a loaded object'):
        add_settings_options(argparse.ArgumentParser(), Db.load(Variables()))


@pytest.mark.parametrize('argv, expected', [
    (['count', 'x', '--frobnicate', '1'], 'wordtool: error: unrecognized arguments: --frobnicate; see wordtool --help'),
    (['count', 'x', 'y'], 'wordtool: error: unrecognized arguments: y; see wordtool --help'),
    (['--repaet', '2', 'count', 'x'], 'unrecognized arguments: --repaet (did you mean --repeat?)'),
    (['count', 'x', '--db-hots=h'], 'unrecognized arguments: --db-hots=h (did you mean --db-host?)'),
    (['count', 'x', '--verbose'], 'unrecognized arguments: --verbose (--verbose: not an option here; give it on the '
                                  'other side of the sub-command)'),
])
def test_an_unknown_option_is_one_line_with_a_did_you_mean(argv: list[str], expected: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    p = _parser()
    add_settings_options(p, Tool)
    with pytest.raises(SystemExit) as ei:
        parse_strict(p, argv)
    err = capsys.readouterr().err
    assert ei.value.code == 2 and len(err.splitlines()) == 1 and expected in err, err


def test_a_bad_int_is_argparse_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    p = _parser()
    add_settings_options(p, Tool)
    with pytest.raises(SystemExit) as ei:
        parse_strict(p, ['--repeat', 'lots', 'count', 'x'])
    assert ei.value.code == 2 and "argument --repeat: invalid int value: 'lots'" in capsys.readouterr().err


class Keys(Settings, prefix='KEYS'):
    api_token: Secret[str] = field('', help='the token')
    api_host: str = 'h'
    pin: Secret[int] = field(0, help='a secret number')


@pytest.mark.parametrize('argv', [
    ['--pin', SECRET],  # argparse: invalid int value: '...'
    [f'--pin={SECRET}'],
    [f'--api-tokn={SECRET}'],  # unrecognized, with a did-you-mean
    [f'--api={SECRET}'],  # argparse: ambiguous option: --api=... could match
    [f'--ap={SECRET}', 'count', 'x'],
    ['count', 'x', f'--api-tok={SECRET}x', '--pin', 'y'],
])
def test_usage_errors_never_print_a_secret_option_value(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    p = _parser()
    add_settings_options(p, Keys)
    with pytest.raises(SystemExit) as ei:
        parse_strict(p, argv)
    err = capsys.readouterr().err
    assert ei.value.code == 2 and 'error' in err and SECRET not in err, err


def _chain(e: Optional[BaseException]) -> list[BaseException]:
    """``e`` and every exception it chains (``__cause__`` and ``__context__``, suppressed or not)."""
    out: list[BaseException] = []
    while e is not None and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


@pytest.mark.parametrize('argv', [
    ['--pin', SECRET],  # invalid int value (its ValueError, chained, quotes the value)
    [f'--pin={SECRET}'],
    ['--api-token', SECRET, '--pin', 'x'],
    ['--pin', SECRET, '--api-token'],  # expected one argument (the value given before it is not quoted)
])
def test_an_argument_error_raised_to_the_caller_carries_no_secret(argv: list[str]) -> None:
    """``exit_on_error=False``: argparse raises ``ArgumentError`` to the caller instead of printing; the error, its
    arguments and every exception it chains hold no secret option's value."""
    import traceback

    p = argparse.ArgumentParser(prog='wordtool', exit_on_error=False)
    add_settings_options(p, Keys)
    with pytest.raises(argparse.ArgumentError) as info:
        parse_strict(p, argv)
    e = info.value
    assert e.argument_name in ('--pin', '--api-token'), e.argument_name
    for x in _chain(e):
        assert SECRET not in str(x) and SECRET not in repr(x.args) and SECRET not in repr(x), x
    assert SECRET not in ''.join(traceback.format_exception(type(e), e, e.__traceback__))


def test_an_argument_error_of_a_plain_option_keeps_its_text() -> None:
    p = argparse.ArgumentParser(prog='wordtool', exit_on_error=False)
    add_settings_options(p, Tool)
    with pytest.raises(argparse.ArgumentError, match=r"argument --repeat: invalid int value: 'lots'"):
        parse_strict(p, ['--repeat', 'lots'])


# --- run() and init_framework_cli, in child interpreters --------------------------------------------------------------

TOOL = '''
import argparse, asyncio, os, sys, time
from scitrera_app_framework import Plugin, register_plugin, Variables
from scitrera_app_framework.cmdline import run
from scitrera_app_framework.settings import Secret, Settings, field

class Tool(Settings, prefix='MYTOOL'):
    repeat: int = field(1, help='how many times')
    token: Secret[str] = field(help='the API token')

class Bad(Plugin):
    def extension_point_name(self, v):
        return 'bad'
    def initialize(self, v, logger):
        raise RuntimeError('cannot reach https://user:hunter2-SECRET@example.invalid/')

def main(args, v):
    s = Tool.load(v)
    if args.command == 'crash':
        raise ZeroDivisionError('a bug in the app')
    if args.command == 'wait':
        print('ready', flush=True)
        time.sleep(60)
    if args.command == 'code':
        return 3
    if args.command == 'where':
        print(os.getcwd())
    print('repeat', s.repeat, 'token', s.token, 'text' in vars(args))
    return None

async def amain(args, v):
    await asyncio.sleep(0)
    print('async', args.command)
    return 4

parser = argparse.ArgumentParser(prog='mytool')
parser.add_argument('command', choices=['show', 'crash', 'wait', 'code', 'where', 'async'])
v = Variables()
if os.environ.get('BAD_PLUGIN'):
    register_plugin(Bad, v)
run(amain if sys.argv[1:2] == ['async'] else main, 'mytool', parser=parser, settings=[Tool], v=v)
'''


def _tool(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / 'mytool.py'
    script.write_text(TOOL)
    full = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'MYTOOL_'))}
    full.update(env)
    return subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, env=full, capture_output=True,
                          text=True, timeout=60)


def test_run_a_quiet_success(tmp_path: Path) -> None:
    (tmp_path / 'scratch').mkdir()  # a stateful root in the working directory: no chdir, nothing created
    p = _tool(tmp_path, 'where', '--repeat', '2', MYTOOL_TOKEN=SECRET)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [str(tmp_path), 'repeat 2 token **** False'] and p.stderr == ''
    assert list((tmp_path / 'scratch').iterdir()) == []
    p = _tool(tmp_path, 'show', MYTOOL_TOKEN='t', LOGGING_LEVEL='INFO')  # INFO asked for: the start line shows
    assert p.returncode == 0 and 'starting app=mytool' in p.stderr


def test_run_exit_codes_from_main(tmp_path: Path) -> None:
    assert _tool(tmp_path, 'code', MYTOOL_TOKEN='t').returncode == 3
    p = _tool(tmp_path, 'async', MYTOOL_TOKEN='t')
    assert p.returncode == 4 and p.stdout == 'async async\n'


def test_a_settings_error_is_one_line_naming_every_place_exit_2(tmp_path: Path) -> None:
    p = _tool(tmp_path, 'show')
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines() == [
        'mytool: error: Tool: 1 configuration problem: MYTOOL_TOKEN (token): missing: required and has no default; '
        'set it in one of: the command line (--token); the environment variable MYTOOL_TOKEN; a local value '
        "(v.set('MYTOOL_TOKEN', ...)); a default (environ(..., default=...)) (expected Secret[str]) "
        '(--debug for the traceback)']
    p = _tool(tmp_path, 'show', MYTOOL_TOKEN='t', MYTOOL_REPEAT='lots')
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1
    assert "MYTOOL_REPEAT (repeat): invalid value 'lots' from the environment" in p.stderr


def test_a_plugin_error_is_one_line_exit_2_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    p = _tool(tmp_path, 'show', MYTOOL_TOKEN='t', BAD_PLUGIN='1')
    assert p.returncode == 2
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mytool: error: plugin '__main__.Bad' (extension point 'bad') "
                                                   'failed to initialize: RuntimeError: cannot reach https://user:'
                                                   '****@example.invalid/'), p.stderr
    assert SECRET not in p.stderr
    for how in (('--debug',), ()):
        p = _tool(tmp_path, 'show', *how, MYTOOL_TOKEN='t', BAD_PLUGIN='1', **({} if how else {'SAF_DEBUG': '1'}))
        assert p.returncode == 2 and 'Traceback (most recent call last)' in p.stderr and 'PluginInitError' in p.stderr


def test_any_other_error_exits_1_with_the_traceback(tmp_path: Path) -> None:
    p = _tool(tmp_path, 'crash', MYTOOL_TOKEN='t')
    assert p.returncode == 1
    assert 'Traceback (most recent call last)' in p.stderr and 'ZeroDivisionError: a bug in the app' in p.stderr


def test_usage_errors_exit_2_and_help_exits_0(tmp_path: Path) -> None:
    p = _tool(tmp_path, '--help')
    assert p.returncode == 0 and '--repeat INT' in p.stdout and 'env MYTOOL_TOKEN' in p.stdout and '--debug' in p.stdout
    p = _tool(tmp_path, 'show', '--repet', '2')
    assert p.returncode == 2 and p.stderr.splitlines() == [
        'mytool: error: unrecognized arguments: --repet (did you mean --repeat?); see mytool --help']


def _wait_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
    pytest.fail(f'{text!r} never printed; exit code {proc.wait(10)}')


@pytest.mark.parametrize('code', [
    None,  # run()
    'from scitrera_app_framework.core.core import init_framework_cli\nimport time\nv = init_framework_cli("t")\n'
    'print("ready", flush=True)\ntime.sleep(60)\n',  # the variant alone
])
def test_ctrl_c_exits_130_quietly(tmp_path: Path, code: Optional[str]) -> None:
    script = tmp_path / 'mytool.py'
    script.write_text(TOOL if code is None else code)
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
    env.update(MYTOOL_TOKEN='t', PYTHONUNBUFFERED='1')
    # the child starts with SIGINT at its default whatever this process inherited (CI runs a leg with it ignored,
    # and an ignored SIGINT is respected by the framework, as in a shell's background job)
    proc = subprocess.Popen([sys.executable, str(script), 'wait'], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_line(proc, 'ready')
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 130
        assert proc.stderr is not None
        assert proc.stderr.read() == ''
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def test_init_framework_cli_defaults_in_a_child(tmp_path: Path) -> None:
    (tmp_path / 'scratch').mkdir()
    code = textwrap.dedent('''
        import logging, os
        from scitrera_app_framework import get_logger
        from scitrera_app_framework.core.core import init_framework_cli
        from scitrera_app_framework.core.core import get_stateful_path
        v = init_framework_cli('quiet')
        get_logger(v).info('an info line')
        get_logger(v).warning('a warning line')
        print(os.getcwd(), get_stateful_path(v), logging.getLevelName(logging.getLogger().level))
    ''')
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'STATEFUL_'))}
    p = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [str(tmp_path), 'None', 'WARNING']
    assert 'a warning line' in p.stderr and 'an info line' not in p.stderr and 'starting app' not in p.stderr
    env['SAF_SETUP_STATEFUL'] = 'true'  # asked for: made, and still no chdir
    p = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.split()[0] == str(tmp_path)
    assert os.path.normpath(p.stdout.split()[1]) == str(tmp_path / 'scratch' / 'quiet')
