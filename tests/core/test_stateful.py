"""The stateful directory (STATEFUL_ROOT/RUN_ID/RUN_SERIAL/APP_NAME), chdir into it, and get_working_path.

In-process tests restore the working directory and framework state through ``reset_framework()`` (checked);
the desktop variant (HOME) runs in a child interpreter.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from scitrera_app_framework import Variables, get_working_path, init_framework
from scitrera_app_framework.core.core import StatefulDirError, get_stateful_path, is_stateful_ready
from scitrera_app_framework.testing import reset_framework
from scitrera_app_framework.util import now_ms

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME', 'REGION', 'TIER', 'ZONE')


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for k in list(os.environ):
        if k.startswith(_ENV_PREFIXES) or k in _ENV_KEYS:
            monkeypatch.delenv(k)
    monkeypatch.setenv('SAF_INSTALL_SHUTDOWN_HOOKS', 'false')
    monkeypatch.setenv('SAF_ENABLE_PYTHON_FAULT_HANDLER', 'false')
    work = tmp_path / 'work'
    work.mkdir()
    monkeypatch.chdir(work)
    level0 = logging.getLogger().level
    reset_framework()
    try:
        yield monkeypatch
    finally:
        reset_framework()
        logging.getLogger().setLevel(level0)
        assert os.getcwd() == str(work), 'reset_framework did not restore the working directory'


def _init(**kwargs: Any) -> Variables:
    return init_framework(kwargs.pop('base', 'svc'), v=Variables(), **kwargs)


def _same(a: str, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(str(b))


def test_full_path_created_and_entered(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_ID', 'r1')
    env.setenv('RUN_SERIAL', '7')
    v = _init(region='eu')
    expected = root / 'r1' / '7' / 'svc-eu'
    assert expected.is_dir()
    assert _same(os.getcwd(), expected)
    assert _same(is_stateful_ready(v), expected)  # the path (the original's contract), or None
    assert _same(get_stateful_path(v), expected)
    assert _same(get_working_path(v), expected)


def test_chdir_is_off_with_env_false(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('SAF_STATEFUL_CHDIR', 'false')
    v = _init()
    assert (root / 'svc').is_dir()
    assert os.getcwd() == str(tmp_path / 'work')
    assert is_stateful_ready(v)


def test_chdir_is_off_with_keyword(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    _init(stateful_chdir=False)
    assert (root / 'svc').is_dir()
    assert os.getcwd() == str(tmp_path / 'work')


def test_env_chdir_true_overrides_keyword(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('SAF_STATEFUL_CHDIR', 'yes')
    _init(stateful_chdir=False)
    assert _same(os.getcwd(), root / 'svc')


def test_empty_parts_are_skipped(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_ID', '')
    v = _init(region='eu')
    assert _same(get_stateful_path(v), root / 'svc-eu')
    assert sorted(p.name for p in root.iterdir()) == ['svc-eu']


def test_run_serial_without_run_id(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_SERIAL', 's2')
    v = _init()
    assert _same(get_stateful_path(v), root / 's2' / 'svc')


def test_default_root_is_scratch_relative_to_cwd(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / 'work' / 'scratch').mkdir()
    v = _init(default_run_id='run9')
    assert _same(get_stateful_path(v), tmp_path / 'work' / 'scratch' / 'run9' / 'svc')


def test_reinit_with_relative_root_does_not_nest(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / 'work' / 'rel').mkdir()
    env.setenv('STATEFUL_ROOT', 'rel')
    env.setenv('RUN_ID', 'r1')
    v = _init()
    first = get_stateful_path(v)
    init_framework('svc', v=v)  # cwd is now inside the stateful dir; 'rel' still means work/rel
    assert get_stateful_path(v) == first
    assert _same(os.getcwd(), tmp_path / 'work' / 'rel' / 'r1' / 'svc')
    v2 = init_framework('svc2', v=Variables())
    assert _same(get_stateful_path(v2), tmp_path / 'work' / 'rel' / 'r1' / 'svc2')


def test_default_stateful_root_keyword(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'kwroot'
    root.mkdir()
    v = _init(default_stateful_root=str(root))
    assert _same(get_stateful_path(v), root / 'svc')


def test_setup_stateful_false_creates_nothing(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('SAF_SETUP_STATEFUL', 'false')
    v = _init()
    assert list(root.iterdir()) == []
    assert is_stateful_ready(v) is None
    assert os.getcwd() == str(tmp_path / 'work')


def test_ms_serial_strategy(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_ID', 'r')
    env.setenv('SAF_STATEFUL_SERIAL_STRATEGY', 'ms')
    before = now_ms()
    v = _init()
    after = now_ms()
    path = Path(get_stateful_path(v))
    assert path.name == 'svc' and path.parent.parent == root / 'r'
    serial = path.parent.name
    assert serial.isdigit() and before <= int(serial) <= after
    assert str(v.get('RUN_SERIAL')) == serial


def test_reinit_with_ms_strategy_keeps_the_same_dir(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('SAF_STATEFUL_SERIAL_STRATEGY', 'ms')
    v = _init()
    first = get_stateful_path(v)
    serial = v.get('RUN_SERIAL')
    time.sleep(0.01)
    init_framework('svc', v=v)
    assert v.get('RUN_SERIAL') == serial
    assert get_stateful_path(v) == first
    assert len(list(root.iterdir())) == 1


def test_ms_strategy_keyword_and_explicit_serial_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_SERIAL', 'fixed')
    v = _init(default_serial_strategy='ms')
    assert _same(get_stateful_path(v), root / 'fixed' / 'svc')


def test_callable_serial_strategy(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    v = _init(default_serial_strategy=lambda: 'from-callable')
    assert _same(get_stateful_path(v), root / 'from-callable' / 'svc')


def test_unknown_serial_strategy_is_an_error(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('SAF_STATEFUL_SERIAL_STRATEGY', 'weekly')
    with pytest.raises(ValueError, match=r"SAF_STATEFUL_SERIAL_STRATEGY='weekly'.*ms"):
        _init()
    assert list(root.iterdir()) == []


def test_missing_root_is_skipped_quietly(env: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv('STATEFUL_ROOT', str(tmp_path / 'nope'))
    env.setenv('RUN_ID', 'r1')
    v = _init(log_level='INFO')
    assert is_stateful_ready(v) is None
    assert get_stateful_path(v) is None
    assert not (tmp_path / 'nope').exists()
    assert os.getcwd() == str(tmp_path / 'work')
    assert get_working_path(v) == '.'
    assert get_working_path(v, default='/fallback') == '/fallback'
    err = capsys.readouterr().err
    assert 'WARNING' not in err and 'ERROR' not in err, err


def test_unwritable_path_raises_stateful_dir_error(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # we may run as root (permissions ignored), so make makedirs fail with a file in the way
    root = tmp_path / 'root'
    root.mkdir()
    (root / 'r1').write_text('a regular file, not a directory')
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_ID', 'r1')
    with pytest.raises(StatefulDirError) as ei:
        _init()
    msg = str(ei.value)
    assert str(root / 'r1' / 'svc') in msg
    assert 'STATEFUL_ROOT' in msg
    assert isinstance(ei.value, OSError)
    assert isinstance(ei.value.__cause__, OSError)
    assert os.getcwd() == str(tmp_path / 'work')


def test_stateful_chdir_type_error_names_variable_and_value(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('SAF_STATEFUL_CHDIR', 'maybe')
    with pytest.raises(ValueError) as ei:
        _init()
    assert 'SAF_STATEFUL_CHDIR' in str(ei.value) and 'maybe' in str(ei.value)
    assert os.getcwd() == str(tmp_path / 'work')


# --- get_working_path precedence ------------------------------------------------------------------------------
def test_data_working_path_beats_stateful_dir(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('DATA_WORKING_PATH', '/data/here')
    v = _init()
    assert is_stateful_ready(v)
    assert get_working_path(v) == '/data/here'
    env.delenv('DATA_WORKING_PATH')
    assert _same(get_working_path(v), root / 'svc')
    env.setenv('OTHER_PATH', '/other')
    assert get_working_path(v, env_key='OTHER_PATH') == '/other'


def test_working_path_default_without_state(env: pytest.MonkeyPatch) -> None:
    v = _init(stateful=False)
    assert get_working_path(v) == '.'
    assert get_working_path(v, default='/d') == '/d'
    env.setenv('DATA_WORKING_PATH', '/data/x')
    assert get_working_path(v, default='/d') == '/data/x'


def test_working_path_uses_the_default_variables(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    init_framework('svc')  # the default Variables
    assert is_stateful_ready()
    assert _same(get_working_path(), root / 'svc')


# --- desktop variant ------------------------------------------------------------------------------------------
def _run_child(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
    full.update(env)
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], env=full, cwd=cwd, capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 0, f'rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}'
    return proc


def test_desktop_variant_uses_config_dir_without_chdir(tmp_path: Path) -> None:
    home = tmp_path / 'home'
    home.mkdir()
    work = tmp_path / 'work'
    work.mkdir()
    proc = _run_child("""
        import json, os
        from scitrera_app_framework import (init_framework_desktop, get_working_path, is_stateful_ready,
                                            register_shutdown_function)
        v = init_framework_desktop('dapp', region='eu')
        register_shutdown_function(lambda: print('desktop-hook-ran', flush=True))
        print(json.dumps({'cwd': os.getcwd(), 'ready': is_stateful_ready(v), 'wp': get_working_path(v)}))
    """, work, HOME=str(home))
    lines = proc.stdout.splitlines()
    out = json.loads(lines[0])
    expected = home / '.config' / 'dapp-eu'
    assert expected.is_dir()
    assert out['ready'] == out['wp']
    assert _same(out['wp'], expected)
    assert _same(out['cwd'], work)  # no chdir
    assert lines[1:] == ['desktop-hook-ran']  # atexit hooks at normal exit


def test_desktop_variant_honours_stateful_root(tmp_path: Path) -> None:
    home = tmp_path / 'home'
    home.mkdir()
    root = tmp_path / 'root'
    root.mkdir()
    proc = _run_child("""
        from scitrera_app_framework import init_framework_desktop, get_working_path
        print(get_working_path(init_framework_desktop('dapp')))
    """, tmp_path, HOME=str(home), STATEFUL_ROOT=str(root))
    assert _same(proc.stdout.strip(), root / 'dapp')
    assert not (home / '.config').exists()


@pytest.mark.parametrize('run_id', ['../escape', '/abs/elsewhere'])
def test_run_id_cannot_move_the_dir_outside_the_root(env: pytest.MonkeyPatch, tmp_path: Path, run_id: str) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    env.setenv('STATEFUL_ROOT', str(root))
    env.setenv('RUN_ID', run_id)
    with pytest.raises(StatefulDirError, match=r'outside STATEFUL_ROOT.*RUN_ID'):
        _init()
    assert not (tmp_path / 'escape').exists() and not Path('/abs/elsewhere').exists()
    assert os.getcwd() == str(tmp_path / 'work')
