"""Group nodes into a block and ungroup a block instance, with the Graph and BlockLibrary
APIs only (so every event reaches the views, and an editor can wrap each call in one undo
step).

`group` keeps the nodes' ids, names, parameters and positions inside the new definition,
and `ungroup` of an instance puts a definition's nodes back under their own ids when they
are free, so `ungroup(graph, group(graph, ids).id)` restores the graph exactly: the two
are each other's inverse.
"""
from __future__ import annotations

from dataclasses import dataclass

from .blocks import BLOCK, PORT_IN, PORT_OUT, BlockError, repeat_refusal
from .graph import Edge, Graph, GraphError, Node

IO_TYPES = ("Input", "Output", PORT_IN, PORT_OUT)
PORT_GAP = 180.0  # how far left/right of the grouped nodes the port nodes are placed


def _centroid(nodes) -> tuple[float, float]:
    nodes = list(nodes)
    if not nodes:
        return 0.0, 0.0
    return (sum(n.pos[0] for n in nodes) / len(nodes), sum(n.pos[1] for n in nodes) / len(nodes))


def _free_block_name(graph: Graph, base: str = "Block") -> str:
    if base not in graph.blocks:
        return base
    i = 2
    while f"{base} {i}" in graph.blocks:
        i += 1
    return f"{base} {i}"


def group(graph: Graph, node_ids, block_name: str | None = None, name: str | None = None,
          instance_id: str | None = None) -> Node:
    """Move the nodes `node_ids` into a new block definition and put one instance of it in
    their place. Input ports come from the wires cut on the way in (one per distinct
    source), output ports from the values that leave it ("out", or "out1", "out2", … when
    several do: features and a skip). No value may leave and come back in (a cycle)."""
    ids = [nid for nid in graph.nodes if nid in set(node_ids)]
    missing = [nid for nid in node_ids if nid not in graph.nodes]
    if missing:
        raise GraphError(f"cannot group: no node with id {missing[0]!r}")
    if not ids:
        raise GraphError("cannot group: select at least one node")
    for nid in ids:
        n = graph.nodes[nid]
        if n.type in IO_TYPES:
            raise GraphError(f"cannot group {n.name} ({n.type}): the graph's own inputs and "
                             f"outputs stay outside blocks")
    sel = set(ids)
    inside = [e for e in graph.edges if e.src in sel and e.dst in sel]
    incoming = [e for e in graph.edges if e.dst in sel and e.src not in sel]
    outgoing = [e for e in graph.edges if e.src in sel and e.dst not in sel]
    sources = list(dict.fromkeys((e.src, e.src_port) for e in incoming))
    results = list(dict.fromkeys((e.src, e.src_port) for e in outgoing))
    if not results:
        raise GraphError("cannot group: nothing leaves the selection, so the block would "
                         "have no output; include fewer nodes or wire one onwards")
    back = _comes_back(graph, sel, outgoing)
    if back is not None:
        names = ", ".join(graph.nodes[s].name for s, _ in results)
        what = f"{len(results)} values leave the selection (from {names}) and" \
            if len(results) > 1 else "a value leaves the selection and"
        raise GraphError(f"cannot group: {what} comes back in through {back}, so the block "
                         f"would feed itself; include {back} or group fewer nodes")
    block_name = block_name or _free_block_name(graph)
    if instance_id is not None and instance_id in graph.nodes and instance_id not in sel:
        raise GraphError(f"node id {instance_id!r} is already used")
    try:
        definition = graph.blocks.define(block_name)
    except BlockError as e:
        raise GraphError(str(e)) from None
    chosen = [graph.nodes[nid] for nid in ids]
    xs = [n.pos[0] for n in chosen]
    cy = _centroid(chosen)[1]
    for n in chosen:
        definition.add_node(n.type, n.name, n.params, n.pos, id=n.id)
        definition.set_tuning(n.id, n.frozen, n.lr_mult)  # frozen stays frozen inside
    for e in inside:
        definition.connect(e.src, e.dst, e.src_port, e.dst_port)
    port_of: dict[tuple[str, str], Node] = {}
    for k, src in enumerate(sources):
        port = definition.add_node(PORT_IN, "in" if k == 0 else f"in{k + 1}",
                                   pos=(min(xs) - PORT_GAP, cy + 80.0 * k),
                                   id=definition.new_id())
        port_of[src] = port
    for e in incoming:
        definition.connect(port_of[(e.src, e.src_port)].id, e.dst, "out", e.dst_port)
    for k, (src, src_port) in enumerate(results):
        out = definition.add_node(PORT_OUT, "out" if len(results) == 1 else f"out{k + 1}",
                                  pos=(max(xs) + PORT_GAP, cy + 80.0 * k),
                                  id=definition.new_id())
        definition.connect(src, out.id, src_port, "in")
    out_ports = graph.blocks.output_ports(block_name)

    pos = _centroid(chosen)
    for nid in ids:
        graph.remove_node(nid)
    node = graph.add_node(BLOCK, name or graph.unique_name(block_name),
                          {"block": block_name, "repeat": 1}, pos, id=instance_id)
    for src, port in sources:
        graph.connect(src, node.id, port, port_of[(src, port)].name)
    for e in outgoing:
        graph.connect(node.id, e.dst, out_ports[results.index((e.src, e.src_port))],
                      e.dst_port)
    return node


def _comes_back(graph: Graph, sel: set, outgoing) -> str | None:
    """The name of a node outside `sel` that a value leaving `sel` reaches and that feeds
    back into `sel` (grouping would make a cycle), or None."""
    succ: dict[str, list[str]] = {}
    for e in graph.edges:
        succ.setdefault(e.src, []).append(e.dst)
    for start in dict.fromkeys(e.dst for e in outgoing):
        seen, stack = {start}, [start]
        while stack:
            nid = stack.pop()
            for nxt in succ.get(nid, ()):
                if nxt in sel:
                    return graph.nodes[start].name
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return None


@dataclass
class Ungrouped:
    """What `ungroup` did, so `regroup` can undo it exactly."""

    nodes: list[Node]  # the nodes that replaced the instance
    instance: dict  # the instance node as Node.to_dict()
    in_edges: list[Edge]
    out_edges: list[Edge]
    dropped: object = None  # the definition Graph, when ungroup removed it


def regroup(graph: Graph, done: Ungrouped) -> Node:
    """The inverse of `ungroup`: the instance (same id, name, parameters, place and wires)
    replaces the nodes ungroup made, and a dropped definition comes back."""
    inst = done.instance
    if done.dropped is not None:
        graph.blocks.define(inst["params"]["block"], done.dropped)
    for n in done.nodes:
        graph.remove_node(n.id)
    node = graph.add_node(BLOCK, inst["name"], inst["params"], inst["pos"], id=inst["id"])
    graph.set_tuning(node.id, inst.get("frozen", False), inst.get("lr_mult", 1.0))
    for e in [*done.in_edges, *done.out_edges]:
        graph.connect(e.src, e.dst, e.src_port, e.dst_port)
    return node


def ungroup(graph: Graph, instance_id: str, drop_unused: bool = True) -> Ungrouped:
    """Replace a block instance by its definition's nodes (repeat N: N chained copies).
    The definition is removed too when nothing else uses it and `drop_unused`.
    `regroup(graph, result)` undoes it."""
    node = graph.node(instance_id)
    if node.type != BLOCK:
        raise GraphError(f"{node.name} ({node.type}) is not a block instance")
    name, repeat = node.params["block"], node.params["repeat"]
    try:
        definition = graph.blocks[name]
    except BlockError as e:
        raise GraphError(str(e)) from None
    ins = [n for n in definition.nodes.values() if n.type == PORT_IN]
    outs = [n for n in definition.nodes.values() if n.type == PORT_OUT]
    if not outs:
        raise GraphError(f"cannot ungroup {node.name}: block {name!r} needs a BlockOutput")
    if repeat > 1 and (len(ins) != 1 or len(outs) != 1):
        raise GraphError(f"cannot ungroup {node.name}: "
                         f"{repeat_refusal(name, repeat, ins, outs)}")
    record = Ungrouped([], node.to_dict(), graph.in_edges(instance_id),
                       graph.out_edges(instance_id))
    feeds = {e.dst_port: (e.src, e.src_port) for e in graph.in_edges(instance_id)}
    out_of_port = dict(zip(node.output_ports(), (o.id for o in outs)))
    consumers = [(e.dst, e.dst_port, out_of_port.get(e.src_port))
                 for e in graph.out_edges(instance_id)]
    body = [n for n in definition.nodes.values() if n.type not in (PORT_IN, PORT_OUT)]
    cx, cy = _centroid(body)
    span = (max((n.pos[0] for n in body), default=0.0) - min((n.pos[0] for n in body),
                                                              default=0.0)) + PORT_GAP
    origin = node.pos
    graph.remove_node(instance_id)
    made: list[Node] = []
    # value[(definition node id, port)] -> (graph node id, port) for the current copy
    current = {p.id: feeds.get(p.name) for p in ins}
    for k in range(repeat):
        ids: dict[str, str] = {}
        for n in body:
            nid = n.id if k == 0 and n.id not in graph.nodes else graph.new_id()
            x = origin[0] + (n.pos[0] - cx) + k * span
            made.append(graph.add_node(n.type, graph.unique_name(n.name), n.params,
                                       (x, origin[1] + n.pos[1] - cy), id=nid))
            graph.set_tuning(nid, n.frozen or node.frozen, n.lr_mult * node.lr_mult)
            ids[n.id] = nid

        def value(src: str, port: str):
            return current.get(src) if src in current else (ids[src], port)

        result, results = None, {}
        for e in definition.edges:
            if e.dst in out_of_port.values():
                results[e.dst] = value(e.src, e.src_port)
                result = results[e.dst] if e.dst == outs[0].id else result
            elif e.dst in ids:
                v = value(e.src, e.src_port)
                if v is not None:
                    graph.connect(v[0], ids[e.dst], v[1], e.dst_port)
        current = {ins[0].id: result} if ins else {}
    for dst, port, out_id in consumers:
        got = results.get(out_id)
        if got is not None:
            graph.connect(got[0], dst, got[1], port)
    if drop_unused and not graph.blocks.instances(name):
        record.dropped = graph.blocks.remove(name)
    record.nodes = made
    return record
