"""The canvas's graphics items: a node card with its ports, and a wire between two ports.
Items only draw; the scene (scene.py) turns gestures on them into undo commands."""
from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPainter, QPainterPath,
                           QPainterPathStroker, QPalette, QPen)
from PySide6.QtWidgets import (QApplication, QGraphicsItem, QGraphicsObject,
                               QGraphicsPathItem, QStyleOptionGraphicsItem)

from ...core.graph import Edge, Node
from ...core.shapes import outputs_text
from ..widgets.text import short_int
from .block_items import paint_block_marks, repeat_badge
from .tuning_marks import paint_tuning_marks, tuning_tip
from ..widgets.theme import category_colour, is_dark, muted_colour, severity_colour

GRID = 20.0
NODE_W = 196.0
LOD_TEXT = 0.4  # below this zoom, nodes and wires are drawn without text
PORT_R = 6.0


class PortItem(QGraphicsItem):
    def __init__(self, node_item: "NodeItem", name: str, output: bool):
        super().__init__(node_item)
        self.node_item, self.name, self.output = node_item, name, output
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CrossCursor)
        self._hover = False
        self.setToolTip(("output " if output else "input ") + name)

    BOUNDS = QRectF(-PORT_R - 3, -PORT_R - 3, 2 * PORT_R + 6, 2 * PORT_R + 6)

    def boundingRect(self) -> QRectF:
        return self.BOUNDS

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
        self.problems: list = []  # the analysis's problems about this node
        self.expansion = None  # a block expanded in place: its frame (expansion.py)
        self.category = node.spec.category
        self._w, self._h = NODE_W, 80.0
        self.rebuild_ports()
        self.setPos(*node.pos)

    @property
    def node_id(self) -> str:
        return self.node.id

    def show_ports(self, on: bool) -> None:
        for port in [*self.inputs.values(), *self.outputs.values()]:
            port.setVisible(on)

    @property
    def width(self) -> float:
        return self._w

    @property
    def height(self) -> float:
        return self._h

    def set_size(self, w: float, h: float) -> None:
        """The card's size (a block's frame when expanded in place; ports are placed by
        the caller)."""
        self.prepareGeometryChange()
        self._w, self._h = w, h
        self._bounds = QRectF(-2, -8, w + 10, h + 14)  # health badges; a block's edges

    def card_height(self) -> float:
        """The height of the node's card (collapsed), from its port counts."""
        ins, outs = self.node.input_ports(), self.node.output_ports()
        return max(80.0, 26.0 + 22.0 * max(len(ins), len(outs)))

    def ports_changed(self) -> bool:
        """Whether the node's port lists differ from the port items (a merge's inputs)."""
        return (tuple(self.inputs) != tuple(self.node.input_ports())
                or tuple(self.outputs) != tuple(self.node.output_ports()))

    def rebuild_ports(self) -> None:
        for port in [*self.inputs.values(), *self.outputs.values()]:
            port.setParentItem(None)
            if port.scene():
                port.scene().removeItem(port)
        ins, outs = self.node.input_ports(), self.node.output_ports()
        self.set_size(NODE_W, self.card_height())
        self.inputs = {p: PortItem(self, p, False) for p in ins}
        self.outputs = {p: PortItem(self, p, True) for p in outs}
        self.show_ports(self.scene() is None or getattr(self.scene(), "ports_shown", True))
        for group, x in ((self.inputs, 0.0), (self.outputs, NODE_W)):
            n = len(group)
            for i, port in enumerate(group.values()):
                port.setPos(x, self._h * (i + 1) / (n + 1))
        for edge in list(self.edges):
            edge.update_path()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def key_text(self) -> str:
        spec, p = self.node.spec, self.node.params
        if self.node.type == "Block":  # its definition, e.g. "Block · Bottleneck ×3"
            return f"{p.get('block')} {repeat_badge(self.node)}".strip()
        bits = []
        for k in spec.key_params:
            v = p.get(k)
            if isinstance(v, list):
                v = "×".join(str(x) for x in v)
            bits.append(f"{k.replace('_', ' ').replace('out ', '')}={v}")
        return ", ".join(bits)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if self.expansion is not None:
            self.expansion.paint(painter, option)
            return
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
            shape = outputs_text(info)  # a block with several outputs: each port's
            cost = f"{short_int(info.params)} params" if info.params else ""
            cw = fm.horizontalAdvance(cost) if cost else 0
            painter.setPen(text)  # elided before the cost (several ports make it long)
            painter.drawText(QPointF(x0, self._h - 12),
                             fm.elidedText(shape, Qt.ElideRight, w - (cw + 8 if cw else 0)))
            if cost:
                painter.setPen(faint)
                painter.drawText(QPointF(NODE_W - 12 - cw, self._h - 12), cost)
        elif self.severity == "error":
            painter.setPen(severity_colour("error"))
            painter.drawText(QPointF(x0, self._h - 12), "⚠ see problems")
        paint_block_marks(painter, self, rect)  # stacked edge and ×N (block_items.py)
        paint_tuning_marks(painter, self, rect, body)  # frozen, lr × (tuning_marks.py)
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
        x = self._w - r - 2
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
        self.set_status(self.info, self.problems)

    def set_status(self, info, problems) -> None:
        key = (info, tuple(problems), self.node.name, self.node.type, self.node.frozen,
               self.node.lr_mult)
        if key == getattr(self, "_status_key", None):
            return  # unchanged: skip rebuilding the tooltip and repainting
        self._status_key = key
        self.problems = list(problems)
        self.info = info
        errs = [p for p in problems if p.severity == "error"]
        self.severity = "error" if errs else ("warning" if problems else None)
        tip = [f"<b>{self.node.name}</b> ({self.node.type})", self.node.spec.doc]
        tip += tuning_tip(self.node)
        if info is not None and info.output is not None:
            tip.append(f"output {outputs_text(info)}, {info.params:,} parameters, "
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
        self.note = ""  # the value it carries (the Insight step-through), shown over the shape
        self.error = False
        self.error_text: str | None = None
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
        self._ends = self.endpoints()
        self.line = QLineF(*self._ends)  # zoomed far out: the wire drawn as a straight line
        self.setPath(wire_path(*self._ends))
        self._bounds = self._label_bounds()

    def _label_bounds(self) -> QRectF:
        pad = 60 + 4 * len(self.note)  # room for the label box (a value is wider) at the middle
        return super().boundingRect().adjusted(-pad, -20, pad, 20)

    def shape(self) -> QPainterPath:
        s = QPainterPathStroker()
        s.setWidth(12)
        return s.createStroke(self.path())

    def boundingRect(self) -> QRectF:
        return self._bounds

    def set_status(self, shape_text: str, error_text: str | None) -> None:
        if (shape_text, error_text) == (self.label, self.error_text):
            return
        self.label, self.error_text = shape_text, error_text
        self.error = bool(error_text)
        self.setToolTip(f"{shape_text}" + (f"<br><span style='color:{severity_colour('error').name()}'>{error_text}</span>"
                                           if error_text else ""))
        self.update()

    def set_note(self, text: str) -> None:
        if text != self.note:
            self.prepareGeometryChange()  # a value is wider than a shape
            self.note = text
            self._bounds = self._label_bounds()
            self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pal = QApplication.palette()
        detail = option.levelOfDetailFromTransform(painter.worldTransform()) >= LOD_TEXT
        if not detail:  # zoomed far out: a plain line between the ports is enough
            painter.setRenderHint(QPainter.Antialiasing, False)
            painter.setPen(QPen(pal.color(QPalette.Highlight) if self.isSelected() else
                                severity_colour("error") if self.error else
                                pal.color(QPalette.Mid), 0))
            painter.drawLine(*self._ends)
            return
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
        label = self.note or self.label
        if label:
            f = QFont(painter.font())
            f.setPointSizeF(8)
            painter.setFont(f)
            fm = QFontMetricsF(f)
            mid = self.path().pointAtPercent(0.5)
            w, h = fm.horizontalAdvance(label) + 10, fm.height() + 2
            box = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
            painter.setPen(QPen(pal.color(QPalette.Highlight) if self.note else color, 1))
            painter.setBrush(pal.color(QPalette.Window))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(severity_colour("error") if self.error else pal.color(QPalette.Text))
            painter.drawText(box, Qt.AlignCenter, label)
