"""A confusion matrix drawn as a heat map."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from ..widgets import theme


class ConfusionMatrix(QWidget):
    """A heat map of counts: rows are the true class, columns the predicted one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), np.int64)
        self.labels: list[str] = []
        self.setMinimumSize(260, 220)

    def set_matrix(self, matrix, labels) -> None:
        self.matrix = np.asarray(matrix, dtype=np.int64)
        self.labels = [str(s) for s in labels]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 380)

    def paintEvent(self, e) -> None:
        k = len(self.matrix)
        p = QPainter(self)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        if k == 0:
            p.setPen(theme.muted_colour(pal))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No confusion matrix yet")
            return
        fm = self.fontMetrics()
        label_w = min(110, max(fm.horizontalAdvance(s) for s in self.labels) + 10)
        top, left = fm.height() * 2 + 6, label_w + fm.height() + 6
        size = max(4.0, min((self.width() - left - 6) / k, (self.height() - top - 6) / k))
        p.setPen(text)
        p.drawText(QRectF(left, 0, size * k, fm.height()), Qt.AlignmentFlag.AlignCenter,
                   "predicted")
        p.save()
        p.translate(fm.height() - 2, top + size * k / 2)
        p.rotate(-90)
        p.drawText(QRectF(-size * k / 2, -fm.height(), size * k, fm.height()),
                   Qt.AlignmentFlag.AlignCenter, "true")
        p.restore()
        peak = max(1, int(self.matrix.max()))
        base = pal.color(QPalette.ColorRole.Base)
        hi = QColor("#3574f0") if theme.is_dark(pal) else QColor("#2f6fde")
        small = size < fm.height() * 1.2
        for i in range(k):
            y = top + i * size
            name = fm.elidedText(self.labels[i], Qt.TextElideMode.ElideRight, label_w - 6)
            p.setPen(text)
            p.drawText(QRectF(left - label_w, y, label_w - 6, size),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            p.drawText(QRectF(left + i * size, fm.height() + 2, size, fm.height()),
                       Qt.AlignmentFlag.AlignCenter,
                       fm.elidedText(self.labels[i], Qt.TextElideMode.ElideRight, int(size)))
            for j in range(k):
                v = int(self.matrix[i, j])
                t = (v / peak) ** 0.5 if v else 0.0
                c = QColor.fromRgbF(base.redF() + (hi.redF() - base.redF()) * t,
                                    base.greenF() + (hi.greenF() - base.greenF()) * t,
                                    base.blueF() + (hi.blueF() - base.blueF()) * t)
                r = QRectF(left + j * size, y, size, size)
                p.fillRect(r, c)
                if i == j:
                    p.setPen(theme.ok_colour(pal))
                    p.drawRect(r.adjusted(0.5, 0.5, -1, -1))
                if not small:
                    p.setPen(QColor("white") if t > 0.55 else text)
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(v))
        p.setPen(pal.color(QPalette.ColorRole.Mid))
        p.drawRect(QRectF(left, top, size * k, size * k))
        p.end()
