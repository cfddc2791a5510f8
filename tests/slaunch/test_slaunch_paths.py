"""Platform detection, default roots, interpreter paths and the name / root-escape checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scitrera_app_framework.slaunch.errors import InvalidNameError
from scitrera_app_framework.slaunch.launcher import launch_app
from scitrera_app_framework.slaunch.paths import (
    default_root,
    env_python,
    platform_kind,
    resolve_root,
    safe_child,
    validate_name,
)

HOME = Path('/home/u')


@pytest.mark.parametrize(('plat', 'kind'), [('win32', 'windows'), ('cygwin', 'windows'), ('darwin', 'macos'),
                                            ('linux', 'linux'), ('freebsd13', 'linux')])
def test_platform_kind(plat: str, kind: str) -> None:
    assert platform_kind(plat) == kind


@pytest.mark.parametrize(('plat', 'environ', 'expected'), [
    ('win32', {'LOCALAPPDATA': r'C:\Users\u\AppData\Local'}, Path(r'C:\Users\u\AppData\Local') / 'slaunch'),
    ('win32', {}, HOME / 'AppData' / 'Local' / 'slaunch'),
    ('darwin', {}, HOME / 'Library' / 'Application Support' / 'slaunch'),
    ('linux', {'XDG_DATA_HOME': '/data/xdg'}, Path('/data/xdg/slaunch')),
    ('linux', {'XDG_DATA_HOME': 'relative/ignored'}, HOME / '.local' / 'share' / 'slaunch'),
    ('linux', {}, HOME / '.local' / 'share' / 'slaunch'),
    ('linux', {'SLAUNCH_ROOT': '/srv/slaunch', 'XDG_DATA_HOME': '/x'}, Path('/srv/slaunch')),
    ('win32', {'SLAUNCH_ROOT': '/srv/slaunch'}, Path('/srv/slaunch')),
])
def test_default_root(plat: str, environ: dict, expected: Path) -> None:
    assert default_root(environ, plat, HOME) == expected


def test_resolve_root_uses_env_var_and_makes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SLAUNCH_ROOT', str(tmp_path / 'r'))
    assert resolve_root() == tmp_path / 'r'
    monkeypatch.chdir(tmp_path)
    assert resolve_root('rel') == tmp_path / 'rel'
    with pytest.raises(InvalidNameError, match='empty path'):
        resolve_root('')
    with pytest.raises(InvalidNameError, match='PYTHONPATH'):
        resolve_root(str(tmp_path / f'a{os.pathsep}b'))


def test_env_python_per_platform() -> None:
    env = Path('envs') / 'main'
    assert env_python(env, 'venv', 'win32') == env / 'Scripts' / 'python.exe'
    assert env_python(env, 'conda', 'win32') == env / 'python.exe'
    assert env_python(env, 'venv', 'linux') == env / 'bin' / 'python'
    assert env_python(env, 'conda', 'darwin') == env / 'bin' / 'python'


@pytest.mark.parametrize('name', ['app', 'my-app_2', '1.0.0', '2.0+local.1', 'v1.0rc1', 'A'])
def test_valid_names(name: str) -> None:
    assert validate_name(name, 'app name') == name


@pytest.mark.parametrize(('name', 'reason'), [
    ('../evil', "'..' would escape"), ('..', "'..' would escape"), ('a..b', "'..' would escape"),
    ('/etc', 'absolute path'), ('\\\\server\\share', 'absolute path'), ('C:\\x', 'absolute path'),
    ('a/b', 'path separator'), ('a\\b', 'path separator'), ('', 'empty'), ('.', "'.' is not a name"),
    ('.hidden', 'not allowed'), ('with space', 'not allowed'), ('x' * 101, 'too long'), ('trailing.', 'ends with'),
    ('nul', 'reserved'), ('COM1.txt', 'reserved'), ('a\x00b', 'not allowed'),
])
def test_invalid_names(name: str, reason: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        validate_name(name, 'app name')
    assert reason in str(info.value)
    assert repr(name) in str(info.value)


def test_non_string_name() -> None:
    with pytest.raises(InvalidNameError, match='expected a string'):
        validate_name(3, 'app version')


def test_safe_child_rejects_symlinks_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / 'root'
    (root / 'apps').mkdir(parents=True)
    outside = tmp_path / 'outside'
    outside.mkdir()
    assert safe_child(root, 'apps', 'ok') == root / 'apps' / 'ok'
    try:
        os.symlink(outside, root / 'apps' / 'sneaky', target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip('cannot create symlinks here')
    with pytest.raises(InvalidNameError, match='outside the slaunch root'):
        safe_child(root, 'apps', 'sneaky', '1.0')
    with pytest.raises(InvalidNameError):
        safe_child(root, 'apps', '..', 'x')


@pytest.mark.parametrize('app', ['../evil', '/tmp/evil', 'a/b', '..'])
def test_launch_app_rejects_unsafe_app_names_before_touching_disk(tmp_path: Path, app: str) -> None:
    root = tmp_path / 'root'
    with pytest.raises(InvalidNameError):
        launch_app(app, {'environments': {'e': {}}, 'apps': {}}, root=root)
    assert not root.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
