"""The original 0.0.69's deploy calls, end to end: environments, a lib and an app deployed with its signatures
(the repository named by ``$SLAUNCH_REPOSITORY_PATH`` only), launched with the ``slaunch`` command, v2 deployed
with ``update_current=True``, a rollback with ``update_manifest(name, force_current_ver=...)``,
``--app-version``, the cache launching offline, and unsafe names refused.

One real venv for the module (the first launch); every later launch finds it in the cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from scitrera_app_framework.slaunch import deploy
from scitrera_app_framework.slaunch.errors import DeployError, InvalidNameError
from scitrera_app_framework.slaunch.launcher import launch_app

MAIN = textwrap.dedent('''\
    import sys

    import clib
    import sllib

    print('capp v{v}', clib.VALUE, sllib.VALUE, *sys.argv[1:])
    ''')


def write_tree(base: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text, encoding='utf-8')
    return base


def app_build(base: Path, version: str) -> Path:
    """A CI build root holding app ``capp`` (the original's layout: ``_capp_version.py``, ``manifest.yaml``)."""
    return write_tree(base, {'capp/_capp_version.py': f"__version__ = '{version}'\n",
                             'capp/main.py': MAIN.format(v=version[0]),
                             'capp/manifest.yaml': "environment: base\nlib_versions:\n  clib: ''\n",
                             'capp/__pycache__/junk.pyc': 'x', 'capp/capp-build-report-1.xml': '<x/>'})


@dataclass
class Deployed:
    repo: Path
    cache: Path
    build: Path
    env: Dict[str, str]
    first: subprocess.CompletedProcess[str]

    def slaunch(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``slaunch`` console script of the test venv (``python -m`` where there is none)."""
        script = Path(sys.executable).with_name('slaunch')
        cmd: List[str] = [str(script)] if script.is_file() else [sys.executable, '-m', 'scitrera_app_framework.slaunch']
        return subprocess.run(cmd + list(args), capture_output=True, text=True, env=self.env, timeout=180)


@pytest.fixture(scope='module')
def deployed(slaunch_wheels: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """Deploy with the original's calls and signatures only, then launch ``slaunch capp first`` once."""
    base = tmp_path_factory.mktemp('deploy-compat')
    repo, cache, build = base / 'repo', base / 'cache', base / 'build'
    write_tree(base / 'envs', {'base/requirements.txt': f'--no-index\n--find-links {slaunch_wheels.dir}\nsllib==1.0\n'})
    write_tree(build, {'_libs/clib/clib/__init__.py': "__version__ = '0.3'\nVALUE = 'clib03'\n",
                       '_libs/clib/manifest.yaml': 'description: the shared lib\n'})
    app_build(build, '1.0')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
        assert deploy.read_app_version(build / 'capp', 'capp') == '1.0'
        assert deploy.read_lib_version(build / '_libs' / 'clib', 'clib') == '0.3'
        deploy.deploy_environments(base / 'envs')
        assert deploy.deploy_libraries(build) == ['clib']
        assert deploy.deploy_applications(build, False, None, None) == ['capp']
    env = {k: v for k, v in os.environ.items() if not k.startswith('SLAUNCH_')}
    env.update(SLAUNCH_REPOSITORY_PATH=str(repo), SLAUNCH_CACHE_PATH=str(cache), PIP_NO_INDEX='1',
               PIP_CONFIG_FILE=os.devnull)
    result = Deployed(repo=repo, cache=cache, build=build, env=env, first=subprocess.CompletedProcess([], 0))
    result.first = result.slaunch('capp', 'first')
    yield result


def _out(proc: subprocess.CompletedProcess[str]) -> List[str]:
    assert proc.returncode == 0, proc.stderr
    return [line for line in proc.stdout.splitlines() if line.strip()]


def test_original_deploy_calls_end_to_end(deployed: Deployed, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    repo = deployed.repo
    assert _out(deployed.first) == ['capp v1 clib03 lib1 first']
    # the layout the original's deploy writes (and its launcher reads)
    assert (repo / 'manifest.yaml').read_text() == "capp:\n  current: '1.0'\n  latest: '1.0'\n"
    assert (repo / '_libs' / 'manifest.yaml').read_text() == "clib:\n  current: '0.3'\n  latest: '0.3'\n"
    assert sorted(p.name for p in (repo / '_libs' / 'clib' / '0.3').iterdir()) == [
        '.slaunch-files.sha256', 'clib', 'manifest.yaml']
    assert sorted(p.name for p in (repo / 'capp' / '1.0').iterdir()) == [
        '.slaunch-files.sha256', '_capp_version.py', 'main.py', 'manifest.yaml']  # default ignore applied
    assert (repo / '_env' / 'base' / 'requirements.txt').is_file()

    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    v2 = app_build(tmp_path / 'build2', '2.0')
    assert deploy.deploy_application('capp', v2 / 'capp', True) == {'current': '2.0', 'latest': '2.0'}
    assert _out(deployed.slaunch('capp', 'x')) == ['capp v2 clib03 lib1 x']

    # the operators' rollback
    assert deploy.update_manifest('capp', force_current_ver='1.0') == {'current': '1.0', 'latest': '2.0'}
    assert _out(deployed.slaunch('capp', 'y')) == ['capp v1 clib03 lib1 y']
    assert _out(deployed.slaunch('capp', '--app-version', '2.0', 'z')) == ['capp v2 clib03 lib1 z']
    assert _out(deployed.slaunch('capp', 'w')) == ['capp v1 clib03 lib1 w']  # the repository's current again

    # a lib, one at a time, and its rollback
    lib = write_tree(tmp_path / 'lib04', {'clib/__init__.py': "__version__ = '0.4'\nVALUE = 'clib04'\n",
                                          'manifest.yaml': ''})
    assert deploy.deploy_library('clib', lib, True) == {'current': '0.4', 'latest': '0.4'}
    assert deploy.update_manifest('clib', None, True, False, '0.3') == {'current': '0.3', 'latest': '0.4'}

    # the share is down: the cache launches
    os.replace(repo, tmp_path / 'repo-gone')
    offline = deployed.slaunch('capp', 'off')
    assert _out(offline) == ['capp v1 clib03 lib1 off']
    assert f'the repository {repo} cannot be read' in offline.stderr
    assert _out(deployed.slaunch('capp', '--app-version', '2.0', 'off')) == ['capp v2 clib03 lib1 off']
    os.replace(tmp_path / 'repo-gone', repo)


def test_unsafe_names_are_refused(deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / 'repo'
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    app = app_build(tmp_path / 'build', '1.0') / 'capp'
    lib = write_tree(tmp_path / 'lib', {'x/__init__.py': "__version__ = '1'\n", 'manifest.yaml': ''})
    for call in (lambda: deploy.deploy_application('../x', app),
                 lambda: deploy.deploy_library('../x', lib),
                 lambda: deploy.update_manifest('../x', '1.0'),
                 lambda: deploy.update_manifest('../x', libs=True, force_current_ver='1.0'),
                 lambda: deploy.deploy_environments({'../x': lib})):
        with pytest.raises(DeployError, match=r"invalid (app|lib|environment) name '\.\./x': '\.\.' would escape"):
            call()
    write_tree(app, {'_capp_version.py': "__version__ = '../x'\n"})
    with pytest.raises(DeployError, match=r"invalid app version '\.\./x'"):
        deploy.deploy_application('capp', app)
    with pytest.raises(DeployError, match=r"invalid app version \(force_current_ver\) '\.\./1'"):
        deploy.update_manifest('capp', force_current_ver='../1')
    assert not repo.exists() or sorted(p.name for p in repo.iterdir()) == ['.deploy.lock']
    with pytest.raises(InvalidNameError, match=r"invalid app name '\.\./x'"):  # and launchers refuse it too
        launch_app('../x', repository=deployed.repo, root=deployed.cache)


def test_read_versions_the_original_way(tmp_path: Path) -> None:
    app = write_tree(tmp_path / 'myapp', {'_myapp_version.py': "__version__ = '3.2'\n", 'VERSION': '9\n'})
    assert deploy.read_app_version(app, 'myapp') == '3.2'  # _<app>_version.py first
    assert deploy.read_app_version(app) == '3.2'  # the name defaults to the directory's
    assert deploy.read_app_version(app, 'other') == '9'
    flat = write_tree(tmp_path / 'flat', {'__init__.py': "__version__ = '2.1'\n"})
    assert deploy.read_lib_version(flat, 'flat') == '2.1'
    assert deploy.read_lib_version(write_tree(tmp_path / 'm', {'mod.py': "__version__ = '5'\n"}), 'mod') == '5'
    compiled = tmp_path / 'cbuild'
    src = write_tree(tmp_path / 'csrc', {'cmod.py': "__version__ = '7.1'\n"})
    import py_compile

    compiled.mkdir()
    py_compile.compile(str(src / 'cmod.py'), cfile=str(compiled / 'cmod.pyc'), doraise=True)
    assert deploy.read_lib_version(compiled, 'cmod') == '7.1'  # a compiled module, imported in a child
    write_tree(compiled, {'bad.pyc': 'not bytecode'})
    with pytest.raises(DeployError, match=r'cannot read the version of the compiled module .*bad\.pyc'):
        deploy.read_lib_version(compiled, 'bad')
    with pytest.raises(DeployError, match='cannot find the version of lib'):
        deploy.read_lib_version(write_tree(tmp_path / 'none', {'x.txt': ''}), 'none')
    assert isinstance(DeployError('x'), ValueError)  # the original raised ValueError


def test_batches_deploy_the_rest_then_name_the_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / 'repo'
    monkeypatch.setenv('SLAUNCH_REPOSITORY_PATH', str(repo))
    build = app_build(tmp_path / 'build', '1.0')
    write_tree(build, {'broken/main.py': '', '.hidden/x': '', '_other/x': '',
                       '_libs/good/good.py': "__version__ = '1'\n", '_libs/good/manifest.yaml': '',
                       '_libs/nomani/nomani.py': "__version__ = '1'\n"})
    with pytest.raises(DeployError, match=r"1 of 2 apps .* were not deployed: broken \(cannot find the version.*"
                                          r"deployed: capp"):
        deploy.deploy_applications(build)
    assert (repo / 'capp' / '1.0' / 'main.py').is_file()
    with pytest.raises(DeployError, match=r'nomani \(.*has no manifest.yaml.*deployed: good'):
        deploy.deploy_libraries(build)
    assert deploy.deploy_libraries(build, subset=['good'], overwrite=True) == ['good']
    assert (repo / '_libs' / 'good' / '1' / 'good.py').is_file()
    with pytest.raises(DeployError, match='has no app build directories named nope; nothing was deployed'):
        deploy.deploy_applications(build, subset=['nope'])
    seen: List[str] = []

    def ignore(directory: str, names: List[str]) -> List[str]:
        seen.append(os.path.basename(directory))
        return [n for n in names if n.endswith('.xml')]

    deploy.deploy_application('capp', build / 'capp', ignore_fn=ignore, version='1.1')
    assert (repo / 'capp' / '1.1' / '__pycache__' / 'junk.pyc').is_file()  # a given ignore_fn replaces the default
    assert not (repo / 'capp' / '1.1' / 'capp-build-report-1.xml').exists() and seen == ['capp', '__pycache__']
    shutil.rmtree(repo)
