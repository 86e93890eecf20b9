"""The node canvas: a QGraphicsScene that mirrors the graph and never writes to it.

Items are created and updated from graph events; every gesture (drop, wire, move,
delete, insert on a wire) becomes one undo command pushed on the document's stack.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath,
                           QPainterPathStroker, QPalette, QPen)
from PySide6.QtWidgets import (QApplication, QGraphicsItem, QGraphicsObject,
                               QGraphicsPathItem, QGraphicsScene, QGraphicsView, QMenu,
                               QStyleOptionGraphicsItem)

from ..core import registry
from ..core.graph import Edge, Node
from ..core.layout import auto_layout
from . import commands
from .document import Document
from .palette import layer_from_mime
from .theme import category_colour, is_dark, muted_colour, severity_colour

GRID = 20.0
NODE_W = 196.0
LOD_TEXT = 0.4  # below this zoom, nodes and wires are drawn without text
PORT_R = 6.0



def short_int(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


class PortItem(QGraphicsItem):
    def __init__(self, node_item: "NodeItem", name: str, output: bool):
        super().__init__(node_item)
        self.node_item, self.name, self.output = node_item, name, output
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self._hover = False
        self.setToolTip(("output " if output else "input ") + name)

    def boundingRect(self) -> QRectF:
        r = PORT_R + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self) -> QPainterPath:
        p = QPainterPath()
        p.addEllipse(self.boundingRect())
        return p

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOD_TEXT:
            return
        color = category_colour(self.node_item.node.spec.category)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor("#fafafa") if is_dark() else QColor("#37474f"), 1.5))
        painter.setBrush(color.lighter(130) if self._hover else color)
        r = PORT_R + (1.5 if self._hover else 0)
        painter.drawEllipse(QPointF(0, 0), r, r)

    def hoverEnterEvent(self, e):
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, e):
        self._hover = False
        self.update()

    def mousePressEvent(self, e):
        if e.button() == Qt.LeftButton:
            if self.scene().doc.locked:  # a training run uses the graph: no new wires
                self.scene().doc.editRefused.emit(self.scene().doc.lock_reason)
                e.accept()
                return
            self.scene().begin_wire(self, e.scenePos())
            e.accept()
        else:
            super().mousePressEvent(e)

    def mouseMoveEvent(self, e):
        self.scene().drag_wire(e.scenePos())

    def mouseReleaseEvent(self, e):
        self.scene().end_wire(e.scenePos())


class NodeItem(QGraphicsObject):
    def __init__(self, node: Node):
        super().__init__()
        self.node = node
        self.info = None
        self.severity: str | None = None
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.edges: set["EdgeItem"] = set()
        self.badges: list[tuple[str, str]] = []  # training health: (kind, message)
        self._h = 80.0
        self.rebuild_ports()
        self.setPos(*node.pos)

    @property
    def node_id(self) -> str:
        return self.node.id

    def rebuild_ports(self) -> None:
        for port in [*self.inputs.values(), *self.outputs.values()]:
            port.setParentItem(None)
            if port.scene():
                port.scene().removeItem(port)
        ins, outs = self.node.input_ports(), self.node.output_ports()
        self.prepareGeometryChange()
        self._h = max(80.0, 26.0 + 22.0 * max(len(ins), len(outs)))
        self.inputs = {p: PortItem(self, p, False) for p in ins}
        self.outputs = {p: PortItem(self, p, True) for p in outs}
        for group, x in ((self.inputs, 0.0), (self.outputs, NODE_W)):
            n = len(group)
            for i, port in enumerate(group.values()):
                port.setPos(x, self._h * (i + 1) / (n + 1))
        for edge in list(self.edges):
            edge.update_path()

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -8, NODE_W + 6, self._h + 10)  # room for health badges on top

    def key_text(self) -> str:
        spec, p = self.node.spec, self.node.params
        bits = []
        for k in spec.key_params:
            v = p.get(k)
            if isinstance(v, list):
                v = "×".join(str(x) for x in v)
            bits.append(f"{k.replace('_', ' ').replace('out ', '')}={v}")
        return ", ".join(bits)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        pal = QApplication.palette()
        rect = QRectF(0, 0, NODE_W, self._h)
        cat = category_colour(self.node.spec.category)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOD_TEXT:
            # Zoomed far out, text is unreadable anyway: a coloured block is enough and
            # keeps a 2,000-node overview fast to draw.
            color = severity_colour(self.severity) if self.severity else cat
            painter.fillRect(rect, pal.color(QPalette.Highlight) if self.isSelected() else color)
            return
        dark = is_dark()
        painter.setRenderHint(QPainter.Antialiasing)
        body = pal.color(QPalette.Base) if not dark else QColor("#363a41")
        # Mid is nearly the background in dark palettes: outline with the muted text colour
        border = pal.color(QPalette.Mid) if not dark else muted_colour()
        width = 1.2
        if self.severity == "error":
            border, width = severity_colour("error"), 2.4
        elif self.severity == "warning":
            border, width = severity_colour("warning"), 2.0
        if self.isSelected():
            border, width = pal.color(QPalette.Highlight), 2.8
        painter.setPen(QPen(border, width))
        painter.setBrush(body)
        painter.drawRoundedRect(rect, 8, 8)
        # category strip on the left
        strip = QPainterPath()
        strip.addRoundedRect(QRectF(0, 0, 8, self._h), 4, 4)
        painter.fillPath(strip, cat)

        text = pal.color(QPalette.Text)
        faint = pal.color(QPalette.PlaceholderText)
        f = QFont(painter.font())
        f.setPointSizeF(9.5)
        f.setBold(True)
        painter.setFont(f)
        painter.setPen(text)
        fm = QFontMetricsF(f)
        x0, w = 16.0, NODE_W - 26.0
        painter.drawText(QPointF(x0, 19), fm.elidedText(self.node.name, Qt.ElideRight, w))
        f.setBold(False)
        f.setPointSizeF(8.5)
        painter.setFont(f)
        fm = QFontMetricsF(f)
        sub = self.node.type if self.node.name != self.node.type else ""
        key = self.key_text()
        line = " · ".join(s for s in (sub, key) if s)
        painter.setPen(faint)
        painter.drawText(QPointF(x0, 36), fm.elidedText(line, Qt.ElideRight, w))
        # footer: output shape and parameter count
        info = self.info
        if info is not None and info.output is not None:
            shape = str(info.output)
            cost = f"{short_int(info.params)} params" if info.params else ""
            painter.setPen(text)
            painter.drawText(QPointF(x0, self._h - 12), fm.elidedText(shape, Qt.ElideRight, w))
            if cost:
                painter.setPen(faint)
                cw = fm.horizontalAdvance(cost)
                painter.drawText(QPointF(NODE_W - 12 - cw, self._h - 12), cost)
        elif self.severity == "error":
            painter.setPen(severity_colour("error"))
            painter.drawText(QPointF(x0, self._h - 12), "⚠ see problems")
        if self.badges:
            self._paint_badges(painter)

    BADGE_STYLE = {"nan": ("#d32f2f", "!"), "exploding": ("#ef6c00", "↑"),
                   "vanishing": ("#1e88e5", "↓"), "dead_relu": ("#6d4c41", "✝")}

    def _paint_badges(self, painter: QPainter) -> None:
        """Small coloured discs at the top-right corner, one per health finding."""
        r = 8.0
        f = QFont(painter.font())
        f.setPointSizeF(7.5)
        f.setBold(True)
        painter.setFont(f)
        x = NODE_W - r - 2
        for kind, _ in self.badges[:4]:
            colour, glyph = self.BADGE_STYLE.get(kind, ("#757575", "?"))
            box = QRectF(x - r, -r + 2, 2 * r, 2 * r)
            painter.setPen(QPen(QColor("#ffffff"), 1.5))
            painter.setBrush(QColor(colour))
            painter.drawEllipse(box)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(box, Qt.AlignCenter, glyph)
            x -= 2 * r + 3

    def set_badges(self, badges) -> None:
        """Training-health badges [(kind, message)]: drawn at the top-right, messages in
        the tooltip. An empty list removes them."""
        badges = list(badges)
        if badges == self.badges:
            return
        self.badges = badges
        self._status_key = None  # rebuild the tooltip
        self.set_status(self.info, getattr(self, "_problems", []))

    def set_status(self, info, problems) -> None:
        key = (info, tuple(problems), self.node.name, self.node.type)
        if key == getattr(self, "_status_key", None):
            return  # unchanged: skip rebuilding the tooltip and repainting
        self._status_key = key
        self._problems = list(problems)
        self.info = info
        errs = [p for p in problems if p.severity == "error"]
        self.severity = "error" if errs else ("warning" if problems else None)
        tip = [f"<b>{self.node.name}</b> ({self.node.type})", self.node.spec.doc]
        if info is not None and info.output is not None:
            tip.append(f"output {info.output}, {info.params:,} parameters, "
                       f"{info.flops:,} FLOPs per sample")
        for p in problems:
            color = severity_colour(p.severity).name()
            tip.append(f"<span style='color:{color}'>{p.severity}: {p.message}</span>")
        for kind, message in self.badges:
            color = self.BADGE_STYLE.get(kind, ("#757575", ""))[0]
            tip.append(f"<span style='color:{color}'>training: {message}</span>")
        self.setToolTip("<br>".join(tip))
        self.update()

    # No itemChange override: PySide6 mis-counts references of the None it returns on
    # every position change and crashes after a few thousand moves. Edges follow in
    # mouseMoveEvent (drags) and in Canvas._node_changed (commands).
    def follow(self) -> None:
        for edge in self.edges:
            edge.update_path()

    def mouseMoveEvent(self, e):
        scene = self.scene()
        if scene.doc.locked:  # a training run uses the graph: nodes stay put
            return
        super().mouseMoveEvent(e)
        for item in scene.selectedItems():
            if isinstance(item, NodeItem):
                if scene.snap:
                    p = item.pos()
                    item.setPos(round(p.x() / GRID) * GRID, round(p.y() / GRID) * GRID)
                item.follow()

    def mouseDoubleClickEvent(self, e):
        self.scene().nodeDoubleClicked.emit(self.node_id)


def wire_path(a: QPointF, b: QPointF) -> QPainterPath:
    path = QPainterPath(a)
    if b.x() >= a.x() + 30 or abs(b.y() - a.y()) < 60:
        dx = max(40.0, abs(b.x() - a.x()) * 0.5)
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        return path
    # Backwards (e.g. into the next band of a wrapped layout): out, across the gap
    # between the rows, and back in, instead of a loop through other nodes.
    mid = (a.y() + b.y()) / 2
    r = 30.0
    path.cubicTo(QPointF(a.x() + r, a.y()), QPointF(a.x() + r, mid), QPointF(a.x(), mid))
    path.lineTo(QPointF(b.x(), mid))
    path.cubicTo(QPointF(b.x() - r, mid), QPointF(b.x() - r, b.y()), b)
    return path


class EdgeItem(QGraphicsPathItem):
    def __init__(self, edge: Edge, src: NodeItem, dst: NodeItem):
        super().__init__()
        self.edge, self.src, self.dst = edge, src, dst
        self.label = ""
        self.error = False
        self.setFlag(QGraphicsItem.ItemIsSelectable)
        self.setZValue(0)
        self.setAcceptHoverEvents(True)
        src.edges.add(self)
        dst.edges.add(self)
        self.update_path()

    def detach(self) -> None:
        self.src.edges.discard(self)
        self.dst.edges.discard(self)

    def endpoints(self) -> tuple[QPointF, QPointF]:
        sp = self.src.outputs.get(self.edge.src_port)
        dp = self.dst.inputs.get(self.edge.dst_port)
        a = sp.scenePos() if sp else self.src.scenePos()
        b = dp.scenePos() if dp else self.dst.scenePos()
        return a, b

    def update_path(self) -> None:
        self.prepareGeometryChange()
        self.setPath(wire_path(*self.endpoints()))

    def shape(self) -> QPainterPath:
        s = QPainterPathStroker()
        s.setWidth(12)
        return s.createStroke(self.path())

    def boundingRect(self) -> QRectF:
        return super().boundingRect().adjusted(-60, -20, 60, 20)

    def set_status(self, shape_text: str, error_text: str | None) -> None:
        if (shape_text, bool(error_text)) == (self.label, self.error) and \
                self.toolTip().endswith(error_text or shape_text):
            return
        self.label = shape_text
        self.error = bool(error_text)
        self.setToolTip(f"{shape_text}" + (f"<br><span style='color:{severity_colour('error').name()}'>{error_text}</span>"
                                           if error_text else ""))
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pal = QApplication.palette()
        painter.setRenderHint(QPainter.Antialiasing)
        color = severity_colour("error") if self.error else (
            muted_colour() if is_dark() else pal.color(QPalette.Mid).darker(130))
        if self.isSelected():
            color = pal.color(QPalette.Highlight)
        pen = QPen(color, 2.4 if self.isSelected() else 1.8)
        if self.error:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        if self.label and option.levelOfDetailFromTransform(painter.worldTransform()) >= LOD_TEXT:
            f = QFont(painter.font())
            f.setPointSizeF(8)
            painter.setFont(f)
            fm = QFontMetricsF(f)
            mid = self.path().pointAtPercent(0.5)
            w, h = fm.horizontalAdvance(self.label) + 10, fm.height() + 2
            box = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
            painter.setPen(QPen(color, 1))
            painter.setBrush(pal.color(QPalette.Window))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(severity_colour("error") if self.error else pal.color(QPalette.Text))
            painter.drawText(box, Qt.AlignCenter, self.label)


class Canvas(QGraphicsScene):
    """Mirrors `doc.graph`. Gestures push commands; graph events update the items."""

    nodeDoubleClicked = Signal(str)
    addRequestedAt = Signal(str, QPointF)

    def __init__(self, doc: Document, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.snap = True
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self._wire_from: PortItem | None = None
        self._wire_item: QGraphicsPathItem | None = None
        self._press_pos: dict[str, tuple] = {}
        self.setItemIndexMethod(QGraphicsScene.NoIndex)  # many moving items
        self._graph = None
        self.selectionChanged.connect(self._raise_selected)
        doc.projectReplaced.connect(self.rebuild)
        doc.analysisChanged.connect(self.refresh_status)
        self.rebuild()

    # ---- mirroring the model -------------------------------------------------------------

    def _connect_graph(self) -> None:
        if self._graph is not None:
            ev = self._graph.events
            for sig, cb in self._handlers():
                getattr(ev, sig).disconnect(cb)
        self._graph = self.doc.graph
        ev = self._graph.events
        for sig, cb in self._handlers():
            getattr(ev, sig).connect(cb)

    def _handlers(self):
        return (("node_added", self._node_added), ("node_removed", self._node_removed),
                ("node_changed", self._node_changed), ("edge_added", self._edge_added),
                ("edge_removed", self._edge_removed), ("reset", self.rebuild))

    def rebuild(self) -> None:
        if self._graph is not self.doc.graph:
            self._connect_graph()
        self.clear()
        self.nodes, self.edges = {}, {}
        self._wire_item = None
        for node in self.doc.graph.nodes.values():
            self._node_added(node)
        for edge in self.doc.graph.edges:
            self._edge_added(edge)
        self.refresh_status()

    def _node_added(self, node: Node) -> None:
        item = NodeItem(node)
        self.nodes[node.id] = item
        self.addItem(item)

    def _node_removed(self, node: Node) -> None:
        item = self.nodes.pop(node.id, None)
        if item is not None:
            self.removeItem(item)

    def _node_changed(self, node: Node, what: str) -> None:
        item = self.nodes.get(node.id)
        if item is None:
            return
        if what == "pos":
            if (item.pos().x(), item.pos().y()) != node.pos:
                item.setPos(*node.pos)
                item.follow()
        elif what == "params":
            item.rebuild_ports()
        item.update()

    def _edge_added(self, edge: Edge) -> None:
        item = EdgeItem(edge, self.nodes[edge.src], self.nodes[edge.dst])
        self.edges[edge] = item
        self.addItem(item)

    def _edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is not None:
            item.detach()
            self.removeItem(item)

    def refresh_status(self) -> None:
        infos = self.doc.infos
        by_node: dict[str, list] = {}
        for p in self.doc.problems:
            if p.node_id:
                by_node.setdefault(p.node_id, []).append(p)
        for nid, item in self.nodes.items():
            item.set_status(infos.get(nid), by_node.get(nid, []))
        for edge, item in self.edges.items():
            src = infos.get(edge.src)
            shape = str(src.output) if src is not None and src.output is not None else ""
            dst_errs = [p.message for p in by_node.get(edge.dst, []) if p.code == "shape"]
            item.set_status(shape, dst_errs[0] if dst_errs else None)

    # ---- selection helpers -----------------------------------------------------------------

    def _raise_selected(self) -> None:
        for item in self.nodes.values():
            item.setZValue(2 if item.isSelected() else 1)

    def set_badges(self, badges: dict) -> None:
        """Training-health badges per node id ({} clears them all)."""
        for nid, item in self.nodes.items():
            item.set_badges(badges.get(nid, ()))

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
        self.push(commands.delete_nodes(self.doc.graph, self.selected_node_ids(),
                                        self.selected_edges()))

    def add_node_at(self, type_name: str, pos: QPointF) -> str:
        """Add a layer at a scene position; dropped on a wire, it is inserted into it."""
        x, y = pos.x() - NODE_W / 2, pos.y() - 40
        if self.snap:
            x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
        graph = self.doc.graph
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
            if isinstance(item, EdgeItem) and item.shape().contains(pos):
                return item
        return None

    def port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos):
            if isinstance(item, PortItem):
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

    def end_wire(self, pos: QPointF) -> None:
        start = self._wire_from
        if self._wire_item is not None:
            self.removeItem(self._wire_item)
        self._wire_item, self._wire_from = None, None
        target = self.port_at(pos)
        if start is None or target is None or target.output == start.output \
                or target.node_item is start.node_item:
            return
        out, inp = (start, target) if start.output else (target, start)
        self.connect_ports(out.node_item.node_id, out.name, inp.node_item.node_id, inp.name)

    def connect_ports(self, src: str, src_port: str, dst: str, dst_port: str) -> None:
        self.push(commands.connect_replacing(self.doc.graph, src, dst, src_port, dst_port))

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
                new = (item.pos().x(), item.pos().y())
                if new != old:
                    moves[nid] = (self.doc.graph.node(nid).pos, new)
        self._press_pos = {}
        if moves:  # one undo entry for the whole drag
            self.push(commands.Move(self.doc.graph, moves))

    def contextMenuEvent(self, e):
        item = next((i for i in self.items(e.scenePos())
                     if isinstance(i, (NodeItem, EdgeItem))), None)
        menu = QMenu()
        if isinstance(item, NodeItem):
            if not item.isSelected():
                self.select_nodes([item.node_id])
            menu.addAction("Rename…", lambda: self.nodeDoubleClicked.emit(item.node_id))
            menu.addAction("Delete", self.delete_selection)
        elif isinstance(item, EdgeItem):
            menu.addAction("Delete wire", lambda: self.push(
                commands.delete_nodes(self.doc.graph, [], [item.edge])))
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
        pos = auto_layout(self.doc.graph)
        graph = self.doc.graph
        moves = {nid: (graph.node(nid).pos, p) for nid, p in pos.items()
                 if graph.node(nid).pos != p}
        if moves:
            cmd = commands.Move(graph, moves)
            cmd.setText("Auto layout")
            self.push(cmd)


class CanvasView(QGraphicsView):
    """Zoom with the wheel, pan with the middle button or space+drag, rubber-band select,
    drop layers from the palette (onto a wire to insert them)."""

    zoomChanged = Signal(float)

    def __init__(self, scene: Canvas, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setSceneRect(-50_000, -50_000, 100_000, 100_000)
        self._space = False
        self._pan_from = None
        self.context_menu_hook = None

    @property
    def canvas(self) -> Canvas:
        return self.scene()

    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        z = self.zoom() * factor
        if 0.05 <= z <= 4.0:
            self.scale(factor, factor)
            self.zoomChanged.emit(self.zoom())

    def fit_all(self) -> None:
        rect = self.canvas.itemsBoundingRect()
        if rect.isEmpty():
            rect = QRectF(-200, -150, 400, 300)
        self.fitInView(rect.adjusted(-40, -40, 40, 40), Qt.KeepAspectRatio)
        if self.zoom() > 1.25:  # do not blow a tiny graph up
            self.resetTransform()
            self.scale(1.25, 1.25)
            self.centerOn(rect.center())
        self.zoomChanged.emit(self.zoom())

    def center_on_node(self, node_id: str) -> None:
        item = self.canvas.nodes.get(node_id)
        if item is not None:
            self.canvas.select_nodes([node_id])
            self.centerOn(item.sceneBoundingRect().center())

    def extend_context_menu(self, menu, item) -> None:
        if self.context_menu_hook:
            self.context_menu_hook(menu, item)

    def wheelEvent(self, e):
        self.zoom_by(1.0015 ** e.angleDelta().y())

    def keyPressEvent(self, e):
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.ScrollHandDrag)
            return
        if e.key() in (Qt.Key_Delete, Qt.Key_Backspace):
            self.canvas.delete_selection()
            return
        super().keyPressEvent(e)

    def keyReleaseEvent(self, e):
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.RubberBandDrag)
            return
        super().keyReleaseEvent(e)

    def mousePressEvent(self, e):
        if e.button() == Qt.MiddleButton:
            self._pan_from = e.position()
            self.setCursor(Qt.ClosedHandCursor)
            return
        super().mousePressEvent(e)

    def mouseMoveEvent(self, e):
        if self._pan_from is not None:
            d = e.position() - self._pan_from
            self._pan_from = e.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
            return
        super().mouseMoveEvent(e)

    def mouseReleaseEvent(self, e):
        if e.button() == Qt.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            return
        super().mouseReleaseEvent(e)

    # palette drops
    def dragEnterEvent(self, e):
        if layer_from_mime(e.mimeData()):
            e.acceptProposedAction()
        else:
            e.ignore()  # let the window handle project files

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, e):
        type_name = layer_from_mime(e.mimeData())
        if type_name:
            self.canvas.add_node_at(type_name, self.mapToScene(e.position().toPoint()))
            e.acceptProposedAction()
        else:
            e.ignore()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        pal = QApplication.palette()
        painter.fillRect(rect, pal.color(QPalette.Window).darker(104 if not is_dark() else 90))
        if self.zoom() < 0.35:
            return
        step = GRID * 2
        color = pal.color(QPalette.Mid)
        color.setAlpha(110)
        painter.setPen(QPen(color, 1.6 / max(self.zoom(), 0.1)))
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        pts = []
        y = top
        while y < rect.bottom():
            x = left
            while x < rect.right():
                pts.append(QPointF(x, y))
                x += step
            y += step
        painter.drawPoints(pts)


class Minimap(QGraphicsView):
    """An overview of the whole graph with the main view's visible area outlined;
    clicking moves the main view there."""

    def __init__(self, view: CanvasView, parent=None):
        super().__init__(view.scene(), parent)
        self.main = view
        self.setInteractive(False)
        self.setRenderHints(QPainter.Antialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFixedSize(200, 130)
        self.setFrameShape(QGraphicsView.StyledPanel)
        self.wanted = True  # the user's choice (View > Minimap)
        view.horizontalScrollBar().valueChanged.connect(self.refit)
        view.verticalScrollBar().valueChanged.connect(self.refit)
        view.zoomChanged.connect(self.refit)
        view.scene().changed.connect(self.refit)

    def set_wanted(self, on: bool) -> None:
        self.wanted = on
        self.refit()

    def refit(self, *args) -> None:
        """Shown only when wanted and the graph does not fit in the main view."""
        rect = self.scene().itemsBoundingRect()
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        self.setVisible(self.wanted and not rect.isEmpty() and not visible.contains(rect))
        if self.isVisible():
            self.fitInView(rect.adjusted(-80, -80, 80, 80), Qt.KeepAspectRatio)
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        color = QApplication.palette().color(QPalette.Highlight)
        painter.setPen(QPen(color, 2 / max(self.transform().m11(), 1e-3)))
        fill = QColor(color)
        fill.setAlpha(40)
        painter.setBrush(QBrush(fill))
        painter.drawRect(visible)

    def mousePressEvent(self, e):
        self.main.centerOn(self.mapToScene(e.position().toPoint()))
        self.viewport().update()
