"""Configuration sources with real files: precedence, flattening, env-style keys, reload, secrets directories
(the Kubernetes layout), the command-line layer, provenance, declared variables."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scitrera_app_framework import Variables
from scitrera_app_framework.api.variables import RequiredVariableError
from scitrera_app_framework.core.util import (
    add_env_file_source,
    add_file_source,
    add_secrets_dir_source,
    describe_variables,
    variables_markdown,
)
from scitrera_app_framework.util.config_files import ConfigFileError
from scitrera_app_framework.util.secrets import reset_secret_patterns


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith(('SAF_T_', 'DB_', 'APP_', 'CACHE_')):
            monkeypatch.delenv(k)
    yield
    reset_secret_patterns()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / 'app.yaml').write_text('db:\n  host: yaml-host\n  port: 5432\n  replicas: [a, b]\nlevel: INFO\n')
    (tmp_path / 'app.json').write_text('{"db": {"host": "json-host", "user": "u"}, "flag": true}')
    (tmp_path / 'app.toml').write_text('[db]\nhost = "toml-host"\nname = "main"\n[cache]\nttl = 30\n')
    (tmp_path / 'app.env').write_text('DB_HOST=env-host\nPORT=8080\n')
    return {k: tmp_path / f'app.{k}' for k in ('yaml', 'json', 'toml', 'env')}


def test_each_format_flattened_and_matched_like_the_environment(files: dict[str, Path]) -> None:
    v = Variables()
    add_file_source(files['yaml'], v)
    assert v.get('DB_HOST') == 'yaml-host' and v.get('db_host') == 'yaml-host'
    assert v.get('db_port') == 5432 and v.get('DB_REPLICAS') == ['a', 'b'] and v.get('level') == 'INFO'
    v = Variables()
    add_file_source(files['json'], v)
    assert v.get('db_user') == 'u' and v.get('FLAG') is True
    v = Variables()
    add_file_source(files['toml'], v)
    assert v.get('db_name') == 'main' and v.get('cache_ttl') == 30
    v = Variables()
    add_env_file_source(files['env'], v)
    assert v.get('port') == '8080' and v.get('PORT') == '8080'


def test_precedence_cli_env_local_files_in_order_defaults(files: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    add_file_source(files['yaml'], v)
    add_file_source(files['toml'], v)
    v.set_default_value('DB_HOST', 'default-host')
    v.set_default_value('DB_SCHEMA', 'default-schema')
    assert v.get('DB_HOST') == 'yaml-host'  # the first file added wins over later ones
    assert v.get('DB_NAME') == 'main' and v.get('DB_SCHEMA') == 'default-schema'
    v.set('DB_HOST', 'local-host')
    assert v.get('DB_HOST') == 'local-host'
    monkeypatch.setenv('DB_HOST', 'env-host')
    assert v.get('DB_HOST') == 'env-host'
    v.add_cli_source(['positional', '--db-host=cli-host', '--verbose', '--level', 'DEBUG'])
    assert v.get('DB_HOST') == 'cli-host' and v.get('db_host') == 'cli-host'
    assert v.get('VERBOSE') == 'true' and v.get('level') == 'DEBUG'
    assert v.db_host == 'cli-host'


def test_cli_from_an_argparse_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--logging-level')
    parser.add_argument('--workers', type=int)
    ns = parser.parse_args(['--logging-level', 'DEBUG'])
    monkeypatch.setenv('LOGGING_LEVEL', 'WARNING')
    monkeypatch.setenv('WORKERS', '3')
    v = Variables().add_cli_source(ns)
    assert v.get('LOGGING_LEVEL') == 'DEBUG'
    assert v.get('WORKERS') == '3'  # None in the namespace: not given, the environment answers
    with pytest.raises(TypeError, match='Namespace'):
        v.add_cli_source('--not-a-list')


def test_optional_and_missing_files(tmp_path: Path) -> None:
    v = Variables()
    with pytest.raises(FileNotFoundError, match='missing.yaml'):
        add_file_source(tmp_path / 'missing.yaml', v)
    src = add_file_source(tmp_path / 'later.yaml', v, optional=True)
    assert v.get('x') is None
    (tmp_path / 'later.yaml').write_text('x: 1\n')
    assert v.reload() == {'X'} and v.get('x') == 1
    assert len(src) == 1
    with pytest.raises(ValueError, match='unknown configuration file type'):
        add_file_source(tmp_path / 'app.ini', v)


@pytest.mark.parametrize('name, text, line', [
    ('bad.yaml', 'a: 1\nb: [1, 2\nc: 3\n', 3),
    ('bad.json', '{\n  "a": 1,\n  "b": \n}', 4),
    ('bad.toml', 'a = 1\nb = = 2\n', 2),
    ('bad.env', 'A=1\nnot a binding\n', 2),
    ('list.yaml', '- a\n- b\n', 1),
])
def test_malformed_files_name_file_and_line(tmp_path: Path, name: str, text: str, line: int) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigFileError) as ei:
        add_file_source(tmp_path / name, Variables())
    assert ei.value.line == line and str(tmp_path / name) in str(ei.value)


def test_reload_callbacks_and_a_file_that_became_malformed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = tmp_path / 'app.yaml'
    p.write_text('a: 1\nb: 2\n')
    v = Variables()
    add_file_source(p, v)
    seen: list[set[str]] = []
    v.on_reload(seen.append)
    v.environ('A', type_fn=int)
    assert v.reload() == set() and seen == []
    p.write_text('a: 10\nc: 3\n')
    assert v.reload() == {'A', 'B', 'C'} and seen == [{'A', 'B', 'C'}]
    assert v.get('a') == 10 and v.environ('A', type_fn=int) == 10 and v.get('b') is None
    p.write_text('a: [broken\n')
    assert v.reload() == set()
    assert v.get('a') == 10  # the last good values stay
    assert any('reload of' in r.getMessage() and 'app.yaml' in r.getMessage() for r in caplog.records)


def _k8s_secret_volume(root: Path, values: dict[str, str], stamp: str) -> None:
    """Lay out a directory the way the kubelet mounts a secret: files are links into ..data, a link to a
    timestamped directory, swapped atomically on update."""
    d = root / f'..{stamp}'
    d.mkdir()
    for k, val in values.items():
        (d / k).write_text(val + '\n')
    tmp = root / '..data_tmp'
    tmp.symlink_to(d.name)
    os.replace(tmp, root / '..data')
    for k in values:
        if not (root / k).is_symlink():
            (root / k).symlink_to(f'..data/{k}')


def test_secrets_directory_in_the_kubernetes_layout(tmp_path: Path) -> None:
    root = tmp_path / 'secrets'
    root.mkdir()
    _k8s_secret_volume(root, {'db_password': 's3cret-one', 'API_TOKEN': 'tok'}, '2026_11_29_01')
    v = Variables()
    add_secrets_dir_source(root, v)
    assert v.get('DB_PASSWORD') == 's3cret-one' and v.get('api_token') == 'tok'  # newline stripped
    info = v.explain('db_password')
    assert info['layer'] == 'secrets' and info['origin'].endswith('db_password') and info['value'] == '****'
    _k8s_secret_volume(root, {'db_password': 's3cret-two', 'API_TOKEN': 'tok'}, '2026_11_29_02')
    assert v.reload() == {'db_password'} and v.get('db_password') == 's3cret-two'
    assert add_secrets_dir_source(tmp_path / 'none', Variables(), optional=True).keys() == []


def test_a_missing_secrets_directory_is_an_error_unless_optional(tmp_path: Path) -> None:
    from scitrera_app_framework.core.util import SecretsDirError
    from scitrera_app_framework.exceptions import SAFError
    with pytest.raises(SecretsDirError, match=r"'.*none' does not exist \(a secret volume that did not mount\?\)"
                                              r".*optional=True") as ei:
        add_secrets_dir_source(tmp_path / 'none', Variables())
    assert isinstance(ei.value, SAFError) and isinstance(ei.value, FileNotFoundError)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(SecretsDirError, match='is not a directory'):
        add_secrets_dir_source(tmp_path / 'file', Variables())
    v = Variables()
    src = add_secrets_dir_source(tmp_path / 'later', v, optional=True)  # appears later: reload() sees it
    (tmp_path / 'later').mkdir()
    (tmp_path / 'later' / 'db_password').write_text('pw\n')
    assert src.keys() == [] and v.reload() == {'db_password'} and v.get('DB_PASSWORD') == 'pw'


def test_saf_secrets_dir_must_exist_unless_marked_optional(tmp_path: Path) -> None:
    from scitrera_app_framework.core.util import SecretsDirError, add_config_files_from
    v = Variables(sources=[{'SAF_SECRETS_DIR': str(tmp_path / 'gone')}])
    with pytest.raises(SecretsDirError, match='gone'):
        add_config_files_from(v)
    v = Variables(sources=[{'SAF_SECRETS_DIR': f'{tmp_path / "gone"}?'}])
    add_config_files_from(v)
    assert [type(s).__name__ for s in v.sources][-1] == 'SecretsDirSource' and v.sources[-1].keys() == []


def test_explain_every_layer(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    v = Variables()
    add_file_source(files['yaml'], v)
    v.environ('DB_PORT', default=1, type_fn=int, help='database port')
    v.environ('MISSING', help='nothing sets it')
    v.set('LOCAL_ONE', 'x')
    v.set_default_value('ONLY_DEFAULT', 'd')
    monkeypatch.setenv('SAF_T_FROM_ENV', 'e')
    v.add_cli_source(['--from-cli=c'])
    e = v.explain('DB_PORT')
    assert (e['layer'], e['origin'], e['value'], e['type'], e['default'], e['help']) == \
        ('file', f'{files["yaml"]}:3', 5432, 'int', 1, 'database port')
    assert v.explain('MISSING')['layer'] == 'not set'
    assert v.explain('LOCAL_ONE')['layer'] == 'local'
    assert v.explain('ONLY_DEFAULT')['layer'] == 'default'
    assert (v.explain('saf_t_from_env')['layer'], v.explain('saf_t_from_env')['origin']) == \
        ('environment', 'SAF_T_FROM_ENV')
    assert (v.explain('from_cli')['layer'], v.explain('from_cli')['origin']) == ('cli', 'command line --from-cli')
    v.set('BAD_INT', 'x')
    v.set_type_fn('BAD_INT', int)
    assert 'cannot convert' in v.explain('BAD_INT')['error']
    names = [r['key'] for r in v.explain_all()]
    assert names == sorted(names) and 'DB_PORT' in names


def test_declared_variables_required_and_reference(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    v = Variables()
    add_file_source(tmp_path / 'none.yaml', v, optional=True)
    with pytest.raises(RequiredVariableError) as ei:
        v.environ('SAF_T_DSN', help='where the data lives', required=True)
    msg = str(ei.value)
    assert "'SAF_T_DSN' is required" in msg and 'environment variable SAF_T_DSN' in msg and 'none.yaml' in msg
    assert isinstance(ei.value, ValueError)
    monkeypatch.setenv('SAF_T_DSN', 'pg://u:pw@h/db')
    assert v.environ('SAF_T_DSN', help='where the data lives', required=True) == 'pg://u:pw@h/db'
    v.environ('SAF_T_WORKERS', default=4, type_fn=int, help='worker | threads')
    v.environ('SAF_T_SIGNING', default='dev-key', secret=True, help='signs tokens')
    rows = {r['name']: r for r in describe_variables(v)}
    assert rows['SAF_T_WORKERS'] == {'name': 'SAF_T_WORKERS', 'env': 'SAF_T_WORKERS', 'type': 'int', 'default': 4,
                                     'secret': False, 'required': False, 'help': 'worker | threads'}
    assert rows['SAF_T_SIGNING']['default'] == '****' and rows['SAF_T_SIGNING']['secret'] is True
    assert rows['SAF_T_DSN']['required'] is True
    md = variables_markdown(describe_variables(v))
    assert md.startswith('| variable | type |') and '`SAF_T_WORKERS` | int | `4` |' in md
    assert 'worker \\| threads' in md and 'dev-key' not in md
    assert v.explain('SAF_T_SIGNING')['value'] == '****'


def test_init_framework_reads_config_files_secrets_dir_and_cli(tmp_path: Path) -> None:
    (tmp_path / 'base.yaml').write_text('logging:\n  level: WARNING\nservice:\n  name: from-yaml\n')
    (tmp_path / 'secrets').mkdir()
    (tmp_path / 'secrets' / 'service_token').write_text('hunter2-SECRET\n')
    code = textwrap.dedent("""
        import sys
        from scitrera_app_framework import init_framework, get_logger
        v = init_framework('svc', cli_args=['--logging-level=ERROR'])
        print(v.get('SERVICE_NAME'), v.get('logging_level'), v.explain('LOGGING_LEVEL')['layer'])
        print(v.get('service_token') == 'hunter2-SECRET', v.explain('service_token')['value'])
        get_logger(v).warning('hidden at ERROR')
    """)
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
    env.update(SAF_CONFIG_FILES=f'{tmp_path / "base.yaml"}, {tmp_path / "absent.toml"}?',
               SAF_SECRETS_DIR=str(tmp_path / 'secrets'), SAF_SETUP_STATEFUL='false')
    p = subprocess.run([sys.executable, '-c', code], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ['from-yaml ERROR cli', 'True ****']
    assert 'hidden at ERROR' not in p.stderr and 'hunter2' not in p.stdout + p.stderr
    env['SAF_CONFIG_FILES'] = str(tmp_path / 'absent.toml')
    p = subprocess.run([sys.executable, '-c', code], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and 'absent.toml' in p.stderr


@pytest.mark.needs_watchfiles
def test_watch_reloads_on_change_and_calls_back(tmp_path: Path) -> None:
    import threading

    p = tmp_path / 'live.yaml'
    p.write_text('level: INFO\n')
    v = Variables()
    changed = threading.Event()
    seen: list[set[str]] = []
    v.on_reload(lambda keys: (seen.append(keys), changed.set()))
    add_file_source(p, v, watch=True)
    assert v.get('level') == 'INFO'
    deadline = 20.0
    for _ in range(int(deadline / 0.5)):  # the watcher may start after our first write: write until it sees one
        p.write_text('level: DEBUG\n')
        if changed.wait(0.5):
            break
    assert changed.is_set(), 'the watcher did not report the change'
    assert v.get('level') == 'DEBUG' and {'LEVEL'} in seen
    from scitrera_app_framework.core.util import stop_watching
    stop_watching()
    assert not [t for t in threading.enumerate() if t.name.startswith('saf-watch:')]


def test_watch_without_watchfiles_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / 'a.yaml'
    p.write_text('a: 1\n')
    monkeypatch.setitem(sys.modules, 'watchfiles', None)
    with pytest.raises(ImportError, match='watchfiles'):
        add_file_source(p, Variables(), watch=True)


def test_a_binary_file_in_a_secrets_directory_is_skipped(tmp_path: Path) -> None:
    (tmp_path / 'API_TOKEN').write_text('tok\n')
    (tmp_path / 'keystore.p12').write_bytes(b'\x30\x82\xff\xfe binary')
    v = Variables()
    add_secrets_dir_source(tmp_path, v)
    assert v.get('api_token') == 'tok' and v.get('keystore.p12') is None


@pytest.mark.parametrize('args', [{'--port': 1}, b'--port=1', [b'--port=1'], '--port=1'])
def test_cli_source_rejects_what_it_cannot_read(args: object) -> None:
    with pytest.raises(TypeError, match='Namespace|must be a str'):
        Variables().add_cli_source(args)


def test_cli_source_edge_arguments() -> None:
    v = Variables().add_cli_source(['--=x', '---x=1', '--a=1', '--A=2', '--', '--after=1'])
    assert v.get('a') == '2' and v.explain('a')['origin'] == 'command line --A'
    assert v.get('after') is None and v.get('') is None and v.get('_x') is None
    v.add_cli_source(['--a=3'])
    assert v.get('A') == '3'
    ns = argparse.Namespace(**{'my-key': 'v', 'other': None})
    assert Variables().add_cli_source(ns).get('MY_KEY') == 'v'


@pytest.mark.parametrize('name, text', [('big.json', '{"n": 1' + '0' * 5000 + '}'), ('big.yaml', 'n: 1' + '0' * 5000),
                                        ('big.toml', 'n = 1' + '0' * 5000)])
def test_huge_integers_name_the_file(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(ConfigFileError, match=name):
        add_file_source(tmp_path / name, Variables())
