"""Lineage as a graph: data → training run → model → deployments, laid out in layers.

The dashboard draws it as an SVG on the server (no script needed): each node is a link to
its page, each layer a column, edges run left to right. The layout is the longest-path
layering of the directed acyclic graph, rows in the order nodes were added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

__all__ = ["Graph", "GraphNode", "dataset_graph", "model_graph"]

#: node size and spacing in SVG user units
WIDTH, HEIGHT, GAP_X, GAP_Y, PAD = 190, 46, 60, 16, 8

KINDS = {
    "dataset": "dataset",
    "holdout": "locked holdout",
    "job": "training run",
    "model": "model",
    "endpoint": "endpoint",
}


#: where a node of each kind links to (its label is the ref or name); runs have no page
PAGES = {
    "dataset": "/ui/datasets/",
    "holdout": "/ui/datasets/",
    "model": "/ui/models/",
    "endpoint": "/ui/endpoints/",
}


@dataclass
class GraphNode:
    key: str
    label: str
    kind: str
    note: str = ""
    focus: bool = False
    x: int = 0
    y: int = 0

    @property
    def href(self) -> str | None:
        page = PAGES.get(self.kind)
        return None if page is None else page + quote(self.label, safe="@")


@dataclass
class Graph:
    """Nodes and edges; :meth:`layout` places them (``width``, ``height``, node ``x``/``y``)."""

    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, style)
    width: int = 0
    height: int = 0

    def add(self, key: str, label: str, kind: str, **kw: Any) -> None:
        if key not in self.nodes:
            self.nodes[key] = GraphNode(key, label, kind, **kw)
        elif kw.get("focus"):
            self.nodes[key].focus = True

    def link(self, a: str, b: str, style: str = "solid") -> None:
        if a in self.nodes and b in self.nodes and (a, b, style) not in self.edges:
            self.edges.append((a, b, style))

    def layout(self) -> Graph:
        layer = {k: 0 for k in self.nodes}
        for _ in range(len(self.nodes)):  # longest path; at most |V| rounds on a DAG
            changed = False
            for a, b, _style in self.edges:
                if layer[b] < layer[a] + 1:
                    layer[b] = layer[a] + 1
                    changed = True
            if not changed:
                break
        # a source (no inputs) sits just before the first node it feeds, not at the far
        # left: the holdout lines up with the training run, its edge needs no detour
        targets = {b for _, b, _ in self.edges}
        for key in self.nodes:
            after = [layer[b] for a, b, _ in self.edges if a == key]
            if key not in targets and after:
                layer[key] = min(after) - 1
        rows: dict[int, int] = {}
        for key, node in self.nodes.items():
            col = layer[key]
            row = rows.get(col, 0)
            rows[col] = row + 1
            node.x = PAD + col * (WIDTH + GAP_X)
            node.y = PAD + row * (HEIGHT + GAP_Y)
        cols = max(layer.values(), default=0) + 1
        self.width = 2 * PAD + cols * WIDTH + (cols - 1) * GAP_X
        self.height = 2 * PAD + max(rows.values(), default=1) * (HEIGHT + GAP_Y) - GAP_Y
        return self

    def paths(self) -> list[dict[str, Any]]:
        """Each edge as an SVG cubic path from the right of one node to the left of the other."""
        out = []
        for a, b, style in self.edges:
            na, nb = self.nodes[a], self.nodes[b]
            x1, y1 = na.x + WIDTH, na.y + HEIGHT // 2
            x2, y2 = nb.x, nb.y + HEIGHT // 2
            mid = (x1 + x2) // 2
            out.append({"d": f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 6},{y2}", "style": style})
        return out


def _ancestors(g: Graph, node: Any) -> None:
    """A dataset version's parents (a ``LineageNode`` tree) into the graph."""
    for parent in node.parents:
        g.add(parent.ref, parent.ref, "dataset", note=parent.transform)
        _ancestors(g, parent)
        g.link(parent.ref, node.ref)


def _deployments(g: Graph, model_ref: str, endpoints: list[Any]) -> None:
    for e in endpoints:
        for r in e.revisions:
            if model_ref in (r.primary, r.candidate):
                now = e.current is not None and model_ref in (
                    e.current.primary,
                    e.current.candidate,
                )
                key = f"endpoint:{e.name}"
                g.add(
                    key,
                    e.name,
                    "endpoint",
                    note=f"at {e.site}" + (", serving now" if now else ", earlier revisions"),
                )
                g.link(model_ref, key, "solid" if now else "dashed")
                break


def model_graph(
    model: Any,
    parents: dict[str, Any],
    endpoints: list[Any],
    holdout: str | None = None,
) -> Graph:
    """A model's lineage: its training data (with their own parents, ``parents`` maps a
    dataset ref to its ``LineageNode``), the training run, the holdout it was validated
    on, the model, and every endpoint that served it (dashed: not any more)."""
    g = Graph()
    for ref in model.datasets:
        g.add(ref, ref, "dataset", note="training data")
        if ref in parents:
            _ancestors(g, parents[ref])
    job = f"job:{model.job_id}" if model.job_id else None
    if job:
        g.add(job, f"run {model.job_id[:12]}", "job", note=f"by {model.created_by}")
    if holdout:
        g.add(holdout, holdout, "holdout", note="validated on")
    g.add(model.ref, model.ref, "model", note=model.stage, focus=True)
    for ref in model.datasets:
        g.link(ref, job or model.ref)
    if job:
        g.link(job, model.ref)
    if holdout:
        g.link(holdout, model.ref, "dashed")
    _deployments(g, model.ref, endpoints)
    return g.layout()


def dataset_graph(lineage: Any, models: list[Any], endpoints: list[Any]) -> Graph:
    """A dataset version's lineage: the versions it was derived from, the version, the
    models trained on it and the endpoints that served them."""
    g = Graph()
    g.add(lineage.ref, lineage.ref, "dataset", note=lineage.transform, focus=True)
    _ancestors(g, lineage)
    for m in models:
        if lineage.ref in m.datasets:
            g.add(m.ref, m.ref, "model", note=m.stage)
            g.link(lineage.ref, m.ref)
            _deployments(g, m.ref, endpoints)
    return g.layout()
