"""Tests for add_env_file_source / read_env_file (.env sources; quoted values through python-dotenv's parser)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from scitrera_app_framework.api import EnvPlacement, Variables
from scitrera_app_framework.core.util import add_env_file_source, read_env_file
from scitrera_app_framework.util.config_files import ConfigFileError


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ('SAF_T_ENVF_A', 'SAF_T_ENVF_B', 'SAF_T_ENVF_QUOTED', 'SAF_T_ENVF_REF', 'SAF_T_ENVF_LOCAL'):
        monkeypatch.delenv(name, raising=False)
    p = tmp_path / '.env'
    p.write_text(
        '# a comment\n'
        'SAF_T_ENVF_A=alpha\n'
        'export SAF_T_ENVF_B=beta\n'
        'SAF_T_ENVF_REF=${SAF_T_ENVF_A}-ref\n'
        'SAF_T_ENVF_LOCAL=from-file\n'
    )
    return p


def test_values_added_as_source(env_file: Path) -> None:
    v = Variables()
    values = add_env_file_source(env_file, v=v)
    assert values['SAF_T_ENVF_A'] == 'alpha'
    assert v.get('SAF_T_ENVF_A') == 'alpha'
    assert v.get('saf_t_envf_a') == 'alpha'  # keys match the way environment names do
    assert v.get('SAF_T_ENVF_B') == 'beta'
    assert v.get('SAF_T_ENVF_REF') == 'alpha-ref'
    assert len(v.sources) == 1
    assert 'SAF_T_ENVF_A' in v.keys()


def test_file_source_is_below_local_and_env(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    v.set('SAF_T_ENVF_LOCAL', 'local')
    v.set_default_value('SAF_T_ENVF_A', 'default')
    add_env_file_source(str(env_file), v=v)
    assert v.get('SAF_T_ENVF_LOCAL') == 'local'  # local beats the file
    assert v.get('SAF_T_ENVF_A') == 'alpha'  # the file beats defaults
    monkeypatch.setenv('SAF_T_ENVF_A', 'process-env')
    assert v.get('SAF_T_ENVF_A') == 'process-env'  # TOP: environment beats the file
    bottom = Variables(env_placement=EnvPlacement.BOTTOM)
    add_env_file_source(env_file, v=bottom)
    assert bottom.get('SAF_T_ENVF_A') == 'alpha'


def test_process_env_untouched(env_file: Path) -> None:
    before = dict(os.environ)
    add_env_file_source(env_file, v=Variables())
    assert dict(os.environ) == before
    assert 'SAF_T_ENVF_A' not in os.environ


def test_missing_file_is_ignored_with_a_warning_naming_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / 'nope' / 'missing.env'
    v = Variables()
    with caplog.at_level(logging.WARNING):
        assert add_env_file_source(missing, v=v) == {}  # as the original
    assert v.sources == ()
    assert any('missing.env' in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_missing_file_is_an_error_when_required(tmp_path: Path) -> None:
    missing = tmp_path / 'nope' / 'missing.env'
    v = Variables()
    with pytest.raises(FileNotFoundError) as ei:
        add_env_file_source(missing, v=v, required=True)
    assert 'missing.env' in str(ei.value)
    with pytest.raises(FileNotFoundError):
        add_env_file_source(missing, v=v, missing_ok=False)  # the older spelling
    assert add_env_file_source(missing, v=v, missing_ok=True) == {}
    assert v.sources == ()


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / 'bad.env'
    p.write_text('GOOD=1\n# fine\nthis line is not valid\nLATER=2\n')
    v = Variables()
    with pytest.raises(ConfigFileError) as ei:
        add_env_file_source(p, v=v)
    msg = str(ei.value)
    assert 'bad.env' in msg
    assert ':3' in msg or 'line 3' in msg
    assert ei.value.line == 3
    assert isinstance(ei.value, ValueError)
    assert v.sources == ()  # nothing half-added
    assert v.get('GOOD') is None


def test_read_env_file(env_file: Path) -> None:
    values = read_env_file(env_file)
    assert values['SAF_T_ENVF_A'] == 'alpha'
    assert 'SAF_T_ENVF_A' not in os.environ


@pytest.mark.needs_dotenv
def test_quoted_values_use_python_dotenvs_parser(tmp_path: Path) -> None:
    p = tmp_path / '.env'
    p.write_text('SAF_T_ENVF_QUOTED="two words"\nSAF_T_ENVF_ESC="a\\nb"\nSAF_T_ENVF_PLAIN=x\n')
    values = read_env_file(p)
    assert values == {'SAF_T_ENVF_QUOTED': 'two words', 'SAF_T_ENVF_ESC': 'a\nb', 'SAF_T_ENVF_PLAIN': 'x'}


def test_missing_dotenv_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / '.env'
    p.write_text('SAF_T_ENVF_QUOTED="two words"\n')
    monkeypatch.setitem(sys.modules, 'dotenv', None)
    monkeypatch.setitem(sys.modules, 'dotenv.parser', None)
    v = Variables()
    with pytest.raises(ImportError) as ei:
        add_env_file_source(p, v=v)
    msg = str(ei.value)
    assert 'dotenv' in msg and '[dotenv]' in msg and str(p) in msg
    assert v.sources == ()


def test_plain_files_need_no_python_dotenv(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'dotenv', None)
    monkeypatch.setitem(sys.modules, 'dotenv.parser', None)
    assert read_env_file(env_file)['SAF_T_ENVF_REF'] == 'alpha-ref'
