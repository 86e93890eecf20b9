"""How a frozen node looks on the canvas: the card dimmed and a padlock badge on its top
edge; a learning-rate multiplier other than 1 as a small "lr ×10" tag. Drawn with shapes,
not glyphs, so it looks the same whatever fonts the machine has. Called from
NodeItem.paint."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from .block_items import repeat_badge

LOCK = QColor("#455a64")  # blue-grey: "set aside", neither a warning nor an error


def tuning_tip(node) -> list[str]:
    """Tooltip lines for a node's fine-tuning settings."""
    out = []
    if node.frozen:
        out.append("<b>frozen</b>: its weights do not train (BatchNorm keeps its statistics)")
    if node.lr_mult != 1.0:
        out.append(f"learning rate ×{node.lr_mult:g}")
    return out


def _lock(painter: QPainter, cx: float, cy: float) -> None:
    """A padlock in a disc centred at (cx, cy)."""
    r = 9.0
    painter.setPen(QPen(QColor("#ffffff"), 1.5))
    painter.setBrush(LOCK)
    painter.drawEllipse(QRectF(cx - r, cy - r, 2 * r, 2 * r))
    painter.setPen(QPen(QColor("#ffffff"), 1.6))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    shackle = QPainterPath()
    shackle.moveTo(cx - 3.2, cy - 0.5)
    shackle.lineTo(cx - 3.2, cy - 3.0)
    shackle.arcTo(QRectF(cx - 3.2, cy - 6.4, 6.4, 6.4), 180, -180)
    shackle.lineTo(cx + 3.2, cy - 0.5)
    painter.drawPath(shackle)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(QRectF(cx - 5.0, cy - 1.0, 10.0, 7.0), 1.5, 1.5)


def paint_tuning_marks(painter: QPainter, item, rect: QRectF, body: QColor) -> None:
    node = item.node
    if node.frozen:
        veil = QColor(body)
        veil.setAlpha(150)  # the card's own colour over it: text and strip fade
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(veil)
        painter.drawRoundedRect(rect.adjusted(1.5, 1.5, -1.5, -1.5), 7, 7)
        # inside the card's top-right corner (left of a block's ×N badge), never clipped
        shift = 44 if repeat_badge(node) else 0
        _lock(painter, rect.right() - 17 - shift, rect.top() + 17)
    if node.lr_mult != 1.0:
        tag = f"lr ×{node.lr_mult:g}"
        f = QFont(painter.font())
        f.setPointSizeF(7.5)
        f.setBold(True)
        painter.setFont(f)
        fm = QFontMetricsF(f)
        w, h = fm.horizontalAdvance(tag) + 10, fm.height() + 2
        box = QRectF(rect.left() + 12, rect.top() - h / 2, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#6a1b9a"))
        painter.drawRoundedRect(box, h / 2, h / 2)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, tag)
