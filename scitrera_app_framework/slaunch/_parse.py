"""Manifest text to data: JSON and YAML (PyYAML's safe loader only), bounded, duplicate keys rejected, and the
:class:`Marks` (line of every key) that later schema errors point at. Errors are :class:`ManifestError` naming
the source and the line.

Bounds (a manifest may come from a URL, so it is untrusted input): at most :data:`MAX_DEPTH` levels of nesting,
at most :data:`MAX_ALIASES` YAML aliases, and at most :data:`MAX_NODES` values once aliases are expanded (an
"alias bomb" of a few hundred bytes would otherwise expand to billions of values). The checks run on PyYAML's
node graph before anything is built from it, in time linear in the size of the text.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional, Set, Tuple, cast

from ._marks import KeyPath, Marks, format_path
from .errors import ManifestError

MAX_DEPTH = 64
MAX_ALIASES = 1000
MAX_NODES = 200_000


def parse_json(text: str, origin: str) -> Any:
    """Return the data of JSON ``text``; raises :class:`ManifestError` (line, column) for invalid JSON, a
    duplicate key or nesting deeper than :data:`MAX_DEPTH`."""
    def _pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out

    try:
        data = json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise ManifestError(f'invalid JSON: {exc.msg}', source=origin, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        line = _second_json_key_line(text, exc.key)
        raise ManifestError(f'duplicate key {exc.key!r}; each key may appear once per object (the later one '
                            'would silently win)', source=origin, line=line) from None
    except RecursionError:
        raise _depth_error(origin, None) from None
    _check_data_depth(data, origin)
    return data


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


def _depth_error(origin: str, line: Optional[int], key_path: Optional[str] = None) -> ManifestError:
    return ManifestError(f'nested more than {MAX_DEPTH} levels deep; flatten the structure', source=origin,
                         line=line, key_path=key_path)


def _check_data_depth(data: Any, origin: str) -> None:
    stack: List[Tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise _depth_error(origin, None)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _bounded_loader(text: str, origin: Optional[str]) -> Any:
    """Return a PyYAML safe loader for ``text`` that refuses deep nesting and too many aliases while composing."""
    import yaml

    class _BoundedLoader(yaml.SafeLoader):
        depth = 0
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_ALIASES:
                    mark = cast(Any, self).peek_event().start_mark
                    raise ManifestError(f'more than {MAX_ALIASES} YAML aliases; write the values out or use fewer '
                                        'anchors', source=origin, line=mark.line + 1)
                return super().compose_node(parent, index)
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise _depth_error(origin or '<yaml>', cast(Any, self).peek_event().start_mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return _BoundedLoader(text)


def parse_yaml(text: str, origin: str) -> Tuple[Any, Marks]:
    """Return the data of YAML ``text`` (one document, safe loader, bounded) and its :class:`Marks`.

    Raises :class:`ManifestError` (line, column) for invalid YAML, unsafe tags, a duplicate key, nesting deeper
    than :data:`MAX_DEPTH`, more than :data:`MAX_ALIASES` aliases or more than :data:`MAX_NODES` values after
    alias expansion.
    """
    import yaml

    try:
        loader = _bounded_loader(text, origin)  # the reader refuses control characters (NUL) right here
    except yaml.reader.ReaderError as exc:
        line = text.count('\n', 0, max(exc.position, 0)) + 1
        column = exc.position - (text.rfind('\n', 0, max(exc.position, 0)) + 1) + 1
        raise ManifestError(f'invalid YAML: character {exc.character!r} is not allowed in YAML (a control character; '
                            'a file left full of NUL bytes by a crash?); rewrite the file', source=origin, line=line,
                            column=column) from None
    marks = Marks()
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, origin)
            _walk_node(node, (), marks, origin)
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
    except RecursionError:  # pragma: no cover - the depth bound comes first
        raise _depth_error(origin, None) from None
    finally:
        loader.dispose()
    return data, marks


def _children(node: Any) -> List[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: Any, origin: str) -> None:
    """Refuse a node graph that expands to more than :data:`MAX_NODES` values or contains a recursive alias.

    Sizes are computed once per node (aliases share nodes), iteratively, so this is linear in the text.
    """
    size: Dict[int, int] = {}
    on_stack: Set[int] = set()
    stack: List[Tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_stack.discard(key)
            size[key] = min(1 + sum(size[id(child)] for child in _children(node)), MAX_NODES + 1)
            continue
        if key in size:
            continue
        if key in on_stack:
            raise ManifestError('a YAML alias refers to the mapping or list that contains it (a recursive '
                                'alias); write the value out', source=origin, line=node.start_mark.line + 1)
        on_stack.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)
    if size[id(root)] <= MAX_NODES:
        return
    line, path = root.start_mark.line + 1, ''
    import yaml

    if isinstance(root, yaml.MappingNode) and root.value:
        key_node, value_node = max(root.value, key=lambda pair: size[id(pair[1])])
        line = key_node.start_mark.line + 1
        path = format_path((key_node.value,)) if isinstance(key_node, yaml.ScalarNode) else ''
    raise ManifestError(f'expands to more than {MAX_NODES} values through YAML aliases (an alias bomb?); write '
                        'the values out or remove the aliases', source=origin, line=line, key_path=path or None)


def json_marks(text: str) -> Marks:
    """Marks for JSON text, read with the (bounded) YAML composer (JSON is nearly a YAML subset); empty on failure."""
    marks = Marks()
    try:
        loader = _bounded_loader(text, None)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is not None:
            _check_expansion(node, '<json>')
            _walk_node(node, (), marks, None)
    except Exception:  # noqa: BLE001 - purely cosmetic; errors are still reported, only without a line
        return Marks()
    return marks


def _walk_node(root: Any, path: KeyPath, marks: Marks, origin: Optional[str]) -> None:
    """Record the line of every key / item below ``root``; raise on duplicate keys when ``origin`` is given.

    Iterative (no recursion limit); an aliased node is walked once per place it appears, which
    :func:`_check_expansion` has bounded.
    """
    import yaml

    stack: List[Tuple[Any, KeyPath]] = [(root, path)]
    while stack:
        node, here = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            marks.raw[here] = node.value
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
                                        key_path=format_path(here) or None)
                seen[ident] = line
                child = here + (key_node.value,)
                marks.lines.setdefault(child, line)
                stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = here + (index,)
                marks.lines.setdefault(child, item.start_mark.line + 1)
                stack.append((item, child))
