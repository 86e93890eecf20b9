"""Graph -> torch.fx.GraphModule.

Each layer's spec `apply` runs once on fx proxies, which records its ops into an fx.Graph;
`GraphModule` then generates plain Python (`gm.code`), so a forward pass costs exactly what
the hand-written module would. Submodules are named after the nodes ("Conv 1" -> conv_1).
"""
from __future__ import annotations

import re

from .analysis import analyze, errors
from .blocks import BLOCK, PORT_IN, PORT_OUT, SEP
from .generic_layers import hold_learned_tensors
from .graph import Graph
from .registry import identifier
from .shapes import ShapeInference, output_of, topo_order


class CompileError(ValueError):
    def __init__(self, problems):
        self.problems = problems
        lines = "\n".join(f"  - {p.message}" for p in problems)
        super().__init__(f"the graph has {len(problems)} error(s):\n{lines}")


def module_names(graph: Graph) -> dict[str, str]:
    """node id -> unique Python identifier, in node order (stable for a given graph)."""
    used: set[str] = set()
    out = {}
    for node in graph.nodes.values():
        base = node.name if _verbatim(node) else identifier(node.name)
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        out[node.id] = name
    return out


_MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _verbatim(node) -> bool:
    """Whether a node's name is its module's name as written: a number (`layer1.0.conv1`,
    as nn.Sequential names its children) or a name a model could have given it (an
    import's `Mixed_5b`, `AuxLogits`, RegNet's `block1-0`); a layer's default name ("Linear",
    "Conv2d 1") and other names become lower-case identifiers (linear, conv2d_1)."""
    name = node.name
    if name.isdigit():
        return len(name) < 10
    plain = name.replace("-", "_")
    return name != node.type and bool(_MODULE_NAME.fullmatch(name)) \
        and identifier(plain) == plain.lower()


def class_name_for(name: str) -> str:
    """'basic block' -> 'BasicBlock': the class of a definition's compiled module."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    out = "".join(w[:1].upper() + w[1:] for w in words) or "Block"
    return out if out[0].isalpha() else "Block" + out


def compile_graph(graph: Graph, inference: ShapeInference | None = None,
                  class_name: str = "Network", seed: int | None = None):
    """The graph as a GraphModule. A block instance is a submodule (a GraphModule of its
    definition's class), a repeat an nn.Sequential of copies, so the state_dict keys nest
    as in hand-written PyTorch (`layer1.0.conv1.weight`)."""
    import torch

    own = inference is None
    if own:
        inference = ShapeInference(graph)
    try:
        problems = errors(analyze(graph, inference))
        if problems:
            raise CompileError(problems)
        infos = inference.update()
        if seed is not None:
            torch.manual_seed(seed)
        return _build(graph, infos, class_name)
    finally:
        if own:
            inference.close()


def _build(graph: Graph, infos: dict, class_name: str):
    import torch
    import torch.fx as fx

    names = module_names(graph)
    order, _ = topo_order(graph)
    into: dict[str, dict[str, tuple[str, str]]] = {nid: {} for nid in graph.nodes}
    for e in graph.edges:
        into[e.dst][e.dst_port] = (e.src, e.src_port)

    fxg = fx.Graph()
    tracer = fx.proxy.GraphAppendingTracer(fxg)
    modules: dict[str, torch.nn.Module] = {}
    values: dict[str, fx.Proxy] = {}
    # Inputs (a definition's input ports) first, in node order, so forward(...)'s arguments
    # are predictable.
    entry = PORT_IN if graph.is_definition else "Input"
    inputs = [n for n in graph.nodes.values() if n.type == entry]
    for n in inputs:
        values[n.id] = fx.Proxy(fxg.placeholder(names[n.id]), tracer)
    for nid in order:
        node = graph.nodes[nid]
        spec = node.spec
        if node.type == entry:
            continue
        wires = [into[nid][p] for p in node.input_ports()]
        # a block with several outputs gives a tuple, in the order of its output ports
        xs = [values[s][graph.nodes[s].output_ports().index(port)] if port != "out"
              else values[s] for s, port in wires]
        if node.type == BLOCK:
            module = _instance(graph, node, infos[nid])
        else:
            shapes = [(1, *output_of(infos[s], port).shape[1:]) for s, port in wires]
            module = spec.build(node.params, shapes) if spec.build else None
        call = None
        if module is not None:
            qual = names[nid]
            modules[qual] = module
            call = (lambda q: lambda *a, **k: tracer.create_proxy("call_module", q, a, k)
                    )(qual)
        values[nid] = spec.apply(call, xs, node.params)
    exit_ = PORT_OUT if graph.is_definition else "Output"
    outs = [values[n.id] for n in graph.nodes.values() if n.type == exit_]
    result = outs[0] if len(outs) == 1 else tuple(outs)
    fxg.output(fx.node.map_aggregate(result, lambda v: v.node if isinstance(v, fx.Proxy)
                                     else v))
    gm = fx.GraphModule(modules, fxg, class_name=class_name)
    hold_learned_tensors(gm)
    gm.node_modules = {nid: names[nid] for nid in graph.nodes if names[nid] in modules}
    gm.input_names = [names[n.id] for n in inputs]
    # node id -> the fx node holding its output (an Identity shares its input's): lets a
    # step-through read every node's value, not only the modules'
    gm.node_values = {nid: v.node.name for nid, v in values.items() if isinstance(v, fx.Proxy)}
    return gm


def _instance(graph: Graph, node, info):
    """One block instance: its definition compiled per copy with that copy's shapes."""
    import torch

    definition = graph.blocks[node.params["block"]]
    cls = class_name_for(node.params["block"])
    copies = [_build(definition, inner, cls) for inner in info.inner]
    for c in copies:
        c.block_name = node.params["block"]  # which definition (model.py writes its class)
    if len(copies) == 1:
        return copies[0]
    return torch.nn.Sequential(*copies)


def layer_places(model, graph: Graph, prefix: str = "", blocks: bool = False) -> dict:
    """place -> (Node, qualified module name) for every layer with a module of a compiled
    graph, looking inside block instances. A place is a node id, and inside an instance
    "instance id/copy/inner id" (nested blocks add levels); the qualified name is the
    state_dict prefix (`layer1.0.conv1`). With `blocks`, each block instance is a place
    too (its whole module), after the places inside it, as its forward hook fires.
    Carry-over, probes and an editor showing an opened block use it."""
    import torch

    out = {}
    for nid, qual in getattr(model, "node_modules", {}).items():
        node = graph.nodes[nid]
        if node.type != BLOCK:
            out[prefix + nid] = (node, qual)
            continue
        module = model.get_submodule(qual)
        definition = graph.blocks[node.params["block"]]
        seq = isinstance(module, torch.nn.Sequential)
        for k, sub in enumerate(module if seq else [module]):
            dotted = f"{qual}.{k}." if seq else f"{qual}."
            inner = layer_places(sub, definition, f"{prefix}{nid}/{k}/", blocks)
            for place, (n, q) in inner.items():
                out[place] = (n, dotted + q)
        if blocks:
            out[prefix + nid] = (node, qual)
    return out


def place_label(graph: Graph, place: str) -> str:
    """"layer2 › 0 › conv1" for the place "instance/copy/inner" (as in analysis messages
    and the summary: a copy's number only when the instance repeats)."""
    parts = place.split("/")
    names = []
    for i in range(0, len(parts), 2):
        node = graph.nodes[parts[i]]
        names.append(node.name)
        if i + 1 < len(parts):
            if node.params["repeat"] > 1:
                names.append(parts[i + 1])
            graph = graph.blocks[node.params["block"]]
    return SEP.join(names)
