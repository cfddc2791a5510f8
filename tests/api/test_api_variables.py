"""Tests for scitrera_app_framework.api.Variables: layers, placements, typed access, enumeration, import."""

from __future__ import annotations

import os
from typing import Any

import pytest

from scitrera_app_framework.api import NO_MATCH, NOT_SET, EnvPlacement, Variables, is_epp
from scitrera_app_framework.util import ext_parse_bool, ext_parse_csv
from scitrera_app_framework.util.parsing import parse_bool_strict

KEY = 'saf_t_layer_key'  # environment name: SAF_T_LAYER_KEY


class GetOnlySource:
    """A source with get() but no keys()."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith('SAF_T_'):
            monkeypatch.delenv(name)


def _build(placement: EnvPlacement, layers: set[str], monkeypatch: pytest.MonkeyPatch) -> Variables:
    """A Variables where ``KEY`` is present in exactly the given layers, each with the layer's name as value."""
    v = Variables(sources=[{KEY: 'sources'}] if 'sources' in layers else [], env_placement=placement)
    if 'env' in layers:
        monkeypatch.setenv(KEY.upper(), 'env')
    else:
        monkeypatch.delenv(KEY.upper(), raising=False)
    if 'local' in layers:
        v.set(KEY, 'local')
    if 'defaults' in layers:
        v.set_default_value(KEY, 'defaults')
    return v


ORDERS = {
    EnvPlacement.TOP: ['env', 'local', 'sources', 'defaults'],
    EnvPlacement.BOTTOM: ['local', 'sources', 'defaults', 'env'],
    EnvPlacement.BOTTOM2: ['local', 'sources', 'env', 'defaults'],
    EnvPlacement.IGNORED: ['local', 'sources', 'defaults'],
}
ALL_LAYERS = ['env', 'local', 'sources', 'defaults']


# --- layer order -------------------------------------------------------------------------------------------
@pytest.mark.parametrize('placement', list(EnvPlacement))
def test_layer_order_pairwise(placement: EnvPlacement, monkeypatch: pytest.MonkeyPatch) -> None:
    order = ORDERS[placement]
    for i, hi in enumerate(order):
        for lo in order[i + 1:]:
            v = _build(placement, {hi, lo}, monkeypatch)
            assert v.get(KEY) == hi, f'{placement}: {hi} should beat {lo}'


@pytest.mark.parametrize('placement', list(EnvPlacement))
def test_layer_order_peeling(placement: EnvPlacement, monkeypatch: pytest.MonkeyPatch) -> None:
    order = ORDERS[placement]
    for i in range(len(order)):
        v = _build(placement, set(order[i:]) | ({'env'} if placement is EnvPlacement.IGNORED else set()),
                   monkeypatch)
        assert v.get(KEY) == order[i]


@pytest.mark.parametrize('placement', list(EnvPlacement))
def test_each_layer_alone(placement: EnvPlacement, monkeypatch: pytest.MonkeyPatch) -> None:
    for layer in ALL_LAYERS:
        v = _build(placement, {layer}, monkeypatch)
        expected = None if (layer == 'env' and placement is EnvPlacement.IGNORED) else layer
        assert v.get(KEY) == expected, (placement, layer)


def test_default_placement_is_top() -> None:
    assert Variables().env_placement is EnvPlacement.TOP


def test_bad_placement_is_type_error() -> None:
    with pytest.raises(TypeError):
        Variables(env_placement='top')  # type: ignore[arg-type]


def test_sources_in_order_added() -> None:
    v = Variables(sources=[{'k': 'first'}])
    v.add_source({'k': 'second', 'only2': 2})
    assert v.get('k') == 'first'
    assert v.get('only2') == 2
    assert len(v.sources) == 2


def test_add_source_requires_get() -> None:
    with pytest.raises(TypeError):
        Variables().add_source(42)


def test_local_provider_is_used() -> None:
    store: dict[str, Any] = {}
    v = Variables(local_provider=lambda: store)
    v.set('x', 1)
    assert store == {'x': 1}


# --- environment -------------------------------------------------------------------------------------------
def test_env_key_is_upper_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_LOG_DIR', '/var/log/x')
    v = Variables()
    assert v.get('saf_t_log_dir') == '/var/log/x'
    assert v.get('Saf_T_Log_Dir') == '/var/log/x'
    assert v.get('SAF_T_LOG_DIR') == '/var/log/x'


def test_other_layers_are_case_sensitive() -> None:
    v = Variables(sources=[{'SrcKey': 's'}], env_placement=EnvPlacement.IGNORED)
    v.set('LocalKey', 1)
    v.set_default_value('DefKey', 2)
    assert v.get('localkey') is None and v.get('LocalKey') == 1
    assert v.get('srckey') is None and v.get('SrcKey') == 's'
    assert v.get('defkey') is None and v.get('DefKey') == 2


def test_env_is_live(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    v.set_default_value('saf_t_live', 'default')
    assert v.get('saf_t_live') == 'default'
    monkeypatch.setenv('SAF_T_LIVE', 'one')
    assert v.get('saf_t_live') == 'one'
    os.environ['SAF_T_LIVE'] = 'two'
    assert v.get('saf_t_live') == 'two'
    assert v.get('saf_t_live') == 'two'
    monkeypatch.delenv('SAF_T_LIVE')
    assert v.get('saf_t_live') == 'default'


def test_env_is_live_with_type_fn(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    monkeypatch.setenv('SAF_T_LIVE_N', '1')
    assert v.environ('saf_t_live_n', default=0, type_fn=int) == 1
    monkeypatch.setenv('SAF_T_LIVE_N', '2')
    assert v.get('saf_t_live_n') == 2
    monkeypatch.setenv('SAF_T_LIVE_N', '1')
    assert v.get('saf_t_live_n') == 1
    monkeypatch.delenv('SAF_T_LIVE_N')
    assert v.get('saf_t_live_n') == 0


def test_epp_keys_never_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    v.set('=|saf_t_internal|', 'local')
    assert v.get('=|saf_t_internal|') == 'local'


# --- environ / get ---------------------------------------------------------------------------------------------
def test_environ_registers_default_and_type_fn(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    assert v.environ('saf_t_port', default='8080', type_fn=int) == 8080
    # both persist for later plain gets
    assert v.get('saf_t_port') == 8080
    assert v['saf_t_port'] == 8080
    assert v.saf_t_port == 8080
    monkeypatch.setenv('SAF_T_PORT', '9090')
    assert v.get('saf_t_port') == 9090
    v.set('saf_t_other', '7')
    assert v.environ('saf_t_other', type_fn=int) == 7
    assert v.get('saf_t_other') == 7


def test_environ_without_default_or_value_is_none_and_known() -> None:
    v = Variables()
    assert v.environ('saf_t_absent') is None
    assert 'saf_t_absent' in v.keys()
    assert 'saf_t_absent' in v


def test_environ_none_default_is_registered() -> None:
    v = Variables()
    assert v.environ('saf_t_none', default=None) is None
    v.set('saf_t_none', 'x')
    assert v.get('saf_t_none') == 'x'


def test_environ_type_fn_applies_to_default() -> None:
    v = Variables()
    assert v.environ('saf_t_flag', default='yes', type_fn=ext_parse_bool) is True
    assert v.environ('saf_t_list', default='a, b', type_fn=ext_parse_csv) == ['a', 'b']


def test_get_does_not_register() -> None:
    v = Variables()
    assert v.get('saf_t_unseen') is None
    assert v.get('saf_t_unseen', 5) == 5
    assert 'saf_t_unseen' not in v.keys()
    assert 'saf_t_unseen' not in v


def test_get_default_is_not_type_converted() -> None:
    v = Variables()
    v.set_type_fn('saf_t_n', int)
    assert v.get('saf_t_n', 'not-a-number') == 'not-a-number'


def test_get_local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_LOC', 'env')
    v = Variables(sources=[{'saf_t_src': 's'}])
    v.set_default_value('saf_t_def', 'd')
    v.set('saf_t_loc', 'local')
    assert v.get('saf_t_loc') == 'env'
    assert v.get('saf_t_loc', local=True) == 'local'
    assert v.get('saf_t_src', local=True) is None
    assert v.get('saf_t_def', 'fallback', local=True) == 'fallback'


def test_get_local_applies_type_fn() -> None:
    v = Variables()
    v.set_type_fn('saf_t_typed_local', int)
    v.set('saf_t_typed_local', '5')
    assert v.get('saf_t_typed_local') == 5
    assert v.get('saf_t_typed_local', local=True) == 5


def test_item_and_attribute_access(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    v['saf_t_item'] = 'x'
    assert v['saf_t_item'] == 'x'
    assert v.saf_t_item == 'x'
    assert v.saf_t_nothing_here is None
    monkeypatch.setenv('SAF_T_ATTR', 'from-env')
    assert v.saf_t_attr == 'from-env'
    with pytest.raises(AttributeError):
        v._saf_t_private  # noqa: B018
    del v['saf_t_item']
    assert v['saf_t_item'] is None


# --- writing -------------------------------------------------------------------------------------------------
def test_set_returns_value_and_env_still_wins_with_top(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables()
    assert v.set('saf_t_set', 1) == 1
    assert v.get('saf_t_set') == 1
    monkeypatch.setenv('SAF_T_SET', 'env')
    assert v.get('saf_t_set') == 'env'


def test_update() -> None:
    v = Variables()
    v.update({'saf_t_a': 1, 'saf_t_b': 2}, saf_t_c=3)
    assert (v.get('saf_t_a'), v.get('saf_t_b'), v.get('saf_t_c')) == (1, 2, 3)
    v.update(saf_t_a=10)
    assert v.get('saf_t_a') == 10


def test_get_or_set() -> None:
    v = Variables(sources=[{'saf_t_gos_src': 'source'}])
    assert v.get_or_set('saf_t_gos', 'first') == 'first'
    assert v.get_or_set('saf_t_gos', 'second') == 'first'
    assert v.get('saf_t_gos', local=True) == 'first'
    # works on local values only: a source value does not count
    assert v.get_or_set('saf_t_gos_src', 'local') == 'local'
    assert v.get('saf_t_gos_src') == 'local'


def test_get_or_set_calls_the_value_function() -> None:
    v = Variables()
    d = v.get_or_set('saf_t_gos_dict', dict)
    assert d == {} and v.get_or_set('saf_t_gos_dict', dict) is d
    d['k'] = 1
    assert v.get('saf_t_gos_dict') == {'k': 1}
    calls: list[int] = []
    assert v.get_or_set('saf_t_gos_fn', lambda: calls.append(1) or 'made') == 'made'
    assert v.get_or_set('saf_t_gos_fn', lambda: calls.append(1) or 'again') == 'made'
    assert calls == [1]


def test_get_or_set_default() -> None:
    v = Variables()
    assert v.get_or_set_default('saf_t_gosd', 'd1') == 'd1'
    assert v.get_or_set_default('saf_t_gosd', 'd2') == 'd1'
    v.set('saf_t_gosd', 'local')
    assert v.get_or_set_default('saf_t_gosd', 'd3') == 'local'
    del v['saf_t_gosd']
    assert v.get('saf_t_gosd') == 'd1'
    lst = v.get_or_set_default('saf_t_gosd_list', list)
    assert lst == [] and v.get('saf_t_gosd_list') is lst


def test_set_default_value_is_lowest_layer() -> None:
    v = Variables(sources=[{'saf_t_sdv': 'source'}])
    v.set_default_value('saf_t_sdv', 'default')
    assert v.get('saf_t_sdv') == 'source'
    v.set_default_value('saf_t_sdv2', 'default')
    assert v.get('saf_t_sdv2') == 'default'
    v.set_default_value('saf_t_sdv2', 'default2')
    assert v.get('saf_t_sdv2') == 'default2'


def test_set_type_fn_and_remove() -> None:
    v = Variables()
    v.set('saf_t_stf', '42')
    v.set_type_fn('saf_t_stf', int)
    assert v.get('saf_t_stf') == 42
    v.set_type_fn('saf_t_stf', float)
    assert v.get('saf_t_stf') == 42.0 and isinstance(v.get('saf_t_stf'), float)
    v.set_type_fn('saf_t_stf', None)
    assert v.get('saf_t_stf') == '42'


def test_set_type_default() -> None:
    v = Variables()
    v.set_type_default('port', 8080, int)  # the original's order: key, default, type_fn
    assert v.get('port') == 8080
    v.set('port', '9090')
    assert v.get('port') == 9090
    v.set_type_default('saf_t_std', '3', int)
    assert v.get('saf_t_std') == 3
    v.set_type_default('saf_t_std', type_fn=str)  # default left alone
    assert v.get('saf_t_std') == '3'


def test_type_fn_applies_to_every_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables(sources=[{'saf_t_tfl': '2'}])
    v.set_type_default('saf_t_tfl', '1', int)
    assert v.get('saf_t_tfl') == 2
    v.set('saf_t_tfl', '3')
    assert v.get('saf_t_tfl') == 3
    monkeypatch.setenv('SAF_T_TFL', '4')
    assert v.get('saf_t_tfl') == 4


def test_changing_local_value_invalidates_conversion() -> None:
    v = Variables()
    v.set_type_fn('saf_t_conv', int)
    for i in range(5):
        v.set('saf_t_conv', str(i))
        assert v.get('saf_t_conv') == i


# --- enumeration ---------------------------------------------------------------------------------------------
def test_keys_lists_set_environ_and_source_keys() -> None:
    v = Variables(sources=[{'saf_t_src_a': 1}, GetOnlySource({'saf_t_hidden': 1})])
    v.set('saf_t_local', 1)
    v.environ('saf_t_env_looked_up')
    v.set_default_value('saf_t_def', 1)
    v.add_source({'saf_t_src_b': 2})
    keys = v.keys()
    for k in ('saf_t_src_a', 'saf_t_local', 'saf_t_env_looked_up', 'saf_t_def', 'saf_t_src_b'):
        assert k in keys
    assert 'saf_t_hidden' not in keys  # a source without keys() cannot be enumerated
    assert len(keys) == len(set(keys))
    assert list(iter(v)) == keys


def test_contains(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables(sources=[GetOnlySource({'saf_t_hidden': 1})])
    v.set('saf_t_local', None)
    v.set_default_value('saf_t_def', 1)
    monkeypatch.setenv('SAF_T_IN_ENV', 'x')
    assert 'saf_t_local' in v
    assert 'saf_t_def' in v
    assert 'saf_t_in_env' in v
    assert 'SAF_T_IN_ENV' in v
    assert 'saf_t_hidden' in v
    assert 'saf_t_missing' not in v
    assert 42 not in v
    ignored = Variables(env_placement=EnvPlacement.IGNORED)
    assert 'saf_t_in_env' not in ignored


def test_export_all_variables_excludes_internal_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables(sources=[{'saf_t_src': 's'}])
    v.set('saf_t_a', 1)
    v.set('=|SAF_INTERNAL|', 'secret-state')
    v.environ('saf_t_port', default='80', type_fn=int)
    monkeypatch.setenv('SAF_T_A', 'env')
    out = v.export_all_variables()
    assert out == {'saf_t_src': 's', 'saf_t_a': 'env', 'saf_t_port': 80}
    assert not any(is_epp(k) for k in out)
    full = v.export_all_variables(exclude_epp=False)
    assert full['=|SAF_INTERNAL|'] == 'secret-state'


def test_is_epp() -> None:
    assert is_epp('=|NAME|')
    assert is_epp('=|x|')
    for key in ('NAME', '=|NAME', '|NAME|', '=NAME|', '', '=|', '=||', None, 1):
        assert not is_epp(key), key


def test_get_by_prefix_known_keys() -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.set('db_host', 'h')
    v.set('db_port', 5)
    v.set('other', 1)
    v.set('db_', 'no rest: not a match')
    v.set('=|db_internal|', 'x')
    assert v.get_by_prefix('db') == {'host': 'h', 'port': 5}
    assert v.get_by_prefix('db_') == {'host': 'h', 'port': 5}
    assert v.get_by_prefix('db', drop_prefix=False) == {'db_host': 'h', 'db_port': 5}
    assert v.get_by_prefix('DB', prefix_lower=True) == {'host': 'h', 'port': 5}


def test_get_by_prefix_environment_as_the_original(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_APP_NAME', 'svc')
    monkeypatch.setenv('SAF_T_APP_VERSION', '1.2')
    monkeypatch.setenv('SAF_T_APPLE', 'no')
    v = Variables()
    assert v.get_by_prefix('SAF_T_APP') == {'name': 'svc', 'version': '1.2'}
    assert v.get_by_prefix('SAF_T_APP', key_lower=False) == {'NAME': 'svc', 'VERSION': '1.2'}
    assert v.get_by_prefix('SAF_T_APP', drop_prefix=False, key_lower=False) == {'SAF_T_APP_NAME': 'svc',
                                                                                'SAF_T_APP_VERSION': '1.2'}
    assert v.get_by_prefix('saf_t_app') == {'name': 'svc', 'version': '1.2'}  # the environment is upper-case
    assert Variables(env_placement=EnvPlacement.IGNORED).get_by_prefix('SAF_T_APP') == {}


def test_get_by_prefix_lower_case_env_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('saf_t_lower_a', '1')
    monkeypatch.delenv('SAF_T_LOWER_A', raising=False)
    out = Variables().get_by_prefix('saf_t_lower')
    # either leave the name out or give its real value; never report a value it cannot read
    assert out.get('a', '1') == '1'


def test_get_by_prefix_custom_separator() -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.update({'app.db.host': 'h', 'app.port': 1, 'apple': 3})
    assert v.get_by_prefix('app', sep='.') == {'db.host': 'h', 'port': 1}


# --- import by prefix ------------------------------------------------------------------------------------------
def test_import_from_env_by_prefix_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_IMP_FOO_BAR', '1')
    monkeypatch.setenv('SAF_T_IMP_X', '2')
    monkeypatch.setenv('SAF_T_IMPOTHER', 'no')
    monkeypatch.setenv('SAF_T_IMP_', 'empty-rest')
    v = Variables()
    out = v.import_from_env_by_prefix('SAF_T_IMP')
    assert out == {'foo_bar': '1', 'x': '2'}
    # the full names are registered (exported), the short names only returned
    assert v.get('SAF_T_IMP_FOO_BAR', local=True) == '1'
    exported = v.export_all_variables()
    assert exported['SAF_T_IMP_FOO_BAR'] == '1' and exported['SAF_T_IMP_X'] == '2'
    assert 'foo_bar' not in exported


def test_import_two_prefixes_keep_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_DB_HOST', 'db-host')
    monkeypatch.setenv('SAF_T_CACHE_HOST', 'cache-host')
    v = Variables()
    db = v.import_from_env_by_prefix('SAF_T_DB')
    cache = v.import_from_env_by_prefix('SAF_T_CACHE')
    assert db == {'host': 'db-host'} and cache == {'host': 'cache-host'}
    assert v.get('SAF_T_DB_HOST') == 'db-host' and v.get('SAF_T_CACHE_HOST') == 'cache-host'


def test_import_from_env_by_prefix_keep_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_IMK_FOO', '1')
    v = Variables()
    assert v.import_from_env_by_prefix('SAF_T_IMK', drop_prefix=False) == {'SAF_T_IMK_foo': '1'}
    assert v.import_from_env_by_prefix('SAF_T_IMK', drop_prefix=False, prefix_lower=True) == {'saf_t_imk_foo': '1'}
    assert v.import_from_env_by_prefix('SAF_T_IMK', drop_prefix=False, key_lower=False) == {'SAF_T_IMK_FOO': '1'}
    assert v.import_from_env_by_prefix('SAF_T_IMK', key_lower=False) == {'FOO': '1'}


def test_import_from_env_by_prefix_custom_sep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_SEP__DB__HOST', 'h')
    monkeypatch.setenv('SAF_T_SEP_SINGLE', 'no')
    v = Variables()
    assert v.import_from_env_by_prefix('SAF_T_SEP', sep='__') == {'db__host': 'h'}


def test_import_from_env_by_prefix_prefix_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_CI_VALUE', 'v')
    assert Variables().import_from_env_by_prefix('saf_t_ci') == {'value': 'v'}


def test_import_from_dict_by_prefix() -> None:
    d = {'app.db.host': 'h', 'app.port': 1, 'apple': 3, 'app.': 'x', 'other.app.x': 4, 7: 'not-a-str'}
    v = Variables(env_placement=EnvPlacement.IGNORED)
    assert v.import_from_dict_by_prefix('app', d, sep='.') == {'db.host': 'h', 'port': 1}  # the original's order
    assert v.get('app.port') == 1
    assert v.import_from_dict_by_prefix(d, 'app', sep='.') == {'db.host': 'h', 'port': 1}  # our older order
    v2 = Variables(env_placement=EnvPlacement.IGNORED)
    assert v2.import_from_dict_by_prefix('APP', {'APP_Key': 1}) == {'key': 1}
    assert v2.get('APP_Key') == 1
    with pytest.raises(TypeError, match='mapping'):
        v2.import_from_dict_by_prefix('APP', ['not', 'a', 'mapping'])


def test_import_from_dict_by_prefix_as_the_original() -> None:
    """As 0.0.69: the entries are fallback defaults (a value set on v wins, before or after), the prefix matches
    case-sensitively, and the result is get_by_prefix(prefix): the merged view."""
    v = Variables(env_placement=EnvPlacement.IGNORED)
    v.set('SVC_A', 'mine')
    assert v.import_from_dict_by_prefix('SVC', {'SVC_A': 'dict', 'SVC_B': 'b', 'svc_c': 'c'}) == {'a': 'mine',
                                                                                                  'b': 'b'}
    assert v.get('SVC_A') == 'mine' and v.get('SVC_B') == 'b'
    assert 'svc_c' not in v  # another case: not imported
    v.set('SVC_B', 'later')
    assert v.get('SVC_B') == 'later'  # a default: what the app sets afterwards wins
    assert v.import_from_dict_by_prefix('SVC', None) == {'a': 'mine', 'b': 'later'}  # nothing to import


def test_environ_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework.api.variables import EnvironProxy
    monkeypatch.setenv('SAF_T_PROXY', 'yes')
    p = EnvironProxy()
    assert p['saf_t_proxy'] == 'yes' and 'saf_t_proxy' in p and 'SAF_T_PROXY' in p
    assert p.get('saf_t_missing') is None and 'saf_t_missing' not in p
    with pytest.raises(KeyError):
        p['saf_t_missing']
    p['saf_t_proxy2'] = 'set'
    assert os.environ['SAF_T_PROXY2'] == 'set'
    del p['saf_t_proxy2']
    assert 'SAF_T_PROXY2' not in os.environ


# --- type function errors ------------------------------------------------------------------------------------
def test_type_fn_failure_env_names_key_layer_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_NUM', 'abc')
    v = Variables()
    with pytest.raises(ValueError) as ei:
        v.environ('saf_t_num', default=1, type_fn=int)
    msg = str(ei.value)
    assert 'saf_t_num' in msg
    assert 'environment' in msg and 'SAF_T_NUM' in msg
    assert "'abc'" in msg
    # chained to a sanitized copy (same type and traceback, masked message); the original is on .original
    assert isinstance(ei.value.__cause__, ValueError) and ei.value.__cause__ is not ei.value.original
    assert ei.value.__cause__.__traceback__ is not None
    assert isinstance(ei.value.original, ValueError)
    # the default and type function are registered despite the failure, and fixing the env fixes the read
    monkeypatch.setenv('SAF_T_NUM', '12')
    assert v.get('saf_t_num') == 12


@pytest.mark.parametrize('layer', ['local', 'source', 'default'])
def test_type_fn_failure_other_layers(layer: str) -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    if layer == 'local':
        v.set('saf_t_bad', 'xyz')
    elif layer == 'source':
        v.add_source({'saf_t_bad': 'xyz'})
    else:
        v.set_default_value('saf_t_bad', 'xyz')
    v.set_type_fn('saf_t_bad', parse_bool_strict)
    with pytest.raises(ValueError) as ei:
        v.get('saf_t_bad')
    msg = str(ei.value)
    assert 'saf_t_bad' in msg and layer in msg and "'xyz'" in msg
    assert isinstance(ei.value.__cause__, ValueError)


def _raise_zero(value: Any) -> Any:
    raise ZeroDivisionError('no conversion today')


@pytest.mark.parametrize('key', ['saf_t_db_password', 'SAF_T_API_KEY', 'saf_t_auth_token', 'saf_t_client_secret'])
def test_type_fn_failure_masks_secret_values(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(key.upper(), 'hunter2-value')
    v = Variables()
    with pytest.raises(ValueError) as ei:
        v.environ(key, type_fn=_raise_zero)
    msg = str(ei.value)
    assert 'hunter2-value' not in msg
    assert key in msg or key.upper() in msg
    assert '****' in msg
    assert isinstance(ei.value.__cause__, ZeroDivisionError)
    assert 'hunter2-value' not in str(ei.value.__cause__)


def test_type_fn_failure_secret_not_leaked_by_original_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # int('hunter2') fails with "invalid literal for int() with base 10: 'hunter2'", which must not be echoed
    monkeypatch.setenv('SAF_T_DB_PASSWORD', 'hunter2')
    v = Variables()
    with pytest.raises(ValueError) as ei:
        v.environ('saf_t_db_password', type_fn=int)
    assert 'hunter2' not in str(ei.value)


# --- conversion caching ------------------------------------------------------------------------------------------
def test_cached_conversion_does_not_share_mutable_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_CSV', 'a,b')
    v = Variables()
    first = v.environ('saf_t_csv', type_fn=ext_parse_csv)
    assert first == ['a', 'b']
    first.append('zzz')
    second = v.get('saf_t_csv')
    assert second == ['a', 'b']
    assert second is not first
    second.clear()
    assert v.get('saf_t_csv') == ['a', 'b']


@pytest.mark.parametrize('layer', ['local', 'default', 'source'])
def test_cached_conversion_does_not_share_mutable_other_layers(layer: str) -> None:
    v = Variables(env_placement=EnvPlacement.IGNORED)
    if layer == 'local':
        v.set('saf_t_csv', 'x, y')
    elif layer == 'default':
        v.set_default_value('saf_t_csv', 'x, y')
    else:
        v.add_source({'saf_t_csv': 'x, y'})
    v.set_type_fn('saf_t_csv', ext_parse_csv)
    v.get('saf_t_csv').append('mutated')
    assert v.get('saf_t_csv') == ['x', 'y']


def test_list_value_with_list_type_fn_not_shared() -> None:
    v = Variables()
    src = ['a', 'b']
    v.set('saf_t_lst', src)
    v.set_type_fn('saf_t_lst', ext_parse_csv)
    out = v.get('saf_t_lst')
    out.append('c')
    assert v.get('saf_t_lst') == ['a', 'b']
    assert src == ['a', 'b']


def test_conversion_sees_in_place_change_of_mutable_raw() -> None:
    v = Variables()
    hosts = ['a']
    v.set('saf_t_hosts', hosts)
    v.set_type_fn('saf_t_hosts', tuple)
    assert v.get('saf_t_hosts') == ('a',)
    hosts.append('b')
    assert v.get('saf_t_hosts') == ('a', 'b')


# --- sentinels ---------------------------------------------------------------------------------------------------
def test_sentinels() -> None:
    import pickle

    assert not NOT_SET and not NO_MATCH
    assert NOT_SET is not NO_MATCH
    assert repr(NOT_SET) == 'NOT_SET' and repr(NO_MATCH) == 'NO_MATCH'
    assert pickle.loads(pickle.dumps(NOT_SET)) is NOT_SET
    assert pickle.loads(pickle.dumps(NO_MATCH)) is NO_MATCH


def test_find_reports_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    v = Variables(sources=[{'saf_t_f': 's'}])
    assert v.find('saf_t_f') == ('s', 'source[0] (dict)')
    v.set('saf_t_f', 'l')
    assert v.find('saf_t_f') == ('l', 'local')
    monkeypatch.setenv('SAF_T_F', 'e')
    assert v.find('saf_t_f') == ('e', 'environment')
    assert v.find('saf_t_nope')[0] is NO_MATCH


@pytest.mark.parametrize('type_fn', [int, parse_bool_strict, float])
def test_a_huge_bad_value_gives_a_bounded_error(type_fn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('SAF_T_HUGE', 'x' * 10_000_000)
    with pytest.raises(ValueError) as ei:
        Variables().environ('SAF_T_HUGE', type_fn=type_fn)
    msg = str(ei.value)
    assert len(msg) < 1500 and '10,000,000 characters' in msg
    assert len(str(ei.value.__cause__)) < 1000


def test_attribute_reads_stay_live_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = Variables(), Variables()
    a.set('saf_t_attr', 'a-local')
    assert a.saf_t_attr == 'a-local' and b.saf_t_attr is None  # (the second read goes through the class property)
    assert a.saf_t_attr == 'a-local' and b.saf_t_attr is None
    monkeypatch.setenv('SAF_T_ATTR', 'env')
    assert a.saf_t_attr == 'env' and b.saf_t_attr == 'env'
    b.set_type_fn('saf_t_attr', str.upper)
    assert b.saf_t_attr == 'ENV'
    with pytest.raises(AttributeError):
        a._saf_t_private  # noqa: B018


@pytest.mark.parametrize('placement', list(EnvPlacement))
def test_a_later_environ_call_declares_even_with_the_same_default_and_type(placement: EnvPlacement) -> None:
    # environ() keeps a per-key record for its fast path; a later call that adds required/help/secret (same
    # default and type function) must still declare the variable and check it
    from scitrera_app_framework.api.variables import RequiredVariableError

    v = Variables(env_placement=placement)
    key = 'saf_t_later_required'
    assert v.environ(key) is None
    with pytest.raises(RequiredVariableError, match=key):
        v.environ(key, required=True)
    assert v.declared()[key].required
    assert v.environ(key, type_fn=int, default=5) == 5  # a new default: the declaration is kept
    v.set_default_value(key, None)
    with pytest.raises(RequiredVariableError, match=key):
        v.environ(key)

    assert v.environ('saf_t_later_help', 'x', str) == 'x'
    assert v.environ('saf_t_later_help', 'x', str, help='what it is') == 'x'
    assert v.declared()['saf_t_later_help'].help == 'what it is'

    token = 'a-later-declared-token-value'
    assert v.environ('saf_t_later_sec', token) == token
    assert v.environ('saf_t_later_sec', token, secret=True) == token
    assert v.declared()['saf_t_later_sec'].secret
    assert v.explain('saf_t_later_sec')['value'] != token


def test_lookup_places_lists_every_place_in_lookup_order() -> None:
    v = Variables(sources=[{'a': 1}], env_placement=EnvPlacement.BOTTOM2)
    assert v.lookup_places('port') == ["a local value (v.set('port', ...))", 'source[0] (dict)',
                                       'the environment variable PORT', 'a default (environ(..., default=...))']
    v.add_cli_source(['--port=1'])
    assert v.lookup_places('port')[0] == 'the command line (--port)'
