"""Adapter over ``os.environ``'s internals: fast, live reads of the process environment.

``os.environ`` is a mapping over an internal dict of encoded keys and values; reading that dict directly, with
the encoded upper-case key cached per name and the decoded value cached per raw value, is several times cheaper
than ``os.environ.get`` and still sees every change made through ``os.environ`` (``os.environ[k] = x``,
``pop``, ``update``, ``monkeypatch.setenv``, ``mock.patch.dict``). Replacing the ``os.environ`` object itself
is not supported (nor seen by the standard library's own ``os.getenv`` users). Where ``os.environ`` has no such
internals (``FAST`` is False) the plain ``os.environ.get`` is used. ``tests/util/test_environ_adapter.py`` fails
loudly when an interpreter changes them.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

ENV = os.environ
DATA: Optional[dict[Any, Any]] = getattr(ENV, '_data', None)
ENCODE: Optional[Callable[[str], Any]] = getattr(ENV, 'encodekey', None)
DECODE: Optional[Callable[[Any], str]] = getattr(ENV, 'decodevalue', None)
DECODE_KEY: Optional[Callable[[Any], str]] = getattr(ENV, 'decodekey', None)
FAST = isinstance(DATA, dict) and ENCODE is not None and DECODE is not None
GET: Callable[[Any], Any] = DATA.get if FAST else (lambda k: os.environ.get(k))  # type: ignore[union-attr]
NO_KEY = ('saf: not an environment name',)  # hashable, never present in the environment
KEYS: dict[Any, Any] = {}  # name -> encoded upper-case key
VALUES: dict[Any, str] = {}  # raw environment value -> decoded str
CACHE_MAX = 65536  # names and values cached; past it the oldest quarter goes (never a full clear)


def _trim(cache: dict[Any, Any]) -> None:
    """Drop the oldest quarter of ``cache`` (dicts keep insertion order), in place, rebuilding its table.

    Deleting the oldest entry one at a time (``del d[next(iter(d))]``) leaves a deleted slot at the front of the
    dict's entry table each time, and every later ``next(iter(d))`` walks over all of them until the dict is next
    resized: past the bound every new name cost ~100x more. Rebuilding the newest three quarters into a cleared
    dict costs O(CACHE_MAX) once per CACHE_MAX/4 new names: a flat few entries' worth per name.
    """
    try:
        keep = list(cache.items())[len(cache) // 4:]
    except RuntimeError:  # changed by another thread meanwhile: trim next time
        return
    cache.clear()  # (a reader in another thread meanwhile misses and recomputes: correct, just slower once)
    cache.update(keep)


def encoded_key(key: Any) -> Any:
    """Return (and cache) the key under which ``key.upper()`` is stored in the environment."""
    if len(KEYS) >= CACHE_MAX:
        _trim(KEYS)
    if key.__class__ is not str or not key or key[:2] == '=|':
        ek: Any = NO_KEY
    else:
        try:
            ek = ENCODE(key.upper()) if FAST else key.upper()  # type: ignore[misc]
        except (UnicodeError, ValueError):
            ek = NO_KEY
    KEYS[key] = ek
    return ek


def decode(raw: Any) -> str:
    """The str of a raw environment value (cached)."""
    if raw.__class__ is str:
        return raw
    if len(VALUES) >= CACHE_MAX:
        _trim(VALUES)
    val = VALUES[raw] = DECODE(raw)  # type: ignore[misc]
    return val


def env_get(key: str) -> Optional[str]:
    """Return the environment value of ``key.upper()`` or None."""
    raw = GET(KEYS.get(key) or encoded_key(key))
    if raw is None:
        return None
    return VALUES.get(raw) or decode(raw)


__all__ = ['FAST', 'DATA', 'DECODE_KEY', 'GET', 'KEYS', 'VALUES', 'NO_KEY', 'CACHE_MAX', 'encoded_key', 'decode',
           'env_get']
