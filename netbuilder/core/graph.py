"""The graph model: nodes with stable ids, edges between ports, an event for every change.

Views (the Qt canvas, shape inference) observe `graph.events`; they never poke the
dictionaries directly. The model stores what the user drew, cycles included: the analysis
reports problems, the model only refuses edits that cannot be represented (unknown node or
port, a second wire into one input port).
"""
from __future__ import annotations

import collections
import copy
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable

from psygnal import Signal

from . import registry
from .blocks import BlockError, BlockLibrary


MAX_LR_MULT = 1000.0


class GraphError(ValueError):
    """An edit the graph cannot represent."""


@dataclass(frozen=True)
class Edge:
    src: str
    src_port: str
    dst: str
    dst_port: str

    def to_dict(self) -> dict:
        return {"src": self.src, "src_port": self.src_port, "dst": self.dst,
                "dst_port": self.dst_port}


@dataclass
class Node:
    id: str
    type: str
    name: str
    params: dict = field(default_factory=dict)
    pos: tuple[float, float] = (0.0, 0.0)
    # The block library of the graph holding this node: a Block instance's ports are its
    # definition's. Not part of the node's value.
    library: Any = field(default=None, repr=False, compare=False)
    # Fine-tuning (see core/tuning.py): a frozen node's weights do not train; lr_mult scales
    # the learning rate of its weights. On a Block instance they apply to every layer inside.
    frozen: bool = False
    lr_mult: float = 1.0

    @property
    def spec(self) -> registry.LayerSpec:
        return registry.get(self.type)

    def input_ports(self) -> tuple[str, ...]:
        if self.type == "Block" and self.library is not None:
            return self.library.input_ports(self.params.get("block"))
        return self.spec.input_ports(self.params)

    def output_ports(self) -> tuple[str, ...]:
        if self.type == "Block" and self.library is not None:
            return self.library.output_ports(self.params.get("block"))
        return self.spec.outputs

    def to_dict(self) -> dict:
        out = {"id": self.id, "type": self.type, "name": self.name,
               "params": copy.deepcopy(self.params), "pos": [self.pos[0], self.pos[1]]}
        if self.frozen:  # written only when set: untouched projects stay as they were
            out["frozen"] = True
        if self.lr_mult != 1.0:
            out["lr_mult"] = self.lr_mult
        return out


class GraphEvents:
    """psygnal signals (Qt-free). Each carries the affected object."""

    node_added = Signal(object)  # Node
    node_removed = Signal(object)  # Node (already detached)
    node_changed = Signal(object, str)  # Node, what: "params" | "name" | "pos" | "tuning"
    edge_added = Signal(object)  # Edge
    edge_removed = Signal(object)  # Edge
    reset = Signal()  # everything replaced (load)


class Graph:
    """A network, or (inside a BlockLibrary) one block definition. Every graph of a project
    shares the root's `blocks` library, so a Block node anywhere resolves its definition."""

    def __init__(self, blocks=None) -> None:
        self.events = GraphEvents()
        self.blocks = blocks if blocks is not None else BlockLibrary(owner=self)
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._ids = itertools.count(1)
        self._into: dict[tuple[str, str], Edge] = {}  # (dst, port) -> edge: O(1) lookups
        self._names: collections.Counter = collections.Counter()  # for unique_name

    # ---- queries ---------------------------------------------------------------------------

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"no node with id {node_id!r}") from None

    def in_edges(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.dst == node_id]

    def out_edges(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def edge_into(self, node_id: str, port: str) -> Edge | None:
        return self._into.get((node_id, port))

    def nodes_of_type(self, type_name: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == type_name]

    def by_name(self, name: str) -> Node:
        for n in self.nodes.values():
            if n.name == name:
                return n
        raise GraphError(f"no node named {name!r}")

    def new_id(self) -> str:
        while True:
            nid = f"n{next(self._ids)}"
            if nid not in self.nodes:
                return nid

    def unique_name(self, base: str) -> str:
        if not self._names[base]:
            return base
        for i in itertools.count(1):
            cand = f"{base} {i}"
            if not self._names[cand]:
                return cand
        raise AssertionError

    # ---- edits (each emits one event per change) ----------------------------------------

    def add_node(self, type_name: str, name: str | None = None, params: dict | None = None,
                 pos: Iterable[float] = (0.0, 0.0), id: str | None = None) -> Node:
        spec = registry.get(type_name)
        if id is not None and id in self.nodes:
            raise GraphError(f"node id {id!r} is already used")
        if type_name == "Block":
            self._check_block_use((params or {}).get("block"))
        node = Node(id=id or self.new_id(), type=type_name,
                    name=name if name is not None else self.unique_name(type_name),
                    params=spec.fill(copy.deepcopy(params or {})),
                    pos=(float(tuple(pos)[0]), float(tuple(pos)[1])), library=self.blocks)
        self.nodes[node.id] = node
        self._names[node.name] += 1
        self.events.node_added.emit(node)
        return node

    def remove_node(self, node_id: str) -> Node:
        node = self.node(node_id)
        for e in [e for e in self.edges if node_id in (e.src, e.dst)]:
            self.disconnect(e)
        del self.nodes[node_id]
        self._names[node.name] -= 1
        self.events.node_removed.emit(node)
        return node

    def set_params(self, node_id: str, values: dict) -> None:
        """Change parameters. Unknown names are refused; the value is stored even when out
        of bounds so the analysis can explain it (the inspector checks before calling)."""
        node = self.node(node_id)
        spec = node.spec
        for k in values:
            if spec.param(k) is None:
                raise GraphError(f"{node.type} has no parameter {k!r}")
        new = dict(node.params)
        new.update(copy.deepcopy(values))
        if new == node.params:
            return
        if node.type == "Block" and "block" in values:
            self._check_block_use(values["block"])
        old_ports = node.input_ports()
        node.params = new
        # Shrinking a merge's port list drops wires into ports that no longer exist.
        for e in self.in_edges(node_id):
            if e.dst_port not in node.input_ports() and e.dst_port in old_ports:
                self.disconnect(e)
        self.events.node_changed.emit(node, "params")

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        self.set_params(node_id, {name: value})

    def _check_block_use(self, used) -> None:
        try:
            self.blocks.check_use(self, used)
        except BlockError as e:
            raise GraphError(str(e)) from None

    def rename(self, node_id: str, name: str) -> None:
        node = self.node(node_id)
        if not isinstance(name, str) or not name.strip():
            raise GraphError("a node name cannot be empty")
        if name != node.name:
            self._names[node.name] -= 1
            self._names[name] += 1
            node.name = name
            self.events.node_changed.emit(node, "name")

    def set_tuning(self, node_id: str, frozen: bool | None = None,
                   lr_mult: float | None = None) -> None:
        """Freeze / unfreeze a node and set its learning-rate multiplier (None: unchanged)."""
        node = self.node(node_id)
        if lr_mult is not None and not (isinstance(lr_mult, (int, float))
                                        and 0 < lr_mult <= MAX_LR_MULT):
            raise GraphError(f"{node.name}: the learning-rate multiplier must be above 0 and "
                             f"at most {MAX_LR_MULT:g}, not {lr_mult!r}")
        new_frozen = node.frozen if frozen is None else bool(frozen)
        new_mult = node.lr_mult if lr_mult is None else float(lr_mult)
        if (new_frozen, new_mult) != (node.frozen, node.lr_mult):
            node.frozen, node.lr_mult = new_frozen, new_mult
            self.events.node_changed.emit(node, "tuning")

    def move(self, node_id: str, pos: Iterable[float]) -> None:
        node = self.node(node_id)
        x, y = (float(v) for v in pos)
        if (x, y) != node.pos:
            node.pos = (x, y)
            self.events.node_changed.emit(node, "pos")

    def connect(self, src: str, dst: str, src_port: str = "out", dst_port: str | None = None
                ) -> Edge:
        s, d = self.node(src), self.node(dst)
        if src_port not in s.output_ports():
            raise GraphError(f"{s.name} ({s.type}) has no output port {src_port!r}")
        ports = d.input_ports()
        if dst_port is None:  # first free input port
            free = [p for p in ports if self.edge_into(dst, p) is None]
            if not free:
                raise GraphError(f"{d.name} ({d.type}) has no free input port")
            dst_port = free[0]
        if dst_port not in ports:
            raise GraphError(f"{d.name} ({d.type}) has no input port {dst_port!r}")
        if self.edge_into(dst, dst_port) is not None:
            raise GraphError(f"input {dst_port!r} of {d.name} is already connected")
        edge = Edge(src, src_port, dst, dst_port)
        self.edges.append(edge)
        self._into[(dst, dst_port)] = edge
        self.events.edge_added.emit(edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        if self._into.get((edge.dst, edge.dst_port)) != edge:
            raise GraphError(f"no such wire {edge}")
        self.edges.remove(edge)
        del self._into[(edge.dst, edge.dst_port)]
        self.events.edge_removed.emit(edge)

    def chain(self, *types_or_nodes, **kwargs) -> list[Node]:
        """Convenience for scripts: add nodes in a row and wire each to the next.
        Items are Nodes, type names, or (type, params) tuples."""
        made: list[Node] = []
        for item in types_or_nodes:
            if isinstance(item, Node):
                node = item
            elif isinstance(item, tuple):
                node = self.add_node(item[0], params=item[1], **kwargs)
            else:
                node = self.add_node(item, **kwargs)
            if made:
                self.connect(made[-1].id, node.id)
            made.append(node)
        return made

    # ---- whole-graph ----------------------------------------------------------------------

    @property
    def is_definition(self) -> bool:
        return self.blocks.owner is not self

    def to_dict(self) -> dict:
        out = {"nodes": [n.to_dict() for n in self.nodes.values()],
               "edges": [e.to_dict() for e in self.edges]}
        if not self.is_definition and len(self.blocks):
            out["blocks"] = self.blocks.to_dict()
        return out

    def signature(self) -> tuple:
        """A comparable value: equal for graphs that are the same to a user (the root's
        includes every block definition)."""
        nodes = tuple(sorted((n.id, n.type, n.name, repr(sorted(n.params.items())), n.pos,
                              n.frozen, n.lr_mult) for n in self.nodes.values()))
        edges = tuple(sorted((e.src, e.src_port, e.dst, e.dst_port) for e in self.edges))
        if self.is_definition:
            return nodes, edges
        return nodes, edges, self.blocks.signature()

    def load_dict(self, data: dict) -> None:
        """Replace everything with an already-validated dict (see project.py)."""
        if not self.is_definition:
            self.blocks.load_dict(data.get("blocks") or {})
        self.nodes = {}
        for n in data["nodes"]:
            node = Node(id=n["id"], type=n["type"], name=n["name"],
                        params=registry.get(n["type"]).fill(copy.deepcopy(n["params"])),
                        pos=(float(n["pos"][0]), float(n["pos"][1])), library=self.blocks,
                        frozen=bool(n.get("frozen", False)),
                        lr_mult=float(n.get("lr_mult", 1.0)))
            self.nodes[node.id] = node
        self.edges = [Edge(e["src"], e["src_port"], e["dst"], e["dst_port"])
                      for e in data["edges"]]
        self._into = {(e.dst, e.dst_port): e for e in self.edges}
        self._names = collections.Counter(n.name for n in self.nodes.values())
        self.events.reset.emit()

    @classmethod
    def from_dict(cls, data: dict) -> "Graph":
        g = cls()
        g.load_dict(data)
        return g

    def copy(self) -> "Graph":
        """An independent copy (a root graph's copy has its own copy of the library)."""
        return Graph.from_dict(self.to_dict())

    def __repr__(self) -> str:
        return f"<Graph {len(self.nodes)} nodes, {len(self.edges)} edges>"
