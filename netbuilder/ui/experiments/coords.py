"""A parallel-coordinates plot of a sweep: one vertical axis per swept value and one for
the metric, one line per trial through its values, coloured from worst (light) to best
(dark). Axes are scaled to the values seen (log ranges on a log scale); choices are
spread evenly in their given order. Clicking a line selects that trial."""
from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ..widgets.plots import make_plot


class ParallelCoordinates(QWidget):
    trialClicked = Signal(int)  # a trial's number

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._plot = None  # made on first use: pyqtgraph is not imported at start-up
        self.lines: dict[int, object] = {}  # trial number -> its PlotDataItem
        self.selected: int | None = None
        QVBoxLayout(self).setContentsMargins(0, 0, 0, 0)

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(pal=self.palette())
            self._plot.hideAxis("left")
            self._plot.setMouseEnabled(x=False, y=False)
            self.layout().addWidget(self._plot)
        return self._plot

    def set_data(self, dims, metric: str, maximize: bool, rows: list[dict]) -> None:
        """dims: the sweep's Dimensions; rows: results rows ({dim name: value, metric: v})."""
        import pyqtgraph as pg

        self.plot.clear()
        self.lines = {}
        axes = [(d.name, d) for d in dims] + [(metric, None)]
        self.plot.hideAxis("bottom")
        self.plot.setXRange(-0.45, len(axes) - 0.55, padding=0)
        self.plot.setYRange(-0.14, 1.45, padding=0)
        muted, ink = self.palette().mid().color(), self.palette().text().color()
        scales = [_scale(d, [r.get(name) for r in rows]) for name, d in axes]
        for i, ((name, _), (_, lo_text, hi_text)) in enumerate(zip(axes, scales)):
            self.plot.plot([i, i], [0, 1], pen=pg.mkPen(muted, width=1))
            # the axis's name and top value above it, its bottom value below
            title = name.replace(".", ".\n").replace("_", " ")  # long names on two lines
            for y, text, anchor in ((0, lo_text, (0.5, 0)), (1, f"{title}\n{hi_text}",
                                                             (0.5, 1))):
                label = pg.TextItem(text, color=ink, anchor=anchor)
                label.setPos(i, y)
                self.plot.addItem(label)
        scored = [r for r in rows if isinstance(r.get(metric), (int, float))]
        order = sorted(scored, key=lambda r: r[metric], reverse=not maximize)  # worst first
        rank = {r["trial"]: k / max(1, len(order) - 1) for k, r in enumerate(order)}
        for r in rows:
            ys = [f(r.get(name)) for (name, _), (f, _, _) in zip(axes, scales)]
            if any(y is None for y in ys[:-1]):
                continue
            pts = [(i, y) for i, y in enumerate(ys) if y is not None]
            t = rank.get(r["trial"], 0.0)
            colour = QColor.fromHsvF(0.6, 0.25 + 0.7 * t, 0.95 - 0.45 * t)
            wide = r["trial"] == self.selected
            line = self.plot.plot([p[0] for p in pts], [p[1] for p in pts],
                                  pen=pg.mkPen(QColor("#e65100") if wide else colour,
                                               width=4 if wide else 2),
                                  symbol="o", symbolSize=5, symbolPen=None,
                                  symbolBrush=colour)
            line.setCurveClickable(True, width=8)
            line.sigClicked.connect(lambda _item, *_, n=r["trial"]: self.trialClicked.emit(n))
            self.lines[r["trial"]] = line

    def select(self, number: int | None) -> None:
        self.selected = number


def _scale(dim, values):
    """(value -> 0..1 or None, low label, high label) for one axis."""
    if dim is not None and dim.kind == "choice":
        index = {v: k for k, v in enumerate(dim.choices)}
        n = max(1, len(dim.choices) - 1)

        def choice(v):
            return index[v] / n if v in index else None
        return choice, str(dim.choices[0]), str(dim.choices[-1])
    nums = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    log = dim is not None and dim.log
    if dim is not None:
        lo, hi = dim.low, dim.high
    elif nums:
        lo, hi = min(nums), max(nums)
    else:
        lo, hi = 0.0, 1.0
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    span = (hi - lo) or 1.0

    def number(v):
        if not isinstance(v, (int, float)) or not math.isfinite(v) or (log and v <= 0):
            return None
        x = math.log10(v) if log else float(v)
        return (x - lo) / span
    shown = (10 ** lo, 10 ** hi) if log else (lo, hi)
    return number, f"{shown[0]:.3g}", f"{shown[1]:.3g}"


__all__ = ["ParallelCoordinates"]
