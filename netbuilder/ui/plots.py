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
    plot = pg.PlotWidget(background=pal.color(QPalette.ColorRole.Base))
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.showGrid(x=True, y=True, alpha=0.2)
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
    plot.setMinimumSize(160, 120)
    return plot


def add_legend(plot, pal: QPalette | None = None, offset=(-4, 4), alpha: int = 200,
               size: str = "7.5pt"):
    """A legend whose translucent background keeps the curves behind it visible."""
    import pyqtgraph as pg

    pal = pal or theme.palette()
    base = QColor(pal.color(QPalette.ColorRole.Base))
    base.setAlpha(alpha)
    legend = plot.addLegend(offset=offset, labelTextColor=pal.color(QPalette.ColorRole.Text),
                            brush=pg.mkBrush(base))
    legend.setLabelTextSize(size)
    return legend
