"""What the README's manifest walk-through says about plugins, run for real: plugin wheels shipped with the app
(``install_deps: true``) follow the app's versions; a lib that depends on the app leaves a stale copy of the app
in the environment's layer (shadowed on ``sys.path`` by the app's own directory, but still there)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

from scitrera_app_framework.slaunch.launcher import launch_app

APP = 'papp'
CLI = textwrap.dedent('''\
    import importlib.metadata as md

    import papp


    def main():
        try:
            import pplug
            plugin = pplug.VERSION
        except ImportError:
            plugin = '-'
        dists = sorted(d.version for d in md.distributions() if d.metadata['Name'] == 'papp')
        print('papp', papp.VERSION, 'plugin', plugin, 'dists', ','.join(dists))
    ''')


def _app_files(version: str) -> dict:
    return {'papp/__init__.py': f"VERSION = '{version}'\n", 'papp/cli.py': CLI}


def _manifest(app_version: str, install_deps: bool, libs: str = '') -> str:
    return textwrap.dedent(f'''\
        slaunch: 1
        environments:
          main:
            pip_args: [--no-index, --find-links, ./wheels]
        apps:
          papp:
            version: "{app_version}"
            source: ./wheels/papp-{{version}}-py3-none-any.whl
            entry: papp.cli:main
            install_deps: {str(install_deps).lower()}
        ''') + libs


def _out(capfd: Any) -> str:
    return [line for line in capfd.readouterr().out.splitlines() if line.strip()][-1]


def test_plugins_shipped_with_the_app_follow_its_versions(tmp_path: Path, wheel_builder: Callable,
                                                          capfd: Any) -> None:
    wheels = tmp_path / 'wheels'
    for version in ('1.0', '2.0'):
        wheel_builder(wheels, 'pplug', version, {'pplug/__init__.py': f"VERSION = 'p{version}'\n"})
        wheel_builder(wheels, 'papp', version, _app_files(version), requires=[f'pplug=={version}'])
    root = tmp_path / 'root'
    for version in ('1.0', '2.0'):
        manifest = tmp_path / f'm{version}.yaml'
        manifest.write_text(_manifest(version, install_deps=True))
        assert launch_app(APP, manifest, root=root) == 0
        assert _out(capfd) == f'papp {version} plugin p{version} dists {version}'
        assert (root / 'apps' / APP / version / 'pplug' / '__init__.py').is_file()  # beside the app
    assert not (root / 'layers').exists() or not any((root / 'layers').rglob('pplug'))


def test_a_lib_depending_on_the_app_leaves_a_stale_copy_in_the_layer(tmp_path: Path, wheel_builder: Callable,
                                                                     capfd: Any) -> None:
    wheels = tmp_path / 'wheels'
    wheel_builder(wheels, 'papp', '1.0', _app_files('1.0'))
    wheel_builder(wheels, 'pext', '1.0', {'pext/__init__.py': ''}, requires=['papp'])
    libs = 'libs:\n  pext: {version: "1.0"}\n'
    root = tmp_path / 'root'
    manifest = tmp_path / 'm.yaml'
    manifest.write_text(_manifest('1.0', install_deps=False, libs=libs))
    assert launch_app(APP, manifest, root=root) == 0
    assert _out(capfd) == 'papp 1.0 plugin - dists 1.0,1.0'  # the app, and its copy in the layer
    wheel_builder(wheels, 'papp', '2.0', _app_files('2.0'))
    manifest.write_text(_manifest('2.0', install_deps=False, libs=libs))
    assert launch_app(APP, manifest, root=root) == 0
    assert _out(capfd) == 'papp 2.0 plugin - dists 1.0,2.0'  # imports get 2.0; the layer's 1.0 stays
    assert [p.name for p in (root / 'layers').rglob('papp-*.dist-info')] == ['papp-1.0.dist-info']
