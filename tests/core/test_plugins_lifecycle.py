"""Tests for the plugin lifecycle: shutdown order, async hooks, describe_plugins and plugin_graph."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.plugins import (
    PluginError,
    PluginInitError,
    PluginShutdownError,
    async_plugins_ready,
    async_plugins_stopping,
    describe_plugins,
    get_extension,
    get_extensions,
    init_all_plugins,
    plugin_graph,
    register_plugin,
    shutdown_all_plugins,
)


def make_plugin(point: str, *, name: Optional[str] = None, deps: tuple = (), eager: bool = False,
                multi: bool = False, enabled: bool = True, events: Optional[list] = None, fail_init: bool = False,
                fail_shutdown: bool = False, fail_ready: bool = False, fail_stopping: bool = False,
                sleep: float = 0.0, with_async: bool = True) -> type[Plugin]:
    pname = name or point

    def record(kind: str) -> None:
        if events is not None:
            events.append((kind, pname))

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
            record('init')
            if sleep:
                time.sleep(sleep)
            if fail_init:
                raise RuntimeError(f'{pname} cannot start')
            return f'value:{pname}'

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            record('shutdown')
            assert value == f'value:{pname}'
            if fail_shutdown:
                raise RuntimeError(f'{pname} cannot stop')

    if with_async:
        async def async_ready(self: Any, v: Variables, logger: logging.Logger, value: Any) -> None:
            await asyncio.sleep(0)
            record('ready')
            assert value == f'value:{pname}'
            if fail_ready:
                raise RuntimeError(f'{pname} ready hook broke')

        async def async_stopping(self: Any, v: Variables, logger: logging.Logger, value: Any) -> None:
            await asyncio.sleep(0)
            record('stopping')
            if fail_stopping:
                raise RuntimeError(f'{pname} stopping hook broke')

        P.async_ready = async_ready  # type: ignore[method-assign]
        P.async_stopping = async_stopping  # type: ignore[method-assign]
    P.eager = eager
    P.__name__ = P.__qualname__ = f'P_{pname}'.replace('-', '_')
    return P


def kinds(events: list, kind: str) -> list[str]:
    return [n for k, n in events if k == kind]


def chain(v: Variables, events: list, **kw: Any) -> None:
    """Register a -> b -> c (a depends on b, b on c) plus an independent d, and initialize a then d."""
    register_plugin(make_plugin('a', deps=('b',), events=events, **kw.get('a', {})), v)
    register_plugin(make_plugin('b', deps=('c',), events=events, **kw.get('b', {})), v)
    register_plugin(make_plugin('c', events=events, **kw.get('c', {})), v)
    register_plugin(make_plugin('d', events=events, **kw.get('d', {})), v)
    get_extension('a', v)
    get_extension('d', v)
    names = [kw.get(p, {}).get('name', p) for p in ('c', 'b', 'a', 'd')]
    assert kinds(events, 'init') == names


# --- shutdown ---------------------------------------------------------------------------------------------------
def test_shutdown_reverse_init_order() -> None:
    v = Variables()
    events: list = []
    chain(v, events)
    register_plugin(make_plugin('never', events=events), v)  # never initialized: not shut down
    shutdown_all_plugins(v)
    assert kinds(events, 'shutdown') == ['d', 'a', 'b', 'c']
    shutdown_all_plugins(v)  # at most once
    assert kinds(events, 'shutdown') == ['d', 'a', 'b', 'c']


def test_failing_shutdown_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    v = Variables()
    events: list = []
    caplog.set_level(logging.WARNING)
    chain(v, events, b={'name': 'bad-stopper', 'fail_shutdown': True})
    shutdown_all_plugins(v)  # must not raise
    assert kinds(events, 'shutdown') == ['d', 'a', 'bad-stopper', 'c']
    failures = [r for r in caplog.records if 'bad-stopper' in r.getMessage()]
    assert failures, caplog.text
    assert failures[0].levelno >= logging.WARNING
    assert failures[0].exc_info is not None or 'cannot stop' in caplog.text
    states = {d['name']: d['state'] for d in describe_plugins(v)}
    assert states == {'a': 'shut down', 'bad-stopper': 'shut down', 'c': 'shut down', 'd': 'shut down'}


def test_nothing_initializes_after_shutdown() -> None:
    v = Variables()
    events: list = []
    register_plugin(make_plugin('x', events=events), v)
    register_plugin(make_plugin('lazy', events=events), v)
    register_plugin(make_plugin('m', name='m1', multi=True, events=events), v)
    eager_cls = make_plugin('e', eager=True, events=events)
    register_plugin(eager_cls, v)
    assert get_extension('x', v) == 'value:x'
    assert shutdown_all_plugins(v) == []
    assert kinds(events, 'shutdown') == ['x']
    calls: list = [
        lambda: get_extension('x', v), lambda: get_extension('lazy', v), lambda: get_extensions('m', v),
        lambda: register_plugin(eager_cls, v, init=True),
        lambda: register_plugin(make_plugin('late', eager=True), v, init=True),
    ]
    for call in calls:
        with pytest.raises(PluginShutdownError) as ei:
            call()
        assert isinstance(ei.value, PluginError) and isinstance(ei.value, RuntimeError)
        msg = str(ei.value)
        assert 'shut down' in msg and 'nothing is initialized after shutdown' in msg
        assert ei.value.extension_point in msg
    with pytest.raises(PluginShutdownError, match="'x'"):
        get_extension('x', v)
    with pytest.raises(PluginShutdownError, match='e'):
        init_all_plugins(v)
    # registering without init still works, and initializes nothing
    p = register_plugin(make_plugin('after', eager=True, events=events), v)
    assert not p.collected and not p.initialized  # collected: once initialized or scheduled
    assert kinds(events, 'init') == ['x']
    # a second shutdown is harmless
    assert shutdown_all_plugins(v) == []
    assert kinds(events, 'shutdown') == ['x']


# --- async hooks --------------------------------------------------------------------------------------------------
def test_async_ready_in_init_order_and_stopping_in_reverse_once_each() -> None:
    v = Variables()
    events: list = []
    chain(v, events)
    register_plugin(make_plugin('plain', events=events, with_async=False), v)
    get_extension('plain', v)

    async def main() -> None:
        await async_plugins_ready(v)
        await async_plugins_ready(v)
        await async_plugins_stopping(v)
        await async_plugins_stopping(v)

    asyncio.run(main())
    assert kinds(events, 'ready') == ['c', 'b', 'a', 'd']
    assert kinds(events, 'stopping') == ['d', 'a', 'b', 'c']


def test_async_ready_only_for_initialized_plugins() -> None:
    v = Variables()
    events: list = []
    register_plugin(make_plugin('on', events=events), v)
    register_plugin(make_plugin('lazy-unused', events=events), v)
    get_extension('on', v)
    asyncio.run(async_plugins_ready(v))
    assert kinds(events, 'ready') == ['on']
    # a plugin initialized later gets its ready hook on the next call, the earlier one not again
    get_extension('lazy-unused', v)
    asyncio.run(async_plugins_ready(v))
    assert kinds(events, 'ready') == ['on', 'lazy-unused']


def test_failing_async_hooks_logged_with_plugin_name(caplog: pytest.LogCaptureFixture) -> None:
    v = Variables()
    events: list = []
    caplog.set_level(logging.WARNING)
    chain(v, events, b={'name': 'hook-breaker', 'fail_ready': True, 'fail_stopping': True})

    async def main() -> None:
        await async_plugins_ready(v)
        await async_plugins_stopping(v)

    asyncio.run(main())
    assert kinds(events, 'ready') == ['c', 'hook-breaker', 'a', 'd']
    assert kinds(events, 'stopping') == ['d', 'a', 'hook-breaker', 'c']
    msgs = [r.getMessage() for r in caplog.records if 'hook-breaker' in r.getMessage()]
    assert len(msgs) == 2, caplog.text
    assert any('ready' in m for m in msgs) and any('stopping' in m for m in msgs)
    # exactly once even after failures
    asyncio.run(async_plugins_ready(v))
    assert kinds(events, 'ready').count('hook-breaker') == 1


def test_async_hooks_exported_from_core_and_root() -> None:
    import scitrera_app_framework as saf
    import scitrera_app_framework.core as core

    assert core.async_plugins_ready is async_plugins_ready
    assert core.async_plugins_stopping is async_plugins_stopping
    assert saf.async_plugins_ready is async_plugins_ready
    assert saf.async_plugins_stopping is async_plugins_stopping


# --- describe_plugins ------------------------------------------------------------------------------------------
def test_describe_plugins_after_mixed_init() -> None:
    v = Variables()
    events: list = []
    register_plugin(make_plugin('pt-eager', name='eager-one', eager=True, events=events), v)
    register_plugin(make_plugin('pt-lazy', name='lazy-one', deps=('pt-eager',), events=events), v)
    register_plugin(make_plugin('pt-bad', name='bad-one', fail_init=True, events=events), v)
    register_plugin(make_plugin('pt-multi', name='multi-one', multi=True, events=events), v)
    register_plugin(make_plugin('pt-off', name='off-one', enabled=False, events=events), v)
    register_plugin(make_plugin('pt-late', name='late-one', deps=('pt-multi',), sleep=0.02, events=events), v)

    init_all_plugins(v)
    with pytest.raises(PluginInitError):
        get_extension('pt-bad', v)
    get_extension('pt-late', v)  # multi-one and late-one: initialized

    info = {d['name']: d for d in describe_plugins(v)}
    assert list(info) == ['eager-one', 'lazy-one', 'bad-one', 'multi-one', 'off-one', 'late-one']
    for d in info.values():
        assert {'name', 'extension_point', 'multi', 'enabled', 'eager', 'state', 'dependencies',
                'init_ms'} <= set(d)
    assert {n: d['state'] for n, d in info.items()} == {
        'eager-one': 'initialized', 'lazy-one': 'registered', 'bad-one': 'failed', 'multi-one': 'initialized',
        'off-one': 'registered', 'late-one': 'initialized',
    }
    shutdown_all_plugins(v)
    after = {d['name']: d['state'] for d in describe_plugins(v)}
    assert after == {
        'eager-one': 'shut down', 'lazy-one': 'registered', 'bad-one': 'failed', 'multi-one': 'shut down',
        'off-one': 'registered', 'late-one': 'shut down',
    }
    assert info['eager-one']['eager'] is True and info['lazy-one']['eager'] is False
    assert info['multi-one']['multi'] is True and info['eager-one']['multi'] is False
    assert info['off-one']['enabled'] is False and info['lazy-one']['enabled'] is True
    assert info['lazy-one']['dependencies'] == ['pt-eager']
    assert info['late-one']['dependencies'] == ['pt-multi']
    assert info['eager-one']['dependencies'] == []
    assert info['late-one']['extension_point'] == 'pt-late'
    assert info['lazy-one']['init_ms'] is None and info['off-one']['init_ms'] is None
    assert isinstance(info['eager-one']['init_ms'], (int, float)) and info['eager-one']['init_ms'] >= 0
    assert info['late-one']['init_ms'] >= 10
    assert 'cannot start' in str(info['bad-one'].get('error', 'cannot start'))


# --- plugin_graph ------------------------------------------------------------------------------------------------
def test_plugin_graph_nodes_edges_and_dot() -> None:
    v = Variables()
    register_plugin(make_plugin('web', deps=('db', 'cache')), v)
    register_plugin(make_plugin('db', name='postgres', deps=('config',)), v)
    register_plugin(make_plugin('cache'), v)
    register_plugin(make_plugin('config'), v)
    register_plugin(make_plugin('orphan', deps=('not-registered',)), v)
    g = plugin_graph(v)
    assert set(g.nodes) == {'web', 'db', 'cache', 'config', 'orphan', 'not-registered'}
    assert g.nodes['db'] == ['postgres']
    assert g.nodes['not-registered'] == []
    assert set(g.edges) == {('web', 'db'), ('web', 'cache'), ('db', 'config'), ('orphan', 'not-registered')}
    dot = g.to_dot()
    assert dot.lstrip().startswith('digraph')
    assert dot.rstrip().endswith('}')
    for a, b in g.edges:
        assert f'"{a}" -> "{b}"' in dot
    assert 'postgres' in dot
    assert dot.count('->') == 4


def test_plugin_graph_dot_escapes_quotes() -> None:
    v = Variables()
    register_plugin(make_plugin('has"quote', deps=('x',)), v)
    register_plugin(make_plugin('x'), v)
    dot = plugin_graph(v).to_dot()
    assert '"has\\"quote" -> "x"' in dot


def test_plugin_graph_multi_point_lists_all_members() -> None:
    v = Variables()
    register_plugin(make_plugin('m', name='m1', multi=True), v)
    register_plugin(make_plugin('m', name='m2', multi=True), v)
    assert plugin_graph(v).nodes['m'] == ['m1', 'm2']
    assert list(get_extensions('m', v)) == ['m1', 'm2']
