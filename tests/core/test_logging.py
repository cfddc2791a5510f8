"""Logging set up by init_framework: one root handler, level, formats, JSON fields, context, clean exit.

Logging configuration is process-global, so every check runs in a child interpreter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME', 'REGION', 'TIER', 'ZONE')

# what a child prints on its last stdout line (as JSON) about the root logger
_ROOT_STATE = """
import json as _json, logging as _logging
def print_root_state():
    root = _logging.getLogger()
    print(_json.dumps({'saf_handlers': sum(1 for h in root.handlers if getattr(h, 'saf_handler', False)),
                       'handlers': len(root.handlers), 'level': _logging.getLevelName(root.level)}))
"""


def _run(code: str, cwd: Path, timeout: float = 20, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
    full_env.update(env)
    return subprocess.run([sys.executable, '-c', _ROOT_STATE + textwrap.dedent(code)], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f'rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}'
    return proc


def _last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _clean(stderr: str) -> None:
    for bad in ('Logging error', 'I/O operation on closed file', 'Traceback', 'Exception ignored'):
        assert bad not in stderr, f'{bad!r} in stderr:\n{stderr}'


# --- handler installed once, first line, default format -------------------------------------------------------
def test_handler_added_once_and_no_duplicate_lines(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import Variables, init_framework, get_logger
        v = init_framework('svc', region='eu')
        init_framework('svc', v=v, region='eu')          # same Variables again
        v2 = init_framework('svc', v=Variables(), region='eu')  # another Variables in the same process
        get_logger(v2).info('only-once-marker')
        print_root_state()
    """, tmp_path))
    state = _last_json(proc)
    assert state['saf_handlers'] == 1
    assert state['handlers'] == 1
    assert proc.stderr.count('only-once-marker') == 1
    _clean(proc.stderr)


def test_first_line_names_app_image_version_and_default_format(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import logging
        from scitrera_app_framework import init_framework, get_logger
        v = init_framework('svc', region='eu')
        def my_func():
            get_logger(v).info('hello-default')
        my_func()
    """, tmp_path))
    lines = proc.stderr.splitlines()
    assert 'app=svc-eu' in lines[0] and 'image=svc' in lines[0] and 'version=DEV' in lines[0], lines[0]
    hello = [ln for ln in lines if 'hello-default' in ln]
    assert len(hello) == 1
    # time, level, thread, logger name, function, message
    assert re.match(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO +\[MainThread\] svc-eu\.my_func: hello-default$',
                    hello[0]), hello[0]


def test_first_line_uses_build_image_and_version(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework
        init_framework('svc')
    """, tmp_path, BUILD_IMAGE_NAME='registry/img', BUILD_CONTAINER_VERSION='1.2.3'))
    first = proc.stderr.splitlines()[0]
    assert 'app=svc' in first and 'image=registry/img' in first and 'version=1.2.3' in first, first


# --- level ----------------------------------------------------------------------------------------------------
def test_level_from_log_level_keyword(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        log = get_logger(init_framework('svc', log_level='WARNING'))
        log.info('info-hidden'); log.warning('warning-shown')
        print_root_state()
    """, tmp_path))
    assert _last_json(proc)['level'] == 'WARNING'
    assert 'info-hidden' not in proc.stderr
    assert 'warning-shown' in proc.stderr


def test_logging_level_env_overrides_keyword(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        log = get_logger(init_framework('svc', log_level='WARNING'))
        log.debug('debug-shown')
        print_root_state()
    """, tmp_path, LOGGING_LEVEL='debug'))
    assert _last_json(proc)['level'] == 'DEBUG'
    assert 'debug-shown' in proc.stderr


def test_invalid_logging_level_warns_and_falls_back(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        log = get_logger(init_framework('svc', log_level='WARNING'))
        log.info('info-hidden'); log.error('still-logging')
        print_root_state()
    """, tmp_path, LOGGING_LEVEL='LOUD'))
    assert _last_json(proc)['level'] == 'WARNING'  # the keyword's level
    warnings = [ln for ln in proc.stderr.splitlines() if 'LOUD' in ln]
    assert len(warnings) == 1 and 'WARNING' in warnings[0] and 'LOGGING_LEVEL' in warnings[0], proc.stderr
    assert 'info-hidden' not in proc.stderr
    assert 'still-logging' in proc.stderr
    _clean(proc.stderr)


def test_invalid_logging_level_and_keyword_fall_back_to_info(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework
        init_framework('svc', log_level='NOPE')
        print_root_state()
    """, tmp_path, LOGGING_LEVEL='LOUD'))
    assert _last_json(proc)['level'] == 'INFO'
    assert 'LOUD' in proc.stderr


# --- formats --------------------------------------------------------------------------------------------------
def test_json_format_one_object_per_line_with_static_fields(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import threading
        from scitrera_app_framework import init_framework, get_logger
        from scitrera_app_framework.core.log_format import log_context
        log = get_logger(init_framework('svc', unnamed_params=('zone',), region='eu', zone='z1'))
        log.info('hello-json')
        log.warning('multi\\nline')
        with log_context(tenant='t1', req=7):
            log.info('in-context')
        log.info('after-context')
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception('boom')
    """, tmp_path, LOGGING_FORMAT='json'))
    lines = proc.stderr.splitlines()
    records = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert all(isinstance(r, dict) for r in records)
    by_msg = {r['message']: r for r in records}
    first = records[0]
    assert 'svc-eu' in first['message'] and 'image=svc' in first['message'] and 'version=DEV' in first['message']
    hello = by_msg['hello-json']
    assert hello['app'] == 'svc-eu'
    assert hello['image'] == 'svc'
    assert hello['version'] == 'DEV'
    assert hello['region'] == 'eu'
    assert hello['zone'] == 'z1'  # unnamed params are static fields too
    assert hello['level'] == 'INFO'
    assert hello['logger'] == 'svc-eu'
    assert by_msg['multi\nline']['level'] == 'WARNING'
    ctx = by_msg['in-context']
    assert ctx['tenant'] == 't1' and ctx['req'] == 7
    assert 'saf_context' not in ctx
    assert 'tenant' not in by_msg['after-context']
    assert 'ZeroDivisionError' in by_msg['boom'].get('exc_info', '')


def test_json_fields_from_build_variables_and_env_params(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        get_logger(init_framework('svc', region='eu')).info('hello-json')
    """, tmp_path, LOGGING_FORMAT='JSON', BUILD_IMAGE_NAME='img', BUILD_CONTAINER_VERSION='2.0', REGION='us'))
    rec = [json.loads(ln) for ln in proc.stderr.splitlines() if 'hello-json' in ln][0]
    assert (rec['app'], rec['image'], rec['version'], rec['region']) == ('svc-us', 'img', '2.0', 'us')


def test_percent_format_and_date_format(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        get_logger(init_framework('svc')).info('hello-fmt')
    """, tmp_path, LOGGING_FORMAT='%(asctime)s|%(levelname)s|%(name)s|%(message)s', LOGGING_DATE_FORMAT='%Y/%m'))
    line = [ln for ln in proc.stderr.splitlines() if 'hello-fmt' in ln][0]
    assert re.fullmatch(r'\d{4}/\d\d\|INFO\|svc\|hello-fmt', line), line


def test_log_format_keyword(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        get_logger(init_framework('svc', log_format='KW %(levelname)s %(message)s')).info('hello-kw')
    """, tmp_path))
    assert 'KW INFO hello-kw' in proc.stderr.splitlines()


def test_json_date_format(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        get_logger(init_framework('svc')).info('hello-date')
    """, tmp_path, LOGGING_FORMAT='json', LOGGING_DATE_FORMAT='%Y'))
    rec = [json.loads(ln) for ln in proc.stderr.splitlines() if 'hello-date' in ln][0]
    assert re.fullmatch(r'\d{4}', rec['time']), rec


def test_log_context_plain_suffix(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        from scitrera_app_framework.core.log_format import log_context
        log = get_logger(init_framework('svc'))
        with log_context(tenant='t1'):
            with log_context(req=7):
                log.info('nested-ctx')
            log.info('outer-ctx')
        log.info('no-ctx')
    """, tmp_path, LOGGING_FORMAT='%(message)s'))
    lines = proc.stderr.splitlines()
    assert 'nested-ctx [tenant=t1 req=7]' in lines
    assert 'outer-ctx [tenant=t1]' in lines
    assert 'no-ctx' in lines


# --- leaving logging alone ------------------------------------------------------------------------------------
def test_fixed_logger_leaves_root_untouched(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import logging
        from scitrera_app_framework import Variables, init_framework, get_logger
        root = logging.getLogger()
        host = logging.StreamHandler(); host.setFormatter(logging.Formatter('HOST %(name)s %(message)s'))
        root.addHandler(host); root.setLevel(logging.ERROR)
        before = list(root.handlers)
        v = init_framework('svc', fixed_logger='mylog', log_format='json', log_level='DEBUG')
        assert get_logger(v).name == 'mylog', get_logger(v).name
        own = logging.getLogger('own')
        v2 = init_framework('svc2', v=Variables(), fixed_logger=own, log_level='DEBUG')
        assert get_logger(v2) is own
        assert root.handlers == before, root.handlers
        get_logger(v).error('through-host')
        print_root_state()
    """, tmp_path, LOGGING_FORMAT='json', LOGGING_LEVEL='DEBUG'))
    state = _last_json(proc)
    assert state == {'saf_handlers': 0, 'handlers': 1, 'level': 'ERROR'}
    assert 'HOST mylog through-host' in proc.stderr.splitlines()


def test_embedded_mode_leaves_host_logging_untouched(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import logging
        from scitrera_app_framework import init_framework_embedded, get_logger
        logging.basicConfig(level=logging.WARNING, format='HOST %(name)s %(message)s')
        root = logging.getLogger()
        before = list(root.handlers)
        fmt_before = before[0].formatter
        v = init_framework_embedded('svc')
        assert root.handlers == before and before[0].formatter is fmt_before
        log = get_logger(v)
        assert log.name == 'SAF', log.name
        log.warning('embedded-warning')
        print_root_state()
    """, tmp_path))
    assert _last_json(proc) == {'saf_handlers': 0, 'handlers': 1, 'level': 'WARNING'}
    assert 'HOST SAF embedded-warning' in proc.stderr.splitlines()


# --- logging at exit ------------------------------------------------------------------------------------------
def test_logging_from_a_shutdown_hook_at_exit_is_clean(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import logging
        from scitrera_app_framework import init_framework, get_logger, register_shutdown_function
        log = get_logger(init_framework('svc'))
        def late():
            log.info('hook-logged-at-exit')
            logging.getLogger('other').warning('other-logger-at-exit')
        register_shutdown_function(late)
    """, tmp_path, SAF_SHUTDOWN_HOOK_VIA_ATEXIT='true'))
    assert 'hook-logged-at-exit' in proc.stderr
    assert 'other-logger-at-exit' in proc.stderr
    _clean(proc.stderr)


def test_logging_after_stderr_is_closed_writes_nothing(tmp_path: Path) -> None:
    # an atexit function registered after init runs before the framework's hook and swaps sys.stderr for a
    # closed stream that reports (on fd 2) any write it receives
    proc = _ok(_run("""
        import atexit, logging, os, sys
        from scitrera_app_framework import init_framework, get_logger, register_shutdown_function
        log = get_logger(init_framework('svc'))
        def late():
            log.error('hook-after-close')
            os.write(1, b'hook-ran\\n')
        register_shutdown_function(late)
        class ClosedStream:
            closed = True
            def write(self, s):
                os.write(2, b'WRITE-TO-CLOSED-STREAM ' + s.encode())
                return len(s)
            def flush(self):
                pass
        def close_stderr():
            sys.stderr.flush()
            sys.stderr = ClosedStream()
        atexit.register(close_stderr)
    """, tmp_path))
    assert 'hook-ran' in proc.stdout
    assert 'WRITE-TO-CLOSED-STREAM' not in proc.stderr, proc.stderr
    _clean(proc.stderr)


# --- secrets never leak ---------------------------------------------------------------------------------------
_LEAK_CODE = """
    import logging
    from scitrera_app_framework import init_framework, get_logger
    from scitrera_app_framework.core.log_format import log_context
    v = init_framework('svc', db_password='static-pw-7f3a', unnamed_params=('db_password', 'dsn'),
                       dsn='postgres://app:static-url-pw-7f3a@db/x')
    log = get_logger(v)
    log.info('extras', extra={'api_token': 'extra-tok-7f3a', 'nested': {'client_secret': 'nested-7f3a'},
                              'url': 'https://bob:extra-url-pw-7f3a@host/p'})
    with log_context(session_token='ctx-auth-7f3a', upstream='redis://:ctx-url-pw-7f3a@cache:6379'):
        log.warning('in context')
    logging.getLogger('third.party').error('other logger', extra={'password': 'other-pw-7f3a'})
    print('done')
"""
_LEAKS = ('static-pw-7f3a', 'static-url-pw-7f3a', 'extra-tok-7f3a', 'nested-7f3a', 'extra-url-pw-7f3a',
          'ctx-auth-7f3a', 'ctx-url-pw-7f3a', 'other-pw-7f3a')


def test_secrets_never_reach_json_output(tmp_path: Path) -> None:
    proc = _ok(_run(_LEAK_CODE, tmp_path, LOGGING_FORMAT='json'))
    out = proc.stdout + proc.stderr
    for secret in _LEAKS:
        assert secret not in out, (secret, out)
    records = [json.loads(ln) for ln in proc.stderr.splitlines()]
    by_msg = {r['message']: r for r in records}
    assert by_msg['extras']['db_password'] == '****' and by_msg['extras']['api_token'] == '****'
    assert by_msg['extras']['url'] == 'https://bob:****@host/p'
    assert by_msg['in context']['session_token'] == '****'
    assert by_msg['in context']['upstream'] == 'redis://:****@cache:6379'
    assert by_msg['other logger']['password'] == '****'
    assert 'done' in proc.stdout
    _clean(proc.stderr)


def test_secrets_never_reach_plain_output(tmp_path: Path) -> None:
    proc = _ok(_run(_LEAK_CODE, tmp_path))
    out = proc.stdout + proc.stderr
    for secret in _LEAKS:
        assert secret not in out, (secret, out)
    assert 'in context [session_token=**** upstream=redis://:****@cache:6379]' in proc.stderr
    _clean(proc.stderr)


# --- framework fields, one line per record ---------------------------------------------------------------------
def test_json_record_cannot_claim_another_level_or_app(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import os
        from scitrera_app_framework import init_framework, get_logger
        from scitrera_app_framework.core.log_format import log_context
        log = get_logger(init_framework('svc', region='eu'))
        log.info('claim', extra={'level': 'CRITICAL', 'app': 'evil', 'region': 'us', 'time': 'never'})
        with log_context(logger='root', version='9'):
            log.info('ctx claim')
        log.info('%d', 'x')
        log.info('bad bytes %s', os.fsdecode(b'caf\\xe9'), extra={'huge': 2 ** 100})
    """, tmp_path, LOGGING_FORMAT='json'))
    lines = proc.stderr.split('\n')
    assert lines[-1] == ''
    records = [json.loads(ln) for ln in lines[:-1]]
    assert len(records) == 5
    claim = records[1]
    assert (claim['level'], claim['app'], claim['region']) == ('INFO', 'svc-eu', 'eu')
    assert (claim['extra_level'], claim['extra_app'], claim['extra_region'], claim['extra_time']) == \
        ('CRITICAL', 'evil', 'us', 'never')
    assert records[2]['logger'] == 'svc-eu' and records[2]['extra_logger'] == 'root'
    assert records[3]['message'] == '%d' and 'TypeError' in records[3]['log_error']
    assert records[4]['message'] == 'bad bytes caf\\udce9' and records[4]['huge'] == str(2 ** 100)
    _clean(proc.stderr)


# Python 3.9 says "a number is required", later versions "a real number is required"
_REAL = 'real ' if sys.version_info >= (3, 10) else ''


def test_unformattable_plain_message_is_one_line(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework, get_logger
        class Bad:
            def __str__(self):
                raise ValueError('nope')
        log = get_logger(init_framework('svc'))
        log.info('%d', 'x')
        log.info('value %s', Bad())
        log.info('after')
    """, tmp_path, LOGGING_FORMAT='%(levelname)s %(message)s'))
    assert proc.stderr.splitlines()[1:] == [
        "INFO %d [log error: message formatting failed: TypeError: %d format: a " + _REAL
        + "number is required, not str; args: (str)]",
        'INFO value %s [log error: message formatting failed: ValueError: nope; args: (Bad)]',
        'INFO after',
    ]
    _clean(proc.stderr)


# --- settings validated ----------------------------------------------------------------------------------------
def test_bad_logging_format_fails_init_with_a_clear_error(tmp_path: Path) -> None:
    for value in ('100%', '%(nosuchfield)s'):
        proc = _run("""
            from scitrera_app_framework import init_framework
            from scitrera_app_framework.core.logs import LoggingConfigError
            try:
                init_framework('svc')
            except LoggingConfigError as e:
                print('ERROR', e)
        """, tmp_path, LOGGING_FORMAT=value)
        assert f'ERROR LOGGING_FORMAT={value!r} is not a valid logging format string' in proc.stdout, proc


def test_bad_date_format_fails_init_with_a_clear_error(tmp_path: Path) -> None:
    proc = _run("""
        from scitrera_app_framework import init_framework
        try:
            init_framework('svc')
        except ValueError as e:
            print('ERROR', type(e).__name__, e)
    """, tmp_path, LOGGING_DATE_FORMAT='%Y\udcff')  # the bytes b'%Y\xff' in the child's environment
    assert 'ERROR LoggingConfigError LOGGING_DATE_FORMAT=' in proc.stdout, proc


def test_out_of_range_numeric_level_warns_and_falls_back(tmp_path: Path) -> None:
    proc = _ok(_run("""
        from scitrera_app_framework import init_framework
        init_framework('svc', log_level='WARNING')
        print_root_state()
    """, tmp_path, LOGGING_LEVEL='99999999999999999999'))
    assert _last_json(proc)['level'] == 'WARNING'
    assert '99999999999999999999' in proc.stderr and 'LOGGING_LEVEL' in proc.stderr
    _clean(proc.stderr)


# --- cheaper records -------------------------------------------------------------------------------------------
def test_record_switches_and_factory_follow_the_format_and_are_restored(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import json, logging
        from scitrera_app_framework.core.logs import configure_logging, remove_framework_handler
        from scitrera_app_framework.core.log_records import LeanLogRecord
        def state():
            return {'threads': logging.logThreads, 'processes': logging.logProcesses,
                    'mp': logging.logMultiprocessing, 'lean': logging.getLogRecordFactory() is LeanLogRecord}
        out = {'before': state()}
        configure_logging(logging.INFO, 'json', None, {})
        out['json'] = state()
        configure_logging(logging.INFO, '%(process)d %(processName)s %(message)s', None, {})
        out['process'] = state()
        configure_logging(logging.INFO, '%(message)s', None, {})
        out['message'] = state()
        configure_logging(logging.INFO, None, None, {}, lean_records=False)
        out['off'] = state()
        configure_logging(logging.INFO, None, None, {})
        remove_framework_handler()
        out['removed'] = state()
        print(json.dumps(out))
    """, tmp_path))
    s = _last_json(proc)
    assert s['before'] == s['off'] == s['removed'] == {'threads': True, 'processes': True, 'mp': True,
                                                       'lean': False}
    assert s['json'] == {'threads': True, 'processes': True, 'mp': False, 'lean': True}
    assert s['process'] == {'threads': True, 'processes': True, 'mp': True, 'lean': True}
    assert s['message'] == {'threads': True, 'processes': True, 'mp': False, 'lean': True}


def test_a_record_factory_installed_by_the_app_is_kept(tmp_path: Path) -> None:
    proc = _ok(_run("""
        import logging
        from scitrera_app_framework import init_framework, get_logger
        base = logging.getLogRecordFactory()
        def factory(*args, **kwargs):
            record = base(*args, **kwargs)
            record.trace_id = 'abc'
            return record
        logging.setLogRecordFactory(factory)
        get_logger(init_framework('svc')).info('traced')
        assert logging.getLogRecordFactory() is factory
    """, tmp_path, LOGGING_FORMAT='json'))
    rec = [json.loads(ln) for ln in proc.stderr.splitlines() if 'traced' in ln][0]
    assert rec['trace_id'] == 'abc'
