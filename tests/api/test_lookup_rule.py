"""The one lookup rule of :class:`Variables` (issue 22): ``Variables._layers``, an ordered tuple of layer objects,
decides every lookup, and the inlined fast paths of ``get`` and ``environ`` agree with it.

The property test builds random ``Variables`` (placement, environment, local values, several extra sources of
three kinds, defaults, type functions, with and without a command-line layer), then, for every key of a small
universe (so keys are present in none, one or several layers, some differing only in case), compares:

- a reference written here from the documented order (``EnvPlacement``'s docstrings; the command line on top)
  over the test's own copy of the data: the raw value and the layer name it came from;
- a plain walk of ``v._layers`` (the one rule): must equal the reference;
- ``get``, ``environ`` (plain, with the registered default and type function, required), ``find``,
  ``explain()['layer']``, ``in`` and the places named by ``RequiredVariableError``: must agree with the walk.

Each check runs twice (the second read comes from the caches) and again after random changes (local values set
and deleted, environment set and removed, sources and command-line values added, defaults and type functions
changed), so a cache that outlives a change is caught too.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scitrera_app_framework.api import NO_MATCH, EnvPlacement, Variables
from scitrera_app_framework.api.variables import Declaration, RequiredVariableError, VariableTypeError
from scitrera_app_framework.settings import Settings
from scitrera_app_framework.util.config_sources import KeySource

#: the keys checked: two share the environment name LRK_A, the others differ in case from their neighbours
KEYS = ('lrk_a', 'LRK_A', 'lrk_b', 'Lrk_C', 'lrk_d')
ENV_NAMES = sorted({k.upper() for k in KEYS})
VALUES = ('1', '42', 'x', '', None, 7, ('t',))
ENV_VALUES = ('1', '42', 'x', '', ' 7')
ABSENT = object()  # get()'s default argument in the checks


class PlainSource:
    """A source with only get(key, default): no describe, no keys, no path."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = dict(data)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def _pair(raw: Any) -> Any:
    return ('pair', raw)  # immutable result: cached by get and environ


def _listify(raw: Any) -> Any:
    return [raw]  # mutable result: never cached


TYPE_FNS: tuple[Optional[Callable[[Any], Any]], ...] = (None, int, str, _pair, _listify)

data_maps = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)
cli_args = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(ENV_VALUES)), min_size=1, max_size=3)
sources = st.tuples(st.sampled_from(('dict', 'keysource', 'plain')), data_maps)
changes = st.one_of(
    st.tuples(st.just('set'), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just('del_local'), st.sampled_from(KEYS)),
    st.tuples(st.just('setenv'), st.sampled_from(ENV_NAMES), st.sampled_from(ENV_VALUES)),
    st.tuples(st.just('delenv'), st.sampled_from(ENV_NAMES)),
    st.tuples(st.just('source'), sources),
    st.tuples(st.just('cli'), cli_args),
    st.tuples(st.just('default'), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just('type_fn'), st.sampled_from(KEYS), st.sampled_from(TYPE_FNS)),
    st.tuples(st.just('environ'), st.sampled_from(KEYS), st.sampled_from(VALUES), st.sampled_from(TYPE_FNS)),
)


class Model:
    """The test's own copy of what was put into the Variables, and the documented lookup order over it."""

    ORDER = {
        EnvPlacement.TOP: ('environment', 'local', 'sources', 'defaults'),
        EnvPlacement.BOTTOM: ('local', 'sources', 'defaults', 'environment'),
        EnvPlacement.BOTTOM2: ('local', 'sources', 'environment', 'defaults'),
        EnvPlacement.IGNORED: ('local', 'sources', 'defaults'),
    }

    def __init__(self, placement: EnvPlacement) -> None:
        self.placement = placement
        self.env: dict[str, str] = {}
        self.local: dict[str, Any] = {}
        self.sources: list[tuple[str, dict[str, Any]]] = []
        self.defaults: dict[str, Any] = {}
        self.type_fns: dict[str, Callable[[Any], Any]] = {}
        self.cli: Optional[dict[str, Any]] = None
        self.cli_flags: dict[str, str] = {}
        self.known: set[str] = set()

    def add_cli(self, args: list[tuple[str, str]]) -> list[str]:
        cli = dict(self.cli or {})
        for key, value in args:
            for old in [k for k in cli if k.upper() == key.upper()]:
                del cli[old]  # a later --KEY wins over an earlier --key, on the command line and across calls
            cli[key] = value
            self.cli_flags[key.upper()] = '--' + key.replace('_', '-')
            self.known.add(key.upper())
        self.cli = cli
        return [f'--{key.replace("_", "-")}={value}' for key, value in args]

    @staticmethod
    def _exact_or_upper(data: dict[str, Any], key: str) -> Any:
        if key in data:
            return data[key]
        upper = {k.upper(): v for k, v in data.items()}
        return upper.get(key.upper(), NO_MATCH)

    def lookup(self, key: str) -> tuple[Any, str, str]:
        """``(raw, where, explain layer)``, or ``(NO_MATCH, '', 'not set')``."""
        order = (('cli',) if self.cli is not None else ()) + self.ORDER[self.placement]
        for name in order:
            if name == 'cli':
                assert self.cli is not None
                raw = self._exact_or_upper(self.cli, key)
                if raw is not NO_MATCH:
                    return raw, f'command line {self.cli_flags[key.upper()]}', 'cli'
            elif name == 'environment':
                if key.upper() in self.env:
                    return self.env[key.upper()], 'environment', 'environment'
            elif name == 'local':
                if key in self.local:
                    return self.local[key], 'local', 'local'
            elif name == 'sources':
                for i, (kind, data) in enumerate(self.sources):
                    raw = self._exact_or_upper(data, key) if kind == 'keysource' else data.get(key, NO_MATCH)
                    if raw is not NO_MATCH:
                        where = 'source' if kind == 'keysource' else \
                            f'source[{i}] ({"dict" if kind == "dict" else "PlainSource"})'
                        return raw, where, 'source'
            elif key in self.defaults:
                return self.defaults[key], 'default', 'default'
        return NO_MATCH, '', 'not set'

    def layer_count(self) -> int:
        return sum(len(self.sources) if name == 'sources' else 1 for name in self.ORDER[self.placement]) + \
            (self.cli is not None)


def _make_source(kind: str, data: dict[str, Any]) -> Any:
    return dict(data) if kind == 'dict' else KeySource(data) if kind == 'keysource' else PlainSource(data)


def _walk(v: Variables, key: str) -> tuple[Any, str]:
    """The plain evaluation of the one rule: the first layer of ``v._layers`` that has ``key``."""
    for layer in v._layers:
        raw = layer.get(key)
        if raw is not NO_MATCH:
            return raw, layer.describe(key)
    return NO_MATCH, ''


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return 'value', fn()
    except VariableTypeError as e:
        return 'type error', (e.key, e.layer)
    except RequiredVariableError as e:
        return 'required', (e.key, e.places)


def _apply(v: Variables, model: Model, mp: pytest.MonkeyPatch, change: tuple[Any, ...]) -> None:
    what = change[0]
    if what == 'set':
        v.set(change[1], change[2])
        model.local[change[1]] = change[2]
        model.known.add(change[1])
    elif what == 'del_local':
        v.pop(change[1])
        model.local.pop(change[1], None)
    elif what == 'setenv':
        mp.setenv(change[1], change[2])
        model.env[change[1]] = change[2]
    elif what == 'delenv':
        mp.delenv(change[1], raising=False)
        model.env.pop(change[1], None)
    elif what == 'source':
        kind, data = change[1]
        v.add_source(_make_source(kind, data))
        model.sources.append((kind, dict(data)))
    elif what == 'cli':
        v.add_cli_source(model.add_cli(change[1]))
    elif what == 'default':
        v.set_default_value(change[1], change[2])
        model.defaults[change[1]] = change[2]
        model.known.add(change[1])
    elif what == 'type_fn':
        v.set_type_fn(change[1], change[2])
        if change[2] is None:
            model.type_fns.pop(change[1], None)
        else:
            model.type_fns[change[1]] = change[2]
        model.known.add(change[1])
    else:  # environ(key, default, type_fn): registers both
        key, default, fn = change[1:]
        _outcome(lambda: v.environ(key, default=default, type_fn=fn))
        model.defaults[key] = default
        if fn is not None:
            model.type_fns[key] = fn
        model.known.add(key)


def _check(v: Variables, model: Model) -> None:
    assert v._env_top == (model.placement is EnvPlacement.TOP and model.cli is None)  # the fast path's use
    assert len(v._layers) == model.layer_count()
    for key in KEYS:
        _check_key(v, model, key)


def _check_key(v: Variables, model: Model, key: str) -> None:
    raw, where, layer_name = model.lookup(key)
    walked = _walk(v, key)
    assert walked == (raw, where), f'{key}: the layer tuple says {walked}, the documented order {raw, where}'
    fn = model.type_fns.get(key)

    def expected(missing: Any) -> tuple[str, Any]:
        if raw is NO_MATCH:
            return 'value', missing
        if raw is None or fn is None:
            return 'value', raw
        try:
            return 'value', fn(raw)
        except Exception:
            return 'type error', (key, where)

    for _ in range(2):  # the second read is served by the caches
        assert (key in v) == (raw is not NO_MATCH or key in model.known), key
        assert _outcome(lambda: v.get(key, ABSENT)) == expected(ABSENT), key
        assert _outcome(lambda: v[key]) == expected(None), key
        assert _outcome(lambda: v.environ(key)) == expected(None), key
        model.known.add(key)  # (environ registers the key)
        assert v.find(key) == (raw, where or None), key
        info = v.explain(key)
        assert info['layer'] == layer_name, key
        assert ('error' in info) == (expected(None)[0] == 'type error'), key
    if key in model.defaults:  # environ with the very default and type function registered: the spec path
        registered = model.defaults[key]
        for _ in range(2):
            assert _outcome(lambda: v.environ(key, default=registered, type_fn=fn)) == expected(None), key
    if expected(None) == ('value', None):
        places = [p for layer in v._layers for p in layer.places(key)]
        assert len(places) == model.layer_count()
        # (environ records required only when it registers the key: drop the record of environ(key) first;
        # afterwards drop the declaration and the record, or every later environ(key) would be required)
        v._espec.pop(key, None)
        assert _outcome(lambda: v.environ(key, required=True)) == ('required', (key, places)), key
        v._decl.pop(key)
        v._espec.pop(key)
        assert _outcome(lambda: v.environ(key)) == expected(None), key  # (a record for the changes that follow)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placement=st.sampled_from(list(EnvPlacement)),
       env=st.dictionaries(st.sampled_from(ENV_NAMES), st.sampled_from(ENV_VALUES), max_size=3),
       local=data_maps,
       extra=st.lists(sources, max_size=3),
       defaults=data_maps,
       type_fns=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(TYPE_FNS[1:]), max_size=3),
       cli=st.one_of(st.none(), cli_args),
       later=st.lists(changes, max_size=5))
def test_lookups_follow_the_one_rule(placement: EnvPlacement, env: dict[str, str], local: dict[str, Any],
                                     extra: list[tuple[str, dict[str, Any]]], defaults: dict[str, Any],
                                     type_fns: dict[str, Callable[[Any], Any]],
                                     cli: Optional[list[tuple[str, str]]], later: list[tuple[Any, ...]]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_NAMES:
            mp.delenv(name, raising=False)
        model = Model(placement)
        v = Variables([_make_source(kind, data) for kind, data in extra], env_placement=placement)
        model.sources = [(kind, dict(data)) for kind, data in extra]
        for name, value in env.items():
            _apply(v, model, mp, ('setenv', name, value))
        for key, value in local.items():
            _apply(v, model, mp, ('set', key, value))
        for key, value in defaults.items():
            _apply(v, model, mp, ('default', key, value))
        for key, fn in type_fns.items():
            _apply(v, model, mp, ('type_fn', key, fn))
        if cli is not None:
            _apply(v, model, mp, ('cli', cli))
        _check(v, model)
        for change in later:
            _apply(v, model, mp, change)
            _check(v, model)


def test_the_fast_path_is_used_only_for_the_shape_it_inlines() -> None:
    assert Variables()._env_top
    assert Variables([{}, KeySource()])._env_top
    for placement in (EnvPlacement.BOTTOM, EnvPlacement.BOTTOM2, EnvPlacement.IGNORED):
        assert not Variables(env_placement=placement)._env_top
    v = Variables([{}])
    v.add_cli_source(['--x=1'])
    assert not v._env_top
    assert [type(layer).__name__ for layer in v._layers] == \
        ['_CliLayer', '_EnvironmentLayer', '_LocalLayer', '_SourceLayer', '_DefaultsLayer']


def test_in_agrees_with_get_for_a_command_line_key_in_another_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--lrk-port=1`` answers ``v.get('lrk_port')``; ``'lrk_port' in v`` said False (the command line was not
    among the layers ``in`` looked at)."""
    monkeypatch.delenv('LRK_PORT', raising=False)
    v = Variables()
    v.add_cli_source(['--LRK-PORT=1'])
    assert v.get('lrk_port') == '1'
    assert 'lrk_port' in v and 'LRK_PORT' in v


def test_declared_gives_named_tuples() -> None:
    v = Variables()
    v.environ('lrk_declared', default='x', help='what it is', required=True)
    d = v.declared()['lrk_declared']
    assert isinstance(d, Declaration) and isinstance(d, tuple)
    assert d == ('what it is', False, True)
    assert (d.help, d.secret, d.required) == ('what it is', False, True)


class LrkSettings(Settings):
    lrk_port: int = 8080


def test_bind_loads_a_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('LRK_PORT', '9')
    s = Variables().bind(LrkSettings)
    assert isinstance(s, LrkSettings) and s.lrk_port == 9


class NotSettings:
    pass


@pytest.mark.parametrize('bad, named', [(NotSettings, 'class NotSettings'), (LrkSettings(lrk_port=1), 'LrkSettings'),
                                        ('LrkSettings', "str 'LrkSettings'")])
def test_bind_without_a_settings_class_names_it(bad: Any, named: str) -> None:
    with pytest.raises(TypeError) as info:
        Variables().bind(bad)
    text = str(info.value)
    assert named in text and 'has no load(v) classmethod' in text and 'pass a Settings subclass' in text
    assert os.linesep not in text


def test_a_source_added_to_a_shallow_copy_is_the_copys_alone() -> None:
    """``copy.copy(v)`` shares ``v``'s containers; a source added to the copy afterwards is listed and read by the
    copy only: ``v.sources`` never lists a source ``v``'s lookups do not read."""
    import copy

    v = Variables(sources=[{'a': 'from-first'}])
    w = copy.copy(v)
    w.add_source({'b': 'from-second'})
    assert (w.get('b'), w.find('b')[0]) == ('from-second', 'from-second') and len(w.sources) == 2
    assert len(v.sources) == 1 and v.get('b') is None and v.get('a') == 'from-first'
