"""Fixtures for the slaunch tests: tiny wheels built with zipfile, manifests, and one shared installed root.

Everything is offline: manifests use ``--no-index --find-links``, and ``PIP_NO_INDEX=1`` plus
``PIP_CONFIG_FILE=<null device>`` are set for every pip call, so pip never contacts an index.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import pytest

APP = 'slapp'

APP_V1 = {
    'slapp/__init__.py': '',
    'slapp/cli.py': textwrap.dedent('''\
        import os
        import sys

        import sllib


        def main():
            print('app v1', *sys.argv[1:])
            print('lib', sllib.VALUE, 'pth', os.environ.get('SLLIB_PTH', 'no'), 'mode',
                  os.environ.get('SLAPP_MODE', '-'))
            sys.stdout.flush()
            return int(os.environ.get('SLAPP_EXIT', '0'))
        '''),
}
APP_V2 = {
    'slapp/__init__.py': '',
    'slapp/__main__.py': "import sys\nprint('app v2', *sys.argv[1:])\n",
}
LIB_V1 = {
    'sllib/__init__.py': "VALUE = 'lib1'\n",
    'sllib_hook.pth': "import os; os.environ['SLLIB_PTH'] = 'yes'\n",
}


def _record_hash(data: bytes) -> str:
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()


def build_wheel(dest: Path, name: str, version: str, files: Dict[str, str], requires: Sequence[str] = ()) -> Path:
    """Write a pure-Python wheel ``{name}-{version}-py3-none-any.whl`` with ``files`` (and ``Requires-Dist``
    lines for ``requires``) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    info = f'{name}-{version}.dist-info'
    contents = {path: text.encode() for path, text in files.items()}
    requires_lines = ''.join(f'Requires-Dist: {r}\n' for r in requires)
    contents[f'{info}/METADATA'] = f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{requires_lines}'.encode()
    contents[f'{info}/WHEEL'] = (b'Wheel-Version: 1.0\nGenerator: slaunch-tests\nRoot-Is-Purelib: true\n'
                                 b'Tag: py3-none-any\n')
    wheel = dest / f'{name}-{version}-py3-none-any.whl'
    with zipfile.ZipFile(wheel, 'w', zipfile.ZIP_DEFLATED) as zf:
        record = []
        for path, data in contents.items():
            zf.writestr(path, data)
            record.append(f'{path},{_record_hash(data)},{len(data)}')
        record.append(f'{info}/RECORD,,')
        zf.writestr(f'{info}/RECORD', '\n'.join(record) + '\n')
    return wheel


def manifest_yaml(app_version: str = '1.0', entry: str = 'slapp.cli:main', extra_app: str = '',
                  requirements: str = '[sllib==1.0]', keep: Optional[int] = None) -> str:
    """Return a YAML manifest for the test app (paths relative to the manifest's directory)."""
    keep_line = f'keep_versions: {keep}\n' if keep is not None else ''
    return keep_line + textwrap.dedent(f'''\
        slaunch: 1
        environments:
          main:
            python: ">=3.9"
            requirements: {requirements}
            pip_args: [--no-index, --find-links, ./wheels]
        apps:
          slapp:
            version: "{app_version}"
            environment: main
            source: ./wheels/slapp-{{version}}-py3-none-any.whl
            entry: {entry}
            args: [--from-manifest]
            env: {{SLAPP_MODE: prod}}
        ''') + extra_app


@dataclass
class Wheels:
    """The directory holding the test wheels (``wheels/`` next to the manifests)."""

    base: Path

    @property
    def dir(self) -> Path:
        return self.base / 'wheels'

    def write_manifest(self, name: str, text: str) -> Path:
        path = self.base / name
        path.write_text(text, encoding='utf-8')
        return path


@pytest.fixture(autouse=True)
def _offline_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PIP_NO_INDEX', '1')
    monkeypatch.setenv('PIP_CONFIG_FILE', os.devnull)
    monkeypatch.delenv('SLAUNCH_ROOT', raising=False)


@pytest.fixture(scope='session')
def slaunch_wheels(tmp_path_factory: pytest.TempPathFactory) -> Wheels:
    """Wheels for slapp 1.0 and 2.0 and sllib 1.0 in ``<base>/wheels``."""
    base = tmp_path_factory.mktemp('slaunch-src')
    build_wheel(base / 'wheels', 'slapp', '1.0', APP_V1)
    build_wheel(base / 'wheels', 'slapp', '2.0', APP_V2)
    build_wheel(base / 'wheels', 'sllib', '1.0', LIB_V1)
    return Wheels(base)


@dataclass
class InstalledRoot:
    """A root where the first launch installed slapp 1.0; ``first_output`` / ``first_code`` of that launch."""

    root: Path
    wheels: Wheels
    manifest: Path
    first_output: str
    first_code: int
    first_seconds: float

    def copy(self, dest: Path) -> Path:
        """Return a private copy of the root (state holds no absolute paths, so copies are independent)."""
        shutil.copytree(self.root, dest, symlinks=True)
        return dest


@pytest.fixture(scope='session')
def installed_root(slaunch_wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InstalledRoot]:
    """One real first launch (venv + lib layer + slapp 1.0), shared by the tests that start from it."""
    import subprocess
    import sys
    import time

    root = tmp_path_factory.mktemp('slaunch-shared') / 'root'
    manifest = slaunch_wheels.write_manifest('shared.yaml', manifest_yaml('1.0'))
    env = dict(os.environ, PIP_NO_INDEX='1', PIP_CONFIG_FILE=os.devnull)
    code = (f'import sys; from scitrera_app_framework.slaunch.launcher import launch_app; '
            f'sys.exit(launch_app({APP!r}, {str(manifest)!r}, root={str(root)!r}, args=["first", "run"]))')
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.perf_counter() - started
    assert proc.returncode == 0, proc.stderr
    yield InstalledRoot(root=root, wheels=slaunch_wheels, manifest=manifest, first_output=proc.stdout,
                        first_code=proc.returncode, first_seconds=elapsed)


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record every pip command slaunch runs (pip still runs for real)."""
    from scitrera_app_framework.slaunch import _tools

    calls: list = []
    real = _tools.run_pip

    def _spy(cmd: list, what: str, cwd: Optional[Path] = None) -> str:
        calls.append(cmd)
        return real(cmd, what, cwd=cwd)

    monkeypatch.setattr(_tools, 'run_pip', _spy)
    return calls


def read_state(root: Path) -> dict:
    return json.loads((root / 'state.json').read_text(encoding='utf-8'))


@pytest.fixture
def state_of() -> Callable[[Path], dict]:
    """``state_of(root)`` -> the parsed state.json."""
    return read_state


@pytest.fixture
def make_manifest() -> Callable[..., str]:
    """``make_manifest(app_version='1.0', entry=..., extra_app='', requirements=..., keep=None)`` -> YAML text."""
    return manifest_yaml


@pytest.fixture
def wheel_builder() -> Callable[[Path, str, str, Dict[str, str]], Path]:
    """``wheel_builder(dest, name, version, files)`` -> path of the new wheel."""
    return build_wheel


@pytest.fixture
def private_wheels(slaunch_wheels: Wheels, tmp_path: Path) -> Wheels:
    """A per-test copy of the wheels directory (tests may add wheels to it) with manifests written next to it."""
    base = tmp_path / 'src'
    shutil.copytree(slaunch_wheels.dir, base / 'wheels')
    return Wheels(base)


# ------------------------------------------------------------------------------------- central repository

RAPP_V1 = {
    'main.py': textwrap.dedent('''\
        import sys

        import rdep
        import rlib
        import sllib

        print('rapp v1', rlib.VALUE, sllib.VALUE, rdep.VALUE, *sys.argv[1:])
        '''),
    'VERSION': '1.0\n',
    'helpers/__init__.py': '',
}
RAPP_V2 = {
    'main.py': "import sys\nimport rlib\nprint('rapp v2', rlib.VALUE, *sys.argv[1:])\n",
    'VERSION': '2.0\n',
}
RLIB = {'__init__.py': "__version__ = '0.5'\nVALUE = 'rlib05'\n"}


def write_tree(base: Path, files: Dict[str, str]) -> Path:
    """Write ``files`` (relative path -> text) below ``base``; return ``base``."""
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding='utf-8')
    return base


@dataclass
class Repository:
    """A central repository deployed with ``slaunch.deploy`` and a cache where rapp 1.0 was launched once."""

    repo: Path
    cache: Path
    src: Path
    wheels: Path
    first_output: str

    def copy(self, dest: Path) -> Tuple[Path, Path]:
        """Return private copies ``(repo, cache)`` below ``dest``."""
        shutil.copytree(self.repo, dest / 'repo', symlinks=True)
        shutil.copytree(self.cache, dest / 'cache', symlinks=True)
        return dest / 'repo', dest / 'cache'


@pytest.fixture(scope='session')
def repository(slaunch_wheels: Wheels, tmp_path_factory: pytest.TempPathFactory) -> Repository:
    """Deploy environment ``base`` (sllib from the test wheels), lib ``rlib`` 0.5 and app ``rapp`` 1.0 (with a
    pip requirement, ``rdep``) with ``slaunch.deploy``, then launch rapp once (a real venv) into a cache."""
    import subprocess
    import sys

    from scitrera_app_framework.slaunch import deploy

    base = tmp_path_factory.mktemp('slaunch-repo')
    wheels = base / 'wheels'
    shutil.copytree(slaunch_wheels.dir, wheels)
    build_wheel(wheels, 'rdep', '1.0', {'rdep.py': "VALUE = 'rdep1'\n"})
    src = base / 'src'
    write_tree(src / 'envs' / 'base', {'requirements.txt': f'--no-index\n--find-links {wheels}\nsllib==1.0\n'})
    write_tree(src / '_libs' / 'rlib', {'manifest.yaml': '{}\n', **{f'rlib/{k}': v for k, v in RLIB.items()}})
    write_tree(src / 'rapp', RAPP_V1)
    repo = base / 'repo'
    deploy.deploy_environments(src / 'envs', repository=repo)
    deploy.deploy_library('rlib', src / '_libs' / 'rlib', repository=repo)
    deploy.deploy_application('rapp', src / 'rapp', repository=repo, environment='base', lib_versions={'rlib': '0.5'},
                              pip_requirements=['--no-index', f'--find-links {wheels}', 'rdep==1.0'])
    cache = base / 'cache'
    env = dict(os.environ, PIP_NO_INDEX='1', PIP_CONFIG_FILE=os.devnull, SLAUNCH_REPOSITORY_PATH=str(repo),
               SLAUNCH_CACHE_PATH=str(cache))
    code = ('import sys; from scitrera_app_framework.slaunch.launcher import launch_app; '
            'sys.exit(launch_app("rapp", "first"))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return Repository(repo=repo, cache=cache, src=src, wheels=wheels, first_output=proc.stdout)


FAKE_CONDA = textwrap.dedent('''\
    #!{python}
    """A stand-in for the conda CLI: records its arguments; 'create' / 'env create' makes a venv at --prefix."""
    import json, subprocess, sys
    with open({log!r}, 'a') as log:
        log.write(json.dumps(sys.argv[1:]) + '\\n')
    args = sys.argv[1:]
    if 'create' in args[:2]:
        prefix = args[args.index('--prefix') + 1]
        subprocess.check_call([{python!r}, '-m', 'venv', '--without-pip', prefix])
    ''')


def _write_fake_conda(path: Path, log: Path) -> Path:
    """Write the stand-in conda executable (see :data:`FAKE_CONDA`) at ``path``; calls are logged to ``log``."""
    base_python = getattr(sys, '_base_executable', sys.executable)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_CONDA.format(python=base_python, log=str(log)))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture
def write_fake_conda() -> Callable[[Path, Path], Path]:
    """``write_fake_conda(path, log)``: a stand-in conda executable at ``path`` recording its calls in ``log``
    (``create`` / ``env create`` make a venv at ``--prefix``). No real conda ever runs in these tests."""
    return _write_fake_conda


@pytest.fixture
def rapp_v2() -> Dict[str, str]:
    """The files of rapp 2.0 (prints ``rapp v2 <rlib value> <args>``)."""
    return dict(RAPP_V2)
