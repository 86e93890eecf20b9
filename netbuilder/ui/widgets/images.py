"""Arrays as images: `to_qimage` and a grid of captioned thumbnails."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget



def to_qimage(x: np.ndarray) -> QImage:
    """C×H×W (1 or 3 channels) or H×W, uint8 or float in [0, 1] -> a QImage (a copy)."""
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[0] not in (1, 3):
        a = a[:1]
    if a.dtype != np.uint8:
        a = np.clip(a.astype(np.float32) * 255.0, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[0] == 3:
        rgb = np.ascontiguousarray(a.transpose(1, 2, 0))
        h, w = rgb.shape[:2]
        return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    g = np.ascontiguousarray(a.reshape(a.shape[-2], a.shape[-1]))
    h, w = g.shape
    return QImage(g.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class ImageGrid(QWidget):
    """Small images with a caption under each, drawn pixelated so 8×8 digits stay legible.
    `items` is the list of (QImage, caption, caption colour or None) shown."""

    def __init__(self, parent: QWidget | None = None, cell: int = 64):
        super().__init__(parent)
        self.items: list[tuple[QImage, str, QColor | None]] = []
        self.cell = cell
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_items(self, items) -> None:
        self.items = list(items)
        self.updateGeometry()
        self.update()

    def _columns(self) -> int:
        return max(1, (self.width() - 8) // (self.cell + 8))

    def heightForWidth(self, w: int) -> int:
        cols = max(1, (w - 8) // (self.cell + 8))
        rows = -(-len(self.items) // cols)
        return 8 + rows * (self.cell + 8 + self.fontMetrics().height() + 4)

    def hasHeightForWidth(self) -> bool:
        return True

    def sizeHint(self) -> QSize:
        return QSize(8 * (self.cell + 8), self.heightForWidth(8 * (self.cell + 8)))

    def paintEvent(self, e) -> None:
        p = QPainter(self)
        pal = self.palette()
        fm = self.fontMetrics()
        cols = self._columns()
        text_h = fm.height()
        for i, (img, caption, colour) in enumerate(self.items):
            r, c = divmod(i, cols)
            x = 8 + c * (self.cell + 8)
            y = 8 + r * (self.cell + 8 + text_h + 4)
            target = QRectF(x, y, self.cell, self.cell)
            p.drawImage(target, img)  # no smoothing: pixels stay square
            p.setPen(pal.color(QPalette.ColorRole.Mid))
            p.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5))
            p.setPen(colour or pal.color(QPalette.ColorRole.Text))
            p.drawText(QRectF(x - 4, y + self.cell + 2, self.cell + 8, text_h),
                       Qt.AlignmentFlag.AlignCenter,
                       fm.elidedText(caption, Qt.TextElideMode.ElideRight, self.cell + 8))
        p.end()


def info_text(info) -> str:
    shape = "×".join(str(s) for s in info.input_shape)
