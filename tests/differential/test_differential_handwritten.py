"""Hand-written differential scenarios: one per pattern real apps use, and one per issue 17 item 1-8.

Each runs under the original 0.0.69 and under ours; the observations must be equal once the documented
differences are normalized or recognized. A scenario showing a PENDING difference is an expected failure (xfail)
until it is decided; when it starts passing, the pending entry must go.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from differences import BY_ID, DIFFERENCES, STATS, compare
from oracle import Pair, oracle_python
from scenarios import HANDWRITTEN, ISOLATED


def _check(name: str, sc: dict[str, Any], orig: dict[str, Any], ours: dict[str, Any]) -> None:
    STATS['examples'] += 1
    verdict = compare(sc, orig, ours)
    STATS['fired'].update(verdict.fired)
    if verdict.equal:
        STATS['equal'] += 1
        stale = [d.id for d in DIFFERENCES if d.status == 'pending' and name in d.examples and d.normalize is None]
        if stale:
            pytest.fail(f'{name} no longer differs: the pending difference(s) {", ".join(stale)} are gone here; '
                        f'remove them from tests/differential/differences.py (or drop this example from them)')
        return
    STATS['explained'].update(verdict.explained_by)
    pending = [d for d in verdict.explained_by if BY_ID[d].status == 'pending']
    if pending:
        pytest.xfail(f'{name}: pending difference(s) {", ".join(pending)}:\n{verdict.detail}')
    if verdict.explained_by:  # documented differences (README "Differences"), each pinned by a test of ours
        return
    pytest.fail(f'{name}: the original and ours differ outside the documented list:\n{verdict.detail}')


@pytest.mark.parametrize('name', sorted(HANDWRITTEN))
def test_handwritten(pair: Pair, name: str) -> None:
    sc = HANDWRITTEN[name]
    orig, ours = pair.run(sc)
    assert 'runner_error' not in orig, orig['runner_error']
    _check(name, sc, orig, ours)


@pytest.mark.parametrize('name', sorted(ISOLATED))
def test_isolated(oracle_info: dict[str, Any], name: str) -> None:
    """Scenarios that change process state (cwd, logging) get a process pair of their own."""
    p = Pair(str(oracle_python()), sys.executable)
    try:
        orig, ours = p.run(ISOLATED[name])
    finally:
        p.close()
    assert 'runner_error' not in orig, orig['runner_error']
    _check(name, ISOLATED[name], orig, ours)


def test_normalized_entries_show_in_their_examples(pair: Pair) -> None:
    """Each difference recognized by a normalizer shows in its example scenarios: a documented one is exercised
    (not dead code), and a pending one that stopped showing is reported so its entry is removed."""
    gone = []
    for d in DIFFERENCES:
        if d.normalize is None or not d.examples:
            continue
        fired = []
        for ex in [e for e in d.examples if e in HANDWRITTEN]:  # the isolated ones change the worker's process
            sc = HANDWRITTEN[ex]
            orig, ours = pair.run(sc)
            fired += compare(sc, orig, ours).fired
        if d.id not in fired:
            gone.append(f'{d.id} ({d.status}) does not show in {d.examples}')
    assert not gone, 'remove or re-document: ' + '; '.join(gone)


def test_every_entry_is_complete() -> None:
    """Documented entries name their README words and a pinning test; pending ones an issue item or a finding."""
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text()
    section = readme.split('## Differences from the original', 1)[1].split('\n## ', 1)[0]
    for d in DIFFERENCES:
        assert d.status in ('documented', 'pending'), d.id
        assert d.original and d.ours and d.reason, d.id
        assert (d.normalize is None) != (d.explains is None), f'{d.id}: one way of recognizing it'
        for ex in d.examples:
            assert ex in HANDWRITTEN or ex in ISOLATED, f'{d.id}: unknown example {ex}'
        if d.status == 'documented':
            assert d.readme and d.readme in section, f'{d.id}: README "Differences" must name it ({d.readme!r})'
            assert d.pinned_by and '::' in d.pinned_by, d.id
            path, func = d.pinned_by.split('::')
            source = (Path(__file__).resolve().parents[2] / path).read_text()
            assert f'def {func}(' in source, f'{d.id}: {d.pinned_by} does not exist'


def test_readme_figures_are_true() -> None:
    """README "Differential testing" states the suite's figures; they follow the code."""
    from pathlib import Path

    from test_differential_generated import GRAPH_EXAMPLES, VARIABLES_EXAMPLES
    readme = (Path(__file__).resolve().parents[2] / 'README.md').read_text()
    text = ' '.join(readme.split('## Differential testing', 1)[1].split('\n## ', 1)[0].split())
    documented = sum(d.status == 'documented' for d in DIFFERENCES)
    pending = sum(d.status == 'pending' for d in DIFFERENCES)
    for phrase in (f'{len(HANDWRITTEN) + len(ISOLATED)} hand-written scenarios',
                   f'{GRAPH_EXAMPLES + VARIABLES_EXAMPLES} generated', f'{GRAPH_EXAMPLES} random plugin graphs',
                   f'{VARIABLES_EXAMPLES} random `Variables`', f'{documented} documented', f'{pending} pending',
                   f'{documented} remain on purpose'):
        assert phrase in text, f'README "Differential testing" should say {phrase!r}'
