"""Tests for scitrera_app_framework.util.imports and util.misc."""

from __future__ import annotations

import collections
import importlib
import importlib.util
import json
import os
import os.path
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from scitrera_app_framework.util import (
    ext_get_python,
    find_types_in_modules,
    get_python_type_by_name,
    import_modules,
    no_op,
    now_ms,
    path_for_module,
)

PKG = 'saf_t_importpkg'


@pytest.fixture
def demo_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A throwaway package on sys.path: saf_t_importpkg/{__init__, alpha, beta, sub/{__init__, gamma}}."""
    root = tmp_path / PKG
    (root / 'sub').mkdir(parents=True)
    (root / '__init__.py').write_text('class Base:\n    pass\n')
    (root / 'alpha.py').write_text(textwrap.dedent('''
        from . import Base

        class A1(Base):
            pass

        class A2(A1):
            pass

        class Unrelated:
            pass
    '''))
    (root / 'beta.py').write_text(textwrap.dedent('''
        from .alpha import A1  # re-export: must not be reported for beta

        class B1(A1):
            pass
    '''))
    (root / 'sub' / '__init__.py').write_text('')
    (root / 'sub' / 'gamma.py').write_text('from .. import Base\n\nclass G1(Base):\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield PKG
    for name in [m for m in sys.modules if m == PKG or m.startswith(PKG + '.')]:
        del sys.modules[name]


# --- ext_get_python ------------------------------------------------------------------------------------------
def test_ext_get_python_resolves_attribute_and_nested_attribute() -> None:
    assert ext_get_python('json.dumps') is json.dumps
    assert ext_get_python('collections.OrderedDict') is collections.OrderedDict
    assert ext_get_python('os.path.join') is os.path.join
    assert ext_get_python('collections.OrderedDict.fromkeys') == collections.OrderedDict.fromkeys


def test_ext_get_python_dotted_module_returns_module() -> None:
    assert ext_get_python('os.path') is os.path
    assert ext_get_python('xml.dom') is sys.modules['xml.dom']


@pytest.mark.parametrize('name', ['invalid', 'json', 'saf_t_no_such_module_xyz'])
def test_ext_get_python_name_without_dot_is_value_error(name: str) -> None:
    with pytest.raises(ValueError) as ei:
        ext_get_python(name)
    assert repr(name) in str(ei.value)


@pytest.mark.parametrize('name', ['', '   ', 'json..dumps', '.json', 'json.', '1abc.x', 'json.du-mps', 'a b'])
def test_ext_get_python_malformed_name(name: str) -> None:
    with pytest.raises(ValueError) as ei:
        ext_get_python(name)
    msg = str(ei.value)
    assert repr(name) in msg or repr(name.strip()) in msg  # the error names the bad value


def test_ext_get_python_non_string_is_value_error() -> None:
    with pytest.raises(ValueError):
        ext_get_python(None)  # type: ignore[arg-type]


def test_ext_get_python_missing_module_names_it() -> None:
    with pytest.raises(ModuleNotFoundError) as ei:
        ext_get_python('saf_t_no_such_module_xyz.Thing')
    assert 'saf_t_no_such_module_xyz' in str(ei.value)
    assert ei.value.name == 'saf_t_no_such_module_xyz'
    with pytest.raises(ModuleNotFoundError, match='saf_t_no_such_module_xyz'):
        ext_get_python('saf_t_no_such_module_xyz.sub.Thing')


def test_ext_get_python_missing_attribute_names_module_and_attribute() -> None:
    with pytest.raises(AttributeError) as ei:
        ext_get_python('json.no_such_attr_xyz')
    msg = str(ei.value)
    assert "'json'" in msg and 'no_such_attr_xyz' in msg


def test_ext_get_python_missing_nested_attribute() -> None:
    with pytest.raises(AttributeError) as ei:
        ext_get_python('json.dumps.nope_xyz')
    assert 'json.dumps' in str(ei.value) and 'nope_xyz' in str(ei.value)


def test_ext_get_python_import_error_inside_module_propagates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a module that exists but itself imports something missing must not be reported as "no module <ours>"
    (tmp_path / 'saf_t_broken_mod.py').write_text('import saf_t_really_missing_dep_xyz\nX = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ImportError) as ei:
            ext_get_python('saf_t_broken_mod.X')
        assert 'saf_t_really_missing_dep_xyz' in str(ei.value)
    finally:
        sys.modules.pop('saf_t_broken_mod', None)


# --- get_python_type_by_name ---------------------------------------------------------------------------------
def test_get_python_type_by_name_ok() -> None:
    assert get_python_type_by_name('collections.OrderedDict', dict) is collections.OrderedDict
    assert get_python_type_by_name('collections.OrderedDict') is collections.OrderedDict
    assert get_python_type_by_name(collections.OrderedDict, dict) is collections.OrderedDict


def test_get_python_type_by_name_not_a_subclass() -> None:
    with pytest.raises(TypeError) as ei:
        get_python_type_by_name('collections.OrderedDict', list)
    msg = str(ei.value)
    assert 'OrderedDict' in msg and 'list' in msg and 'subclass' in msg


def test_get_python_type_by_name_not_a_class() -> None:
    with pytest.raises(TypeError, match='not a class'):
        get_python_type_by_name('json.dumps', object)


def test_get_python_type_by_name_errors_of_resolution() -> None:
    with pytest.raises(ValueError):
        get_python_type_by_name('bad..name', object)
    with pytest.raises(ModuleNotFoundError, match='saf_t_no_such_module_xyz'):
        get_python_type_by_name('saf_t_no_such_module_xyz.Type', object)
    with pytest.raises(ModuleNotFoundError, match='saf_t_no_such_module_xyz'):
        get_python_type_by_name('saf_t_no_such_module_xyz.Type')
    with pytest.raises(ValueError, match="'invalid'"):
        get_python_type_by_name('invalid')
    with pytest.raises(AttributeError, match='NoSuchType'):
        get_python_type_by_name('collections.NoSuchType', object)


# --- import_modules / find_types_in_modules / path_for_module ------------------------------------------------
def test_import_modules_top_level(demo_pkg: str) -> None:
    """As the original: the package's submodules (recursive by default), not the package itself."""
    names = [m.__name__ for m in import_modules(demo_pkg, recursive=False)]
    assert PKG not in names
    assert set(names) == {f'{PKG}.alpha', f'{PKG}.beta', f'{PKG}.sub'}
    assert f'{PKG}.sub.gamma' in {m.__name__ for m in import_modules(demo_pkg)}  # recursive=True by default


def test_import_modules_recursive_and_exclusions(demo_pkg: str) -> None:
    names = {m.__name__ for m in import_modules(demo_pkg, recursive=True)}
    assert f'{PKG}.sub.gamma' in names
    names = {m.__name__ for m in import_modules(demo_pkg, recursive=True, exclusions=('sub', f'{PKG}.beta'))}
    assert names == {f'{PKG}.alpha'}


def test_import_modules_accepts_module_object() -> None:
    names = [m.__name__ for m in import_modules(json)]
    assert 'json' not in names and 'json.decoder' in names


def test_import_modules_rejects_a_plain_module(demo_pkg: str) -> None:
    import string
    with pytest.raises(ValueError, match="'string' is not a package"):
        import_modules(string)
    with pytest.raises(ValueError, match='not a package'):
        import_modules('string')
    with pytest.raises(ValueError, match=f"'{PKG}.alpha' is not a package"):
        import_modules(f'{PKG}.alpha')


def test_import_modules_missing_package() -> None:
    """The original's words ("Package '<name>' not found"), and how to fix it."""
    with pytest.raises(ModuleNotFoundError, match="Package 'saf_t_no_such_pkg_xyz' not found"):
        import_modules('saf_t_no_such_pkg_xyz')


def test_find_types_in_modules_dir_order_within_a_module(tmp_path: Any, monkeypatch: Any) -> None:
    """As the original (and so register_package_plugins and get_extensions): a module's classes in dir() order."""
    (tmp_path / 'saf_t_order_pkg').mkdir()
    (tmp_path / 'saf_t_order_pkg' / '__init__.py').write_text('class InInit(int):\n    pass\n')
    (tmp_path / 'saf_t_order_pkg' / 'mod.py').write_text(
        'class Zeta(int):\n    pass\n\n\nclass Alpha(int):\n    pass\n\n\nclass Mid(int):\n    pass\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [c.__name__ for c in find_types_in_modules('saf_t_order_pkg', int)] == ['Alpha', 'Mid', 'Zeta']


def test_find_types_in_modules(demo_pkg: str) -> None:
    mods = import_modules(demo_pkg, recursive=True)
    base = sys.modules[PKG].Base
    found = find_types_in_modules(mods, base)
    names = [t.__qualname__ for t in found]
    assert sorted(names) == ['A1', 'A2', 'B1', 'G1']
    assert len(names) == len(set(names))  # re-export of A1 in beta not counted twice
    assert names.index('A1') < names.index('A2')  # dir() order within a module
    assert 'Unrelated' not in names and 'Base' not in names
    assert base in find_types_in_modules([sys.modules[PKG], *mods], base, include_parent=True)
    assert base in find_types_in_modules([sys.modules[PKG], *mods], base, exclude_base_type=False)


def _names(types: list[type]) -> list[str]:
    return [t.__qualname__ for t in types]


def test_find_types_in_modules_by_package_name(demo_pkg: str) -> None:
    base = importlib.import_module(PKG).Base
    # recursive by default: the sub-package's classes are found too
    assert sorted(_names(find_types_in_modules(PKG, base))) == ['A1', 'A2', 'B1', 'G1']
    assert sorted(_names(find_types_in_modules(PKG, base, recursive=False))) == ['A1', 'A2', 'B1']
    assert sorted(_names(find_types_in_modules(sys.modules[PKG], base))) == ['A1', 'A2', 'B1', 'G1']
    # positional flags as in the original signature
    assert 'Base' in _names(find_types_in_modules([sys.modules[PKG]], base, True, False))


def test_find_types_in_modules_single_module_and_module_list(demo_pkg: str) -> None:
    base = importlib.import_module(PKG).Base
    assert _names(find_types_in_modules(f'{PKG}.alpha', base)) == ['A1', 'A2']
    beta = importlib.import_module(f'{PKG}.beta')
    assert _names(find_types_in_modules(beta, base)) == ['B1']  # A1 is only re-exported there
    # an iterable is scanned as given: no walking into the package even though recursive=True
    assert _names(find_types_in_modules([f'{PKG}.sub.gamma', beta], base)) == ['G1', 'B1']
    assert find_types_in_modules([sys.modules[PKG]], base) == []


def test_find_types_in_modules_excludes_abstract_classes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'saf_t_abstract_mod.py').write_text(textwrap.dedent('''
        import abc

        class Base(abc.ABC):
            @abc.abstractmethod
            def run(self): ...

        class StillAbstract(Base):
            pass

        class Concrete(StillAbstract):
            def run(self):
                return 1
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        base = importlib.import_module('saf_t_abstract_mod').Base
        assert _names(find_types_in_modules('saf_t_abstract_mod', base)) == ['Concrete']
        assert _names(find_types_in_modules('saf_t_abstract_mod', base, exclude_abstract=False)) == [
            'Concrete', 'StillAbstract']
        assert _names(find_types_in_modules('saf_t_abstract_mod', base, exclude_base_type=False,
                                            exclude_abstract=False)) == ['Base', 'Concrete', 'StillAbstract']
    finally:
        sys.modules.pop('saf_t_abstract_mod', None)


def test_find_types_in_modules_missing_package() -> None:
    with pytest.raises(ModuleNotFoundError):
        find_types_in_modules('saf_t_no_such_pkg_xyz', object)


def test_path_for_module(demo_pkg: str) -> None:
    pkg_dir = Path(os.path.abspath(importlib.util.find_spec(PKG).origin)).parent
    # located without importing the module
    assert path_for_module(f'{PKG}.sub.gamma') == pkg_dir / 'sub'
    assert f'{PKG}.sub.gamma' not in sys.modules
    import_modules(demo_pkg, recursive=True)
    result = path_for_module(PKG)
    assert isinstance(result, Path)
    assert result == pkg_dir
    assert path_for_module(sys.modules[PKG]) == pkg_dir
    assert path_for_module(f'{PKG}.alpha') == pkg_dir
    assert path_for_module(f'{PKG}.sub.gamma') == pkg_dir / 'sub'
    assert path_for_module(f'{PKG}.sub') == pkg_dir / 'sub'
    assert path_for_module('json') == Path(json.__file__).parent
    assert path_for_module('os') == Path(os.__file__).parent


def test_path_for_module_missing_module() -> None:
    with pytest.raises(ModuleNotFoundError):
        path_for_module('saf_t_no_such_module_xyz')
    with pytest.raises(ModuleNotFoundError):
        path_for_module('saf_t_no_such_module_xyz.sub', raise_exceptions=True)
    with pytest.raises(ModuleNotFoundError):
        path_for_module('json.saf_t_no_such_sub')
    assert path_for_module('saf_t_no_such_module_xyz', raise_exceptions=False) is None
    assert path_for_module('saf_t_no_such_module_xyz.sub', raise_exceptions=False) is None
    assert path_for_module('json.saf_t_no_such_sub', False) is None


def test_path_for_module_builtin_has_no_file() -> None:
    with pytest.raises(ValueError, match='sys'):
        path_for_module('sys')
    with pytest.raises(ValueError, match='sys'):
        path_for_module(sys)
    assert path_for_module('sys', raise_exceptions=False) is None


def test_path_for_module_namespace_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'saf_t_nspkg').mkdir()
    (tmp_path / 'saf_t_nspkg' / 'mod.py').write_text('X = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert path_for_module('saf_t_nspkg') == tmp_path / 'saf_t_nspkg'
        assert path_for_module('saf_t_nspkg.mod') == tmp_path / 'saf_t_nspkg'
    finally:
        for name in ('saf_t_nspkg', 'saf_t_nspkg.mod'):
            sys.modules.pop(name, None)


# --- misc ----------------------------------------------------------------------------------------------------
def test_now_ms() -> None:
    before = int(time.time() * 1000)
    value = now_ms()
    after = int(time.time() * 1000)
    assert isinstance(value, int)
    assert before - 1 <= value <= after + 1


def test_no_op_accepts_anything() -> None:
    assert no_op() is None
    assert no_op(1, 2, a=3, b=[4]) is None
