"""pyqtgraph plots coloured from the application palette, shared by every panel.

pyqtgraph is imported on first use (it costs ~0.5 s), so modules importing this one stay
cheap at start-up.
"""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from . import theme


def make_plot(title: str = "", left: str = "", bottom: str = "",
              pal: QPalette | None = None):
    import pyqtgraph as pg

    pal = pal or theme.palette()
    plot = _fitting_plot_class()(background=pal.color(QPalette.ColorRole.Base),
                                 axisItems={"left": _readable_axis_class()("left")})
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showGrid(x=True, y=True, alpha=0.2)
    for name in ("left", "bottom"):
        # grid lines at major ticks only: the minor ones tripled the paint time (measured:
        # loss plot 12.8 -> 3.6 ms per refresh), which the live views pay 10+ times a second
        plot.getAxis(name).setStyle(maxTickLevel=0)
    text = pal.color(QPalette.ColorRole.Text)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.muted_colour(pal)))
        axis.setTextPen(pg.mkPen(text))
    if title:
        plot.setTitle(title, color=text.name(), size="9pt")
    if left:
        plot.setLabel("left", left, color=text.name())
    if bottom:
        plot.setLabel("bottom", bottom, color=text.name())
    # docks share small screens; the dock scrolls below this (the width: FittingPlot's hint)
    plot.setMinimumHeight(90)
    return plot


_FITTING_PLOT = None


def _fitting_plot_class():
    """A PlotWidget as wide at least as its plot's own minimum (title, axes): pyqtgraph
    does not tell the widget's layout, so a title wider than the widget ("Gradient norm
    per layer" in a quarter of a 1366-pixel window) widened the drawing past the widget's
    edge and its right side was cut off. After changing a title, call updateGeometry()."""
    global _FITTING_PLOT
    if _FITTING_PLOT is None:
        import math

        import pyqtgraph as pg
        from PySide6.QtCore import QSize, Qt

        class FittingPlot(pg.PlotWidget):
            MIN_WIDTH = 120

            def minimumSizeHint(self):  # noqa: N802 (Qt's name)
                hint = super().minimumSizeHint()
                item = self.getPlotItem().effectiveSizeHint(Qt.SizeHint.MinimumSize)
                return QSize(max(self.MIN_WIDTH, math.ceil(item.width())), hint.height())

        _FITTING_PLOT = FittingPlot
    return _FITTING_PLOT


_READABLE_AXIS = None


def _readable_axis_class():
    """A vertical axis with no more labels than its height holds 1.2 lines apart:
    pyqtgraph counts ticks by length alone, and on a short plot (or in a larger font)
    0.8, 0.6, 0.4 and 0.2 were drawn on top of each other."""
    global _READABLE_AXIS
    if _READABLE_AXIS is None:
        import math

        import pyqtgraph as pg
        from PySide6.QtGui import QFontMetrics

        class ReadableAxis(pg.AxisItem):
            def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's)
                levels = super().tickSpacing(minVal, maxVal, size)
                if not levels or self.orientation not in ("left", "right"):
                    return levels
                line = QFontMetrics(self.style.get("tickFont") or self.font()).height()
                fit = max(2, int(size // (1.2 * line)) + 1)  # labels that fit apart
                major, offset = levels[0]
                span = abs(maxVal - minVal)
                while major > 0 and math.floor(span / major) + 1 > fit:
                    mantissa = round(major / 10 ** math.floor(math.log10(major)))
                    major *= 2.5 if mantissa == 2 else 2  # 1, 2, 5, 10, 20, 50 …
                return [(major, offset), *levels[1:]]

        _READABLE_AXIS = ReadableAxis
    return _READABLE_AXIS


def add_legend(plot, pal: QPalette | None = None, offset=None, alpha: int = 0,
               size: str = "7.5pt"):
    """A legend in its own row under the x axis, entries side by side: outside the data,
    so it never hides a curve. Curves plotted with `name=` join it (plotItem.legend)."""
    import pyqtgraph as pg

    pal = pal or theme.palette()
    item = plot.getPlotItem()
    if item.legend is not None:
        return item.legend
    legend = _row_legend_class()(horSpacing=8,
                                 labelTextColor=pal.color(QPalette.ColorRole.Text))
    legend.setLabelTextSize(size)
    if alpha:
        base = QColor(pal.color(QPalette.ColorRole.Base))
        base.setAlpha(alpha)
        legend.setBrush(pg.mkBrush(base))
    item.layout.addItem(legend, LEGEND_ROW, 1)  # rows 0-3: title, top axis, view, x axis
    item.legend = legend
    return legend


def panel_legend(plot, pal: QPalette | None = None):
    """The legend of the Data and Results panels' plots (a little larger)."""
    return add_legend(plot, pal, size="8pt")


LEGEND_ROW = 4
_ROW_LEGEND = None


def _row_legend_class():
    """pyqtgraph's LegendItem sizes itself by moving to (0, 0); in the plot's layout it
    must ask the layout instead. One row of entries (a row costs the plot ~15 px of
    height; wrapping would cost more), and a small minimum width, so that a legend never
    makes the plot wider than its widget (the whole drawing would be cut off): on a narrow
    plot the last entries are cut instead. Made lazily: pyqtgraph loads on first use."""
    global _ROW_LEGEND
    if _ROW_LEGEND is None:
        import pyqtgraph as pg
        from PySide6.QtCore import QSizeF, Qt
        from PySide6.QtWidgets import QSizePolicy

        class RowLegend(pg.LegendItem):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
                self.setFlag(self.GraphicsItemFlag.ItemClipsChildrenToShape)

            def _cell_width(self) -> float:
                gap = 2 * self.layout.horizontalSpacing()
                return max((s.boundingRect().width() + lab.minimumWidth() + gap
                            for s, lab in self.items), default=0.0)

            def _relayout(self) -> None:
                self.columnCount = max(1, len(self.items))
                for i in range(self.layout.count() - 1, -1, -1):
                    self.layout.removeAt(i)
                for i, (sample, label) in enumerate(self.items):
                    row, col = divmod(i, self.columnCount)
                    self.layout.addItem(sample, row, 2 * col,
                                        alignment=Qt.AlignmentFlag.AlignVCenter)
                    self.layout.addItem(label, row, 2 * col + 1)
                self.rowCount = -(-len(self.items) // self.columnCount)

            def _addItemToLayout(self, sample, label):  # noqa: N802 (pyqtgraph's hook)
                self._relayout()

            def updateSize(self):  # noqa: N802
                self._relayout()
                self.updateGeometry()

            def sizeHint(self, which, constraint=QSizeF()):  # noqa: N802
                hint = super().sizeHint(which, constraint)
                if which == Qt.SizeHint.MinimumSize:  # may be cut: never widens the plot
                    return QSizeF(min(hint.width(), self._cell_width()), hint.height())
                return hint

            def boundingRect(self):  # noqa: N802
                return self.rect()

            def mouseDragEvent(self, ev):  # noqa: N802 (it stays in its row)
                ev.ignore()

        _ROW_LEGEND = RowLegend
    return _ROW_LEGEND


class StickyRange:
    """Keeps a plot's view around its data without re-ranging on every refresh.

    pyqtgraph's auto-range moves the axes whenever the data grows, and repainting the axes
    (ticks, labels, grid) is most of a plot's paint time: ~12 ms of ~15 ms for the loss plot
    on this machine. Here a range changes only when the data leaves it or fills less than
    `shrink` of it, and then with `pad` to spare, so the axes stay cached between the few
    changes. `x` can be fixed in advance (e.g. 0..epochs when the run starts)."""

    def __init__(self, plot, pad: float = 0.08, shrink: float = 0.35, log_y: bool = False,
                 floor: float | None = None):
        self.plot, self.pad, self.shrink, self.log_y = plot, pad, shrink, log_y
        self.floor = floor  # y never starts above this (0 for losses and errors)
        self.x: tuple[float, float] | None = None
        self.y: tuple[float, float] | None = None
        self.fixed_x: tuple[float, float] | None = None
        self.fixed_y: tuple[float, float] | None = None
        plot.plotItem.vb.disableAutoRange()
        if log_y:  # a shorter plot has room for fewer labels
            plot.plotItem.vb.sigResized.connect(lambda *_: self._log_ticks())

    def _log_ticks(self) -> None:
        """Label the log axis with the ticks its height holds apart (1.2 lines at
        least: a 50-pixel-tall plot had four labels on top of each other)."""
        if self.y is None:
            return
        from PySide6.QtGui import QFontMetrics

        axis = self.plot.getAxis("left")
        line = QFontMetrics(axis.style.get("tickFont") or axis.font()).height()
        height = max(1.0, self.plot.plotItem.vb.height())
        axis.setTicks([log_ticks(*self.y, min_gap=min(1.0, 1.2 * line / height))])

    def reset(self, fixed_x=None, fixed_y=None) -> None:
        self.x = self.y = None
        self.fixed_x, self.fixed_y = fixed_x, fixed_y

    def _fit(self, cur, lo: float, hi: float, grow_right: bool) -> tuple[float, float] | None:
        import math

        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        span = max(hi - lo, abs(hi) * 1e-3, 1e-9)
        if cur is not None:
            inside = cur[0] <= lo and hi <= cur[1]
            if inside and span >= self.shrink * (cur[1] - cur[0]):
                return cur
        if grow_right:  # a growing axis (steps, snapshots): double ahead of the data
            return lo, lo + 2 * span
        pad = self.pad * span
        return (lo if lo == self.floor else lo - pad), hi + pad

    def update(self, x_lo: float, x_hi: float, y_lo: float, y_hi: float) -> None:
        """The data's bounds now (y in data units; log10 is taken for log plots)."""
        import math

        if self.log_y:
            if y_lo <= 0 or y_hi <= 0:
                return
            y_lo, y_hi = math.log10(y_lo), math.log10(y_hi)
        if self.floor is not None:
            y_lo = min(y_lo, self.floor)
        x = self.fixed_x or self._fit(self.x, x_lo, x_hi, grow_right=True)
        y = self.fixed_y or self._fit(self.y, y_lo, y_hi, grow_right=False)
        if x is None or y is None or (x == self.x and y == self.y):
            return
        self.x, self.y = x, y
        self.plot.plotItem.vb.setRange(xRange=x, yRange=y, padding=0)
        if self.log_y:
            self._log_ticks()


def log_ticks(lo: float, hi: float, most: int = 6,
              min_gap: float = 0.0) -> list[tuple[float, str]]:
    """Labelled ticks for a log axis spanning 10**lo..10**hi: decades, or 1-2-5 steps when
    the span is short (pyqtgraph labels every minor value then, and they overlap).
    `min_gap`: the least distance between two labels, as a share of the span (a short
    plot); then one label may be all there is room for."""
    import math

    for steps in ((1,), (1, 3), (1, 2, 5), tuple(range(1, 10))):
        ticks = []
        for k in range(math.floor(lo) - 1, math.ceil(hi) + 1):
            for m in steps:
                v = math.log10(m) + k
                if lo <= v <= hi:
                    ticks.append((v, f"{m * 10.0 ** k:g}"))
        if len(ticks) >= 3 or steps[-1] == 9:
            thin = -(-len(ticks) // most)  # keep at most `most` labels
            ticks = ticks[::thin] if len(ticks) > most else ticks
            if min_gap > 0 and len(ticks) > 1:  # ...and labels min_gap of the span apart
                kept = [ticks[0]]
                for t in ticks[1:]:
                    if t[0] - kept[-1][0] >= min_gap * (hi - lo):
                        kept.append(t)
                return kept
            break
    if len(ticks) < 2:  # less than a step between two labels: label both ends
        ticks = [(lo, f"{10.0 ** lo:.3g}"), (hi, f"{10.0 ** hi:.3g}")]
    return ticks
