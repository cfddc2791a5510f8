"""The original's central repository: deployed with ``slaunch.deploy``, launched through ``main()`` (by app
argument and through a link named after the app), updated (``update_manifest(..., update_current_ver=True)``),
unreachable (the cache launches), redeployed, repaired, and read strictly but with one-line errors.

One real first launch is shared (``repository``); tests work on private copies of the repository and cache."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

from scitrera_app_framework.slaunch import deploy
from scitrera_app_framework.slaunch.errors import DeployError
from scitrera_app_framework.slaunch.launcher import launch_app
from scitrera_app_framework.slaunch.main import EXIT_USAGE, main

APP = 'rapp'


def write_tree(base: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text, encoding='utf-8')
    return base


def _lines(text: str) -> list:
    return [line for line in text.splitlines() if line.strip()]


def _error_line(err: str) -> str:
    assert 'Traceback' not in err, err
    errors = [line for line in err.splitlines() if line.startswith('slaunch: error: ')]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture
def repo_copy(repository: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """Private copies ``(repo, cache)``, named by ``$SLAUNCH_REPOSITORY_PATH`` / ``$SLAUNCH_CACHE_PATH``."""
    repo, cache = repository.copy(tmp_path)
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    monkeypatch.setenv('SLAUNCH_CACHE_PATH', str(cache))
    return repo, cache


def test_deployed_layout(repository: Any) -> None:
    repo = repository.repo
    assert _lines(repository.first_output) == ['rapp v1 rlib05 lib1 rdep1 first']
    index = (repo / 'manifest.yaml').read_text()
    assert "rapp:\n  current: '1.0'\n  latest: '1.0'\n" == index
    assert "rlib:\n  current: '0.5'\n  latest: '0.5'\n" == (repo / '_libs' / 'manifest.yaml').read_text()
    assert (repo / '_libs' / 'rlib' / '0.5' / 'rlib' / '__init__.py').is_file()
    assert (repo / '_env' / 'base' / 'requirements.txt').is_file()
    meta = (repo / 'rapp' / '1.0' / 'manifest.yaml').read_text()
    assert 'environment: base\n' in meta and 'rlib: \'0.5\'' in meta and 'rdep==1.0' in meta
    sums = (repo / 'rapp' / '1.0' / '.slaunch-files.sha256').read_text().splitlines()
    assert [line.split('  ')[1] for line in sums] == ['VERSION', 'helpers/__init__.py', 'main.py', 'manifest.yaml']
    state = json.loads((repository.cache / 'state.json').read_text())
    rec = state['apps'][APP]['versions']['1.0']
    assert rec['origin'] == 'repository' and rec['entry'] == 'main.py' and rec['libs'] == {'rlib': '0.5'}
    assert (repository.cache / 'apps' / APP / '1.0' / '.slaunch-deps' / 'rdep.py').is_file()
    assert (repository.cache / 'libs' / 'rlib' / '0.5' / 'rlib' / '__init__.py').is_file()


def test_main_by_app_argument(repo_copy: tuple, pip_calls: list, capfd: Any) -> None:
    assert main(['rapp', 'a', '--b']) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1 a --b']
    assert main('slaunch', '--debug', 'rapp', '--app-version', '1.0', 'c', '--', '--app-version') == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1 c --app-version']
    assert pip_calls == []  # everything was in the cache already


SCRIPT = textwrap.dedent('''\
    #!{python}
    from scitrera_app_framework.slaunch.main import console_main
    console_main()
    ''')


@pytest.mark.skipif(sys.platform == 'win32', reason='cannot create symlinks here')
def test_link_named_after_the_app(repository: Any, tmp_path: Path) -> None:
    """``ln -s slaunch rapp; rapp hello``, with the cache where ``init_framework_desktop('slaunch')`` puts it."""
    repo, cache = repository.copy(tmp_path)
    stateful = tmp_path / 'cfg'
    stateful.mkdir()
    os.replace(cache, stateful / 'slaunch')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    script = bin_dir / 'slaunch'
    script.write_text(SCRIPT.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (bin_dir / APP).symlink_to(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('SLAUNCH_', 'RUN_', 'APP_NAME', 'DATA_'))}
    env.update(SLAUNCH_REPOSITORY_PATH=str(repo), STATEFUL_ROOT=str(stateful), PIP_NO_INDEX='1',
               PIP_CONFIG_FILE=os.devnull, APP_NAME='not-slaunch')
    proc = subprocess.run([str(bin_dir / APP), 'hello', '--slaunch-update'], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _lines(proc.stdout) == ['rapp v1 rlib05 lib1 rdep1 hello']
    assert proc.stderr == ''  # nothing was installed: the cache under $STATEFUL_ROOT/slaunch was used
    assert sorted(p.name for p in stateful.iterdir()) == ['slaunch']


def test_v2_switch_then_unreachable_repository(repo_copy: tuple, repository: Any, tmp_path: Path, capfd: Any,
                                               rapp_v2: Dict[str, str]) -> None:
    repo, cache = repo_copy
    v2 = write_tree(tmp_path / 'src' / 'rapp', rapp_v2)
    # rlib: None is the lib's current version
    deploy.deploy_application('rapp', v2, repository=repo, environment='base', lib_versions={'rlib': None})
    assert deploy.read_app_version(v2) == '2.0'
    assert main(['rapp', 'x']) == 0  # deployed, but not current yet
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1 x']

    entry = deploy.update_manifest(APP, '2.0', update_current_ver=True, repository=repo)
    assert entry == {'current': '2.0', 'latest': '2.0'}
    assert main(['rapp', 'y']) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v2 rlib05 y']
    state = json.loads((cache / 'state.json').read_text())
    assert state['apps'][APP]['current'] == '2.0' and sorted(state['apps'][APP]['versions']) == ['1.0', '2.0']

    os.replace(repo, tmp_path / 'repo-gone')  # the share is down
    assert main(['rapp', 'z']) == 0
    out, err = capfd.readouterr()
    assert _lines(out) == ['rapp v2 rlib05 z']
    assert f'slaunch: WARNING: the repository {repo} cannot be read' in err and 'launching the cached rapp 2.0' in err
    assert main(['rapp', '--app-version', '1.0']) == 0  # an older cached version, offline
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1']
    assert main(['rapp', '--app-version', '0.9']) == EXIT_USAGE  # unreadable, and nothing to fall back on
    assert "rapp 0.9 is not in the cache" in _error_line(capfd.readouterr().err)


def test_redeploy_needs_app_update_and_libs_update(repo_copy: tuple, repository: Any, tmp_path: Path,
                                                   capfd: Any, rapp_v2: Dict[str, str]) -> None:
    repo, cache = repo_copy
    src = write_tree(tmp_path / 'src' / 'rapp', {'main.py': "print('rapp v1 redeployed')\n", 'VERSION': '1.0'})
    with pytest.raises(DeployError, match='already deployed'):
        deploy.deploy_application('rapp', src, repository=repo, environment='base')
    deploy.deploy_application('rapp', src, repository=repo, environment='base', overwrite=True)
    lib = write_tree(tmp_path / 'src' / 'rlib', {'rlib/__init__.py': "__version__ = '0.5'\nVALUE = 'rlib05b'\n",
                                                 'manifest.yaml': ''})
    deploy.deploy_library('rlib', lib, repository=repo, overwrite=True)
    assert main(['rapp']) == 0  # same version: the cached copy runs
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1']
    assert main(['rapp', '--slaunch-app-update']) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 redeployed']
    assert main(['rapp', '--slaunch-libs-update', '--app-version', '2.0']) == 3  # not deployed: refused
    assert 'rapp 2.0 is not in the repository' in _error_line(capfd.readouterr().err)
    write_tree(tmp_path / 'src' / 'rapp2', rapp_v2)
    deploy.deploy_application('rapp', tmp_path / 'src' / 'rapp2', True, repository=repo, environment='base',
                              lib_versions={'rlib': '0.5'})
    assert main(['rapp', '--slaunch-update']) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v2 rlib05b']


def test_full_reset_rebuilds_beside_and_switches(repo_copy: tuple, capfd: Any) -> None:
    repo, cache = repo_copy
    before = json.loads((cache / 'state.json').read_text())['apps'][APP]['versions']['1.0']
    assert main(['rapp', '--slaunch-full-reset']) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1']
    after = json.loads((cache / 'state.json').read_text())['apps'][APP]['versions']['1.0']
    assert after['build'] != before['build'] and after['dir'] != before['dir'] and after['layer'] != before['layer']
    assert sorted(p.name for p in (cache / 'envs').iterdir()) == [f'base@{after["build"]}']
    assert not (cache / before['dir']).exists()


def test_tampered_cached_lib_is_repaired_from_the_repository(repo_copy: tuple, capfd: Any) -> None:
    repo, cache = repo_copy
    init = cache / 'libs' / 'rlib' / '0.5' / 'rlib' / '__init__.py'
    init.write_text("VALUE = 'evil'\n")
    assert main(['rapp']) == 0
    out, err = capfd.readouterr()
    assert _lines(out) == ['rapp v1 rlib05 lib1 rdep1']
    assert "slaunch: WARNING: lib 'rlib' 0.5 is damaged" in err and 'VALUE = \'rlib05\'' in init.read_text()
    (cache / 'apps' / APP / '1.0' / 'main.py').unlink()
    os.replace(repo, repo.with_name('gone'))  # no source to repair from: refused
    assert main(['rapp']) == 3
    line = _error_line(capfd.readouterr().err)
    assert "app 'rapp' 1.0 is damaged: 1 missing (main.py)" in line and 'repair failed' in line


def test_misspelt_entrypoint_and_unknown_keys(repo_copy: tuple, capfd: Any) -> None:
    """A hand-made version (no file list) whose manifest names a file it does not have."""
    repo, _cache = repo_copy
    shutil.copytree(repo / APP / '1.0', repo / APP / '1.1')
    (repo / APP / '1.1' / '.slaunch-files.sha256').unlink()
    meta = repo / APP / '1.1' / 'manifest.yaml'
    meta.write_text(meta.read_text() + 'entrypoint: mian.py\nentry_point: x\n')
    with pytest.raises(DeployError, match="a launcher would refuse this version: .*'mian.py' is not a file"):
        deploy.update_manifest(APP, '1.1', update_current_ver=True, repository=repo)
    (repo / 'manifest.yaml').write_text("rapp: {current: '1.1', latest: '1.1'}\n")  # recorded by hand
    line_no = meta.read_text().splitlines().index('entrypoint: mian.py') + 1
    assert main(['rapp']) == EXIT_USAGE
    out, err = capfd.readouterr()
    assert _error_line(err) == (f"slaunch: error: {meta}:{line_no}: entrypoint: 'mian.py' is not a file of rapp 1.1 "
                                '(it has: VERSION, helpers, main.py); fix entrypoint or redeploy')
    assert f"{meta}:{line_no + 1}: entry_point: ignoring unknown key" in err and "did you mean 'entrypoint'" in err
    with pytest.raises(DeployError, match="the entrypoint 'mian.py' is not a file of the app"):
        deploy.deploy_application('rapp', repo / APP / '1.0', repository=repo, version='1.2', environment='base',
                                  entrypoint='mian.py')


@pytest.mark.parametrize(('text', 'needle'), [
    ('rapp: [1.0]\n', ":1: rapp: expected a mapping, got [1.0] (list)"),
    ('rapp:\n  current: 1.0\n  lastest: 2.0\n', ":3: rapp.lastest: unknown key; did you mean 'latest'?"),
    ('"../evil": {current: "1"}\n', "'..' would escape"),
    ('a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n'
     'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n'
     'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n', 'alias'),
])
def test_bad_repository_index_is_one_line_exit_2(repo_copy: tuple, capfd: Any, text: str, needle: str) -> None:
    repo, _cache = repo_copy
    (repo / 'manifest.yaml').write_text(text)
    assert main(['rapp']) == EXIT_USAGE
    line = _error_line(capfd.readouterr().err)
    assert line.startswith(f'slaunch: error: {repo / "manifest.yaml"}') and needle in line


@pytest.mark.skipif(sys.platform == 'win32', reason='fake executables are POSIX shell-free scripts')
@pytest.mark.parametrize('exe', ['conda', 'micromamba'])
def test_environment_yml_uses_conda_when_there_is_one(repository: Any, tmp_path: Path, capfd: Any, exe: str,
                                                      write_fake_conda: Callable,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment with an environment.yml is built by conda, here a stand-in executable named by
    $SLAUNCH_CONDA_EXE that records its arguments and makes a venv where conda would make an environment."""
    repo, cache = repository.copy(tmp_path)
    log = tmp_path / 'conda.log'
    fake = write_fake_conda(tmp_path / 'bin' / exe, log)
    monkeypatch.setenv('SLAUNCH_CONDA_EXE', str(fake))
    env_src = write_tree(tmp_path / 'src' / 'envs' / 'cenv', {
        'environment.yml': 'name: cenv\ndependencies: [python=3.11]\n',
        'requirements.txt': f'--no-index\n--find-links {repository.wheels}\nsllib==1.0\n'})
    deploy.deploy_environments({'cenv': env_src}, repository=repo)
    app_src = write_tree(tmp_path / 'src' / 'capp', {'run.py': "import sllib\nprint('capp', sllib.VALUE)\n",
                                                      '__init__.py': "__version__ = '3.1'\n"})
    deploy.deploy_application('capp', app_src, repository=repo, environment='cenv', entrypoint='run.py',
                              conda_requirements=['numpy'])
    assert launch_app('capp', root=cache, repository=repo) == 0
    assert _lines(capfd.readouterr().out) == ['capp lib1']
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    state = json.loads((cache / 'state.json').read_text())
    build = state['envs']['cenv']['builds'][state['apps']['capp']['versions']['3.1']['build']]
    prefix, env_file = str(cache / build['dir']), str(repo / '_env' / 'cenv' / 'environment.yml')
    create = ['create', '--yes', '--quiet'] if exe == 'micromamba' else ['env', 'create', '--quiet']
    assert calls == [create + ['--prefix', prefix, '--file', env_file],
                     ['install', '--yes', '--quiet', '--prefix', prefix, 'numpy']]
    assert build['kind'] == 'conda'


def test_without_conda_an_environment_yml_gives_a_venv(repository: Any, tmp_path: Path, capfd: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('SLAUNCH_CONDA_EXE', raising=False)
    monkeypatch.setenv('PATH', str(tmp_path / 'empty-bin'))
    repo, cache = repository.copy(tmp_path)
    write_tree(repo / '_env' / 'base', {'environment.yml': 'name: base\n'})
    assert launch_app('rapp', 'v', root=cache, repository=repo) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1 v']
    state = json.loads((cache / 'state.json').read_text())
    assert {b['kind'] for b in state['envs']['base']['builds'].values()} == {'venv'}


# ------------------------------------------------------------------------------------------------ deploy


def test_read_versions(tmp_path: Path) -> None:
    assert deploy.read_app_version(write_tree(tmp_path / 'a', {'VERSION': '1.2.3\n'})) == '1.2.3'
    assert deploy.read_app_version(write_tree(tmp_path / 'b', {'main.py': "__version__ = '4.5'\n"})) == '4.5'
    assert deploy.read_app_version(write_tree(tmp_path / 'c', {'manifest.yaml': 'version: "7"\n'})) == '7'
    assert deploy.read_lib_version(write_tree(tmp_path / 'd', {'__init__.py': '__version__: str = "0.1"'})) == '0.1'
    assert deploy.read_lib_version(write_tree(tmp_path / 'e', {'mod.py': "__version__ = '9'"}) / 'mod.py') == '9'
    with pytest.raises(DeployError, match='cannot find the version'):
        deploy.read_app_version(write_tree(tmp_path / 'f', {'main.py': ''}))
    with pytest.raises(DeployError, match=r"invalid app version '\.\./x'"):
        deploy.read_app_version(write_tree(tmp_path / 'g', {'VERSION': '../x'}))


def test_update_manifest_orders_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / 'repo'
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    for version in ('1.2', '1.9', '1.10', '1.10rc1'):
        (repo / 'a' / version).mkdir(parents=True)
        (repo / 'a' / version / 'manifest.yaml').write_text('environment: base\nentrypoint: ""\n')
    assert deploy.update_manifest('a', '1.9') == {'current': '1.9', 'latest': '1.9'}
    assert deploy.update_manifest('a', '1.10') == {'current': '1.9', 'latest': '1.10'}
    assert deploy.update_manifest('a', force_current_ver='1.2') == {'current': '1.2', 'latest': '1.10'}
    assert deploy.update_manifest('a', update_current_ver=True) == {'current': '1.10', 'latest': '1.10'}
    assert deploy.update_manifest('a', '1.10rc1') == {'current': '1.10', 'latest': '1.10rc1'}  # as told
    assert (repo / 'manifest.yaml').read_text() == "a:\n  current: '1.10'\n  latest: 1.10rc1\n"
    with pytest.raises(DeployError, match=r"app a 0\.9 \(force_current_ver\) is not deployed .*deployed versions: "
                                          r"1\.2, 1\.9, 1\.10rc1, 1\.10\)"):
        deploy.update_manifest('a', force_current_ver='0.9')
    with pytest.raises(DeployError, match=r"update_manifest: invalid app name '\.\./a'"):
        deploy.update_manifest('../a', '1')
    with pytest.raises(DeployError, match='the first argument is the (app|lib) name'):
        deploy.update_manifest(repo, 'a', '1.9')  # type: ignore[arg-type]  # our 0.1 signature
    with pytest.raises(DeployError, match='app zzz is not in .* and no version was given'):
        deploy.update_manifest('zzz')
    with pytest.raises(DeployError, match=r'lib a 1\.9 \(latest_ver\) is not deployed'):
        deploy.update_manifest('a', '1.9', libs=True)
    assert sorted(p.name for p in repo.iterdir()) == ['.deploy.lock', 'a', 'manifest.yaml']


def test_deploy_refuses_bad_input(tmp_path: Path, capfd: Any) -> None:
    repo = tmp_path / 'repo'
    with pytest.raises(DeployError, match='needs an environment'):
        deploy.deploy_application('app', write_tree(tmp_path / 'app', {'main.py': '', 'VERSION': '1'}),
                                  repository=repo)
    with pytest.raises(DeployError, match='neither requirements.txt nor environment.yml'):
        deploy.deploy_environments({'e': write_tree(tmp_path / 'env', {'README': 'x'})}, repository=repo)
    with pytest.raises(DeployError, match='invalid environment name'):
        deploy.deploy_environments({'../e': write_tree(tmp_path / 'env2', {'requirements.txt': 'x'})},
                                   repository=repo)
    outside = tmp_path / 'secret.txt'
    outside.write_text('secret')
    app = write_tree(tmp_path / 'app2', {'main.py': '', 'VERSION': '1'})
    (app / 'link.txt').symlink_to(outside)
    with pytest.raises(DeployError, match='points out of'):
        deploy.deploy_application('app2', app, repository=repo, environment='base')
    assert not (repo / 'app2' / '1').exists() and not list((repo / 'app2').glob('.deploy-*'))
    with pytest.raises(DeployError, match='has no manifest.yaml; a lib build directory needs one'):
        deploy.deploy_library('l0', write_tree(tmp_path / 'l0', {'l0/__init__.py': "__version__ = '1'"}),
                              repository=repo)
    with pytest.raises(DeployError, match='the first argument is the app name'):
        deploy.deploy_application(app, repo)  # type: ignore[arg-type]  # our 0.1 signature
    capfd.readouterr()


def test_app_arguments_of_the_original_signature(repo_copy: tuple, capfd: Any) -> None:
    repo, cache = repo_copy
    assert launch_app('rapp', 'one', 'two', libs_update=True) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1 one two']
    proc = launch_app('rapp', 'bg', wait=False)
    assert not isinstance(proc, int) and proc.wait(timeout=60) == 0
    assert _lines(capfd.readouterr().out) == ['rapp v1 rlib05 lib1 rdep1 bg']
    with pytest.raises(TypeError, match='cannot be combined'):
        launch_app('rapp', manifest='m.yaml', reset=True)




_REAL_CONDA = next((shutil.which(n) for n in ('micromamba', 'mamba', 'conda') if shutil.which(n)), None)

if _REAL_CONDA is not None:  # defined only where a conda exists (it needs python from its channels or cache)
    def test_real_conda_environment(repository: Any, tmp_path: Path, capfd: Any,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """A real conda / mamba / micromamba builds an environment from an environment.yml."""
        monkeypatch.setenv('SLAUNCH_CONDA_EXE', str(_REAL_CONDA))
        repo, cache = repository.copy(tmp_path)
        minor = sys.version_info[1]
        deploy.deploy_environments({'real': write_tree(tmp_path / 'envs' / 'real', {
            'environment.yml': f'name: real\nchannels: [conda-forge]\ndependencies: [python=3.{minor}]\n'})},
            repository=repo)
        deploy.deploy_application('capp', write_tree(tmp_path / 'capp', {'main.py': 'import sys; print(sys.prefix)',
                                                                         'VERSION': '1'}), repository=repo,
                                  environment='real')
        assert launch_app('capp', root=cache, repository=repo) == 0
        state = json.loads((cache / 'state.json').read_text())
        build = state['envs']['real']['builds'][state['apps']['capp']['versions']['1']['build']]
        assert build['kind'] == 'conda' and _lines(capfd.readouterr().out) == [str(cache / build['dir'])]
