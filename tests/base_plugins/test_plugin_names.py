"""Base plugins under the original's class and module names, and ``register_package_plugins`` exclusions."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path
from typing import Iterator

import pytest

from scitrera_app_framework import base_plugins
from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.base_plugins import (
    EXT_BACKGROUND_EXEC,
    EXT_PROGRESS_TRACKER,
    get_background_exec,
    get_progress_tracker,
    register_package_plugins,
)
from scitrera_app_framework.base_plugins.background import BackgroundExecutor
from scitrera_app_framework.base_plugins.bg_exec import BackgroundThreadExecutorPlugin
from scitrera_app_framework.base_plugins.progress_tracker import ProgressTracker, ProgressTrackerPlugin
from scitrera_app_framework.core.plugins import describe_plugins, get_extension, shutdown_all_plugins
from scitrera_app_framework.util import find_types_in_modules

PKG = 'saf_t_plugpkg'
TIMEOUT = 5.0


@pytest.fixture
def v() -> Iterator[Variables]:
    """A fresh Variables whose plugins are shut down after the test."""
    fresh = Variables()
    yield fresh
    shutdown_all_plugins(fresh)


@pytest.fixture
def plug_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """saf_t_plugpkg: a.PA, b.PB (+ an alias of PA and an abstract plugin), sub.c.PC."""
    root = tmp_path / PKG
    (root / 'sub').mkdir(parents=True)
    (root / '__init__.py').write_text('')
    (root / 'a.py').write_text(textwrap.dedent('''
        from scitrera_app_framework.api import Plugin

        class PA(Plugin):
            def extension_point_name(self, v):
                return 'saf-t-pa'
    '''))
    (root / 'b.py').write_text(textwrap.dedent('''
        from scitrera_app_framework.api import Plugin
        from .a import PA

        PAAlias = PA  # an alias: PA must not be registered twice

        class PB(Plugin):
            def extension_point_name(self, v):
                return 'saf-t-pb'

        class NotAPlugin(Plugin):
            abstract = True
    '''))
    (root / 'sub' / '__init__.py').write_text('')
    (root / 'sub' / 'c.py').write_text(textwrap.dedent('''
        from scitrera_app_framework.api import Plugin

        class PC(Plugin):
            def extension_point_name(self, v):
                return 'saf-t-pc'
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield PKG
    for name in [m for m in sys.modules if m == PKG or m.startswith(PKG + '.')]:
        del sys.modules[name]


def _cls_names(plugins: list[Plugin]) -> list[str]:
    return [type(p).__name__ for p in plugins]


# --- names and import paths ------------------------------------------------------------------------------------
def test_original_class_names_and_import_paths() -> None:
    bg_exec = importlib.import_module('scitrera_app_framework.base_plugins.bg_exec')
    progress_tracker = importlib.import_module('scitrera_app_framework.base_plugins.progress_tracker')
    assert bg_exec.BackgroundThreadExecutorPlugin is BackgroundThreadExecutorPlugin
    assert progress_tracker.ProgressTrackerPlugin is ProgressTrackerPlugin
    for cls, name in ((BackgroundThreadExecutorPlugin, 'BackgroundThreadExecutorPlugin'),
                      (ProgressTrackerPlugin, 'ProgressTrackerPlugin')):
        assert cls.__name__ == name
        assert cls.__qualname__ == name
        assert issubclass(cls, Plugin)
        assert cls().name().endswith('.' + name)
    # the defining modules are the original's, so the default plugin names are the same
    assert ProgressTrackerPlugin().name() == \
        'scitrera_app_framework.base_plugins.progress_tracker.ProgressTrackerPlugin'
    assert BackgroundThreadExecutorPlugin().name() == \
        'scitrera_app_framework.base_plugins.bg_exec.BackgroundThreadExecutorPlugin'


def test_old_names_are_deprecated_aliases_of_the_same_classes() -> None:
    progress = importlib.import_module('scitrera_app_framework.base_plugins.progress')
    background = importlib.import_module('scitrera_app_framework.base_plugins.background')
    with pytest.warns(DeprecationWarning, match=r'base_plugins\.background\.BackgroundExecPlugin is deprecated.*'
                                                r'from scitrera_app_framework\.base_plugins\.bg_exec import '
                                                r'BackgroundThreadExecutorPlugin'):
        assert background.BackgroundExecPlugin is BackgroundThreadExecutorPlugin
    home = r'import it from scitrera_app_framework\.base_plugins\.progress_tracker'
    with pytest.warns(DeprecationWarning, match=home):
        assert progress.ProgressTrackerPlugin is ProgressTrackerPlugin
    with pytest.warns(DeprecationWarning, match=home):
        assert progress.ProgressTracker is ProgressTracker
    assert importlib.import_module('scitrera_app_framework.base_plugins.bg_exec').BackgroundExecutor \
        is BackgroundExecutor


def test_find_types_in_modules_sees_each_base_plugin_once() -> None:
    found = find_types_in_modules('scitrera_app_framework.base_plugins', Plugin)
    assert found == [BackgroundThreadExecutorPlugin, ProgressTrackerPlugin]
    assert find_types_in_modules(base_plugins, Plugin, recursive=False) == found


# --- register_package_plugins(base_plugins) ----------------------------------------------------------------------
def test_register_base_plugins_registers_each_class_once(v: Variables) -> None:
    plugins = register_package_plugins(base_plugins, v)
    assert _cls_names(plugins) == ['BackgroundThreadExecutorPlugin', 'ProgressTrackerPlugin']
    names = [d['name'] for d in describe_plugins(v)]
    assert len(names) == 2 and len(set(names)) == 2
    assert {d['extension_point'] for d in describe_plugins(v)} == {EXT_BACKGROUND_EXEC, EXT_PROGRESS_TRACKER}
    # registering again (as a second init_framework would) adds nothing
    register_package_plugins('scitrera_app_framework.base_plugins', v)
    assert [d['name'] for d in describe_plugins(v)] == names

    ex = get_background_exec(v)
    assert isinstance(ex, BackgroundExecutor)
    assert get_extension(EXT_BACKGROUND_EXEC, v) is ex
    assert ex.submit(lambda: 41 + 1).result(TIMEOUT) == 42
    assert isinstance(get_progress_tracker(v), ProgressTracker)
    assert [d['name'] for d in describe_plugins(v)] == names  # the getters did not register a second copy


def test_register_base_plugins_excluding_a_class_by_its_old_alias(v: Variables) -> None:
    plugins = register_package_plugins(base_plugins, v, exclusions=[BackgroundThreadExecutorPlugin])
    assert _cls_names(plugins) == ['ProgressTrackerPlugin']
    assert EXT_BACKGROUND_EXEC not in {d['extension_point'] for d in describe_plugins(v)}
    # the getter still works: it registers the executor plugin on demand
    assert isinstance(get_background_exec(v), BackgroundExecutor)
    assert _cls_names(register_package_plugins(base_plugins, v, exclusions=(ProgressTrackerPlugin,))) == [
        'BackgroundThreadExecutorPlugin']


def test_get_background_exec_without_registration(v: Variables) -> None:
    ex = get_background_exec(v)
    assert isinstance(ex, BackgroundExecutor)
    (info,) = describe_plugins(v)
    assert info['name'].endswith('.BackgroundThreadExecutorPlugin')


def test_init_framework_base_plugins() -> None:
    from scitrera_app_framework import init_framework_test_harness
    from scitrera_app_framework.testing import reset_framework

    reset_framework()
    try:
        fresh = init_framework_test_harness('names-app', v=Variables(), base_plugins=True)
        names = sorted(d['name'].rsplit('.', 1)[-1] for d in describe_plugins(fresh))
        assert names == ['BackgroundThreadExecutorPlugin', 'ProgressTrackerPlugin']
        assert isinstance(get_background_exec(fresh), BackgroundExecutor)
    finally:
        reset_framework()


# --- register_package_plugins exclusions ------------------------------------------------------------------------
def test_register_package_plugins_without_exclusions(plug_pkg: str, v: Variables) -> None:
    assert _cls_names(register_package_plugins(plug_pkg, v)) == ['PA', 'PB']  # alias and abstract skipped
    assert len(describe_plugins(v)) == 2


def test_register_package_plugins_recursive(plug_pkg: str, v: Variables) -> None:
    assert _cls_names(register_package_plugins(plug_pkg, v, recursive=True)) == ['PA', 'PB', 'PC']


@pytest.mark.parametrize('exclusions, expected', [
    (lambda: ('b',), ['PA']),
    (lambda: (f'{PKG}.b',), ['PA']),
    (lambda: (f'{PKG}.a.PA',), ['PB']),
    (lambda: (sys.modules[f'{PKG}.b'],), ['PA']),
    (lambda: (sys.modules[f'{PKG}.a'].PA,), ['PB']),
    (lambda: [sys.modules[f'{PKG}.b'].PAAlias], ['PB']),  # an alias excludes the same class
    (lambda: sys.modules[f'{PKG}.b'].PB, ['PA']),  # a single class, not in a tuple
    (lambda: 'a', ['PB']),  # a single module name, not in a tuple
    (lambda: ('a', sys.modules[f'{PKG}.b'].PB), []),  # mixed names and classes
], ids=['relative-module', 'full-module', 'class-name', 'module-object', 'class', 'alias', 'single-class',
        'single-name', 'mixed'])
def test_register_package_plugins_exclusions(plug_pkg: str, v: Variables, exclusions, expected: list[str]) -> None:
    importlib.import_module(f'{PKG}.b')  # so the lambdas can reach the modules
    plugins = register_package_plugins(plug_pkg, v, exclusions=exclusions())
    assert _cls_names(plugins) == expected
    assert sorted(d['name'].rsplit('.', 1)[-1] for d in describe_plugins(v)) == sorted(expected)


def test_register_package_plugins_excluding_a_subpackage(plug_pkg: str, v: Variables) -> None:
    pc = importlib.import_module(f'{PKG}.sub.c').PC
    assert _cls_names(register_package_plugins(plug_pkg, v, exclusions=('sub',), recursive=True)) == ['PA', 'PB']
    assert _cls_names(register_package_plugins(plug_pkg, v, exclusions=[pc], recursive=True)) == ['PA', 'PB']


def test_register_package_plugins_plain_module(plug_pkg: str, v: Variables) -> None:
    assert _cls_names(register_package_plugins(f'{PKG}.b', v)) == ['PB']


def test_register_package_plugins_bad_exclusion(plug_pkg: str, v: Variables) -> None:
    with pytest.raises(TypeError, match='exclusions'):
        register_package_plugins(plug_pkg, v, exclusions=(3,))  # type: ignore[arg-type]
    assert describe_plugins(v) == []


def test_register_package_plugins_order_is_the_originals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         v: Variables) -> None:
    """As the original: modules in import order, a module's classes in dir() order (by attribute name), the
    package's own ``__init__`` not scanned; get_extensions lists contributors in that order."""
    root = tmp_path / 'saf_t_orderpkg'
    root.mkdir()
    body = textwrap.dedent('''
        from scitrera_app_framework.api import Plugin

        class {name}(Plugin):
            def extension_point_name(self, v):
                return 'saf-t-order'
            def is_enabled(self, v):
                return False
            def is_multi_extension(self, v):
                return True
            def initialize(self, v, logger):
                return '{name}'
    ''')
    (root / '__init__.py').write_text(body.format(name='InInit'))
    (root / 'm_one.py').write_text(body.format(name='Zeta') + body.format(name='Alpha').split('\n', 2)[2])
    (root / 'm_two.py').write_text(body.format(name='Mid'))
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = register_package_plugins('saf_t_orderpkg', v)
    assert _cls_names(plugins) == ['Alpha', 'Zeta', 'Mid']
    from scitrera_app_framework.core.plugins import get_extensions
    assert list(get_extensions('saf-t-order', v).values()) == ['Alpha', 'Zeta', 'Mid']
