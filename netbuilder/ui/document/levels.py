"""Which level of the block hierarchy the editor shows: the top graph, or a block
definition opened through one of its instances (Model › layer1 › Bottleneck).

The stack holds, per opened level, the Block node that was opened (in the graph one level
up), which repeat copy, and the definition's name. The shown graph is that definition's
Graph; its shapes are the opened instance's (`NodeInfo.inner[copy]`). Edits made at a
level go into the definition, so every instance follows. The stack never points at
something gone: after an edit or an undo it is cut back to the deepest level still valid.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal

from ...core.analysis import Problem
from ...core.blocks import BLOCK
from ...core.graph import Graph
from ...core.shapes import output_of

TOP_NAME = "Model"


@dataclass(frozen=True)
class Level:
    instance: str | None  # the opened Block node's id (None: the definition on its own)
    copy: int  # which copy of a repeat
    block: str  # the definition's name


class Levels(QObject):
    changed = Signal()  # a different graph is shown (or the names on the path changed)

    def __init__(self, doc):
        super().__init__(doc)
        self.doc = doc
        self.stack: list[Level] = []
        self._lib = None
        doc.projectReplaced.connect(self.reset)
        doc.analysisChanged.connect(self.check)
        self._attach_library()

    # ---- what is shown ------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return len(self.stack)

    @property
    def block(self) -> str | None:
        return self.stack[-1].block if self.stack else None

    @property
    def graph(self) -> Graph:
        return self.graph_at(len(self.stack))

    def graph_at(self, depth: int) -> Graph:
        if depth == 0:
            return self.doc.graph
        return self.doc.graph.blocks[self.stack[depth - 1].block]

    def infos(self) -> dict:
        """node id -> NodeInfo for the shown graph (inside: the opened instance's copy)."""
        infos = self.doc.infos
        for level in self.stack:
            info = infos.get(level.instance) if level.instance else None
            if info is None or level.copy >= len(info.inner):
                return {}
            infos = info.inner[level.copy]
        return infos

    def problems(self) -> list[Problem]:
        """The problems about nodes of the shown graph, with node ids of that graph."""
        if not self.stack:
            return [p for p in self.doc.problems if p.block is None]
        here = self.block
        out = [p for p in self.doc.problems if p.block == here]
        prefix = []
        for level in self.stack:
            prefix += [level.instance, level.copy]
        for p in self.doc.problems:
            # a shape error deep inside an instance: path = (instance, copy, node, copy, …)
            path = list(p.path)
            if len(path) > len(prefix) and path[:len(prefix)] == prefix:
                out.append(replace(p, node_id=path[len(prefix)], block=here))
        return out

    def input_infos(self, node_id: str) -> list:
        graph, infos = self.graph, self.infos()
        if not self.stack:
            return self.doc.input_infos(node_id)
        out = []
        for port in graph.node(node_id).input_ports():
            e = graph.edge_into(node_id, port)
            out.append(output_of(infos.get(e.src), e.src_port) if e else None)
        return out

    def crumbs(self) -> list[str]:
        """A label per level: "Model", then each opened instance (and its definition)."""
        out = [TOP_NAME]
        for depth, level in enumerate(self.stack):
            holder = self.graph_at(depth)
            node = holder.nodes.get(level.instance) if level.instance else None
            if node is None:
                out.append(level.block)
                continue
            label = node.name
            if level.block != node.name:
                label += f" ({level.block})"
            if node.params["repeat"] > 1:  # which copy's shapes are shown, counted from 1
                label += f" · copy {level.copy + 1} of {node.params['repeat']}"
            out.append(label)
        return out

    def scope_note(self) -> str:
        """What an edit at the shown level changes, for a person: "" at the top level."""
        if not self.stack:
            return ""
        level = self.stack[-1]
        copies = self.copies(len(self.stack) - 1)
        uses = len(self.doc.graph.blocks.instances(level.block))
        text = f"Inside block {level.block}"
        if copies > 1:
            text += (f", showing the shapes of copy {level.copy + 1} of {copies}. Edits "
                     f"change all {copies} copies (they share this definition)")
        else:
            text += ". Edits change this definition"
        if uses > 1:
            text += f" and all {uses} places that use it"
        return text + "."

    # ---- moving ---------------------------------------------------------------------------

    def enter(self, instance_id: str, copy: int = 0) -> bool:
        """Open the Block node `instance_id` of the shown graph. False when it is not one."""
        node = self.graph.nodes.get(instance_id)
        if node is None or node.type != BLOCK or node.params["block"] not in node.library:
            return False
        copy = max(0, min(copy, node.params["repeat"] - 1))
        self.stack.append(Level(instance_id, copy, node.params["block"]))
        self.changed.emit()
        return True

    def copies(self, index: int) -> int:
        """How many copies the instance opened at stack[index] has (its repeat)."""
        level = self.stack[index]
        node = self.graph_at(index).nodes.get(level.instance) if level.instance else None
        return node.params["repeat"] if node is not None else 1

    def set_copy(self, index: int, copy: int) -> None:
        """Show another copy of a repeat opened at stack[index] (its shapes can differ:
        each copy of a dense layer sees more channels)."""
        if 0 <= copy < self.copies(index) and copy != self.stack[index].copy:
            self.stack[index] = replace(self.stack[index], copy=copy)
            self.changed.emit()

    def go(self, depth: int) -> None:
        """Show level `depth` (0 = the top graph)."""
        depth = max(0, min(depth, len(self.stack)))
        if depth != len(self.stack):
            del self.stack[depth:]
            self.changed.emit()

    def up(self) -> bool:
        if not self.stack:
            return False
        self.go(len(self.stack) - 1)
        return True

    def reset(self) -> None:
        self._attach_library()
        if self.stack:  # (the views rebuild on projectReplaced anyway)
            self.stack = []
            self.changed.emit()

    def show_graph(self, graph: Graph) -> None:
        """Show `graph` (the top graph or a definition), opened through its first instance
        when it has one (undo/redo of an edit made at another level goes there)."""
        if graph is self.graph:
            return
        if graph is self.doc.graph:
            self.go(0)
            return
        name = self.doc.graph.blocks.name_of(graph)
        if name is None:
            return
        self.stack = self.path_to(name)
        self.changed.emit()

    def path_to(self, name: str) -> list[Level]:
        """Levels from the top down to definition `name` through first instances."""
        lib = self.doc.graph.blocks
        chain, seen = [], set()
        current = name
        while current is not None and current not in seen:
            seen.add(current)
            uses = lib.instances(current)
            if not uses:
                chain.append(Level(None, 0, current))
                break
            holder, node = uses[0]
            chain.append(Level(node.id, 0, current))
            current = holder
        return list(reversed(chain))

    # ---- keeping the stack valid -------------------------------------------------------------

    def check(self) -> None:
        """Cut the stack back to its deepest valid level (after edits, undo, removal)."""
        lib = self.doc.graph.blocks
        for depth, level in enumerate(self.stack):
            if level.block not in lib:
                break
            if level.instance is not None:
                node = self.graph_at(depth).nodes.get(level.instance)
                if node is None or node.type != BLOCK or node.params["block"] != level.block \
                        or level.copy >= node.params["repeat"]:
                    break
        else:
            return
        del self.stack[depth:]
        self.changed.emit()

    def _attach_library(self) -> None:
        lib = self.doc.graph.blocks
        if lib is self._lib:
            return
        if self._lib is not None:
            self._lib.events.renamed.disconnect(self._renamed)
            self._lib.events.removed.disconnect(self._removed)
        self._lib = lib
        lib.events.renamed.connect(self._renamed)
        lib.events.removed.connect(self._removed)

    def _renamed(self, old: str, new: str) -> None:
        self.stack = [replace(lv, block=new) if lv.block == old else lv for lv in self.stack]
        self.changed.emit()

    def _removed(self, name: str) -> None:
        if any(lv.block == name for lv in self.stack):
            self.check()
