"""The original's plugin lifecycle: eager by default, ``init=True`` only for eager enabled plugins, the
``collected``/``initialized`` flags, eager plugins registered during an initialize, the registry in the app
context, and the registry's own debug lines (``SAF_DEBUG_PLUGINS``)."""

from __future__ import annotations

import logging
from typing import Any, Optional

import pytest

from scitrera_app_framework.api import Plugin, Variables
from scitrera_app_framework.core.context import get_app_context
from scitrera_app_framework.core.plugins import (
    PluginInitError,
    Registry,
    describe_plugins,
    get_extension,
    get_registry,
    init_all_plugins,
    register_plugin,
    set_extension,
    shutdown_all_plugins,
)


def make(point: str, *, eager: Optional[bool] = None, enabled: bool = True, events: Optional[list] = None,
         on_init: Any = None, fail: bool = False) -> type[Plugin]:
    """A plugin class; ``eager=None`` leaves the class default alone."""
    def record(kind: str) -> None:
        if events is not None:
            events.append((kind, point))

    class P(Plugin):
        def name(self) -> str:
            return point

        def extension_point_name(self, v: Variables) -> str:
            return point

        def is_enabled(self, v: Variables) -> bool:
            return enabled

        def initialize(self, v: Variables, logger: logging.Logger) -> Any:
            record('init')
            if on_init is not None:
                on_init(v)
            if fail:
                raise RuntimeError(f'{point} broke')
            record('init-done')
            return f'value:{point}'

        def shutdown(self, v: Variables, logger: logging.Logger, value: Any) -> None:
            record('shutdown')

    if eager is not None:
        P.eager = eager
    P.__qualname__ = P.__name__ = f'P_{point}'.replace('-', '_')
    return P


def inits(events: list) -> list[str]:
    return [p for k, p in events if k == 'init']


# --- eager by default ---------------------------------------------------------------------------------------------
def test_plugins_are_eager_by_default() -> None:
    v = Variables()
    events: list = []
    cls = make('plain', events=events)
    assert cls.eager is True and Plugin.eager is True
    register_plugin(cls, v)
    assert inits(events) == []  # registration alone initializes nothing
    init_all_plugins(v)
    assert inits(events) == ['plain']
    assert describe_plugins(v)[0]['eager'] is True


def test_register_init_true_initializes_only_eager_enabled_plugins() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('eager-on', events=events), v, init=True)
    register_plugin(make('lazy-on', eager=False, events=events), v, init=True)
    register_plugin(make('eager-off', enabled=False, events=events), v, init=True)
    assert inits(events) == ['eager-on']
    # the lazy one waits for its first request
    assert get_extension('lazy-on', v) == 'value:lazy-on'
    assert inits(events) == ['eager-on', 'lazy-on']
    with pytest.raises(ValueError, match='eager-off'):
        get_extension('eager-off', v)


def test_set_extension_facades_stay_lazy() -> None:
    v = Variables()
    seen: list = []
    set_extension('facade', lambda: seen.append('init') or 'f', v=v)
    init_all_plugins(v)
    assert seen == []
    assert get_extension('facade', v) == 'f'


def test_package_plugins_keep_their_laziness() -> None:
    from scitrera_app_framework.base_plugins.bg_exec import BackgroundThreadExecutorPlugin as BackgroundExecPlugin
    from scitrera_app_framework.base_plugins.progress_tracker import ProgressTrackerPlugin
    from scitrera_app_framework.ext_plugins.multi_tenant import MultiTenantPlugin
    from scitrera_app_framework.ext_plugins.pyroscope_plugin import PyroscopePlugin

    assert BackgroundExecPlugin.eager is False and ProgressTrackerPlugin.eager is False
    assert MultiTenantPlugin.eager is True and PyroscopePlugin.eager is True


# --- collected / initialized ------------------------------------------------------------------------------------
def test_collected_and_initialized_flags_follow_the_lifecycle() -> None:
    v = Variables()
    cls = make('flagged', eager=False)
    fresh = cls()
    assert fresh.collected is False and fresh.initialized is False
    p = register_plugin(cls, v)
    assert p.collected is False and p.initialized is False  # as in the original: not at registration
    get_extension('flagged', v)
    assert p.collected is True and p.initialized is True
    shutdown_all_plugins(v)
    assert p.collected is True and p.initialized is False


def test_initialized_stays_false_after_a_failed_initialize() -> None:
    v = Variables()
    p = register_plugin(make('broken', fail=True), v)
    with pytest.raises(PluginInitError):
        init_all_plugins(v)
    assert p.collected is True and p.initialized is False


# --- eager plugins registered during an initialize ---------------------------------------------------------
def test_eager_plugin_registered_inside_initialize_is_initialized_after_it() -> None:
    v = Variables()
    events: list = []
    inner = make('inner', events=events)  # eager
    lazy_inner = make('lazy-inner', eager=False, events=events)

    def register_more(v: Variables) -> None:
        register_plugin(inner, v)  # init=False
        register_plugin(lazy_inner, v)

    register_plugin(make('outer', eager=False, events=events, on_init=register_more), v)
    assert get_extension('outer', v) == 'value:outer'
    # outer's initialize finished first; then the eager plugin it registered; the lazy one waits
    assert events == [('init', 'outer'), ('init-done', 'outer'), ('init', 'inner'), ('init-done', 'inner')]
    assert get_extension('inner', v) == 'value:inner'


def test_eager_plugin_registered_outside_any_initialize_waits_for_init_all() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('e', events=events), v)
    assert inits(events) == []
    init_all_plugins(v)
    assert inits(events) == ['e']


def test_init_all_plugins_loops_until_no_eager_plugin_is_left() -> None:
    v = Variables()
    events: list = []
    third = make('third', events=events)
    second = make('second', events=events, on_init=lambda v: register_plugin(third, v))
    register_plugin(make('first', events=events, on_init=lambda v: register_plugin(second, v)), v)
    register_plugin(make('lazy', eager=False, events=events), v)
    init_all_plugins(v)
    assert inits(events) == ['first', 'second', 'third']
    init_all_plugins(v, include_lazy=True)
    assert inits(events) == ['first', 'second', 'third', 'lazy']


def test_init_all_plugins_keeps_the_original_positional_order() -> None:
    v = Variables()
    events: list = []
    register_plugin(make('p', events=events), v)
    init_all_plugins(v, False)  # the original's second positional parameter is async_enabled
    assert inits(events) == ['p']


def test_a_failing_pending_eager_plugin_is_reported() -> None:
    v = Variables()
    bad = make('bad-inner', fail=True)
    register_plugin(make('outer', eager=False, on_init=lambda v: register_plugin(bad, v)), v)
    with pytest.raises(PluginInitError, match='bad-inner'):
        get_extension('outer', v)
    # the outer plugin itself is initialized
    assert get_extension('outer', v) == 'value:outer'


# --- the registry lives in the app context ------------------------------------------------------------------
def test_registry_is_kept_in_the_app_context() -> None:
    v = Variables()
    reg = get_registry(v)
    assert isinstance(reg, Registry)
    assert get_app_context(v).registry is reg
    assert get_registry(v) is reg
    assert reg.ready is get_app_context(v).ready_points  # the get_extension fast path
    register_plugin(make('x'), v, init=True)
    assert get_app_context(v).ready_points['x'] == 'value:x'


# --- SAF_DEBUG_PLUGINS --------------------------------------------------------------------------------------
def _debug_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == 'saf.plugins' and r.levelno == logging.DEBUG]


def test_debug_lines_only_when_the_flag_is_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger='saf.plugins')
    v = Variables()
    register_plugin(make('quiet'), v, init=True)
    shutdown_all_plugins(v)
    assert _debug_lines(caplog) == []

    v = Variables()
    get_app_context(v).debug_plugins = True
    register_plugin(make('chatty'), v, init=True)
    shutdown_all_plugins(v)
    lines = _debug_lines(caplog)
    assert len(lines) == 4, lines
    assert lines[0].startswith('registered ') and "'chatty'" in lines[0]
    assert lines[1].startswith('initializing ') and "'chatty'" in lines[1]
    assert lines[2].startswith('initialized ') and lines[2].endswith(' ms') and "'chatty'" in lines[2]
    assert lines[3].startswith('shut down ') and "'chatty'" in lines[3]
