"""launch_app end to end with a real venv and real (offline) pip: install, idempotency, self-update, rollback,
interrupted installs. One first launch is shared (``installed_root``); tests work on private copies of it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from scitrera_app_framework.slaunch import state as state_mod
from scitrera_app_framework.slaunch.errors import InstallError, ManifestError, ManifestFetchError
from scitrera_app_framework.slaunch.launcher import launch_app
from scitrera_app_framework.slaunch.paths import env_python

APP = 'slapp'


def _lines(text: str) -> list:
    return [line for line in text.splitlines() if line.strip()]


def test_first_launch_creates_env_installs_v1_and_runs_it(installed_root: Any, state_of: Callable) -> None:
    root = installed_root.root
    assert _lines(installed_root.first_output) == ['app v1 --from-manifest first run',
                                                   'lib lib1 pth yes mode prod']
    state = state_of(root)
    assert state['format'] == 2
    app = state['apps'][APP]
    assert app['current'] == '1.0' and list(app['versions']) == ['1.0']
    rec = app['versions']['1.0']
    assert rec['entry'] == 'slapp.cli:main' and rec['dir'] == 'apps/slapp/1.0' and rec['files'] > 0
    env = state['envs']['main']
    build = env['builds'][rec['build']]  # the current version pins the environment build and layer it runs with
    assert build['dir'] == f'envs/main@{rec["build"]}' and env_python(root / build['dir']).exists()
    assert build['kind'] == 'venv' and build['python'] == '.'.join(map(str, sys.version_info[:3]))
    assert (root / env['layers'][rec['layer']]['dir'] / 'sllib' / '__init__.py').is_file()
    assert (root / 'apps' / APP / '1.0' / 'slapp' / 'cli.py').is_file()
    assert (root / 'apps' / APP / '1.0' / '.slaunch-files.json').is_file()  # the file list with hashes
    assert not (root / 'apps' / APP / '1.0' / 'sllib').exists()  # --no-deps: libs live in the env layer
    assert list((root / '.tmp').iterdir()) == []
    assert str(root) not in (root / 'state.json').read_text()  # no absolute paths: roots can be copied


def test_second_launch_installs_nothing(installed_root: Any, tmp_path: Path, pip_calls: list, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    before = (root / 'state.json').read_bytes()
    assert launch_app(APP, installed_root.manifest, root=root, args=['again']) == 0
    assert pip_calls == []
    assert (root / 'state.json').read_bytes() == before
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest again'


def test_exit_code_and_env_are_passed(installed_root: Any, tmp_path: Path, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    code = launch_app(APP, installed_root.manifest, root=root, env={'SLAPP_EXIT': '7', 'SLAPP_MODE': 'dev'})
    assert code == 7
    assert _lines(capfd.readouterr().out)[1] == 'lib lib1 pth yes mode dev'  # env= beats the manifest's env


def test_changed_args_and_env_for_the_same_version_apply_without_pip(installed_root: Any, tmp_path: Path,
                                                                      make_manifest: Callable, pip_calls: list,
                                                                      capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    text = make_manifest('1.0').replace('[--from-manifest]', '[--changed]')
    text = text.replace('SLAPP_MODE: prod', 'SLAPP_MODE: staging')
    manifest = installed_root.wheels.write_manifest(f'args-{tmp_path.name}.yaml', text)
    assert launch_app(APP, manifest, root=root) == 0
    assert _lines(capfd.readouterr().out) == ['app v1 --changed', 'lib lib1 pth yes mode staging']
    assert launch_app(APP, tmp_path / 'gone.yaml', root=root, update=False) == 0  # offline: recorded spec
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --changed'
    assert pip_calls == []


def test_wait_false_returns_the_running_process(installed_root: Any, tmp_path: Path, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    proc = launch_app(APP, installed_root.manifest, root=root, args=['bg'], wait=False)
    assert isinstance(proc, subprocess.Popen)
    assert proc.wait(timeout=60) == 0
    assert 'app v1 --from-manifest bg' in capfd.readouterr().out


def test_app_sees_launch_environment(installed_root: Any, tmp_path: Path, capfd: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = installed_root.copy(tmp_path / 'root')
    monkeypatch.setenv('PYTHONPATH', str(tmp_path / 'launcher-only'))
    (tmp_path / 'cwd').mkdir()
    (tmp_path / 'cwd' / 'slapp.py').write_text('raise SystemExit("shadowed by cwd")\n')
    monkeypatch.chdir(tmp_path / 'cwd')
    assert launch_app(APP, installed_root.manifest, root=root) == 0  # cwd's slapp.py does not shadow the app
    from scitrera_app_framework.slaunch.launcher import prepare_launch

    plan = prepare_launch(APP, installed_root.manifest, root=root)
    plan.release()
    env = plan.environ()
    assert env['PYTHONPATH'].split(os.pathsep) == [str(root / 'apps' / APP / '1.0'), str(plan.layer_dir)]
    assert env['SLAUNCH_APP'] == APP and env['SLAUNCH_APP_VERSION'] == '1.0' and env['SLAUNCH_ROOT'] == str(root)
    assert env['VIRTUAL_ENV'] == str(plan.env_dir) and plan.env_dir.parent == root / 'envs'
    capfd.readouterr()


def test_self_update_then_failed_update_then_rollback(installed_root: Any, tmp_path: Path, pip_calls: list,
                                                      capfd: Any, caplog: pytest.LogCaptureFixture,
                                                      state_of: Callable, make_manifest: Callable) -> None:
    root = installed_root.copy(tmp_path / 'root')
    wheels = installed_root.wheels

    # v2: installed into .tmp then renamed into place; v1 kept; the env layer is unchanged (pip runs once)
    v2 = wheels.write_manifest(f'v2-{tmp_path.name}.yaml', make_manifest('2.0', entry='slapp'))
    assert launch_app(APP, v2, root=root, args=['x']) == 0
    assert _lines(capfd.readouterr().out) == ['app v2 --from-manifest x']
    assert len(pip_calls) == 1 and '--no-deps' in pip_calls[0]
    app = state_of(root)['apps'][APP]
    assert app['current'] == '2.0' and sorted(app['versions']) == ['1.0', '2.0']
    assert (root / 'apps' / APP / '1.0').is_dir() and (root / 'apps' / APP / '2.0').is_dir()

    # v3 names a wheel that does not exist: v2 still launches, with a warning naming the failure
    v3 = wheels.write_manifest(f'v3-{tmp_path.name}.yaml', make_manifest('3.0'))
    caplog.set_level(logging.WARNING, logger='scitrera_app_framework.slaunch')
    assert launch_app(APP, v3, root=root) == 0
    assert _lines(capfd.readouterr().out) == ['app v2 --from-manifest']
    warning = ' '.join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "update of app 'slapp' to 3.0 failed" in warning
    assert 'slapp-3.0-py3-none-any.whl' in warning and 'launching the installed version 2.0' in warning
    assert state_of(root)['apps'][APP]['current'] == '2.0'
    assert not (root / 'apps' / APP / '3.0').exists()
    assert list((root / '.tmp').iterdir()) == []

    # back to v1: it was kept, so it is switched to without pip
    pip_calls.clear()
    assert launch_app(APP, installed_root.manifest, root=root) == 0
    assert pip_calls == []
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest'
    assert state_of(root)['apps'][APP]['current'] == '1.0'


def test_old_versions_are_pruned_oldest_first(installed_root: Any, tmp_path: Path, private_wheels: Any,
                                              wheel_builder: Callable, make_manifest: Callable,
                                              state_of: Callable, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    wheel_builder(private_wheels.dir, 'slapp', '3.0', {'slapp/__init__.py': '',
                                                       'slapp/__main__.py': 'print("app v3")\n'})
    for version in ('2.0', '3.0'):
        manifest = private_wheels.write_manifest('m.yaml', make_manifest(version, entry='slapp'))
        assert launch_app(APP, manifest, root=root) == 0
    assert _lines(capfd.readouterr().out) == ['app v2 --from-manifest', 'app v3']
    assert sorted(state_of(root)['apps'][APP]['versions']) == ['2.0', '3.0']
    assert not (root / 'apps' / APP / '1.0').exists()
    # keep_versions: 1 keeps only the current one (2.0 was kept, so it is switched to without pip)
    manifest = private_wheels.write_manifest('m.yaml', make_manifest('2.0', entry='slapp', keep=1))
    assert launch_app(APP, manifest, root=root) == 0
    assert list(state_of(root)['apps'][APP]['versions']) == ['2.0']
    assert sorted(p.name for p in (root / 'apps' / APP).iterdir()) == ['2.0']


def test_environment_update_failure_keeps_the_old_layer(installed_root: Any, tmp_path: Path, private_wheels: Any,
                                                        wheel_builder: Callable, make_manifest: Callable,
                                                        state_of: Callable, capfd: Any,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    root = installed_root.copy(tmp_path / 'root')
    old_layer = state_of(root)['apps'][APP]['versions']['1.0']['layer']
    broken = private_wheels.write_manifest(
        'broken.yaml', make_manifest('1.0', requirements='[sllib==1.0, ./wheels/missing-9.9-py3-none-any.whl]'))
    caplog.set_level(logging.WARNING, logger='scitrera_app_framework.slaunch')
    assert launch_app(APP, broken, root=root) == 0
    assert _lines(capfd.readouterr().out)[1] == 'lib lib1 pth yes mode prod'
    assert "packages of environment 'main'" in caplog.text and 'missing-9.9' in caplog.text
    assert state_of(root)['apps'][APP]['versions']['1.0']['layer'] == old_layer
    assert list((root / '.tmp').iterdir()) == []

    # a changed, valid package set builds a new layer next to the old one
    wheel_builder(private_wheels.dir, 'slextra', '1.0', {'slextra.py': 'X = 1\n'})
    changed = private_wheels.write_manifest('changed.yaml',
                                            make_manifest('1.0', requirements='[sllib==1.0, slextra]'))
    assert launch_app(APP, changed, root=root) == 0
    state = state_of(root)
    env, current = state['envs']['main'], state['apps'][APP]['versions']['1.0']['layer']
    assert current != old_layer and sorted(env['layers']) == sorted([old_layer, current])
    assert (root / 'layers' / 'main' / current / 'slextra.py').is_file()
    assert (root / 'layers' / 'main' / old_layer).is_dir()


def test_manifest_unreadable_or_update_false_launches_installed(installed_root: Any, tmp_path: Path, capfd: Any,
                                                                pip_calls: list,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    root = installed_root.copy(tmp_path / 'root')
    missing = tmp_path / 'gone.yaml'
    assert launch_app(APP, missing, root=root, update=False) == 0
    caplog.set_level(logging.WARNING, logger='scitrera_app_framework.slaunch')
    assert launch_app(APP, missing, root=root) == 0
    assert 'manifest file not found' in caplog.text and 'launching the installed slapp 1.0' in caplog.text
    assert pip_calls == []
    assert _lines(capfd.readouterr().out).count('app v1 --from-manifest') == 2
    # an invalid (readable) manifest is always an error, even with an installed version
    bad = tmp_path / 'bad.yaml'
    bad.write_text('environments: {main: {}}\napps:\n  slapp: {version: "1.0"}\n')
    with pytest.raises(ManifestError, match='apps.slapp.entry'):
        launch_app(APP, bad, root=root)
    with pytest.raises(ManifestError, match="app 'nope' is not defined; defined apps: slapp"):
        launch_app('nope', installed_root.manifest, root=root)


def test_nothing_installed_and_install_fails_raises(tmp_path: Path, private_wheels: Any,
                                                    make_manifest: Callable) -> None:
    manifest = private_wheels.write_manifest('v3.yaml', make_manifest('3.0', requirements='[]'))
    with pytest.raises(InstallError) as info:
        launch_app(APP, manifest, root=tmp_path / 'root')
    assert "installing app 'slapp' 3.0" in str(info.value) and 'pip exit code' in str(info.value)
    assert 'slapp-3.0-py3-none-any.whl' in info.value.output
    with pytest.raises(ManifestFetchError):
        launch_app(APP, tmp_path / 'missing.yaml', root=tmp_path / 'root2')


def test_failed_state_write_launches_previous_version(installed_root: Any, tmp_path: Path, capfd: Any,
                                                      make_manifest: Callable, state_of: Callable,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = installed_root.copy(tmp_path / 'root')
    before = (root / 'state.json').read_bytes()
    real_replace = os.replace

    def _replace(src: Any, dst: Any) -> None:
        if Path(dst).name == 'state.json':
            raise OSError(28, 'No space left on device')
        real_replace(src, dst)

    monkeypatch.setattr(state_mod.os, 'replace', _replace)
    v2 = installed_root.wheels.write_manifest(f'v2-state-{tmp_path.name}.yaml', make_manifest('2.0', entry='slapp'))
    assert launch_app(APP, v2, root=root) == 0
    monkeypatch.undo()
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest'
    assert (root / 'state.json').read_bytes() == before
    assert not list(root.glob('.state-*'))
    # the next run (disk fine again) installs v2 over the unrecorded directory
    assert launch_app(APP, v2, root=root) == 0
    assert state_of(root)['apps'][APP]['current'] == '2.0'
    assert _lines(capfd.readouterr().out) == ['app v2 --from-manifest']


KILLER = textwrap.dedent('''\
    import os, signal, sys
    from pathlib import Path
    from scitrera_app_framework.slaunch import _tools
    from scitrera_app_framework.slaunch.launcher import launch_app

    def _killed_mid_install(cmd, what, cwd=None):
        target = Path(cmd[cmd.index('--target') + 1])
        (target / 'slapp').mkdir(parents=True)
        (target / 'slapp' / '__init__.py').write_text('# half written')
        os.kill(os.getpid(), signal.SIGKILL)

    _tools.run_pip = _killed_mid_install
    launch_app('slapp', sys.argv[1], root=sys.argv[2])
    ''')


@pytest.mark.skipif(not hasattr(os, 'kill') or sys.platform == 'win32', reason='needs SIGKILL')
def test_killed_install_leaves_previous_version_and_is_cleaned_next_run(installed_root: Any, tmp_path: Path,
                                                                         make_manifest: Callable, capfd: Any,
                                                                         state_of: Callable) -> None:
    root = installed_root.copy(tmp_path / 'root')
    before = (root / 'state.json').read_bytes()
    v2 = installed_root.wheels.write_manifest(f'v2-kill-{tmp_path.name}.yaml', make_manifest('2.0', entry='slapp'))
    proc = subprocess.run([sys.executable, '-c', KILLER, str(v2), str(root)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    leftovers = list((root / '.tmp').iterdir())
    assert len(leftovers) == 1 and (leftovers[0] / 'slapp' / '__init__.py').is_file()
    assert (root / 'state.json').read_bytes() == before
    assert not (root / 'apps' / APP / '2.0').exists()
    assert json.loads(before)['apps'][APP]['current'] == '1.0'

    # the previous version is intact and usable; the next run removes the leftover
    assert launch_app(APP, installed_root.manifest, root=root, update=False) == 0
    assert list((root / '.tmp').iterdir()) == []
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest'
    assert launch_app(APP, v2, root=root) == 0
    assert _lines(capfd.readouterr().out) == ['app v2 --from-manifest']
    assert state_of(root)['apps'][APP]['current'] == '2.0'


def test_changed_python_requirement_that_cannot_be_met(installed_root: Any, tmp_path: Path, capfd: Any,
                                                       private_wheels: Any, make_manifest: Callable,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    root = installed_root.copy(tmp_path / 'root')
    text = make_manifest('1.0').replace('python: ">=3.9"', 'python: ">=9.0"')
    manifest = private_wheels.write_manifest('py9.yaml', text)
    caplog.set_level(logging.WARNING, logger='scitrera_app_framework.slaunch')
    assert launch_app(APP, manifest, root=root) == 0  # the existing environment is kept and used
    assert "requires python '>=9.0'" in caplog.text
    build = json.loads((root / 'state.json').read_text())['apps'][APP]['versions']['1.0']['build']
    assert [p.name for p in (root / 'envs').iterdir()] == [f'main@{build}']  # the environment was kept
    capfd.readouterr()
    with pytest.raises(InstallError, match="requires python '>=9.0'"):
        launch_app(APP, manifest, root=tmp_path / 'fresh')


def test_concurrent_launchers_install_once(installed_root: Any, tmp_path: Path, make_manifest: Callable,
                                           state_of: Callable) -> None:
    """Two launchers updating the same root at once: the root lock serializes them; both run v2."""
    root = installed_root.copy(tmp_path / 'root')
    v2 = installed_root.wheels.write_manifest(f'v2-race-{tmp_path.name}.yaml', make_manifest('2.0', entry='slapp'))
    code = ('import sys; from scitrera_app_framework.slaunch.launcher import launch_app; '
            'sys.exit(launch_app("slapp", sys.argv[1], root=sys.argv[2], args=[sys.argv[3]]))')
    env = dict(os.environ, PIP_NO_INDEX='1', PIP_CONFIG_FILE=os.devnull)
    procs = [subprocess.Popen([sys.executable, '-c', code, str(v2), str(root), name], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for name in ('one', 'two')]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted(out.strip() for out, _ in outputs) == ['app v2 --from-manifest one', 'app v2 --from-manifest two']
    app = state_of(root)['apps'][APP]
    assert app['current'] == '2.0' and sorted(app['versions']) == ['1.0', '2.0']
    assert list((root / '.tmp').iterdir()) == []


def test_a_root_of_slaunch_0_1_0_keeps_working(installed_root: Any, tmp_path: Path, pip_calls: list,
                                               state_of: Callable, capfd: Any) -> None:
    """A format-1 root (venv at envs/<env>, layer named by 0.1.0's key, no file lists) launches without
    reinstalling anything; its file lists are recorded on the way."""
    import hashlib

    from scitrera_app_framework.slaunch.manifest import load_manifest

    root = installed_root.copy(tmp_path / 'root')
    state = state_of(root)
    rec = state['apps'][APP]['versions']['1.0']
    build = state['envs']['main']['builds'][rec['build']]
    manifest = load_manifest(installed_root.manifest)
    payload = {'packages': sorted(manifest.environment_packages('main')),  # 0.1.0's layer key
               'pip_args': list(manifest.environments['main'].pip_args), 'python': build['python'], 'kind': 'venv'}
    layer_key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    os.replace(root / build['dir'], root / 'envs' / 'main')
    os.replace(root / state['envs']['main']['layers'][rec['layer']]['dir'], root / 'layers' / 'main' / layer_key)
    (root / 'apps' / APP / '1.0' / '.slaunch-files.json').unlink()
    (root / 'layers' / 'main' / layer_key / '.slaunch-files.json').unlink()
    old = {'format': 1, 'serial': 2,
           'envs': {'main': {'kind': 'venv', 'interpreter': None, 'python': build['python'], 'created_at': 'then',
                             'current': layer_key, 'conda_hash': None,
                             'layers': {layer_key: {'serial': 1, 'installed_at': 'then', 'packages': ['x']}}}},
           'apps': {APP: {'current': '1.0', 'versions': {'1.0': {
               'serial': 2, 'installed_at': 'then', 'environment': 'main', 'python': build['python'],
               'source': rec['source'], 'entry': 'slapp.cli:main', 'args': ['--from-manifest'],
               'env': {'SLAPP_MODE': 'prod'}}}}}}
    (root / 'state.json').write_text(json.dumps(old), encoding='utf-8')
    assert launch_app(APP, installed_root.manifest, root=root, args=['old-root']) == 0
    assert _lines(capfd.readouterr().out) == ['app v1 --from-manifest old-root', 'lib lib1 pth yes mode prod']
    assert pip_calls == []  # the layer's key is the same as 0.1.0's: nothing to install
    state = state_of(root)
    assert state['format'] == 2 and state['apps'][APP]['versions']['1.0']['files'] > 0
    assert state['envs']['main']['builds']['legacy']['dir'] == 'envs/main'
    assert (root / 'apps' / APP / '1.0' / '.slaunch-files.json').is_file()
