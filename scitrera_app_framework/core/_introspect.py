"""Introspection of the plugin registry: :func:`describe_plugins` and the dependency graph."""

from __future__ import annotations

from typing import Any, Optional

from ..api.variables import Variables
from ._registry import PluginState, get_registry


def describe_plugins(v: Optional[Variables] = None) -> list[dict[str, Any]]:
    """Return one dict per registered plugin, in registration order.

    Keys: ``name``, ``extension_point``, ``multi`` (``is_multi_extension``, asked at registration),
    ``enabled`` (the last answer of ``is_enabled``), ``eager``, ``state`` (registered / initializing /
    initialized / failed / shutting down / shut down; a contributor skipped under the failure policy ``skip`` is
    ``failed``), ``dependencies`` (declared),
    ``observed_dependencies`` (points its ``initialize`` asked for), ``init_ms`` (None until initialized),
    ``error`` (the last initialization error, as text) and ``source``.
    """
    reg = get_registry(v)
    with reg.locked():
        recs = reg.records()
        return [{
            'name': r.name, 'extension_point': r.point, 'multi': r.multi, 'enabled': r.enabled, 'eager': r.eager,
            'state': r.state.value, 'dependencies': list(r.deps), 'observed_dependencies': sorted(r.observed),
            'init_ms': round(r.init_ms, 3) if r.init_ms is not None and r.state is not PluginState.REGISTERED
            else None,
            'error': f'{type(r.error).__name__}: {r.error}' if r.error is not None else None, 'source': r.source,
        } for r in recs]


class PluginGraph:
    """The dependency graph between extension points: ``nodes`` (point -> plugin names) and ``edges``."""

    def __init__(self, nodes: dict[str, list[str]], edges: list[tuple[str, str]]) -> None:
        self.nodes = nodes
        self.edges = edges  # (dependent point, dependency point)

    def to_dot(self) -> str:
        """Render the graph as Graphviz DOT text (an edge points from a plugin to what it depends on)."""
        lines = ['digraph plugins {', '  rankdir=LR;']
        for point, names in self.nodes.items():
            label = point + ('\\n' + '\\n'.join(n for n in names if n != point) if any(n != point for n in names)
                             else '')
            lines.append(f'  "{_dot_escape(point)}" [label="{_dot_escape(label, keep_nl=True)}"];')
        for a, b in self.edges:
            lines.append(f'  "{_dot_escape(a)}" -> "{_dot_escape(b)}";')
        lines.append('}')
        return '\n'.join(lines) + '\n'

    def __repr__(self) -> str:
        return f'<PluginGraph nodes={len(self.nodes)} edges={len(self.edges)}>'


def _dot_escape(s: str, keep_nl: bool = False) -> str:
    s = s.replace('\\', '\\\\') if not keep_nl else s.replace('\\', '\\\\').replace('\\\\n', '\\n')
    return s.replace('"', '\\"')


def plugin_graph(v: Optional[Variables] = None) -> PluginGraph:
    """Return the dependency graph of the registered plugins (see :class:`PluginGraph`): declared
    dependencies and those observed while plugins initialized."""
    reg = get_registry(v)
    with reg.locked():
        recs = reg.records()
        observed = {id(r): sorted(r.observed) for r in recs}
    nodes: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for r in recs:
        nodes.setdefault(r.point, []).append(r.name)
        for d in (*r.deps, *observed[id(r)]):
            nodes.setdefault(d, [])
            if (r.point, d) not in edges:
                edges.append((r.point, d))
    return PluginGraph(nodes, edges)
