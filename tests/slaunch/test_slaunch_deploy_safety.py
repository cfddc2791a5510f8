"""slaunch.deploy under stress: concurrent deployers (one lock per repository), a deploy killed in the middle of
an ``overwrite=True`` replacement (rolled back or forward by the next deploy), a full disk, and names every
launcher would refuse (refused at deploy time).

Deployers run in real child processes; the kill is a real SIGKILL at a point the deploy announces through its
test seam (``SLAUNCH_DEPLOY_TEST_PAUSE``: it creates ``<point>.reached`` and waits for ``<point>.go``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

from scitrera_app_framework.slaunch import deploy
from scitrera_app_framework.slaunch._files import read_sums
from scitrera_app_framework.slaunch.errors import DeployError
from scitrera_app_framework.slaunch.repository import read_index


def write_tree(base: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text, encoding='utf-8')
    return base


def _wait_for(path: Path, proc: subprocess.Popen, what: str) -> None:
    """Wait (generously) until ``path`` exists; fail at once if ``proc`` exits first."""
    deadline = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f'the deployer exited ({proc.returncode}) before {what}: {out}{err}')
        assert time.monotonic() < deadline, f'the deployer never reached {what}'
        time.sleep(0.01)


# ------------------------------------------------------------------------------------------------ one lock

WORKER = textwrap.dedent('''\
    import os, sys, time
    from pathlib import Path
    from scitrera_app_framework.slaunch import deploy
    worker, rounds, src, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    for i in range(1, rounds + 1):
        lib = src / f'lib{worker}-{i}'
        deploy.deploy_library(f'l{worker}', lib, update_current=(i % 2 == 1), version=f'1.{i}')
        deploy.update_manifest(f'l{worker}', libs=True, force_current_ver='1.1')
        deploy.deploy_library('shared', lib, version=f'{worker}.{i}')
        deploy.deploy_application(f'a{worker}', src / 'app', environment='base', version=f'2.{i}')
        deploy.update_manifest(f'a{worker}', update_current_ver=True)
    ''')


def test_concurrent_deployers_lose_nothing(tmp_path: Path) -> None:
    """Four processes deploy libs and apps and rewrite both indexes at once: every entry is there with the right
    ``current`` and ``latest`` (the libs index and the apps index are written under the repository's one lock)."""
    repo, src, go = tmp_path / 'repo', tmp_path / 'src', tmp_path / 'go'
    workers, rounds = 4, 6
    for w in range(workers):
        for i in range(1, rounds + 1):
            write_tree(src / f'lib{w}-{i}', {'manifest.yaml': '', f'l{w}/__init__.py': f"V = '{w}.{i}'\n"})
    write_tree(src / 'app', {'main.py': "print('x')\n"})
    env = dict(os.environ, SLAUNCH_REPOSITORY_PATH=str(repo))
    procs = [subprocess.Popen([sys.executable, '-c', WORKER, str(w), str(rounds), str(src), str(go)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(workers)]
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    libs = read_index(repo / '_libs' / 'manifest.yaml', what='lib')
    apps = read_index(repo / 'manifest.yaml')
    assert sorted(libs) == sorted([f'l{w}' for w in range(workers)] + ['shared'])
    for w in range(workers):
        assert (libs[f'l{w}'].current, libs[f'l{w}'].latest) == ('1.1', f'1.{rounds}')
        assert (apps[f'a{w}'].current, apps[f'a{w}'].latest) == (f'2.{rounds}', f'2.{rounds}')
    assert libs['shared'].latest == f'{workers - 1}.{rounds}' and libs['shared'].current is not None
    deployed = sorted(p.name for p in (repo / '_libs' / 'shared').iterdir())
    assert deployed == sorted(f'{w}.{i}' for w in range(workers) for i in range(1, rounds + 1))


def test_a_deploy_waiting_for_the_lock_says_it_waits_for_a_deploy(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """While another deployer holds the repository's lock, a deploy waits with one INFO line saying so (not
    "installing": that is the launcher's lock), then deploys once the lock is free."""
    import fcntl
    import logging
    import threading

    from scitrera_app_framework.slaunch.deploy import DEPLOY_LOCK

    repo = tmp_path / 'repo'
    repo.mkdir()
    app = write_tree(tmp_path / 'app', {'main.py': "print('x')\n"})
    caplog.set_level(logging.INFO)
    with open(repo / DEPLOY_LOCK, 'w') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        t = threading.Thread(target=deploy.deploy_application, args=('wapp', app),
                             kwargs={'environment': 'base', 'version': '1.0', 'repository': str(repo)}, daemon=True)
        t.start()
        deadline = time.monotonic() + 60
        while not any('waiting for another slaunch' in r.getMessage() for r in caplog.records):
            assert t.is_alive() and time.monotonic() < deadline, 'the deploy neither waited nor said so'
            time.sleep(0.01)
        assert not (repo / 'wapp').exists()
    t.join(60)
    assert not t.is_alive()
    [line] = [r.getMessage() for r in caplog.records if 'waiting for another slaunch' in r.getMessage()]
    assert line == f'waiting for another slaunch to finish deploying in {repo}'
    assert read_index(repo / 'manifest.yaml')['wapp'].latest == '1.0'


def test_a_lock_the_file_system_refuses_is_a_deploy_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NFS emulates flock with write locks, refused (EBADF) on a lock file opened read-only, and some mounts have
    no locks at all (ENOLCK): the deploy fails with a DeployError naming the lock file and the reason, deploying
    nothing. (NFS cannot run here: flock is made to fail the way it fails there.)"""
    import errno
    import fcntl

    repo = tmp_path / 'repo'
    app = write_tree(tmp_path / 'app', {'main.py': "print('x')\n"})

    def refuse(fd: int, op: int) -> None:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    monkeypatch.setattr(fcntl, 'flock', refuse)
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('napp', app, environment='base', version='1.0', repository=str(repo))
    assert f'cannot lock the repository {repo}' in str(info.value) and 'Bad file descriptor' in str(info.value)
    assert not (repo / 'napp').exists() and not (repo / 'manifest.yaml').exists()


# ------------------------------------------------------------------------------------------------ kill -9

REDEPLOY = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    deploy.deploy_application('capp', sys.argv[1], environment='base', overwrite=True)
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='SIGKILL')
@pytest.mark.parametrize(('point', 'survivor'), [('replace-old-moved', 'old'), ('replace-new-placed', 'new')])
def test_killed_overwrite_is_rolled_back_or_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str,
                                                    survivor: str) -> None:
    repo, pause = tmp_path / 'repo', tmp_path / 'pause'
    pause.mkdir()
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    old_src = write_tree(tmp_path / 'v-old', {'main.py': "print('old')\n", 'VERSION': '1.0'})
    new_src = write_tree(tmp_path / 'v-new', {'main.py': "print('new')\n", 'VERSION': '1.0', 'extra.py': ''})
    deploy.deploy_application('capp', old_src, environment='base')
    env = dict(os.environ, SLAUNCH_DEPLOY_TEST_PAUSE=f'{point}:{pause}')
    proc = subprocess.Popen([sys.executable, '-c', REDEPLOY, str(new_src)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(pause / f'{point}.reached', proc, point)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    parent = repo / 'capp'
    assert (parent / '.old-1.0').is_dir()  # the old copy is never deleted before the new one is in place
    assert (parent / '1.0').is_dir() == (survivor == 'new')

    # the next deploy into the repository (here: another version of the same app) finishes or undoes it
    deploy.deploy_application('capp', write_tree(tmp_path / 'v11', {'main.py': '', 'VERSION': '1.1'}),
                              environment='base')
    assert sorted(p.name for p in parent.iterdir()) == ['1.0', '1.1']
    expected = "print('new')\n" if survivor == 'new' else "print('old')\n"
    assert (parent / '1.0' / 'main.py').read_text() == expected
    sums = read_sums(parent / '1.0' / '.slaunch-files.sha256')
    assert sorted(sums) == sorted(p.name for p in (parent / '1.0').iterdir() if not p.name.startswith('.'))
    assert read_index(repo / 'manifest.yaml')['capp'].current == '1.0'


NEW_APP_DEPLOY = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    deploy.deploy_application('napp', sys.argv[1], environment='base')
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='SIGKILL')
@pytest.mark.parametrize('point', ['copying', 'staged'])
@pytest.mark.parametrize('first', [True, False], ids=['first-app', 'other-apps'])
def test_a_killed_deploy_of_a_new_app_leaves_no_empty_app_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capfd: pytest.CaptureFixture[str], point: str,
                                                                    first: bool) -> None:
    """SIGKILL a deploy of a NEW app after it started writing and before its version was placed: no
    ``<repository>/napp/`` without a version is left (a launcher sees no such app: its message says so, not that
    the repository cannot be read), and the next deploy of the app succeeds and leaves nothing half-made."""
    from scitrera_app_framework.slaunch.main import main

    repo, pause = tmp_path / 'repo', tmp_path / 'pause'
    pause.mkdir()
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    monkeypatch.setenv('SLAUNCH_CACHE_PATH', str(tmp_path / 'cache'))
    deploy.deploy_environments({'base': write_tree(tmp_path / 'env', {'requirements.txt': ''})})
    if not first:
        deploy.deploy_application('other', write_tree(tmp_path / 'other', {'main.py': '', 'VERSION': '2.0'}),
                                  environment='base')
    src = write_tree(tmp_path / 'napp', {'main.py': "print('napp')\n", 'VERSION': '1.0', 'big/data.txt': 'x' * 1000})
    env = dict(os.environ, SLAUNCH_DEPLOY_TEST_PAUSE=f'{point}:{pause}')
    proc = subprocess.Popen([sys.executable, '-c', NEW_APP_DEPLOY, str(src)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(pause / f'{point}.reached', proc, point)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (repo / 'napp').exists(), sorted(str(p.relative_to(repo)) for p in repo.rglob('*'))

    capfd.readouterr()
    assert main(['napp']) == 2
    err = capfd.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "app 'napp' is not in the repository" in err, err
    assert 'cannot be read' not in err and ('(apps: (none))' if first else '(apps: other)') in err, err

    deploy.deploy_application('napp', src, environment='base')  # the next deploy succeeds
    assert read_index(repo / 'manifest.yaml')['napp'].current == '1.0'
    assert sorted(p.name for p in (repo / 'napp').iterdir()) == ['1.0']
    assert not [p for p in repo.rglob('.deploy-*')], list(repo.rglob('.deploy-*'))  # no staging left anywhere


def test_an_app_directory_left_without_a_version_is_removed_by_the_next_deploy(tmp_path: Path) -> None:
    """Such directories were left by a killed deploy before this fix (empty, or holding only staging): the next
    deploy into the repository removes them (never one holding a version, nor the environments or libs)."""
    repo = tmp_path / 'repo'
    write_tree(repo, {'ghost/.deploy-1.0-abcd1234/main.py': '', 'kept/1.0/main.py': ''})
    (repo / 'empty').mkdir()
    (repo / '_libs' / 'emptylib').mkdir(parents=True)
    deploy.deploy_environments({'base': write_tree(tmp_path / 'env', {'requirements.txt': ''})}, repository=repo)
    assert sorted(p.name for p in repo.iterdir()) == ['.deploy.lock', '_env', '_libs', 'kept']
    assert list((repo / '_libs').iterdir()) == []


def test_an_old_trash_directory_is_restored_not_deleted(tmp_path: Path) -> None:
    """slaunch 0.1's replacement left ``.trash-<v>-*/<v>`` when killed; the next deploy restores it."""
    repo = tmp_path / 'repo'
    write_tree(repo / 'capp' / '.trash-1.0-abc' / '1.0', {'main.py': 'kept'})
    deploy.deploy_environments({'base': write_tree(tmp_path / 'env', {'requirements.txt': ''})}, repository=repo)
    assert sorted(p.name for p in (repo / 'capp').iterdir()) == ['1.0']
    assert (repo / 'capp' / '1.0' / 'main.py').read_text() == 'kept'


# ------------------------------------------------------------------------------------------------ full disk


@contextlib.contextmanager
def _small_filesystem(path: Path) -> Iterator[bool]:
    """A 1 MiB tmpfs at ``path`` (True), or, where mounting is not allowed, nothing (False: the caller runs the
    deploy in a child with RLIMIT_FSIZE instead, where a large write fails with EFBIG)."""
    path.mkdir()
    mounted = False
    if sys.platform.startswith('linux') and hasattr(os, 'geteuid') and os.geteuid() == 0:
        mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', str(path)],
                                 capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(['umount', str(path)], check=True)


FULL_DISK_CHILD = textwrap.dedent('''\
    import resource, signal, sys
    from scitrera_app_framework.slaunch import deploy
    from scitrera_app_framework.slaunch.errors import DeployError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
    try:
        deploy.deploy_application('big', sys.argv[1], environment='base', repository=sys.argv[2])
    except DeployError as exc:
        print('DeployError:', exc)
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='tmpfs / RLIMIT_FSIZE')
def test_full_disk_is_a_deploy_error_and_changes_nothing(tmp_path: Path) -> None:
    src = write_tree(tmp_path / 'big', {'VERSION': '1.0', 'main.py': ''})
    (src / 'data.bin').write_bytes(os.urandom(2 * 1024 * 1024))
    small = tmp_path / 'small'
    with _small_filesystem(small) as mounted:
        repo = small / 'repo'
        deploy.deploy_environments({'base': write_tree(tmp_path / 'env', {'requirements.txt': ''})},
                                   repository=repo)
        before = sorted(str(p.relative_to(repo)) for p in repo.rglob('*'))
        if mounted:
            with pytest.raises(DeployError) as info:
                deploy.deploy_application('big', src, environment='base', repository=repo)
            message = str(info.value)
            assert isinstance(info.value.__cause__, OSError)
        else:
            proc = subprocess.run([sys.executable, '-c', FULL_DISK_CHILD, str(src), str(repo)], capture_output=True,
                                  text=True, timeout=120)
            assert proc.returncode == 0 and proc.stdout.startswith('DeployError:'), proc.stdout + proc.stderr
            message = proc.stdout
        assert 'deploying big 1.0 failed:' in message and 'data.bin' in message
        assert 'the disk holding the repository is full' in message and 'the repository is as it was' in message
        assert sorted(str(p.relative_to(repo)) for p in repo.rglob('*')) == before  # no staging left, no index
        small_src = write_tree(tmp_path / 'small-app', {'VERSION': '1.0', 'main.py': ''})
        deploy.deploy_application('big', small_src, environment='base', repository=repo)  # space enough now
        assert read_index(repo / 'manifest.yaml')['big'].current == '1.0'


# ------------------------------------------------------------------------------------------------ launcher refusals


@pytest.mark.skipif(sys.platform == 'win32', reason='such file names cannot be created there')
@pytest.mark.parametrize(('name', 'shown', 'reason'), [
    ('a\\b.py', r"'a\\b.py'", 'backslash'), ('a\nb.py', r"'a\nb.py'", 'control character'),
    ('sub/x\r.py', r"'sub/x\r.py'", 'control character'), ('a\u2028b', r"'a\u2028b'", 'control character'),
    # Windows device names, with any extension and in any case, as a file or a directory
    ('CON', "'CON'", "'CON' is a reserved device name on Windows"),
    ('nul.txt', "'nul.txt'", "'nul.txt' is a reserved device name on Windows"),
    ('sub/COM1', "'sub/COM1'", "'COM1' is a reserved device name"),
    ('Lpt9.tar.gz', "'Lpt9.tar.gz'", 'reserved device name'),
    ('aux/x.py', "'aux/x.py'", "'aux' is a reserved device name"),
    ('prn .txt', "'prn .txt'", 'reserved device name'),
])
def test_file_names_a_launcher_refuses_are_refused(tmp_path: Path, name: str, shown: str, reason: str) -> None:
    repo = tmp_path / 'repo'
    app = write_tree(tmp_path / 'capp', {'VERSION': '1.0', 'main.py': '', name: 'x'})
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('capp', app, environment='base', repository=repo)
    assert f'capp 1.0: the file {shown} of {app} cannot be deployed' in str(info.value)
    assert reason in str(info.value), str(info.value)
    assert not (repo / 'capp' / '1.0').exists() and not (repo / 'manifest.yaml').exists()
    lib = write_tree(tmp_path / 'lib', {'manifest.yaml': '', 'l/__init__.py': '', name: 'x'})
    with pytest.raises(DeployError, match='cannot be deployed'):
        deploy.deploy_library('l', lib, version='1', repository=repo)


@pytest.mark.parametrize('entry', ['../x', '/etc/passwd', 'c:main.py', 'sub/../../x', 'a\nb.py'])
def test_entrypoint_outside_the_version_is_refused(tmp_path: Path, entry: str) -> None:
    repo = tmp_path / 'repo'
    write_tree(tmp_path, {'x': "print('outside')\n"})  # '../x' exists, seen from the app's directory
    app = write_tree(tmp_path / 'capp', {'VERSION': '1.0', 'main.py': '', 'sub/m.py': ''})
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('capp', app, environment='base', entrypoint=entry, repository=repo)
    assert f'entrypoint {entry!r} must be a relative path of a file of the app' in str(info.value)
    assert 'every launcher would refuse it' in str(info.value)
    write_tree(app, {'manifest.yaml': f'environment: base\nentrypoint: {json.dumps(entry)}\n'})
    with pytest.raises(DeployError, match='must be a relative path'):  # from the app's own manifest.yaml too
        deploy.deploy_application('capp', app, repository=repo)
    assert not (repo / 'capp').exists()


def test_a_manifest_a_launcher_refuses_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / 'repo'
    app = write_tree(tmp_path / 'capp', {'VERSION': '1.0', 'main.py': '',
                                         'manifest.yaml': 'environment: base\npip_requirements: {a: 1}\n'})
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('capp', app, repository=repo)
    message = str(info.value)
    assert message.startswith('capp 1.0: a launcher would refuse this version: ')
    assert f'{repo / "capp" / "1.0" / "manifest.yaml"}:' in message and 'pip_requirements' in message
    assert sorted(p.name for p in repo.iterdir()) == ['.deploy.lock']


@pytest.mark.skipif(sys.platform == 'win32', reason='symlinks')
def test_symlinks_inside_the_source_are_copied_as_launchers_copy_them(tmp_path: Path) -> None:
    from scitrera_app_framework.slaunch.repository import copy_tree

    repo = tmp_path / 'repo'
    app = write_tree(tmp_path / 'capp', {'VERSION': '1.0', 'main.py': "print('m')\n", 'pkg/x.py': ''})
    (app / 'alias.py').symlink_to('main.py')
    deploy.deploy_application('capp', app, environment='base', repository=repo)
    copy_tree(repo / 'capp' / '1.0', tmp_path / 'copy', 'capp 1.0')  # checks every hash, as a launcher does
    assert (tmp_path / 'copy' / 'alias.py').read_text() == "print('m')\n"
    (app / 'pkg2').symlink_to('pkg')
    with pytest.raises(DeployError, match='pkg2 is a symlink to a directory'):
        deploy.deploy_application('capp', app, environment='base', repository=repo, version='1.1')


def test_an_index_that_cannot_be_written_leaves_no_unrecorded_version(tmp_path: Path) -> None:
    repo = tmp_path / 'repo'
    app = write_tree(tmp_path / 'capp', {'VERSION': '1.0', 'main.py': ''})
    write_tree(repo, {'manifest.yaml': 'capp: [1.0]\n'})  # malformed: the deploy cannot record anything
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('capp', app, environment='base', repository=repo)
    assert 'manifest.yaml:1: capp: expected a mapping' in str(info.value)
    assert 'nothing of capp 1.0 was deployed' in str(info.value)
    assert sorted(p.name for p in repo.iterdir()) == ['.deploy.lock', 'manifest.yaml']
    (repo / 'manifest.yaml').write_text('')
    deploy.deploy_application('capp', app, environment='base', repository=repo)  # a retry works
    (repo / 'manifest.yaml').write_text('capp: [1.0]\n')
    with pytest.raises(DeployError, match=r"the new copy of capp 1\.0 is in place.*update_manifest\('capp', '1\.0'\)"):
        deploy.deploy_application('capp', app, environment='base', repository=repo, overwrite=True)
