"""The public-surface inventory (issue 22): every public name of every public module, grouped by object identity,
with the state of each path (home, kept for the original or the contract, deprecated).

Run it to see the counts::

    .venv/bin/python tests/surface_inventory.py                  # objects, paths, names in several places
    .venv/bin/python tests/surface_inventory.py --migration      # the README's table of deprecated paths
    .venv/bin/python tests/surface_inventory.py --original .venv-oracle-0.0.69/bin/python
                                                                 # regenerate original_surface_0_0_69.json

A path is public when the name is in its module's ``__all__`` (a lazy export counts: it is in ``__all__``), or it
is a deprecated name of that module (``scitrera_app_framework._exports``). Names a module merely imports for its
own use (``Variables`` in most modules) are not part of its surface (PEP 8: imported names are an implementation
detail unless documented), and are not counted.

The original's paths come from RUNNING the original 0.0.69 (``--original``: its modules are imported and their
public names listed; nothing of its code is copied) and are kept in ``original_surface_0_0_69.json`` beside this
file, with DESIGN.md section 2's table and the import lines of the original's own documentation.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

PKG = 'scitrera_app_framework'
DATA = Path(__file__).resolve().with_name('original_surface_0_0_69.json')
SCALARS = (str, bytes, int, float, bool, type(None))

# an original path that is API (defined in its module, re-exported by a package, or a constant) and that this
# package does not provide, with the reason (README, "Differences from the original")
KNOWN_ABSENT: dict[tuple[str, str], str] = {}
for _name in ('go_sigterm_yourself', 'log_module_versions', 'ENV_LOGGING_LEVEL', 'LOGGING_DATE_FORMAT',
              'LOGGING_FORMAT'):
    KNOWN_ABSENT[(f'{PKG}.core.core', _name)] = ('internals of the original init (its signal self-kill, its module '
                                                 'version log, its logging constants): not offered')
KNOWN_ABSENT[(f'{PKG}.core.plugins', 'set_implementation')] = 'the original registry internal: not offered'
for _name in ('DEFAULT_MULTITENANT_INCLUDE_ENV', 'DEFAULT_MULTI_TENANT_PROVIDER', 'ENV_MULTITENANT_ENABLED',
              'ENV_MULTITENANT_INCLUDE_ENV', 'ENV_MULTITENANT_PROVIDER'):
    KNOWN_ABSENT[(f'{PKG}.ext_plugins.multi_tenant', _name)] = ('the original constant names of the variables: ours '
                                                               'are SAF_MULTITENANT_* (the variable names themselves)')
KNOWN_ABSENT_MODULES = {
    f'{PKG}.platforms': 'README "Differences": platforms.bg_threads is not provided',
    f'{PKG}.platforms.bg_threads': 'README "Differences": platforms.bg_threads is not provided',
    f'{PKG}.slaunch.constants': 'slaunch is a rewrite: the original launcher internals are not offered',
    f'{PKG}.util.async_utils': 'an empty module in the original',
}
_SLAUNCH_CONSTANTS = ('DATA', 'ENV', 'ENVIRONMENT_YML', 'ENV_DEFS', 'LIBS', 'MANIFEST_YAML', 'MC3', 'REQUIREMENTS_TXT',
                      'REQ_CONDA', 'REQ_PIP', 'VERSION_CURRENT', 'VERSION_LATEST', 'VERSION_STABLE')
for _name in _SLAUNCH_CONSTANTS:
    KNOWN_ABSENT[(f'{PKG}.slaunch.deploy', _name)] = ('slaunch is a rewrite: slaunch.deploy offers the original '
                                                      'functions, not the constants it imported')
for _name in (*_SLAUNCH_CONSTANTS, 'APP_NAME', 'CURRENT_OS', 'NATIVE_COPY', 'REPOSITORY_PATH',
              'SET_DYNAMIC_LIB_ENV_VARS', 'apply_conda_requirements', 'apply_pip_requirements', 'build_env',
              'check_env', 'check_update_lib', 'ensure_mc3', 'get_manifest', 'mc3_conda_exec', 'mc3_download_url',
              'mc3_install_args', 'mc3_installer_save_path', 'python_exe', 'pythonw_exe', 'run_conda', 'run_python',
              'shell_dl'):
    KNOWN_ABSENT[(f'{PKG}.slaunch.main', _name)] = ('slaunch is a rewrite: slaunch.main offers the original entry '
                                                    'points (launch_app, main), not its conda helpers and globals')


def public_modules() -> list[str]:
    """Every module of the package with no underscore part, the package first."""
    pkg = importlib.import_module(PKG)
    names = [PKG] + [m.name for m in pkgutil.walk_packages(pkg.__path__, PKG + '.')]
    return [m for m in names if not any(p.startswith('_') for p in m.split('.')[1:])]


def import_public_modules() -> dict[str, ModuleType]:
    out = {}
    for name in public_modules():
        try:
            out[name] = importlib.import_module(name)
        except ImportError:  # the pytest plugin without pytest: not in a test run
            continue
    return out


@dataclass
class Path_:
    module: str
    name: str
    deprecated: bool
    home: str = ''  # for a deprecated path: ``module`` or ``module:name`` it points to

    @property
    def key(self) -> tuple[str, str]:
        return (self.module, self.name)


@dataclass
class Inventory:
    objects: dict[Any, list[Path_]] = field(default_factory=dict)
    values: dict[Any, object] = field(default_factory=dict)

    def paths(self) -> list[Path_]:
        return [p for ps in self.objects.values() for p in ps]

    def several(self) -> dict[Any, list[Path_]]:
        """Objects importable from more than one public path (deprecated ones included)."""
        return {k: ps for k, ps in self.objects.items() if len(ps) > 1}

    def several_silent(self) -> dict[Any, list[Path_]]:
        """Objects importable without a warning from more than one path."""
        return {k: ps for k, ps in self.objects.items() if sum(not p.deprecated for p in ps) > 1}


def _key(name: str, value: object) -> Any:
    return ('value', name, id(value)) if isinstance(value, SCALARS) else ('object', id(value))


def inventory() -> Inventory:
    """Build the inventory of the package as it is imported now."""
    try:
        from scitrera_app_framework._exports import registered
    except ImportError:  # a checkout from before 0.1.0's deprecations (to count "before")
        def registered() -> dict[str, Any]:
            return {}

    mods = import_public_modules()
    inv = Inventory()

    def add(path: Path_, value: object) -> None:
        key = _key(path.name, value)
        inv.values[key] = value
        inv.objects.setdefault(key, []).append(path)

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        for modname, mod in mods.items():
            for name in getattr(mod, '__all__', ()):
                value = getattr(mod, name)
                if not isinstance(value, ModuleType):
                    add(Path_(modname, name, False), value)
        for modname, exports in registered().items():
            if modname not in mods:
                continue
            for name, home in exports.moved.items():
                add(Path_(modname, name, True, home), getattr(mods[modname], name))
    return inv


def incidental(inv: Inventory) -> list[tuple[str, str]]:
    """Paths that reach a public object through a module attribute outside that module's ``__all__`` (a name the
    module imports for its own use): not surface, listed for the report."""
    known = {p.key for p in inv.paths()}
    ids = {id(v) for v in inv.values.values() if not isinstance(v, SCALARS)}
    out = []
    for modname, mod in import_public_modules().items():
        for name, value in vars(mod).items():
            if (not name.startswith('_') and (modname, name) not in known and not isinstance(value, ModuleType)
                    and id(value) in ids):
                out.append((modname, name))
    return sorted(out)


# --- the original's paths ---------------------------------------------------------------------------------------

_ORACLE_CHILD = r'''
import ast, importlib, json, os, pkgutil, sys, types
import scitrera_app_framework as pkg
SCALAR = (str, bytes, int, float, bool, type(None), list, tuple, dict)
out, failed = {}, {}
walk = pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.', onerror=lambda n: None)
names = [pkg.__name__] + [m.name for m in walk]
for name in names:
    try:
        mod = importlib.import_module(name)
    except BaseException as e:  # k8s.util asks a cluster at import: its names are read from its syntax tree
        failed[name] = type(e).__name__
        spec = importlib.util.find_spec(name)
        tree = ast.parse(open(spec.origin).read())
        found = {}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                found[node.name] = 'api'
            elif isinstance(node, (ast.ImportFrom,)) and (node.level or (node.module or '').startswith(pkg.__name__)):
                for a in node.names:
                    found[a.asname or a.name] = 'imported'
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        found[t.id] = 'api'
        out[name] = {k: v for k, v in found.items() if not k.startswith('_')}
        continue
    is_pkg = hasattr(mod, '__path__')
    found = {}
    for attr in dir(mod):
        if attr.startswith('_'):
            continue
        val = getattr(mod, attr)
        if isinstance(val, types.ModuleType):
            continue
        home = getattr(val, '__module__', None) if isinstance(val, (type, types.FunctionType)) else None
        if home is None:
            if isinstance(val, SCALAR) or type(val) is object or type(val).__module__.startswith('pathlib'):
                found[attr] = 'api'  # a constant (or a sentinel)
            continue
        if not home.startswith(pkg.__name__):
            continue  # typing, the standard library, the original's own dependencies
        # defined here, or a package re-exporting one of its own submodules' names
        found[attr] = 'api' if (home == name or (is_pkg and home.startswith(name + '.'))) else 'imported'
    out[name] = found
from importlib.metadata import version
print(json.dumps({'version': version('scitrera-app-framework'), 'modules': out, 'import_failed': failed},
                 sort_keys=True))
'''


def read_original(python: str) -> dict[str, Any]:
    """Run the original (installed for ``python``) and list, per module, its public names: ``api`` (defined
    there, re-exported by a package from its own submodules, or a constant) or ``imported`` (another module's
    name, imported for its own use)."""
    proc = subprocess.run([python, '-c', _ORACLE_CHILD], capture_output=True, text=True, timeout=300, cwd='/')
    if proc.returncode != 0:
        raise RuntimeError(f'{python} could not list the original: {proc.stderr[-2000:]}')
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def load_original() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text(encoding='utf-8'))
    return data


def original_paths(kind: str = 'api') -> set[tuple[str, str]]:
    """The original 0.0.69's paths of one kind (``api`` or ``imported``)."""
    data = load_original()
    return {(m, n) for m, names in data['modules'].items() for n, k in names.items() if k == kind}


def contract_paths() -> set[tuple[str, str]]:
    """The paths that must keep working silently: the original's API, DESIGN.md section 2's table and the import
    lines of the original's own documentation (its README imports ``shutdown_all_plugins`` from the package)."""
    data = load_original()
    out = original_paths('api')
    for m, names in data['design'].items():
        out |= {(m, n) for n in names}
    for m, names in data['original_docs'].items():
        out |= {(m, n) for n in names}
    return out


def absent_reason(module: str, name: str) -> str:
    """Why an original path is not offered ('' when it should be)."""
    if (module, name) in KNOWN_ABSENT:
        return KNOWN_ABSENT[(module, name)]
    return KNOWN_ABSENT_MODULES.get(module, '')


# --- reports ----------------------------------------------------------------------------------------------------

def counts(inv: Inventory) -> dict[str, int]:
    return {
        'objects': len(inv.objects),
        'paths': len(inv.paths()),
        'objects importable from several paths': len(inv.several()),
        'objects importable from several paths without a warning': len(inv.several_silent()),
        'deprecated paths': sum(p.deprecated for p in inv.paths()),
    }


def migration_table(inv: Inventory) -> str:
    """The README's table: per deprecated module path, its names and their home."""
    rows: dict[tuple[str, str], list[str]] = {}
    for p in inv.paths():
        if p.deprecated:
            home, _, new = p.home.partition(':')
            rows.setdefault((p.module, home), []).append(f'{p.name} (as {new})' if new else p.name)
    lines = ['| deprecated path | names | import them from |', '|---|---|---|']
    for (old, home), names in sorted(rows.items()):
        lines.append(f'| `{old}` | {", ".join(f"`{n}`" for n in sorted(names))} | `{home}` |')
    return '\n'.join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--original', metavar='PYTHON', help="regenerate the original's paths with this interpreter")
    ap.add_argument('--migration', action='store_true', help="print the README's table of deprecated paths")
    args = ap.parse_args(argv)
    if args.original:
        data = read_original(args.original)
        old = load_original() if DATA.exists() else {}
        data['design'] = old.get('design', {})
        data['original_docs'] = old.get('original_docs', {})
        DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + '\n', encoding='utf-8')
        print(f'wrote {DATA}')
        return 0
    inv = inventory()
    if args.migration:
        print(migration_table(inv))
        return 0
    for what, n in counts(inv).items():
        print(f'{what}: {n}')
    print(f'module attributes outside __all__ reaching a public object (implementation imports, not surface): '
          f'{len(incidental(inv))}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
