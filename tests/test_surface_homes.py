"""One home per public name (issue 22): the inventory of ``surface_inventory.py`` holds, every deprecated path
warns once per access naming the home and the version, and every path of the original 0.0.69 (and of DESIGN.md's
contract) imports without any warning, in a fresh interpreter."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import surface_inventory as si

from scitrera_app_framework._exports import DEPRECATED_SINCE, REMOVED_IN, Exports, deprecation_message
from scitrera_app_framework._version import __version__

REPO = Path(__file__).resolve().parent.parent
INV = si.inventory()
CONTRACT = si.contract_paths()
DEPRECATED = sorted(p.key + (p.home,) for p in INV.paths() if p.deprecated)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split('.'))


def test_the_version_markers_are_sane() -> None:
    assert _version(DEPRECATED_SINCE) <= _version(__version__) < _version(REMOVED_IN)


def test_every_object_has_one_home() -> None:
    """Every public object has exactly one path without a warning, besides the paths the original or DESIGN.md's
    contract keep (those stay silent: apps built on the original run unchanged)."""
    bad = []
    for paths in INV.objects.values():
        silent = {p.key for p in paths if not p.deprecated}
        extra = silent - CONTRACT
        if len(extra) > 1 or not silent:
            bad.append(sorted(f'{m}.{n}' + ('' if (m, n) in silent else ' (deprecated)') for m, n in
                              {p.key for p in paths}))
    assert not bad, 'objects with several homes, or none:\n  ' + '\n  '.join(map(str, bad))


def test_every_deprecated_path_points_to_a_silent_path_of_the_same_object() -> None:
    silent = {p.key for p in INV.paths() if not p.deprecated}
    bad = []
    for key, paths in INV.objects.items():
        value = INV.values[key]
        for p in paths:
            if not p.deprecated:
                continue
            home, _, new = p.home.partition(':')
            target = (home, new or p.name)
            if target not in silent and target not in CONTRACT:
                bad.append(f'{p.module}.{p.name} -> {home}.{target[1]}: not a public path')
            elif getattr(importlib.import_module(home), target[1]) is not value:
                bad.append(f'{p.module}.{p.name} -> {home}.{target[1]}: another object')
    assert not bad


def test_no_original_or_contract_path_is_deprecated() -> None:
    deprecated = {p.key for p in INV.paths() if p.deprecated}
    assert not deprecated & CONTRACT
    assert not deprecated & si.original_paths('imported')


def test_the_counts() -> None:
    """The numbers the README's "Where each name lives" gives (update both when the surface changes)."""
    counts = si.counts(INV)
    readme = (REPO / 'README.md').read_text(encoding='utf-8')
    assert f'{counts["deprecated paths"]} deprecated paths' in readme, counts
    assert counts['objects importable from several paths without a warning'] == len(
        [k for k, ps in INV.objects.items() if sum(not p.deprecated for p in ps) > 1])


@pytest.mark.parametrize(('module', 'name', 'home'), DEPRECATED, ids=[f'{m}.{n}' for m, n, _ in DEPRECATED])
def test_a_deprecated_path_warns_once_per_access(module: str, name: str, home: str) -> None:
    home_module, _, new = home.partition(':')
    expected = getattr(importlib.import_module(home_module), new or name)
    mod = importlib.import_module(module)
    code = compile(f'from {module} import {name} as value\nvalue2 = getattr(sys.modules[{module!r}], {name!r})\n',
                   'user_code.py', 'exec')
    ns: dict[str, object] = {'sys': sys}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        exec(code, ns)
    assert ns['value'] is expected and ns['value2'] is expected
    assert [w.category for w in caught] == [DeprecationWarning, DeprecationWarning], [str(w.message) for w in caught]
    for w in caught:
        text = str(w.message)
        assert text == deprecation_message(f'{module}.{name}', home_module, new or name)
        assert f'{module}.{name}' in text and home_module in text
        assert f'since {DEPRECATED_SINCE}' in text and f'removed in {REMOVED_IN}' in text
        assert w.filename == 'user_code.py'  # the warning points at the line that used the old path
    assert name not in getattr(mod, '__all__', ()) and name not in dir(mod)
    assert name not in vars(mod)  # never cached: the next access warns again


_SILENT_CHILD = r'''
import json, sys, warnings
warnings.simplefilter('error')
paths = json.loads(sys.argv[1])
bad = []
for module, name in paths:
    try:
        exec(f'from {module} import {name}', {})
    except Exception as e:
        bad.append(f'{module}.{name}: {type(e).__name__}: {e}')
print(json.dumps(bad))
'''


def _silent_import_failures(paths: list[tuple[str, str]]) -> list[str]:
    proc = subprocess.run([sys.executable, '-c', _SILENT_CHILD, json.dumps(paths)], capture_output=True, text=True,
                          timeout=300, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == '', proc.stderr
    failures: list[str] = json.loads(proc.stdout)
    return failures


def test_every_original_and_contract_path_imports_without_a_warning() -> None:
    """The original 0.0.69's API paths (its modules, run), DESIGN.md's table and its docs' imports: each works
    with ``warnings.simplefilter('error')`` in a fresh interpreter, except the listed absences."""
    paths = sorted(p for p in CONTRACT if not si.absent_reason(*p))
    assert len(paths) > 120
    assert _silent_import_failures(paths) == []


def test_the_originals_incidental_imports_that_we_have_are_silent() -> None:
    """Names the original's modules imported for their own use (``core.core.Variables``): not part of our surface,
    but where our module has the name too, it imports without a warning."""
    have = []
    for module, name in sorted(si.original_paths('imported')):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if name in vars(mod):
            have.append((module, name))
    assert have
    assert _silent_import_failures(have) == []


def test_the_absences_are_real_and_explained() -> None:
    """Each original API path we do not offer is listed with its reason, and really is absent (a path that comes
    back must leave the list)."""
    absent = sorted(p for p in si.original_paths('api') if si.absent_reason(*p))
    for module, name in absent:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        assert not hasattr(mod, name), f'{module}.{name} exists now: remove it from surface_inventory.KNOWN_ABSENT'
    for key in si.KNOWN_ABSENT:
        assert key in si.original_paths('api'), f'{key} is not an original path'


def test_the_readme_migration_table_is_current() -> None:
    readme = (REPO / 'README.md').read_text(encoding='utf-8')
    assert si.migration_table(INV) in readme, 'run: python tests/surface_inventory.py --migration'


def test_the_original_surface_file_is_the_original() -> None:
    data = si.load_original()
    assert data['version'] == '0.0.69'
    assert {'init_framework', 'get_extension', 'Variables'} <= set(data['modules']['scitrera_app_framework'])
    assert data['modules']['scitrera_app_framework.core.plugins']['capture_async_loop'] == 'api'


# --- the helper itself ------------------------------------------------------------------------------------------

def test_exports_lazy_names_load_once_and_are_cached() -> None:
    ns: dict[str, object] = {'__name__': 'fake_pkg', '__path__': []}
    ex = Exports('fake_pkg', ns, lazy={'dumps': 'json'})
    assert ex.attribute('dumps') is json.dumps
    assert ns['dumps'] is json.dumps
    assert 'dumps' in ex.names()


def test_exports_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    ex = Exports('fake_mod', {}, lazy={}, moved={'old': 'json:dumps'})
    with pytest.raises(AttributeError, match=r"module 'fake_mod' has no attribute 'nope'"):
        ex.attribute('nope')
    assert 'old' not in ex.names()


def test_exports_a_renamed_name_warns_with_its_new_name() -> None:
    ex = Exports('fake_mod', {}, moved={'old': 'json:dumps'})
    with pytest.warns(DeprecationWarning, match=re.escape('import it from json (from json import dumps)')):
        assert ex.attribute('old') is json.dumps


def test_exports_refuses_a_name_both_lazy_and_moved() -> None:
    with pytest.raises(ValueError, match=r"fake_mod: names both lazy and moved: \['x'\]"):
        Exports('fake_mod', {}, lazy={'x': 'json'}, moved={'x': 'json'})


def test_from_package_import_warns_once_not_twice() -> None:
    """``from package import name`` asks the package twice (importlib's fromlist check, then the statement): one
    warning."""
    code = 'from scitrera_app_framework import Settings\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        exec(compile(code, 'user_code.py', 'exec'), {})
    assert len(caught) == 1 and caught[0].filename == 'user_code.py'


def test_a_deprecated_import_in_main_is_shown_by_default(tmp_path: Path) -> None:
    """With Python's default warning filters, an app's own script sees the warning (on stderr, once)."""
    script = tmp_path / 'app.py'
    script.write_text('from scitrera_app_framework.core import is_ready\nprint("ran")\n', encoding='utf-8')
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert proc.returncode == 0 and proc.stdout == 'ran\n'
    assert proc.stderr.count('DeprecationWarning') == 1
    assert 'scitrera_app_framework.core.is_ready is deprecated since 0.1.0' in proc.stderr
    assert 'import it from scitrera_app_framework.core.health' in proc.stderr
    assert 'app.py:1' in proc.stderr


# every public name scitrera_app_framework.core.core had before its split (0.1.0 as of a8f820c; typing and module
# imports left out): still importable from there, the implementation imports that left it as deprecated paths
_CORE_CORE_BEFORE_SPLIT = (
    'AppContext', 'InitOptions', 'NOT_SET', 'RUNNING', 'SAFError', 'STARTING', 'StatefulDirError', 'Variables',
    'add_secret_patterns', 'add_secret_values', 'bounded_repr', 'configure_logging', 'ext_get_python',
    'get_app_context', 'get_app_params', 'get_logger', 'get_python_type_by_name', 'get_shutdown_manager',
    'get_stateful_path', 'get_variables', 'get_working_path', 'init_all_plugins', 'init_framework',
    'init_framework_cli', 'init_framework_desktop', 'init_framework_embedded', 'init_framework_test_harness',
    'is_secret_key', 'is_stateful_ready', 'load_object', 'load_strategy', 'log_framework_variables', 'mask_value',
    'now_ms', 'original_working_directory', 'parse_bool_strict', 'parse_level', 'register_plugin',
    'restore_working_directory', 'set_app_logger', 'set_default_variables')


def test_core_core_keeps_every_name_it_had_before_its_split() -> None:
    mod = importlib.import_module(f'{si.PKG}.core.core')
    missing = []
    for name in _CORE_CORE_BEFORE_SPLIT:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            if not hasattr(mod, name):
                missing.append(name)
        for w in caught:  # silent, or the deprecation naming the home
            assert issubclass(w.category, DeprecationWarning) and 'import it from' in str(w.message), str(w.message)
    assert missing == []


def test_a_moved_name_asked_with_no_python_caller_warns_and_answers() -> None:
    # getattr called by the interpreter itself (an atexit callback): no Python frame above the module's __getattr__
    code = ('import atexit\nfrom scitrera_app_framework.core import core\n'
            "atexit.register(getattr, core, 'NOT_SET')\n")
    proc = subprocess.run([sys.executable, '-W', 'always::DeprecationWarning', '-c', code], capture_output=True,
                          text=True, timeout=120, cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    assert 'Traceback' not in proc.stderr, proc.stderr
    assert 'scitrera_app_framework.core.core.NOT_SET is deprecated' in proc.stderr, proc.stderr


_EXPORTS_CHILD = r'''
import importlib, inspect, pickle, pkgutil, sys, warnings
warnings.simplefilter('error')
import scitrera_app_framework as pkg
from scitrera_app_framework._exports import registered
for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):
    try:
        importlib.import_module(m.name)
    except ImportError:  # an optional dependency missing
        pass
problems = []
for name, ex in sorted(registered().items()):
    mod = sys.modules[name]
    exec(f'from {name} import *', {})  # silent: no moved name in __all__
    for moved in ex.moved:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            obj = getattr(mod, moved)
        if isinstance(obj, type) or inspect.isfunction(obj):  # (not typing aliases such as ProgressCallback)
            if pickle.loads(pickle.dumps(obj)) is not obj:  # pickled by its home, silently
                problems.append(f'{name}.{moved}: pickle')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        importlib.reload(mod)
    for moved in ex.moved:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            getattr(mod, moved)
        if not any(issubclass(w.category, DeprecationWarning) for w in caught):
            problems.append(f'{name}.{moved}: no warning after reload')
print(len(registered()), problems)
'''


def test_moved_names_survive_star_imports_pickling_and_reload() -> None:
    proc = subprocess.run([sys.executable, '-c', _EXPORTS_CHILD], capture_output=True, text=True, timeout=300,
                          cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    count, problems = proc.stdout.split(' ', 1)
    assert int(count) >= 10
    assert problems.strip() == '[]'
