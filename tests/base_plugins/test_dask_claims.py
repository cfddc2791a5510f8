"""The scheduler side of the ``dask`` backend's unique jobs: the claim of an id, its lifetime and its release.

The functions run in the scheduler's event loop (``Client.run_on_scheduler``), where they read only the scheduler's
``id`` and its ``tasks`` (task key -> task state); a stand-in with those two attributes drives them through every
state here without a cluster. ``test_dask_backend.py`` runs them on a real one.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

from scitrera_app_framework.base_plugins import _dask_backend
from scitrera_app_framework.base_plugins._dask_scheduler import (
    Claim,
    claim_unique,
    release_unique,
    release_unique_many,
    unique_active,
)

TTL = 60.0


def _scheduler(name: str) -> Any:
    return SimpleNamespace(id=f'test-{name}', tasks={})


def test_a_claim_holds_until_its_task_has_come_and_gone() -> None:
    s = _scheduler('lifecycle')
    assert claim_unique('saf-unique-1', 'tok-a', 'saf-unique-1-tok-a', TTL, dask_scheduler=s)
    assert unique_active('saf-unique-1', TTL, dask_scheduler=s)  # claimed, its task not on the scheduler yet
    assert not claim_unique('saf-unique-1', 'tok-b', 'saf-unique-1-tok-b', TTL, dask_scheduler=s)
    s.tasks['saf-unique-1-tok-a'] = SimpleNamespace(state='processing')
    assert unique_active('saf-unique-1', TTL, dask_scheduler=s)
    s.tasks['saf-unique-1-tok-a'] = SimpleNamespace(state='memory')  # finished
    assert not unique_active('saf-unique-1', TTL, dask_scheduler=s)
    del s.tasks['saf-unique-1-tok-a']  # released: a task seen once and gone is over, whatever the TTL
    assert not unique_active('saf-unique-1', TTL, dask_scheduler=s)
    assert claim_unique('saf-unique-1', 'tok-b', 'saf-unique-1-tok-b', TTL, dask_scheduler=s)


def test_a_claim_whose_task_never_arrives_expires_after_the_ttl() -> None:
    s = _scheduler('ttl')
    assert claim_unique('saf-unique-2', 'tok-a', 'saf-unique-2-tok-a', TTL, dask_scheduler=s)
    assert not unique_active('saf-unique-2', 0.0, dask_scheduler=s)  # with no time left it has expired
    assert claim_unique('saf-unique-2', 'tok-b', 'saf-unique-2-tok-b', 0.0, dask_scheduler=s)


def test_only_the_claimer_releases_a_claim() -> None:
    s = _scheduler('release')
    assert claim_unique('saf-unique-3', 'tok-a', 'saf-unique-3-tok-a', TTL, dask_scheduler=s)
    release_unique('saf-unique-3', 'tok-other', dask_scheduler=s)
    assert unique_active('saf-unique-3', TTL, dask_scheduler=s)
    release_unique_many([('saf-unique-3', 'tok-a'), ('saf-unique-never-claimed', 'tok-x')], dask_scheduler=s)
    assert not unique_active('saf-unique-3', TTL, dask_scheduler=s)
    release_unique('saf-unique-3', 'tok-a', dask_scheduler=_scheduler('unknown'))  # a scheduler with no claims


def test_claims_are_kept_per_scheduler() -> None:
    a, b = _scheduler('a'), _scheduler('b')
    assert claim_unique('saf-unique-4', 'tok-a', 'saf-unique-4-tok-a', TTL, dask_scheduler=a)
    assert claim_unique('saf-unique-4', 'tok-b', 'saf-unique-4-tok-b', TTL, dask_scheduler=b)


def test_the_claim_record_names_its_fields() -> None:
    claim = Claim('c0ffee', 'saf-unique-5-key', 12.5)
    assert (claim.token, claim.task_key, claim.claimed_at, claim.seen) == ('c0ffee', 'saf-unique-5-key', 12.5, False)
    assert claim.active(SimpleNamespace(tasks={'saf-unique-5-key': SimpleNamespace(state='waiting')}), 99.0, 1.0)
    assert claim.seen
    assert 'saf-unique-5-key' in repr(claim) and 'c0ffee' not in repr(claim)  # a token is never printed


def test_every_name_stays_importable_from_the_backend_module() -> None:
    """Tests, benchmarks and pickles made before the split name ``_dask_backend``: it re-exports each side."""
    for name in _dask_backend.__all__:
        assert getattr(_dask_backend, name) is not None, name


def test_the_worker_and_scheduler_sides_do_not_load_the_client() -> None:
    """A worker (or the scheduler) unpickles a job function or a claim call by module and name: importing that
    module must not bring the executor (and ``distributed.Client``) along."""
    code = ('import sys\n'
            'import scitrera_app_framework.base_plugins._dask_worker\n'
            'import scitrera_app_framework.base_plugins._dask_scheduler\n'
            'print(sorted(m for m in sys.modules if m.endswith(("_dask_client", "_dask_backend"))))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
