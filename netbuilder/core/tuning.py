"""Fine-tuning settings of a graph: frozen parts and learning-rate multipliers.

Every node has `frozen` and `lr_mult` (graph.Node). On a Block instance they apply to every
layer inside it, so one switch freezes a whole backbone block; a layer inside a definition
can be frozen too (in every instance). The effective setting of a layer combines the levels
from the top graph down: frozen when any level is frozen, multiplier the product.

    effective_tuning(model, graph)  -> {module name: Tuning}   (compiled model, any depth)
    parameter_split(graph)          -> (trainable, frozen) parameter counts, no compiling
    split_counts(graph, infos)      -> the same from shape-inference results at hand
    resolve_names(graph, names)     -> the nodes `--freeze NAME,...` means
    upstream(graph, node_id)        -> "everything before this node"
    find_head(graph)                -> the final classifier ("fit the head to the data")

No torch at import time and no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

from .blocks import BLOCK
from .graph import Graph, GraphError


@dataclass(frozen=True)
class Tuning:
    frozen: bool = False
    lr_mult: float = 1.0

    def below(self, node) -> "Tuning":
        """This level's setting combined with the node's own."""
        return Tuning(self.frozen or node.frozen, self.lr_mult * node.lr_mult)


TOP = Tuning()


def _place_tuning(graph: Graph, place: str) -> Tuning:
    """The effective setting at a layer place of compiler.layer_places: "id" at the top,
    "instance id/copy/inner id" inside a block (nested blocks add levels)."""
    parts = place.split("/")
    here, g = TOP, graph
    for nid in parts[::2]:
        node = g.nodes[nid]
        here = here.below(node)
        if node.type == BLOCK:
            g = g.blocks[node.params["block"]]
    return here


def effective_tuning(model, graph: Graph) -> dict:
    """qualified module name -> Tuning, for every layer with a module of a compiled graph
    (blocks looked into, so the names are the state_dict prefixes)."""
    from .compiler import layer_places

    return {qual: _place_tuning(graph, place)
            for place, (_, qual) in layer_places(model, graph).items()}


def parameter_tuning(model, graph: Graph) -> dict:
    """parameter name (state_dict key) -> Tuning, for every parameter of a compiled graph."""
    out = {}
    for qual, tuning in effective_tuning(model, graph).items():
        for name, _ in model.get_submodule(qual).named_parameters(prefix=qual):
            out[name] = tuning
    return out


def has_tuning(graph: Graph) -> bool:
    """True when any node, in the graph or a block definition, is frozen or has a
    multiplier."""
    graphs = [graph, *(graph.blocks[d] for d in graph.blocks)]
    return any(n.frozen or n.lr_mult != 1.0 for g in graphs for n in g.nodes.values())


def split_counts(graph: Graph, infos: dict, above: Tuning = TOP) -> tuple[int, int]:
    """(trainable, frozen) parameters from shape-inference infos (ShapeInference.update()),
    looking into block instances: no compiling, no second inference."""
    trainable = frozen = 0
    for nid, node in graph.nodes.items():
        info = infos.get(nid)
        if info is None:
            continue
        here = above.below(node)
        if node.type == BLOCK and info.inner and node.params.get("block") in graph.blocks:
            definition = graph.blocks[node.params["block"]]
            for inner in info.inner:
                a, b = split_counts(definition, inner, here)
                trainable, frozen = trainable + a, frozen + b
        elif here.frozen:
            frozen += info.params
        else:
            trainable += info.params
    return trainable, frozen


def parameter_split(graph: Graph) -> tuple[int, int]:
    """(trainable, frozen) parameter counts over every layer, blocks included."""
    from .shapes import ShapeInference

    si = ShapeInference(graph)
    try:
        return split_counts(graph, si.update())
    finally:
        si.close()


def resolve_names(graph: Graph, names) -> list[tuple[Graph, str]]:
    """(graph holding it, node id) for each name of `--freeze`: a node of the top graph, a
    block definition (every instance of it), or a node inside a definition. Raises
    GraphError naming what is not found."""
    found: list[tuple[Graph, str]] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        top = [n.id for n in graph.nodes.values() if n.name == name]
        if top:
            found.extend((graph, nid) for nid in top)
            continue
        if name in graph.blocks:
            for holder, node in graph.blocks.instances(name):
                found.append((graph if holder is None else graph.blocks[holder], node.id))
            continue
        inner = [(graph.blocks[d], n.id) for d in graph.blocks
                 for n in graph.blocks[d].nodes.values() if n.name == name]
        if not inner:
            known = ", ".join(sorted({n.name for n in graph.nodes.values()
                                      if n.type not in ("Input", "Output")})[:12])
            raise GraphError(f"--freeze {name!r}: no node or block of that name (nodes: "
                             f"{known}{' ...' if len(graph.nodes) > 14 else ''})")
        found.extend(inner)
    return found


def freeze_names(graph: Graph, names) -> int:
    """Freeze what `names` names (see resolve_names); returns how many nodes."""
    targets = resolve_names(graph, names)
    for g, nid in targets:
        g.set_tuning(nid, frozen=True)
    return len(targets)


def upstream(graph: Graph, node_id: str) -> list[str]:
    """Every node that feeds `node_id`, directly or not (not the node itself), in node
    order: what "freeze everything before this node" freezes."""
    graph.node(node_id)
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        for e in graph.in_edges(stack.pop()):
            if e.src not in seen:
                seen.add(e.src)
                stack.append(e.src)
    return [nid for nid in graph.nodes if nid in seen]


# Layers a classifier's logits pass through unchanged in width after its last Linear.
_WIDTH_KEEPING = {"Softmax", "LogSoftmax", "Sigmoid", "Dropout", "Identity", "ReLU", "Tanh",
                  "GELU", "Flatten"}


def find_head(graph: Graph):
    """The final classifier: the Linear that feeds the Output node, through width-keeping
    layers only (softmax, dropout ...). Raises GraphError saying why when there is none."""
    outs = graph.nodes_of_type("Output")
    if len(outs) != 1:
        raise GraphError(f"fitting the head needs exactly one Output node (found "
                         f"{len(outs)})")
    cur = outs[0]
    while True:
        edges = graph.in_edges(cur.id)
        if len(edges) != 1:
            raise GraphError(f"{cur.name} is not fed by a single wire; no final classifier "
                             f"to fit")
        src = graph.node(edges[0].src)
        if src.type == "Linear":
            return src
        if src.type not in _WIDTH_KEEPING:
            raise GraphError(f"the Output is fed by {src.name} ({src.type}), not by a Linear "
                             f"layer; fitting the head changes the last Linear's "
                             f"out_features")
        cur = src
