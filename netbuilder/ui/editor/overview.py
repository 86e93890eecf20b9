"""The zoomed-out canvas drawn in one pass: below the text zoom (items.LOD_TEXT) the cards
and wires stop painting themselves (ItemHasNoContents) and the view draws them all as
plain rectangles and lines, a few batched calls instead of one Python call per item, so a
2,000-node overview pans and zooms smoothly. The items stay for selection and hit tests."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QGraphicsItem

from ..widgets.theme import category_colour, severity_colour

NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


def set_drawn_by_view(item, on: bool) -> None:
    """An item the overview draws (on) or that paints itself (off)."""
    item.setFlag(NO_CONTENTS, on)


def paint_overview(painter: QPainter, canvas, rect: QRectF) -> None:
    """Every wire and collapsed card of `canvas`, batched by colour (the painter clips to
    the exposed `rect`). Lean loops: this runs for every frame of a pan or zoom."""
    pal = QApplication.palette()
    highlight = pal.color(QPalette.ColorRole.Highlight)
    plain, error, selected = [], [], []
    for edge in canvas.edges.values():
        (selected if edge.isSelected() else error if edge.error else plain).append(
            edge.line)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    for lines, colour in ((plain, pal.color(QPalette.ColorRole.Mid)),
                          (error, severity_colour("error")), (selected, highlight)):
        if lines:
            painter.setPen(QPen(colour, 0))
            painter.drawLines(lines)
    cards: dict[object, list] = {}
    for item in canvas.nodes.values():
        if item.expansion is not None:  # a frame paints itself
            continue
        key = "selected" if item.isSelected() else item.severity or item.category
        cards.setdefault(key, []).append(item.sceneBoundingRect())  # (C++ builds it)
    painter.setPen(Qt.PenStyle.NoPen)
    for key, rects in cards.items():
        painter.setBrush(highlight if key == "selected" else severity_colour(key)
                         if key in ("error", "warning") else category_colour(key))
        painter.drawRects(rects)
