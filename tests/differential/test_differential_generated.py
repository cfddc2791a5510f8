"""Generated differential scenarios (Hypothesis): random plugin graphs and random ``Variables`` programs.

Every example goes to both long-lived workers (the original 0.0.69 and ours) and the observations must be equal
once the documented differences are normalized or recognized. An example that shows a documented difference (or
a pending one, a finding not yet decided) is counted in the summary, not failed; any other difference fails and
Hypothesis shrinks it to a minimal scenario.

Graphs are generated so the original is deterministic: among the single candidates of a point at most one is
enabled for any configuration (0.0.69 picks an arbitrary one of several, from a set).
"""

from __future__ import annotations

from typing import Any

import pytest
from differences import STATS, compare
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import Pair

GRAPH_EXAMPLES = 350
VARIABLES_EXAMPLES = 250
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _check(sc: dict[str, Any], orig: dict[str, Any], ours: dict[str, Any], kind: str) -> None:
    STATS['examples'] += 1
    assert 'runner_error' not in orig, orig['runner_error']
    verdict = compare(sc, orig, ours)
    STATS['fired'].update(verdict.fired)
    STATS['generated'][f'{kind} {"equal" if verdict.equal else "explained"}'] += 1
    if verdict.equal:
        STATS['equal'] += 1
        return
    STATS['explained'].update(verdict.explained_by)
    if verdict.explained_by:  # a documented difference, or a pending one (counted in the summary)
        return
    pytest.fail(f'the original and ours differ outside the documented list:\n{verdict.detail}')


# ------------------------------------------------------------------------------------------------ plugin graphs

@st.composite
def plugin_graphs(draw: st.DrawFn) -> dict[str, Any]:
    n_points = draw(st.integers(1, 5))
    points = [f'pt{i}' for i in range(n_points)]
    n_plugins = draw(st.integers(1, 12))
    plugins: list[dict[str, Any]] = []
    # per point: 'fixed' = at most one always-enabled single candidate; 'config' = candidates chosen by a key
    point_style = {p: draw(st.sampled_from(['fixed', 'config'])) for p in points}
    fixed_taken: set[str] = set()
    selectable: dict[str, list[str]] = {p: [] for p in points}
    for i in range(n_plugins):
        name = f'g{i}'
        point = draw(st.sampled_from(points))
        mode = draw(st.sampled_from(['single', 'single', 'multi', 'both', 'neither']))
        spec: dict[str, Any] = {'name': name, 'point': point, 'value': f'V{i}', 'eager': draw(st.booleans())}
        wants_single = mode in ('single', 'both')
        if wants_single and point_style[point] == 'fixed':
            if point in fixed_taken:
                wants_single = False
                mode = 'multi' if mode == 'both' else 'neither'
            else:
                fixed_taken.add(point)
                spec['single'] = True
        elif wants_single:
            spec['single'] = {'kind': 'equals', 'key': f'DT_SEL_{point.upper()}', 'value': name}
            selectable[point].append(name)
        if not wants_single:
            spec['single'] = False
        spec['multi'] = mode in ('multi', 'both')
        deps = draw(st.lists(st.sampled_from(points + ['missing']), max_size=2, unique=True))
        if deps:
            spec['deps'] = deps
        if draw(st.integers(0, 9)) == 0:
            spec['init_ops'] = [{'op': 'get_extensions', 'point': draw(st.sampled_from(points))}]
        plugins.append(spec)
    # configuration that selects among config-driven candidates: in on_registration, after registration, or none
    order = draw(st.permutations([p['name'] for p in plugins]))
    steps: list[dict[str, Any]] = []
    late: list[dict[str, Any]] = []
    for point, names in selectable.items():
        if not names:
            continue
        chosen = draw(st.sampled_from(names + ['nobody']))
        when = draw(st.sampled_from(['on_registration', 'after', 'env', 'never']))
        key = f'DT_SEL_{point.upper()}'
        if when == 'on_registration':
            owner_name = draw(st.sampled_from(names))
            owner = next(p for p in plugins if p['name'] == owner_name)
            owner.setdefault('on_registration', []).append({'op': 'set_default', 'key': key, 'value': chosen})
        elif when == 'after':
            late.append({'op': 'set', 'key': key, 'value': chosen})
        elif when == 'env':
            late.append({'op': 'env', 'key': key, 'value': chosen})
    env = {s['key']: s['value'] for s in late if s['op'] == 'env'}
    late = [s for s in late if s['op'] != 'env']
    for name in order:
        steps.append({'op': 'register', 'plugin': name, 'init': draw(st.integers(0, 7)) == 0})
    steps.extend(late)
    op = st.one_of(
        st.builds(lambda p: {'op': 'get_extension', 'point': p}, st.sampled_from(points + ['missing'])),
        st.builds(lambda p: {'op': 'get_extensions', 'point': p}, st.sampled_from(points + ['missing'])),
        st.just({'op': 'init_all'}),
        st.just({'op': 'init_all', 'async_enabled': False}),
        st.just({'op': 'shutdown_all'}),
    )
    steps.extend(draw(st.lists(op, min_size=1, max_size=6)))
    steps.append({'op': 'flags'})
    return {'plugins': plugins, 'env': env, 'steps': steps}


@settings(max_examples=GRAPH_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(sc=plugin_graphs())
def test_plugin_graphs(pair: Pair, sc: dict[str, Any]) -> None:
    orig, ours = pair.run(sc)
    _check(sc, orig, ours, 'plugin graphs')


# ------------------------------------------------------------------------------------------------ Variables

KEYS = ['DT_K1', 'DT_K2', 'dt_k1', 'DT_PFX_A', 'DT_PFX_B', 'dt_pfx_c', 'DT_PFXB', 'DT_PFX_']
ATTRS = ['dt_k1', 'dt_k2', 'dt_pfx_a', 'dt_other']
VALUES = st.one_of(st.sampled_from(['1', '0', 'yes', 'no', 'abc', '42', ' x ', '', 'true', '3.5']),
                   st.integers(-3, 50), st.none(), st.booleans())
STR_VALUES = st.sampled_from(['1', '0', 'yes', 'no', 'abc', '42', ' x ', 'true', '3.5'])
TYPE_FNS = st.sampled_from(['int', 'float', 'str', 'csv', 'upper', 'len', 'bool'])
PREFIXES = st.sampled_from(['DT_PFX', 'dt_pfx', 'DT', 'DT_K', 'NOPE'])


def _prefix_kwargs() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={'sep': st.sampled_from(['_', '']), 'drop_prefix': st.booleans(),
                                               'prefix_lower': st.booleans(), 'key_lower': st.booleans()})


@st.composite
def variables_programs(draw: st.DrawFn) -> dict[str, Any]:
    key = st.sampled_from(KEYS)
    ops = st.one_of(
        st.builds(lambda k, x: {'op': 'set', 'key': k, 'value': x}, key, VALUES),
        st.builds(lambda k, x: {'op': 'setitem', 'key': k, 'value': x}, key, VALUES),
        st.builds(lambda k, x: {'op': 'set_default', 'key': k, 'value': x}, key, VALUES),
        st.builds(lambda k: {'op': 'get', 'key': k}, key),
        st.builds(lambda k, x: {'op': 'get', 'key': k, 'default': x}, key, VALUES),
        st.builds(lambda k: {'op': 'getitem', 'key': k}, key),
        st.builds(lambda k, x: {'op': 'environ', 'key': k, 'default': x}, key, STR_VALUES),
        st.builds(lambda k, t: {'op': 'environ', 'key': k, 'type_fn': t}, key, TYPE_FNS),
        st.builds(lambda k, t: {'op': 'set_type_fn', 'key': k, 'type_fn': t}, key, TYPE_FNS),
        st.builds(lambda k, x: {'op': 'get_or_set', 'key': k, 'value': x}, key, VALUES),
        st.builds(lambda k: {'op': 'contains', 'key': k}, key),
        st.builds(lambda d: {'op': 'update', 'values': d}, st.dictionaries(key, VALUES, max_size=3)),
        st.builds(lambda d: {'op': 'add_source', 'source': d}, st.dictionaries(key, VALUES, max_size=3)),
        st.builds(lambda a: {'op': 'getattr', 'attr': a}, st.sampled_from(ATTRS)),
        st.builds(lambda a, x: {'op': 'setattr', 'attr': a, 'value': x}, st.sampled_from(ATTRS), VALUES),
        st.builds(lambda p, kw: {'op': 'get_by_prefix', 'prefix': p, **kw}, PREFIXES, _prefix_kwargs()),
        st.builds(lambda p, d, kw: {'op': 'import_from_dict_by_prefix', 'prefix': p, 'source': d, **kw},
                  PREFIXES, st.dictionaries(key, STR_VALUES, max_size=3), _prefix_kwargs()),
        st.just({'op': 'scenario_keys', 'prefixes': ['DT']}),
        st.just({'op': 'export', 'prefixes': ['DT']}),
    )
    steps = []
    if draw(st.booleans()):
        steps.append({'op': 'new_v', 'name': 'w',
                      'env_placement': draw(st.sampled_from(['TOP', 'BOTTOM', 'BOTTOM2', 'IGNORED'])),
                      'sources': draw(st.lists(st.dictionaries(key, STR_VALUES, max_size=3), max_size=2))})
        steps.extend(dict(o, v='w') for o in draw(st.lists(ops, min_size=1, max_size=10)))
    else:
        steps.extend(draw(st.lists(ops, min_size=1, max_size=10)))
    env = draw(st.dictionaries(st.sampled_from([k for k in KEYS if k.isupper()]), STR_VALUES, max_size=3))
    return {'env': env, 'steps': steps}


@settings(max_examples=VARIABLES_EXAMPLES, **SETTINGS)  # type: ignore[arg-type]
@given(sc=variables_programs())
def test_variables_programs(pair: Pair, sc: dict[str, Any]) -> None:
    orig, ours = pair.run(sc)
    _check(sc, orig, ours, 'Variables programs')
