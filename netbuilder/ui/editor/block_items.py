"""How a Block node's card differs from a layer's: a stacked-cards edge (it holds layers;
double-click opens it) and a ×N badge when it repeats. Called from NodeItem.paint."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from ...core.blocks import BLOCK
from ..widgets.theme import category_colour


def repeat_badge(node) -> str:
    """"×N" for a Block repeated N > 1 times, else ""."""
    if node.type != BLOCK:
        return ""
    n = node.params.get("repeat", 1)
    return f"×{n}" if isinstance(n, int) and n > 1 else ""


def paint_block_marks(painter: QPainter, item, rect: QRectF) -> None:
    node = item.node
    if node.type != BLOCK:
        return
    colour = category_colour(node.spec.category)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    # The edges of the cards "behind" this one: one more for a repeat.
    layers = 2 if repeat_badge(node) else 1
    for k in range(1, layers + 1):
        painter.setPen(QPen(colour, 1.4))
        d = 3.0 * k
        painter.drawLine(rect.left() + 10 + d, rect.bottom() + d,
                         rect.right() - 2 + d, rect.bottom() + d)
        painter.drawLine(rect.right() + d, rect.top() + 10 + d,
                         rect.right() + d, rect.bottom() - 2 + d)
    badge = repeat_badge(node)
    if not badge:
        return
    f = QFont(painter.font())
    f.setPointSizeF(8.5)
    f.setBold(True)
    painter.setFont(f)
    fm = QFontMetricsF(f)
    w, h = fm.horizontalAdvance(badge) + 12, fm.height() + 2
    room = 0.0 if getattr(item, "inner", False) else 22.0  # the +/− button (expansion.py)
    box = QRectF(rect.right() - w - 6 - room, rect.top() + 6, w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(box, h / 2, h / 2)
    painter.setPen(QColor("white"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, badge)
