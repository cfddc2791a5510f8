"""Shutdown in reverse dependency order (declared and observed dependencies), failures isolated and reported,
the registry closed afterwards; the cached ``get_extensions`` fast path."""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.context import get_app_context
from scitrera_app_framework.core.plugins import (
    PluginShutdownError,
    describe_plugins,
    get_extension,
    get_extensions,
    get_registry,
    init_all_plugins,
    plugin_graph,
    register_plugin,
    shutdown_all_plugins,
    shutdown_order,
)


def make(point: str, events: list, *, name: Optional[str] = None, deps: tuple = (), eager: bool = False,
         multi: bool = False, enabled: Optional[bool] = None, uses: tuple = (),
         stop_error: Optional[BaseException] = None,
         init: Optional[Callable[[Variables], Any]] = None) -> type[Plugin]:
    pname = name or point
    if enabled is None:  # the original's idiom: a contributor answers is_enabled False, is_multi_extension True
        enabled = not multi

    class P(Plugin):
        def name(self) -> str:
            return pname

        def extension_point_name(self, v: Variables) -> str:
            return point

        def is_multi_extension(self, v: Variables) -> bool:
            return multi

        def is_enabled(self, v: Variables) -> bool:
            return enabled

        def get_dependencies(self, v: Variables) -> tuple:
            return deps

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            for u in uses:  # undeclared dependencies, asked for at run time
                get_extension(u, v)
            events.append(('init', pname))
            return init(v) if init is not None else f'value:{pname}'

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            events.append(('shutdown', pname))
            if stop_error is not None:
                raise stop_error

    P.eager = eager
    P.__qualname__ = P.__name__ = f'P_{pname}'.replace('-', '_')
    return P


def kinds(events: list, kind: str) -> list[str]:
    return [n for k, n in events if k == kind]


# --- order --------------------------------------------------------------------------------------------------
def test_declared_and_observed_dependencies_shut_down_after_their_users() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('config', events), v)
    register_plugin(make('db', events, deps=('config',)), v)
    register_plugin(make('cache', events), v)
    register_plugin(make('api', events, uses=('db', 'cache')), v)  # asks at run time, declares nothing
    register_plugin(make('metrics', events), v)
    get_extension('metrics', v)
    get_extension('api', v)
    assert kinds(events, 'init') == ['metrics', 'config', 'db', 'cache', 'api']
    info = {d['name']: d for d in describe_plugins(v)}
    assert info['api']['observed_dependencies'] == ['cache', 'db']
    assert ('api', 'db') in plugin_graph(v).edges and ('api', 'cache') in plugin_graph(v).edges
    assert shutdown_all_plugins(v) == []
    assert kinds(events, 'shutdown') == ['api', 'cache', 'db', 'config', 'metrics']


def test_fast_path_needs_no_edge() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('base', events), v)
    get_extension('base', v)  # initialized before anyone asks
    register_plugin(make('user', events, uses=('base',)), v)
    get_extension('user', v)
    assert describe_plugins(v)[1]['observed_dependencies'] == []
    shutdown_all_plugins(v)
    assert kinds(events, 'shutdown') == ['user', 'base']


def test_dependency_order_wins_over_initialization_order() -> None:
    """The ordering itself, on records whose initialization order contradicts a dependency."""
    v = Variables()
    events: list = []
    for p in ('a', 'b', 'c', 'd'):
        register_plugin(make(p, events), v)
        get_extension(p, v)  # initialized a, b, c, d
    reg = get_registry(v)
    recs = {r.name: r for r in reg.initialized_records()}
    recs['b'].observed.add('d')  # b uses d although d initialized later
    recs['d'].observed.add('a')
    order = [r.name for r in shutdown_order(reg.initialized_records())]
    # b before d before a; c (independent) by reverse initialization order among what is free
    assert order.index('b') < order.index('d') < order.index('a')
    assert order == ['c', 'b', 'd', 'a']
    shutdown_all_plugins(v)
    assert kinds(events, 'shutdown') == ['c', 'b', 'd', 'a']


def test_multi_point_dependency_shuts_all_members_down_after_the_user() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('m', events, name='m1', multi=True), v)
    register_plugin(make('m', events, name='m2', multi=True), v)
    register_plugin(make('user', events, deps=('m',)), v)
    register_plugin(make('other', events), v)
    get_extension('user', v)
    get_extension('other', v)
    shutdown_all_plugins(v)
    assert kinds(events, 'shutdown') == ['other', 'user', 'm2', 'm1']


# --- failures ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('error', [RuntimeError('disk full'), SystemExit(3), KeyboardInterrupt('ctrl-c')])
def test_failing_shutdown_is_isolated_logged_recorded_and_returned(error: BaseException,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    v = Variables()
    events: list = []
    register_plugin(make('first', events), v)
    register_plugin(make('breaker', events, name='the-breaker', stop_error=error), v)
    register_plugin(make('last', events), v)
    init_all_plugins(v, include_lazy=True)
    failures = shutdown_all_plugins(v)
    assert kinds(events, 'shutdown') == ['last', 'the-breaker', 'first']
    assert len(failures) == 1 and 'the-breaker' in failures[0] and type(error).__name__ in failures[0]
    logged = [r for r in caplog.records if 'the-breaker' in r.getMessage()]
    assert logged and logged[0].levelno >= logging.WARNING
    ctx_failures = get_app_context(v).failures
    assert any('the-breaker' in where + text for where, text in ctx_failures)
    assert {d['name']: d['state'] for d in describe_plugins(v)} == {
        'first': 'shut down', 'the-breaker': 'shut down', 'last': 'shut down'}
    assert shutdown_all_plugins(v) == []  # twice is harmless


def test_a_plugin_shutdown_may_still_use_its_dependencies() -> None:
    v = Variables()
    events: list = []
    seen: list = []

    class User(Plugin):
        def extension_point_name(self, v: Variables) -> str:
            return 'user'

        def get_dependencies(self, v: Variables) -> tuple:
            return ('dep',)

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            seen.append(get_extension('dep', v))

    register_plugin(make('dep', events), v)
    register_plugin(User, v, init=True)
    shutdown_all_plugins(v)
    assert seen == ['value:dep']
    with pytest.raises(PluginShutdownError):
        get_extension('dep', v)


# --- get_extensions fast path ------------------------------------------------------------------------------------
def test_get_extensions_cache_returns_a_fresh_dict_and_follows_registrations() -> None:
    v = Variables()
    events: list = []
    for n in ('m1', 'm2', 'm3'):
        register_plugin(make('pool', events, name=n, multi=True), v)
    register_plugin(make('pool', events, name='off', multi=False, enabled=False), v)  # neither: skipped
    first = get_extensions('pool', v)
    assert first == {'m1': 'value:m1', 'm2': 'value:m2', 'm3': 'value:m3'}
    assert get_registry(v).cached_extensions('pool') == first
    first['m1'] = 'changed'
    first['extra'] = 1
    second = get_extensions('pool', v)
    assert second == {'m1': 'value:m1', 'm2': 'value:m2', 'm3': 'value:m3'}
    assert second is not get_extensions('pool', v)
    assert list(second) == ['m1', 'm2', 'm3']
    # a new member: the cache is dropped, the member initialized on the next call, in registration order
    register_plugin(make('pool', events, name='m4', multi=True), v)
    assert list(get_extensions('pool', v)) == ['m1', 'm2', 'm3', 'm4']
    assert kinds(events, 'init') == ['m1', 'm2', 'm3', 'm4']
    shutdown_all_plugins(v)
    assert get_registry(v).cached_extensions('pool') is None
    with pytest.raises(PluginShutdownError, match='pool'):
        get_extensions('pool', v)


def test_get_extensions_by_type_uses_the_cache_too() -> None:
    v = Variables()
    events: list = []
    member = make('one', events, name='only', multi=True)
    assert get_extensions(member, v) == {'only': 'value:only'}
    assert get_registry(v).cached_extensions('one') == {'only': 'value:only'}
    assert get_extensions('one', v) == {'only': 'value:only'}
    assert kinds(events, 'init') == ['only']


def test_get_extensions_inside_initialize_records_the_dependency() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('pool', events, name='p1', multi=True), v)
    register_plugin(make('agg', events, init=lambda v: sorted(get_extensions('pool', v))), v)
    assert get_extension('agg', v) == ['p1']
    assert describe_plugins(v)[1]['observed_dependencies'] == ['pool']
    shutdown_all_plugins(v)
    assert kinds(events, 'shutdown') == ['agg', 'p1']
