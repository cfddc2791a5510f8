"""Tests for the multi-tenant extension (``ext_plugins.multi_tenant`` and its alias ``ext_plugins.muti_tenant``)."""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Iterator, MutableMapping

import pytest

from scitrera_app_framework import Variables, get_logger, init_framework_test_harness
from scitrera_app_framework.api import EnvPlacement
from scitrera_app_framework.core.logs import find_framework_handler
from scitrera_app_framework.core.plugins import PluginInitError, register_plugin, shutdown_all_plugins
from scitrera_app_framework.ext_plugins import multi_tenant as mt
from scitrera_app_framework.ext_plugins.multi_tenant import (
    EXT_MULTITENANT,
    BaseMultiTenantProvider,
    DirectoryTenantProvider,
    MultiTenantConfigError,
    MultiTenantNotEnabledError,
    MultiTenantPlugin,
    NoCurrentTenantError,
    TenantIdError,
    TenantNotFoundError,
    current_tenant,
    get_tenant_provider,
    get_tenant_variables,
    read_tenant_file,
    tenant_context,
    tenant_id_of,
)
from scitrera_app_framework.testing import reset_framework
from scitrera_app_framework.util.config_files import ConfigFileError

ROOT = Path(__file__).resolve().parents[2]
_LOG = logging.getLogger('mt-tests')

SEED_EXAMPLE = '''\
from scitrera_app_framework import init_framework, get_logger
from scitrera_app_framework.ext_plugins.muti_tenant import get_tenant_variables
v = init_framework('my-app', log_level='DEBUG', multitenant=True)
# Obtain per-tenant Variables and a logger
tenant_v = get_tenant_variables('tenant1', v=v)
tenant_logger = get_logger(tenant_v)
tenant_logger.info('tenant-specific log')
'''


# --- fixtures and helpers ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith(('SAF_', 'LOGGING_')) or k in ('APP_NAME', 'STATEFUL_ROOT'):
            monkeypatch.delenv(k, raising=False)


@pytest.fixture
def app() -> Iterator[Callable[..., Variables]]:
    """Factory: init the framework (test harness, fresh Variables) for the app 'mt-app'; reset afterwards."""
    def _init(**kwargs: Any) -> Variables:
        reset_framework()
        return init_framework_test_harness('mt-app', v=Variables(), **kwargs)

    try:
        yield _init
    finally:
        reset_framework()


def _env_without_saf() -> dict[str, str]:
    drop = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE')
    return {k: val for k, val in os.environ.items() if not k.startswith(drop) and k != 'APP_NAME'}


def _provider(**kwargs: Any) -> BaseMultiTenantProvider:
    return BaseMultiTenantProvider(Variables(), _LOG, **kwargs)


class CountingProvider(BaseMultiTenantProvider):
    """Counts tenant creations; optionally slow, to widen race windows."""

    delay = 0.0

    def __init__(self, v: Variables, logger: logging.Logger, **kwargs: Any) -> None:
        super().__init__(v, logger, **kwargs)
        self.creations: dict[str, int] = {}
        self.gates: dict[str, threading.Event] = {}
        self._count_lock = threading.Lock()

    def tenant_sources(self, tenant_id: str) -> list[Any]:
        with self._count_lock:
            self.creations[tenant_id] = self.creations.get(tenant_id, 0) + 1
        gate = self.gates.get(tenant_id)
        if gate is not None:
            assert gate.wait(10), 'gate never opened'
        if self.delay:
            time.sleep(self.delay)
        return [{'tenant_name': tenant_id}]


class NotAProvider:
    pass


# --- import paths, plugin wiring ---------------------------------------------------------------------------
def test_alias_module_exports_same_objects() -> None:
    from scitrera_app_framework.ext_plugins import muti_tenant

    assert EXT_MULTITENANT == 'multi-tenant'
    contract = ('MultiTenantPlugin', 'BaseMultiTenantProvider', 'get_tenant_variables', 'get_tenant_provider',
                'EXT_MULTITENANT')  # DESIGN.md's names for the seed's spelling: silent
    for name in contract:
        assert getattr(muti_tenant, name) is getattr(mt, name), name
    for name in ('DirectoryTenantProvider', 'tenant_context', 'current_tenant'):  # ours: deprecated since 0.1.0
        with pytest.warns(DeprecationWarning, match=r'import it from .*ext_plugins\.multi_tenant'):
            assert getattr(muti_tenant, name) is getattr(mt, name), name
    assert set(muti_tenant.__all__) == set(contract)


def test_plugin_attributes() -> None:
    p = MultiTenantPlugin()
    assert MultiTenantPlugin.eager is True
    assert p.extension_point_name(Variables()) == EXT_MULTITENANT
    assert p.is_enabled(Variables()) is False
    v = Variables()
    v.set('SAF_MULTITENANT_ENABLED', 'yes')
    assert p.is_enabled(v) is True


def test_enabled_by_keyword(app: Callable[..., Variables]) -> None:
    v = app(multitenant=True)
    provider = get_tenant_provider(v)
    assert type(provider) is BaseMultiTenantProvider
    assert provider.max_size == 0 and provider.env_placement is EnvPlacement.IGNORED
    assert get_tenant_provider() is provider  # v is the default Variables
    assert get_tenant_variables('a') is get_tenant_variables('a', v=v)


def test_enabled_by_env(app: Callable[..., Variables], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_ENABLED', 'true')
    v = app()
    assert isinstance(get_tenant_provider(v), BaseMultiTenantProvider)


def test_not_enabled_is_clear_error(app: Callable[..., Variables]) -> None:
    v = app()
    with pytest.raises(MultiTenantNotEnabledError, match='multitenant=True'):
        get_tenant_variables('t1', v=v)
    register_plugin(MultiTenantPlugin, v)  # registered, but SAF_MULTITENANT_ENABLED is unset: disabled
    with pytest.raises(MultiTenantNotEnabledError, match='SAF_MULTITENANT_ENABLED'):
        get_tenant_provider(v)


def test_provider_from_env(app: Callable[..., Variables], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER', f'{__name__}.CountingProvider')
    v = app(multitenant=True)
    provider = get_tenant_provider(v)
    assert isinstance(provider, CountingProvider)
    assert get_tenant_variables('x', v=v).get('tenant_name') == 'x'


@pytest.mark.parametrize('value, fragment', [
    ('no_such_pkg_xyz.Provider', 'no_such_pkg_xyz'),
    ('logging.NoSuchProvider', 'NoSuchProvider'),
    (f'{__name__}.NotAProvider', 'not a subclass'),
    ('logging.Logger', 'not a subclass'),
    ('not a path!', 'malformed'),
])
def test_bad_provider_path(app: Callable[..., Variables], monkeypatch: pytest.MonkeyPatch, value: str,
                           fragment: str) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER', value)
    with pytest.raises(PluginInitError) as ei:
        app(multitenant=True)
    msg = str(ei.value)
    assert 'SAF_MULTITENANT_PROVIDER' in msg and repr(value) in msg and fragment in msg, msg
    assert 'BaseMultiTenantProvider' in msg  # says what to set it to
    assert isinstance(ei.value.__cause__, MultiTenantConfigError)


def test_empty_provider_variable_means_default(app: Callable[..., Variables],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER', '')
    v = app(multitenant=True)
    assert type(get_tenant_provider(v)) is BaseMultiTenantProvider


def test_shutdown_clears_cache(app: Callable[..., Variables]) -> None:
    v = app(multitenant=True)
    provider = get_tenant_provider(v)
    get_tenant_variables('a', v=v)
    get_tenant_variables('b', v=v)
    assert len(provider) == 2
    shutdown_all_plugins(v)
    assert len(provider) == 0


# --- tenant Variables --------------------------------------------------------------------------------------
def test_tenants_are_isolated_from_each_other_and_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('MT_TEST_ENV_KEY', 'from-env')
    app_v = Variables()
    app_v.set('app_only', 1)
    p = BaseMultiTenantProvider(app_v, _LOG)
    a, b = p.get_tenant_variables('a'), p.get_tenant_variables('b')
    assert a is not b
    a.set('color', 'red')
    b['color'] = 'blue'
    assert (a.get('color'), b.get('color')) == ('red', 'blue')
    assert a.get('app_only') is None and 'app_only' not in a
    assert app_v.get('color') is None
    assert a.get('MT_TEST_ENV_KEY') is None and a.get('mt_test_env_key') is None
    assert a.env_placement is EnvPlacement.IGNORED
    assert tenant_id_of(a) == 'a' and tenant_id_of(app_v) is None


def test_include_env_puts_environment_at_the_bottom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('MT_TEST_ENV_KEY', 'from-env')
    monkeypatch.setenv('SAF_MULTITENANT_INCLUDE_ENV', 'true')
    p = _provider()
    tv = p.get_tenant_variables('a')
    assert tv.env_placement is EnvPlacement.BOTTOM
    assert tv.get('MT_TEST_ENV_KEY') == 'from-env'
    tv.set('MT_TEST_ENV_KEY', 'local')
    assert tv.get('MT_TEST_ENV_KEY') == 'local'  # local values win over the environment


def test_include_env_garbage_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_INCLUDE_ENV', 'perhaps')
    with pytest.raises(ValueError, match='SAF_MULTITENANT_INCLUDE_ENV'):
        _provider()


def test_same_object_while_cached_forget_and_clear() -> None:
    p = _provider()
    tv = p.get_tenant_variables('t1')
    assert p.get_tenant_variables('t1') is tv
    assert 't1' in p and len(p) == 1 and p.cached_tenants() == ['t1']
    info = p.cache_info()
    assert (info.hits, info.created, info.size, info.max_size) == (1, 1, 1, 0)
    assert p.forget('t1') is True and p.forget('t1') is False
    assert p.get_tenant_variables('t1') is not tv
    p.clear()
    assert len(p) == 0


def test_current_tenant_is_used_when_no_id() -> None:
    p = _provider()
    with pytest.raises(NoCurrentTenantError, match='tenant_context'):
        p.get_tenant_variables()
    with tenant_context('t1'):
        assert p.get_tenant_variables() is p.get_tenant_variables('t1')


@pytest.mark.parametrize('bad, exc', [('', TenantIdError), ('   ', TenantIdError), (123, TypeError),
                                      (None, NoCurrentTenantError), (b't1', TypeError)])
def test_invalid_tenant_ids(bad: Any, exc: type) -> None:
    with pytest.raises(exc):
        _provider().get_tenant_variables(bad)


def test_hooks_shape_the_tenant_variables() -> None:
    stores: dict[str, dict[str, Any]] = {}

    class P(BaseMultiTenantProvider):
        def tenant_sources(self, tenant_id: str) -> list[Any]:
            return [{'plan': 'gold', 'tid': tenant_id}, {'plan': 'ignored', 'region': 'eu'}]

        def tenant_local_store(self, tenant_id: str) -> MutableMapping[str, Any]:
            return stores.setdefault(tenant_id, {})  # survives eviction

        def tenant_logger_name(self, tenant_id: str) -> str:
            return f'tenants.{tenant_id}'

    p = P(Variables(), _LOG, cache_size=1)
    tv = p.get_tenant_variables('acme')
    assert (tv.get('plan'), tv.get('tid'), tv.get('region')) == ('gold', 'acme', 'eu')
    tv.set('seats', 5)
    assert get_logger(tv).name == 'tenants.acme'
    p.get_tenant_variables('other')  # evicts acme
    assert 'acme' not in p
    assert p.get_tenant_variables('acme').get('seats') == 5


# --- tenant loggers ----------------------------------------------------------------------------------------
def test_tenant_logger_name_level_and_registration() -> None:
    app_v = Variables()
    app_logger = logging.getLogger('mt-logger-app')
    from scitrera_app_framework.core.logs import set_app_logger
    set_app_logger(app_v, app_logger)
    p = BaseMultiTenantProvider(app_v, _LOG)
    known_before = set(logging.Logger.manager.loggerDict)
    tlog = get_logger(p.get_tenant_variables('t1'))
    assert tlog.name == 'mt-logger-app.tenant.t1'
    assert tlog.level == logging.NOTSET  # no level of its own
    try:
        app_logger.setLevel(logging.WARNING)
        assert tlog.getEffectiveLevel() == logging.WARNING and not tlog.isEnabledFor(logging.INFO)
        app_logger.setLevel(logging.DEBUG)  # changes after creation are followed (no stale cache)
        assert tlog.isEnabledFor(logging.DEBUG)
    finally:
        app_logger.setLevel(logging.NOTSET)
    # tenant loggers are not registered with logging (memory bound); their children are kept on them
    for i in range(100):
        get_logger(p.get_tenant_variables(f'x{i}'), name='child').debug('x')
    assert set(logging.Logger.manager.loggerDict) - known_before <= {'mt-logger-app.tenant'}
    child = get_logger(p.get_tenant_variables('t1'), name='db')
    assert child.name == 'mt-logger-app.tenant.t1.db' and child.parent is tlog
    assert get_logger(p.get_tenant_variables('t1'), name='db') is child


def test_tenant_logger_emits_through_app_handlers() -> None:
    app_logger = logging.getLogger('mt-emit-app')
    app_logger.propagate = False
    records: list[logging.LogRecord] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    h = _H()
    app_logger.addHandler(h)
    try:
        from scitrera_app_framework.core.logs import set_app_logger
        app_v = Variables()
        set_app_logger(app_v, app_logger)
        app_logger.setLevel(logging.INFO)
        get_logger(BaseMultiTenantProvider(app_v, _LOG).get_tenant_variables('t9')).info('hi %s', 'there')
        assert [(r.name, r.getMessage()) for r in records] == [('mt-emit-app.tenant.t9', 'hi there')]
    finally:
        app_logger.removeHandler(h)
        app_logger.setLevel(logging.NOTSET)
        app_logger.propagate = True


# --- bounded cache -----------------------------------------------------------------------------------------
@pytest.mark.parametrize('value', ['abc', '-1', '1.5', 'true'])
def test_cache_size_garbage_names_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_CACHE_SIZE', value)
    with pytest.raises(ValueError) as ei:
        _provider()
    assert 'SAF_MULTITENANT_CACHE_SIZE' in str(ei.value) and value in str(ei.value)


def test_cache_size_garbage_at_init(app: Callable[..., Variables], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_CACHE_SIZE', 'abc')
    with pytest.raises(PluginInitError, match="SAF_MULTITENANT_CACHE_SIZE.*'abc'"):
        app(multitenant=True)


def test_cache_size_keyword_checked() -> None:
    with pytest.raises(ValueError, match='cache_size'):
        _provider(cache_size=-3)


def test_lru_eviction_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_CACHE_SIZE', '3')
    p = _provider()
    assert p.max_size == 3
    for t in 'abc':
        p.get_tenant_variables(t)
    p.get_tenant_variables('a')  # a is now most recently used
    p.get_tenant_variables('d')  # evicts b
    assert p.cached_tenants() == ['c', 'a', 'd']
    assert p.cache_info().evictions == 1


def test_100k_tenants_memory_bounded_by_cache_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_CACHE_SIZE', '50')
    p = _provider()
    live: weakref.WeakSet[Variables] = weakref.WeakSet()
    peak = 0
    t0 = time.perf_counter()
    for i in range(100_000):
        live.add(p.get_tenant_variables(f'tenant-{i}'))
        if i % 10_000 == 9_999:
            peak = max(peak, len(live))
    elapsed = time.perf_counter() - t0
    gc.collect()
    assert len(p) == 50
    assert len(live) == 50  # evicted tenants' Variables were freed
    assert peak <= 51  # freed on eviction (plain refcounting), not only by the cycle collector
    info = p.cache_info()
    assert info.created == 100_000 and info.evictions == 100_000 - 50
    assert not p._creating  # no per-tenant bookkeeping left behind
    print(f'100,000 tenants (cache 50): {elapsed:.2f} s')


# --- concurrency -------------------------------------------------------------------------------------------
def test_concurrent_first_request_creates_tenant_once() -> None:
    p = CountingProvider(Variables(), _LOG)
    p.delay = 0.05
    barrier = threading.Barrier(32)
    results: list[Variables] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(5)
            results.append(p.get_tenant_variables('shared'))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(results) == 32 and all(r is results[0] for r in results)
    assert p.creations == {'shared': 1}
    assert p.cache_info().created == 1 and not p._creating


def test_slow_creation_does_not_block_other_tenants() -> None:
    p = CountingProvider(Variables(), _LOG)
    cached = p.get_tenant_variables('cached')
    p.gates['slow'] = gate = threading.Event()
    t = threading.Thread(target=p.get_tenant_variables, args=('slow',))
    t.start()
    try:
        deadline = time.monotonic() + 5
        while p.creations.get('slow') != 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert p.creations.get('slow') == 1  # 'slow' is being created, its hook is blocked
        t0 = time.perf_counter()
        assert p.get_tenant_variables('cached') is cached  # cache hit for another tenant
        assert p.get_tenant_variables('fresh').get('tenant_name') == 'fresh'  # and another tenant's creation
        assert time.perf_counter() - t0 < 1.0
    finally:
        gate.set()
        t.join(5)
    assert 'slow' in p and p.creations['slow'] == 1


def test_failed_creation_is_not_cached_and_retries() -> None:
    calls = []

    class Flaky(BaseMultiTenantProvider):
        def tenant_sources(self, tenant_id: str) -> list[Any]:
            calls.append(tenant_id)
            if len(calls) == 1:
                raise RuntimeError('backend down')
            return []

    p = Flaky(Variables(), _LOG)
    with pytest.raises(RuntimeError, match='backend down'):
        p.get_tenant_variables('t')
    assert 't' not in p and not p._creating
    assert p.get_tenant_variables('t') is p.get_tenant_variables('t')
    assert calls == ['t', 't']


# --- tenant context ----------------------------------------------------------------------------------------
def test_tenant_context_nesting_and_reset() -> None:
    assert current_tenant() is None
    with tenant_context('t1') as tid:
        assert tid == 't1' and current_tenant() == 't1'
        with tenant_context('t2'):
            assert current_tenant() == 't2'
        assert current_tenant() == 't1'
    assert current_tenant() is None
    with pytest.raises(TenantIdError):
        with tenant_context(''):
            pass
    with pytest.raises(TypeError):
        with tenant_context(5):  # type: ignore[arg-type]
            pass


def test_tenant_context_does_not_leak_into_unrelated_threads() -> None:
    seen: list[Any] = []
    with tenant_context('t1'):
        t = threading.Thread(target=lambda: seen.append(current_tenant()))
        t.start()
        t.join()
    assert seen == [None]


def _capture_framework_log(v: Variables) -> io.StringIO:
    handler = find_framework_handler()
    assert handler is not None
    buf = io.StringIO()
    handler.setStream(buf)
    return buf


def test_tenant_context_adds_json_log_field(app: Callable[..., Variables]) -> None:
    v = app(multitenant=True, log_format='json')
    buf = _capture_framework_log(v)
    get_logger(v).info('outside')
    with tenant_context('t1'):
        get_logger(get_tenant_variables(v=v)).info('tenant says hi')
        get_logger(v).info('app logger inside')
    lines = [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    by_msg = {d['message']: d for d in lines}
    assert by_msg['tenant says hi']['tenant'] == 't1'
    assert by_msg['tenant says hi']['logger'] == 'mt-app.tenant.t1'
    assert by_msg['app logger inside']['tenant'] == 't1'
    assert 'tenant' not in by_msg['outside']


def test_tenant_context_adds_plain_log_suffix(app: Callable[..., Variables]) -> None:
    v = app(multitenant=True)
    buf = _capture_framework_log(v)
    with tenant_context('t1'):
        get_logger(get_tenant_variables(v=v)).info('plain hi')
    get_logger(v).info('plain outside')
    lines = buf.getvalue().splitlines()
    inside = [ln for ln in lines if 'plain hi' in ln]
    outside = [ln for ln in lines if 'plain outside' in ln]
    assert len(inside) == 1 and inside[0].endswith(' [tenant=t1]') and 'mt-app.tenant.t1' in inside[0]
    assert len(outside) == 1 and 'tenant=' not in outside[0]


def test_tenant_context_follows_background_jobs(app: Callable[..., Variables]) -> None:
    pytest.importorskip('scitrera_app_framework.base_plugins.background')
    from scitrera_app_framework.base_plugins import get_background_exec

    v = app(multitenant=True)
    executor = get_background_exec(v)

    def job() -> tuple[Any, Any]:
        return current_tenant(), get_tenant_variables(v=v)

    with tenant_context('bg-tenant'):
        fut = executor.submit(job)
    tid, tv = fut.result(10)
    assert tid == 'bg-tenant' and tv is get_tenant_variables('bg-tenant', v=v)
    assert current_tenant() is None


# --- directory provider ------------------------------------------------------------------------------------
def _dir_provider(path: Path, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> DirectoryTenantProvider:
    monkeypatch.setenv('SAF_MULTITENANT_DIR', str(path))
    return DirectoryTenantProvider(Variables(), _LOG, **kwargs)


def test_directory_provider_reads_every_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'envt.env').write_text('PLAN=gold\n# comment\nSEATS=5\n')
    (tmp_path / 'yamlt.yaml').write_text('plan: silver\nseats: 7\nnested:\n  a: 1\n')
    (tmp_path / 'ymlt.yml').write_text('plan: bronze\n')
    (tmp_path / 'jsont.json').write_text('{"plan": "gold", "seats": 9}')
    (tmp_path / 'tomlt.toml').write_text('plan = "platinum"\nseats = 11\n[db]\nhost = "x"\n')
    (tmp_path / 'emptyt.yaml').write_text('')
    p = _dir_provider(tmp_path, monkeypatch)
    assert p.directory == str(tmp_path.resolve()) or os.path.samefile(p.directory, tmp_path)
    assert p.get_tenant_variables('envt').get('PLAN') == 'gold' and p.get_tenant_variables('envt').get('SEATS') == '5'
    assert p.get_tenant_variables('yamlt').get('seats') == 7
    assert p.get_tenant_variables('yamlt').get('nested_a') == 1  # flattened as by add_file_source (issue 19)
    assert p.get_tenant_variables('ymlt').get('plan') == 'bronze'
    assert p.get_tenant_variables('jsont').get('seats') == 9
    tt = p.get_tenant_variables('tomlt')
    assert tt.get('plan') == 'platinum' and tt.get('DB_HOST') == 'x' and tt.get('db') is None
    assert p.get_tenant_variables('emptyt').get('plan') is None
    assert 'PLAN' in p.get_tenant_variables('yamlt').keys()


def test_directory_provider_missing_file_and_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _dir_provider(tmp_path, monkeypatch)
    tv = p.get_tenant_variables('newcomer')  # no file: no settings source, still usable
    assert tv.sources == () and tv.get('plan') is None
    (tmp_path / 'newcomer.json').write_text('{"plan": "trial"}')
    assert p.get_tenant_variables('newcomer').get('plan') is None  # cached
    p.forget('newcomer')
    assert p.get_tenant_variables('newcomer').get('plan') == 'trial'  # re-read after forget


def test_directory_provider_require_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Strict(DirectoryTenantProvider):
        require_file = True

    monkeypatch.setenv('SAF_MULTITENANT_DIR', str(tmp_path))
    with pytest.raises(TenantNotFoundError, match="'ghost'"):
        Strict(Variables(), _LOG).get_tenant_variables('ghost')


def test_directory_provider_two_files_is_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'dup.env').write_text('A=1\n')
    (tmp_path / 'dup.yaml').write_text('a: 1\n')
    with pytest.raises(MultiTenantConfigError, match='dup.env, dup.yaml'):
        _dir_provider(tmp_path, monkeypatch).get_tenant_variables('dup')


@pytest.mark.parametrize('bad', ['../x', '..', '.', '/etc/passwd', 'a/b', 'a\\b', 'a\x00b', '../../etc/passwd'])
def test_directory_provider_rejects_escaping_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    inner = tmp_path / 'tenants'
    inner.mkdir()
    (tmp_path / 'x.env').write_text('SECRET=outside\n')
    p = _dir_provider(inner, monkeypatch)
    with pytest.raises(TenantIdError) as ei:
        p.get_tenant_variables(bad)
    assert repr(bad) in str(ei.value)
    assert bad not in p
    with pytest.raises(TenantIdError):
        with tenant_context(bad):
            p.get_tenant_variables()


def test_directory_provider_directory_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MultiTenantConfigError, match='SAF_MULTITENANT_DIR is not set'):
        DirectoryTenantProvider(Variables(), _LOG)
    missing = tmp_path / 'nope'
    monkeypatch.setenv('SAF_MULTITENANT_DIR', str(missing))
    with pytest.raises(MultiTenantConfigError) as ei:
        DirectoryTenantProvider(Variables(), _LOG)
    assert 'SAF_MULTITENANT_DIR' in str(ei.value) and str(missing) in str(ei.value)


def test_directory_provider_via_init(app: Callable[..., Variables], tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'acme.yaml').write_text('plan: gold\n')
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER', 'scitrera_app_framework.ext_plugins.multi_tenant.'
                                                   'DirectoryTenantProvider')
    monkeypatch.setenv('SAF_MULTITENANT_DIR', str(tmp_path))
    v = app(multitenant=True)
    assert get_tenant_variables('acme', v=v).get('plan') == 'gold'


def test_directory_provider_without_dir_fails_at_init(app: Callable[..., Variables],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER', 'scitrera_app_framework.ext_plugins.multi_tenant.'
                                                   'DirectoryTenantProvider')
    with pytest.raises(PluginInitError, match='SAF_MULTITENANT_DIR is not set'):
        app(multitenant=True)


@pytest.mark.parametrize('name, content, line', [
    ('bad.yaml', 'plan: gold\nseats: [1, 2\nregion: eu\n', 3),
    ('bad.yml', 'a: 1\n  b: 2\n', 2),
    ('bad.json', '{\n  "plan": "gold",\n  "seats": ,\n}\n', 3),
    ('bad.toml', 'plan = "gold"\nseats = \n', 2),
    ('bad.env', 'A=1\nB=2\nthis line is not valid\n', 3),
    ('list.yaml', '- a\n- b\n', 1),
    ('list.json', '[1, 2]', 1),
])
def test_malformed_tenant_files_name_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                                   content: str, line: int) -> None:
    (tmp_path / name).write_text(content)
    p = _dir_provider(tmp_path, monkeypatch)
    tenant = name.rsplit('.', 1)[0]
    with pytest.raises(ConfigFileError) as ei:
        p.get_tenant_variables(tenant)
    err = ei.value
    assert err.path == str(tmp_path / name) and err.line == line, str(err)
    assert f'{tmp_path / name}:{line}' in str(err)
    assert tenant not in p  # nothing cached; a fixed file works on the next call
    (tmp_path / name).unlink()
    (tmp_path / (tenant + '.json')).write_text('{"ok": true}')
    assert p.get_tenant_variables(tenant).get('ok') is True


def test_yaml_is_safe_loaded(tmp_path: Path) -> None:
    f = tmp_path / 'evil.yaml'
    f.write_text('x: !!python/object/apply:os.system ["echo pwned"]\n')
    with pytest.raises(ConfigFileError) as ei:
        read_tenant_file(f)
    assert ei.value.line == 1 and str(f) in str(ei.value)


def test_non_utf8_file_names_line(tmp_path: Path) -> None:
    f = tmp_path / 'latin.json'
    f.write_bytes(b'{\n"name": "caf\xe9"\n}\n')
    with pytest.raises(ConfigFileError) as ei:
        read_tenant_file(f)
    assert ei.value.line == 2 and 'UTF-8' in str(ei.value)


def test_read_tenant_file_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'.ini'"):
        read_tenant_file(tmp_path / 'x.ini')


# --- examples, in subprocesses -----------------------------------------------------------------------------
def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=_env_without_saf(), capture_output=True, text=True,
                          timeout=60)


def test_seed_example_verbatim(tmp_path: Path) -> None:
    proc = _run(['-c', SEED_EXAMPLE], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if 'tenant-specific log' in ln]
    assert len(lines) == 1 and 'my-app.tenant.tenant1' in lines[0], proc.stderr


def test_multi_tenant_example_runs(tmp_path: Path) -> None:
    proc = _run([str(ROOT / 'examples' / 'multi_tenant_example.py')], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'tenant1 color: red' in proc.stdout and 'tenant2 color: blue' in proc.stdout, proc.stdout
    assert 'OK' in proc.stdout.splitlines()[-1]
    assert '[tenant=tenant1]' in proc.stderr


def test_tenant_directory_example_runs(tmp_path: Path) -> None:
    proc = _run([str(ROOT / 'examples' / 'tenant_directory_example.py')], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'acme: plan=gold seats=25' in proc.stdout, proc.stdout
    assert 'rejected' in proc.stdout and 'OK' in proc.stdout.splitlines()[-1]


# --- isolation: tenant files see neither the process environment nor files outside the directory -----------------
def test_tenant_env_file_cannot_read_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('HOST_SECRET', 'hunter2')
    (tmp_path / 't1.env').write_text('X=${HOST_SECRET}\nY=${HOST_SECRET:-fallback}\nZ=own\nW=${Z}\n')
    tv = _dir_provider(tmp_path, monkeypatch).get_tenant_variables('t1')
    assert (tv.get('X'), tv.get('Y'), tv.get('W')) == ('', 'fallback', 'own')


def test_tenant_env_file_reads_the_environment_when_the_tenant_includes_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('HOST_SETTING', 'shared')
    (tmp_path / 't1.env').write_text('X=${HOST_SETTING}\n')
    tv = _dir_provider(tmp_path, monkeypatch, include_env=True).get_tenant_variables('t1')
    assert tv.get('X') == 'shared'


@pytest.mark.parametrize('target', ['outside', '/proc/self/environ'])
def test_tenant_file_linking_outside_the_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             target: str) -> None:
    tenants = tmp_path / 'tenants'
    tenants.mkdir()
    if target == 'outside':
        outside = tmp_path / 'secret.env'
        outside.write_text('TOKEN=hunter2\n')
        target = str(outside)
    (tenants / 't1.env').symlink_to(target)
    p = _dir_provider(tenants, monkeypatch)
    with pytest.raises(MultiTenantConfigError) as ei:
        p.get_tenant_variables('t1')
    assert 'outside the tenant directory' in str(ei.value) and 'hunter2' not in str(ei.value)


def test_tenant_file_linking_inside_the_directory_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'shared.yaml').write_text('plan: gold\n')
    (tmp_path / 't1.yaml').symlink_to(tmp_path / 'shared.yaml')
    assert _dir_provider(tmp_path, monkeypatch).get_tenant_variables('t1').get('plan') == 'gold'


def test_deeply_nested_tenant_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 't1.json').write_text('{"a": ' + '[' * 50_000 + ']' * 50_000 + '}')
    with pytest.raises(ConfigFileError, match='nested too deeply') as ei:
        _dir_provider(tmp_path, monkeypatch).get_tenant_variables('t1')
    assert str(tmp_path / 't1.json') in str(ei.value)


# --- provider API of the original: v alone, provider[tenant], provider.get(tenant), _tenant_sources ------------
def test_provider_constructible_with_v_alone_uses_the_framework_logger() -> None:
    v = Variables()
    p = BaseMultiTenantProvider(v)
    assert p.logger is get_logger(v)
    assert p.v is v
    assert p.get_tenant_variables('t1') is p.get_tenant_variables('t1')
    assert BaseMultiTenantProvider(v, None).logger is get_logger(v)
    assert BaseMultiTenantProvider(v, _LOG).logger is _LOG


def test_directory_provider_constructible_with_v_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 't1.env').write_text('PLAN=gold\n')
    v = Variables()
    v.set(mt.SAF_MULTITENANT_DIR, str(tmp_path))
    p = DirectoryTenantProvider(v)
    assert p.logger is get_logger(v)
    assert p['t1'].get('PLAN') == 'gold'


def test_plugin_provider_is_built_from_v_and_the_plugin_logger(app: Callable[..., Variables],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER', f'{__name__}.OriginalStyleProvider')
    v = app(multitenant=True)
    provider = get_tenant_provider(v)
    assert isinstance(provider, OriginalStyleProvider)
    assert get_tenant_variables('acme', v=v).get('tenant_name') == 'acme'


def test_provider_getitem_and_get_return_the_tenant_variables() -> None:
    p = _provider()
    tv = p.get_tenant_variables('acme')
    assert p['acme'] is tv
    assert p.get('acme') is tv
    assert tenant_id_of(p['other']) == 'other'
    assert p.get('other') is p['other'] is p.get_tenant_variables('other')
    with tenant_context('acme'):
        assert p.get() is tv
    with pytest.raises(TenantIdError):
        p['']
    with pytest.raises(TypeError):
        p.get(3)  # type: ignore[arg-type]


def test_provider_len_contains_and_iteration_are_about_cached_tenants() -> None:
    p = _provider()
    assert list(p) == [] and len(p) == 0 and 'a' not in p
    p['a'], p['b']  # noqa: B018
    assert list(p) == ['a', 'b'] and len(p) == 2 and 'a' in p


class OriginalStyleProvider(BaseMultiTenantProvider):
    """A provider written for the original package: overrides ``_tenant_sources`` and passes only ``v``."""

    def __init__(self, v: Variables, logger: Any = None) -> None:
        super().__init__(v, logger)
        self.calls: list[str] = []

    def _tenant_sources(self, tenant_id: str) -> list[Any]:
        self.calls.append(tenant_id)
        return [{'tenant_name': tenant_id, 'plan': 'gold'}]


def test_subclass_overriding_underscore_tenant_sources_gets_them_used() -> None:
    p = OriginalStyleProvider(Variables())
    tv = p['acme']
    assert (tv.get('tenant_name'), tv.get('plan')) == ('acme', 'gold')
    assert p.calls == ['acme']
    p['acme']  # noqa: B018 (cached: the hook runs once per cached tenant)
    assert p.calls == ['acme']


def test_underscore_tenant_sources_wins_over_tenant_sources() -> None:
    class Both(BaseMultiTenantProvider):
        def tenant_sources(self, tenant_id: str) -> list[Any]:
            return [{'who': 'tenant_sources'}]

        def _tenant_sources(self, tenant_id: str) -> list[Any]:
            return [{'who': '_tenant_sources'}]

    class Sub(Both):  # inherited overrides count too
        pass

    assert Both(Variables())['t'].get('who') == '_tenant_sources'
    assert Sub(Variables()).get('t').get('who') == '_tenant_sources'


def test_tenant_sources_alone_is_still_used_and_super_underscore_delegates_to_it() -> None:
    class New(BaseMultiTenantProvider):
        def tenant_sources(self, tenant_id: str) -> list[Any]:
            return [{'who': 'tenant_sources', 'tid': tenant_id}]

    class Extending(New):
        def _tenant_sources(self, tenant_id: str) -> list[Any]:
            return [{'extra': 1}, *super()._tenant_sources(tenant_id)]

    assert New(Variables())['t'].get('who') == 'tenant_sources'
    tv = Extending(Variables())['t']
    assert (tv.get('extra'), tv.get('who'), tv.get('tid')) == (1, 'tenant_sources', 't')
    assert CountingProvider(Variables(), _LOG)['x'].get('tenant_name') == 'x'


def test_underscore_tenant_sources_may_return_a_mapping_or_none() -> None:
    class OneMapping(BaseMultiTenantProvider):
        def _tenant_sources(self, tenant_id: str) -> Any:
            return {'plan': 'silver'}

    class Nothing(BaseMultiTenantProvider):
        def _tenant_sources(self, tenant_id: str) -> Any:
            return None

    assert OneMapping(Variables())['t'].get('plan') == 'silver'
    assert Nothing(Variables())['t'].get('plan') is None
