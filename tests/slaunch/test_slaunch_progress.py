"""Progress of long steps: a bar on an interactive terminal, INFO lines otherwise, nothing with
SLAUNCH_PROGRESS=off; and what a real copy / tool run reports."""

from __future__ import annotations

import io
import logging
import re
import sys
from pathlib import Path

import pytest

from scitrera_app_framework.slaunch import _progress, _tools
from scitrera_app_framework.slaunch._progress import Progress, progress_mode


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv('SLAUNCH_PROGRESS', raising=False)
    monkeypatch.setattr(_progress, 'time', _Clock())
    out = _Terminal()
    caplog.set_level(logging.INFO, logger='scitrera_app_framework.slaunch')
    with Progress('copying app 1.0', total=4096, unit='bytes', stream=out) as bar:
        assert bar.mode == 'bar'
        for _ in range(4):
            bar.advance(1024)
    text = out.getvalue()
    assert text.startswith('\rcopying app 1.0 [------------------------]   0% 0 B/4.0 kB')
    assert '[############------------]  50% 2.0 kB/4.0 kB' in text
    assert re.search(r'\rcopying app 1\.0: done in [0-9.]+s *\n$', text)
    assert caplog.records == []  # a bar, no log lines

    out = _Terminal()
    with Progress('building environment main', stream=out) as bar:  # unknown size: a spinner and the tool's line
        bar.note('Collecting requests>=2')
    assert re.search(r'\rbuilding environment main [|/\\-] \d+s Collecting requests>=2', out.getvalue())


class _Clock:
    """A stand-in for the time module: each reading is ``step`` seconds after the previous one."""

    def __init__(self, step: float = 0.5) -> None:
        self.now = 0.0
        self.step = step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


def test_info_lines_otherwise(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv('SLAUNCH_PROGRESS', raising=False)
    monkeypatch.setattr(_progress, 'time', _Clock(1.0))  # a slow copy: percentages after the first 2 s
    caplog.set_level(logging.INFO, logger='scitrera_app_framework.slaunch')
    with Progress('copying app 1.0', total=4096, unit='bytes', stream=io.StringIO()) as bar:
        for _ in range(4):
            bar.advance(1024)
    assert [r.getMessage() for r in caplog.records] == [
        'copying app 1.0 (4.0 kB) ...', 'copying app 1.0: 50% (2.0 kB of 4.0 kB)',
        'copying app 1.0: 75% (3.0 kB of 4.0 kB)', 'copying app 1.0: done in 4.0s']
    assert {r.name for r in caplog.records} == {'scitrera_app_framework.slaunch.progress'}
    caplog.clear()
    with pytest.raises(RuntimeError):
        with Progress('installing packages', stream=io.StringIO()):
            raise RuntimeError('pip died')
    assert [r.getMessage() for r in caplog.records][-1].startswith('installing packages: failed after ')


@pytest.mark.parametrize(('value', 'tty', 'mode'), [
    ('', True, 'bar'), ('', False, 'log'), ('auto', True, 'bar'), ('log', True, 'log'), ('bar', False, 'bar'),
    ('off', True, 'off'), ('nonsense', False, 'log'),
])
def test_mode_setting(monkeypatch: pytest.MonkeyPatch, value: str, tty: bool, mode: str) -> None:
    monkeypatch.setenv('SLAUNCH_PROGRESS', value)
    assert progress_mode(_Terminal() if tty else io.StringIO()) == mode


def test_tool_runs_report_progress_and_fail_with_the_last_error(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger='scitrera_app_framework.slaunch')
    out = _tools.run_tool([sys.executable, '-c', 'print("step 1"); print("step 2")'], 'running a tool', 'tool')
    assert out.splitlines() == ['step 1', 'step 2']
    assert [r.getMessage() for r in caplog.records][0] == 'running a tool ...'
    with pytest.raises(_tools.InstallError) as info:
        _tools.run_tool([sys.executable, '-c', 'print("ERROR: no space left"); raise SystemExit(3)'], 'installing',
                        'pip')
    assert str(info.value) == 'installing failed: no space left (pip exit code 3)'
    assert 'ERROR: no space left' in info.value.output
