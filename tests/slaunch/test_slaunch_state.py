"""The state file: atomic writes (a crash never leaves partial JSON), clear errors for corrupt files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from scitrera_app_framework.slaunch import state as state_mod
from scitrera_app_framework.slaunch.errors import StateError
from scitrera_app_framework.slaunch.installer import open_root
from scitrera_app_framework.slaunch.launcher import launch_app
from scitrera_app_framework.slaunch.state import STATE_FILE, load_state, new_state, save_state


def test_missing_state_is_empty(tmp_path: Path) -> None:
    assert load_state(tmp_path) == new_state()


def test_round_trip(tmp_path: Path) -> None:
    data = new_state()
    data['envs']['e'] = {'builds': {'3': {'dir': 'envs/e@3', 'kind': 'venv', 'interpreter': None, 'python': '3.11.7',
                                          'spec': 'x', 'created_at': '', 'serial': 3}}, 'layers': {}}
    data['apps']['a'] = {'current': '1', 'versions': {'1': {
        'dir': 'apps/a/1', 'serial': 4, 'origin': 'manifest', 'environment': 'e', 'build': '3', 'layer': None,
        'python': '3.11.7', 'entry': 'a', 'entry_kind': 'module', 'args': [], 'env': {'X': '1'}, 'files': 2}}}
    save_state(tmp_path, data)
    assert load_state(tmp_path) == data
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]


def test_failed_replace_keeps_old_state_and_leaves_no_temp_file(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    old = new_state()
    old['serial'] = 1
    save_state(tmp_path, old)
    before = (tmp_path / STATE_FILE).read_bytes()

    def _crash(src: str, dst: str) -> None:
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(state_mod.os, 'replace', _crash)
    new = new_state()
    new['serial'] = 2
    with pytest.raises(OSError, match='No space left'):
        save_state(tmp_path, new)
    monkeypatch.undo()
    assert (tmp_path / STATE_FILE).read_bytes() == before
    assert json.loads(before)['serial'] == 1
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]


def test_crash_during_write_leaves_old_state_and_temp_is_cleaned_next_run(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    save_state(tmp_path, new_state())
    before = (tmp_path / STATE_FILE).read_bytes()

    def _die(fd: int) -> None:  # the process "dies" after writing part of the temp file
        raise KeyboardInterrupt

    monkeypatch.setattr(state_mod.os, 'fsync', _die)
    with pytest.raises(KeyboardInterrupt):
        save_state(tmp_path, {**new_state(), 'serial': 99})
    monkeypatch.undo()
    assert (tmp_path / STATE_FILE).read_bytes() == before
    # a real crash (no cleanup at all) leaves the temp file: the next run deletes it
    (tmp_path / '.state-crashed.tmp').write_text('{"format": 1, "envs": {', encoding='utf-8')
    with open_root(tmp_path) as session:
        assert session.state == new_state()
    assert not list(tmp_path.glob('.state-*'))


def test_corrupt_state_is_a_clear_error_and_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    path.write_text('{\n  "format": 1,\n  "envs": {\n', encoding='utf-8')
    with pytest.raises(StateError) as info:
        load_state(tmp_path)
    assert str(info.value).startswith(f'{path}:4:')
    assert 'corrupt' in str(info.value) and 'move it away' in str(info.value)
    with pytest.raises(StateError):
        launch_app('a', {'environments': {'e': {}}, 'apps': {'a': {'version': '1', 'entry': 'a'}}}, root=tmp_path)
    assert path.read_text(encoding='utf-8') == '{\n  "format": 1,\n  "envs": {\n'


@pytest.mark.parametrize(('text', 'needle'), [
    ('[]', "expected an object with 'envs' and 'apps', got [] (list)"),
    ('{"format": 1, "envs": [], "apps": {}}', 'envs: expected an object, got [] (list)'),
    ('{"format": 7, "envs": {}, "apps": {}}', 'state format 7 is not supported'),
    ('{"format": 2, "serial": 1, "envs": {}, "apps": {"a": {"current": 5, "versions": {}}}}',
     'apps.a.current: expected a safe version name or null, got 5 (integer)'),
    ('{"format": 2, "serial": 1, "envs": {}, "apps": {"a": {"current": null, "versions": []}}}',
     'apps.a.versions: expected an object, got [] (list)'),
    ('{"format": 2, "serial": "7", "envs": {}, "apps": {}}', 'serial: expected an integer'),
    ('{"format": 2, "serial": 1, "envs": {}, "apps": {}, "pending": ["../../etc"]}',
     'pending[0]: expected a directory below the root'),
    ('[' * 5000 + ']' * 5000, 'nested too deeply'),
])
def test_state_with_wrong_shape(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / STATE_FILE).write_text(text, encoding='utf-8')
    with pytest.raises(StateError, match=re.escape(needle)):
        load_state(tmp_path)


def test_wrong_type_inside_names_file_line_and_key(tmp_path: Path) -> None:
    state = new_state()
    state['apps']['a'] = {'current': None, 'versions': {}}
    save_state(tmp_path, state)
    text = (tmp_path / STATE_FILE).read_text(encoding='utf-8').replace('"current": null', '"current": ["1.0"]')
    (tmp_path / STATE_FILE).write_text(text, encoding='utf-8')
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"current": ["1.0"]' in t)
    with pytest.raises(StateError) as info:
        load_state(tmp_path)
    assert str(info.value).startswith(f'{tmp_path / STATE_FILE}:{line}: apps.a.current: expected a safe version ')
    assert 'move it away' in str(info.value)


def test_format_1_state_is_upgraded(tmp_path: Path) -> None:
    """A root written by slaunch 0.1.0 keeps working: its venv, layer and versions are read where they are."""
    old = {'format': 1, 'serial': 3,
           'envs': {'main': {'kind': 'venv', 'interpreter': None, 'python': '3.11.7', 'created_at': 'x',
                             'current': 'abcdef0123456789', 'conda_hash': None,
                             'layers': {'abcdef0123456789': {'serial': 2, 'installed_at': 'y', 'packages': ['p']}}}},
           'apps': {'a': {'current': '1.0', 'versions': {'1.0': {
               'serial': 3, 'installed_at': 'z', 'environment': 'main', 'python': '3.11.7', 'source': 's',
               'entry': 'a.cli:main', 'args': ['-x'], 'env': {'K': 'v'}}}}}}
    (tmp_path / STATE_FILE).write_text(json.dumps(old), encoding='utf-8')
    state = load_state(tmp_path)
    assert state['format'] == 2 and state['serial'] == 3
    assert state['envs']['main']['builds']['legacy']['dir'] == 'envs/main'
    assert state['envs']['main']['layers']['abcdef0123456789']['dir'] == 'layers/main/abcdef0123456789'
    rec = state['apps']['a']['versions']['1.0']
    assert rec['dir'] == 'apps/a/1.0' and rec['build'] == 'legacy' and rec['layer'] == 'abcdef0123456789'
    assert rec['files'] is None and rec['args'] == ['-x'] and rec['entry_kind'] == 'module'


def test_state_naming_unsafe_paths_is_rejected(tmp_path: Path) -> None:
    bad = {'format': 1, 'envs': {'e': {'kind': 'venv', 'current': None, 'layers': {}, 'python': '3.11.0'}},
           'apps': {'a': {'current': '../../etc', 'versions': {'../../etc': {'environment': 'e', 'entry': 'a'}}}}}
    (tmp_path / STATE_FILE).write_text(json.dumps(bad), encoding='utf-8')
    with pytest.raises(StateError, match='apps.a.current: expected a safe version name'):
        open_root(tmp_path).__enter__()
    bad['apps']['a']['current'] = None
    (tmp_path / STATE_FILE).write_text(json.dumps(bad), encoding='utf-8')
    with pytest.raises(StateError, match=r"apps\.a\.versions\['\.\./\.\./etc'\]: .* unsafe path"):
        load_state(tmp_path)
    assert os.path.exists(tmp_path / STATE_FILE)
