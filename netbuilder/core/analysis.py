"""Errors and warnings about a graph, tied to node ids and written for a person."""
from __future__ import annotations

from dataclasses import dataclass

from .blocks import BLOCK, PORT_IN, PORT_OUT, SEP
from .graph import Graph, Node
from .shapes import ShapeInference, topo_order

ERROR, WARNING = "error", "warning"

# Losses that apply their own (log-)softmax or sigmoid and so expect raw scores.
LOGIT_LOSSES = {"cross_entropy": "CrossEntropyLoss", "bce_with_logits": "BCEWithLogitsLoss"}
SQUASHING = {"Softmax", "LogSoftmax", "Sigmoid"}
# Layers that neither mix features nor add a non-linearity.
TRANSPARENT = {"Dropout", "Identity", "Flatten", "Reshape"}


@dataclass(frozen=True)
class Problem:
    severity: str
    message: str
    node_id: str | None = None
    code: str = ""
    param: str | None = None
    # Problems inside a block definition: its name (node_id is then a node of that
    # definition). None for the top-level graph.
    block: str | None = None
    # A problem inside a block instance: the instance's id, then (copy index, node id in
    # the definition) per level down to the failing layer.
    path: tuple = ()

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def _label(node: Node) -> str:
    return node.name if node.name == node.type else f"{node.name} ({node.type})"


class _Adjacency:
    def __init__(self, graph: Graph):
        self.succ: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
        self.pred: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
        self.ports: dict[str, set[str]] = {nid: set() for nid in graph.nodes}
        for e in graph.edges:
            self.succ[e.src].append(e.dst)
            self.pred[e.dst].append(e.src)
            self.ports[e.dst].add(e.dst_port)


def analyze(graph: Graph, inference: ShapeInference | None = None, loss: str | None = None
            ) -> list[Problem]:
    """Every problem, errors first, including those inside the block definitions the graph
    uses (messages name the place: "Bottleneck › conv2 (Conv2d): …"). `loss` (a
    training-settings loss name) enables the lints that depend on it."""
    out = _analyze_one(graph, inference, loss)
    if not graph.is_definition:
        for name in graph.blocks.used():
            out.extend(_analyze_definition(graph.blocks, name))
    return sorted(out, key=lambda p: p.severity != ERROR)


def _analyze_definition(library, name: str) -> list[Problem]:
    g = library[name]
    out = []
    for p in _analyze_one(g, None, None):
        out.append(Problem(p.severity, f"{name}{SEP}{p.message}", p.node_id, p.code, p.param,
                           block=name))
    ins = [n for n in g.nodes.values() if n.type == PORT_IN]
    outs = [n for n in g.nodes.values() if n.type == PORT_OUT]
    if not ins:
        out.append(Problem(ERROR, f"Block {name!r} has no BlockInput; add one for each value "
                                  f"it takes.", None, "block-no-input", block=name))
    if not outs:
        out.append(Problem(ERROR, f"Block {name!r} has no BlockOutput; add one for each value "
                                  f"it gives.", None, "block-outputs", block=name))
    for kind, ports in (("input", ins), ("output", outs if len(outs) > 1 else [])):
        seen: dict[str, str] = {}
        for n in ports:
            if n.name in seen:
                out.append(Problem(ERROR, f"{name}{SEP}{n.name}: two {kind} ports share the "
                                          f"name {n.name!r}; rename one.", n.id,
                                   "block-port-name", block=name))
            seen[n.name] = n.id
    for n in g.nodes.values():
        if n.type in ("Input", "Output"):
            out.append(Problem(ERROR, f"{name}{SEP}{_label(n)}: a block definition takes "
                                      f"values through BlockInput/BlockOutput ports, not "
                                      f"{n.type} nodes.", n.id, "io-in-block", block=name))
    return out


def _analyze_one(graph: Graph, inference: ShapeInference | None, loss: str | None
                 ) -> list[Problem]:
    if inference is None:
        inference = ShapeInference(graph)
        infos = inference.update()
        inference.close()
    else:
        infos = inference.update()
    out: list[Problem] = []
    add = out.append
    nodes = graph.nodes
    adj = _Adjacency(graph)

    top = not graph.is_definition
    if top and not any(n.type == "Input" for n in nodes.values()):
        add(Problem(ERROR, "The graph has no Input node; add one from the Input/Output "
                           "category.", code="no-input"))
    if top and not any(n.type == "Output" for n in nodes.values()):
        add(Problem(ERROR, "The graph has no Output node; connect the last layer to an "
                           "Output.", code="no-output"))

    _, stuck = topo_order(graph)
    for cycle in _cycles(graph, stuck):
        names = " → ".join(nodes[n].name for n in cycle + cycle[:1])
        for nid in cycle:
            add(Problem(ERROR, f"{_label(nodes[nid])} is part of a cycle ({names}); remove "
                               f"one of these wires, networks here must be acyclic.",
                        nid, "cycle"))

    for node in nodes.values():
        spec = node.spec
        for pname, msg in spec.check_params(node.params):
            add(Problem(ERROR, f"{_label(node)}: parameter {pname} {msg}.", node.id,
                        "invalid-param", pname))
        ports = node.input_ports()
        for port in ports:
            if port not in adj.ports[node.id]:
                what = "its input is" if port == "in" else f"input {port} is"
                add(Problem(ERROR, f"{_label(node)}: {what} not connected.", node.id,
                            "unconnected"))
        if top and node.type in (PORT_IN, PORT_OUT):
            add(Problem(ERROR, f"{_label(node)}: {node.type} belongs inside a block "
                               f"definition; use Input/Output here.", node.id, "port-outside"))
        info = infos.get(node.id)
        if node.type == BLOCK:
            for port in sorted(adj.ports[node.id] - set(ports)):
                add(Problem(ERROR, f"{node.name}: a wire goes into port {port!r}, which block "
                                   f"{node.params['block']!r} no longer has; remove it.",
                            node.id, "stale-port"))
            if info is not None and info.error:
                sep = SEP if info.inner else ": "  # from inside: the path continues
                add(Problem(ERROR, f"{node.name}{sep}{info.error}", node.id, "shape",
                            path=(node.id, *info.where)))
        elif info is not None and info.error:
            # shape messages already start with the layer type ("Linear expects …")
            prefix = "" if node.name == node.type else f"{node.name}: "
            add(Problem(ERROR, f"{prefix}{info.error}", node.id, "shape"))
        if spec.outputs and not adj.succ[node.id]:
            add(Problem(WARNING, f"{_label(node)}: its output is not used; connect it or "
                                 f"delete it.", node.id, "unused"))

    out.extend(_lints(graph, adj, loss))
    return out


def _cycles(graph: Graph, stuck: set[str]) -> list[list[str]]:
    if not stuck:
        return []
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from((e.src, e.dst) for e in graph.edges if e.src in stuck and e.dst in stuck)
    cycles = []
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1 or any(e.src == e.dst for e in graph.edges if e.src in comp):
            cycles.append(next(nx.simple_cycles(g.subgraph(comp))))
    return cycles


def _through(adj: _Adjacency, nodes: dict, nid: str) -> list[Node]:
    """The layers feeding `nid`, looking through transparent layers."""
    seen, out, stack = set(), [], list(adj.pred[nid])
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        if nodes[p].type in TRANSPARENT:
            stack.extend(adj.pred[p])
        else:
            out.append(nodes[p])
    return out


def _lints(graph: Graph, adj: _Adjacency, loss: str | None) -> list[Problem]:
    out = []
    nodes = graph.nodes
    for node in nodes.values():
        t = node.type
        if t == "Linear":
            for prev in _through(adj, nodes, node.id):
                if prev.type == "Linear":
                    out.append(Problem(
                        WARNING, f"{_label(node)} follows {_label(prev)} with no activation "
                                 f"between them, so together they are just one linear map; "
                                 f"insert an activation such as ReLU.", node.id, "linear-linear"))
        if "affine" in node.spec.tags and node.params.get("bias"):
            succ = adj.succ[node.id]
            if succ and all("batchnorm" in nodes[s].spec.tags for s in succ):
                out.append(Problem(
                    WARNING, f"{_label(node)}: its bias is cancelled by the BatchNorm that "
                             f"follows (it subtracts the mean); set bias to false.",
                    node.id, "bias-before-batchnorm", "bias"))
        if t == "Output":
            feeders = [nodes[p] for p in adj.pred[node.id]]
            for prev in feeders:
                if prev.type == "Dropout":
                    out.append(Problem(
                        WARNING, f"{_label(prev)} sits right before the output and randomly "
                                 f"zeroes predictions while training; move it before the last "
                                 f"layer.", prev.id, "dropout-at-output"))
            direct = _through(adj, nodes, node.id)
            if loss in LOGIT_LOSSES:
                for prev in direct:
                    if prev.type in SQUASHING:
                        out.append(Problem(
                            WARNING, f"{_label(prev)} feeds the output, but "
                                     f"{LOGIT_LOSSES[loss]} expects raw scores (logits) and "
                                     f"applies its own {'sigmoid' if loss == 'bce_with_logits' else 'softmax'}; "
                                     f"remove {prev.type}.", prev.id, "squash-before-logit-loss"))
            if loss == "nll":
                for prev in direct:
                    if prev.type != "LogSoftmax":
                        out.append(Problem(
                            WARNING, f"NLLLoss expects log-probabilities, but the output comes "
                                     f"from {_label(prev)}; end with LogSoftmax or use "
                                     f"CrossEntropy.", prev.id, "nll-without-logsoftmax"))
    return out


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]
