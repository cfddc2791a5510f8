"""Manifest text to data: JSON and YAML (PyYAML's safe loader only), duplicate keys rejected, and the
:class:`Marks` (line of every key) that later schema errors point at. Errors are :class:`ManifestError` naming
the source and the line."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Optional, Tuple

from ._marks import KeyPath, Marks, format_path
from .errors import ManifestError


def parse_json(text: str, origin: str) -> Any:
    """Return the data of JSON ``text``; raises :class:`ManifestError` (line, column) for invalid JSON or a
    duplicate key."""
    def _pairs(pairs: list) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise ManifestError(f'invalid JSON: {exc.msg}', source=origin, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        line = _second_json_key_line(text, exc.key)
        raise ManifestError(f'duplicate key {exc.key!r}; each key may appear once per object (the later one '
                            'would silently win)', source=origin, line=line) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _second_json_key_line(text: str, key: str) -> Optional[int]:
    pattern = re.compile(re.escape(json.dumps(key)) + r'\s*:')
    matches = list(pattern.finditer(text))
    if len(matches) < 2:
        return None
    return text.count('\n', 0, matches[1].start()) + 1


def parse_yaml(text: str, origin: str) -> Tuple[Any, Marks]:
    """Return the data of YAML ``text`` (one document, safe loader) and its :class:`Marks`.

    Raises :class:`ManifestError` (line, column) for invalid YAML, unsafe tags or a duplicate key.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    marks = Marks()
    try:
        node = loader.get_single_node()
        if node is not None:
            _walk_node(node, (), marks, origin, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or 'unparsable'
        if exc.context and exc.problem:
            problem = f'{exc.problem} ({exc.context})'
        raise ManifestError(f'invalid YAML: {problem}', source=origin,
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f'invalid YAML: {exc}', source=origin) from None
    finally:
        loader.dispose()
    return data, marks


def json_marks(text: str) -> Marks:
    """Marks for JSON text, read with the YAML composer (JSON is nearly a YAML subset); empty on failure."""
    marks = Marks()
    try:
        import yaml

        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is not None:
            _walk_node(node, (), marks, None, set())
    except Exception:  # noqa: BLE001 - purely cosmetic; errors are still reported, only without a line
        return Marks()
    return marks


def _walk_node(node: Any, path: KeyPath, marks: Marks, origin: Optional[str], active: set) -> None:
    """Record the line of every key / item below ``node``; raise on duplicate keys when ``origin`` is given."""
    import yaml

    if id(node) in active or len(path) > 50:  # recursive alias or absurd nesting: stop recording
        return
    active.add(id(node))
    try:
        if isinstance(node, yaml.ScalarNode):
            marks.raw[path] = node.value
        elif isinstance(node, yaml.MappingNode):
            seen: Dict[Tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key_node.value)
                if ident in seen and origin is not None:
                    raise ManifestError(f'duplicate key {key_node.value!r} (first defined on line {seen[ident]}); '
                                        'each key may appear once per mapping', source=origin, line=line,
                                        key_path=format_path(path) or None)
                seen[ident] = line
                child = path + (key_node.value,)
                marks.lines.setdefault(child, line)
                _walk_node(value_node, child, marks, origin, active)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = path + (index,)
                marks.lines.setdefault(child, item.start_mark.line + 1)
                _walk_node(item, child, marks, origin, active)
    finally:
        active.discard(id(node))
