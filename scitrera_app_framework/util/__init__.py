"""Utilities with no dependency on the rest of the framework: parsing, imports, misc.

The names here are the original 0.0.69's; each lives in its own module (``util.parsing``, ``util.imports``,
``util.misc``), where new code may import it from too.
"""

from __future__ import annotations

from .._exports import Exports
from .imports import ext_get_python, find_types_in_modules, get_python_type_by_name, import_modules, path_for_module
from .misc import no_op, now_ms
from .parsing import ext_parse_bool, ext_parse_csv, ext_parse_csv_set

__all__ = [
    'ext_parse_bool', 'ext_parse_csv', 'ext_parse_csv_set', 'ext_get_python', 'get_python_type_by_name',
    'find_types_in_modules', 'import_modules', 'path_for_module', 'now_ms', 'no_op',
]

# added here before 0.1.0: deprecated, with a warning naming the home
_EXPORTS = Exports(__name__, globals(), moved={
    'parse_bool_strict': 'scitrera_app_framework.util.parsing', 'ext_parse_int': 'scitrera_app_framework.util.parsing',
    'is_secret_key': 'scitrera_app_framework.util.secrets', 'mask_value': 'scitrera_app_framework.util.secrets',
})


def __getattr__(name: str) -> object:
    return _EXPORTS.attribute(name)


def __dir__() -> list[str]:
    return _EXPORTS.names()
