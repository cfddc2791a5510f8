"""Our behaviour where it differs from 0.0.69 on purpose (README "Differences from the original"; the differential
suite's ``documented`` entries point here). Each test pins what we do; the original's behaviour is in the
README line and in ``tests/differential/differences.py``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.plugins import (
    describe_plugins,
    get_extension,
    get_extensions,
    init_all_plugins,
    register_plugin,
    shutdown_all_plugins,
)
from scitrera_app_framework.core.util import add_env_file_source


def plugin(name: str, point: str, *, single: bool = True, multi: bool = False, eager: bool = True,
           calls: Optional[list[str]] = None, fail_shutdown: bool = False) -> type[Plugin[Any]]:
    seen = calls if calls is not None else []

    class P(Plugin[Any]):
        def __init__(self) -> None:
            super().__init__()
            seen.append(f'new:{name}')

        def name(self) -> str:
            return name

        def extension_point_name(self, v: Variables) -> str:
            return point

        def is_enabled(self, v: Variables) -> bool:
            return single

        def is_multi_extension(self, v: Variables) -> bool:
            return multi

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            seen.append(f'init:{name}')
            return f'value:{name}'

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            seen.append(f'shutdown:{name}')
            if fail_shutdown:
                raise RuntimeError(f'{name} failed to stop')

    P.eager = eager
    P.__qualname__ = P.__name__ = f'P_{name.replace("-", "_")}'
    return P


def test_lazy_plugin_after_init_all_is_initialized_at_first_use() -> None:
    """The original recorded None for a lazy plugin visited by init_all_plugins and answered None for ever."""
    v, calls = Variables(), []
    lazy = register_plugin(plugin('lazy', 'saf-t-lazy', eager=False, calls=calls), v)
    init_all_plugins(v)
    assert lazy.collected is True and lazy.initialized is False and 'init:lazy' not in calls
    assert get_extension('saf-t-lazy', v) == 'value:lazy'
    assert lazy.initialized is True


def test_a_points_single_value_does_not_stand_in_for_its_contributors() -> None:
    """The original returned the single value under each contributor's name once the single one was initialized."""
    v, calls = Variables(), []
    register_plugin(plugin('setup', 'saf-t-mixed', calls=calls), v)
    register_plugin(plugin('c1', 'saf-t-mixed', single=False, multi=True, calls=calls), v)
    register_plugin(plugin('c2', 'saf-t-mixed', single=False, multi=True, calls=calls), v)
    assert get_extension('saf-t-mixed', v) == 'value:setup'
    assert get_extensions('saf-t-mixed', v) == {'c1': 'value:c1', 'c2': 'value:c2'}
    assert calls.count('init:c1') == 1 and calls.count('init:c2') == 1


def test_a_contributor_initializes_once_across_init_all_and_register_init() -> None:
    """The original ran a multi contributor's initialize again on each init_all_plugins / register(init=True)."""
    v, calls = Variables(), []
    cls = plugin('contrib', 'saf-t-once', single=False, multi=True, calls=calls)
    register_plugin(cls, v)
    init_all_plugins(v)
    init_all_plugins(v)
    register_plugin(cls, v, init=True)
    assert calls.count('init:contrib') == 1
    shutdown_all_plugins(v)
    assert calls.count('shutdown:contrib') == 1


def test_registering_a_class_again_returns_the_registered_instance() -> None:
    """The original instantiated the class on every call and returned the new, unregistered instance (collected
    False) from a repeated register_plugin; ours does not instantiate it again and returns the registered one."""
    v, calls = Variables(), []
    cls = plugin('twice', 'saf-t-twice', calls=calls)
    first = register_plugin(cls, v, init=True)
    again = register_plugin(cls, v, init=True)
    assert again is first and calls.count('new:twice') == 1
    assert again.collected is True and again.initialized is True
    assert [d['name'] for d in describe_plugins(v)].count('twice') == 1


def test_get_extension_by_type_uses_the_given_variables() -> None:
    """The original registered the class in the DEFAULT Variables and then looked its point up in ``v``."""
    v, calls = Variables(), []
    cls = plugin('by-type', 'saf-t-by-type', calls=calls)
    assert get_extension(cls, v) == 'value:by-type'
    assert 'by-type' in [d['name'] for d in describe_plugins(v)]
    assert calls.count('init:by-type') == 1
    multi = plugin('by-type-multi', 'saf-t-by-type-m', single=False, multi=True)
    assert get_extensions(multi, v) == {'by-type-multi': 'value:by-type-multi'}


def test_shutdown_all_plugins_returns_the_failures() -> None:
    """The original returned None; ours returns the plugins whose shutdown failed (empty when all went well)."""
    v = Variables()
    register_plugin(plugin('fine', 'saf-t-fine'), v, init=True)
    assert shutdown_all_plugins(v) == []
    v2 = Variables()
    register_plugin(plugin('broken', 'saf-t-broken', fail_shutdown=True), v2, init=True)
    failures = shutdown_all_plugins(v2)
    assert len(failures) == 1 and 'broken' in failures[0]


def test_initialized_is_false_once_shut_down() -> None:
    """The original left ``plugin.initialized`` True after shutdown_all_plugins."""
    v = Variables()
    p = register_plugin(plugin('stopped', 'saf-t-stopped'), v, init=True)
    assert p.initialized is True
    shutdown_all_plugins(v)
    assert p.initialized is False and p.collected is True


def test_add_source_returns_the_variables_for_chaining() -> None:
    """The original's add_source returned None."""
    v = Variables()
    assert v.add_source({'SAF_T_SRC_A': 'a'}) is v
    assert v.get('SAF_T_SRC_A') == 'a'


def test_add_env_file_source_returns_what_it_read(tmp_path: Path) -> None:
    """The original's add_env_file_source returned None."""
    env = tmp_path / 'app.env'
    env.write_text('SAF_T_ENVF_A=1\nSAF_T_ENVF_B=two\n')
    v = Variables()
    assert add_env_file_source(env, v) == {'SAF_T_ENVF_A': '1', 'SAF_T_ENVF_B': 'two'}
    assert v.get('SAF_T_ENVF_B') == 'two'


def test_keys_include_defaults_type_functions_and_get_or_set() -> None:
    """The original's keys()/get_by_prefix()/``in`` did not see keys only given a default, a type function or a
    get_or_set value."""
    v = Variables()
    v.set_default_value('SAF_T_KK_DEFAULT', 1)
    v.set_type_fn('SAF_T_KK_TYPED', int)
    v.get_or_set('SAF_T_KK_GOS', lambda: 'made')
    keys = v.keys()
    assert {'SAF_T_KK_DEFAULT', 'SAF_T_KK_TYPED', 'SAF_T_KK_GOS'} <= set(keys)
    assert 'SAF_T_KK_DEFAULT' in v
    assert v.get_by_prefix('SAF_T_KK') == {'default': 1, 'typed': None, 'gos': 'made'}


def test_a_stored_none_is_returned_without_calling_the_type_function() -> None:
    """The original applied the type function to a stored None (type_fn=int raised TypeError, str gave 'None')."""
    v = Variables()
    v.set('SAF_T_NONE', None)
    assert v.environ('SAF_T_NONE', type_fn=int) is None
    assert v.environ('SAF_T_NONE', type_fn=str) is None


def _with_deps(cls: type[Plugin[Any]], deps: list[str]) -> type[Plugin[Any]]:
    class D(cls):  # type: ignore[valid-type,misc]
        def get_dependencies(self, v: Variables) -> list[str]:
            return list(deps)

    D.__qualname__ = D.__name__ = cls.__name__
    return D


def test_a_contributor_may_depend_on_the_single_implementation_of_its_own_point() -> None:
    """The original failed such a contributor with 'circular dependency'; the dependency names a point, which
    resolves to its single implementation (initialized first), so the contributor initializes."""
    v, calls = Variables(), []
    register_plugin(plugin('impl', 'p', calls=calls), v)
    register_plugin(_with_deps(plugin('contrib', 'p', single=False, multi=True, calls=calls), ['p']), v)
    assert get_extensions('p', v) == {'contrib': 'value:contrib'}
    assert [c for c in calls if c.startswith('init:')] == ['init:impl', 'init:contrib']
    assert get_extension('p', v) == 'value:impl'


def test_init_all_stops_at_the_first_failure_in_registration_order_and_a_retry_goes_on() -> None:
    """The original initialized an arbitrary subset (its set order of names) before raising; ours walks in
    registration order, stops at the first failure (the plugins after it stay uninitialized), and a later call
    initializes what can be."""
    import pytest
    v, calls = Variables(), []
    register_plugin(plugin('a', 'pa', calls=calls), v)
    register_plugin(_with_deps(plugin('b', 'pb', calls=calls), ['missing']), v)
    register_plugin(plugin('c', 'pc', calls=calls), v)
    with pytest.raises(ValueError, match='missing'):
        init_all_plugins(v)
    assert [c for c in calls if c.startswith('init:')] == ['init:a']
    assert get_extension('pc', v) == 'value:c'
