"""The app context owns every piece of per-app state; a Variables reaches it through one protocol slot."""

from __future__ import annotations

import ast
import json
import logging
import threading
from pathlib import Path

import pytest

import scitrera_app_framework
from scitrera_app_framework import Plugin, Variables, get_extension, register_plugin
from scitrera_app_framework.core.context import (
    CONTEXT_ATTR,
    CREATED,
    RUNNING,
    STOPPED,
    STOPPING,
    AppContext,
    AppFailure,
    AppState,
    get_app_context,
    peek_app_context,
)
from scitrera_app_framework.core.health import health
from scitrera_app_framework.core.logs import get_logger
from scitrera_app_framework.core.plugins import Registry, get_registry
from scitrera_app_framework.core.shutdown import ShutdownManager, ShutdownState
from scitrera_app_framework.testing import reset_framework

PKG = Path(scitrera_app_framework.__file__).resolve().parent


class _Db(Plugin):
    def extension_point_name(self, v: Variables) -> str:
        return 'db'

    def initialize(self, v: Variables, logger: logging.Logger) -> object:
        return {'conn': 1}


def test_a_variables_reaches_its_context_through_one_protocol_slot() -> None:
    assert CONTEXT_ATTR == '__saf_context__'
    assert CONTEXT_ATTR in Variables.__slots__
    assert not {'_app', '_ready'} & set(Variables.__slots__)
    v = Variables()
    assert peek_app_context(v) is None  # created on first use only
    ctx = get_app_context(v)
    assert isinstance(ctx, AppContext)
    assert get_app_context(v) is ctx and peek_app_context(v) is ctx
    assert getattr(v, CONTEXT_ATTR) is ctx


def test_the_link_never_collides_with_configuration() -> None:
    v = Variables(sources=[{'saf_context': 'from-a-source'}])
    v.set('__saf_context__', 'a local value')
    ctx = get_app_context(v)
    assert v.saf_context == 'from-a-source'  # configuration read as an attribute
    assert v.get('__saf_context__') == 'a local value'  # a configuration key of that name stays configuration
    assert get_app_context(v) is ctx


def test_the_ready_cache_of_the_registry_lives_on_the_context() -> None:
    v = Variables()
    ctx = get_app_context(v)
    assert ctx.ready_points == {}
    reg = get_registry(v)
    assert reg.ctx is ctx and reg.ready is ctx.ready_points
    register_plugin(_Db, v, init=True)
    assert ctx.ready_points == {'db': {'conn': 1}}
    assert get_extension('db', v) is ctx.ready_points['db']  # the fast path answers from it
    # a registry made on its own has its own context, and its cache is that context's
    alone = Registry()
    assert alone.ready is alone.ctx.ready_points and alone.ctx is not ctx


def test_a_plugin_type_asks_the_registry_not_the_cache() -> None:
    v = Variables()
    value = get_extension(_Db, v)  # registered, then initialized, by type
    assert get_extension(_Db, v) is value
    assert get_app_context(v).ready_points == {'db': value}


def _package_modules() -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text(), str(p))) for p in sorted(PKG.rglob('*.py'))]


def test_no_module_reads_the_private_slots_or_calls_the_private_methods_of_a_variables() -> None:
    # the private slots and the private methods (and static helpers) of Variables
    private = {n for n in [*Variables.__slots__, *vars(Variables)] if n.startswith('_') and not n.startswith('__')}
    owner = PKG / 'api' / 'variables.py'
    bad = []
    for path, tree in _package_modules():
        if path == owner:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private:
                if isinstance(node.value, ast.Name) and node.value.id == 'self':
                    continue  # an attribute of the module's own class that happens to share the name
                bad.append(f'{path.relative_to(PKG)}:{node.lineno}: {ast.unparse(node)}')
    assert bad == []


def test_only_core_context_and_the_get_extension_fast_path_read_the_link() -> None:
    allowed = {PKG / 'api' / 'variables.py', PKG / 'core' / 'context.py', PKG / 'core' / '_registry.py'}
    readers = sorted(str(path.relative_to(PKG)) for path, tree in _package_modules()
                     if path not in allowed and any(isinstance(n, ast.Attribute) and n.attr == CONTEXT_ATTR
                                                    for n in ast.walk(tree)))
    assert readers == []


def test_lifecycle_states_are_a_str_enum_that_shows_its_value() -> None:
    assert [s.value for s in AppState] == ['created', 'starting', 'running', 'stopping', 'stopped']
    assert (CREATED, RUNNING, STOPPING, STOPPED) == (AppState.CREATED, AppState.RUNNING, AppState.STOPPING,
                                                     AppState.STOPPED)
    assert AppState.RUNNING == 'running' and f'{AppState.STOPPING}' == 'stopping' and str(STOPPED) == 'stopped'
    assert json.dumps({'state': AppState.RUNNING}) == '{"state": "running"}'
    ctx = AppContext()
    assert ctx.state is AppState.CREATED
    assert repr(ctx) == '<AppContext ? state=created ready=True>'


def test_the_health_report_shows_the_state_as_plain_text() -> None:
    v = Variables()
    report = health(v)
    assert report['state'] == 'created'
    assert json.loads(json.dumps(report))['state'] == 'created'


def test_the_shutdown_manager_state_is_a_str_enum() -> None:
    m = ShutdownManager()
    assert m.state is ShutdownState.IDLE and m.state == 'idle'
    ran: list[str] = []
    m.register(ran.append, 'hook')
    assert m.run('test') is True
    assert m.state is ShutdownState.DONE and m.state == 'done' and str(m.state) == 'done'
    assert m.run('test') is False and ran == ['hook']
    m.reset()
    assert m.state is ShutdownState.IDLE


def test_reset_framework_rearms_the_warning_of_get_logger_before_init(caplog: pytest.LogCaptureFixture) -> None:
    reset_framework()
    with caplog.at_level(logging.WARNING, logger='SAF'):
        get_logger()  # warns, unless an earlier test of this process did
        reset_framework()
        caplog.clear()
        get_logger()
    assert [r.getMessage() for r in caplog.records if 'before init_framework()' in r.getMessage()] != []
    reset_framework()


def test_failures_are_named_records_and_health_shows_them() -> None:
    v = Variables()
    ctx = get_app_context(v)
    for i in range(105):
        ctx.record_failure(f'plugin shutdown p{i}', f'RuntimeError: boom {i}')
    assert len(ctx.failures) == 100  # the last 100
    first = ctx.failures[0]
    assert isinstance(first, AppFailure)
    assert (first.where, first.error) == ('plugin shutdown p5', 'RuntimeError: boom 5')
    assert health(v)['failures'][-1] == {'where': 'plugin shutdown p104', 'error': 'RuntimeError: boom 104'}


def test_two_threads_touching_a_new_variables_get_one_context(monkeypatch: pytest.MonkeyPatch) -> None:
    # both threads are released together; whoever creates a context waits (bounded) for the other one to be
    # creating too: without a lock on the creation path both create one, and one of them is lost
    from scitrera_app_framework.core import context

    start = threading.Barrier(2)
    creating = threading.Barrier(2)

    class _Slow(AppContext):
        __slots__ = ()

        def __init__(self) -> None:
            try:
                creating.wait(timeout=1.0)  # with the lock, the other thread never gets here: the wait breaks
            except threading.BrokenBarrierError:
                pass
            super().__init__()

    monkeypatch.setattr(context, 'AppContext', _Slow)
    v = Variables()
    seen: list[AppContext] = []

    def touch() -> None:
        start.wait(timeout=30)
        seen.append(get_app_context(v))

    threads = [threading.Thread(target=touch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(seen) == 2
    assert seen[0] is seen[1] is peek_app_context(v)
