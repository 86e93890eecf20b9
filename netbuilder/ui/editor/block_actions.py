"""The editor's block gestures: group a selection (Ctrl+G), ungroup (Ctrl+Shift+G), open a
block instance in place (double-click) and go up (Esc, Backspace, Alt+Up, the
breadcrumb), add a block from the palette. Each edit is one undo command; undo and redo
show the level the command was made at.
"""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog

from ...core.blocks import BLOCK, BlockError
from ...core.graph import GraphError
from ..document.block_commands import GroupCommand, UngroupCommand, add_block
from .items import GRID, NODE_W
from .palette_blocks import CLASSIC, DEFINITION


def _ask_name(parent, title: str, label: str, text: str) -> tuple[str, bool]:
    return QInputDialog.getText(parent, title, label, text=text)


class BlockActions(QObject):
    message = Signal(str)  # a gesture that could not be done, and why

    def __init__(self, doc, canvas, view, parent=None):
        super().__init__(parent)
        self.doc, self.canvas, self.view = doc, canvas, view
        self.levels = doc.levels
        self.ask_name = _ask_name  # replaced in tests to answer the name prompt
        K = QKeySequence
        self.act_group = self._action("&Group into Block…", self.group_selection, K("Ctrl+G"))
        self.act_ungroup = self._action("&Ungroup Block", self.ungroup_selection,
                                        K("Ctrl+Shift+G"))
        self.act_open = self._action("&Open Block", self.open_selected, None)
        self.act_up = self._action("Go &Up a Level", self.levels.up, K("Alt+Up"))
        self.act_expand = self._action(self.EXPAND, self.toggle_expanded, K("E"))
        self.actions = [self.act_group, self.act_ungroup, self.act_open, self.act_expand,
                        self.act_up]
        canvas.selectionChanged.connect(self._enable)
        canvas.expansionChanged.connect(self._enable)
        canvas.innerDoubleClicked.connect(self.open_at)
        self.levels.changed.connect(self._enable)
        self._index = doc.undo_stack.index()
        doc.undo_stack.indexChanged.connect(self._follow_undo)
        self._enable()

    EXPAND, COLLAPSE = "E&xpand Block in Place", "Colla&pse Block"

    def _action(self, text, slot, shortcut) -> QAction:
        act = QAction(text, self.parent() or self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(lambda _=False: slot())
        return act

    def _enable(self) -> None:
        if not shiboken6.isValid(self.canvas):
            return  # the window is being torn down
        ids = self.canvas.selected_node_ids()
        graph = self.canvas.graph
        blocks = [i for i in ids if i in graph.nodes and graph.nodes[i].type == BLOCK]
        self.act_group.setEnabled(bool(ids))
        self.act_ungroup.setEnabled(bool(blocks))
        self.act_open.setEnabled(len(blocks) == 1)
        self.act_expand.setEnabled(len(blocks) == 1)
        expanded = len(blocks) == 1 and blocks[0] in self.canvas.expanded
        self.act_expand.setText(self.COLLAPSE if expanded else self.EXPAND)
        self.act_up.setEnabled(self.levels.depth > 0)

    # ---- group / ungroup -----------------------------------------------------------------

    def default_name(self) -> str:
        lib, k = self.doc.graph.blocks, 1
        while f"Block {k}" in lib:
            k += 1
        return f"Block {k}"

    def group_selection(self, name: str | None = None) -> str | None:
        """Group the selected nodes into a new block; returns the instance's id."""
        if self.doc.locked:  # the dry run below would touch the graph a run uses
            self.doc.editRefused.emit(self.doc.lock_reason)
            return None
        ids = self.canvas.selected_node_ids()
        if not ids:
            self.message.emit("Select the nodes to group into a block first")
            return None
        if name is None:
            name, ok = self.ask_name(self.view.window(), "Group into block",
                                     "Name of the new block:", self.default_name())
            if not ok:
                return None
        name = name.strip()
        try:
            self.doc.graph.blocks.check_name(name)
            if name in self.doc.graph.blocks:
                raise BlockError(f"a block named {name!r} already exists")
            cmd = GroupCommand(self.canvas.graph, ids, name)
        except (GraphError, BlockError) as e:
            self.message.emit(str(e)[:1].upper() + str(e)[1:])
            return None
        self.canvas.push(cmd)
        self.canvas.select_nodes([cmd.instance_id])
        return cmd.instance_id

    def ungroup_selection(self) -> list[str]:
        graph = self.canvas.graph
        ids = [i for i in self.canvas.selected_node_ids()
               if i in graph.nodes and graph.nodes[i].type == BLOCK]
        if not ids:
            self.message.emit("Select a block instance to ungroup")
            return []
        try:
            cmd = UngroupCommand(graph, ids[0])
            self.canvas.push(cmd)
        except GraphError as e:
            self.message.emit(str(e))
            return []
        self.canvas.select_nodes(cmd.node_ids)
        return cmd.node_ids

    # ---- levels ----------------------------------------------------------------------------

    def open_instance(self, node_id: str) -> bool:
        """Open a Block node of the shown graph in place; False for other nodes."""
        node = self.canvas.graph.nodes.get(node_id)
        if node is None or node.type != BLOCK:
            return False
        if node.params["block"] not in node.library:
            self.message.emit(f"{node.name}: block {node.params['block']!r} is not defined "
                              f"in this project")
            return True
        # Later: a double-click is still being delivered to the item the rebuild deletes.
        QTimer.singleShot(0, lambda: self._open(node_id))
        return True

    def _open(self, node_id: str) -> None:
        if self.levels.enter(node_id):
            self._fit()

    def toggle_expanded(self) -> None:
        """Expand the selected block in place, or collapse it (E)."""
        ids = [i for i in self.canvas.selected_node_ids()
               if i in self.canvas.graph.nodes and self.canvas.graph.nodes[i].type == BLOCK]
        if len(ids) == 1:
            self.canvas.toggle_expanded(ids[0])

    def open_at(self, instance_id: str, inner_id: str) -> None:
        """A layer inside an expanded block was double-clicked: open the block there."""
        def go():
            if self.levels.enter(instance_id):
                self._fit()
                center = getattr(self.view, "center_on_node", None)
                if center is not None:
                    center(inner_id)
        QTimer.singleShot(0, go)  # the double-click is still being delivered

    def open_selected(self) -> None:
        ids = self.canvas.selected_node_ids()
        if len(ids) == 1:
            self.open_instance(ids[0])

    def show_path(self, path, copies=()) -> None:
        """Open the blocks along `path` (node ids from the top level down, as the summary
        gives them) and select its last node. `copies` picks the repeat copy opened at each
        block on the way (copy 0 where it is not given), so its shapes are shown."""
        path = list(path)
        moved = self.levels.depth != 0 or len(path) > 1
        self.levels.go(0)
        for depth, nid in enumerate(path[:-1]):
            if not self.levels.enter(nid, copies[depth] if depth < len(copies) else 0):
                return
        if moved:
            self._fit()
        center = getattr(self.view, "center_on_node", None)
        if center is not None and path:
            center(path[-1])

    def show_in_block(self, block: str, node_id: str) -> None:
        """Open definition `block` (through its first instance) and select a node in it."""
        lib = self.doc.graph.blocks
        if block not in lib:
            return
        self.levels.show_graph(lib[block])
        self._fit()
        center = getattr(self.view, "center_on_node", None)
        if center is not None:
            center(node_id)

    def show_path_to(self, node_id: str) -> None:
        """A top-level node: shown at the top level (a problem or summary row's node)."""
        self.show_path([node_id])

    def key_pressed(self, event) -> bool:
        """The canvas's keys for levels: Esc goes up; Backspace too when nothing is
        selected (with a selection it deletes, as before)."""
        if self.levels.depth == 0:
            return False
        key = event.key()
        if key == Qt.Key.Key_Escape or (key == Qt.Key.Key_Backspace
                                        and not self.canvas.selectedItems()):
            self.levels.up()
            self._fit()
            return True
        return False

    def _fit(self) -> None:
        fit = getattr(self.view, "fit_all", None)
        if fit is not None:
            fit()

    def _follow_undo(self, index: int) -> None:
        """Undo/redo of an edit made at another level: show that level."""
        stack = self.doc.undo_stack
        if not shiboken6.isValid(stack) or not shiboken6.isValid(self.canvas):
            return
        before, self._index = self._index, index
        cmd = stack.command(index) if index < before else (
            stack.command(index - 1) if index > 0 else None)
        graph = _target_graph(cmd)
        if graph is not None and graph is not self.canvas.graph:
            lib = self.doc.graph.blocks
            if graph is self.doc.graph or lib.name_of(graph) is not None:
                self.levels.show_graph(graph)

    # ---- adding blocks ------------------------------------------------------------------------

    def add_block_at(self, payload: tuple[str, str], pos: QPointF) -> str | None:
        """Add an instance of a definition ((DEFINITION, name)) or of a classic
        ((CLASSIC, kind), defined first) at a scene position; returns its id."""
        kind, value = payload
        graph = self.canvas.graph
        x, y = pos.x() - NODE_W / 2, pos.y() - 40
        if self.canvas.snap:
            x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
        try:
            if kind == CLASSIC:
                cmd, node_id = add_block(graph, "", (x, y), classic=value)
            elif kind == DEFINITION:
                graph.blocks.check_use(graph, value)
                cmd, node_id = add_block(graph, value, (x, y))
            else:
                return None
        except (GraphError, BlockError, ValueError) as e:
            self.message.emit(str(e)[:1].upper() + str(e)[1:])
            return None
        self.canvas.push(cmd)
        self.canvas.select_nodes([node_id])
        return node_id

    def add_block_at_center(self, payload) -> str | None:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        return self.add_block_at(payload, QPointF(center))


def _target_graph(cmd):
    """The graph an undo command edits (a compound's first child's), or None."""
    seen = 0
    while cmd is not None and seen < 8:
        graph = getattr(cmd, "graph", None)
        if graph is not None:
            return graph
        children = getattr(cmd, "children", None)
        cmd = children[0] if children else None
        seen += 1
    return None
