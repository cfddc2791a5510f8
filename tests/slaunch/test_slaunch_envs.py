"""Environment kinds and pip strategies: launcher pip vs the env's own pip, ``interpreter:``, ``kind: conda``."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from scitrera_app_framework.slaunch import _tools
from scitrera_app_framework.slaunch.errors import InstallError
from scitrera_app_framework.slaunch.launcher import launch_app
from scitrera_app_framework.slaunch.paths import env_python

APP = 'slapp'
POSIX_ONLY = pytest.mark.skipif(sys.platform == 'win32', reason='fake executables are POSIX shell-free scripts')


def _lines(text: str) -> list:
    return [line for line in text.splitlines() if line.strip()]


def test_without_launcher_pip_the_env_gets_its_own_pip(tmp_path: Path, private_wheels: Any,
                                                        make_manifest: Callable, pip_calls: list, capfd: Any,
                                                        state_of: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tools, 'launcher_pip_usable', lambda: False)
    root = tmp_path / 'root'
    manifest = private_wheels.write_manifest('m.yaml', make_manifest('1.0'))
    assert launch_app(APP, manifest, root=root, args=['own-pip']) == 0
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest own-pip'
    (build,) = state_of(root)['envs']['main']['builds'].values()
    python = str(env_python(root / build['dir']))
    assert pip_calls and all(cmd[:3] == [python, '-m', 'pip'] for cmd in pip_calls)


def _other_python() -> tuple:
    """(path, version) of a runnable interpreter other than the running one (PATH, or installs next to ours)."""
    import glob
    import subprocess

    here = f'{sys.version_info[0]}.{sys.version_info[1]}'
    candidates = [shutil.which(f'python3.{minor}') or '' for minor in range(9, 15)]
    candidates += sorted(glob.glob(os.path.join(os.path.dirname(sys.base_prefix), '*', 'bin', 'python3')))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            probe = subprocess.run([candidate, '-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
                                   capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        version = probe.stdout.strip()
        if probe.returncode == 0 and version.startswith('3.') and not version.startswith(here + '.') \
                and tuple(map(int, version.split('.')[:2])) >= (3, 9):
            return candidate, version
    return '', ''


def test_interpreter_key_builds_the_env_with_that_python(tmp_path: Path, private_wheels: Any,
                                                         make_manifest: Callable, state_of: Callable,
                                                         capfd: Any) -> None:
    other, other_version = _other_python()
    if not other:
        pytest.skip('no second python >= 3.9 found')
    text = make_manifest('1.0').replace('python: ">=3.9"', f'python: ">=3.9"\n    interpreter: {other}')
    manifest = private_wheels.write_manifest('m.yaml', text)
    root = tmp_path / 'root'
    assert launch_app(APP, manifest, root=root, args=['other']) == 0
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest other'
    (build,) = state_of(root)['envs']['main']['builds'].values()
    assert build['python'] == other_version and build['interpreter'] == other

    missing = private_wheels.write_manifest('missing.yaml', make_manifest('1.0').replace(
        'python: ">=3.9"', f'interpreter: {tmp_path / "no-such-python"}'))
    with pytest.raises(InstallError, match='no-such-python'):
        launch_app(APP, missing, root=tmp_path / 'root2')


def test_conda_without_conda_on_path_is_a_clear_error(tmp_path: Path, private_wheels: Any,
                                                      make_manifest: Callable,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PATH', str(tmp_path / 'empty-bin'))
    text = make_manifest('1.0').replace('python: ">=3.9"', 'kind: conda\n    python: "3.11"')
    manifest = private_wheels.write_manifest('conda.yaml', text)
    with pytest.raises(InstallError, match='neither conda, mamba nor micromamba is on PATH') as info:
        launch_app(APP, manifest, root=tmp_path / 'root')
    assert 'kind: venv' in str(info.value) and 'SLAUNCH_CONDA_EXE' in str(info.value)
    assert not list((tmp_path / 'root' / 'envs').glob('main*'))


@POSIX_ONLY
def test_conda_environment_through_the_conda_cli(tmp_path: Path, private_wheels: Any, make_manifest: Callable,
                                                 state_of: Callable, capfd: Any, write_fake_conda: Callable,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``kind: conda`` against a stand-in ``conda`` executable on PATH that records its arguments (and makes a venv
    where conda would make an environment): no real conda runs here."""
    bin_dir = tmp_path / 'bin'
    log = tmp_path / 'conda.log'
    write_fake_conda(bin_dir / 'conda', log)
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ.get("PATH", "")}')
    monkeypatch.delenv('SLAUNCH_CONDA_EXE', raising=False)

    minor = sys.version_info[1]
    text = make_manifest('1.0').replace('python: ">=3.9"', f'kind: conda\n    python: "3.{minor}"\n'
                                        '    conda: [numpy]\n    channels: [conda-forge]')
    manifest = private_wheels.write_manifest('conda.yaml', text)
    root = tmp_path / 'root'
    assert launch_app(APP, manifest, root=root, args=['conda']) == 0
    assert _lines(capfd.readouterr().out) == ['app v1 --from-manifest conda', 'lib lib1 pth yes mode prod']
    first = state_of(root)['apps'][APP]['versions']['1.0']['build']
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls == [['create', '--yes', '--quiet', '--prefix', str(root / 'envs' / f'main@{first}'), '--channel',
                      'conda-forge', f'python=3.{sys.version_info[1]}', 'numpy']]
    assert state_of(root)['envs']['main']['builds'][first]['kind'] == 'conda'

    # a changed conda package list is a new environment built beside the old one, then switched to
    manifest.write_text(text.replace('conda: [numpy]', 'conda: [numpy, scipy]'))
    assert launch_app(APP, manifest, root=root) == 0
    second = state_of(root)['apps'][APP]['versions']['1.0']['build']
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert second != first
    assert calls[-1] == ['create', '--yes', '--quiet', '--prefix', str(root / 'envs' / f'main@{second}'), '--channel',
                         'conda-forge', f'python=3.{sys.version_info[1]}', 'numpy', 'scipy']
    assert sorted(p.name for p in (root / 'envs').iterdir()) == [f'main@{second}']  # the old one was not in use
    capfd.readouterr()
