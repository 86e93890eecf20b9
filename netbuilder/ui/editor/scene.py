"""The node canvas: a QGraphicsScene that mirrors the graph and never writes to it.

Items are created and updated from graph events; every gesture (drop, wire, move,
delete, insert on a wire) becomes one undo command pushed on the document's stack.
"""
from __future__ import annotations

import weakref

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QApplication, QGraphicsPathItem, QGraphicsScene, QMenu

from ...core import registry
from ...core.blocks import BLOCK
from ...core.graph import Edge, Node
from ...core.layout import auto_layout
from ...core.shapes import output_of
from ..document import commands
from ..document.document import Document
from .expansion import Expansion, ExpandToggle, make_room
from .overview import set_drawn_by_view
from .items import GRID, NODE_W, EdgeItem, NodeItem, PortItem, wire_path


class Canvas(QGraphicsScene):
    """Mirrors the shown graph (`doc.levels.graph`: the top graph or an opened block
    definition). Gestures push commands; graph events update the items."""

    nodeDoubleClicked = Signal(str)
    innerDoubleClicked = Signal(str, str)  # a layer inside an expanded block: (block, layer)
    expansionChanged = Signal()  # a block was expanded in place or collapsed
    addRequestedAt = Signal(str, QPointF)
    message = Signal(str)  # why a gesture did nothing, or what it replaced: a status line

    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.snap = True
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self._wire_from: PortItem | None = None
        self._wire_item: QGraphicsPathItem | None = None
        self._press_pos: dict[str, tuple] = {}
        self.setItemIndexMethod(QGraphicsScene.BspTreeIndex)
        self._graph = None
        self.selectionChanged.connect(self._raise_selected)
        doc.projectReplaced.connect(self.rebuild)
        doc.levels.changed.connect(self.rebuild)
        doc.shapesChanged.connect(self._shapes_changed)
        doc.analysisChanged.connect(self.refresh_status)
        self._stale: set[str] | None = None  # nodes whose status to redo (None: every one)
        self._repaint: set[str] = set()  # edited nodes whose card waits for the shapes step
        self._flagged: set[str] = set()  # nodes shown with problems
        self.ports_shown = True  # False while zoomed too far out to see (or hit) a port
        # Block nodes shown expanded in place, per graph (view state: a level keeps its
        # expansions while a block is open and after going back up).
        self._expanded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._offsets: dict[str, tuple[float, float]] = {}  # room made for them (view only)
        self._room_timer = QTimer(self, singleShot=True, interval=0)
        self._room_timer.timeout.connect(self._make_room)
        self.rebuild()

    # ---- mirroring the model -------------------------------------------------------------

    @property
    def graph(self):
        return self.doc.levels.graph

    def _connect_graph(self) -> None:
        if self._graph is not None:
            ev = self._graph.events
            for sig, cb in self._handlers():
                getattr(ev, sig).disconnect(cb)
        self._graph = self.graph
        ev = self._graph.events
        for sig, cb in self._handlers():
            getattr(ev, sig).connect(cb)

    def _handlers(self):
        return (("node_added", self._node_added), ("node_removed", self._node_removed),
                ("node_changed", self._node_changed), ("edge_added", self._edge_added),
                ("edge_removed", self._edge_removed), ("reset", self.rebuild))

    def rebuild(self) -> None:
        if self._graph is not self.graph:
            self._connect_graph()
        self.nodes, self.edges = {}, {}  # first: clear() reports the selection change
        self.clear()
        self._wire_item = None
        self._stale, self._flagged = None, set()
        for node in self.graph.nodes.values():
            self._node_added(node)
        for edge in self.graph.edges:
            self._edge_added(edge)
        self._offsets = {}
        for nid in list(self.expanded):
            if not self._expand_item(nid):
                self.expanded.discard(nid)
        self._make_room()
        self.refresh_status()
        if getattr(self, "_badges", None):
            self.set_badges(self._badges)
        self._notes = {}  # wire notes name this level's node ids: another level has others

    def _node_added(self, node: Node) -> None:
        item = NodeItem(node)
        self.nodes[node.id] = item
        self.addItem(item)
        if not self.ports_shown:
            item.show_ports(False)
            set_drawn_by_view(item, True)
        if node.type == BLOCK:
            ExpandToggle(item)
        if self.expanded:
            self._room_timer.start()
        self._mark(node.id)

    def _mark(self, node_id: str) -> None:
        if self._stale is not None:
            self._stale.add(node_id)

    def _node_removed(self, node: Node) -> None:
        item = self.nodes.pop(node.id, None)
        self.expanded.discard(node.id)
        if item is not None:
            self.removeItem(item)
        if self._offsets or self.expanded:
            self._room_timer.start()

    def _node_changed(self, node: Node, what: str) -> None:
        item = self.nodes.get(node.id)
        if item is None:
            return
        if what == "pos":
            dx, dy = self._offsets.get(node.id, (0.0, 0.0))
            if (item.pos().x(), item.pos().y()) != (node.pos[0] + dx, node.pos[1] + dy):
                item.setPos(node.pos[0] + dx, node.pos[1] + dy)
                item.follow()
            if self.expanded or self._offsets:
                self._room_timer.start()  # a moved card or frame: make room anew
        elif what == "params" and item.ports_changed():
            item.rebuild_ports()
        elif what == "tuning":
            item.set_status(item.info, getattr(item, "_problems", []))  # its tooltip
        if what != "pos":
            self._mark(node.id)
        if what == "params" and self.doc.analysis_enabled and self._stale is not None:
            self._repaint.add(node.id)  # with its new shapes, a moment later: one paint
        else:
            item.update()

    def _edge_added(self, edge: Edge) -> None:
        item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst])
        self.edges[edge] = item
        self.addItem(item)
        if not self.ports_shown:
            set_drawn_by_view(item, True)
        self._mark(edge.src)

    def _edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is not None:
            item.detach()
            self.removeItem(item)

    def _shapes_changed(self) -> None:
        """New shapes, problems to follow: show the renewed nodes' shapes at once (at the
        top level only the nodes whose info changed are touched)."""
        if self.doc.levels.depth == 0 and self._stale is not None:
            self._stale |= self.doc.changed_infos
        else:
            self._stale = None
        self._show_status(keep_problems=True)

    def refresh_status(self) -> None:
        """Shapes and problems onto the items: the stale nodes and those with problems now
        or before (every node after a rebuild or inside a block)."""
        if self.doc.levels.depth:
            self._stale = None
        self._show_status(keep_problems=False)

    def _show_status(self, keep_problems: bool) -> None:
        infos = self.doc.levels.infos()
        by_node: dict[str, list] = {}
        if not keep_problems:
            for p in self.doc.levels.problems():
                if p.node_id:
                    by_node.setdefault(p.node_id, []).append(p)
        if self._stale is None:
            ids = set(self.nodes)
        else:
            ids = self._stale | set(by_node) | self._flagged
            ids &= self.nodes.keys()
        touched = set()
        for nid in ids:
            item = self.nodes[nid]
            problems = item.problems if keep_problems else by_node.get(nid, [])
            item.set_status(infos.get(nid), problems)
            touched |= item.edges
            if nid in self.expanded:  # its definition may have changed: build it anew
                self._expand_item(nid)
                item.expansion.set_status(infos.get(nid))
                self._room_timer.start()
        for item in (self.edges.values() if self._stale is None else touched):
            out = output_of(infos.get(item.edge.src), item.edge.src_port)  # its own port's
            shape = str(out) if out is not None else ""
            if keep_problems:
                error = item.error_text
            else:
                errs = [p.message for p in by_node.get(item.edge.dst, []) if p.code == "shape"]
                error = errs[0] if errs else None
            item.set_status(shape, error)
        if not keep_problems:
            self._flagged = set(by_node)
        for nid in self._repaint & self.nodes.keys():  # their parameters show on the card
            self.nodes[nid].update()
        self._repaint.clear()
        self._stale = set()

    # ---- blocks expanded in place (expansion.py) ------------------------------------------

    @property
    def expanded(self) -> set[str]:
        """The shown graph's Block nodes that are expanded in place."""
        return self._expanded.setdefault(self.graph, set())

    def toggle_expanded(self, node_id: str) -> bool:
        """Expand a Block node in place, or collapse it when it is; True when it is now
        expanded."""
        if node_id in self.expanded:
            self.collapse(node_id)
            return False
        return self.expand(node_id)

    def expand(self, node_id: str) -> bool:
        if node_id not in self.expanded and self._expand_item(node_id):
            self.expanded.add(node_id)
            self.nodes[node_id].expansion.set_status(self.doc.levels.infos().get(node_id))
            self._raise_selected()
            self._make_room()
            self.expansionChanged.emit()
        return node_id in self.expanded

    def collapse(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        self.expanded.discard(node_id)
        if item is not None and item.expansion is not None:
            item.expansion.remove()
            set_drawn_by_view(item, self.overview)
            self._place_toggle(item)
            self._raise_selected()
            self._make_room()
            self.expansionChanged.emit()

    def _expand_item(self, node_id: str) -> bool:
        """(Re)build the frame of Block node `node_id`; False when it cannot expand."""
        item = self.nodes.get(node_id)
        node = self.graph.nodes.get(node_id)
        if item is None or node is None or node.type != BLOCK \
                or node.params["block"] not in self.graph.blocks:
            return False
        if item.expansion is not None:
            item.expansion.remove()
        Expansion(item, self.graph.blocks[node.params["block"]], node.params["repeat"])
        set_drawn_by_view(item, False)  # a frame paints itself at every zoom
        self._place_toggle(item)
        return True

    def _make_room(self) -> None:
        """Move the cards the expanded frames would cover aside (view only)."""
        self._room_timer.stop()
        offsets = make_room(self.graph, self.nodes, self.expanded)
        for nid in self._offsets.keys() | offsets.keys():
            item, node = self.nodes.get(nid), self.graph.nodes.get(nid)
            if item is None or node is None:
                continue
            (x, y), (dx, dy) = node.pos, offsets.get(nid, (0.0, 0.0))
            if (item.x(), item.y()) != (x + dx, y + dy):
                item.setPos(x + dx, y + dy)
                item.follow()
        self._offsets = offsets

    def offset_of(self, node_id: str) -> tuple[float, float]:
        """How far the card is shown from its stored position (room for a frame)."""
        return self._offsets.get(node_id, (0.0, 0.0))

    @staticmethod
    def _place_toggle(item) -> None:
        for child in item.childItems():
            if isinstance(child, ExpandToggle):
                child.place()

    # ---- selection helpers -----------------------------------------------------------------

    def _raise_selected(self) -> None:
        for item in self.nodes.values():  # an expanded frame over the cards it covers
            item.setZValue(2 if item.isSelected() else 1.5 if item.expansion else 1)

    def set_detail(self, on: bool) -> None:
        """Full cards when a view is zoomed in enough to read them; below that the view
        draws the overview (overview.py): ports hidden (nothing to paint or hit-test),
        cards and wires painted by the view in one pass."""
        if on == self.ports_shown:
            return
        self.ports_shown = on
        for item in self.nodes.values():
            item.show_ports(on)
            set_drawn_by_view(item, not on and item.expansion is None)
            for inner in item.expansion.nodes.values() if item.expansion else ():
                inner.show_ports(on)
        for edge in self.edges.values():
            set_drawn_by_view(edge, not on)

    @property
    def overview(self) -> bool:
        return not self.ports_shown

    def node_rects(self) -> list[QRectF]:
        """Every node card's scene rectangle (cheaper than asking Qt item by item for
        bounding rectangles, which calls back into Python for each item and port)."""
        return [QRectF(i.x(), i.y(), i.width, i.height) for i in self.nodes.values()]

    def nodes_rect(self) -> QRectF:
        """The rectangle around every node card (empty without nodes)."""
        out = QRectF()
        for r in self.node_rects():
            out = out.united(r)
        return out

    def set_badges(self, badges: dict) -> None:
        """Training-health badges by place ({} clears them all): a top-level node id, or
        "instance/copy/inner" inside a block; an opened block shows its copy's own."""
        from ...training.health import badges_at

        self._badges = badges
        shown = badges_at(badges, [(lv.instance, lv.copy) for lv in self.doc.levels.stack])
        for nid, item in self.nodes.items():
            item.set_badges(shown.get(nid, ()))

    def set_wire_notes(self, notes: dict) -> None:
        """Text over the wires out of these node ids of the shown level (the values the
        Insight step-through carries), keyed (node id, port) for a block with several
        outputs; {} gives back the shapes."""
        self._notes = notes
        for edge, item in self.edges.items():
            item.set_note(notes.get((edge.src, edge.src_port), notes.get(edge.src, "")))

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, ids) -> None:
        self.clearSelection()
        for nid in ids:
            if nid in self.nodes:
                self.nodes[nid].setSelected(True)

    def push(self, cmd) -> None:
        if cmd is not None:
            self.doc.undo_stack.push(cmd)

    # ---- gestures ---------------------------------------------------------------------------

    def delete_selection(self) -> None:
        self.push(commands.delete_nodes(self.graph, self.selected_node_ids(),
                                        self.selected_edges()))

    def add_node_at(self, type_name: str, pos: QPointF) -> str:
        """Add a layer at a scene position; dropped on a wire, it is inserted into it."""
        x, y = pos.x() - NODE_W / 2, pos.y() - 40
        if self.snap:
            x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
        graph = self.graph
        edge_item = self.edge_at(pos)
        spec = registry.get(type_name)
        if edge_item is not None and spec.input_ports({}) and spec.outputs:
            cmd = commands.insert_on_wire(graph, edge_item.edge, type_name, (x, y))
            self.push(cmd)
            new_id = cmd.children[0].node_id
        else:
            cmd = commands.AddNode(graph, type_name, (x, y))
            self.push(cmd)
            new_id = cmd.node_id
        self.select_nodes([new_id])
        return new_id

    def edge_at(self, pos: QPointF) -> EdgeItem | None:
        for item in self.items(QRectF(pos.x() - 6, pos.y() - 6, 12, 12)):
            if isinstance(item, EdgeItem) and not getattr(item, "inner", False) \
                    and item.shape().contains(pos):
                return item
        return None

    def port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem) and not getattr(item.node_item, "inner", False):
                return item
        return None

    def begin_wire(self, port: PortItem, pos: QPointF) -> None:
        self._wire_from = port
        pen = QPen(QApplication.palette().color(QPalette.Highlight), 2, Qt.DashLine)
        self._wire_item = self.addPath(QPainterPath(), pen)
        self._wire_item.setZValue(3)
        self.drag_wire(pos)

    def drag_wire(self, pos: QPointF) -> None:
        if self._wire_item is None:
            return
        start = self._wire_from.scenePos()
        a, b = (start, pos) if self._wire_from.output else (pos, start)
        self._wire_item.setPath(wire_path(a, b))

    def end_wire(self, pos: QPointF) -> str | None:
        """Finish a wire drag at `pos`. Returns (and emits as `message`) why nothing was
        connected, or what the new wire replaced; None for a plain new wire or a drop
        off any port."""
        start = self._wire_from
        if self._wire_item is not None:
            self.removeItem(self._wire_item)
        self._wire_item, self._wire_from = None, None
        target = self.port_at(pos)
        if start is None or target is None:
            return None
        reason = self.wire_refusal(start, target)
        if reason is None:
            out, inp = (start, target) if start.output else (target, start)
            reason = self.connect_ports(out.node_item.node_id, out.name,
                                        inp.node_item.node_id, inp.name)
        if reason:
            self.message.emit(reason)
        return reason

    @staticmethod
    def wire_refusal(start: PortItem, target: PortItem) -> str | None:
        """Why a wire from port `start` cannot end on port `target` (None: it can)."""
        a, b = start.node_item.node, target.node_item.node
        if target.node_item is start.node_item:
            return f"Cannot wire {a.name} to itself: connect it to another layer"
        if target.output and start.output:
            return (f"Cannot connect output {start.name!r} of {a.name} to output "
                    f"{target.name!r} of {b.name}: a wire goes from an output to an input")
        if not target.output and not start.output:
            return (f"Cannot connect input {start.name!r} of {a.name} to input "
                    f"{target.name!r} of {b.name}: a wire goes from an output to an input")
        return None

    def connect_ports(self, src: str, src_port: str, dst: str, dst_port: str) -> str | None:
        """Wire src -> dst as one undo step; returns what it says in the status bar (the
        wire it replaced, or why it did nothing), None for a plain new wire."""
        graph = self.graph
        old = graph.edge_into(dst, dst_port)
        d = graph.node(dst)
        if old is not None and (old.src, old.src_port) == (src, src_port):
            return f"{graph.node(src).name} is already wired into {d.name}"
        if self.doc.locked:
            return self.doc.lock_reason
        cmd = commands.connect_replacing(graph, src, dst, src_port, dst_port)
        self.push(cmd)
        if old is None:
            return None
        return (f"Replaced the wire from {graph.node(old.src).name} into input "
                f"{dst_port!r} of {d.name} (Ctrl+Z brings it back)")

    def mousePressEvent(self, e):
        super().mousePressEvent(e)
        self._press_pos = {i.node_id: (i.pos().x(), i.pos().y())
                           for i in self.selectedItems() if isinstance(i, NodeItem)}

    def mouseReleaseEvent(self, e):
        super().mouseReleaseEvent(e)
        moves = {}
        for nid, old in self._press_pos.items():
            item = self.nodes.get(nid)
            if item is not None:
                dx, dy = self.offset_of(nid)  # stored without the room made for a frame
                new = (item.pos().x() - dx, item.pos().y() - dy)
                old = (old[0] - dx, old[1] - dy)
                if new != old:
                    moves[nid] = (self.graph.node(nid).pos, new)
        self._press_pos = {}
        if moves:  # one undo entry for the whole drag
            self.push(commands.Move(self.graph, moves))

    def contextMenuEvent(self, e):
        item = next((i for i in self.items(e.scenePos())
                     if isinstance(i, (NodeItem, EdgeItem))), None)
        while getattr(item, "inner", False):  # inside an expanded block: the block
            item = item.parentItem()
        menu = QMenu()
        if isinstance(item, NodeItem):
            if not item.isSelected():
                self.select_nodes([item.node_id])
            menu.addAction("Rename…", lambda: self.nodeDoubleClicked.emit(item.node_id))
            menu.addAction("Delete", self.delete_selection)

        elif isinstance(item, EdgeItem):
            menu.addAction("Delete wire", lambda: self.push(
                commands.delete_nodes(self.graph, [], [item.edge])))
        else:
            add = menu.addMenu("Add layer")
            pos = e.scenePos()
            for cat, specs in registry.categories().items():
                sub = add.addMenu(cat)
                for spec in specs:
                    sub.addAction(spec.type, (lambda t: lambda: self.add_node_at(t, pos))(
                        spec.type))
        for view in self.views():  # let the window add its own actions (copy, paste …)
            if hasattr(view, "extend_context_menu"):
                view.extend_context_menu(menu, item)
        menu.exec(e.screenPos())

    def auto_layout(self) -> None:
        pos = auto_layout(self.graph)
        graph = self.graph
        moves = {nid: (graph.node(nid).pos, p) for nid, p in pos.items()
                 if graph.node(nid).pos != p}
        if moves:
            cmd = commands.Move(graph, moves)
            cmd.setText("Auto layout")
            self.push(cmd)
