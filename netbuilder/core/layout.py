"""Automatic layered layout, left to right (longest-path layering + barycentre ordering).

Long networks are wrapped into bands read like lines of text, so a 40-layer chain fits a
screen instead of becoming a thin strip.
"""
from __future__ import annotations

from .graph import Graph
from .shapes import topo_order

import math

DX, DY = 290.0, 130.0
BAND_GAP = 90.0


def auto_layout(graph: Graph, wrap: bool = True) -> dict[str, tuple[float, float]]:
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
    # A wire that skips columns gets a placeholder in each column it crosses, so the
    # ordering keeps a free lane for it (a skip connection stays visible).
    for e in graph.edges:
        if e.src in layer and e.dst in layer:
            prev = e.src
            for col in range(layer[e.src] + 1, layer[e.dst]):
                virtual = f"\0{e.src}>{e.dst_port}>{e.dst}@{col}"
                columns[col].append(virtual)
                preds[virtual] = [prev]
                prev = virtual
    rank: dict[str, float] = {}
    rows: dict[str, float] = {}
    for col in sorted(columns):
        ids = columns[col]
        # Order each column by the mean row of its predecessors to reduce crossings.
        ids.sort(key=lambda n: sum(rank[p] for p in preds[n] if p in rank)
                 / max(1, sum(1 for p in preds[n] if p in rank)))
        for row, nid in enumerate(ids):
            rank[nid] = row
            rows[nid] = row - (len(ids) - 1) / 2
    n_cols = len(columns)
    tallest = max((len(c) for c in columns.values()), default=1)
    # Aim for a roughly 16:9 picture: columns per band grows with the square root.
    per_band = n_cols
    band_h = tallest * DY + BAND_GAP
    if wrap and n_cols > 5:
        # the smallest band count whose picture is no wider than about 2:1
        bands = 1
        while math.ceil(n_cols / bands) * DX > 2.0 * bands * band_h:
            bands += 1
        per_band = math.ceil(n_cols / bands)
    pos = {}
    for nid in order:
        col = layer[nid]
        band, x = divmod(col, per_band)
        pos[nid] = (x * DX, band * band_h + rows[nid] * DY)
    return pos


def apply_layout(graph: Graph) -> None:
    for nid, p in auto_layout(graph).items():
        graph.move(nid, p)
