"""The registry's semantics as apps built on the original 0.0.69 observe them (shared/spec/original-registry-semantics).

Each test pins one behaviour the original's apps rely on: multi contributors (``is_enabled -> False``,
``is_multi_extension -> True``), ``is_enabled`` asked with the configuration of the moment, ``==`` in
``enabled_option_pattern``, stand-in ``v`` objects, and the failure policy of multi extension points.
"""

from __future__ import annotations

import enum
import logging
from typing import Any, Callable, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables, enabled_option_pattern
from scitrera_app_framework.core.plugins import (
    ExtensionNotFoundError,
    PluginInitError,
    PluginState,
    describe_plugins,
    get_extension,
    get_extensions,
    get_registry,
    init_all_plugins,
    register_plugin,
    shutdown_all_plugins,
)


def plugin(name: str, point: str, *, single: Any = True, multi: bool = False, value: Any = None, eager: bool = True,
           deps: tuple[str, ...] = (), events: Optional[list[Any]] = None,
           init: Optional[Callable[[Variables], Any]] = None) -> type[Plugin[Any]]:
    """A Plugin class; ``single`` is a bool or a callable ``(v) -> bool`` (its ``is_enabled``)."""

    class P(Plugin[Any]):
        asked: list[str] = []

        def name(self) -> str:
            return name

        def extension_point_name(self, v: Variables) -> str:
            return point

        def is_enabled(self, v: Variables) -> bool:
            type(self).asked.append('is_enabled')
            return bool(single(v)) if callable(single) else bool(single)

        def is_multi_extension(self, v: Variables) -> bool:
            type(self).asked.append('is_multi_extension')
            return multi

        def get_dependencies(self, v: Variables) -> tuple[str, ...]:
            return deps

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            if events is not None:
                events.append(('init', name))
            if init is not None:
                return init(v)
            return value if value is not None else f'value:{name}'

        def shutdown(self, v: Variables, logger: logging.Logger, val: Any) -> None:
            if events is not None:
                events.append(('shutdown', name))

    P.eager = eager
    P.asked = []
    P.__qualname__ = P.__name__ = f'P_{name.replace("-", "_")}'
    return P


# --- 1. multi contributors are not disabled ------------------------------------------------------------------
def test_multi_contributor_with_is_enabled_false_is_listed_by_get_extensions() -> None:
    v = Variables()
    register_plugin(plugin('h1', 'handlers', single=False, multi=True), v)
    register_plugin(plugin('h2', 'handlers', single=False, multi=True), v)
    assert get_extensions('handlers', v) == {'h1': 'value:h1', 'h2': 'value:h2'}


def test_setup_plugin_gathers_its_own_points_contributors_without_a_cycle() -> None:
    v = Variables()
    events: list[Any] = []
    register_plugin(plugin('h1', 'pt', single=False, multi=True, events=events), v)
    register_plugin(plugin('setup', 'pt', events=events, init=lambda vv: ('setup', get_extensions('pt', vv))), v)
    register_plugin(plugin('h2', 'pt', single=False, multi=True, events=events), v)
    assert get_extension('pt', v) == ('setup', {'h1': 'value:h1', 'h2': 'value:h2'})
    # get_extensions answers the multi contributors only, get_extension the single implementation
    assert get_extensions('pt', v) == {'h1': 'value:h1', 'h2': 'value:h2'}
    assert events == [('init', 'setup'), ('init', 'h1'), ('init', 'h2')]


def test_init_all_plugins_initializes_multi_contributors_and_skips_only_when_both_answers_are_false() -> None:
    v = Variables()
    events: list[Any] = []
    register_plugin(plugin('h1', 'pt', single=False, multi=True, events=events), v)
    register_plugin(plugin('off', 'other', single=False, multi=False, events=events), v)
    register_plugin(plugin('setup', 'pt', events=events, init=lambda vv: sorted(get_extensions('pt', vv))), v)
    init_all_plugins(v)
    assert events == [('init', 'h1'), ('init', 'setup')]
    assert get_extension('pt', v) == ['h1']
    with pytest.raises(ExtensionNotFoundError):
        get_extension('other', v)


def test_a_plugin_both_single_and_multi_answers_both_lookups_with_one_value() -> None:
    v = Variables()
    events: list[Any] = []
    register_plugin(plugin('both', 'pt', single=True, multi=True, events=events), v)
    assert get_extension('pt', v) == 'value:both'
    assert get_extensions('pt', v) == {'both': 'value:both'}
    assert events == [('init', 'both')]


def test_get_extension_on_a_point_with_only_multi_contributors_names_get_extensions() -> None:
    v = Variables()
    register_plugin(plugin('h1', 'pt', single=False, multi=True), v)
    with pytest.raises(ExtensionNotFoundError, match='get_extensions'):
        get_extension('pt', v)


# --- 2. is_enabled asked with the configuration of the moment ---------------------------------------------------
def test_is_enabled_reads_a_default_set_in_on_registration() -> None:
    v = Variables()

    class Provider(Plugin[str]):
        def name(self) -> str:
            return 'prov-default'

        def extension_point_name(self, v: Variables) -> str:
            return 'prov'

        def on_registration(self, v: Variables) -> None:
            v.set_default_value('SAF_T_PROVIDER', 'prov-default')

        def is_enabled(self, v: Variables) -> bool:
            return enabled_option_pattern(self, v, 'SAF_T_PROVIDER')

        def initialize(self, v: Variables, logger: logging.Logger) -> str:
            return 'default!'

    register_plugin(Provider, v)
    assert get_extension('prov', v) == 'default!'


def test_configuration_set_after_registration_decides_the_provider_until_the_point_is_initialized() -> None:
    v = Variables()
    a = plugin('prov-a', 'prov', single=lambda vv: vv.get('SAF_T_KIND') == 'a')
    b = plugin('prov-b', 'prov', single=lambda vv: vv.get('SAF_T_KIND') == 'b')
    register_plugin(a, v)
    register_plugin(b, v)
    assert a.asked == ['is_multi_extension', 'is_enabled']  # at registration: multi once, enabled for the log
    v.set('SAF_T_KIND', 'b')
    assert get_extension('prov', v) == 'value:prov-b'
    v.set('SAF_T_KIND', 'a')  # too late: an initialized point keeps its value
    assert get_extension('prov', v) == 'value:prov-b'
    assert a.asked.count('is_multi_extension') == 1


def test_is_enabled_is_asked_again_at_each_lookup_of_a_point_not_initialized() -> None:
    v = Variables()
    p = plugin('late', 'late-pt', single=lambda vv: bool(vv.get('SAF_T_ON')))
    register_plugin(p, v)
    with pytest.raises(ExtensionNotFoundError):
        get_extension('late-pt', v)
    v.set('SAF_T_ON', True)
    assert get_extension('late-pt', v) == 'value:late'


def test_dependency_resolution_asks_is_enabled_with_the_current_configuration() -> None:
    v = Variables()
    register_plugin(plugin('db-a', 'db', single=lambda vv: vv.get('SAF_T_DB') == 'a', eager=False), v)
    register_plugin(plugin('db-b', 'db', single=lambda vv: vv.get('SAF_T_DB') == 'b', eager=False), v)
    register_plugin(plugin('svc', 'svc', deps=('db',), init=lambda vv: ('svc', get_extension('db', vv))), v)
    v.set('SAF_T_DB', 'a')
    init_all_plugins(v)
    assert get_extension('svc', v) == ('svc', 'value:db-a')


def test_several_enabled_candidates_pick_the_first_registered_and_warn(caplog: pytest.LogCaptureFixture) -> None:
    v = Variables()
    register_plugin(plugin('impl-one', 'shared'), v)
    register_plugin(plugin('impl-two', 'shared'), v)
    with caplog.at_level(logging.WARNING, logger='saf.plugins'):
        assert get_extension('shared', v) == 'value:impl-one'
    assert any('impl-one' in r.getMessage() and 'impl-two' in r.getMessage() for r in caplog.records)


def test_the_seeds_multi_example_logs_no_conflict_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The seed README's ImplA/ImplB (is_multi_extension True, is_enabled left True) are contributors: registering,
    init_all_plugins and get_extensions warn about nothing; asking for THE implementation (get_extension) does."""

    class ImplA(Plugin[Any]):
        def extension_point_name(self, v: Variables) -> str:
            return 'saf-t-seed-ext'

        def is_multi_extension(self, v: Variables) -> bool:
            return True

        def initialize(self, v: Variables, logger: logging.Logger) -> str:
            return 'A'

    class ImplB(ImplA):
        def initialize(self, v: Variables, logger: logging.Logger) -> str:
            return 'B'

    v = Variables()
    with caplog.at_level(logging.WARNING):
        register_plugin(ImplA, v)
        register_plugin(ImplB, v)
        init_all_plugins(v)
        init_all_plugins(v)
        assert list(get_extensions('saf-t-seed-ext', v).values()) == ['A', 'B']
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and
            r.name.startswith('saf.plugins')] == []
    with caplog.at_level(logging.WARNING, logger='saf.plugins'):
        assert get_extension('saf-t-seed-ext', v) == 'A'
    assert any('enabled single implementations' in r.getMessage() for r in caplog.records)


def test_init_all_plugins_with_two_enabled_candidates_initializes_the_first_only() -> None:
    v = Variables()
    events: list[Any] = []
    register_plugin(plugin('impl-one', 'shared', events=events), v)
    register_plugin(plugin('impl-two', 'shared', events=events), v)
    init_all_plugins(v)
    assert events == [('init', 'impl-one')]
    assert get_extension('shared', v) == 'value:impl-one'


def test_on_registration_runs_before_anything_can_initialize_the_plugin() -> None:
    v = Variables()
    seen: list[Any] = []

    class P(Plugin[str]):
        def name(self) -> str:
            return 'ordered'

        def on_registration(self, v: Variables) -> None:
            seen.append('on_registration')
            v.set_default_value('SAF_T_ORDERED', 'yes')

        def initialize(self, v: Variables, logger: logging.Logger) -> str:
            seen.append('initialize')
            return str(v.get('SAF_T_ORDERED'))

    register_plugin(P, v, init=True)
    assert seen == ['on_registration', 'initialize']
    assert get_extension('ordered', v) == 'yes'


# --- 3. enabled_option_pattern compares with == ------------------------------------------------------------------
class ProviderType(str, enum.Enum):
    MOCK = 'mock'
    REAL = 'real'


def test_enabled_option_pattern_matches_a_str_enum_attribute() -> None:
    v = Variables()

    class Mock(Plugin[str]):
        PROVIDER_NAME = ProviderType.MOCK

        def name(self) -> str:
            return 'mock-provider'

        def is_enabled(self, v: Variables) -> bool:
            return enabled_option_pattern(self, v, 'SAF_T_PROV_KIND', self_attr='PROVIDER_NAME')

    p = Mock()
    v.set('SAF_T_PROV_KIND', 'mock')
    assert p.is_enabled(v) is True
    v.set('SAF_T_PROV_KIND', 'real')
    assert p.is_enabled(v) is False
    assert enabled_option_pattern(p, v, 'SAF_T_PROV_KIND', self_attr='PROVIDER_NAME') is False
    # with a default and no value: the default decides
    assert enabled_option_pattern(p, Variables(), 'SAF_T_OTHER_KIND', default=ProviderType.MOCK,
                                  self_attr='PROVIDER_NAME') is True
    # no default and no value: False
    assert enabled_option_pattern(p, Variables(), 'SAF_T_UNSET_KIND', self_attr='PROVIDER_NAME') is False


# --- 7. get_extensions of an unknown point, collected flag ---------------------------------------------------
def test_get_extensions_of_a_point_nobody_contributes_to_is_empty() -> None:
    v = Variables()
    assert get_extensions('saf-t-nobody', v) == {}
    register_plugin(plugin('single-only', 'single-pt'), v)
    assert get_extensions('single-pt', v) == {}  # a single implementation is not a contributor


def test_collected_becomes_true_when_initialized_or_scheduled_not_at_registration() -> None:
    v = Variables()
    eager = register_plugin(plugin('eager-one', 'e1'), v, init=False)
    lazy = register_plugin(plugin('lazy-one', 'l1', eager=False), v, init=False)
    assert eager.collected is False and eager.initialized is False
    assert lazy.collected is False and lazy.initialized is False
    init_all_plugins(v)
    assert eager.collected is True and eager.initialized is True
    assert lazy.collected is True and lazy.initialized is False  # scheduled: initialized on first request
    assert get_extension('l1', v) == 'value:lazy-one'
    assert lazy.initialized is True


def test_collected_stays_false_while_the_dependencies_do_not_resolve() -> None:
    """As in the original: ``collected`` turns True once the dependencies resolved, not before."""
    from scitrera_app_framework.core.plugins import PluginDependencyError
    v = Variables()
    p = register_plugin(plugin('needs-missing', 'nm-pt', deps=('saf-t-missing-point',)), v, init=False)
    with pytest.raises(PluginDependencyError):
        get_extension('nm-pt', v)
    assert p.collected is False and p.initialized is False
    dep = register_plugin(plugin('has-dep', 'hd-pt', deps=('e2',)), v, init=False)
    register_plugin(plugin('e2-impl', 'e2'), v, init=False)
    assert get_extension('hd-pt', v) == 'value:has-dep'
    assert dep.collected is True and dep.initialized is True


def test_register_plugin_instance() -> None:
    v = Variables()
    inst = plugin('inst', 'inst-pt')()
    assert register_plugin(inst, v) is inst
    assert register_plugin(inst, v) is inst
    assert get_extension('inst-pt', v) == 'value:inst'
    assert inst.initialized is True


# --- 10. failure policy on multi extension points ----------------------------------------------------------
def _failing(v: Variables) -> Any:
    raise RuntimeError('contributor exploded')


def _contributors(v: Variables) -> None:
    register_plugin(plugin('ok-1', 'runtimes', single=False, multi=True), v)
    register_plugin(plugin('broken', 'runtimes', single=False, multi=True, init=_failing), v)
    register_plugin(plugin('ok-2', 'runtimes', single=False, multi=True), v)


def test_failing_contributor_raises_by_default() -> None:
    v = Variables()
    _contributors(v)
    with pytest.raises(PluginInitError, match='broken'):
        get_extensions('runtimes', v)


def test_failures_skip_per_call_skips_reports_once_and_describes_it(caplog: pytest.LogCaptureFixture) -> None:
    v = Variables()
    _contributors(v)
    with caplog.at_level(logging.WARNING, logger='saf.plugins'):
        assert get_extensions('runtimes', v, failures='skip') == {'ok-1': 'value:ok-1', 'ok-2': 'value:ok-2'}
        assert get_extensions('runtimes', v, failures='skip') == {'ok-1': 'value:ok-1', 'ok-2': 'value:ok-2'}
    warnings = [r.getMessage() for r in caplog.records if 'broken' in r.getMessage()]
    assert len(warnings) == 1
    assert 'runtimes' in warnings[0] and 'contributor exploded' in warnings[0]
    row = next(r for r in describe_plugins(v) if r['name'] == 'broken')
    assert row['state'] == 'failed' and 'contributor exploded' in row['error']


def test_failures_skip_from_the_environment_and_in_init_all_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_PLUGIN_FAILURES', 'skip')
    v = Variables()
    _contributors(v)
    init_all_plugins(v)
    assert get_extensions('runtimes', v) == {'ok-1': 'value:ok-1', 'ok-2': 'value:ok-2'}
    monkeypatch.setenv('SAF_PLUGIN_FAILURES', 'raise')
    v2 = Variables()
    _contributors(v2)
    with pytest.raises(PluginInitError):
        init_all_plugins(v2)
    v3 = Variables()
    _contributors(v3)
    with pytest.raises(PluginInitError):
        init_all_plugins(v3, failures='raise')
    v4 = Variables()
    _contributors(v4)
    init_all_plugins(v4, failures='skip')
    assert sorted(get_extensions('runtimes', v4, failures='skip')) == ['ok-1', 'ok-2']


def test_single_points_keep_raising_under_skip() -> None:
    v = Variables()
    register_plugin(plugin('single-broken', 'single-pt', init=_failing), v)
    with pytest.raises(PluginInitError, match='single-broken'):
        init_all_plugins(v, failures='skip')


def test_bad_failure_policy_names_the_value_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    _contributors(v)
    with pytest.raises(ValueError, match="'ignore'.*raise.*skip"):
        get_extensions('runtimes', v, failures='ignore')
    monkeypatch.setenv('SAF_PLUGIN_FAILURES', 'sometimes')
    with pytest.raises(ValueError, match='SAF_PLUGIN_FAILURES'):
        init_all_plugins(Variables())


# --- 9. the registry's shape ------------------------------------------------------------------------------------
def test_record_states_are_an_enum_and_describe_keeps_plain_strings() -> None:
    v = Variables()
    register_plugin(plugin('shape', 'shape-pt'), v)
    init_all_plugins(v)
    rec = get_registry(v).record('shape')
    assert rec is not None and rec.state is PluginState.INITIALIZED
    row = describe_plugins(v)[0]
    assert row['state'] == 'initialized' and type(row['state']) is str
    shutdown_all_plugins(v)
    assert rec.state is PluginState.SHUT_DOWN


def test_register_plugin_init_true_makes_an_enabled_candidate_the_points_implementation() -> None:
    # the original: an explicit init=True initializes that plugin for its point when the point has none yet
    v = Variables()
    v.set('SAF_T_USE_ANOTHER', True)
    register_plugin(plugin('simple', 'simple-pt'), v)
    register_plugin(plugin('another', 'simple-pt', single=lambda vv: bool(vv.get('SAF_T_USE_ANOTHER'))), v,
                    init=True)
    assert get_extension('simple-pt', v) == 'value:another'
    init_all_plugins(v)  # the point is taken: 'simple' stays uninitialized
    assert get_registry(v).record('simple').state is PluginState.REGISTERED  # type: ignore[union-attr]


def test_a_missing_dependency_says_unable_to_find() -> None:
    v = Variables()
    register_plugin(plugin('needs', 'needs-pt', deps=('saf-t-nothing',)), v)
    with pytest.raises(ValueError, match="unable to find a plugin for extension point 'saf-t-nothing'"):
        init_all_plugins(v)
