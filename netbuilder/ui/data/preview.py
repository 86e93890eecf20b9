"""The Data panel's preview: images, a table, a scatter or curve plot, series or sentences,
whichever suits the data (`netbuilder.data.preview.load_preview` loads what it shows)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QLabel, QScrollArea, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QTextBrowser, QVBoxLayout,
                               QWidget)

from ...data.preview import preview_kind
from ..widgets import theme
from ..widgets.images import ImageGrid, to_qimage
from ..widgets.plots import make_plot, panel_legend
from ..widgets.text import class_label, html
from ..widgets.theme import class_colour

PREVIEW_ROWS = 50


class Preview(QStackedWidget):
    """Shows the loaded preview in the form that suits the data."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = "message"
        self.message = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setMargin(16)
        self.images = ImageGrid()
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(self.images)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.text = QTextBrowser()
        self._plot = None
        self._plot_host = QWidget()
        QVBoxLayout(self._plot_host).setContentsMargins(0, 0, 0, 0)
        for w in (self.message, scroll, self.table, self.text, self._plot_host):
            self.addWidget(w)
        self._pages = {"message": self.message, "images": scroll, "table": self.table,
                       "text": self.text, "plot": self._plot_host}
        self.show_message("Choose a dataset to preview it.")

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(pal=self.palette())
            self._legend = panel_legend(self._plot, self.palette())
            self._plot_host.layout().addWidget(self._plot)
        return self._plot

    def _page(self, key: str) -> None:
        self.setCurrentWidget(self._pages[key])

    def show_message(self, text: str) -> None:
        self.kind = "message"
        self.message.setText(text)
        self._page("message")

    def show_preview(self, p: dict) -> None:
        self.kind = preview_kind(p)
        getattr(self, f"_show_{self.kind}")(p)

    def _show_images(self, p) -> None:
        info = p["info"]
        self.images.set_items([(to_qimage(x), class_label(info, y), None)
                               for x, y in zip(p["x"], p["y"])])
        self._page("images")

    def _show_table(self, p) -> None:
        info, x, y = p["info"], p["x"], p["y"]
        x = x.reshape(len(x), -1)
        rows = min(PREVIEW_ROWS, len(x))
        cols = x.shape[1]
        target = "class" if info.is_classification else "target"
        self.table.clear()
        self.table.setRowCount(rows)
        self.table.setColumnCount(cols + 1)
        names = list(p.get("columns") or ())
        names = names if len(names) == cols else [f"x{i}" for i in range(cols)]
        self.table.setHorizontalHeaderLabels(names + [target])
        for r in range(rows):
            for c in range(cols):
                item = QTableWidgetItem(f"{float(x[r, c]):.4g}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            label = QTableWidgetItem(class_label(info, y[r]))
            if info.is_classification:
                label.setForeground(class_colour(int(y[r])))
            self.table.setItem(r, cols, label)
        self.table.resizeColumnsToContents()
        self._page("table")

    def _reset_plot(self):
        plot = self.plot
        plot.clear()
        self._legend.clear()
        plot.setAspectLocked(False)
        plot.enableAutoRange()
        return plot

    def _show_scatter(self, p) -> None:
        import pyqtgraph as pg

        plot = self._reset_plot()
        info, x, y = p["info"], p["x"], p["y"]
        self.scatter_items = []
        for k in range(info.num_classes):
            pts = x[y == k]
            item = pg.ScatterPlotItem(pts[:, 0], pts[:, 1], size=5, pen=None,
                                      brush=pg.mkBrush(class_colour(k)),
                                      name=class_label(info, k))
            plot.addItem(item)
            self.scatter_items.append(item)
        plot.setAspectLocked(True)
        plot.autoRange()
        self._page("plot")

    def _show_curve(self, p) -> None:
        import pyqtgraph as pg

        plot = self._reset_plot()
        x, y = p["x"][:, 0], p["y"][:, 0]
        dot = self.palette().color(QPalette.ColorRole.Highlight)
        item = pg.ScatterPlotItem(x, y, size=4, pen=None, brush=pg.mkBrush(dot),
                                  name="samples (x, y)")
        plot.addItem(item)
        self.scatter_items = [item]
        plot.autoRange()
        self._page("plot")

    def _show_series(self, p) -> None:
        import pyqtgraph as pg

        plot = self._reset_plot()
        x, y = p["x"], p["y"]
        t = x.shape[1]
        self.series_items = []
        hollow = pg.mkBrush(self.palette().color(QPalette.ColorRole.Base))
        for i, start in enumerate((0, 5 * t // 4, 5 * t // 2)):
            if start >= len(x):
                break
            colour = class_colour(i)
            steps = np.arange(start, start + t)
            curve = plot.plot(steps, x[start, :, 0], pen=pg.mkPen(colour, width=2),
                              name=f"sample {start}: {t} steps" if i == 0 else None)
            target = pg.ScatterPlotItem([start + t], [float(y[start, 0])], size=9,
                                        symbol="o", pen=pg.mkPen(colour),
                                        brush=hollow,
                                        name="target (next value)" if i == 0 else None)
            plot.addItem(target)
            self.series_items.append(curve)
        plot.autoRange()
        self._page("plot")

    def _show_text(self, p) -> None:
        info, words = p["info"], p.get("words")
        rows = []
        for ids, y in zip(p["x"], p["y"]):
            ids = [int(i) for i in ids]
            if words:
                body = " ".join(words.get(i, "?") for i in ids if i != 0)
            else:
                body = " ".join(str(i) for i in ids)
            colour = theme.css(class_colour(int(y)))
            rows.append(f"<tr><td style='color:{colour}; padding-right:10px'><b>"
                        f"{class_label(info, y)}</b></td><td>{html(body)}</td></tr>")
        shown = "tokens decoded with the vocabulary (padding hidden)" if words else "token ids"
        self.text.setHtml(f"<table cellspacing=3>{''.join(rows)}</table>"
                          f"<p style='color:{theme.css(theme.muted_colour())}'>{shown}</p>")
        self.sentences = len(rows)
        self._page("text")
