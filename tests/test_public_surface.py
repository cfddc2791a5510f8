"""The public surface: every public module says what it exports (``__all__``), and no package module imports
an underscore (private) name from another package module."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

import scitrera_app_framework

PKG = Path(scitrera_app_framework.__file__).resolve().parent
PKG_NAME = 'scitrera_app_framework'


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PKG.rglob('*.py')):
        rel = path.relative_to(PKG.parent).with_suffix('')
        parts = list(rel.parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        out.append(('.'.join(parts), path))
    return out


def _is_public(modname: str) -> bool:
    return not any(p.startswith('_') for p in modname.split('.')[1:])


PUBLIC = [m for m, _ in _modules() if _is_public(m)]


@pytest.mark.parametrize('modname', PUBLIC)
def test_public_module_defines_all(modname: str) -> None:
    try:
        mod = importlib.import_module(modname)
    except ImportError as e:  # an optional dependency (pytest plugin without pytest, ...)
        pytest.fail(f'{modname} does not import: {e}')
    names = getattr(mod, '__all__', None)
    assert isinstance(names, (list, tuple)), f'{modname} has no __all__'
    missing = [n for n in names if not hasattr(mod, n)]
    assert missing == [], f'{modname}.__all__ lists names it does not have: {missing}'


def _resolve(modname: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ''
    base = modname.split('.')
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return '.'.join(base + ([node.module] if node.module else []))


def test_no_module_imports_another_modules_private_names() -> None:
    bad = []
    for modname, path in _modules():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = _resolve(modname, node, path.name == '__init__.py')
            if not source.startswith(PKG_NAME) or source == modname:
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith('_') and not name.startswith('__'):
                    # an underscore *module* of the same package is the package's implementation: allowed
                    try:
                        if importlib.util.find_spec(f'{source}.{name}') is not None:
                            continue
                    except ModuleNotFoundError:  # source is a module, not a package
                        pass
                    bad.append(f'{modname}:{node.lineno} imports {source}.{name}')
    assert bad == []
