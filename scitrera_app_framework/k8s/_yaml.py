"""Reading Kubernetes manifests: :func:`parse_yaml` (files or text, safe loading only) and :class:`YAMLParseError`."""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from ..exceptions import SAFError


class YAMLParseError(SAFError, ValueError):
    """Raised by :func:`parse_yaml` for malformed or unsafe YAML; names the source and the line."""

    def __init__(self, source: str, line: Optional[int], column: Optional[int], problem: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.problem = problem
        where = source if line is None else f'{source}, line {line}, column {column}'
        super().__init__(f'invalid YAML in {where}: {problem}')


def parse_yaml(path_or_text: Union[str, bytes, os.PathLike[str]]) -> Any:
    """Parse YAML from a file path or from YAML text, with ``yaml.safe_load_all`` only.

    A ``str`` without a newline that names an existing file is read as a path; ``os.PathLike`` is always a path;
    anything else is YAML text. Empty documents are dropped.

    Returns the single document, a list when there are several documents, or None when there are none.
    Raises FileNotFoundError for a path-like argument (or a one-line string ending in ``.yaml``/``.yml``) that
    does not exist, and :class:`YAMLParseError` (a ``ValueError``) naming the file (or ``<text>``), line and
    column for malformed YAML or tags that safe loading refuses, such as ``!!python/object``.
    """
    import yaml

    source, text = _source_and_text(path_or_text)
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
        problem = getattr(exc, 'problem', None) or str(exc)
        context = getattr(exc, 'context', None)
        if context:
            problem = f'{problem} ({context})'
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise YAMLParseError(source, line, column, problem) from exc

    if not docs:
        return None
    return docs[0] if len(docs) == 1 else docs


def _source_and_text(path_or_text: Union[str, bytes, os.PathLike[str]]) -> tuple[str, str]:
    """Return ``(source name, YAML text)`` for :func:`parse_yaml`'s argument (see there for the rules)."""
    if isinstance(path_or_text, os.PathLike):
        source = os.fspath(path_or_text)
        return source, _read_text_file(source)
    if isinstance(path_or_text, bytes):
        return '<text>', path_or_text.decode('utf-8')
    if isinstance(path_or_text, str):
        candidate = path_or_text.strip()
        if '\n' not in path_or_text and candidate and os.path.isfile(candidate):
            return candidate, _read_text_file(candidate)
        if '\n' not in path_or_text and candidate.lower().endswith(('.yaml', '.yml')):
            raise FileNotFoundError(f'YAML file not found: {candidate}')
        return '<text>', path_or_text
    raise TypeError(f'parse_yaml() expects a path or YAML text, not {type(path_or_text).__name__}')


def _read_text_file(path: str) -> str:
    with open(path, encoding='utf-8') as fh:
        return fh.read()
