"""Undo commands for blocks: group a selection, ungroup an instance, add a classic block,
rename or delete a definition.

Each wraps one core call and its exact inverse (core/grouping.py, core/blocks.py), so one
gesture is one undo entry. `graph` is the graph the gesture happened in (the top graph or
an opened definition); the window uses it to show that level again on undo/redo.
"""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from ...core.block_library import CLASSICS, add_classic
from ...core.blocks import BLOCK, BlockError
from ...core.graph import Graph
from ...core.grouping import group, regroup, ungroup
from .commands import AddNode, Compound, GraphCommand


class GroupCommand(GraphCommand):
    """Move the nodes `ids` into a new definition `block_name`, one instance in their place.
    Raises GraphError (with a message for a person) when the selection cannot be grouped."""

    def __init__(self, graph: Graph, ids, block_name: str, parent: QUndoCommand | None = None):
        super().__init__(graph, f"Group into {block_name}", parent)
        self.ids = [nid for nid in graph.nodes if nid in set(ids)]
        self.block_name = block_name
        self.name = graph.unique_name(block_name)
        self.instance_id = graph.new_id()
        # Try it now, so a selection that cannot be grouped is refused before the push.
        group(graph, self.ids, block_name, self.name, self.instance_id)
        ungroup(graph, self.instance_id)

    def redo(self):
        group(self.graph, self.ids, self.block_name, self.name, self.instance_id)

    def undo(self):
        ungroup(self.graph, self.instance_id)


class UngroupCommand(GraphCommand):
    """Replace a block instance by its definition's nodes (the definition goes when nothing
    else uses it); undo puts the instance and the definition back."""

    def __init__(self, graph: Graph, instance_id: str, parent: QUndoCommand | None = None):
        node = graph.node(instance_id)
        super().__init__(graph, f"Ungroup {node.name}", parent)
        self.instance_id = instance_id
        self.done = None

    def redo(self):
        self.done = ungroup(self.graph, self.instance_id)

    def undo(self):
        regroup(self.graph, self.done)

    @property
    def node_ids(self) -> list[str]:
        return [n.id for n in self.done.nodes] if self.done else []


class DefineClassic(GraphCommand):
    """Define a classic block (and the helper definitions it uses) in the library."""

    def __init__(self, graph: Graph, kind: str, parent: QUndoCommand | None = None):
        super().__init__(graph, f"Define {CLASSICS[kind].title}", parent)
        self.kind = kind
        self.defined: list[tuple[str, Graph]] = []  # in definition order
        self.name: str | None = None

    def redo(self):
        lib = self.graph.blocks
        if not self.defined:  # first time: build it
            before = set(lib.names())
            self.name = add_classic(lib, self.kind)
            self.defined = [(n, lib[n]) for n in lib.names() if n not in before]
        else:  # the very same definition graphs come back (edits inside keep working)
            for name, g in self.defined:
                lib.define(name, g)

    def undo(self):
        for name, _ in reversed(self.defined):
            self.graph.blocks.remove(name)


def add_block(graph: Graph, block: str, pos, classic: str | None = None):
    """One undo entry that adds an instance of `block` at `pos`; with `classic` (a key of
    CLASSICS) the classic is defined first and `block` is ignored. Returns (command, node
    id)."""
    with Compound(graph, "Add block") as c:
        if classic is not None:
            block = c.add(DefineClassic, classic).name
        add = c.add(AddNode, BLOCK, pos, {"block": block, "repeat": 1},
                    graph.unique_name(block))
    c.command.setText(f"Add {block}")
    c.command.graph = graph
    return c.command, add.node_id


class RenameBlock(QUndoCommand):
    """Rename a definition (every instance's `block` follows, see BlockLibrary.rename)."""

    def __init__(self, graph: Graph, old: str, new: str, parent: QUndoCommand | None = None):
        super().__init__(f"Rename block {old}", parent)
        # `root`, not `graph`: not an edit at one level (undo stays where the view is)
        self.root, self.old, self.new = graph, old, new
        graph.blocks.check_name(new)
        if new in graph.blocks:
            raise BlockError(f"a block named {new!r} already exists")

    def redo(self):
        self.root.blocks.rename(self.old, self.new)

    def undo(self):
        self.root.blocks.rename(self.new, self.old)


class DeleteBlock(QUndoCommand):
    """Delete a definition nothing uses; undo puts the same definition graph back."""

    def __init__(self, graph: Graph, name: str, parent: QUndoCommand | None = None):
        super().__init__(f"Delete block {name}", parent)
        users = graph.blocks.instances(name)
        if users:
            holder, node = users[0]
            where = f"block {holder!r}" if holder else "the model"
            raise BlockError(f"block {name!r} is still used ({len(users)} instance"
                             f"{'s' if len(users) != 1 else ''}, e.g. {node.name} in "
                             f"{where}); delete or ungroup those first")
        self.root, self.name, self.definition = graph, name, graph.blocks[name]

    def redo(self):
        self.definition = self.root.blocks.remove(self.name)

    def undo(self):
        self.root.blocks.define(self.name, self.definition)
