"""The summary table: output shape, parameters and FLOPs per row, blocks expanded to a depth.

At depth 1 each top-level node (a block instance included) is one row; each extra level
replaces the block instances at the cut by the layers inside them (a repeat by each copy's
layers, named `layer1 › 0 › conv1`). `depth=None` expands everything: one row per layer.
Rows always partition the network, so they add up to the totals at any depth.
"""
from __future__ import annotations

from dataclasses import dataclass

from .blocks import BLOCK, PORT_IN, PORT_OUT, SEP
from .graph import Graph
from .shapes import NodeInfo, ShapeInference, outputs_text, topo_order


@dataclass(frozen=True)
class SummaryRow:
    node_id: str  # the top-level node this row belongs to
    name: str  # the place: "layer1 › 0 › conv1"
    type: str  # layer type, or the definition's name for a block instance
    output: str
    params: int
    flops: int
    path: tuple = ()  # node ids from the top-level node down to this row's node
    level: int = 1  # 1 = top level

    @property
    def is_block(self) -> bool:
        return self.type.startswith("block ")


def _ordered(graph: Graph) -> list[str]:
    order, stuck = topo_order(graph)
    return order + [n for n in graph.nodes if n in stuck]


def _rows(graph: Graph, infos: dict, depth: int | None, level: int, prefix: str,
          path: tuple, top_id: str | None) -> list[SummaryRow]:
    out: list[SummaryRow] = []
    for nid in _ordered(graph):
        node = graph.nodes[nid]
        if node.type in (PORT_IN, PORT_OUT):
            continue
        info: NodeInfo = infos.get(nid) or NodeInfo(blocked=True)
        name = f"{prefix}{node.name}"
        here, top = (*path, nid), top_id or nid
        expand = node.type == BLOCK and info.inner and (depth is None or level < depth) \
            and node.params["block"] in graph.blocks
        if expand:
            definition = graph.blocks[node.params["block"]]
            copies = info.inner
            for k, inner in enumerate(copies):
                sub = f"{name}{SEP}{k}{SEP}" if node.params["repeat"] > 1 else f"{name}{SEP}"
                out.extend(_rows(definition, inner, depth, level + 1, sub, here, top))
            continue
        kind = f"block {node.params['block']}" if node.type == BLOCK else node.type
        if node.type == BLOCK and node.params["repeat"] > 1:
            kind += f" ×{node.params['repeat']}"
        shape = outputs_text(info) or "?"  # a block with several outputs: each port's
        out.append(SummaryRow(top, name, kind, shape, info.params, info.flops, here, level))
    return out


def summary_rows(graph: Graph, depth: int | None = 1) -> list[SummaryRow]:
    """Rows in execution order; depth None = every layer."""
    if depth is not None and depth < 1:
        raise ValueError("depth must be at least 1")
    si = ShapeInference(graph)
    try:
        infos = si.update()
    finally:
        si.close()
    return _rows(graph, infos, depth, 1, "", (), None)


def totals(graph: Graph) -> tuple[int, int]:
    """(parameters, FLOPs per sample) over every layer, blocks included."""
    rows = summary_rows(graph, 1)
    return sum(r.params for r in rows), sum(r.flops for r in rows)
