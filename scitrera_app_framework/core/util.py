"""Configuration file sources for :class:`Variables` (``.env`` files via python-dotenv)."""

from __future__ import annotations

import os
from typing import Optional, Union

from ..api.variables import Variables
from .defaults import get_variables


class ConfigFileError(ValueError):
    """A configuration file cannot be parsed; the message names the file and the line."""

    def __init__(self, path: str, line: Optional[int], problem: str) -> None:
        self.path, self.line = path, line
        where = f'{path}:{line}' if line is not None else path
        super().__init__(f'{where}: {problem}')


def read_env_file(path: Union[str, os.PathLike]) -> dict[str, Optional[str]]:
    """Parse a ``.env`` file with python-dotenv and return its values (variables are expanded).

    Raises:
        ImportError: python-dotenv is not installed (names the ``dotenv`` extra).
        FileNotFoundError: the file does not exist.
        ConfigFileError: a line cannot be parsed (names the file and the line).
    """
    try:
        from dotenv import dotenv_values
        from dotenv.parser import parse_stream
    except ImportError as e:
        raise ImportError("reading .env files needs python-dotenv: pip install 'scitrera-app-framework[dotenv]'") from e
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise FileNotFoundError(f'.env file not found: {os.path.abspath(p)!r}')
    with open(p, encoding='utf-8') as f:
        for binding in parse_stream(f):
            if binding.error:
                text = binding.original.string.strip()
                raise ConfigFileError(p, binding.original.line,
                                      f'cannot parse {text[:60]!r}; expected KEY=value (quote values with spaces)')
    return dict(dotenv_values(p))


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
