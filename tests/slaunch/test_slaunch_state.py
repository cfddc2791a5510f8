"""The state file: atomic writes (a crash never leaves partial JSON), clear errors for corrupt files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scitrera_app_framework.slaunch import StateError, launch_app
from scitrera_app_framework.slaunch import state as state_mod
from scitrera_app_framework.slaunch.installer import open_root
from scitrera_app_framework.slaunch.state import STATE_FILE, load_state, new_state, save_state


def test_missing_state_is_empty(tmp_path: Path) -> None:
    assert load_state(tmp_path) == new_state()


def test_round_trip(tmp_path: Path) -> None:
    data = new_state()
    data['apps']['a'] = {'current': '1', 'versions': {'1': {'serial': 1}}}
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
    ('[]', 'unexpected structure'),
    ('{"format": 1, "envs": [], "apps": {}}', 'unexpected structure'),
    ('{"format": 7, "envs": {}, "apps": {}}', 'state format 7 is not supported'),
])
def test_state_with_wrong_shape(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / STATE_FILE).write_text(text, encoding='utf-8')
    with pytest.raises(StateError, match=needle):
        load_state(tmp_path)


def test_state_naming_unsafe_paths_is_rejected(tmp_path: Path) -> None:
    bad = new_state()
    bad['envs']['e'] = {'kind': 'venv', 'current': None, 'layers': {}, 'python': '3.11.0'}
    bad['apps']['a'] = {'current': '../../etc', 'versions': {'../../etc': {'environment': 'e', 'entry': 'a'}}}
    save_state(tmp_path, bad)
    with open_root(tmp_path) as session:
        with pytest.raises(StateError, match='unsafe path'):
            session.installed_plan('a')
    assert os.path.exists(tmp_path / STATE_FILE)
