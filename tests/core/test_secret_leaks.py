"""No secret value appears anywhere in a child process's output (stdout, stderr, uncaught tracebacks, DEBUG logs).

Each test runs a small program with a secret value ``hunter2-SECRET`` planted where a past version leaked it,
and searches the *whole* output for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SECRET = 'hunter2-SECRET'
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')


def run(code: str, cwd: Path, **env: str) -> tuple[int, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k != 'APP_NAME'}
    full.update(env)
    p = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], cwd=cwd, env=full, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def assert_clean(out: str) -> None:
    assert SECRET not in out, out
    assert SECRET.replace('-', '') not in out


@pytest.mark.parametrize('key, type_fn', [('DB_PASSWORD', 'int'), ('api-key', 'float'), ('X_API_KEY', 'int')])
def test_type_error_for_a_secret_key_uncaught_and_logged(tmp_path: Path, key: str, type_fn: str) -> None:
    rc, out = run(f"""
        import logging
        from scitrera_app_framework import init_framework
        v = init_framework('svc', log_level='DEBUG')
        try:
            v.environ({key!r}, type_fn={type_fn})
        except ValueError:
            logging.getLogger('app').exception('could not read the setting')
        v.environ({key!r}, type_fn={type_fn})  # uncaught: the interpreter prints the traceback
    """, tmp_path, **{key.upper(): SECRET})
    assert rc == 1
    assert 'Traceback' in out and 'VariableTypeError' in out and 'could not read the setting' in out
    assert_clean(out)


@pytest.mark.parametrize('key', ['DATABASE_URL', 'PYROSCOPE_SERVER'])
def test_type_error_for_a_url_with_a_password_in_a_plain_key(tmp_path: Path, key: str) -> None:
    rc, out = run(f"""
        from scitrera_app_framework import init_framework
        v = init_framework('svc')
        v.environ({key!r}, type_fn=int)
    """, tmp_path, **{key: f'postgres://user:{SECRET}@db:5432/app'})
    assert rc == 1 and 'postgres://user:****@db:5432/app' in out
    assert_clean(out)


_BAD_LINES = [
    pytest.param(f'DB_PASSWORD {SECRET}', id='no-equals'),
    pytest.param(f'API_TOKEN {SECRET}=x', id='space-in-key'),
    pytest.param(f'DB_PASSWORD="{SECRET}', id='unterminated-quote', marks=pytest.mark.needs_dotenv),
]


@pytest.mark.parametrize('line', _BAD_LINES)
def test_env_file_parse_error(tmp_path: Path, line: str) -> None:
    (tmp_path / '.env').write_text(f'HOST=x\n{line}\n')
    rc, out = run("""
        from scitrera_app_framework import init_framework, add_env_file_source
        v = init_framework('svc')
        add_env_file_source('.env', v)
    """, tmp_path)
    assert rc == 1 and '.env:2' in out and ('DB_PASSWORD' in out or 'API_TOKEN' in out or '****' in out), out
    assert_clean(out)


@pytest.mark.parametrize('line', _BAD_LINES)
def test_tenant_env_file_parse_error(tmp_path: Path, line: str) -> None:
    tenants = tmp_path / 'tenants'
    tenants.mkdir()
    (tenants / 't1.env').write_text(f"OK=1\n{line}\n")
    rc, out = run("""
        from scitrera_app_framework import init_framework
        from scitrera_app_framework.ext_plugins.multi_tenant import get_tenant_variables
        v = init_framework('svc', multitenant=True)
        get_tenant_variables('t1', v=v)
    """, tmp_path, SAF_MULTITENANT_DIR=str(tenants),
        SAF_MULTITENANT_PROVIDER='scitrera_app_framework.ext_plugins.multi_tenant.DirectoryTenantProvider')
    assert rc == 1 and 't1.env:2' in out
    assert_clean(out)


def test_framework_variables_at_debug(tmp_path: Path) -> None:
    rc, out = run("""
        from scitrera_app_framework import init_framework
        from scitrera_app_framework.core.core import log_framework_variables
        v = init_framework('svc', log_level='DEBUG')
        v.environ('DB_PASS'); v.environ('MYSQL_PWD'); v.environ('SESSION_COOKIE'); v.environ('DATABASE_URL')
        v.environ('LICENSE_BLOB')
        log_framework_variables(v)
        print(v.export_all_variables() and 'exported')
    """, tmp_path, DB_PASS=SECRET, MYSQL_PWD=SECRET, SESSION_COOKIE=SECRET,
        DATABASE_URL=f'mysql://u:{SECRET}@h/db', SAF_SECRET_KEYS='license', LICENSE_BLOB=SECRET)
    assert rc == 0 and 'framework variables' in out
    assert_clean(out)


def test_pyroscope_debug_lines_and_extension_value(tmp_path: Path) -> None:
    pytest.importorskip('pyroscope')
    rc, out = run("""
        from scitrera_app_framework import init_framework, get_extension
        v = init_framework('svc', log_level='DEBUG', pyroscope=True)
        print(repr(get_extension('pyroscope', v)))
    """, tmp_path, PYROSCOPE_ENABLED='true', PYROSCOPE_SERVER=f'http://u:{SECRET}@127.0.0.1:9',
        PYROSCOPE_TOKEN=SECRET, PYROSCOPE_TAG_API_KEY=SECRET, PYROSCOPE_TAG_REGION='eu',
        PYROSCOPE_SHUTDOWN_TIMEOUT='1')
    assert rc == 0, out
    assert "'region': 'eu'" in out and 'api_key' in out
    assert_clean(out)
