"""The scheduler side of the ``dask`` job backend: the claims that make a unique job id unique across the cluster.

The client runs these functions with ``Client.run_on_scheduler``, in the scheduler's event loop, so each call is
atomic: one claim at a time per id. A claim holds while its task is queued or running on the scheduler, or, before
the task got there, for ``ttl`` seconds (:data:`CLAIM_TTL` by default: a submitter that died in between leaves a
claim that expires). The claims live in the scheduler's process, per scheduler id.
"""

from __future__ import annotations

import time
from typing import Any

#: seconds a unique-job claim holds without its task reaching the scheduler (a submitter that died in between)
CLAIM_TTL = 60.0

_DONE_STATES = frozenset(('memory', 'erred', 'forgotten'))  # task states of a finished job


class Claim:
    """One unique job id's claim: the claimer's ``token``, the ``task_key`` its job runs under, when it was
    claimed (``time.monotonic()``) and whether its task was ever ``seen`` on the scheduler."""

    __slots__ = ('token', 'task_key', 'claimed_at', 'seen')

    def __init__(self, token: str, task_key: str, claimed_at: float) -> None:
        self.token = token
        self.task_key = task_key
        self.claimed_at = claimed_at
        self.seen = False

    def active(self, scheduler: Any, now: float, ttl: float) -> bool:
        """True while the claim holds: its task is queued or running, or not there yet and the claim younger than
        ``ttl`` seconds. Notes that the task was seen (once gone, the claim is over)."""
        ts = scheduler.tasks.get(self.task_key)
        if ts is not None:
            self.seen = True
            return ts.state not in _DONE_STATES
        if self.seen:
            return False  # its task was there and is gone: finished and released
        return bool(now - self.claimed_at < ttl)  # claimed, its task not there yet

    def __repr__(self) -> str:
        return (f'<Claim task={self.task_key!r} claimed_at={self.claimed_at:.3f} '
                f'{"seen" if self.seen else "not seen yet"}>')


_CLAIMS: dict[str, dict[str, Claim]] = {}  # scheduler id -> id key -> its claim


def claim_unique(id_key: str, token: str, task_key: str, ttl: float, dask_scheduler: Any = None) -> bool:
    """Scheduler side: claim ``id_key`` for the task ``task_key``; False while another claim of it is active."""
    claims = _CLAIMS.setdefault(dask_scheduler.id, {})
    now = time.monotonic()
    claim = claims.get(id_key)
    if claim is not None and claim.active(dask_scheduler, now, ttl):
        return False
    if len(claims) > 10_000:  # forget stale claims (their submitters died) now and then
        for k in [k for k, c in claims.items() if not c.active(dask_scheduler, now, ttl)]:
            del claims[k]
    claims[id_key] = Claim(token, task_key, now)
    return True


def release_unique(id_key: str, token: str, dask_scheduler: Any = None) -> None:
    """Scheduler side: drop the claim of ``id_key`` if it is still ``token``'s."""
    claims = _CLAIMS.get(dask_scheduler.id)
    if claims is not None:
        claim = claims.get(id_key)
        if claim is not None and claim.token == token:
            del claims[id_key]


def release_unique_many(claims: list[tuple[str, str]], dask_scheduler: Any = None) -> None:
    """Scheduler side: :func:`release_unique` for each ``(id key, token)``."""
    for id_key, token in claims:
        release_unique(id_key, token, dask_scheduler=dask_scheduler)


def unique_active(id_key: str, ttl: float, dask_scheduler: Any = None) -> bool:
    """Scheduler side: True when a job claimed ``id_key`` and is queued or running."""
    claim = _CLAIMS.get(dask_scheduler.id, {}).get(id_key)
    return claim is not None and claim.active(dask_scheduler, time.monotonic(), ttl)


__all__ = ['CLAIM_TTL', 'Claim', 'claim_unique', 'release_unique', 'release_unique_many', 'unique_active']
