"""One tensor shown the way a person reads it: the numbers when there are few, a bar chart
for a vector, images for feature maps (one per channel)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QScrollArea, QStackedWidget, QWidget

from ..widgets.forms import plain
from ..widgets.images import ImageGrid, to_qimage
from ..widgets.plots import make_plot
from ..widgets.theme import class_colour

FEW = 16  # at most this many values: the numbers themselves
MAPS = 32  # feature maps drawn at most (the caption says how many there are)


def numbers_text(a: np.ndarray) -> str:
    """Small arrays as rows of numbers (a matrix keeps its rows)."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return f"{float(a):.6g}"
    rows = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a[None]
    return "\n".join("  ".join(f"{v:>10.4g}" for v in row) for row in rows)


def unit_range(a: np.ndarray) -> np.ndarray:
    """Values to [0, 1] for drawing (a constant map is mid grey)."""
    a = np.asarray(a, dtype=np.float32)
    lo, hi = float(a.min()), float(a.max())
    return np.full_like(a, 0.5) if hi - lo < 1e-12 else (a - lo) / (hi - lo)


class ValueView(QStackedWidget):
    """`show_array(a)`; `kind` says how it is shown: numbers | bars | maps | empty."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = "empty"
        self.numbers = plain(QLabel(alignment=Qt.AlignmentFlag.AlignLeft
                                    | Qt.AlignmentFlag.AlignTop))
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.numbers.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.maps = ImageGrid(cell=56)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.maps)
        self._maps_page = scroll
        self._plot = None
        self.addWidget(self.numbers)
        self.addWidget(scroll)

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(pal=self.palette())
            self._plot.setMouseEnabled(False, False)
            self.addWidget(self._plot)
        return self._plot

    def clear(self) -> None:
        self.kind = "empty"
        self.numbers.setText("")
        self.setCurrentWidget(self.numbers)

    def show_array(self, a, none_text: str = "—") -> None:
        if a is None:
            self.kind = "empty"
            self.numbers.setText(none_text)
            self.setCurrentWidget(self.numbers)
            return
        a = np.asarray(a, dtype=np.float32)
        if a.size <= FEW:
            self.kind = "numbers"
            self.numbers.setText(numbers_text(a))
            self.setCurrentWidget(self.numbers)
        elif a.ndim >= 3 or (a.ndim == 2 and min(a.shape) > 1):
            self.kind = "maps"
            maps = a.reshape(-1, *a.shape[-2:])
            shown = maps[:MAPS]
            self.maps.set_items([(to_qimage(unit_range(m)), f"{i}", None)
                                 for i, m in enumerate(shown)])
            self.maps.setToolTip(f"{len(maps)} map(s) of {a.shape[-2]}×{a.shape[-1]}, each "
                                 f"scaled to its own range (black = lowest)"
                                 + (f"; the first {MAPS} shown" if len(maps) > MAPS else ""))
            self.setCurrentWidget(self._maps_page)
        else:
            self.kind = "bars"
            self._bars(a.reshape(-1))

    def _bars(self, v: np.ndarray) -> None:
        import pyqtgraph as pg

        plot = self.plot
        plot.clear()
        colours = [class_colour(0) if x >= 0 else class_colour(1) for x in v]
        self.bars = pg.BarGraphItem(x=np.arange(len(v)), height=v, width=0.8,
                                    brushes=[pg.mkBrush(c) for c in colours], pen=None)
        plot.addItem(self.bars)
        plot.autoRange()
        self.setCurrentWidget(plot)
