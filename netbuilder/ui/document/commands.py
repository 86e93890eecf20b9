"""Undo commands: the only way the UI changes the graph.

Each command calls the core Graph API in `redo` and reverses it exactly in `undo`.
Gestures that touch several things (delete a selection, paste, drop onto a wire) are
built as one compound command, so one gesture is one undo entry.
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from ...core.graph import Edge, Graph


class GraphCommand(QUndoCommand):
    def __init__(self, graph: Graph, text: str, parent: QUndoCommand | None = None):
        super().__init__(text, parent)
        self.graph = graph


class AddNode(GraphCommand):
    def __init__(self, graph: Graph, type_name: str, pos=(0.0, 0.0), params: dict | None = None,
                 name: str | None = None, node_id: str | None = None,
                 parent: QUndoCommand | None = None):
        super().__init__(graph, f"Add {type_name}", parent)
        self.type_name, self.pos, self.params = type_name, tuple(pos), copy.deepcopy(params)
        self.name = name or graph.unique_name(type_name)
        self.node_id = node_id or graph.new_id()

    def redo(self):
        self.graph.add_node(self.type_name, self.name, self.params, self.pos, id=self.node_id)

    def undo(self):
        self.graph.remove_node(self.node_id)


class Connect(GraphCommand):
    def __init__(self, graph: Graph, src: str, dst: str, src_port: str = "out",
                 dst_port: str = "in", parent: QUndoCommand | None = None):
        super().__init__(graph, "Connect", parent)
        self.edge = Edge(src, src_port, dst, dst_port)

    def redo(self):
        e = self.edge
        self.graph.connect(e.src, e.dst, e.src_port, e.dst_port)

    def undo(self):
        self.graph.disconnect(self.edge)


class Disconnect(GraphCommand):
    def __init__(self, graph: Graph, edge: Edge, parent: QUndoCommand | None = None):
        super().__init__(graph, "Disconnect", parent)
        self.edge = edge

    def redo(self):
        self.graph.disconnect(self.edge)

    def undo(self):
        e = self.edge
        self.graph.connect(e.src, e.dst, e.src_port, e.dst_port)


class RemoveNode(GraphCommand):
    """Removes one node; its wires are removed by child Disconnect commands first."""

    def __init__(self, graph: Graph, node_id: str, parent: QUndoCommand | None = None):
        node = graph.node(node_id)
        super().__init__(graph, f"Delete {node.name}", parent)
        self.data = node.to_dict()

    def redo(self):
        self.graph.remove_node(self.data["id"])

    def undo(self):
        d = self.data
        self.graph.add_node(d["type"], d["name"], d["params"], d["pos"], id=d["id"])
        self.graph.set_tuning(d["id"], d.get("frozen", False), d.get("lr_mult", 1.0))


class SetParams(GraphCommand):
    MERGE_ID = 1001  # consecutive edits of one parameter (spin-box arrows) merge

    def __init__(self, graph: Graph, node_id: str, values: dict,
                 parent: QUndoCommand | None = None):
        node = graph.node(node_id)
        super().__init__(graph, f"Edit {node.name}", parent)
        self.node_id = node_id
        self.new = copy.deepcopy(values)
        self.old = {k: copy.deepcopy(node.params.get(k)) for k in values}
        # Shrinking a merge drops the wires into removed ports; remember them for undo.
        self.dropped: list[Edge] = []

    def redo(self):
        before = set(self.graph.in_edges(self.node_id))
        self.graph.set_params(self.node_id, self.new)
        self.dropped = [e for e in before if e not in self.graph.edges]

    def undo(self):
        self.graph.set_params(self.node_id, self.old)
        for e in self.dropped:
            self.graph.connect(e.src, e.dst, e.src_port, e.dst_port)

    def id(self) -> int:
        return self.MERGE_ID

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetParams) or other.node_id != self.node_id \
                or other.new.keys() != self.new.keys() or self.dropped or other.dropped:
            return False
        self.new = other.new
        return True


class Rename(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, name: str, parent=None):
        node = graph.node(node_id)
        super().__init__(graph, f"Rename {node.name}", parent)
        self.node_id, self.old, self.new = node_id, node.name, name

    def redo(self):
        self.graph.rename(self.node_id, self.new)

    def undo(self):
        self.graph.rename(self.node_id, self.old)


class Move(GraphCommand):
    def __init__(self, graph: Graph, moves: dict[str, tuple], parent=None):
        """moves: node id -> (old pos, new pos)."""
        super().__init__(graph, "Move" if len(moves) == 1 else f"Move {len(moves)} nodes", parent)
        self.moves = moves

    def redo(self):
        for nid, (_, new) in self.moves.items():
            self.graph.move(nid, new)

    def undo(self):
        for nid, (old, _) in self.moves.items():
            self.graph.move(nid, old)


class SetTuning(GraphCommand):
    """Freeze / unfreeze nodes or set their learning-rate multiplier: one undo entry for
    the whole selection."""

    def __init__(self, graph: Graph, node_ids, frozen: bool | None = None,
                 lr_mult: float | None = None, text: str | None = None, parent=None):
        ids = [n for n in node_ids if n in graph.nodes]
        if text is None:
            what = "Freeze" if frozen else "Unfreeze" if frozen is not None else "Set lr × of"
            text = f"{what} {graph.node(ids[0]).name if len(ids) == 1 else f'{len(ids)} nodes'}"
        super().__init__(graph, text, parent)
        self.old = {n: (graph.node(n).frozen, graph.node(n).lr_mult) for n in ids}
        self.frozen, self.lr_mult = frozen, lr_mult

    @property
    def changes_anything(self) -> bool:
        return any((self.frozen is not None and f != self.frozen)
                   or (self.lr_mult is not None and m != self.lr_mult)
                   for f, m in self.old.values())

    def redo(self):
        for nid in self.old:
            self.graph.set_tuning(nid, self.frozen, self.lr_mult)

    def undo(self):
        for nid, (frozen, mult) in self.old.items():
            self.graph.set_tuning(nid, frozen, mult)


# ---- compound gestures -------------------------------------------------------------------
# A gesture that touches several things is one MacroCommand holding plain-Python children
# (Qt's own parent/child commands would need the wrappers kept alive by hand). Each
# child's constructor reads the graph, so children are made one at a time while the graph
# is in the state they expect: `Compound` runs each as it is added and rewinds at the end,
# then the stack's push replays them once.


class MacroCommand(QUndoCommand):
    def __init__(self, text: str):
        super().__init__(text)
        self.children: list[QUndoCommand] = []

    def redo(self):
        for c in self.children:
            c.redo()

    def undo(self):
        for c in reversed(self.children):
            c.undo()


class Compound:
    """with Compound(graph, "Paste") as c: c.add(AddNode, "ReLU", (0, 0))
    then stack.push(c.command)."""

    def __init__(self, graph: Graph, text: str):
        self.graph = graph
        self.command = MacroCommand(text)

    def add(self, cls, *args, **kwargs) -> QUndoCommand:
        child = cls(self.graph, *args, **kwargs)
        child.redo()
        self.command.children.append(child)
        return child

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.command.undo()  # rewind; push() replays everything once
        return False

    @property
    def empty(self) -> bool:
        return not self.command.children


def delete_nodes(graph: Graph, node_ids, edges=()) -> QUndoCommand | None:
    """Delete nodes (with their wires) and extra wires, as one undo entry."""
    node_ids = [n for n in node_ids if n in graph.nodes]
    edges = [e for e in edges if e in graph.edges]
    label = "Delete" if len(node_ids) + len(edges) > 1 else (
        f"Delete {graph.node(node_ids[0]).name}" if node_ids else "Delete wire")
    with Compound(graph, label) as c:
        for e in edges:
            if e in graph.edges:
                c.add(Disconnect, e)
        for nid in node_ids:
            for e in [e for e in graph.edges if nid in (e.src, e.dst)]:
                c.add(Disconnect, e)
            c.add(RemoveNode, nid)
    return None if c.empty else c.command


def connect_replacing(graph: Graph, src: str, dst: str, src_port: str, dst_port: str
                      ) -> QUndoCommand:
    """Wire src -> dst; an existing wire into that input port is replaced (one entry)."""
    old = graph.edge_into(dst, dst_port)
    text = "Connect" if old is None else f"Replace wire into {graph.node(dst).name}"
    with Compound(graph, text) as c:
        if old is not None:
            c.add(Disconnect, old)
        c.add(Connect, src, dst, src_port, dst_port)
    return c.command


def insert_on_wire(graph: Graph, edge: Edge, type_name: str, pos) -> QUndoCommand:
    """Drop a new node onto a wire: src -> new -> dst."""
    with Compound(graph, f"Insert {type_name}") as c:
        add = c.add(AddNode, type_name, pos)
        c.add(Disconnect, edge)
        node = graph.node(add.node_id)
        ports = node.input_ports()
        if ports:
            c.add(Connect, edge.src, add.node_id, edge.src_port, ports[0])
        if node.output_ports():
            c.add(Connect, add.node_id, edge.dst, node.output_ports()[0], edge.dst_port)
    return c.command


def paste(graph: Graph, data: dict, offset=(40.0, 40.0)) -> tuple[QUndoCommand, list[str]]:
    """Paste nodes + internal wires from `clipboard_data` with fresh ids and names."""
    ids: dict[str, str] = {}
    with Compound(graph, "Paste") as c:
        for n in data.get("nodes", []):
            add = c.add(AddNode, n["type"], (n["pos"][0] + offset[0], n["pos"][1] + offset[1]),
                        n.get("params"), graph.unique_name(n["name"]))
            ids[n["id"]] = add.node_id
            if n.get("frozen") or n.get("lr_mult", 1.0) != 1.0:  # a copy keeps its tuning
                c.add(SetTuning, [add.node_id], n.get("frozen", False), n.get("lr_mult", 1.0))
        for e in data.get("edges", []):
            if e["src"] in ids and e["dst"] in ids:
                c.add(Connect, ids[e["src"]], ids[e["dst"]], e["src_port"], e["dst_port"])
    return c.command, list(ids.values())


def clipboard_data(graph: Graph, node_ids) -> dict:
    """The selected nodes and the wires between them, as plain data."""
    keep = set(node_ids)
    return {"nodes": [graph.node(n).to_dict() for n in graph.nodes if n in keep],
            "edges": [e.to_dict() for e in graph.edges if e.src in keep and e.dst in keep]}


class SetTraining(QUndoCommand):
    """Replace the project's training settings (one field per command)."""

    def __init__(self, doc, old, new, text: str):
        super().__init__(text)
        self.doc, self.old, self.new = doc, old, new

    def redo(self):
        self.doc.set_training(self.new)

    def undo(self):
        self.doc.set_training(self.old)
