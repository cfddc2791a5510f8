"""Manifest loading and validation: YAML/JSON/dict sources, the schema, and errors naming file, line and key."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from scitrera_app_framework.slaunch.errors import ManifestError, ManifestFetchError
from scitrera_app_framework.slaunch.manifest import Manifest, load_manifest, python_satisfies

GOOD_YAML = textwrap.dedent('''\
    slaunch: 1
    keep_versions: 3
    environments:
      main:
        python: ">=3.9, <4"
        requirements: [requests>=2, ./wheels/local-1.0-py3-none-any.whl]
        pip_args: [--no-index, --find-links, ./wheels, --find-links=./more]
      other: {}
    libs:
      shared:
        version: "1.2"
      pinned:
        source: ./wheels/pinned-{version}.whl
        version: "0.1"
        environments: [other]
    apps:
      myapp:
        version: "1.10"
        environment: main
        source: ./dist/myapp-{version}-py3-none-any.whl
        entry: myapp.cli:main
        args: [--verbose]
        env: {MODE: prod, EMPTY: ""}
        x-owner: team-a
      plain:
        version: "2"
        environment: other
        entry: plain
    x-notes: ignored
    ''')


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path


def _error(tmp_path: Path, text: str, name: str = 'bad.yaml') -> ManifestError:
    path = _write(tmp_path, name, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    return info.value


def test_good_yaml_manifest(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, 'm.yaml', GOOD_YAML))
    assert m.origin == str(tmp_path / 'm.yaml')
    assert m.keep_versions == 3
    main = m.environments['main']
    assert main.kind == 'venv' and main.python == '>=3.9, <4'
    assert main.requirements == ('requests>=2', str(tmp_path / 'wheels' / 'local-1.0-py3-none-any.whl'))
    assert main.pip_args == ('--no-index', '--find-links', str(tmp_path / 'wheels'),
                             f'--find-links={tmp_path / "more"}')
    assert m.libs['shared'].source == 'shared==1.2'
    assert m.libs['shared'].environments == ('main', 'other')
    assert m.libs['pinned'].source == str(tmp_path / 'wheels' / 'pinned-0.1.whl')
    assert m.environment_packages('main') == main.requirements + ('shared==1.2',)
    assert m.environment_packages('other') == (str(tmp_path / 'wheels' / 'pinned-0.1.whl'), 'shared==1.2') \
        or m.environment_packages('other') == ('shared==1.2', str(tmp_path / 'wheels' / 'pinned-0.1.whl'))
    app = m.apps['myapp']
    assert app.version == '1.10'
    assert app.source == str(tmp_path / 'dist' / 'myapp-1.10-py3-none-any.whl')
    assert app.entry == 'myapp.cli:main' and app.args == ('--verbose',)
    assert app.env == {'MODE': 'prod', 'EMPTY': ''}
    assert app.install_deps is False and app.keep_versions is None
    assert m.app_keep_versions('myapp') == 3
    plain = m.apps['plain']
    assert plain.source == 'plain==2' and plain.environment == 'other'


def test_json_and_dict_manifests_match_yaml(tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(GOOD_YAML)
    from_json = load_manifest(_write(tmp_path, 'm.json', json.dumps(data, indent=2)))
    from_yaml = load_manifest(_write(tmp_path, 'm.yaml', GOOD_YAML))
    from_dict = load_manifest(data, base=tmp_path)
    for other in (from_json, from_dict):
        assert other.environments == from_yaml.environments
        assert other.apps == from_yaml.apps
        assert other.libs == from_yaml.libs
    assert from_dict.origin == '<dict>'
    assert load_manifest(from_yaml) is from_yaml


def test_format_sniffed_without_suffix_and_file_url(tmp_path: Path) -> None:
    data = {'environments': {'e': {}}, 'apps': {'a': {'version': '1', 'entry': 'a'}}}
    m = load_manifest(_write(tmp_path, 'manifest', json.dumps(data)))
    assert m.apps['a'].environment == 'e'  # the only environment is the default
    url = (tmp_path / 'manifest').as_uri()
    assert load_manifest(url).apps == m.apps


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, 'environments:\n  main: {}\napps:\n  x: [unclosed\n  y: 1\n')
    assert err.source == str(tmp_path / 'bad.yaml')
    assert err.line is not None and err.line >= 4
    assert 'invalid YAML' in str(err) and f'bad.yaml:{err.line}' in str(err)


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    err = _error(tmp_path, '{\n  "environments": {"main": {}}\n  "apps": {}\n}\n', name='bad.json')
    assert (err.line, err.column) == (3, 3)
    assert str(err).startswith(f'{tmp_path / "bad.json"}:3:3: invalid JSON')


def test_missing_required_key_names_key_path_and_line(tmp_path: Path) -> None:
    err = _error(tmp_path, textwrap.dedent('''\
        environments:
          main: {}
        apps:
          myapp:
            version: "1.0"
            environment: main
        '''))
    assert err.key_path == 'apps.myapp.entry'
    assert err.line == 4  # the line of apps.myapp, where the key belongs
    assert "add entry: 'module' or 'module:function'" in str(err)
    assert str(err).startswith(f'{tmp_path / "bad.yaml"}:4: apps.myapp.entry: required key is missing')


def test_missing_top_level_keys(tmp_path: Path) -> None:
    assert _error(tmp_path, 'environments: {main: {}}\n').key_path == 'apps'
    assert 'empty' in str(_error(tmp_path, '# nothing\n'))
    assert 'top level' in str(_error(tmp_path, '- a\n- b\n'))
    err = _error(tmp_path, 'environments: {}\napps: {}\n')
    assert err.key_path == 'environments' and 'no environments' in str(err)


@pytest.mark.parametrize(('app_body', 'key_path', 'needle'), [
    ('version: "1"\n    entry: a\n    args: --verbose', 'apps.a.args', 'expected a list of arguments'),
    ('version: "1"\n    entry: 42', 'apps.a.entry', "expected 'module' or 'module:function', got 42 (integer)"),
    ('version: "1"\n    entry: "a.b:"', 'apps.a.entry', 'invalid entry point'),
    ('version: "1"\n    entry: "1mod"', 'apps.a.entry', 'invalid entry point'),
    ('version: 1.10\n    entry: a', 'apps.a.version', 'quote it: "1.10"'),
    ('version: "1"\n    entry: a\n    install_deps: "yes"', 'apps.a.install_deps', 'expected true or false'),
    ('version: "1"\n    entry: a\n    keep_versions: 0', 'apps.a.keep_versions', 'expected an integer >= 1'),
    ('version: "1"\n    entry: a\n    env: {PORT: 8080}', 'apps.a.env.PORT', 'quote it: "8080"'),
    ('version: "1"\n    entry: a\n    env: {DEBUG: on}', 'apps.a.env.DEBUG', 'booleans'),
    ('version: "1"\n    entry: a\n    env: {"BAD-NAME": x}', 'apps.a.env.BAD-NAME', 'invalid environment variable'),
    ('version: "1"\n    entry: a\n    entrypoint: a', 'apps.a.entrypoint', "did you mean 'entry'?"),
    ('version: "1"\n    entry: a\n    pip_args: [--target, /tmp/x]', 'apps.a.pip_args[0]', '--target is not allowed'),
    ('version: "1"\n    entry: a\n    source: "-r reqs.txt"', 'apps.a.source', 'looks like a pip option'),
])
def test_wrong_types_and_values(tmp_path: Path, app_body: str, key_path: str, needle: str) -> None:
    err = _error(tmp_path, f'environments:\n  main: {{}}\napps:\n  a:\n    {app_body}\n')
    assert err.key_path == key_path, str(err)
    assert needle in str(err)
    assert err.line is not None and err.line >= 4


def test_unknown_environment_referenced_by_app(tmp_path: Path) -> None:
    err = _error(tmp_path, textwrap.dedent('''\
        environments:
          main: {}
          cpu: {}
        apps:
          myapp:
            version: "1.0"
            environment: gpu
            entry: myapp
        '''))
    assert err.key_path == 'apps.myapp.environment' and err.line == 7
    assert "unknown environment 'gpu'; defined environments: cpu, main" in str(err)


def test_environment_required_when_several_and_lib_env_reference(tmp_path: Path) -> None:
    err = _error(tmp_path, 'environments: {a: {}, b: {}}\napps:\n  x: {version: "1", entry: x}\n')
    assert err.key_path == 'apps.x.environment'
    err = _error(tmp_path, 'environments: {a: {}}\nlibs:\n  l: {environments: [a, zz]}\napps: {}\n')
    assert err.key_path == 'libs.l.environments[1]' and "unknown environment 'zz'" in str(err)


def test_environment_settings_validation(tmp_path: Path) -> None:
    def env_err(body: str) -> ManifestError:
        return _error(tmp_path, f'environments:\n  main:\n    {body}\napps: {{}}\n')

    assert 'unknown kind' in str(env_err('kind: docker'))
    assert env_err('python: ">=3.x"').key_path == 'environments.main.python'
    assert 'needs kind: conda' in str(env_err('conda: [numpy]'))
    assert 'looks like a pip option' in str(env_err('requirements: ["-r reqs.txt"]'))
    assert '--user is not allowed' in str(env_err('pip_args: [--user]'))
    assert env_err('requirements: [1, 2]').key_path == 'environments.main.requirements[0]'


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    err = _error(tmp_path, 'environments: {main: {}}\napps:\n  a: {version: "1", entry: a}\n  a: {version: "2"}\n')
    assert err.line == 4 and 'first defined on line 3' in str(err)
    err = _error(tmp_path, '{"environments": {"main": {}},\n "apps": {},\n "apps": {}}\n', name='dup.json')
    assert err.line == 3 and "duplicate key 'apps'" in str(err)


def test_json_schema_errors_carry_lines(tmp_path: Path) -> None:
    text = json.dumps({'environments': {'main': {}}, 'apps': {'a': {'version': '1', 'entry': 5}}}, indent=2)
    err = _error(tmp_path, text, name='m.json')
    assert err.key_path == 'apps.a.entry'
    assert err.line == text.splitlines().index('      "entry": 5') + 1


def test_unsafe_yaml_tags_are_rejected(tmp_path: Path) -> None:
    err = _error(tmp_path, "environments: !!python/object/apply:os.system ['echo pwned']\napps: {}\n")
    assert 'invalid YAML' in str(err) and err.line == 1


def test_unsupported_format_version(tmp_path: Path) -> None:
    err = _error(tmp_path, 'slaunch: 2\nenvironments: {main: {}}\napps: {}\n')
    assert err.key_path == 'slaunch' and 'understands format 1' in str(err)


@pytest.mark.parametrize('name', ['../evil', '/abs/path', 'a/b', '..', '.hidden', 'CON', 'x' * 101, 'sp ace'])
@pytest.mark.parametrize('where', ['app', 'env', 'version', 'lib'])
def test_names_that_escape_or_are_not_portable(tmp_path: Path, name: str, where: str) -> None:
    q = json.dumps(name)
    texts = {
        'app': f'environments: {{main: {{}}}}\napps:\n  {q}: {{version: "1", entry: a}}\n',
        'env': f'environments:\n  {q}: {{}}\napps: {{}}\n',
        'version': f'environments: {{main: {{}}}}\napps:\n  a: {{version: {q}, entry: a}}\n',
        'lib': f'environments: {{main: {{}}}}\nlibs:\n  {q}: {{}}\napps: {{}}\n',
    }
    err = _error(tmp_path, texts[where])
    assert 'invalid' in str(err) and 'letters, digits' in str(err)
    assert err.line is not None


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(ManifestFetchError, match='manifest file not found'):
        load_manifest(tmp_path / 'missing.yaml')
    with pytest.raises(ManifestFetchError, match='is a directory'):
        load_manifest(tmp_path)
    (tmp_path / 'latin1.yaml').write_bytes(b'environments: {}\n# caf\xe9\n')
    with pytest.raises(ManifestError, match='not valid UTF-8') as info:
        load_manifest(tmp_path / 'latin1.yaml')
    assert info.value.line == 2


def test_manifest_is_immutable_value(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, 'm.yaml', GOOD_YAML))
    assert isinstance(m, Manifest)
    with pytest.raises(AttributeError):
        m.keep_versions = 5  # type: ignore[misc]


@pytest.mark.parametrize(('version', 'spec', 'ok'), [
    ((3, 11, 7), '>=3.9', True), ((3, 8, 10), '>=3.9', False), ((3, 11, 7), '3.11', True),
    ((3, 12, 0), '3.11', False), ((3, 11, 7), '==3.11.*', True), ((3, 11, 7), '==3.11', False),
    ((3, 11, 0), '==3.11', True), ((3, 11, 7), '>=3.9,<3.12', True), ((3, 12, 1), '>=3.9, <3.12', False),
    ((3, 11, 7), '!=3.11.*', False), ((3, 10, 2), '~=3.10', True), ((4, 0, 0), '~=3.10', False),
    ((3, 11, 7), '>3.11', True), ((3, 11, 0), '>3.11', False), ((3, 9, 0), '<=3.9', True),
])
def test_python_requirement(version: tuple, spec: str, ok: bool) -> None:
    assert python_satisfies(version, spec) is ok


def test_relative_refs_resolve_against_cwd_for_dicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    m = load_manifest({'environments': {'e': {'requirements': ['./w.whl', 'pkg']}},
                       'apps': {'a': {'version': '1', 'entry': 'a', 'source': '../{name}.whl'}}})
    assert m.environments['e'].requirements == (os.path.join(str(tmp_path), 'w.whl'), 'pkg')
    assert m.apps['a'].source == os.path.join(str(tmp_path.parent), 'a.whl')


def test_x_keys_ignored_in_settings_but_never_as_names(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, 'm.yaml', 'x-top: 1\nenvironments:\n  x-env: {x-note: a}\napps:\n'
                                                 '  x-tool: {version: "1", entry: t, x-owner: me}\n'))
    assert list(m.environments) == ['x-env'] and list(m.apps) == ['x-tool']


# ------------------------------------------------------------------------------------------- parsing bounds


def test_alias_bomb_is_rejected_quickly_and_names_the_key(tmp_path: Path) -> None:
    import time

    levels = ['a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]']
    for prev, name in zip('abcdefgh', 'bcdefghi'):
        levels.append(f'{name}: &{name} [' + ','.join([f'*{prev}'] * 9) + ']')
    text = 'environments: {main: {}}\napps: {}\nx-notes:\n' + ''.join(f'  {line}\n' for line in levels)
    started = time.perf_counter()
    err = _error(tmp_path, text)
    assert time.perf_counter() - started < 0.5
    assert err.line == 3 and err.key_path == 'x-notes' and 'alias bomb' in str(err)


def test_small_aliases_are_fine(tmp_path: Path) -> None:
    m = load_manifest(_write(tmp_path, 'm.yaml', 'x-base: &base {version: "1", entry: a}\nenvironments: {main: {}}\n'
                                                 'apps:\n  a: *base\n  b: {<<: *base, entry: b}\n'))
    assert m.apps['a'].entry == 'a' and m.apps['b'].entry == 'b'


@pytest.mark.parametrize(('text', 'needle', 'line'), [
    ('a: &a [*a]\nenvironments: {}\napps: {}\n', 'recursive alias', 1),
    ('environments: {main: {}}\napps: {}\nx: [' + ', '.join(['&v 1'] + ['*v'] * 1200) + ']\n',
     'more than 1000 YAML aliases', 3),
    ('environments: {main: {}}\napps: {}\nx: ' + '[' * 70 + ']' * 70 + '\n', 'nested more than 64 levels', 3),
    ('environments: {main: {}}\napps: {}\nx:\n' + ''.join('  ' * i + f'k{i}:\n' for i in range(1, 80)),
     'nested more than 64 levels', 66),
])
def test_hostile_yaml_is_bounded(tmp_path: Path, text: str, needle: str, line: int) -> None:
    err = _error(tmp_path, text)
    assert needle in str(err) and err.line == line


def test_deep_json_is_bounded(tmp_path: Path) -> None:
    err = _error(tmp_path, '{"environments": {}, "apps": {}, "x": ' + '[' * 50000 + ']' * 50000 + '}', name='d.json')
    assert 'nested more than 64 levels deep' in str(err)
    err = _error(tmp_path, '{"environments": {}, "apps": {}, "x": ' + '[' * 70 + ']' * 70 + '}', name='e.json')
    assert 'nested more than 64 levels deep' in str(err)


def test_url_credentials_are_masked_in_errors() -> None:
    with pytest.raises(ManifestFetchError) as info:
        load_manifest('http://deploy:hunter2@127.0.0.1:9/manifest.yaml')
    assert 'hunter2' not in str(info.value) and 'deploy:****@127.0.0.1' in str(info.value)
