"""Automatic layered layout, left to right (longest-path layering + barycentre ordering)."""
from __future__ import annotations

from .graph import Graph
from .shapes import topo_order

DX, DY = 240.0, 130.0


def auto_layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """Positions for every node; cycles (if any) are placed after the acyclic part."""
    order, stuck = topo_order(graph)
    order = order + [n for n in graph.nodes if n in stuck]
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for e in graph.edges:
        preds[e.dst].append(e.src)
    layer: dict[str, int] = {}
    for nid in order:
        layer[nid] = 1 + max((layer[p] for p in preds[nid] if p in layer), default=-1)
    columns: dict[int, list[str]] = {}
    for nid in order:
        columns.setdefault(layer[nid], []).append(nid)
    rank: dict[str, float] = {}
    pos = {}
    for col in sorted(columns):
        ids = columns[col]
        # Order each column by the mean row of its predecessors to reduce crossings.
        ids.sort(key=lambda n: sum(rank[p] for p in preds[n] if p in rank)
                 / max(1, sum(1 for p in preds[n] if p in rank)))
        for row, nid in enumerate(ids):
            rank[nid] = row
            pos[nid] = (col * DX, (row - (len(ids) - 1) / 2) * DY)
    return pos


def apply_layout(graph: Graph) -> None:
    for nid, p in auto_layout(graph).items():
        graph.move(nid, p)
