"""Configuration files under a hostile pass (issue 19, items 11-13 and 15-18): collisions after flattening and
duplicate keys, NaN and change detection, one YAML parse per load, tenant files read like ``add_file_source``,
YAML 1.1 booleans as keys, ``SAF_CONFIG_FILES`` with commas in paths, pickling a loaded ``Settings``."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
from pathlib import Path
from typing import Any, Optional

import pytest

from scitrera_app_framework import Variables
from scitrera_app_framework.core.util import add_config_files_from, add_file_source
from scitrera_app_framework.settings import Secret, Settings
from scitrera_app_framework.util.config_files import ConfigFileError, parse_json_text, parse_yaml_text
from scitrera_app_framework.util.config_sources import FileSource
from scitrera_app_framework.util.secrets import reset_secret_patterns


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Any:
    for k in list(os.environ):
        if k.startswith(('SAF_', 'DB_', 'APP_', 'PKL_')):
            monkeypatch.delenv(k)
    yield
    reset_secret_patterns()


# --- 11: collisions after flattening, duplicate keys ---------------------------------------------------------
@pytest.mark.parametrize('text, key, lines', [
    ('db:\n  host: a\ndb_host: b\n', 'DB_HOST', (2, 3)),
    ('db_host: b\nx: 1\ndb:\n  host: a\n', 'DB_HOST', (1, 4)),
    ('DB_HOST: b\ndb:\n  host: a\n', 'DB_HOST', (1, 3)),
    ('level: 1\nLEVEL: 2\n', 'LEVEL', (1, 2)),
])
def test_yaml_flattening_collision_names_file_both_lines_and_key(tmp_path: Path, text: str, key: str,
                                                                 lines: tuple[int, int]) -> None:
    f = tmp_path / 'app.yaml'
    f.write_text(text)
    with pytest.raises(ConfigFileError) as ei:
        add_file_source(f, Variables())
    msg = str(ei.value)
    assert str(f) in msg and key in msg
    assert f'lines {lines[0]} and {lines[1]}' in msg, msg


def test_yaml_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    f = tmp_path / 'dup.yaml'
    f.write_text('a: 1\ndb:\n  host: x\n  port: 1\n  host: y\n')
    with pytest.raises(ConfigFileError) as ei:
        add_file_source(f, Variables())
    msg = str(ei.value)
    assert str(f) in msg and "'host'" in msg and 'lines 3 and 5' in msg, msg
    with pytest.raises(ConfigFileError, match='lines 3 and 5'):
        parse_yaml_text(f.read_text(), str(f))


def test_yaml_merge_keys_may_override(tmp_path: Path) -> None:
    f = tmp_path / 'merge.yaml'
    f.write_text('base: &b\n  host: a\n  port: 1\ndb:\n  <<: *b\n  host: override\n')
    v = Variables()
    add_file_source(f, v)
    assert v.get('DB_HOST') == 'override' and v.get('DB_PORT') == 1


def test_json_duplicate_key_and_collision_name_lines(tmp_path: Path) -> None:
    f = tmp_path / 'dup.json'
    f.write_text('{\n  "a": 1,\n  "db": {"host": "x",\n         "host": "y"}\n}\n')
    with pytest.raises(ConfigFileError) as ei:
        add_file_source(f, Variables())
    msg = str(ei.value)
    assert str(f) in msg and "'host'" in msg and 'lines 3 and 4' in msg, msg
    with pytest.raises(ConfigFileError, match='duplicate key'):
        parse_json_text('{"a": 1, "a": 2}')
    f2 = tmp_path / 'coll.json'
    f2.write_text('{\n  "db": {\n    "host": "x"\n  },\n  "db_host": "y"\n}\n')
    with pytest.raises(ConfigFileError) as ei:
        add_file_source(f2, Variables())
    msg = str(ei.value)
    assert str(f2) in msg and 'DB_HOST' in msg and 'lines 3 and 5' in msg, msg


def test_toml_collision_names_lines(tmp_path: Path) -> None:
    f = tmp_path / 'coll.toml'
    f.write_text('db_host = "y"\n\n[db]\nhost = "x"\n')
    with pytest.raises(ConfigFileError) as ei:
        add_file_source(f, Variables())
    msg = str(ei.value)
    assert str(f) in msg and 'DB_HOST' in msg and 'lines 1 and 4' in msg, msg


def test_collision_in_a_reload_keeps_the_last_good_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / 'app.yaml'
    f.write_text('db:\n  host: a\n')
    v = Variables()
    add_file_source(f, v)
    f.write_text('db:\n  host: b\nDB_HOST: c\n')
    with caplog.at_level(logging.ERROR, logger='saf.config'):
        assert v.reload() == set()
    assert v.get('DB_HOST') == 'a'
    assert 'DB_HOST' in caplog.text and 'lines 2 and 3' in caplog.text


# --- 12: NaN -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('name, text', [
    ('a.yaml', 'x: .nan\nlst: [.nan, 1]\nm: {k: .nan}\n'),
    ('a.json', '{"x": NaN, "lst": [NaN, 1], "m": {"k": NaN, "j": 2}}'),
    ('a.toml', 'x = nan\nlst = [nan, 1.0]\n'),
])
def test_nan_is_not_a_change(tmp_path: Path, name: str, text: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    v = Variables()
    add_file_source(f, v)
    calls: list[set[str]] = []
    v.on_reload(calls.append)
    assert v.reload() == set()
    assert calls == []
    f.write_text(text.replace('1', '2'))
    assert v.reload() == {'LST'}


# --- 13: one YAML parse per load and per reload ---------------------------------------------------------------
def test_yaml_parsed_once_per_load_and_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml.reader

    f = tmp_path / 'app.yaml'
    f.write_text('db:\n  host: a\n  port: 1\nlevel: 2\n')
    count = [0]
    orig = yaml.reader.Reader.__init__

    def counting(self: Any, stream: Any) -> None:
        count[0] += 1
        orig(self, stream)

    monkeypatch.setattr(yaml.reader.Reader, '__init__', counting)
    src = FileSource(f)
    assert count[0] == 1, f'{count[0]} parses for one load'
    assert src.describe('db_port') == f'file {f}:3'
    f.write_text('db:\n  host: b\n  port: 1\nlevel: 2\n')
    count[0] = 0
    assert src.reload() == {'DB_HOST'}
    assert count[0] == 1, f'{count[0]} parses for one reload'


# --- 15: tenant files read like add_file_source --------------------------------------------------------------
def test_tenant_files_flattened_and_case_insensitive(tmp_path: Path) -> None:
    from scitrera_app_framework.ext_plugins.multi_tenant import DirectoryTenantProvider

    (tmp_path / 't1.yaml').write_text('db:\n  host: h1\nlevel: 3\n')
    (tmp_path / 't2.json').write_text('{"db": {"host": "h2"}, "Level": 4}')
    (tmp_path / 't3.toml').write_text('level = 5\n[db]\nhost = "h3"\n')
    (tmp_path / 't4.env').write_text('db_host=h4\n')
    p = DirectoryTenantProvider(Variables(), logging.getLogger('t'), directory=tmp_path)
    for tenant, host, level in (('t1', 'h1', 3), ('t2', 'h2', 4), ('t3', 'h3', 5), ('t4', 'h4', None)):
        tv = p.get_tenant_variables(tenant)
        assert tv.get('DB_HOST') == host and tv.get('db_host') == host, tenant
        assert tv.get('LEVEL') == level and tv.get('level') == level, tenant
    assert p.get_tenant_variables('t1').explain('db_host')['origin'] == f'{tmp_path / "t1.yaml"}:2'


def test_tenant_file_collision_is_an_error(tmp_path: Path) -> None:
    from scitrera_app_framework.ext_plugins.multi_tenant import DirectoryTenantProvider

    (tmp_path / 't1.yaml').write_text('db:\n  host: h1\ndb_host: h2\n')
    p = DirectoryTenantProvider(Variables(), logging.getLogger('t'), directory=tmp_path)
    with pytest.raises(ConfigFileError, match='lines 2 and 3'):
        p.get_tenant_variables('t1')


# --- 16: YAML 1.1 booleans as keys ---------------------------------------------------------------------------
def test_yaml_boolean_words_as_keys_stay_strings(tmp_path: Path) -> None:
    text = 'on: 1\noff: 2\nyes: 3\nno: 4\nTrue: 5\nnull: 6\nnested:\n  on: x\nitems:\n  - {on: y, off: z}\nv: on\n'
    data = parse_yaml_text(text)
    assert data['on'] == 1 and data['off'] == 2 and data['yes'] == 3 and data['no'] == 4 and data['True'] == 5
    assert data['null'] == 6 and data['nested'] == {'on': 'x'} and data['items'] == [{'on': 'y', 'off': 'z'}]
    assert data['v'] is True  # values keep YAML's meaning
    f = tmp_path / 'k.yaml'
    f.write_text(text)
    v = Variables()
    add_file_source(f, v)
    assert v.get('ON') == 1 and v.get('off') == 2 and v.get('NESTED_ON') == 'x' and v.get('TRUE') == 5
    assert v.explain('on')['origin'] == f'{f}:1'


# --- 17: SAF_CONFIG_FILES and commas in paths ----------------------------------------------------------------
def test_config_files_path_separator_allows_commas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / 'my,conf'
    d.mkdir()
    (d / 'app.yaml').write_text('level: 7\n')
    (tmp_path / 'b.toml').write_text('other = 8\n')
    monkeypatch.setenv('SAF_CONFIG_FILES', f'{d / "app.yaml"}{os.pathsep}{tmp_path / "b.toml"}'
                                           f'{os.pathsep}{tmp_path / "missing.json"}?')
    v = Variables()
    srcs = add_config_files_from(v)
    assert len(srcs) == 3 and v.get('LEVEL') == 7 and v.get('other') == 8


def test_config_files_error_names_the_fragment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / 'my,conf'
    d.mkdir()
    (d / 'app.yaml').write_text('level: 7\n')
    monkeypatch.setenv('SAF_CONFIG_FILES', str(d / 'app.yaml'))
    v = Variables()
    with pytest.raises(ValueError) as ei:
        add_config_files_from(v)
    msg = str(ei.value)
    assert 'SAF_CONFIG_FILES' in msg and repr(str(tmp_path / 'my')) in msg and 'entry 1' in msg, msg
    assert os.pathsep in msg and v.sources == ()  # nothing added from a value that is wrong


def test_config_files_and_secrets_dir_expand_the_home_directory(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``~/app.yaml`` in ``SAF_CONFIG_FILES`` (or ``SAF_SECRETS_DIR=~/secrets``) set where no shell expands it (a
    container's environment, a ``.env`` file): the home directory, as for the stateful root."""
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / 'app.yaml').write_text('level: 7\n')
    (tmp_path / 'secrets').mkdir()
    (tmp_path / 'secrets' / 'db_password').write_text('hunter2-HOME\n')
    monkeypatch.setenv('SAF_CONFIG_FILES', f'~/app.yaml{os.pathsep}~/missing.json?')
    monkeypatch.setenv('SAF_SECRETS_DIR', '~/secrets')
    v = Variables()
    srcs = add_config_files_from(v)
    assert srcs[0].path == str(tmp_path / 'app.yaml') and v.get('LEVEL') == 7
    assert v.get('DB_PASSWORD') == 'hunter2-HOME'


# --- 18: a loaded Settings object pickles ---------------------------------------------------------------------
class PklDb(Settings, prefix='DB'):
    host: str = 'localhost'
    port: int = 5432
    password: Secret[str]
    tags: list[str] = []
    timeout: Optional[float] = None


class PklApp(Settings, prefix='PKL'):
    debug: bool = False
    db: PklDb


def _child_reads(s: PklApp, q: Any) -> None:
    q.put((s.db.host, s.db.port, s.db.password.get(), s.db.tags, s.debug, repr(s.db.password), s.to_dict()))


def test_settings_pickle_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PKL_DB_PASSWORD', 'pickled-pw-1')
    monkeypatch.setenv('PKL_DB_TAGS', 'a,b')
    monkeypatch.setenv('PKL_DEBUG', 'true')
    s = PklApp.load(Variables())
    s2 = pickle.loads(pickle.dumps(s))
    assert s2 == s and s2.db.password.get() == 'pickled-pw-1' and s2.db.tags == ['a', 'b']
    assert s2.to_dict() == s.to_dict() and 'pickled-pw-1' not in repr(s2)
    ctx = multiprocessing.get_context('spawn')
    q = ctx.Queue()
    proc = ctx.Process(target=_child_reads, args=(s, q))
    proc.start()
    try:
        got = q.get(timeout=120)
    finally:
        proc.join(120)
    assert proc.exitcode == 0
    assert got[:5] == ('localhost', 5432, 'pickled-pw-1', ['a', 'b'], True)
    assert 'pickled-pw-1' not in got[5] and got[6] == s.to_dict()


@pytest.mark.parametrize('text, lines', [
    ('0x1: a\n1: b\n', 'lines 1 and 2'),  # two spellings of the int 1
    ('1: a\nx: 0\n1.0: b\n', 'lines 1 and 3'),  # 1 == 1.0: one dict key
    ('db:\n  010: a\n  8: b\n', 'lines 2 and 3'),  # YAML 1.1 octal
])
def test_yaml_keys_equal_once_constructed_are_duplicates(tmp_path: Path, text: str, lines: str) -> None:
    """Two keys written differently that YAML constructs to one key (``0x1`` and ``1``): one value would be lost
    silently; it is the duplicate-key error naming both lines."""
    f = tmp_path / 'num.yaml'
    f.write_text(text)
    with pytest.raises(ConfigFileError, match=f'duplicate key .*{lines}'):
        add_file_source(f, Variables())


def test_secret_named_keys_inside_lists_and_list_values_are_known_secret_values(tmp_path: Path) -> None:
    """``password`` inside a list of mappings and a secret-named key holding a list are keys with secret names
    read from a file: their values are masked in every text the framework prints, like top-level ones."""
    from scitrera_app_framework.util.secrets import mask_text

    f = tmp_path / 'app.yaml'
    f.write_text('upstreams:\n  - name: a\n    password: hunter2-LISTED\n  - {name: b, dsn: "pg://x/y-9Q"}\n'
                 'api_tokens: [tok-AAAAAA1, {v: tok-NESTED2}]\nhosts: [alpha-host-1]\n')
    add_file_source(f, Variables())
    masked = mask_text('failed: hunter2-LISTED tok-AAAAAA1 tok-NESTED2 pg://x/y-9Q alpha-host-1')
    assert masked == 'failed: **** **** **** **** alpha-host-1', masked
