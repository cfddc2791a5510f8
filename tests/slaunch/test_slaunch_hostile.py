"""slaunch.deploy attacked as a hostile user and an operator would: build directories holding what cannot be
deployed (pipes, dangling links, names that are not UTF-8), manifests with wrong types or numbers for versions,
an index with the operator's own ``x-`` annotations, names that collide with the repository's own files, a
deploy killed after its version was placed but before the index names it, and a repository that cannot be
written.

Each test was written before its fix and failed then (a traceback, a silently wrong version, lost data or a
message blaming the wrong thing)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, Union

import pytest

from scitrera_app_framework.slaunch import deploy
from scitrera_app_framework.slaunch.errors import DeployError
from scitrera_app_framework.slaunch.repository import read_app_version_spec, read_index


def write_tree(base: Path, files: Dict[str, Union[str, bytes]]) -> Path:
    for rel, data in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode('utf-8'))
    return base


def _listing(repo: Path) -> list:
    return sorted(str(p.relative_to(repo)) for p in repo.rglob('*'))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / 'repo'
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(path))
    deploy.deploy_environments({'base': write_tree(tmp_path / 'env', {'requirements.txt': ''})})
    return path


# ------------------------------------------------------------------------------------------------ data loss


def test_the_operators_x_annotations_in_the_index_survive_a_deploy(repo: Path, tmp_path: Path) -> None:
    """An index is read with its ``x-`` keys ignored; rewriting it must not drop them (nor their content)."""
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    deploy.deploy_application('a', app, environment='base')
    with open(repo / 'manifest.yaml', 'a', encoding='utf-8') as handle:
        handle.write('x-owner: {team: ops, pager: 1234}\n')
    lib = write_tree(tmp_path / 'l', {'manifest.yaml': '', 'l/__init__.py': "__version__ = '1'\n"})
    deploy.deploy_library('l', lib)
    with open(repo / '_libs' / 'manifest.yaml', 'a', encoding='utf-8') as handle:
        handle.write('x-note: frozen until Monday\n')
    deploy.deploy_application('a', write_tree(tmp_path / 'a2', {'VERSION': '1.1', 'main.py': ''}),
                              environment='base')
    deploy.update_manifest('a', force_current_ver='1.0')
    deploy.deploy_library('l', lib, version='2', update_current=True)
    deploy.update_manifest('l', libs=True, force_current_ver='1')
    import yaml

    apps = yaml.safe_load((repo / 'manifest.yaml').read_text())
    libs = yaml.safe_load((repo / '_libs' / 'manifest.yaml').read_text())
    assert apps['x-owner'] == {'team': 'ops', 'pager': 1234}
    assert libs['x-note'] == 'frozen until Monday'
    assert read_index(repo / 'manifest.yaml')['a'].current == '1.0'
    assert read_index(repo / '_libs' / 'manifest.yaml', what='lib')['l'].current == '1'


def test_versions_written_as_yaml_numbers_keep_their_digits(repo: Path, tmp_path: Path) -> None:
    """``version: 1.10`` and ``lib_versions: {shared: 1.10}`` are the versions 1.10 (a launcher reads them as
    written), not the float 1.1: deploy must not turn the pin into another, older version."""
    lib = write_tree(tmp_path / 'shared', {'manifest.yaml': 'version: 1.10\n', 'shared/__init__.py': ''})
    deploy.deploy_library('shared', lib)
    assert sorted(p.name for p in (repo / '_libs' / 'shared').iterdir()) == ['1.10']
    assert deploy.read_lib_version(lib, 'shared') == '1.10'
    deploy.deploy_library('shared', write_tree(tmp_path / 'shared11', {'manifest.yaml': 'version: 1.1\n',
                                                                        'shared/__init__.py': ''}))
    app = write_tree(tmp_path / 'a', {'main.py': '', 'manifest.yaml': 'version: 2.10\nenvironment: base\n'
                                                                     'lib_versions: {shared: 1.10}\n'})
    assert deploy.read_app_version(app, 'a') == '2.10'
    deploy.deploy_application('a', app)
    spec = read_app_version_spec(repo, 'a', '2.10')
    assert spec.lib_versions == {'shared': '1.10'}


# ------------------------------------------------------------------------------------------------ one-line errors


def test_lib_versions_that_is_not_a_mapping_is_a_deploy_error(repo: Path, tmp_path: Path) -> None:
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': '',
                                      'manifest.yaml': 'environment: base\nlib_versions: [shared]\n'})
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('a', app)
    assert 'lib_versions' in str(info.value) and 'mapping' in str(info.value)
    assert str(app / 'manifest.yaml') in str(info.value)
    with pytest.raises(DeployError, match='lib_versions'):
        deploy.deploy_application('a', write_tree(tmp_path / 'b', {'VERSION': '1.0', 'main.py': ''}),
                                  environment='base', lib_versions=['shared'])  # type: ignore[arg-type]


@pytest.mark.parametrize(('data', 'expected'), [('1.0'.encode('utf-16'), None), (b'\xef\xbb\xbf1.0\r\n', '1.0'),
                                                (b'\xff\xfe\x00', None)])
def test_a_version_file_that_is_not_utf8_is_a_deploy_error(repo: Path, tmp_path: Path, data: bytes,
                                                           expected: Any) -> None:
    """A VERSION file written by Windows tools (UTF-16, or UTF-8 with a BOM) is read or refused by name."""
    app = write_tree(tmp_path / 'a', {'VERSION': data, 'main.py': ''})
    if expected is None:
        with pytest.raises(DeployError) as info:
            deploy.read_app_version(app, 'a')
        assert str(app / 'VERSION') in str(info.value) and 'UTF-8' in str(info.value)
    else:
        assert deploy.read_app_version(app, 'a') == expected


@pytest.mark.skipif(sys.platform != 'linux', reason='file names that are not UTF-8 exist on Linux only')
def test_a_file_name_that_is_not_utf8_is_refused_by_name(repo: Path, tmp_path: Path) -> None:
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    (app / os.fsdecode(b'caf\xe9.py')).write_text('')
    before = _listing(repo)
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('a', app, environment='base')
    assert 'cannot be deployed' in str(info.value) and 'UTF-8' in str(info.value)
    assert _listing(repo) == before


@pytest.mark.skipif(sys.platform == 'win32', reason='FIFOs and symlinks')
@pytest.mark.parametrize('kind', ['fifo', 'dangling', 'socket', 'loop'])
def test_a_build_file_that_cannot_be_copied_is_named_as_the_builds_problem(repo: Path, tmp_path: Path,
                                                                           kind: str) -> None:
    """A pipe (which could block or stream for ever), a socket or a dangling link in the build directory is
    refused before anything is copied; the message names the file and does not blame the repository."""
    import socket

    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    bad = app / 'sub' / 'thing'
    bad.parent.mkdir()
    if kind == 'fifo':
        os.mkfifo(bad)
    elif kind == 'dangling':
        bad.symlink_to('missing.py')
    elif kind == 'loop':
        bad.symlink_to('thing')
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(bad))
        sock.close()
    before = _listing(repo)
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('a', app, environment='base')
    message = str(info.value)
    assert "'sub/thing'" in message and 'cannot be deployed' in message and 'permissions' not in message
    assert 'ignore_fn' in message
    assert {'fifo': 'named pipe', 'socket': 'a socket', 'dangling': "symlink to 'missing.py', which does not exist",
            'loop': "symlink to 'thing' that cannot be followed: Too many levels"}[kind] in message
    assert _listing(repo) == before


@pytest.mark.parametrize('name', ['manifest.yaml', 'Manifest.YAML', 'x-tool'])
def test_names_of_the_repositorys_own_files_are_refused(repo: Path, tmp_path: Path, name: str) -> None:
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    with pytest.raises(DeployError) as info:
        deploy.deploy_application(name, app, environment='base')
    assert f'invalid app name {name!r}' in str(info.value) and 'index' in str(info.value)
    assert not (repo / name).exists() and not (repo / 'manifest.yaml').exists()
    lib = write_tree(tmp_path / 'l', {'manifest.yaml': '', 'VERSION': '1'})
    with pytest.raises(DeployError, match=f'invalid lib name {name!r}'):
        deploy.deploy_library(name, lib)
    with pytest.raises(DeployError, match=f'invalid app name {name!r}'):
        deploy.update_manifest(name, '1.0')


UNREADABLE_CHILD = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    from scitrera_app_framework.slaunch.errors import DeployError
    try:
        deploy.deploy_application('a', sys.argv[1], environment='base', repository=sys.argv[2])
    except DeployError as exc:
        print('DeployError:', exc)
    ''')


def _without_root_file_access() -> list:
    """The command prefix that runs a child without root's permission to read any file (``setpriv`` drops
    CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH), or nothing when not root."""
    if not hasattr(os, 'geteuid') or os.geteuid() != 0:
        return []
    return ['setpriv', '--bounding-set=-dac_override,-dac_read_search']


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX file modes')
def test_a_build_file_that_cannot_be_read_is_named_as_the_builds_problem(repo: Path, tmp_path: Path) -> None:
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': '', 'locked.py': 'x'})
    (app / 'locked.py').chmod(0)
    before = _listing(repo)
    try:
        proc = subprocess.run([*_without_root_file_access(), sys.executable, '-c', UNREADABLE_CHILD, str(app),
                               str(repo)], capture_output=True, text=True, timeout=120)
    finally:
        (app / 'locked.py').chmod(0o644)
    assert proc.stdout.startswith('DeployError:'), proc.stdout + proc.stderr
    assert "the file 'locked.py' of" in proc.stdout and 'permission denied' in proc.stdout
    assert 'ignore_fn' in proc.stdout and "repository's permissions" not in proc.stdout
    assert _listing(repo) == before


# ------------------------------------------------------------------------------------------------ kill -9, then launch

KILLED_DEPLOY = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    deploy.deploy_application('rapp', sys.argv[1], True, environment='base', lib_versions={'rlib': '0.5'})
    ''')


def _wait_for(path: Path, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f'the deployer exited ({proc.returncode}) before {what}: {out}{err}')
        assert time.monotonic() < deadline, f'the deployer never reached {what}'
        time.sleep(0.01)


@pytest.mark.skipif(sys.platform == 'win32', reason='needs SIGKILL')
@pytest.mark.parametrize('point', ['locked', 'copying', 'staged', 'placed'])
def test_a_deploy_killed_at_any_step_then_launch_and_retry(repository: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch, capfd: Any,
                                                           point: str) -> None:
    """SIGKILL a deploy of rapp 1.1 (``update_current``) at each step: launchers keep running 1.0, the repository
    holds nothing half-made once the next deploy ran, and the CI's retry of the same deploy succeeds (a version
    placed before the kill, with the same files, is recorded rather than refused)."""
    from scitrera_app_framework.slaunch.main import main

    repo, cache = repository.copy(tmp_path)
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    monkeypatch.setenv('SLAUNCH_CACHE_PATH', str(cache))
    src = write_tree(tmp_path / 'rapp11', {'main.py': "import rlib\nprint('rapp v11', rlib.VALUE)\n",
                                           'VERSION': '1.1\n', 'big/data.txt': 'x' * 100_000, 'z.py': ''})
    pause = tmp_path / 'pause'
    pause.mkdir()
    env = dict(os.environ, SLAUNCH_DEPLOY_TEST_PAUSE=f'{point}:{pause}')
    proc = subprocess.Popen([sys.executable, '-c', KILLED_DEPLOY, str(src)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(pause / f'{point}.reached', proc, point)
    assert main(['rapp', 'during']) == 0  # a launch while the deployer holds the lock, at that step
    assert capfd.readouterr().out.split() == ['rapp', 'v1', 'rlib05', 'lib1', 'rdep1', 'during']
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert read_index(repo / 'manifest.yaml')['rapp'].current == '1.0'
    assert main(['rapp', 'after']) == 0  # after the kill: still 1.0
    assert capfd.readouterr().out.split() == ['rapp', 'v1', 'rlib05', 'lib1', 'rdep1', 'after']

    deploy.deploy_application('rapp', src, True, environment='base', lib_versions={'rlib': '0.5'})  # the retry
    entry = read_index(repo / 'manifest.yaml')['rapp']
    assert (entry.current, entry.latest) == ('1.1', '1.1')
    assert sorted(p.name for p in (repo / 'rapp').iterdir()) == ['1.0', '1.1']  # no staging left
    assert main(['rapp', 'retried']) == 0
    assert capfd.readouterr().out.split() == ['rapp', 'v11', 'rlib05']
    with pytest.raises(DeployError, match='already deployed .* with other files'):  # other files: still refused
        deploy.deploy_application('rapp', write_tree(tmp_path / 'other', {'main.py': '', 'VERSION': '1.1'}),
                                  environment='base')


def test_an_unchanged_environment_is_not_replaced_under_launchers(repo: Path, tmp_path: Path) -> None:
    """Every CI build deploys its environments again; replacing an unchanged one left a moment where
    ``_env/base`` did not exist (a launch then warned "not in the repository" or, with nothing cached, failed). The
    same files are left in place; changed (or damaged) ones are replaced."""
    env_dir = repo / '_env' / 'base'
    before = env_dir.stat().st_ino
    deploy.deploy_environments({'base': tmp_path / 'env'})
    assert env_dir.stat().st_ino == before
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    deploy.deploy_application('a', app, environment='base')
    version_dir = repo / 'a' / '1.0'
    before = version_dir.stat().st_ino
    deploy.deploy_application('a', app, environment='base', overwrite=True)
    assert version_dir.stat().st_ino == before
    (version_dir / 'main.py').write_text('damaged')  # an edit in the repository: an overwrite repairs it
    deploy.deploy_application('a', app, environment='base', overwrite=True)
    assert version_dir.stat().st_ino != before and (version_dir / 'main.py').read_text() == ''
    (tmp_path / 'env' / 'requirements.txt').write_text('sllib\n')
    before = env_dir.stat().st_ino
    deploy.deploy_environments({'base': tmp_path / 'env'})
    assert env_dir.stat().st_ino != before and (env_dir / 'requirements.txt').read_text() == 'sllib\n'


def test_the_readme_deploy_walk_through_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's deploy block, run as written on the build layout its text describes."""
    import re

    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text(encoding='utf-8')
    block = re.search(r'```python\n(from scitrera_app_framework\.slaunch import deploy\n\ndeploy\.deploy_environments'
                      r'.*?)```', readme, re.S)
    assert block, 'the README has no deploy walk-through block'
    code = block.group(1)
    envs = re.search(r"deploy_environments\('([^']+)'\)", code)
    assert envs
    write_tree(tmp_path, {f'{envs.group(1)}/base/requirements.txt': '',
                          'build/myapp/_myapp_version.py': "__version__ = '1.0'\n", 'build/myapp/main.py': '',
                          'build/myapp/manifest.yaml': 'environment: base\n',
                          'build/_libs/shared/shared/__init__.py': "__version__ = '1.2'\n",
                          'build/_libs/shared/manifest.yaml': ''})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(tmp_path / 'repo'))
    exec(compile(code, 'README.md', 'exec'), {})  # noqa: S102 - the documented calls, run as documented
    assert read_index(tmp_path / 'repo' / 'manifest.yaml')['myapp'].current == '1.0'
    assert read_index(tmp_path / 'repo' / '_libs' / 'manifest.yaml', what='lib')['shared'].current == '1.2'
    assert (tmp_path / 'repo' / '_env' / 'base' / 'requirements.txt').is_file()


@pytest.mark.parametrize('text', ['a: {current: "1.0"}\n\x00\x00\x00', 'a:\n  current: "1\x07.0"\n'])
def test_an_index_with_a_control_character_is_one_error_naming_it(repo: Path, tmp_path: Path, text: str) -> None:
    """A crash can leave a file's tail full of NUL bytes; such an index (or manifest) is a ManifestError with the
    file and line for launchers and a DeployError for deploys, not a raw yaml ReaderError."""
    from scitrera_app_framework.slaunch.errors import ManifestError

    deploy.deploy_application('a', write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''}), environment='base')
    (repo / 'manifest.yaml').write_text(text, encoding='utf-8')
    line = text[:text.index(next(ch for ch in text if ord(ch) < 9))].count('\n') + 1
    with pytest.raises(ManifestError) as info:
        read_index(repo / 'manifest.yaml')
    assert str(info.value).startswith(f'{repo / "manifest.yaml"}:{line}:') and 'not allowed' in str(info.value)
    with pytest.raises(DeployError, match=f'manifest.yaml:{line}:.*invalid YAML'):
        deploy.update_manifest('a', '1.0')
    write_tree(tmp_path / 'b', {'VERSION': '1.0', 'main.py': '', 'manifest.yaml': 'environment: base\x00\n'})
    with pytest.raises(DeployError, match='manifest.yaml:1:.*invalid YAML'):
        deploy.deploy_application('b', tmp_path / 'b')


@pytest.mark.skipif(sys.platform != 'linux', reason='names that differ only in case need a case-sensitive disk')
@pytest.mark.parametrize(('first', 'second'), [('pkg/Util.py', 'pkg/util.py'), ('caf\u00e9.py', 'cafe\u0301.py'),
                                               ('Data/a.txt', 'data/a.txt')])
def test_paths_that_collide_on_macos_or_windows_are_refused(repo: Path, tmp_path: Path, first: str,
                                                            second: str) -> None:
    """Two build files whose paths differ only in case or Unicode normalization are one file on a macOS or
    Windows launcher's disk: the copy would silently replace one by the other. Refused, naming both."""
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': '', first: 'one', second: 'two'})
    before = _listing(repo)
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('a', app, environment='base')
    message = str(info.value)
    assert repr(first) in message and repr(second) in message and 'case' in message
    assert _listing(repo) == before


READ_ONLY_CHILD = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    from scitrera_app_framework.slaunch.errors import DeployError
    for call in (lambda: deploy.deploy_application('a', sys.argv[1], environment='base', version='1.1'),
                 lambda: deploy.update_manifest('a', force_current_ver='1.0')):
        try:
            call()
        except DeployError as exc:
            print('DeployError:', exc)
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX file modes')
def test_a_read_only_repository_is_one_error_naming_it(repo: Path, tmp_path: Path) -> None:
    """A repository (and its lock file) the deployer cannot write: one DeployError line per call, nothing changed.
    With the lock directory itself unwritable too, the lock cannot even be created: named as such."""
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    deploy.deploy_application('a', app, environment='base')
    before = _listing(repo)
    (repo / '.deploy.lock').chmod(0o444)
    repo.chmod(0o555)
    try:
        proc = subprocess.run([*_without_root_file_access(), sys.executable, '-c', READ_ONLY_CHILD, str(app)],
                              capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, SLAUNCH_REPOSITORY_PATH=str(repo)))
    finally:
        repo.chmod(0o755)
        (repo / '.deploy.lock').chmod(0o644)
    lines = proc.stdout.splitlines()
    (repo / '.deploy.lock').unlink()
    repo.chmod(0o555)
    try:
        locked = subprocess.run([*_without_root_file_access(), sys.executable, '-c', READ_ONLY_CHILD, str(app)],
                                capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, SLAUNCH_REPOSITORY_PATH=str(repo)))
    finally:
        repo.chmod(0o755)
    for line in locked.stdout.splitlines():
        assert line.startswith(f'DeployError: cannot lock the repository {repo}: Permission denied'), locked.stdout
    assert len(locked.stdout.splitlines()) == 2, locked.stdout + locked.stderr
    before.remove('.deploy.lock')
    assert len(lines) == 2 and 'Traceback' not in proc.stderr, proc.stdout + proc.stderr
    for line in lines:  # the lock is taken (it needs no write access); writing the repository is refused
        assert line.startswith('DeployError: ') and f'{repo}/' in line and 'Permission denied' in line
        # the advice is about permissions, not about running as root (paths left out: a temporary file's random
        # name once contained 'root')
        prose = re.sub(r'/\S+', '', line)
        assert "check the repository's permissions" in line and 'root' not in prose, line
    assert _listing(repo) == before


def test_index_temp_files_of_a_killed_deploy_are_removed(repo: Path, tmp_path: Path) -> None:
    """A deploy killed while writing an index (between its temporary file and the rename) leaves
    ``.manifest-*.tmp``; the next deploy removes it, as it removes staging directories."""
    lib = write_tree(tmp_path / 'l', {'manifest.yaml': '', 'l/__init__.py': "__version__ = '1'\n"})
    deploy.deploy_library('l', lib)
    write_tree(repo, {'.manifest-k1ll3d.tmp': 'a: {current:', '_libs/.manifest-x.tmp': ''})
    deploy.update_manifest('l', libs=True, update_current_ver=True)
    assert sorted(p.name for p in repo.glob('**/.manifest-*')) == []


def test_update_manifest_on_a_missing_repository_creates_nothing(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt ``SLAUNCH_REPOSITORY_PATH`` (or none: ``/slaunch_repo``) must not make ``update_manifest`` create
    an empty repository on its way to failing; the error names the path and the variable."""
    typo = tmp_path / 'slaunch_rpeo' / 'prod'
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(typo))
    with pytest.raises(DeployError) as info:
        deploy.update_manifest('a', force_current_ver='1.0')
    assert f'no repository at {typo}' in str(info.value) and 'SLAUNCH_REPOSITORY_PATH' in str(info.value)
    assert not (tmp_path / 'slaunch_rpeo').exists()


EXCHANGE_CHILD = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    deploy.deploy_environments(sys.argv[1])
    ''')


@pytest.mark.skipif(sys.platform != 'linux', reason='renameat2(RENAME_EXCHANGE) is Linux only')
def test_a_changed_environment_is_swapped_in_with_no_moment_missing(repository: Any, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capfd: Any) -> None:
    """Replacing a changed environment (or an ``overwrite=True`` version) used to leave a moment with no
    ``_env/<env>`` (a launch then warned "not in the repository", or with nothing cached failed). On Linux the two
    directories are exchanged in one step; the old copy, under a staging name, is removed after (or by the next
    deploy when this one is killed)."""
    from scitrera_app_framework.slaunch.main import main

    repo, cache = repository.copy(tmp_path)
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    monkeypatch.setenv('SLAUNCH_CACHE_PATH', str(cache))
    envs = tmp_path / 'envs'
    write_tree(envs, {'base/requirements.txt': (repository.src / 'envs' / 'base' / 'requirements.txt').read_text()
                      + '# changed\n'})
    pause = tmp_path / 'pause'
    pause.mkdir()
    env = dict(os.environ, SLAUNCH_DEPLOY_TEST_PAUSE=f'replace-exchanged:{pause}')
    proc = subprocess.Popen([sys.executable, '-c', EXCHANGE_CHILD, str(envs)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for(pause / 'replace-exchanged.reached', proc, 'the exchange')
    assert (repo / '_env' / 'base' / 'requirements.txt').read_text().endswith('# changed\n')
    assert main(['rapp', 'during']) == 0
    out = capfd.readouterr()
    assert out.out.split() == ['rapp', 'v1', 'rlib05', 'lib1', 'rdep1', 'during']
    assert 'not in the repository' not in out.err
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert [p.name for p in (repo / '_env').iterdir() if p.name.startswith('.')]  # the old copy, staged aside
    deploy.deploy_environments(envs)  # unchanged now: nothing replaced; the recovery removes the old copy
    assert sorted(p.name for p in (repo / '_env').iterdir()) == ['base']
    assert (repo / '_env' / 'base' / 'requirements.txt').read_text().endswith('# changed\n')


def test_an_index_that_is_a_directory_is_named(repo: Path, tmp_path: Path) -> None:
    (repo / 'manifest.yaml').mkdir()
    with pytest.raises(DeployError) as info:
        deploy.deploy_application('a', write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''}),
                                  environment='base')
    assert f'{repo / "manifest.yaml"}: Is a directory' in str(info.value), str(info.value)
    assert not (repo / 'a').exists()


@pytest.mark.parametrize('value', ['yes', 'true', '[1]', '{a: 1}', '2020-01-01'])
def test_a_manifest_version_that_is_not_a_string_is_refused(repo: Path, tmp_path: Path, value: str) -> None:
    """``version: yes`` is the YAML boolean: it must not become the version ``True``."""
    lib = write_tree(tmp_path / 'l', {'manifest.yaml': f'version: {value}\n', 'l/__init__.py': ''})
    with pytest.raises(DeployError) as info:
        deploy.read_lib_version(lib, 'l')
    assert str(lib / 'manifest.yaml') in str(info.value) and 'version' in str(info.value)
    assert "'1.0'" in str(info.value)


UNREADABLE_DIR_CHILD = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    from scitrera_app_framework.slaunch.errors import DeployError
    try:
        deploy.deploy_application('a', sys.argv[1], environment='base', repository=sys.argv[2])
        print('deployed')
    except DeployError as exc:
        print('DeployError:', exc)
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX file modes')
def test_a_build_directory_that_cannot_be_listed_is_not_skipped_silently(repo: Path, tmp_path: Path) -> None:
    """``os.walk`` skips a directory it cannot list; the version was deployed without it, and nobody was told."""
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': 'import pkg.core\n', 'pkg/core.py': ''})
    (app / 'pkg').chmod(0o300)  # writable and searchable, not listable
    before = _listing(repo)
    try:
        proc = subprocess.run([*_without_root_file_access(), sys.executable, '-c', UNREADABLE_DIR_CHILD, str(app),
                               str(repo)], capture_output=True, text=True, timeout=120)
    finally:
        (app / 'pkg').chmod(0o755)
    assert proc.stdout.startswith('DeployError:'), proc.stdout + proc.stderr
    assert str(app / 'pkg') in proc.stdout and 'Permission denied' in proc.stdout and 'ignore_fn' in proc.stdout
    assert _listing(repo) == before


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX file modes')
@pytest.mark.parametrize('sums', [False, True])
def test_a_launcher_never_installs_a_version_missing_a_directory_it_cannot_list(repository: Any, tmp_path: Path,
                                                                                 sums: bool) -> None:
    """A repository written by the original's deploy has no hash lists; a directory of it the launching user
    cannot list (a CI user's umask 077) was skipped by the copy, and the incomplete version installed and ran.
    With a hash list the error blamed a missing file. Either way: one line naming the directory and the cause."""
    repo, cache = repository.copy(tmp_path)
    src = write_tree(tmp_path / 'rapp3', {'VERSION': '3.0', 'main.py': "import data.table\nprint('v3 complete')\n",
                                          'data/__init__.py': '', 'data/table.py': ''})
    deploy.deploy_application('rapp', src, True, environment='base', repository=repo)
    if not sums:
        (repo / 'rapp' / '3.0' / '.slaunch-files.sha256').unlink()
    (repo / 'rapp' / '3.0' / 'data').chmod(0o300 if not sums else 0o000)
    env = dict(os.environ, SLAUNCH_REPOSITORY_PATH=str(repo), SLAUNCH_CACHE_PATH=str(cache), PIP_NO_INDEX='1')
    try:
        proc = subprocess.run([*_without_root_file_access(), sys.executable, '-m', 'scitrera_app_framework.slaunch',
                               'rapp'], capture_output=True, text=True, timeout=180, env=env)
    finally:
        (repo / 'rapp' / '3.0' / 'data').chmod(0o755)
    assert 'v3 complete' not in proc.stdout and 'Traceback' not in proc.stderr, proc.stdout + proc.stderr
    assert 'data' in proc.stderr and 'Permission denied' in proc.stderr, proc.stderr
    assert 'missing in the repository' not in proc.stderr
    assert proc.stdout.split() == ['rapp', 'v1', 'rlib05', 'lib1', 'rdep1']  # the installed version ran instead


def test_a_compiled_lib_that_prints_at_import_has_its_version_read(tmp_path: Path) -> None:
    """The version of a compiled module is read by importing it in a child; a banner it prints at import is not
    part of the version (it was: ``'banner\\n1.4'``, refused as an unsafe name)."""
    import py_compile

    lib = write_tree(tmp_path / 'shared', {'manifest.yaml': ''})
    source = write_tree(tmp_path, {'shared_src.py': "print('banner: shared loading')\n__version__ = '1.4'\n"})
    py_compile.compile(str(source / 'shared_src.py'), cfile=str(lib / 'shared.pyc'), doraise=True)
    assert deploy.read_lib_version(lib, 'shared') == '1.4'


def test_update_manifest_refuses_a_version_every_launcher_would_refuse(repo: Path, tmp_path: Path) -> None:
    """A directory someone made by hand (``mkdir <repo>/a/9.9``, or a half-copied one) is not a version: making it
    ``current`` would send every launcher to a version it refuses."""
    deploy.deploy_application('a', write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''}), environment='base')
    (repo / 'a' / '9.9').mkdir()
    write_tree(repo / 'a' / '9.8', {'manifest.yaml': 'environment: base\nentrypoint: gone.py\n'})
    for call in (lambda: deploy.update_manifest('a', force_current_ver='9.9'),
                 lambda: deploy.update_manifest('a', '9.8', update_current_ver=True)):
        with pytest.raises(DeployError, match='a launcher would refuse') as info:
            call()
        assert 'manifest.yaml' in str(info.value)
    entry = read_index(repo / 'manifest.yaml')['a']
    assert (entry.current, entry.latest) == ('1.0', '1.0')


# ------------------------------------------------------------------------------------------------ a shared repository


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX file modes')
def test_what_a_deploy_writes_is_readable_by_the_users_who_launch(repo: Path, tmp_path: Path) -> None:
    """The repository is a shared directory: a CI user deploys, everyone launches. Versions were placed with the
    staging directory's mode 0700 and the index and hash lists written 0600: no other user could launch anything.
    They now get the modes of anything else the deployer creates (0777 / 0666 less its umask)."""
    import stat

    mask = _umask()
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    deploy.deploy_application('a', app, environment='base')
    deploy.deploy_application('a', write_tree(tmp_path / 'a2', {'VERSION': '1.0', 'main.py': '#'}),
                              environment='base', overwrite=True)
    deploy.deploy_library('l', write_tree(tmp_path / 'l', {'manifest.yaml': '', 'l/__init__.py': ''}), version='1')
    expected_dirs = [repo / 'a' / '1.0', repo / '_libs' / 'l' / '1', repo / '_env' / 'base', repo / 'a']
    expected_files = [repo / 'manifest.yaml', repo / '_libs' / 'manifest.yaml', repo / 'a' / '1.0' /
                      '.slaunch-files.sha256', repo / '_libs' / 'l' / '1' / '.slaunch-files.sha256',
                      repo / '_env' / 'base' / '.slaunch-files.sha256']
    for path in expected_dirs:
        assert oct(stat.S_IMODE(path.stat().st_mode)) == oct(0o777 & ~mask), path
    for path in expected_files:
        assert oct(stat.S_IMODE(path.stat().st_mode)) == oct(0o666 & ~mask), path


LOCK_CHILD = textwrap.dedent('''\
    import sys
    from scitrera_app_framework.slaunch import deploy
    print(deploy.deploy_application('a', sys.argv[1], environment='base', version='2.0'))
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='POSIX file modes')
def test_a_second_deploying_user_can_take_the_lock(repo: Path, tmp_path: Path) -> None:
    """The lock file belongs to whoever deployed first (0644 under the usual umask); another deploying user of a
    group-writable repository could not open it for writing and could never deploy. A lock needs no write access."""
    app = write_tree(tmp_path / 'a', {'VERSION': '1.0', 'main.py': ''})
    deploy.deploy_application('a', app, environment='base')
    lock = repo / '.deploy.lock'
    lock.chmod(0o444)  # as another user's 0644 lock file is to us: readable, not writable
    try:
        proc = subprocess.run([*_without_root_file_access(), sys.executable, '-c', LOCK_CHILD, str(app)],
                              capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, SLAUNCH_REPOSITORY_PATH=str(repo)))
    finally:
        lock.chmod(0o644)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert read_index(repo / 'manifest.yaml')['a'].latest == '2.0'
