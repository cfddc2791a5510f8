"""Configuration file sources for :class:`Variables` (``.env`` files)."""

from __future__ import annotations

import os
from typing import Optional, Union

from ..api.variables import Variables
from ..util.config_files import ConfigFileError
from ..util.config_files import read_env_file as _read_env_file
from .defaults import get_variables

__all__ = ['ConfigFileError', 'read_env_file', 'add_env_file_source']


def read_env_file(path: Union[str, os.PathLike]) -> dict[str, Optional[str]]:
    """Read a ``.env`` file once and return its values, ``${NAME}`` expanded from the file's earlier values and
    the process environment (python-dotenv's results; see :mod:`scitrera_app_framework.util.config_files`).

    Raises:
        FileNotFoundError: the file does not exist.
        ConfigFileError: not UTF-8, or a line cannot be parsed (names the file and the line; a secret value is
            never quoted).
        ImportError: the file needs python-dotenv's parser (quoted values, escapes) and it is not installed.
    """
    return _read_env_file(path)


def add_env_file_source(path: Union[str, os.PathLike] = '.env', v: Optional[Variables] = None,
                        missing_ok: bool = False) -> dict[str, Optional[str]]:
    """Read a ``.env`` file and add its values as an extra source of ``v`` (below local values); return them.

    The process environment is not modified. With ``missing_ok=True`` a missing file adds nothing.

    Raises:
        ImportError: python-dotenv is missing (install the ``dotenv`` extra).
        FileNotFoundError: the file does not exist (unless ``missing_ok``).
        ConfigFileError: a malformed line (names file and line).
    """
    v = get_variables(v)
    try:
        values = read_env_file(path)
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise
    v.add_source(values)
    return values
