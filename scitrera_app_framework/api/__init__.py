"""Public types with no side effects: :class:`Variables`, :class:`Plugin` and helpers."""

from __future__ import annotations

from ..util.imports import ext_get_python
from ..util.parsing import ext_parse_bool, ext_parse_csv
from .constants import NO_MATCH, NOT_SET, EnvPlacement, is_epp
from .plugins import Plugin, enabled_option_pattern
from .variables import EnvironProxy, Variables, VariableTypeError

__all__ = [
    'Variables', 'VariableTypeError', 'EnvironProxy', 'Plugin', 'EnvPlacement', 'NOT_SET', 'NO_MATCH', 'is_epp',
    'enabled_option_pattern', 'ext_parse_bool', 'ext_parse_csv', 'ext_get_python',
]
