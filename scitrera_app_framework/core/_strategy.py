"""Loading configured implementations: :func:`load_strategy` (a type and its keyword arguments from
``<PREFIX>_*`` variables) and :func:`load_object` (the object a variable names). :mod:`.core` re-exports both.
"""

from __future__ import annotations

from typing import Any, Optional

from ..api.constants import NOT_SET
from ..api.variables import Variables
from ..util.imports import ext_get_python, get_python_type_by_name
from .defaults import get_variables
from .logs import get_logger


def load_strategy(v: Optional[Variables], parent_type: Optional[type], prefix: str = 'STRATEGY',
                  drop_prefix: bool = True) -> tuple[Optional[type], dict[str, Any]]:
    """Load a configured implementation: ``(type, kwargs)``.

    The type is named (a dotted path) by ``<PREFIX>_TYPE`` and checked against ``parent_type``; every other
    ``<PREFIX>_*`` variable is a keyword argument, lower-cased, prefix dropped (``STRATEGY_MAX_SIZE=3`` gives
    ``max_size='3'``). No ``<PREFIX>_TYPE`` gives ``(None, kwargs)``; a type that cannot be imported or is not
    a ``parent_type`` is logged as an error (naming the variable and value) and gives ``(None, kwargs)``.
    """
    v = get_variables(v)
    found = v.get_by_prefix(prefix, drop_prefix=True)
    type_name = found.pop('type', None)
    kwargs = found if drop_prefix else {f'{prefix}_{k}'.lower(): val for k, val in found.items()}
    if type_name in (None, ''):
        return None, kwargs
    try:
        if isinstance(type_name, type):
            cls = type_name
            if parent_type is not None and not issubclass(cls, parent_type):
                raise TypeError(f'{cls!r} is not a subclass of {parent_type.__qualname__}')
        elif parent_type is not None:
            cls = get_python_type_by_name(str(type_name), parent_type)
        else:
            cls = ext_get_python(str(type_name))
    except (ImportError, AttributeError, TypeError, ValueError) as e:
        get_logger(v).error('%s_TYPE=%r cannot be used: %s: %s; using no %s', prefix, type_name,
                            type(e).__name__, e, prefix.lower())
        return None, kwargs
    return cls, kwargs


def load_object(v: Optional[Variables], key: str, default: Any = NOT_SET, parent_type: Optional[type] = None) -> Any:
    """Resolve the Python object named by variable ``key`` (a dotted path), or its ``default``.

    A value that is not a string (e.g. a class given as default) is returned as is (checked against
    ``parent_type``).

    Raises:
        ValueError: the variable is unset and has no default, or names nothing importable / of the wrong type
            (the message names the variable and its value).
    """
    v = get_variables(v)
    value = v.environ(key, default=default) if default is not NOT_SET else v.get(key)
    if value in (None, ''):
        raise ValueError(f'{key} is not set: set it to a dotted Python path like "package.module.Name"')
    try:
        if parent_type is not None:
            return get_python_type_by_name(value, parent_type)
        return ext_get_python(value) if isinstance(value, str) else value
    except (ImportError, AttributeError, TypeError, ValueError) as e:
        raise ValueError(f'{key}={value!r} is not usable: {e}') from e


__all__ = ['load_strategy', 'load_object']
