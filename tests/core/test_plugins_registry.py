"""Tests for the plugin registry (core/plugins.py): registration, lookup, dependencies, errors, facades."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterator, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.plugins import (
    PluginInitError,
    describe_plugins,
    get_extension,
    get_extensions,
    init_all_plugins,
    register_plugin,
    set_extension,
    shutdown_all_plugins,
)


def make_plugin(point: str, value: Any = None, *, name: Optional[str] = None, deps: tuple = (), eager: bool = False,
                multi: bool = False, enabled: Optional[bool] = None, events: Optional[list] = None,
                fail_times: int = 0, sleep: float = 0.0) -> type[Plugin]:
    """A fresh Plugin class for ``point``; ``cls.calls`` counts initialize calls. A multi plugin answers
    ``is_enabled`` False unless told otherwise (the original's idiom for a contributor)."""
    pname = name or point
    if enabled is None:
        enabled = not multi

    class P(Plugin):
        calls = 0

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

        def on_registration(self, v: Variables) -> None:
            if events is not None:
                events.append(('register', pname))

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            type(self).calls += 1
            if events is not None:
                events.append(('init', pname))
            if sleep:
                time.sleep(sleep)
            if type(self).calls <= fail_times:
                raise RuntimeError(f'{pname} exploded')
            return value if value is not None else f'value:{pname}'

        def shutdown(self, v: Variables, logger: logging.Logger, val: Any) -> None:
            if events is not None:
                events.append(('shutdown', pname))

    P.eager = eager
    P.__name__ = P.__qualname__ = f'P_{pname}'.replace('-', '_')
    return P


# --- registration --------------------------------------------------------------------------------------------
def test_register_same_type_twice_is_noop() -> None:
    v = Variables()
    events: list = []
    cls = make_plugin('saf-t-a', events=events)
    p1 = register_plugin(cls, v)
    p2 = register_plugin(cls, v)
    assert p1 is p2
    assert isinstance(p1, cls)
    assert events == [('register', 'saf-t-a')]
    assert len(describe_plugins(v)) == 1


def test_register_different_type_same_name_is_value_error() -> None:
    v = Variables()
    register_plugin(make_plugin('saf-t-a', name='dup'), v)
    other = make_plugin('saf-t-b', name='dup')
    with pytest.raises(ValueError) as ei:
        register_plugin(other, v)
    assert 'dup' in str(ei.value)
    # the registry is unchanged
    assert get_extension('saf-t-a', v) == 'value:dup'
    with pytest.raises(ValueError):
        get_extension('saf-t-b', v)


def test_register_non_plugin_is_value_error() -> None:
    with pytest.raises(ValueError):
        register_plugin(dict, Variables())  # type: ignore[arg-type]


def test_registries_are_per_variables() -> None:
    v1, v2 = Variables(), Variables()
    cls = make_plugin('saf-t-a')
    register_plugin(cls, v1)
    assert get_extension('saf-t-a', v1) == 'value:saf-t-a'
    with pytest.raises(ValueError):
        get_extension('saf-t-a', v2)


def test_on_registration_called_once_before_initialize() -> None:
    v = Variables()
    events: list = []
    cls = make_plugin('saf-t-a', events=events)
    register_plugin(cls, v)
    register_plugin(cls, v)
    get_extension('saf-t-a', v)
    get_extension(cls, v)
    assert events == [('register', 'saf-t-a'), ('init', 'saf-t-a')]


def test_on_registration_can_register_dependencies() -> None:
    v = Variables()
    dep = make_plugin('saf-t-dep')

    class Owner(Plugin):
        def extension_point_name(self, v: Variables) -> str:
            return 'saf-t-owner'

        def get_dependencies(self, v: Variables) -> tuple:
            return ('saf-t-dep',)

        def on_registration(self, v: Variables) -> None:
            register_plugin(dep, v)
            v.set_default_value('saf_t_owner_default', 'd')

        def initialize(self, v: Variables, logger: logging.Logger) -> str:
            return 'owner+' + self.get_extension('saf-t-dep', v)

    register_plugin(Owner, v)
    assert v.get('saf_t_owner_default') == 'd'
    assert get_extension('saf-t-owner', v) == 'owner+value:saf-t-dep'


# --- lookup --------------------------------------------------------------------------------------------------
def test_get_extension_by_name_and_by_type() -> None:
    v = Variables()
    cls = make_plugin('saf-t-a', value={'v': 1})
    # by type registers it
    value = get_extension(cls, v)
    assert value == {'v': 1}
    assert [d['extension_point'] for d in describe_plugins(v)] == ['saf-t-a']
    assert get_extension('saf-t-a', v) is value
    assert get_extension(cls, v) is value
    assert cls.calls == 1


def test_get_extension_unknown_point_names_it() -> None:
    v = Variables()
    register_plugin(make_plugin('saf-t-known'), v)
    with pytest.raises(ValueError) as ei:
        get_extension('saf-t-unknown-point', v)
    assert 'saf-t-unknown-point' in str(ei.value)
    assert get_extensions('saf-t-unknown-point', v) == {}  # nobody contributes: empty, as in the original


def test_get_extension_bad_argument() -> None:
    with pytest.raises(TypeError):
        get_extension(42, Variables())  # type: ignore[call-overload]


def test_disabled_plugin_is_not_used() -> None:
    v = Variables()
    register_plugin(make_plugin('saf-t-p', name='off', enabled=False), v)
    with pytest.raises(ValueError, match='saf-t-p'):
        get_extension('saf-t-p', v)
    register_plugin(make_plugin('saf-t-p', name='on'), v)
    assert get_extension('saf-t-p', v) == 'value:on'


# --- multi extension points ------------------------------------------------------------------------------------
EXT = 'saf-t-example-ext'


class ImplA(Plugin):
    def extension_point_name(self, v: Variables) -> str:
        return EXT

    def is_multi_extension(self, v: Variables) -> bool:
        return True

    def initialize(self, v: Variables, logger: logging.Logger) -> str:
        return 'A'


class ImplB(ImplA):
    def initialize(self, v: Variables, logger: logging.Logger) -> str:
        return 'B'


def test_multi_extension_seed_example() -> None:
    v = Variables()
    register_plugin(ImplA, v)
    register_plugin(ImplB, v)
    exts = get_extensions(EXT, v)
    assert isinstance(exts, dict)
    assert list(exts.values()) == ['A', 'B']
    assert list(exts) == [f'{__name__}.ImplA', f'{__name__}.ImplB']


@pytest.fixture
def default_v() -> Iterator[Variables]:
    from scitrera_app_framework.core import get_variables
    from scitrera_app_framework.testing import reset_framework

    reset_framework()
    try:
        yield get_variables()
    finally:
        reset_framework()


def test_multi_extension_seed_example_default_variables(default_v: Variables) -> None:
    # exactly as in the seed: no v= anywhere
    register_plugin(ImplA)
    register_plugin(ImplB)
    assert list(get_extensions(EXT).values()) == ['A', 'B']
    assert list(get_extensions(EXT, default_v).values()) == ['A', 'B']
    assert describe_plugins() == describe_plugins(default_v)


def test_reset_framework_forgets_default_registry(default_v: Variables) -> None:
    from scitrera_app_framework.testing import reset_framework

    events: list = []
    register_plugin(make_plugin('saf-t-default', events=events))
    assert get_extension('saf-t-default') == 'value:saf-t-default'
    reset_framework()
    assert ('shutdown', 'saf-t-default') in events
    with pytest.raises(ValueError, match='saf-t-default'):
        get_extension('saf-t-default')


def test_multi_extension_registration_order_kept() -> None:
    v = Variables()
    register_plugin(ImplB, v)
    register_plugin(ImplA, v)
    assert list(get_extensions(EXT, v).values()) == ['B', 'A']


def test_multi_plugin_never_stands_in_for_siblings() -> None:
    v = Variables()
    a = make_plugin('saf-t-multi', name='ma', multi=True, enabled=False)
    b = make_plugin('saf-t-multi', name='mb', multi=True, enabled=False)
    c = make_plugin('saf-t-multi', name='mc', multi=False, enabled=False)  # neither single nor multi: skipped
    for cls in (a, b, c):
        register_plugin(cls, v)
    # initialize one member first: the point must still report every member's own value
    assert get_extensions(a, v) == {'ma': 'value:ma', 'mb': 'value:mb'}
    assert get_extensions('saf-t-multi', v) == {'ma': 'value:ma', 'mb': 'value:mb'}
    assert (a.calls, b.calls, c.calls) == (1, 1, 0)
    # a point with contributors only has no single value
    with pytest.raises(ValueError, match='saf-t-multi'):
        get_extension('saf-t-multi', v)


def test_get_extensions_of_single_point() -> None:
    v = Variables()
    register_plugin(make_plugin('saf-t-single', name='only'), v)
    # a single implementation is not a contributor (as in the original)
    assert get_extensions('saf-t-single', v) == {}
    assert get_extension('saf-t-single', v) == 'value:only'


def test_dependency_on_multi_point_initializes_all_members() -> None:
    v = Variables()
    events: list = []
    for n in ('m1', 'm2'):  # contributors only (is_enabled False): the point has no single implementation
        register_plugin(make_plugin('saf-t-m', name=n, multi=True, enabled=False, events=events), v)
    register_plugin(make_plugin('saf-t-user', deps=('saf-t-m',), events=events), v)
    get_extension('saf-t-user', v)
    inits = [n for kind, n in events if kind == 'init']
    assert inits == ['m1', 'm2', 'saf-t-user']


# --- lazy / eager ------------------------------------------------------------------------------------------------
def test_lazy_plugin_initialized_on_first_use_only() -> None:
    v = Variables()
    cls = make_plugin('saf-t-lazy')
    register_plugin(cls, v)
    init_all_plugins(v)
    assert cls.calls == 0
    assert get_extension('saf-t-lazy', v) == 'value:saf-t-lazy'
    assert get_extension('saf-t-lazy', v) == 'value:saf-t-lazy'
    assert cls.calls == 1


def test_init_all_plugins_initializes_eager_only() -> None:
    v = Variables()
    eager = make_plugin('saf-t-eager', eager=True)
    lazy = make_plugin('saf-t-lazy')
    disabled = make_plugin('saf-t-off', eager=True, enabled=False)
    for cls in (eager, lazy, disabled):
        register_plugin(cls, v)
    assert eager.calls == 0
    init_all_plugins(v)
    assert (eager.calls, lazy.calls, disabled.calls) == (1, 0, 0)
    init_all_plugins(v)
    assert eager.calls == 1
    init_all_plugins(v, include_lazy=True)
    assert (eager.calls, lazy.calls, disabled.calls) == (1, 1, 0)


def test_register_plugin_init_true_initializes_eager_plugin_now() -> None:
    v = Variables()
    eager = make_plugin('saf-t-eager', eager=True)
    register_plugin(eager, v, init=True)
    assert eager.calls == 1
    assert get_extension('saf-t-eager', v) == 'value:saf-t-eager'
    assert eager.calls == 1


def test_eager_plugin_not_initialized_without_init() -> None:
    v = Variables()
    eager = make_plugin('saf-t-eager', eager=True)
    register_plugin(eager, v)
    assert eager.calls == 0


# --- dependencies ------------------------------------------------------------------------------------------------
def test_dependencies_initialized_first() -> None:
    v = Variables()
    events: list = []
    register_plugin(make_plugin('saf-t-a', deps=('saf-t-b', 'saf-t-c'), events=events), v)
    register_plugin(make_plugin('saf-t-b', deps=('saf-t-c',), events=events), v)
    register_plugin(make_plugin('saf-t-c', events=events), v)
    get_extension('saf-t-a', v)
    assert [n for kind, n in events if kind == 'init'] == ['saf-t-c', 'saf-t-b', 'saf-t-a']


def test_eager_dependencies_initialized_first_by_init_all() -> None:
    v = Variables()
    events: list = []
    register_plugin(make_plugin('saf-t-top', deps=('saf-t-base',), eager=True, events=events), v)
    register_plugin(make_plugin('saf-t-base', events=events), v)  # lazy, but needed
    init_all_plugins(v)
    assert [n for kind, n in events if kind == 'init'] == ['saf-t-base', 'saf-t-top']


def test_missing_dependency_error() -> None:
    v = Variables()
    cls = make_plugin('saf-t-needy', deps=('saf-t-missing-dep',))
    register_plugin(cls, v)
    with pytest.raises(ValueError) as ei:
        get_extension('saf-t-needy', v)
    msg = str(ei.value)
    assert 'saf-t-missing-dep' in msg and 'saf-t-needy' in msg
    assert cls.calls == 0


def test_cycle_error_shows_whole_path() -> None:
    v = Variables()
    classes = [make_plugin('a', deps=('b',)), make_plugin('b', deps=('c',)), make_plugin('c', deps=('a',))]
    for cls in classes:
        register_plugin(cls, v)
    with pytest.raises(ValueError) as ei:
        get_extension('a', v)
    assert 'a -> b -> c -> a' in str(ei.value)
    with pytest.raises(ValueError) as ei:
        get_extension('b', v)
    assert 'b -> c -> a -> b' in str(ei.value)
    assert all(cls.calls == 0 for cls in classes)


def test_self_dependency_is_a_cycle() -> None:
    v = Variables()
    register_plugin(make_plugin('selfish', deps=('selfish',)), v)
    with pytest.raises(ValueError, match='selfish -> selfish'):
        get_extension('selfish', v)


def test_cycle_through_eager_init_all() -> None:
    v = Variables()
    register_plugin(make_plugin('x', deps=('y',), eager=True), v)
    register_plugin(make_plugin('y', deps=('x',)), v)
    with pytest.raises(ValueError, match='x -> y -> x'):
        init_all_plugins(v)


# --- failing initialize ---------------------------------------------------------------------------------------
def test_failing_initialize_names_plugin_and_point_and_retry_works() -> None:
    v = Variables()
    events: list = []
    cls = make_plugin('saf-t-flaky-point', name='flaky-plugin', fail_times=1, events=events)
    register_plugin(cls, v)
    with pytest.raises(PluginInitError) as ei:
        get_extension('saf-t-flaky-point', v)
    msg = str(ei.value)
    assert 'flaky-plugin' in msg and 'saf-t-flaky-point' in msg
    assert ei.value.plugin_name == 'flaky-plugin'
    assert ei.value.extension_point == 'saf-t-flaky-point'
    assert isinstance(ei.value.__cause__, RuntimeError)
    # registry consistent: still registered, marked failed, nothing to shut down
    (info,) = describe_plugins(v)
    assert info['name'] == 'flaky-plugin' and info['state'] == 'failed'
    assert 'exploded' in (info.get('error') or 'exploded')
    # next request retries and succeeds
    assert get_extension('saf-t-flaky-point', v) == 'value:flaky-plugin'
    assert cls.calls == 2
    assert describe_plugins(v)[0]['state'] == 'initialized'
    assert describe_plugins(v)[0]['error'] is None
    assert get_extension('saf-t-flaky-point', v) == 'value:flaky-plugin'
    assert cls.calls == 2


def test_failed_plugin_is_not_shut_down() -> None:
    v = Variables()
    events: list = []
    register_plugin(make_plugin('saf-t-broken', fail_times=10, events=events), v)
    with pytest.raises(PluginInitError):
        get_extension('saf-t-broken', v)
    assert shutdown_all_plugins(v) == []
    assert describe_plugins(v)[0]['state'] == 'failed'
    assert ('shutdown', 'saf-t-broken') not in events


def test_failing_dependency_propagates_and_dependent_retries() -> None:
    v = Variables()
    dep = make_plugin('saf-t-dep', fail_times=1)
    top = make_plugin('saf-t-top', deps=('saf-t-dep',))
    register_plugin(dep, v)
    register_plugin(top, v)
    with pytest.raises(PluginInitError) as ei:
        get_extension('saf-t-top', v)
    assert ei.value.extension_point == 'saf-t-dep'
    assert top.calls == 0
    assert get_extension('saf-t-top', v) == 'value:saf-t-top'
    assert (dep.calls, top.calls) == (2, 1)


def test_failing_eager_init_with_register_plugin_init() -> None:
    v = Variables()
    cls = make_plugin('saf-t-eager-fail', eager=True, fail_times=1)
    with pytest.raises(PluginInitError):
        register_plugin(cls, v, init=True)
    # the plugin stays registered; init_all_plugins retries
    init_all_plugins(v)
    assert get_extension('saf-t-eager-fail', v) == 'value:saf-t-eager-fail'
    assert cls.calls == 2


# --- conflict -----------------------------------------------------------------------------------------------
def test_two_enabled_single_plugins_the_first_registered_wins_with_a_warning_naming_both(
        caplog: pytest.LogCaptureFixture) -> None:
    v = Variables()
    one = make_plugin('saf-t-shared', name='impl-one', eager=True)
    two = make_plugin('saf-t-shared', name='impl-two', eager=True)
    register_plugin(one, v)
    register_plugin(two, v)
    with caplog.at_level(logging.WARNING, logger='saf.plugins'):
        init_all_plugins(v)
        assert get_extension('saf-t-shared', v) == 'value:impl-one'
    assert (one.calls, two.calls) == (1, 0)
    warned = [r.getMessage() for r in caplog.records if 'saf-t-shared' in r.getMessage()]
    assert len(warned) == 1 and 'impl-one' in warned[0] and 'impl-two' in warned[0]


def test_conflict_is_resolved_by_disabling_one() -> None:
    v = Variables()
    register_plugin(make_plugin('saf-t-shared', name='impl-one'), v)
    register_plugin(make_plugin('saf-t-shared', name='impl-two', enabled=False), v)
    assert get_extension('saf-t-shared', v) == 'value:impl-one'


# --- set_extension ----------------------------------------------------------------------------------------------
def test_set_extension_with_v_and_logger_and_shutdown() -> None:
    v = Variables()
    seen: list = []

    def init_fn(vv: Variables, logger: logging.Logger) -> dict:
        seen.append(('init', vv is v, isinstance(logger, logging.Logger)))
        return {'conn': 1}

    def shutdown_fn(vv: Variables, logger: logging.Logger, value: Any) -> None:
        seen.append(('shutdown', vv is v, value))

    set_extension('saf-t-facade', init_fn, shutdown_fn, v=v)
    assert seen == []  # lazy
    assert get_extension('saf-t-facade', v) == {'conn': 1}
    assert get_extension('saf-t-facade', v) == {'conn': 1}
    shutdown_all_plugins(v)
    assert seen == [('init', True, True), ('shutdown', True, {'conn': 1})]


def test_set_extension_with_no_arg_functions_and_dependencies() -> None:
    v = Variables()
    order: list = []
    set_extension('saf-t-base', lambda: order.append('base') or 'base', v=v)
    set_extension('saf-t-top', lambda: order.append('top') or 'top', lambda: order.append('stop-top'),
                  dependencies=['saf-t-base'], v=v)
    assert get_extension('saf-t-top', v) == 'top'
    assert order == ['base', 'top']
    shutdown_all_plugins(v)
    assert order == ['base', 'top', 'stop-top']


def test_set_extension_replaces_uninitialized_facade() -> None:
    v = Variables()
    set_extension('saf-t-f', lambda: 1, v=v)
    set_extension('saf-t-f', lambda: 2, v=v)
    assert get_extension('saf-t-f', v) == 2


def test_set_extension_facade_is_named_as_in_the_original() -> None:
    """0.0.69 names the facade 'SetExtension|<point>|': a plugin of the app named like the point does not collide."""
    v = Variables()
    facade = set_extension('saf-t-named', lambda: 'facade', v=v)
    assert facade.name() == 'SetExtension|saf-t-named|'

    class NamedLikeThePoint(Plugin):
        def name(self) -> str:
            return 'saf-t-named'

        def extension_point_name(self, v: Variables) -> str:
            return 'saf-t-other'

        def initialize(self, v: Variables, logger: logging.Logger) -> str:
            return 'other'

    register_plugin(NamedLikeThePoint, v)
    assert get_extension('saf-t-named', v) == 'facade' and get_extension('saf-t-other', v) == 'other'


# --- Plugin[T] typing ------------------------------------------------------------------------------------------
class Config:
    def __init__(self, url: str) -> None:
        self.url = url


class ConfigPlugin(Plugin[Config]):
    def initialize(self, v: Variables, logger: logging.Logger) -> Config:
        return Config('db://x')


def test_typed_plugin_get_extension_by_type() -> None:
    v = Variables()
    cfg = get_extension(ConfigPlugin, v)
    assert isinstance(cfg, Config) and cfg.url == 'db://x'
    assert get_extension(f'{__name__}.ConfigPlugin', v) is cfg
    assert register_plugin(ConfigPlugin, v).get_my_extension(v) is cfg


# --- threads ---------------------------------------------------------------------------------------------------
def test_32_threads_initialize_lazy_extension_once() -> None:
    v = Variables()
    n = 32
    lock = threading.Lock()
    count = {'n': 0}

    class Slow(Plugin):
        def extension_point_name(self, v: Variables) -> str:
            return 'saf-t-slow'

        def initialize(self, v: Variables, logger: logging.Logger) -> object:
            with lock:
                count['n'] += 1
            time.sleep(0.05)
            return object()

    register_plugin(Slow, v)
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = get_extension('saf-t-slow', v)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors
    assert count['n'] == 1
    assert results[0] is not None
    assert all(r is results[0] for r in results)


def test_32_threads_by_type_register_and_initialize_once() -> None:
    v = Variables()
    n = 32
    cls = make_plugin('saf-t-race', sleep=0.02, events=[])
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = get_extension(cls, v)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors
    assert cls.calls == 1
    assert len(describe_plugins(v)) == 1
    assert all(r == 'value:saf-t-race' for r in results)
