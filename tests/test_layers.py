"""The layers hold: every import between the package's modules (function-local ones included) goes to the same
layer or a layer below, as ``docs/architecture.md`` lays them out, or is one of the exceptions listed there.

The document is the source: the ``layers`` block maps module prefixes to layers (bottom first), the
``layer-exceptions`` block lists each allowed upward import with its reason. A new upward import fails here
(move the helper down, pass a callable in, or register a hook; or add an exception with a reason); an exception
that no longer happens fails too, so the list only shrinks. Imports under ``if TYPE_CHECKING:`` are for the type
checker only and are not held to the layers (they run nowhere).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

import scitrera_app_framework

PKG = Path(scitrera_app_framework.__file__).resolve().parent
PKG_NAME = 'scitrera_app_framework'
DOC = PKG.parent / 'docs' / 'architecture.md'


class Import(NamedTuple):
    importer: str  # module that imports
    imported: str  # module imported (a submodule when ``from pkg import submodule``)
    line: int
    local: bool  # inside a function (runs when called, not at import time)
    type_checking: bool  # under ``if TYPE_CHECKING:``


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob('*.py')):
        parts = list(path.relative_to(PKG.parent).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        out['.'.join(parts)] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or \
        (isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _imports(modname: str, path: Path) -> list[Import]:
    package = modname if path.name == '__init__.py' else modname.rpartition('.')[0]
    found: list[Import] = []

    def target(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ''
        base = package.split('.')
        base = base[:len(base) - (node.level - 1)]
        return '.'.join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, local: bool, tc: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, local, True)
            for child in node.orelse:
                visit(child, local, tc)
            return
        if isinstance(node, ast.ImportFrom):
            mod = target(node)
            if mod == PKG_NAME or mod.startswith(PKG_NAME + '.'):
                for alias in node.names:  # ``from . import plugins``: the submodule is what is imported
                    sub = f'{mod}.{alias.name}'
                    found.append(Import(modname, sub if sub in MODULES else mod, node.lineno, local, tc))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PKG_NAME or alias.name.startswith(PKG_NAME + '.'):
                    found.append(Import(modname, alias.name, node.lineno, local, tc))
        inner = local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner, tc)

    visit(ast.parse(path.read_text(encoding='utf-8'), str(path)), False, False)
    return found


def _block(kind: str) -> list[str]:
    text = DOC.read_text(encoding='utf-8')
    m = re.search(rf'^```{re.escape(kind)}\n(.*?)^```', text, re.M | re.S)
    assert m, f'{DOC}: no ```{kind} block (the layer table this test reads)'
    return [ln.strip() for ln in m.group(1).splitlines() if ln.strip() and not ln.strip().startswith('#')]


def _layer_table() -> list[tuple[str, list[str]]]:
    """``name: prefix, prefix`` per line, bottom layer first."""
    out = []
    for ln in _block('layers'):
        name, _, prefixes = ln.partition(':')
        assert prefixes, f'{DOC}: layer line {ln!r} must read "name: module, module"'
        out.append((name.strip(), [p.strip() for p in prefixes.split(',') if p.strip()]))
    return out


LAYERS = _layer_table()


def _layer_of(modname: str) -> Optional[int]:
    """Index of the layer whose prefix matches ``modname`` most specifically (a longer prefix wins; the package
    root stands for itself only, so a new top-level module must be placed in the table). ``pkg.__init__`` names a
    package's own ``__init__`` module alone (its facade), apart from the modules inside the package."""
    best: Optional[tuple[int, int]] = None  # (prefix length, layer index)
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if p.endswith('.__init__'):
                hit = modname == p[:-len('.__init__')]
            else:
                hit = modname == p or (p != PKG_NAME and modname.startswith(p + '.'))  # the root: itself only
            if hit and (best is None or len(p) > best[0]):
                best = (len(p), i)
    return None if best is None else best[1]


def _exceptions() -> dict[tuple[str, str], str]:
    """``importer -> imported: why`` per line."""
    out = {}
    for ln in _block('layer-exceptions'):
        m = re.fullmatch(r'(\S+)\s*->\s*(\S+?)\s*:\s*(.+)', ln)
        assert m, f'{DOC}: exception line {ln!r} must read "importer -> imported: why"'
        out[(m.group(1), m.group(2))] = m.group(3)
    return out


ALL_IMPORTS = [imp for name, path in MODULES.items() for imp in _imports(name, path)]


def _upward() -> list[Import]:
    return [imp for imp in ALL_IMPORTS if not imp.type_checking
            and (_layer_of(imp.importer) or 0) < (_layer_of(imp.imported) or 0)]


def _fmt(imp: Import) -> str:
    where = 'function-local' if imp.local else 'module level'
    return (f'{imp.importer} -> {imp.imported} ({MODULES[imp.importer].relative_to(PKG.parent)}:{imp.line}, '
            f'{where}): {LAYERS[_layer_of(imp.importer) or 0][0]} imports {LAYERS[_layer_of(imp.imported) or 0][0]}')


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in MODULES if _layer_of(m) is None)
    assert not missing, (f'modules in no layer of {DOC.name}\'s ```layers block: {missing}; add each (or its '
                         'package) to the layer it belongs to')


def test_no_upward_import_beyond_the_listed_exceptions() -> None:
    allowed = _exceptions()
    new = [imp for imp in _upward() if (imp.importer, imp.imported) not in allowed]
    assert not new, ('imports going up a layer (docs/architecture.md, "Layers"): move the helper down a layer, '
                     'pass a callable in or register a hook; or, if it must stay, list it under '
                     '```layer-exceptions with the reason:\n  ' + '\n  '.join(_fmt(i) for i in new))


def test_no_stale_exception() -> None:
    happening = {(imp.importer, imp.imported) for imp in _upward()}
    stale = sorted(f'{a} -> {b}' for a, b in _exceptions() if (a, b) not in happening)
    assert not stale, f'exceptions in {DOC.name} that no longer happen (remove them): {stale}'


def test_exceptions_are_function_local() -> None:
    """An upward import at module level would be an import cycle at start-up: none is allowed, listed or not."""
    top = [imp for imp in _upward() if not imp.local]
    assert not top, 'upward imports at module level:\n  ' + '\n  '.join(_fmt(i) for i in top)


def test_the_reader_sees_imports_in_every_form(tmp_path: Path) -> None:
    """The parser finds relative, absolute, submodule and function-local imports, and sets TYPE_CHECKING apart."""
    src = tmp_path / 'm.py'
    src.write_text('from typing import TYPE_CHECKING\n'
                   'from ..api import variables\n'
                   'import scitrera_app_framework.exceptions\n'
                   'if TYPE_CHECKING:\n'
                   '    from ..core.context import AppContext\n'
                   'def f():\n'
                   '    from . import plugins\n'
                   'class C:\n'
                   '    def g(self):\n'
                   '        from ..util import parsing\n', encoding='utf-8')
    got = {(i.imported, i.local, i.type_checking) for i in _imports(f'{PKG_NAME}.core.m', src)}
    assert got == {(f'{PKG_NAME}.api.variables', False, False), (f'{PKG_NAME}.exceptions', False, False),
                   (f'{PKG_NAME}.core.context', False, True), (f'{PKG_NAME}.core.plugins', True, False),
                   (f'{PKG_NAME}.util.parsing', True, False)}


@pytest.mark.parametrize('modname, layer', [
    (f'{PKG_NAME}.exceptions', 'base'), (f'{PKG_NAME}._version', 'base'), (f'{PKG_NAME}.core.shutdown', 'core'),
    (f'{PKG_NAME}.ext_plugins.otel_plugin', 'plugins'), (PKG_NAME, 'entry points'),
    (f'{PKG_NAME}.brand_new_module', None),  # not placed by the root's line: test_every_module_has_a_layer fails
    (f'{PKG_NAME}.core', 'bootstrap'), (f'{PKG_NAME}.core.core', 'bootstrap'),  # the facade, the composition root
    (f'{PKG_NAME}.core.plugins', 'core'), (f'{PKG_NAME}.core._stateful', 'core'),
])
def test_layer_lookup(modname: str, layer: Optional[str]) -> None:
    i = _layer_of(modname)
    assert (None if i is None else LAYERS[i][0]) == layer
