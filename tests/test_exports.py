"""The compatibility contract (DESIGN.md section 2): every import path and name works; importing is cheap."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import scitrera_app_framework

PKG_DIR = Path(scitrera_app_framework.__file__).resolve().parent

TABLE: dict[str, list[str]] = {
    'scitrera_app_framework': [
        'init_framework', 'init_framework_desktop', 'init_framework_test_harness', 'init_framework_embedded',
        'get_logger', 'get_working_path', 'get_variables', 'register_plugin', 'get_extension', 'get_extensions',
        'init_all_plugins', 'register_shutdown_function', 'register_package_plugins', 'Variables', 'Plugin',
        'EXT_BACKGROUND_EXEC', 'get_background_exec', 'EXT_PROGRESS_TRACKER', 'get_progress_tracker',
        'ext_parse_bool', 'ext_parse_csv', 'ext_get_python', 'add_env_file_source',
    ],
    'scitrera_app_framework.api': [
        'Variables', 'Plugin', 'EnvPlacement', 'NOT_SET', 'NO_MATCH', 'is_epp', 'enabled_option_pattern',
        'ext_parse_bool', 'ext_parse_csv', 'ext_get_python',
    ],
    'scitrera_app_framework.core': [
        'init_framework', 'get_logger', 'get_working_path', 'get_variables', 'register_shutdown_function',
        'log_framework_variables', 'is_stateful_ready', 'load_strategy', 'get_extension', 'get_extensions',
        'register_plugin', 'init_all_plugins', 'shutdown_all_plugins', 'set_extension',
    ],
    'scitrera_app_framework.core.util': ['add_env_file_source'],
    'scitrera_app_framework.base_plugins': [
        'register_package_plugins', 'EXT_BACKGROUND_EXEC', 'get_background_exec', 'EXT_PROGRESS_TRACKER',
        'get_progress_tracker',
    ],
    'scitrera_app_framework.ext_plugins.pyroscope_plugin': ['PyroscopePlugin', 'EXT_PYROSCOPE', 'PYROSCOPE_ENABLED'],
    'scitrera_app_framework.ext_plugins.multi_tenant': [
        'MultiTenantPlugin', 'BaseMultiTenantProvider', 'get_tenant_variables', 'get_tenant_provider',
        'EXT_MULTITENANT',
    ],
    'scitrera_app_framework.ext_plugins.muti_tenant': [
        'MultiTenantPlugin', 'BaseMultiTenantProvider', 'get_tenant_variables', 'get_tenant_provider',
        'EXT_MULTITENANT',
    ],
    'scitrera_app_framework.k8s.util': [
        'apply_yaml_object', 'parse_yaml', 'start_pod', 'is_pod_running', 'is_pod_in_terminated_state',
        'pod_exists', 'get_pod_env', 'merge_env_vars', 'fixed_env_vars', 'get_metadata_name',
        'get_metadata_namespace', 'get_headless_service_dns_name_for_pod',
    ],
    'scitrera_app_framework.slaunch.main': ['launch_app', 'main'],
    'scitrera_app_framework.util': [
        'ext_parse_bool', 'ext_parse_csv', 'ext_parse_csv_set', 'ext_get_python', 'get_python_type_by_name',
        'find_types_in_modules', 'import_modules', 'path_for_module', 'now_ms', 'no_op',
    ],
}

CONSTANTS = {
    ('scitrera_app_framework.base_plugins', 'EXT_BACKGROUND_EXEC'): '__bg_exec',
    ('scitrera_app_framework.base_plugins', 'EXT_PROGRESS_TRACKER'): '__progress_tracker',
    ('scitrera_app_framework', 'EXT_BACKGROUND_EXEC'): '__bg_exec',
    ('scitrera_app_framework', 'EXT_PROGRESS_TRACKER'): '__progress_tracker',
    ('scitrera_app_framework.ext_plugins.pyroscope_plugin', 'EXT_PYROSCOPE'): 'pyroscope',
    ('scitrera_app_framework.ext_plugins.multi_tenant', 'EXT_MULTITENANT'): 'multi-tenant',
    ('scitrera_app_framework.ext_plugins.muti_tenant', 'EXT_MULTITENANT'): 'multi-tenant',
}


@pytest.mark.parametrize('module', list(TABLE))
def test_import_path_and_names(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in TABLE[module] if not hasattr(mod, name)]
    assert not missing, f'{module} lacks {missing}'
    for name in TABLE[module]:
        assert getattr(mod, name) is not None, (module, name)


@pytest.mark.parametrize(('module', 'name'), list(CONSTANTS))
def test_constant_values(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) == CONSTANTS[(module, name)]


def test_from_import_syntax_works() -> None:
    ns: dict = {}
    exec('from scitrera_app_framework import init_framework, Variables, Plugin, get_extension', ns)
    exec('from scitrera_app_framework.api import Variables as V2, EnvPlacement, NOT_SET', ns)
    assert ns['Variables'] is ns['V2']


def test_same_objects_across_paths() -> None:
    import scitrera_app_framework as saf
    import scitrera_app_framework.api as api
    import scitrera_app_framework.core as core
    import scitrera_app_framework.core.util as core_util
    import scitrera_app_framework.util as util

    assert saf.Variables is api.Variables
    assert saf.Plugin is api.Plugin
    for name in ('get_extension', 'get_extensions', 'register_plugin', 'init_all_plugins', 'get_logger',
                 'get_variables', 'init_framework', 'register_shutdown_function', 'get_working_path'):
        assert getattr(saf, name) is getattr(core, name), name
    for name in ('ext_parse_bool', 'ext_parse_csv', 'ext_get_python'):
        assert getattr(saf, name) is getattr(util, name) is getattr(api, name), name
    assert saf.add_env_file_source is core_util.add_env_file_source


def test_multi_tenant_spellings_are_the_same_objects() -> None:
    a = importlib.import_module('scitrera_app_framework.ext_plugins.multi_tenant')
    b = importlib.import_module('scitrera_app_framework.ext_plugins.muti_tenant')
    for name in TABLE['scitrera_app_framework.ext_plugins.multi_tenant']:
        assert getattr(a, name) is getattr(b, name), name


def test_root_all_and_dir() -> None:
    names = set(TABLE['scitrera_app_framework'])
    assert names <= set(scitrera_app_framework.__all__)
    assert names <= set(dir(scitrera_app_framework))


def test_root_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match='no_such_name_xyz'):
        scitrera_app_framework.no_such_name_xyz  # noqa: B018


HEAVY = ['yaml', 'asyncio', 'kubernetes', 'pythonjsonlogger', 'concurrent.futures', 'dotenv', 'logging.handlers']

_CHILD = '''
import json, sys
import {module}
loaded = sorted(m for m in {heavy!r} if m in sys.modules)
had_logging = 'logging' in sys.modules
import logging
print(json.dumps({{"loaded": loaded, "had_logging": had_logging,
                   "root_handlers": len(logging.getLogger().handlers)}}))
'''


def _child_import(module: str) -> dict:
    code = _CHILD.format(module=module, heavy=HEAVY)
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60,
                          cwd=str(PKG_DIR.parent))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == '', proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_package_is_cheap_in_child_process() -> None:
    out = _child_import('scitrera_app_framework')
    assert out['loaded'] == [], f'import scitrera_app_framework pulled in {out["loaded"]}'
    assert out['root_handlers'] == 0
    assert out['had_logging'] is False


@pytest.mark.parametrize('module', ['scitrera_app_framework.api', 'scitrera_app_framework.util',
                                    'scitrera_app_framework.core', 'scitrera_app_framework.base_plugins'])
def test_import_submodules_no_heavy_imports_or_logging_setup(module: str) -> None:
    out = _child_import(module)
    assert out['loaded'] == [], f'import {module} pulled in {out["loaded"]}'
    assert out['root_handlers'] == 0
