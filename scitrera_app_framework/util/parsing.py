"""Parsers for configuration values: booleans (the original's lenient one and a strict one), comma-separated
lists, integers."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from .secrets import bounded_repr

_TRUE = frozenset(('1', 'true', 't', 'yes', 'y', 'on'))
_FALSE = frozenset(('0', 'false', 'f', 'no', 'n', 'off', ''))


def ext_parse_bool(value: Any) -> bool:
    """Read a configuration value as a boolean the way the original 0.0.69 did; never raises.

    A bool is returned as it is; an empty or false-like value (None, ``''``, 0, an empty container) is False.
    Anything else is read as text (bytes decoded, whitespace stripped, case ignored): ``on`` is True and
    ``off`` False (the original read ``on`` as False: a documented difference); otherwise the text is True
    when it contains ``1``, ``t`` or ``y`` (``true``, ``yes``, ``1``, ``y``, but also ``'not'`` and
    ``'yes please'``), else False (``false``, ``no``, ``0``, ``'enabled'``, ``2``).

    Apps feed it whatever their configuration chain returns. For settings where a typo must be an error use
    :func:`parse_bool_strict` (the framework's own switches and typed settings do).
    """
    if value is True or value is False:
        return value
    try:
        if not value:
            return False
    except Exception:  # an object whose truth value cannot be taken: read its text
        pass
    if isinstance(value, (bytes, bytearray)):
        value = value.decode('utf-8', 'replace')
    try:
        s = str(value).strip().lower()
    except Exception:
        return True  # a value that is there but has no text: present, so true (the original raised here)
    if s == 'on':
        return True
    if s == 'off':
        return False
    return '1' in s or 't' in s or 'y' in s


def parse_bool_strict(value: Any) -> bool:
    """Parse a configuration value as a boolean, refusing anything that is not clearly one.

    Returns ``value`` unchanged when it is a bool; ``None`` is False. Strings are compared case- and
    space-insensitively: ``1/true/t/yes/y/on`` are True and ``0/false/f/no/n/off`` and the empty string are
    False. Integers 0 and 1 are accepted.

    Raises:
        ValueError: for anything else, naming the value.
    """
    if value is True or value is False:
        return value
    if value is None:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, (bytes, bytearray)):
        value = value.decode('utf-8', 'replace')
    if isinstance(value, str):
        s = value.strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
    raise ValueError(
        f'cannot parse {bounded_repr(value)} as a boolean; use one of 1/true/t/yes/y/on or 0/false/f/no/n/off'
    )


def ext_parse_csv(value: Any) -> list[str]:
    """Split a comma-separated string into a list of stripped, non-empty items; never raises (as the original).

    A falsy value (``None``, ``''``, ``0``, ``False``, an empty list) gives ``[]``. A list, tuple, set or
    frozenset gives its truthy items as stripped strings (the original split a tuple's repr); bytes are decoded.
    Any other value is split as its ``str()`` (``5`` gives ``['5']``, as in the original). Items that are blank
    after stripping are dropped (the original kept ``''`` for ``'a, ,b'``).
    """
    if isinstance(value, (bytes, bytearray)):
        value = value.decode('utf-8', 'replace')
    try:
        if not value:
            return []
    except Exception:  # an object whose truth value is undefined (e.g. an array): split its text below
        pass
    items: Iterable[Any]
    if isinstance(value, str):
        items = value.split(',')
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = [x for x in value if x]
    else:
        items = str(value).split(',')
    return [s for s in (str(x).strip() for x in items) if s]


def ext_parse_csv_set(value: Any) -> set[str]:
    """Like :func:`ext_parse_csv` but returns a set."""
    return set(ext_parse_csv(value))


def ext_parse_int(value: Any, name: Optional[str] = None) -> int:
    """Parse an integer, raising a ValueError that names the variable (when given) and the value."""
    if isinstance(value, bool):
        raise ValueError(f'{name or "value"}: expected an integer, got boolean {value!r}')
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        where = f'{name}: ' if name else ''
        raise ValueError(f'{where}cannot parse {bounded_repr(value)} as an integer') from None


def int_in_range(minimum: int, maximum: Optional[int] = None, what: str = '') -> Callable[[Any], int]:
    """Return a type function parsing a whole number in ``[minimum, maximum]`` (no upper bound when None).

    Its ValueError says the range, ``what`` the number means (e.g. ``'worker threads, e.g. 4'``) and the value
    (bounded); :class:`~scitrera_app_framework.Variables` adds the variable's name.
    """
    span = f'from {minimum} to {maximum}' if maximum is not None else f'>= {minimum}'
    hint = f' ({what})' if what else ''

    def parse(value: Any) -> int:
        n: Optional[int]
        if isinstance(value, bool):
            n = None
        elif isinstance(value, int):
            n = value
        else:
            try:
                n = int(str(value).strip())
            except (TypeError, ValueError):
                n = None
        if n is None or n < minimum or (maximum is not None and n > maximum):
            raise ValueError(f'expected a whole number {span}{hint}, got {bounded_repr(value)}')
        return n

    return parse


def seconds_at_least(minimum: float = 0.0, what: str = '') -> Callable[[Any], float]:
    """Return a type function parsing a finite number of seconds >= ``minimum`` (its ValueError says what)."""
    hint = f' ({what})' if what else ''

    def parse(value: Any) -> float:
        try:
            t = float(value) if not isinstance(value, bool) else float('nan')
        except (TypeError, ValueError):
            t = float('nan')
        if not (t >= minimum) or t == float('inf'):
            raise ValueError(f'expected a number of seconds >= {minimum:g}{hint}, got {bounded_repr(value)}')
        return t

    return parse


def parse_seconds(value: Any, name: str, *, zero_ok: bool = False, maximum: Optional[float] = None, hint: str = '',
                  error: type[Exception] = ValueError) -> float:
    """Parse the value of the variable ``name`` as a number of seconds: > 0 (``zero_ok``: >= 0), at most
    ``maximum`` when one is given.

    Raises:
        ValueError (or ``error``): naming the variable and the value: ``NAME must be a number of seconds > 0, got
            'x'``; with a ``maximum``: ``NAME='x' is not a number of seconds from 0 to 1,000,000; set it to
            <hint>, or unset it``.
    """
    try:
        t = float(value)
    except (TypeError, ValueError):
        t = float('nan')
    if (t >= 0 if zero_ok else t > 0) and (maximum is None or t <= maximum):
        return t
    low = 'from 0' if zero_ok else 'above 0'
    if maximum is None:
        raise error(f'{name} must be a number of seconds {">=" if zero_ok else ">"} 0, got {value!r}')
    raise error(f'{name}={str(value)[:100]!r} is not a number of seconds {low} to {maximum:,}; set it to {hint}, or '
                f'unset it')


__all__ = ['ext_parse_bool', 'parse_bool_strict', 'ext_parse_csv', 'ext_parse_csv_set', 'ext_parse_int', 'int_in_range',
           'seconds_at_least', 'parse_seconds']
