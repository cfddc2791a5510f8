"""Known secret values are masked wherever the framework prints (issue 19, items 7 and 8): secrets-directory keys
that appear after start-up, values of variables declared secret quoted inside messages, in ``saf``'s error line,
the health report and (``SAF_LOG_REDACT``) log messages, arguments, extras and tracebacks."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from scitrera_app_framework import Variables
from scitrera_app_framework.core.log_format import JsonLineFormatter, PlainFormatter, log_context
from scitrera_app_framework.core.util import add_file_source, add_secrets_dir_source
from scitrera_app_framework.util.secrets import mask_text, reset_secret_patterns

SECRET = 'hunter2-SECRET'
LATE = 'late-arrival-S3CR3T'
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_', 'UPSTREAM', 'GREETING')


@pytest.fixture(autouse=True)
def _clean() -> Any:
    reset_secret_patterns()
    yield
    reset_secret_patterns()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    env.update(extra)
    return env


# --- 7: keys that appear in a secrets directory after start-up -----------------------------------------------
def test_secrets_dir_key_added_after_start_is_masked(tmp_path: Path) -> None:
    d = tmp_path / 'secrets'
    d.mkdir()
    (d / 'upstream').write_text('first-value-1\n')
    v = Variables()
    add_secrets_dir_source(d, v)
    (d / 'greeting').write_text(LATE + '\n')  # a mounted secret gains a key whose name is not secret-looking
    assert v.reload() == {'greeting'}
    assert v.get('GREETING') == LATE
    info = v.explain('greeting')
    assert info['value'] == '****' and info['raw'] == '****' and info['secret'] is True and info['layer'] == 'secrets'
    rows = {r['key']: r for r in v.explain_all()}
    assert rows['greeting']['value'] == '****' and rows['upstream']['value'] == '****'
    assert LATE not in repr(v.explain_all())


def test_secrets_dir_key_added_after_start_masked_by_saf_config(tmp_path: Path) -> None:
    d = tmp_path / 'secrets'
    d.mkdir()
    (d / 'upstream').write_text('first-value-1\n')
    (tmp_path / 'late_app.py').write_text(textwrap.dedent(f'''
        from pathlib import Path
        from scitrera_app_framework import init_framework

        def setup():
            Path({str(d / 'greeting')!r}).unlink(missing_ok=True)  # (left by the previous command)
            v = init_framework('late-app', stateful=False, shutdown_hooks=False)
            Path({str(d / 'greeting')!r}).write_text({LATE!r} + '\\n')
            assert v.reload() == {{'greeting'}}
            return v
    '''))
    for args in (('config',), ('config', '--json'), ('config', '--explain', 'greeting')):
        p = subprocess.run([sys.executable, '-m', 'scitrera_app_framework', *args, '--app', 'late_app:setup'],
                           cwd=tmp_path, env=_env(SAF_SECRETS_DIR=str(d)), capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        assert 'greeting' in p.stdout and LATE not in p.stdout + p.stderr, p.stdout


# --- 8: known secret values in texts the framework prints ----------------------------------------------------
def test_registry_masks_literal_values_of_a_minimum_length() -> None:
    from scitrera_app_framework.util.secrets import (
        MIN_SECRET_VALUE_LENGTH,
        add_secret_values,
        mask_secret_values,
        secret_values_pattern,
    )

    assert secret_values_pattern() is None and mask_secret_values('nothing known') == 'nothing known'
    add_secret_values(['s3cr3t-token-value', 'short', 'x' * MIN_SECRET_VALUE_LENGTH, 123456789, None, True])
    assert mask_text('failed with s3cr3t-token-value (retry)') == 'failed with **** (retry)'
    assert mask_text('short stays') == 'short stays'  # below the minimum length: ordinary words survive
    assert mask_text('id 123456789 and ' + 'x' * MIN_SECRET_VALUE_LENGTH) == 'id **** and ****'
    add_secret_values(['s3cr3t-token-value-longer'])  # the longest known value is masked whole
    assert mask_text('a s3cr3t-token-value-longer b') == 'a **** b'
    from scitrera_app_framework.util.secrets import MAX_SECRET_VALUE_LENGTH

    huge = 'B' * (MAX_SECRET_VALUE_LENGTH + 1)  # a certificate bundle: not searched for (the pattern stays small)
    add_secret_values([huge, '  padded-value  \n'])
    assert mask_text(huge[:20]) == huge[:20] and mask_text('x padded-value y') == 'x **** y'


def test_declared_secret_value_masked_in_errors_and_logs(tmp_path: Path) -> None:
    v = Variables()
    (tmp_path / 'app.yaml').write_text(f'upstream_key: {SECRET}\nplain: value\n')
    add_file_source(tmp_path / 'app.yaml', v)
    v.environ('UPSTREAM_KEY', secret=True)  # a name the policy does not know, declared secret
    e = ValueError(f'upstream refused {SECRET!r}')
    assert SECRET not in mask_text(str(e))
    records: dict[str, str] = {}
    for name, fmt in (('json', JsonLineFormatter({'app': 'x'})), ('plain', PlainFormatter())):
        buf = io.StringIO()
        h = logging.StreamHandler(buf)
        h.setFormatter(fmt)
        lg = logging.getLogger(f'saf-test-values-{name}')
        lg.handlers[:] = [h]
        lg.propagate = False
        lg.warning('connecting with %s', SECRET)
        lg.warning(f'inline {SECRET}', extra={'detail': f'key={SECRET}', 'nested': {'a': [SECRET]}})
        lg.warning('one extra', extra={'single': f'is {SECRET}'})  # (the JSON formatter's direct path)
        with log_context(peer=SECRET):
            lg.warning('in a context')
        try:
            raise e
        except ValueError:
            lg.exception('failed')
        records[name] = buf.getvalue()
    assert SECRET not in records['json'] and SECRET not in records['plain'], records
    lines = [json.loads(ln) for ln in records['json'].splitlines()]
    assert lines[0]['message'] == 'connecting with ****'
    assert lines[1]['detail'] == 'key=****' and lines[1]['nested'] == {'a': ['****']}
    assert lines[2]['single'] == 'is ****' and lines[3]['peer'] == '****'
    assert "upstream refused '****'" in lines[4]['exc_info']
    assert 'connecting with ****' in records['plain'] and "upstream refused '****'" in records['plain']


def test_redaction_off_prints_values() -> None:
    from scitrera_app_framework.util.secrets import add_secret_values

    add_secret_values([SECRET])
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.setFormatter(JsonLineFormatter({}, redact=False))
    lg = logging.getLogger('saf-test-values-off')
    lg.handlers[:] = [h]
    lg.propagate = False
    lg.warning('value %s', SECRET)
    assert SECRET in buf.getvalue()


def test_saf_error_line_and_health_mask_values(tmp_path: Path) -> None:
    (tmp_path / 'leaky_app.py').write_text(textwrap.dedent('''
        from scitrera_app_framework import Plugin, init_framework, register_plugin, get_extension

        class Up(Plugin):
            eager = False
            def extension_point_name(self, v):
                return 'upstream'
            def initialize(self, v, logger):
                raise RuntimeError('upstream rejected ' + v.get('UPSTREAM_CODE'))

        def setup():
            v = init_framework('leaky', stateful=False, shutdown_hooks=False)
            v.environ('UPSTREAM_CODE', secret=True)
            register_plugin(Up, v)
            try:
                get_extension('upstream', v)
            except Exception:
                pass
            return v

        def setup_fails():
            v = init_framework('leaky', stateful=False, shutdown_hooks=False)
            code = v.environ('UPSTREAM_CODE', secret=True)
            raise ValueError(f'the upstream said no to {code}')
    '''))
    env = _env(UPSTREAM_CODE=SECRET)
    p = subprocess.run([sys.executable, '-m', 'scitrera_app_framework', 'config', '--app', 'leaky_app:setup_fails'],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and 'the upstream said no to ****' in p.stderr, p.stderr
    assert SECRET not in p.stdout + p.stderr
    p = subprocess.run([sys.executable, '-m', 'scitrera_app_framework', 'health', '--app', 'leaky_app:setup'],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert 'upstream rejected ****' in p.stdout, p.stdout + p.stderr
    assert SECRET not in p.stdout + p.stderr


def test_secret_named_environment_values_are_known_after_init(tmp_path: Path) -> None:
    code = textwrap.dedent('''
        import logging
        from scitrera_app_framework import init_framework
        v = init_framework('envsecret', stateful=False, shutdown_hooks=False)
        logging.getLogger('x').warning('the token is %s', 'tok-' + 'value-12345')
    ''')
    p = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=_env(MY_API_TOKEN='tok-value-12345',
                                                                          LOGGING_FORMAT='json'),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert 'the token is ****' in p.stderr and 'tok-value-12345' not in p.stderr, p.stderr


def test_the_shells_working_directory_is_not_a_known_secret_value(tmp_path: Path) -> None:
    """``PWD`` matches the secret-name rule (``DB_PWD``) but the shell sets it to the working directory: it is not
    registered as a secret value, so paths under it (tracebacks, log lines) print as they are; ``DB_PWD``'s
    value still is masked."""
    code = textwrap.dedent('''
        import os
        from scitrera_app_framework import init_framework
        from scitrera_app_framework.util.secrets import mask_text
        v = init_framework('pwdapp', stateful=False, shutdown_hooks=False)
        print(mask_text('File "' + os.environ['PWD'] + '/app.py", line 3; ' + os.environ['OLDPWD'] + '; db-pw-9876'))
    ''')
    work = str(tmp_path / 'a-working-directory')
    p = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=_env(PWD=work, OLDPWD=work + '-before',
                                                                          DB_PWD='db-pw-9876'),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f'File "{work}/app.py", line 3; {work}-before; ****', p.stdout


@pytest.mark.parametrize('value', ['pa"ss\\w0rd', 'line-one\nline-two', 'tab\tsep99', 'caf\u00e9-s3cret',
                                   "it's-\"both\""])
def test_known_value_masked_when_escaped_or_repr_d(value: str) -> None:
    """A secret holding a backslash, quote, control or non-ASCII character is printed escaped by ``repr`` (a
    traceback's ``ValueError(f'{pw!r}')``, a logged list or dict) and by JSON (a log line, ``json.dumps`` in an
    error): every such spelling is masked too, and the other Unicode normal form of the value."""
    import unicodedata

    from scitrera_app_framework.util.secrets import add_secret_value

    add_secret_value(value)
    spellings = [value, repr(value), json.dumps(value), json.dumps(value, ensure_ascii=False), str([value]),
                 str({'k': value}), repr(value.encode()), unicodedata.normalize('NFD', value),
                 unicodedata.normalize('NFC', value)]
    for shown in spellings:
        masked = mask_text(f'refused {shown} (x)')
        assert '****' in masked and masked != f'refused {shown} (x)', (shown, masked)
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.setFormatter(JsonLineFormatter({'app': 'x'}))
    lg = logging.getLogger('saf-test-escaped-values')
    lg.handlers[:] = [h]
    lg.propagate = False
    try:
        try:
            raise KeyError(value)
        except KeyError as inner:
            raise RuntimeError(f'wrapped {value!r}') from inner
    except RuntimeError:
        lg.exception('failed with %r', [value])
    out = buf.getvalue()
    assert json.dumps(value)[1:-1] not in out and repr(value)[1:-1] not in out, out


def test_overlapping_known_values_are_both_masked_whole() -> None:
    """Two secrets overlapping in a text (the end of one is the start of the other), one inside another, and
    values holding regular-expression metacharacters: every character of every occurrence is masked."""
    from scitrera_app_framework.util.secrets import add_secret_values

    add_secret_values(['secret-AB', 'B-other-1', 'abc.*+?def', 'inner-secret', 'outer-inner-secret-x', 'aaaaaa'])
    assert mask_text('x secret-AB-other-1 y') == 'x **** y'
    assert mask_text('x B-other-1secret-AB y') == 'x ******** y'  # (adjacent, not overlapping: two masks)
    assert mask_text('x abc.*+?def y abcXdef') == 'x **** y abcXdef'
    assert mask_text('outer-inner-secret-x and inner-secret') == '**** and ****'
    assert mask_text('aaaaaaaa') == '****'


def test_a_secret_holding_a_list_or_mapping_registers_every_value_in_it() -> None:
    """``v.set('API_TOKENS', [...])`` or a declared secret whose value is a mapping: each string inside is a known
    secret value (the container itself was ignored)."""
    v = Variables()
    v.set('API_TOKENS', ['tok-AAAAAA1', ('tok-BBBBBB2',)])
    v.set('UPSTREAM', {'primary': 'hunter2-PRIMARY', 'spare': ['hunter2-SPARE']})
    v.environ('UPSTREAM', secret=True)
    assert mask_text('tok-AAAAAA1 tok-BBBBBB2 hunter2-PRIMARY hunter2-SPARE') == '**** **** **** ****'
