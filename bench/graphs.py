"""Graphs built through the public Graph API, shared by the benchmarks."""
from __future__ import annotations

from netbuilder.core.graph import Graph, Node

BLOCK = ("Linear", "ReLU", "Linear", "Add", "LayerNorm")


def residual_mlp(n_nodes: int = 2000, width: int = 64, distinct_widths: bool = False
                 ) -> Graph:
    """Input([width]) -> residual blocks -> Output, exactly `n_nodes` nodes.

    A block is x -> Linear(hidden) -> ReLU -> Linear(width) -> Add(·, x) -> LayerNorm.
    When the node budget runs out mid-block the last block is cut short (any prefix of a
    block is a valid graph: it only feeds the Output). With `distinct_widths` the hidden
    Linear of block k gets width + 1 + k features, so the Linear, ReLU, Linear of each block
    miss the shape cache (only the Add and LayerNorm, whose inputs are the same in every
    block, can be served from it).
    """
    if n_nodes < 3:
        raise ValueError("need at least Input, one layer and Output")
    g = Graph()
    prev = g.add_node("Input", params={"shape": [width]})
    left = n_nodes - 2  # everything between Input and Output
    k = 0
    while left > 0:
        block_in = prev
        hidden = width + 1 + k if distinct_widths else width
        take = min(left, len(BLOCK))
        for t in BLOCK[:take]:
            if t == "Linear":
                out = hidden if prev is block_in else width
                node = g.add_node("Linear", params={"out_features": out})
            else:
                node = g.add_node(t)
            g.connect(prev.id, node.id)
            if t == "Add":
                g.connect(block_in.id, node.id)
            prev = node
        left -= take
        k += 1
    out = g.add_node("Output")
    g.connect(prev.id, out.id)
    assert len(g.nodes) == n_nodes, len(g.nodes)
    return g


def middle(graph: Graph, type_name: str, nth_of_block: int = 0) -> Node:
    """A node of `type_name` near the middle of the graph (insertion order).

    For Linear, nth_of_block 0 is the block's first (hidden) Linear, 1 the second."""
    nodes = graph.nodes_of_type(type_name)
    if type_name == "Linear":
        nodes = nodes[nth_of_block::2]
    return nodes[len(nodes) // 2]


def blocked_mlp(n_layers: int = 10_000, width: int = 64, per_block: int = 10,
                repeat: int = 10) -> Graph:
    """The same residual MLP as `residual_mlp`, `n_layers` layers in all, built from blocks:
    one definition of `per_block` layers (two residual units), instances that repeat it
    `repeat` times, chained at the top level (n_layers / (per_block * repeat) instances)."""
    g = Graph()
    d = g.blocks.define("Unit")
    prev = d.add_node("BlockInput", "in")
    for u in range(per_block // len(BLOCK)):
        unit_in = prev
        for i, t in enumerate(BLOCK):
            node = d.add_node(t, f"{t.lower()}{u}_{i}",
                              {"out_features": width} if t == "Linear" else None)
            d.connect(prev.id, node.id)
            if t == "Add":
                d.connect(unit_in.id, node.id)
            prev = node
    d.connect(prev.id, d.add_node("BlockOutput", "out").id)
    prev = g.add_node("Input", params={"shape": [width]})
    for k in range(n_layers // (per_block * repeat)):
        node = g.add_node("Block", f"stage{k}", {"block": "Unit", "repeat": repeat})
        g.connect(prev.id, node.id)
        prev = node
    head = g.add_node("Linear", "head", {"out_features": width})
    g.connect(prev.id, head.id)
    g.connect(head.id, g.add_node("Output").id)
    return g
