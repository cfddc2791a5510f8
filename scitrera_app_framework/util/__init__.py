"""Utilities with no dependency on the rest of the framework: parsing, imports, misc."""

from __future__ import annotations

from .imports import ext_get_python, find_types_in_modules, get_python_type_by_name, import_modules, path_for_module
from .misc import is_secret_key, mask_value, no_op, now_ms
from .parsing import ext_parse_bool, ext_parse_csv, ext_parse_csv_set, ext_parse_int, parse_bool_strict

__all__ = [
    'ext_parse_bool', 'parse_bool_strict', 'ext_parse_csv', 'ext_parse_csv_set', 'ext_parse_int', 'ext_get_python',
    'get_python_type_by_name', 'find_types_in_modules', 'import_modules', 'path_for_module', 'now_ms', 'no_op',
    'is_secret_key', 'mask_value',
]
