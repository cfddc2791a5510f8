"""Field types of typed settings: the :class:`Secret` wrapper, the type function built for each annotation, and
the readable name of each annotation (``list[int]``, ``Optional[Path]``, ``Secret[str]``).

A type function here raises :class:`InvalidValue` (a ``ValueError``) whose message says what is wrong and what
was expected, and never repeats the value: the caller quotes the value itself, masked and bounded.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import os
import pathlib
import sys
import types
from collections.abc import Mapping
from typing import Annotated, Any, Callable, Generic, Literal, TypeVar, Union, get_args, get_origin

from .exceptions import SAFError
from .util.parsing import parse_bool_strict
from .util.secrets import MASK, bounded_repr

T = TypeVar('T')
TypeFn = Callable[[Any], Any]

_NONE_TYPE = type(None)
_UNION_TYPES: tuple[Any, ...] = (Union, types.UnionType) if sys.version_info >= (3, 10) else (Union,)
_SEQ_KINDS: dict[Any, type] = {list: list, tuple: tuple, set: set, frozenset: frozenset}


class InvalidValue(SAFError, ValueError):
    """A value cannot be converted to a field's type; the message says why, without quoting the value.

    Raise it from a custom field type's constructor to have its message shown in the :class:`SettingsError`
    (any other exception shows only its type name: its message may quote the value).
    """


class Secret(Generic[T]):
    """A value that must not be printed: ``repr`` is ``Secret('****')`` and ``str`` is ``****``; :meth:`get`
    returns the value.

    Settings fields annotated ``Secret[str]`` (or ``Secret[int]``...) hold one; their variable names are marked
    secret (:func:`~scitrera_app_framework.util.secrets.mark_secret_key`) so every framework printer masks them.
    Two secrets are equal when their values are; ``bool()`` is the value's truth.
    """

    __slots__ = ('_value',)

    def __init__(self, value: T) -> None:
        self._value = value

    def get(self) -> T:
        """Return the secret value."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return bool(self._value == other._value)

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


# ----------------------------------------------------------------------------------------------------------------------
# annotations


def strip_annotated(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """Return ``(type, metadata)``: ``Annotated[int, 'help']`` gives ``(int, ('help',))``, anything else
    ``(tp, ())``."""
    if get_origin(tp) is Annotated:
        args = get_args(tp)
        inner, meta = strip_annotated(args[0])
        return inner, tuple(args[1:]) + meta
    return tp, ()


def split_optional(tp: Any) -> tuple[Any, bool]:
    """Return ``(type without None, True)`` for ``Optional[X]`` / ``Union[X, None]`` / ``X | None``, else
    ``(tp, False)``."""
    tp = strip_annotated(tp)[0]
    if get_origin(tp) in _UNION_TYPES:
        args = get_args(tp)
        rest = tuple(a for a in args if a is not _NONE_TYPE)
        if len(rest) < len(args):
            return (rest[0] if len(rest) == 1 else Union[rest]), True
    return tp, False


def secret_inner(tp: Any) -> Any:
    """For ``Secret[X]`` (or a bare ``Secret``) return ``X`` (``str``); for anything else return None."""
    tp = strip_annotated(tp)[0]
    if tp is Secret:
        return str
    if get_origin(tp) is Secret:
        return get_args(tp)[0]
    return None


def type_name(tp: Any) -> str:
    """A short readable name of an annotation: ``int``, ``list[str]``, ``Optional[Path]``, ``Secret[str]``."""
    tp = strip_annotated(tp)[0]
    if tp is _NONE_TYPE or tp is None:
        return 'None'
    if tp is Any:
        return 'Any'
    if tp is Ellipsis:
        return '...'
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in _UNION_TYPES:
        rest = [a for a in args if a is not _NONE_TYPE]
        inner = type_name(rest[0]) if len(rest) == 1 else f"Union[{', '.join(type_name(a) for a in rest)}]"
        return f'Optional[{inner}]' if len(rest) < len(args) else inner
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        base = getattr(origin, '__name__', None) or str(origin)
        return f"{base}[{', '.join(type_name(a) for a in args)}]" if args else base
    if isinstance(tp, type):
        return tp.__name__
    return str(tp)


# ----------------------------------------------------------------------------------------------------------------------
# type functions


def _named(fn: TypeFn, name: str) -> TypeFn:
    """Give a type function the readable name of its type (shown where variables are described)."""
    fn.__name__ = fn.__qualname__ = name
    return fn


def _to_str(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('utf-8', 'replace')
    if isinstance(value, (list, tuple, set, frozenset, Mapping)):
        raise InvalidValue(f'expected a string, got a {type(value).__name__}')
    if isinstance(value, os.PathLike):
        text = os.fspath(value)
        return text if isinstance(text, str) else text.decode('utf-8', 'replace')
    return str(value)


def _to_int(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise InvalidValue('expected a whole number, got a boolean')
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise InvalidValue('expected a whole number, got a fraction')
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidValue('expected a whole number')


def _to_float(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool):
        raise InvalidValue('expected a number, got a boolean')
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (str, bytes, bytearray)):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise InvalidValue('expected a number')


def _to_bool(value: Any) -> bool:
    try:
        return parse_bool_strict(value)
    except (ValueError, TypeError):
        raise InvalidValue('expected a boolean: one of 1/true/t/yes/y/on or 0/false/f/no/n/off') from None


def _to_path(value: Any) -> pathlib.Path:
    if isinstance(value, pathlib.Path):
        return value
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return pathlib.Path(text)
        raise InvalidValue('expected a path, got an empty value')
    raise InvalidValue(f'expected a path, got a {type(value).__name__}')


def _to_timedelta(value: Any) -> _dt.timedelta:
    if isinstance(value, _dt.timedelta):
        return value
    if isinstance(value, bool):
        raise InvalidValue('expected a number of seconds, got a boolean')
    seconds: Any = value
    if isinstance(value, (str, bytes, bytearray)):
        try:
            seconds = float(value.strip())
        except ValueError:
            raise InvalidValue('expected a number of seconds') from None
    if not isinstance(seconds, (int, float)) or seconds != seconds or seconds in (float('inf'), float('-inf')):
        raise InvalidValue('expected a finite number of seconds')
    try:
        return _dt.timedelta(seconds=seconds)
    except OverflowError:
        raise InvalidValue('number of seconds out of range') from None


def _enum_fn(cls: type[enum.Enum]) -> TypeFn:
    members = list(cls)
    by_name = {m.name.lower(): m for m in members}
    by_text = {str(m.value).lower(): m for m in members}
    choices = ', '.join(str(m.value) for m in members[:20]) + (', ...' if len(members) > 20 else '')

    def conv(value: Any) -> enum.Enum:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except (ValueError, TypeError):
            pass
        if isinstance(value, str):
            key = value.strip().lower()
            hit = by_text.get(key) or by_name.get(key)
            if hit is not None:
                return hit
        raise InvalidValue(f'expected one of: {choices} (a value or a name of {cls.__name__})')

    return conv


def _literal_fn(choices: tuple[Any, ...]) -> TypeFn:
    texts = {str(c): c for c in choices}
    shown = ', '.join(repr(c) for c in choices)

    def conv(value: Any) -> Any:
        for c in choices:
            if value == c and type(value) is type(c):
                return c
        if isinstance(value, str) and value.strip() in texts:
            return texts[value.strip()]
        raise InvalidValue(f'expected one of: {shown}')

    return conv


def _items(value: Any) -> list[Any]:
    """The items of a list value: a list/tuple/set as it is, a JSON list text, or a comma-separated string."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode('utf-8', 'replace')
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith('['):
            try:
                parsed = json.loads(text)
            except ValueError as e:
                raise InvalidValue(f'starts with "[" but is not a JSON list ({getattr(e, "msg", e)})') from None
            if not isinstance(parsed, list):
                raise InvalidValue('expected a JSON list')
            return parsed
        return [p.strip() for p in text.split(',') if p.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise InvalidValue(f'expected a list or a comma-separated string, got a {type(value).__name__}')


def _seq_fn(kind: type, item_fn: TypeFn) -> TypeFn:
    def conv(value: Any) -> Any:
        out = []
        for i, item in enumerate(_items(value)):
            try:
                out.append(item_fn(item))
            except InvalidValue as e:
                raise InvalidValue(f'item {i + 1}: {e}') from None
        try:
            return out if kind is list else kind(out)
        except TypeError as e:  # unhashable items in a set
            raise InvalidValue(f'cannot make a {kind.__name__}: {e}') from None

    return conv


def _fixed_tuple_fn(item_fns: list[TypeFn]) -> TypeFn:
    def conv(value: Any) -> tuple[Any, ...]:
        items = _items(value)
        if len(items) != len(item_fns):
            raise InvalidValue(f'expected {len(item_fns)} items, got {len(items)}')
        out = []
        for i, (fn, item) in enumerate(zip(item_fns, items)):
            try:
                out.append(fn(item))
            except InvalidValue as e:
                raise InvalidValue(f'item {i + 1}: {e}') from None
        return tuple(out)

    return conv


def _dict_fn(key_fn: TypeFn, val_fn: TypeFn) -> TypeFn:
    def conv(value: Any) -> dict[Any, Any]:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode('utf-8', 'replace')
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return {}
            try:
                value = json.loads(text)
            except ValueError as e:
                raise InvalidValue(f'expected a JSON object, got text that is not JSON ({getattr(e, "msg", e)})') \
                    from None
        if not isinstance(value, Mapping):
            raise InvalidValue(f'expected a mapping or a JSON object, got a {type(value).__name__}')
        out = {}
        for k, item in value.items():
            try:
                key = key_fn(k)
            except InvalidValue as e:
                raise InvalidValue(f'key {bounded_repr(k, 60)}: {e}') from None
            try:
                out[key] = val_fn(item)
            except InvalidValue as e:
                raise InvalidValue(f'key {bounded_repr(k, 60)}: {e}') from None
        return out

    return conv


def _union_fn(fns: list[TypeFn], names: list[str]) -> TypeFn:
    def conv(value: Any) -> Any:
        for fn in fns:
            try:
                return fn(value)
            except (InvalidValue, ValueError, TypeError):
                continue
        raise InvalidValue(f"expected {' or '.join(names)}")

    return conv


def _optional_fn(inner: TypeFn) -> TypeFn:
    def conv(value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return inner(value)

    return conv


def _secret_fn(inner: TypeFn) -> TypeFn:
    def conv(value: Any) -> Secret[Any]:
        return Secret(inner(value.get() if isinstance(value, Secret) else value))

    return conv


def _unwrap_secret_fn(inner: TypeFn) -> TypeFn:
    def conv(value: Any) -> Any:
        return inner(value.get() if isinstance(value, Secret) else value)

    return conv


def _class_fn(cls: type) -> TypeFn:
    def conv(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except InvalidValue:
            raise
        except Exception as e:
            raise InvalidValue(f'cannot make a {cls.__name__}: {type(e).__name__}') from None

    return conv


def _passthrough(value: Any) -> Any:
    return value


def _passthrough_object(value: object) -> object:
    return value


_SIMPLE: dict[Any, TypeFn] = {
    str: _to_str, int: _to_int, float: _to_float, bool: _to_bool, pathlib.Path: _to_path,
    _dt.timedelta: _to_timedelta, Any: _passthrough, object: _passthrough_object,
}
for _tp, _fn in _SIMPLE.items():  # named once after their type (they are shared by every field of that type)
    _named(_fn, type_name(_tp))
_SHARED = frozenset(_SIMPLE.values())


def type_fn(tp: Any, where: str, unwrap_secret: bool = False) -> TypeFn:
    """Build the type function of annotation ``tp`` (named after the type).

    With ``unwrap_secret`` a top-level ``Secret[X]`` gives X's function (accepting a ``Secret`` too): the
    variable holds the plain value and the settings object wraps it.

    Raises:
        TypeError: for an annotation no type function can be built for, naming ``where`` (the field).
    """
    fn = _build(tp, where, unwrap_secret)
    return fn if fn in _SHARED else _named(fn, type_name(tp))


def _build(tp: Any, where: str, unwrap_secret: bool = False) -> TypeFn:
    tp = strip_annotated(tp)[0]
    simple = _SIMPLE.get(tp) if _hashable(tp) else None
    if simple is not None:
        return simple
    inner, optional = split_optional(tp)
    if optional:
        return _optional_fn(_build(inner, where, unwrap_secret))
    secret = secret_inner(tp)
    if secret is not None:
        base = _build(secret, where)
        return _unwrap_secret_fn(base) if unwrap_secret else _secret_fn(base)
    origin, args = get_origin(tp), get_args(tp)
    if origin in _UNION_TYPES:
        return _union_fn([_build(a, where) for a in args], [type_name(a) for a in args])
    if origin is Literal:
        return _literal_fn(args)
    if tp in _SEQ_KINDS or origin in _SEQ_KINDS:
        kind = _SEQ_KINDS[origin or tp]
        if kind is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return _fixed_tuple_fn([_build(a, where) for a in args])
        return _seq_fn(kind, _build(args[0], where) if args else _to_str)
    if tp is dict or origin is dict or tp is Mapping or origin is Mapping:
        key_fn = _build(args[0], where) if args else _to_str
        val_fn = _build(args[1], where) if len(args) > 1 else _passthrough
        return _dict_fn(key_fn, val_fn)
    if origin is None and isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_fn(tp)
    if origin is None and isinstance(tp, type):
        return _class_fn(tp)
    raise TypeError(f'{where}: no type function for the annotation {type_name(tp)}; use str, int, float, bool, '
                    f'Optional[...], list/tuple/set/dict[...], Path, an Enum, timedelta, Secret[...], a Settings '
                    f'class, or a class that takes the value as its one argument')


def _hashable(tp: Any) -> bool:
    try:
        hash(tp)
    except TypeError:
        return False
    return True


__all__ = ['Secret', 'InvalidValue', 'TypeFn', 'type_fn', 'type_name', 'strip_annotated', 'split_optional',
           'secret_inner']
