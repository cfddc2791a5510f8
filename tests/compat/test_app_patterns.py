"""The patterns real apps built on the original 0.0.69 are made of, each run end to end against ours.

A service registry of dozens of plugins over sub-packages (providers chosen by ``enabled_option_pattern`` with
``(str, Enum)`` names and defaults set in ``on_registration``, a setup plugin gathering handler contributors),
``init_framework_desktop`` called again from several entry points, the manual async lifecycle of a web
server, a command-line tool whose runtimes are contributors picked by name, and the helpers their tests use.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest

from scitrera_app_framework import (
    Plugin,
    Variables,
    async_plugins_ready,
    async_plugins_stopping,
    ext_parse_bool,
    get_extension,
    get_extensions,
    get_logger,
    init_all_plugins,
    register_plugin,
    shutdown_all_plugins,
)
from scitrera_app_framework.api.constants import EnvPlacement
from scitrera_app_framework.base_plugins import register_package_plugins
from scitrera_app_framework.core.plugins import describe_plugins
from scitrera_app_framework.core.util import add_env_file_source

PKG = 'saf_t_svcapp'
N_SERVICES = 30

_COMMON = '''
import enum
from scitrera_app_framework.api import Plugin, Variables, enabled_option_pattern


class StorageKind(str, enum.Enum):
    MOCK = 'mock'
    DISK = 'disk'
'''

_PROVIDERS = '''
from {pkg}.common import StorageKind, Plugin, Variables, enabled_option_pattern

ENV_STORAGE = 'SAF_T_SVC_STORAGE'


class _Storage(Plugin):  # the base class is a plugin too (the original registers it): it matches no provider
    PROVIDER_NAME = None

    def extension_point_name(self, v: Variables) -> str:
        return 'storage'

    def on_registration(self, v: Variables) -> None:
        v.set_default_value(ENV_STORAGE, StorageKind.MOCK.value)  # the app's default provider

    def is_enabled(self, v: Variables) -> bool:
        return enabled_option_pattern(self, v, ENV_STORAGE, self_attr='PROVIDER_NAME')

    def initialize(self, v, logger):
        return {{'kind': self.PROVIDER_NAME.value}}


class MockStorage(_Storage):
    PROVIDER_NAME = StorageKind.MOCK


class DiskStorage(_Storage):
    PROVIDER_NAME = StorageKind.DISK
'''

_HANDLER = '''
from {pkg}.common import Plugin, Variables


class Handler{i}(Plugin):
    def extension_point_name(self, v: Variables) -> str:
        return 'routes'

    def is_enabled(self, v: Variables) -> bool:
        return False  # a contributor, not THE implementation

    def is_multi_extension(self, v: Variables) -> bool:
        return True

    def initialize(self, v, logger):
        return '/route{i}'
'''

_SETUP = '''
from scitrera_app_framework import get_extensions
from {pkg}.common import Plugin, Variables


class RoutesSetup(Plugin):
    def extension_point_name(self, v: Variables) -> str:
        return 'routes'

    def initialize(self, v, logger):
        return sorted(get_extensions('routes', v).values())  # gathers its own point's contributors
'''

_SERVICE = '''
from scitrera_app_framework import get_extension
from {pkg}.common import Plugin, Variables


class Service{i}(Plugin):
    eager = {eager}

    def extension_point_name(self, v: Variables) -> str:
        return 'service-{i}'

    def get_dependencies(self, v: Variables):
        return ('storage',) + (('service-{prev}',) if {i} > 0 else ())

    def initialize(self, v, logger):
        return (get_extension('storage', v)['kind'], {i})
'''


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def service_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package with sub-packages: providers, handlers (three levels), setup, services (30 plugins)."""
    root = tmp_path / PKG
    _write(root / '__init__.py', '')
    _write(root / 'common.py', _COMMON)
    _write(root / 'providers' / '__init__.py', '')
    _write(root / 'providers' / 'storage.py', _PROVIDERS.format(pkg=PKG))
    _write(root / 'handlers' / '__init__.py', '')
    _write(root / 'handlers' / 'nested' / '__init__.py', '')
    for i in range(4):
        _write(root / 'handlers' / f'h{i}.py', _HANDLER.format(pkg=PKG, i=i))
    for i in range(4, 6):
        _write(root / 'handlers' / 'nested' / f'h{i}.py', _HANDLER.format(pkg=PKG, i=i))
    _write(root / 'setup.py', _SETUP.format(pkg=PKG))
    _write(root / 'services' / '__init__.py', '')
    for i in range(N_SERVICES):
        _write(root / 'services' / f's{i:02d}.py',
               _SERVICE.format(pkg=PKG, i=i, prev=i - 1, eager=i % 3 != 0))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv('SAF_T_SVC_STORAGE', raising=False)
    yield PKG
    for name in [m for m in sys.modules if m == PKG or m.startswith(PKG + '.')]:
        del sys.modules[name]


def test_service_registry_of_dozens_of_plugins_over_sub_packages(service_app: str) -> None:
    v = Variables()
    plugins = register_package_plugins(service_app, v, recursive=True)
    assert len(plugins) == 3 + 6 + 1 + N_SERVICES
    assert not any(p.collected for p in plugins)
    init_all_plugins(v)
    assert get_extension('storage', v) == {'kind': 'mock'}  # the default set in on_registration decided
    assert get_extension('routes', v) == [f'/route{i}' for i in range(6)]
    assert get_extensions('routes', v) == {f'{service_app}.handlers.{"nested." if i >= 4 else ""}h{i}.Handler{i}':
                                           f'/route{i}' for i in range(6)}
    assert [get_extension(f'service-{i}', v) for i in range(N_SERVICES)] == [('mock', i) for i in range(N_SERVICES)]
    states = {d['name'].rsplit('.', 1)[-1]: d['state'] for d in describe_plugins(v)}
    assert states['DiskStorage'] == 'registered' and states['MockStorage'] == 'initialized'
    assert all(p.initialized for p in plugins if not p.name().endswith(('DiskStorage', '_Storage')))
    assert shutdown_all_plugins(v) == []


def test_configuration_overridden_by_a_test_before_init_chooses_the_provider(service_app: str) -> None:
    v = Variables()
    register_package_plugins(service_app, v, recursive=True)
    v.set('SAF_T_SVC_STORAGE', 'disk')  # a test overrides the default the plugin set in on_registration
    init_all_plugins(v)
    assert get_extension('storage', v) == {'kind': 'disk'}
    assert get_extension(f'service-{N_SERVICES - 1}', v) == ('disk', N_SERVICES - 1)
    v.set('SAF_T_SVC_STORAGE', 'mock')  # once initialized, the point keeps its value
    assert get_extension('storage', v) == {'kind': 'disk'}


def test_the_provider_can_come_from_the_environment(service_app: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_SVC_STORAGE', 'disk')
    v = Variables()
    register_package_plugins(service_app, v, recursive=True)
    assert get_extension('service-3', v) == ('disk', 3)


# --- init_framework_desktop from several entry points -----------------------------------------------------
_DESKTOP = '''
import logging, os, sys
from scitrera_app_framework import Variables, init_framework_desktop, get_logger

v = Variables()
logger = logging.getLogger('saf-t-desktop')
calls = []

def setup():
    """What each entry point of the app calls first (a CLI command, a GUI, a worker)."""
    v2 = init_framework_desktop('saf-t-desktop', base_plugins=False, stateful_chdir=True,
                                stateful_root_env_key='APP_DATA_DIR', async_auto_enabled=False, v=v,
                                fault_handler=False, fixed_logger=logger, pyroscope=False, shutdown_hooks=False)
    if not v2.get('SAF_T_APP_READY'):  # the app guards its own set-up with a flag it stores in v
        calls.append('app-setup')
        v2.set('SAF_T_APP_READY', True)
    return v2

first = setup()
cwd, snapshot, handlers = os.getcwd(), first.export_all_variables(), list(logging.getLogger().handlers)
second = setup()
third = setup()
assert first is v and second is v and third is v
assert os.getcwd() == cwd, (os.getcwd(), cwd)
assert v.export_all_variables() == snapshot
assert list(logging.getLogger().handlers) == handlers
assert calls == ['app-setup'], calls
assert get_logger(v) is logger
print('ok')
'''


def test_init_framework_desktop_called_again_from_several_entry_points_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / 'data'
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'STATEFUL_'))}
    env['APP_DATA_DIR'] = str(data)
    out = subprocess.run([sys.executable, '-c', _DESKTOP], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == 'ok'


# --- the async lifecycle of a web server -----------------------------------------------------------------------
def test_async_lifecycle_driven_by_a_web_servers_lifespan() -> None:
    v = Variables()
    events: list[str] = []

    def make(point: str, deps: tuple[str, ...] = ()) -> type[Plugin]:
        class P(Plugin):
            def name(self) -> str:
                return point

            def get_dependencies(self, v: Variables) -> tuple[str, ...]:
                return deps

            def initialize(self, v: Variables, logger: logging.Logger) -> str:
                events.append(f'init {point}')
                return point

            async def async_ready(self, v: Variables, logger: logging.Logger, value: Any) -> None:
                await asyncio.sleep(0)
                events.append(f'ready {value}')

            async def async_stopping(self, v: Variables, logger: logging.Logger, value: Any) -> None:
                events.append(f'stopping {value}')

            def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
                events.append(f'shutdown {value}')
        return P

    register_plugin(make('db'), v)
    register_plugin(make('api', ('db',)), v)
    init_all_plugins(v, async_enabled=False)
    assert events == ['init db', 'init api']

    async def lifespan() -> None:  # what the app's FastAPI/Starlette lifespan does
        await async_plugins_ready(v)
        events.append('serving')
        await async_plugins_stopping(v)
        shutdown_all_plugins(v)

    asyncio.run(lifespan())
    assert events == ['init db', 'init api', 'ready db', 'ready api', 'serving', 'stopping api', 'stopping db',
                      'shutdown api', 'shutdown db']


# --- a command-line tool whose runtimes are contributors ------------------------------------------------------
def _runtime(kind: str) -> type[Plugin]:
    class Runtime(Plugin):
        def name(self) -> str:
            return f'runtime-{kind}'

        def extension_point_name(self, v: Variables) -> str:
            return 'runtimes'

        def is_enabled(self, v: Variables) -> bool:
            return False

        def is_multi_extension(self, v: Variables) -> bool:
            return True

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            return {'kind': kind, 'image': v.get(f'SAF_T_CLI_{kind.upper()}_IMAGE', 'none')}
    return Runtime


def test_cli_tool_lists_runtimes_and_picks_one_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / '.env'
    env_file.write_text('SAF_T_CLI_RUNTIME=docker\nSAF_T_CLI_DOCKER_IMAGE=python:3.12\n')
    monkeypatch.setenv('SAF_T_CLI_DOCKER_IMAGE', 'from-the-environment')  # BOTTOM: the .env file wins
    v = Variables(env_placement=EnvPlacement.BOTTOM)
    add_env_file_source(env_file, v)
    for kind in ('docker', 'podman', 'local'):
        register_plugin(_runtime(kind), v)
    runtimes = get_extensions('runtimes', v)
    assert list(runtimes) == ['runtime-docker', 'runtime-podman', 'runtime-local']
    chosen = runtimes[f'runtime-{v.get("SAF_T_CLI_RUNTIME")}']
    assert chosen == {'kind': 'docker', 'image': 'python:3.12'}
    with pytest.raises(ValueError, match='get_extensions'):
        get_extension('runtimes', v)  # contributors only: no single implementation


def test_cli_tool_with_a_broken_runtime_keeps_the_others_under_the_skip_policy() -> None:
    v = Variables()

    class Broken(Plugin):
        def name(self) -> str:
            return 'runtime-broken'

        def extension_point_name(self, v: Variables) -> str:
            return 'runtimes'

        def is_enabled(self, v: Variables) -> bool:
            return False

        def is_multi_extension(self, v: Variables) -> bool:
            return True

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            raise OSError('docker socket not found')

    register_plugin(_runtime('local'), v)
    register_plugin(Broken, v)
    assert list(get_extensions('runtimes', v, failures='skip')) == ['runtime-local']
    row = {d['name']: d for d in describe_plugins(v)}['runtime-broken']
    assert row['state'] == 'failed' and 'docker socket not found' in row['error']


# --- helpers apps' own tests use -----------------------------------------------------------------------------
class FakeVariables:
    """A stand-in ``v`` an app's test builds: only ``get``."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class Service:
    """An app service: takes ``v`` in its constructor and logs through the framework."""

    def __init__(self, v: Any) -> None:
        self.logger = get_logger(v, name='service')
        self.debug = ext_parse_bool(v.get('SERVICE_DEBUG'))


def test_service_constructor_under_test_with_a_stand_in_v() -> None:
    svc = Service(FakeVariables(SERVICE_DEBUG='yes please'))
    assert svc.logger.name == 'SAF.service' and svc.debug is True
    assert Service(FakeVariables()).debug is False
    svc.logger.info('constructed')


def test_merged_configuration_from_the_environment_and_values_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_PAT_DB_HOST', 'db.internal')
    v = Variables()
    v.set('SAF_T_PAT_DB_PORT', 5432)
    assert v.import_from_env_by_prefix('SAF_T_PAT_DB') == {'host': 'db.internal', 'port': 5432}


@pytest.mark.parametrize('value, expected', [('enabled', False), ('Yes', True), ('off', False), ('on', True),
                                             (None, False), (0, False), (1, True), ('', False)])
def test_ext_parse_bool_on_what_configuration_chains_return(value: Any, expected: bool) -> None:
    assert ext_parse_bool(value) is expected
