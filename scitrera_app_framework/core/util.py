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
                        required: bool = False, missing_ok: Optional[bool] = None) -> dict[str, Optional[str]]:
    """Read a ``.env`` file and add its values as an extra source of ``v`` (below local values); return them.

    The process environment is not modified. A missing file is ignored with a warning naming it, as the
    original does; ``required=True`` makes it an error (``missing_ok`` is the older spelling of
    ``not required``).

    Raises:
        FileNotFoundError: the file does not exist and ``required`` is true.
        ConfigFileError: not UTF-8, or a malformed line (names file and line; secrets never quoted).
        ImportError: the file needs python-dotenv's parser and python-dotenv is missing (the ``dotenv`` extra).
    """
    if missing_ok is not None:
        required = not missing_ok
    v = get_variables(v)
    try:
        values = read_env_file(path)
    except FileNotFoundError:
        if required:
            raise
        from .logs import get_logger
        get_logger(v).warning('.env file %s not found: ignored (pass required=True to make this an error)',
                              os.path.abspath(os.fspath(path)))
        return {}
    v.add_source(values)
    return values
