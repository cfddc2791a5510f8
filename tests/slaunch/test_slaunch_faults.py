"""Faults that must never break a working install (manifest layout): a failed environment switch (with and
without ``--no-update``), a ``kill -9`` in the middle of one, pruning while an instance runs, tampered and deleted
files, a bad state file, a misspelt entry point, and hostile manifests (alias bomb, deep nesting).

Real venvs and real (offline) pip; every test works on a private copy of the shared installed root."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from scitrera_app_framework.slaunch import _tools
from scitrera_app_framework.slaunch.errors import IntegrityError
from scitrera_app_framework.slaunch.launcher import launch_app
from scitrera_app_framework.slaunch.main import EXIT_DAMAGED, EXIT_INSTALL, EXIT_USAGE, main

APP = 'slapp'
POSIX_ONLY = pytest.mark.skipif(sys.platform == 'win32', reason='fake executables are POSIX shell-free scripts')


def _lines(text: str) -> list:
    return [line for line in text.splitlines() if line.strip()]


def _error_line(err: str) -> str:
    """The one ``slaunch: error:`` line of stderr (progress and warning lines aside); no traceback."""
    assert 'Traceback' not in err, err
    errors = [line for line in err.splitlines() if line.startswith('slaunch: error: ')]
    assert len(errors) == 1, err
    return errors[0]


def _state(root: Path) -> dict:
    return json.loads((root / 'state.json').read_text(encoding='utf-8'))


def _snapshot(root: Path) -> tuple:
    """What must not change when an update fails: what is installed (the state's environments and apps) and the
    environment / app directories."""
    state = _state(root)
    return (json.dumps([state['envs'], state['apps']], sort_keys=True),
            sorted(p.name for p in (root / 'envs').iterdir()), sorted(p.name for p in (root / 'apps' / APP).iterdir()))


# ------------------------------------------------------------------------------------- environment switches

FAILING_VENV_PYTHON = textwrap.dedent('''\
    #!{python}
    """A stand-in interpreter: answers like the real one, except that '-m venv' fails."""
    import subprocess, sys
    if sys.argv[1:3] == ['-m', 'venv']:
        sys.stderr.write('Error: Command returned non-zero exit status 1 (ensurepip is broken)\\n')
        sys.exit(1)
    sys.exit(subprocess.call([{python!r}] + sys.argv[1:]))
    ''')


def _failing_interpreter(tmp_path: Path) -> Path:
    path = tmp_path / 'bin' / 'python-broken-venv'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAILING_VENV_PYTHON.format(python=getattr(sys, '_base_executable', sys.executable)))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@POSIX_ONLY
@pytest.mark.parametrize('change', ['conda-missing', 'venv-fails'])
def test_failed_environment_switch_keeps_the_working_one(installed_root: Any, tmp_path: Path,
                                                         make_manifest: Callable, capfd: Any, change: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest switches the environment to something that cannot be built: the installed version keeps
    launching on its environment, with and without --no-update, and nothing installed changes."""
    root = installed_root.copy(tmp_path / 'root')
    if change == 'conda-missing':
        monkeypatch.setenv('PATH', str(tmp_path / 'empty-bin'))
        monkeypatch.delenv('SLAUNCH_CONDA_EXE', raising=False)
        text = make_manifest('1.0').replace('python: ">=3.9"', 'kind: conda\n    python: "3.11"')
        needle = 'neither conda, mamba nor micromamba is on PATH'
    else:
        text = make_manifest('1.0').replace('python: ">=3.9"', f'interpreter: {_failing_interpreter(tmp_path)}')
        needle = 'ensurepip is broken'
    manifest = installed_root.wheels.write_manifest(f'switch-{change}-{tmp_path.name}.yaml', text)
    before = _snapshot(root)

    assert main([str(manifest), APP, '--root', str(root), '--', 'updated']) == 0
    out, err = capfd.readouterr()
    assert _lines(out) == ['app v1 --from-manifest updated', 'lib lib1 pth yes mode prod']
    assert 'update of app' in err and needle in err and 'launching the installed version 1.0' in err
    assert _snapshot(root) == before
    assert list((root / '.tmp').iterdir()) == []

    assert main([str(manifest), APP, '--root', str(root), '--no-update', '--', 'offline']) == 0
    out, err = capfd.readouterr()
    assert _lines(out)[0] == 'app v1 --from-manifest offline' and err == ''
    assert _snapshot(root) == before


KILL_DURING_SWITCH = textwrap.dedent('''\
    import os, signal, sys
    from pathlib import Path
    from scitrera_app_framework.slaunch import _tools
    from scitrera_app_framework.slaunch.launcher import launch_app

    def _killed_mid_build(env_dir, env_name, interpreter):
        (Path(env_dir) / 'bin').mkdir(parents=True)
        (Path(env_dir) / 'bin' / 'python').write_text('# half built')
        os.kill(os.getpid(), signal.SIGKILL)

    _tools.create_venv = _killed_mid_build
    launch_app('slapp', sys.argv[1], root=sys.argv[2])
    ''')


@pytest.mark.skipif(not hasattr(signal, 'SIGKILL'), reason='needs SIGKILL')
def test_kill_9_in_the_middle_of_an_environment_switch(installed_root: Any, tmp_path: Path,
                                                       make_manifest: Callable, capfd: Any) -> None:
    """SIGKILL while the new environment is being built: the next launch runs the old one (and removes the half
    built one); a launch after that completes the switch."""
    root = installed_root.copy(tmp_path / 'root')
    base = os.path.realpath(getattr(sys, '_base_executable', sys.executable))
    switched = installed_root.wheels.write_manifest(
        f'kill-switch-{tmp_path.name}.yaml', make_manifest('1.0').replace('python: ">=3.9"', f'interpreter: {base}'))
    before = _snapshot(root)
    env = dict(os.environ, PIP_NO_INDEX='1', PIP_CONFIG_FILE=os.devnull)
    proc = subprocess.run([sys.executable, '-c', KILL_DURING_SWITCH, str(switched), str(root)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    half = [p.name for p in (root / 'envs').iterdir() if p.name not in before[1]]
    assert len(half) == 1 and (root / 'envs' / half[0] / 'bin' / 'python').read_text() == '# half built'
    assert _snapshot(root)[0] == before[0]  # the state still names only the old environment ...
    assert _state(root)['pending'] == [f'envs/{half[0]}']  # ... and lists the new one as being built

    assert launch_app(APP, installed_root.manifest, root=root, args=['after-kill']) == 0
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest after-kill'
    assert _snapshot(root) == before and _state(root)['pending'] == []  # the leftover is gone, nothing else changed

    assert launch_app(APP, switched, root=root, args=['switched']) == 0
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest switched'
    state = _state(root)
    build = state['envs']['main']['builds'][state['apps'][APP]['versions']['1.0']['build']]
    assert build['interpreter'] == base and build['dir'] not in before[1]
    assert sorted(p.name for p in (root / 'envs').iterdir()) == [build['dir'].split('/')[1]]


# ------------------------------------------------------------------------------------------------- pruning

WAITER = {
    'slapp/__init__.py': '',
    'slapp/cli.py': textwrap.dedent('''\
        import os, sys, time


        def main():
            print('waiter started', flush=True)
            go = os.environ['SLAPP_GO']
            while not os.path.exists(go):
                time.sleep(0.02)
            import slapp.lazy  # imported late: its directory must still be there
            print('waiter', slapp.lazy.VALUE, flush=True)
        '''),
    'slapp/lazy.py': "VALUE = 'lazy ok'\n",
}


def test_pruning_skips_the_version_a_running_instance_uses(installed_root: Any, tmp_path: Path,
                                                           private_wheels: Any, wheel_builder: Callable,
                                                           make_manifest: Callable, state_of: Callable,
                                                           capfd: Any) -> None:
    """keep_versions: 2 and two updates while an instance of the oldest version runs: its directory stays until
    it exits (its late import works), and the launch after that removes it. A killed instance's mark goes with
    it (the mark is a lock held by the app's process)."""
    root = installed_root.copy(tmp_path / 'root')
    wheel_builder(private_wheels.dir, 'slapp', '5.0', WAITER)
    wheel_builder(private_wheels.dir, 'slapp', '6.0', {**WAITER, 'slapp/__main__.py': 'print("v6")'})
    wheel_builder(private_wheels.dir, 'slapp', '7.0', {'slapp/__init__.py': '', 'slapp/__main__.py': 'print("v7")'})
    go = tmp_path / 'go'
    m5 = private_wheels.write_manifest('m5.yaml', make_manifest('5.0', keep=2))
    proc = launch_app(APP, m5, root=root, env={'SLAPP_GO': str(go)}, wait=False)
    assert not isinstance(proc, int)
    try:
        for version in ('6.0', '7.0'):
            manifest = private_wheels.write_manifest(f'm{version}.yaml', make_manifest(version, entry='slapp',
                                                                                      keep=2))
            assert launch_app(APP, manifest, root=root) == 0
        state = state_of(root)
        assert sorted(state['apps'][APP]['versions']) == ['6.0', '7.0']  # 5.0 is pruned from the state ...
        assert state['pending'] == ['apps/slapp/5.0']  # ... but its directory is in use: kept for now
        assert (root / 'apps' / APP / '5.0' / 'slapp' / 'lazy.py').is_file()
    finally:
        go.touch()
        assert proc.wait(timeout=60) == 0
    out = _lines(capfd.readouterr().out)
    assert out[0] == 'waiter started' and 'waiter lazy ok' in out and 'v6' in out and 'v7' in out

    # 6.0 runs as a waiter until killed; then keep_versions: 1 removes 5.0 (now unused) and 6.0 at once
    six = private_wheels.write_manifest('m6w.yaml', make_manifest('6.0', keep=2))
    proc = launch_app(APP, six, root=root, env={'SLAPP_GO': str(tmp_path / 'never')}, wait=False)
    assert not isinstance(proc, int)
    time.sleep(0.3)
    proc.kill()
    proc.wait(timeout=60)
    assert launch_app(APP, private_wheels.write_manifest('m7k.yaml', make_manifest('7.0', entry='slapp', keep=1)),
                      root=root) == 0
    assert state_of(root)['pending'] == []
    assert sorted(p.name for p in (root / 'apps' / APP).iterdir()) == ['7.0']
    capfd.readouterr()


# ------------------------------------------------------------------------------------------------- integrity


def test_tampered_and_deleted_files_are_repaired(installed_root: Any, tmp_path: Path, capfd: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    root = installed_root.copy(tmp_path / 'root')
    cli = root / 'apps' / APP / '1.0' / 'slapp' / 'cli.py'
    original = cli.read_bytes()
    cli.write_bytes(original + b"\nprint('TAMPERED')\n")
    (root / 'apps' / APP / '1.0' / 'slapp' / '__init__.py').unlink()
    caplog.set_level('WARNING', logger='scitrera_app_framework.slaunch')
    assert launch_app(APP, installed_root.manifest, root=root, update=False) == 0
    assert 'TAMPERED' not in capfd.readouterr().out
    assert cli.read_bytes() == original and (root / 'apps' / APP / '1.0' / 'slapp' / '__init__.py').is_file()
    assert "app 'slapp' 1.0 is damaged (1 modified (slapp/cli.py), 1 missing (slapp/__init__.py))" in caplog.text
    assert 'repaired (2 file(s) restored)' in caplog.text


def test_same_size_tampering_is_caught_by_a_full_check(installed_root: Any, tmp_path: Path, capfd: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A quick check trusts size and mtime; SLAUNCH_VERIFY=full hashes every file (a repair also drops the
    bytecode caches, which could hold the tampered code); off checks nothing."""
    import shutil

    root = installed_root.copy(tmp_path / 'root')
    cli = root / 'apps' / APP / '1.0' / 'slapp' / 'cli.py'
    shutil.rmtree(cli.parent / '__pycache__', ignore_errors=True)  # else python runs the cached bytecode
    original, st = cli.read_bytes(), cli.stat()
    evil = original.replace(b"print('app v1'", b"print('app V1'")
    assert len(evil) == len(original) and evil != original
    cli.write_bytes(evil)
    os.utime(cli, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert launch_app(APP, installed_root.manifest, root=root, update=False) == 0
    assert _lines(capfd.readouterr().out)[0].startswith('app V1')  # quick: same size and time, not hashed
    monkeypatch.setenv('SLAUNCH_VERIFY', 'full')
    assert launch_app(APP, installed_root.manifest, root=root, update=False) == 0
    assert _lines(capfd.readouterr().out)[0].startswith('app v1') and cli.read_bytes() == original
    cli.write_bytes(evil)
    shutil.rmtree(cli.parent / '__pycache__', ignore_errors=True)
    monkeypatch.setenv('SLAUNCH_VERIFY', 'off')
    assert launch_app(APP, installed_root.manifest, root=root, update=False) == 0
    assert _lines(capfd.readouterr().out)[0].startswith('app V1')
    monkeypatch.setenv('SLAUNCH_VERIFY', 'sometimes')
    assert main([str(installed_root.manifest), APP, '--root', str(root)]) == EXIT_USAGE
    assert 'SLAUNCH_VERIFY=' in _error_line(capfd.readouterr().err)


def test_damage_that_cannot_be_repaired_is_refused(installed_root: Any, tmp_path: Path, capfd: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = installed_root.copy(tmp_path / 'root')
    cli = root / 'apps' / APP / '1.0' / 'slapp' / 'cli.py'
    cli.write_text('print("TAMPERED")\n')

    def _no_source(cmd: list, what: str, cwd: Any = None) -> str:
        raise _tools.InstallError(f'{what} failed: the wheel is gone')

    monkeypatch.setattr(_tools, 'run_pip', _no_source)
    with pytest.raises(IntegrityError, match=r"app 'slapp' 1\.0 is damaged: 1 modified \(slapp/cli\.py\)"):
        launch_app(APP, installed_root.manifest, root=root, update=False)
    assert main([str(installed_root.manifest), APP, '--root', str(root), '--no-update']) == EXIT_INSTALL
    out, err = capfd.readouterr()
    line = _error_line(err)
    assert 'is damaged' in line and 'the wheel is gone' in line and 'SLAUNCH_VERIFY=off' in line
    assert 'TAMPERED' not in out

    # slaunch verify names the damage (and exits 1); after a repair it is intact (exit 0)
    assert main(['verify', APP, '--root', str(root)]) == EXIT_DAMAGED
    out = capfd.readouterr().out
    assert f"modified: app '{APP}' 1.0: slapp/cli.py" in out and 'DAMAGED (1 file(s))' in out
    monkeypatch.undo()
    assert launch_app(APP, installed_root.manifest, root=root, update=False) == 0
    capfd.readouterr()
    (root / 'apps' / APP / '1.0' / 'notes.txt').write_text('written by the app')
    assert main(['verify', APP, '1.0', '--root', str(root)]) == 0
    out = capfd.readouterr().out
    assert 'extra: ' in out and 'notes.txt' in out and out.rstrip().endswith('slapp 1.0: intact')


# ---------------------------------------------------------------------------------- bad input, one line


def test_bad_state_file_is_one_line_exit_3(installed_root: Any, tmp_path: Path, capfd: Any) -> None:
    root = installed_root.copy(tmp_path / 'root')
    path = root / 'state.json'
    text = path.read_text(encoding='utf-8').replace('"entry": "slapp.cli:main"', '"entry": ["slapp.cli:main"]')
    path.write_text(text, encoding='utf-8')
    line_no = next(i for i, t in enumerate(text.splitlines(), 1) if '"entry": [' in t)
    assert main([str(installed_root.manifest), APP, '--root', str(root)]) == EXIT_INSTALL
    line = _error_line(capfd.readouterr().err)
    assert f"{path}:{line_no}: apps.slapp.versions['1.0'].entry: expected a string, got" in line
    assert main([str(installed_root.manifest), APP, '--root', str(root), '--debug']) == EXIT_INSTALL
    err = capfd.readouterr().err
    assert 'Traceback' in err and err.rstrip().splitlines()[-1].startswith('slaunch: error: ')


@pytest.mark.parametrize(('entry', 'problem'), [
    ('slapp.clii:main', "No module named 'slapp.clii'"),
    ('slapp.cli:mian', "module 'slapp.cli' has no attribute 'mian'"),
    ('slap', "No module named 'slap'"),
])
def test_misspelt_entry_point_is_one_line_exit_2(installed_root: Any, tmp_path: Path, make_manifest: Callable,
                                                 capfd: Any, entry: str, problem: str) -> None:
    root = installed_root.copy(tmp_path / 'root')
    manifest = installed_root.wheels.write_manifest(f'entry-{tmp_path.name}.yaml', make_manifest('1.0', entry=entry))
    line_no = manifest.read_text().splitlines().index(f'    entry: {entry}') + 1
    assert main([str(manifest), APP, '--root', str(root)]) == EXIT_USAGE
    out, err = capfd.readouterr()
    assert _error_line(err) == (f'slaunch: error: {manifest}:{line_no}: apps.slapp.entry: {problem}; check the '
                                'entry point')
    assert out == ''


@pytest.mark.parametrize('version', ['1.0', '2.0'])
def test_misspelt_entry_point_never_reaches_the_state(installed_root: Any, tmp_path: Path, make_manifest: Callable,
                                                      capfd: Any, version: str) -> None:
    """A manifest update with a misspelt ``entry:`` (same version, or a new one) is refused before anything is
    recorded: the installed version keeps launching with --no-update and with the manifest unreachable."""
    root = installed_root.copy(tmp_path / 'root')
    before = _snapshot(root)
    manifest = installed_root.wheels.write_manifest(f'typo-{version}-{tmp_path.name}.yaml',
                                                    make_manifest(version, entry='slapp.clii:main'))
    assert main([str(manifest), APP, '--root', str(root)]) == EXIT_USAGE
    assert "apps.slapp.entry: No module named 'slapp.clii'" in _error_line(capfd.readouterr().err)
    assert _snapshot(root) == before
    rec = _state(root)['apps'][APP]
    assert rec['current'] == '1.0' and rec['versions']['1.0']['entry'] == 'slapp.cli:main'
    assert main([str(manifest), APP, '--root', str(root), '--no-update', '--', 'a']) == 0
    assert _lines(capfd.readouterr().out)[0] == 'app v1 --from-manifest a'
    assert main([str(tmp_path / 'unreachable.yaml'), APP, '--root', str(root), '--', 'b']) == 0
    out, err = capfd.readouterr()
    assert _lines(out)[0] == 'app v1 --from-manifest b' and 'launching the installed slapp 1.0' in err
    # the corrected manifest is taken at once
    fixed = installed_root.wheels.write_manifest(f'fixed-{version}-{tmp_path.name}.yaml',
                                                 make_manifest(version, entry='slapp' if version == '2.0'
                                                               else 'slapp.cli:main'))
    assert main([str(fixed), APP, '--root', str(root), '--', 'c']) == 0
    assert _lines(capfd.readouterr().out)[0] == ('app v2 --from-manifest c' if version == '2.0'
                                                 else 'app v1 --from-manifest c')


def test_new_version_whose_entry_module_fails_to_import_is_not_switched_to(installed_root: Any, tmp_path: Path,
                                                                            make_manifest: Callable,
                                                                            wheel_builder: Callable,
                                                                            capfd: Any) -> None:
    """The entry point check imports the entry's module: a release whose import raises is refused like a failed
    install (the installed version runs, a warning names the error), never recorded."""
    root = installed_root.copy(tmp_path / 'root')
    wheels = tmp_path / 'src' / 'wheels'
    import shutil

    shutil.copytree(installed_root.wheels.dir, wheels)
    wheel_builder(wheels, 'slapp', '3.0', {'slapp/__init__.py': '', 'slapp/cli.py': "raise RuntimeError('boom')\n"})
    manifest = wheels.parent / 'm3.yaml'
    manifest.write_text(make_manifest('3.0'))
    assert main([str(manifest), APP, '--root', str(root)]) == 0
    out, err = capfd.readouterr()
    assert _lines(out)[0] == 'app v1 --from-manifest'
    assert "the entry point 'slapp.cli:main' of 'slapp' 3.0 cannot be imported: RuntimeError: boom" in err
    assert 'launching the installed version 1.0' in err
    assert _state(root)['apps'][APP]['current'] == '1.0' and '3.0' not in _state(root)['apps'][APP]['versions']


def _alias_bomb() -> str:
    levels = ['a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]']
    for prev, name in zip('abcdefgh', 'bcdefghi'):
        levels.append(f'{name}: &{name} [' + ','.join([f'*{prev}'] * 9) + ']')
    return 'environments: {main: {}}\napps: {}\nx-bomb:\n' + ''.join(f'  {line}\n' for line in levels)


def test_alias_bomb_is_rejected_in_well_under_a_second(tmp_path: Path, capfd: Any) -> None:
    text = _alias_bomb()
    assert len(text.encode()) < 420  # the bomb is 398 bytes: 9 ** 9 values once expanded
    manifest = tmp_path / 'bomb.yaml'
    manifest.write_text(text, encoding='utf-8')
    started = time.perf_counter()
    code = main([str(manifest), APP, '--root', str(tmp_path / 'root')])
    elapsed = time.perf_counter() - started
    assert code == EXIT_USAGE and elapsed < 0.5, elapsed
    line = _error_line(capfd.readouterr().err)
    assert f'{manifest}:3: x-bomb: expands to more than' in line and 'alias' in line


def test_deep_manifest_is_one_line_exit_2(tmp_path: Path, capfd: Any) -> None:
    manifest = tmp_path / 'deep.yaml'
    manifest.write_text('environments: {main: {}}\napps: {}\nx-deep: ' + '[' * 3000 + ']' * 3000 + '\n')
    assert main([str(manifest), APP, '--root', str(tmp_path / 'root')]) == EXIT_USAGE
    assert f'{manifest}:3: nested more than 64 levels deep' in _error_line(capfd.readouterr().err)
    deep_json = tmp_path / 'deep.json'
    deep_json.write_text('{"environments": {"main": {}}, "apps": {}, "x": ' + '[' * 100000 + ']' * 100000 + '}')
    assert main([str(deep_json), APP, '--root', str(tmp_path / 'root')]) == EXIT_USAGE
    assert 'nested more than 64 levels deep' in _error_line(capfd.readouterr().err)


def test_only_what_slaunch_created_is_ever_deleted(installed_root: Any, tmp_path: Path, make_manifest: Callable,
                                                   capfd: Any) -> None:
    """Files in the root that slaunch did not create (a root pointed at the wrong directory) are left alone."""
    root = installed_root.copy(tmp_path / 'root')
    mine = [root / 'apps' / 'notes' / 'todo' / 'a.txt', root / 'envs' / 'my-env' / 'x', root / 'libs' / 'l' / 'v' / 'y',
            root / 'layers' / 'main' / 'z']
    for path in mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('mine')
    v2 = installed_root.wheels.write_manifest(f'own-{tmp_path.name}.yaml', make_manifest('2.0', entry='slapp', keep=1))
    assert launch_app(APP, v2, root=root) == 0
    assert all(path.read_text() == 'mine' for path in mine)
    assert not (root / 'apps' / APP / '1.0').exists()  # what slaunch installed and retired is gone
    capfd.readouterr()
