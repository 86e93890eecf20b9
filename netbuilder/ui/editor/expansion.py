"""A block instance expanded in place: its definition's layers drawn inside a frame on the
canvas the instance sits on, wired to the outside through the frame's ports; the frame's
− button (or E, or the context menu) collapses it back to its card.

Read-only: the layers inside belong to the definition, which every instance shares, so they
are edited by opening the block (double-click a layer inside: the block opens with that
layer selected). The frame itself moves, selects and deletes like the block's card. A
repeat shows its first copy, with the copy's shapes. Which blocks are expanded is view
state: nothing of it goes into the project.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QGraphicsItem

from ...core.blocks import PORT_IN, PORT_OUT
from ...core.layout import auto_layout
from ...core.shapes import output_of, outputs_text
from ..widgets.text import short_int
from ..widgets.theme import category_colour, is_dark
from .items import GRID, LOD_TEXT, NODE_W, EdgeItem, NodeItem

HEADER = 44.0  # the frame's title lines
PAD = 24.0


class ExpandToggle(QGraphicsItem):
    """The small +/− button at the top-right corner of a block's card or frame."""

    SIZE = 16.0

    def __init__(self, owner: NodeItem):
        super().__init__(owner)
        self.owner = owner
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.place()

    def place(self) -> None:
        expanded = self.owner.expansion is not None
        self.setPos(self.owner.width - self.SIZE - 6, 6)
        self.setToolTip("Collapse the block back to its card (E)" if expanded else
                        "Expand the block in place: its layers inside a frame (E)")
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.SIZE, self.SIZE)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOD_TEXT:
            return
        colour = category_colour(self.owner.node.spec.category)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(colour, 1.3))
        painter.setBrush(QApplication.palette().color(QPalette.ColorRole.Base))
        r = self.boundingRect().adjusted(1, 1, -1, -1)
        painter.drawRoundedRect(r, 3, 3)
        c, d = r.center(), 4.0
        painter.drawLine(QPointF(c.x() - d, c.y()), QPointF(c.x() + d, c.y()))
        if self.owner.expansion is None:  # "+": expand
            painter.drawLine(QPointF(c.x(), c.y() - d), QPointF(c.x(), c.y() + d))

    def mousePressEvent(self, e) -> None:
        e.accept()  # not a press on the card: no selection, no drag

    def mouseReleaseEvent(self, e) -> None:
        if self.boundingRect().contains(e.pos()) and self.scene() is not None:
            self.scene().toggle_expanded(self.owner.node_id)

    def mouseDoubleClickEvent(self, e) -> None:
        e.accept()  # the second click of a double-click is just a click: no block opens


class InnerNodeItem(NodeItem):
    """A layer inside an expanded block: drawn like any card, but it does not move, select
    or wire; a press goes to the frame (so dragging moves the whole frame)."""

    inner = True

    def __init__(self, node, owner: NodeItem):
        super().__init__(node)
        self.owner = owner
        self.setParentItem(owner)
        self.setFlags(QGraphicsItem.GraphicsItemFlag(0))
        for port in [*self.inputs.values(), *self.outputs.values()]:
            port.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            port.setAcceptHoverEvents(False)
            port.unsetCursor()

    def mouseDoubleClickEvent(self, e) -> None:
        scene = self.scene()
        if scene is not None:
            scene.innerDoubleClicked.emit(self.owner.node_id, self.node_id)


class InnerEdgeItem(EdgeItem):
    """A wire between two layers inside an expanded block (in the frame's coordinates)."""

    inner = True

    def __init__(self, edge, src: InnerNodeItem, dst: InnerNodeItem, owner: NodeItem):
        super().__init__(edge, src, dst)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
        self.setParentItem(owner)
        self.update_path()

    def endpoints(self) -> tuple[QPointF, QPointF]:
        a, b = super().endpoints()
        parent = self.parentItem()
        return (parent.mapFromScene(a), parent.mapFromScene(b)) if parent else (a, b)


class Expansion:
    """The frame of one expanded block item: builds the definition's layers as children of
    the item, sizes the item to hold them and puts its ports at their port layers."""

    def __init__(self, item: NodeItem, definition, repeat: int):
        self.item, self.graph, self.repeat = item, definition, repeat
        self.nodes: dict[str, InnerNodeItem] = {}
        self.edges: list[InnerEdgeItem] = []
        self.info = None
        item.expansion = self
        self._build()

    def _positions(self) -> dict[str, tuple[float, float]]:
        """The definition's own arrangement (as the user left it when it was open), or a
        fresh layout when its layers sit on top of each other (built through the API)."""
        pos = {nid: tuple(n.pos) for nid, n in self.graph.nodes.items()}
        if len(set(pos.values())) < len(pos):
            pos = auto_layout(self.graph)
        return pos

    def _build(self) -> None:
        pos = self._positions()
        x0 = min((p[0] for p in pos.values()), default=0.0)
        y0 = min((p[1] for p in pos.values()), default=0.0)
        right, bottom = NODE_W, 0.0
        for nid, node in self.graph.nodes.items():
            inner = InnerNodeItem(node, self.item)
            inner.show_ports(getattr(self.item.scene(), "ports_shown", True))
            x, y = pos[nid]
            inner.setPos(x - x0 + PAD, y - y0 + HEADER + PAD)
            self.nodes[nid] = inner
            right = max(right, inner.x() + inner.width)
            bottom = max(bottom, inner.y() + inner.height)
        for edge in self.graph.edges:
            src, dst = self.nodes.get(edge.src), self.nodes.get(edge.dst)
            if src is not None and dst is not None:
                self.edges.append(InnerEdgeItem(edge, src, dst, self.item))
        w, h = right + PAD, max(bottom + PAD, HEADER + 80.0)
        self.item.set_size(w, h)
        self._place_ports(w, h)
        self.item.follow()

    def _place_ports(self, w: float, h: float) -> None:
        """The frame's input ports at the heights of the BlockInput layers they feed, its
        output at the BlockOutput's, so the outside wires line up with the inside ones."""
        ins = {n.name: n.id for n in self.graph.nodes.values() if n.type == PORT_IN}
        outs = [n.id for n in self.graph.nodes.values() if n.type == PORT_OUT]
        for k, (name, port) in enumerate(self.item.inputs.items()):
            inner = self.nodes.get(ins.get(name))
            y = inner.y() + inner.height / 2 if inner else h * (k + 1) / (len(ins) + 1)
            port.setPos(0.0, y)
        for k, port in enumerate(self.item.outputs.values()):
            inner = self.nodes.get(outs[k]) if k < len(outs) else None
            port.setPos(w, inner.y() + inner.height / 2 if inner else h / 2)

    def remove(self) -> None:
        """Take the layers out of the item (it becomes a card again)."""
        scene = self.item.scene()
        for edge in self.edges:
            edge.detach()
        for child in [*self.edges, *self.nodes.values()]:
            child.setParentItem(None)
            if scene is not None and child.scene() is scene:
                scene.removeItem(child)
        self.nodes, self.edges = {}, []
        self.item.expansion = None
        self.item.rebuild_ports()  # the card's size and port places again

    def set_status(self, info) -> None:
        """Shapes of the first copy inside the instance's NodeInfo."""
        self.info = info
        infos = info.inner[0] if info is not None and info.inner else {}
        for nid, inner in self.nodes.items():
            inner.set_status(infos.get(nid), [])
        for edge in self.edges:
            out = output_of(infos.get(edge.edge.src), edge.edge.src_port)
            edge.set_status(str(out) if out is not None else "", None)
        self.item.update()

    # ---- drawing the frame ---------------------------------------------------------------

    def title(self) -> str:
        node = self.item.node
        text = f"{node.name} · {node.params.get('block')}"
        return text + (f" ×{self.repeat}" if self.repeat > 1 else "")

    def subtitle(self) -> str:
        bits = [f"copy 1 of {self.repeat} shown (all copies share these layers)"
                if self.repeat > 1 else "expanded in place",
                "double-click a layer to edit the block"]
        info = self.info
        if info is not None and info.output is not None:
            bits.append(f"{outputs_text(info)}, {short_int(info.params)} params")
        return " · ".join(bits)

    def paint(self, painter: QPainter, option) -> None:
        item = self.item
        pal = QApplication.palette()
        rect = QRectF(0, 0, item.width, item.height)
        colour = category_colour(item.node.spec.category)
        fill = QColor(pal.color(QPalette.ColorRole.Window))
        fill = fill.lighter(104) if not is_dark() else fill.darker(110)
        border = pal.color(QPalette.ColorRole.Highlight) if item.isSelected() else colour
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(border, 2.6 if item.isSelected() else 1.6, Qt.PenStyle.DashLine))
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 10, 10)
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOD_TEXT:
            return
        f = QFont(painter.font())
        f.setPointSizeF(9.5)
        f.setBold(True)
        painter.setFont(f)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        width = item.width - 44
        painter.drawText(QPointF(14, 19), QFontMetricsF(f).elidedText(
            self.title(), Qt.TextElideMode.ElideRight, width))
        f.setBold(False)
        f.setPointSizeF(8.5)
        painter.setFont(f)
        painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(QPointF(14, 36), QFontMetricsF(f).elidedText(
            self.subtitle(), Qt.TextElideMode.ElideRight, width))


def make_room(graph, items: dict, expanded) -> dict[str, tuple[float, float]]:
    """View-only offsets that move the cards an expanded frame would cover out of its way:
    the cards to its right in its row move right by the frame's extra width, the rows
    below it move down by its extra height (in whole grid steps). The graph's positions
    never change: a dragged card's new position is stored without its offset."""
    def steps(d: float) -> float:
        return -(-max(d, 0.0) // GRID) * GRID

    offsets: dict[str, list[float]] = {}
    for bid in expanded:
        block = items.get(bid)
        if block is None or block.expansion is None:
            continue
        bx, by = graph.nodes[bid].pos
        card = block.card_height()
        dx, dy = steps(block.width - NODE_W + GRID), steps(block.height - card + GRID)
        for nid, item in items.items():
            if nid == bid:
                continue
            x, y = graph.nodes[nid].pos
            off = offsets.setdefault(nid, [0.0, 0.0])
            if y < by + card and y + item.card_height() > by and x >= bx + NODE_W / 2:
                off[0] += dx  # beside it in its row
            elif y >= by + card:
                off[1] += dy  # a row below it
    return {nid: (o[0], o[1]) for nid, o in offsets.items() if o != [0.0, 0.0]}
