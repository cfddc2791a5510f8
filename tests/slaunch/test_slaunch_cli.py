"""The slaunch CLI: ``main(argv)`` and ``python -m scitrera_app_framework.slaunch[.main]``; exit codes, one-line
errors on stderr without tracebacks, and cheap imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from scitrera_app_framework.slaunch.main import EXIT_INSTALL, EXIT_USAGE, launch_app, main

APP = 'slapp'


def _single_error_line(err: str) -> str:
    """The one error line of ``err`` (progress lines, ``slaunch: INFO: ...``, aside); no traceback anywhere."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith('slaunch: INFO: ')]
    assert len(lines) == 1, err
    assert lines[0].startswith('slaunch: error: '), err
    assert 'Traceback' not in err
    return lines[0]


def test_main_launches_and_passes_args(installed_root: Any, tmp_path: Path, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    code = main([str(installed_root.manifest), APP, '--root', str(root), '--', 'a', '--b'])
    out, err = capfd.readouterr()
    assert code == 0
    assert out.splitlines()[0] == 'app v1 --from-manifest a --b'
    assert err == ''


def test_main_propagates_app_exit_code(installed_root: Any, tmp_path: Path, capfd: Any,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = installed_root.copy(tmp_path / 'root')
    monkeypatch.setenv('SLAPP_EXIT', '5')
    assert main([str(installed_root.manifest), APP, '--root', str(root), '--no-update']) == 5
    capfd.readouterr()


def test_main_verbose_logs_to_stderr(installed_root: Any, tmp_path: Path, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    assert main([str(installed_root.manifest), APP, '--root', str(root), '-v']) == 0
    err = capfd.readouterr().err
    assert 'slaunch: INFO: launching slapp 1.0' in err


@pytest.mark.parametrize(('text', 'needle'), [
    ('environments:\n  main: {}\napps:\n  slapp: [unclosed\n', 'bad.yaml:'),
    ('environments:\n  main: {}\napps:\n  slapp: {version: "1"}\n', 'bad.yaml:4: apps.slapp.entry: required key'),
    ('environments:\n  main: {}\napps:\n  slapp: {version: "1", entry: x, environment: gpu}\n',
     "unknown environment 'gpu'"),
    ('environments:\n  main: {}\napps:\n  "../evil": {version: "1", entry: x}\n', "'..' would escape"),
    ('environments:\n  main: {}\napps:\n  other: {version: "1", entry: x}\n', "app 'slapp' is not defined"),
])
def test_main_bad_manifest_is_one_line_exit_2(tmp_path: Path, capfd: Any, text: str, needle: str) -> None:
    manifest = tmp_path / 'bad.yaml'
    manifest.write_text(text, encoding='utf-8')
    assert main([str(manifest), APP, '--root', str(tmp_path / 'root')]) == EXIT_USAGE
    out, err = capfd.readouterr()
    assert needle in _single_error_line(err)
    assert out == ''
    assert not (tmp_path / 'root' / 'envs').exists()  # nothing was built for a bad manifest


def test_main_missing_manifest_and_unsafe_app_name(tmp_path: Path, capfd: Any) -> None:
    assert main([str(tmp_path / 'nope.yaml'), APP, '--root', str(tmp_path / 'r')]) == EXIT_USAGE
    assert 'manifest file not found' in _single_error_line(capfd.readouterr().err)
    assert main([str(tmp_path / 'nope.yaml'), '../evil', '--root', str(tmp_path / 'r')]) == EXIT_USAGE
    assert "invalid app name '../evil'" in _single_error_line(capfd.readouterr().err)


def test_main_usage_errors(capfd: Any) -> None:
    assert main([]) == 2
    assert 'usage: slaunch' in capfd.readouterr().err
    assert main(['--help']) == 0
    assert '--no-update' in capfd.readouterr().out


def test_main_install_failure_exit_3(tmp_path: Path, private_wheels: Any, make_manifest: Callable,
                                     capfd: Any) -> None:
    manifest = private_wheels.write_manifest('v3.yaml', make_manifest('3.0', requirements='[]'))
    assert main([str(manifest), APP, '--root', str(tmp_path / 'root')]) == EXIT_INSTALL
    line = _single_error_line(capfd.readouterr().err)
    assert "installing app 'slapp' 3.0" in line and 'slapp-3.0-py3-none-any.whl' in line


def test_main_corrupt_state_exit_3(tmp_path: Path, capfd: Any) -> None:
    root = tmp_path / 'root'
    root.mkdir()
    (root / 'state.json').write_text('{"format": 1,', encoding='utf-8')
    manifest = tmp_path / 'm.json'
    manifest.write_text(json.dumps({'environments': {'e': {}}, 'apps': {APP: {'version': '1', 'entry': 'x'}}}))
    assert main([str(manifest), APP, '--root', str(root)]) == EXIT_INSTALL
    assert 'state file is corrupt' in _single_error_line(capfd.readouterr().err)


def _run_module(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIP_NO_INDEX='1', PIP_CONFIG_FILE=os.devnull)
    return subprocess.run([sys.executable, '-m', module, *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.parametrize('module', ['scitrera_app_framework.slaunch', 'scitrera_app_framework.slaunch.main'])
def test_python_dash_m(installed_root: Any, tmp_path: Path, module: str) -> None:
    root = installed_root.copy(tmp_path / 'root')
    proc = _run_module(module, str(installed_root.manifest), APP, '--root', str(root), '--', 'cli')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == 'app v1 --from-manifest cli'
    assert proc.stderr == ''  # in particular no runpy RuntimeWarning for ``-m ...slaunch.main``
    bad = tmp_path / 'bad.json'
    bad.write_text('{"environments": {"main": {}},\n "apps": {"slapp": {"version": 1.5, "entry": "x"}}}')
    proc = _run_module(module, str(bad), APP, '--root', str(root))
    assert proc.returncode == EXIT_USAGE
    line = _single_error_line(proc.stderr)
    assert f'{bad}:2: apps.slapp.version: expected a version string, got 1.5 (number)' in line


def test_import_is_cheap() -> None:
    code = ('import sys, json; import scitrera_app_framework.slaunch.main as m; '
            'print(json.dumps(sorted(x for x in ("yaml", "urllib.request", "http.client", "subprocess", "venv", '
            '"argparse", "difflib", "logging") if x in sys.modules)))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_contract_exports() -> None:
    import scitrera_app_framework.slaunch as pkg

    assert callable(main) and callable(launch_app)
    with pytest.warns(DeprecationWarning, match=r'import it from scitrera_app_framework\.slaunch\.launcher'):
        assert pkg.launch_app is launch_app
