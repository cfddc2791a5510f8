"""Public types with no side effects: :class:`Variables`, :class:`Plugin` and helpers.

The names here are the original 0.0.69's; each lives in its own module (``api.variables``, ``api.plugins``,
``api.constants``, ``util.parsing``, ``util.imports``), where new code may import it from too.
"""

from __future__ import annotations

from .._exports import Exports
from ..util.imports import ext_get_python
from ..util.parsing import ext_parse_bool, ext_parse_csv
from .constants import NO_MATCH, NOT_SET, EnvPlacement, is_epp
from .plugins import Plugin, enabled_option_pattern
from .variables import Variables

__all__ = [
    'Variables', 'Plugin', 'EnvPlacement', 'NOT_SET', 'NO_MATCH', 'is_epp', 'enabled_option_pattern',
    'ext_parse_bool', 'ext_parse_csv', 'ext_get_python',
]

# added here before 0.1.0: deprecated, with a warning naming the home
_EXPORTS = Exports(__name__, globals(), moved={
    'VariableTypeError': 'scitrera_app_framework.api.variables',
    'EnvironProxy': 'scitrera_app_framework.api.variables',
})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
