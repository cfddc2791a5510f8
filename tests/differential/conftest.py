"""Fixtures of the differential suite: the oracle venv and one long-lived worker pair for the session.

The oracle (the original 0.0.69) is installed from the package index into ``.venv-oracle-0.0.69/`` on first use
and reused afterwards. When the index cannot be reached every differential test skips with a loud reason (the
only skip ``tests/conftest.py`` allows for this suite); any other installation failure is an error.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from differences import STATS
from oracle import INDEX_UNREACHABLE, OracleUnavailable, Pair, ensure_oracle, oracle_python


@pytest.fixture(scope='session')
def oracle_info() -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        info = ensure_oracle()
    except OracleUnavailable as exc:
        banner = '!' * 100
        sys.stderr.write(f'\n{banner}\n!! DIFFERENTIAL SUITE SKIPPED: {exc}\n{banner}\n')
        pytest.skip(f'{INDEX_UNREACHABLE}: {exc}')
    STATS['oracle_install_s'] = time.monotonic() - t0
    return info


@pytest.fixture(scope='session')
def pair(oracle_info: dict[str, Any]) -> Iterator[Pair]:
    p = Pair(str(oracle_python()), sys.executable)
    p.start()
    assert p.original.hello['version'] == '0.0.69', p.original.hello
    assert p.ours.hello['file'].startswith(str(__import__('oracle').REPO)), (
        f'ours must be this checkout, not {p.ours.hello["file"]}')
    yield p
    p.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not STATS['examples']:
        return
    tr = terminalreporter
    tr.write_sep('-', 'differential suite')
    tr.write_line(f'scenarios sent to both implementations: {STATS["examples"]}, equal after normalization: '
                  f'{STATS["equal"]}, explained by a documented or pending difference: '
                  f'{STATS["examples"] - STATS["equal"]} '
                  f'(oracle set-up {STATS["oracle_install_s"]:.1f} s, '
                  f'suite {time.monotonic() - STATS["started"]:.1f} s)')
    for what, n in sorted(STATS['generated'].items()):
        tr.write_line(f'  generated {what}: {n}')
    for kind in ('fired', 'explained'):
        for did, n in sorted(STATS[kind].items()):
            tr.write_line(f'  {kind:9} {did}: {n}')
