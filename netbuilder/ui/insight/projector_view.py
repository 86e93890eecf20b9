"""How the network organises the data: one layer's activations on the test set in 2-D
(`insight.projector`: PCA or t-SNE), coloured by class; hovering a point shows its sample.
Computed on a worker thread; set_workspace (a new run) projects again."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from ...insight.names import PROJECTION_METHODS as METHODS
from ..widgets.background import Background
from ..widgets.forms import plain
from ..widgets.images import ImageGrid, to_qimage
from ..widgets.plots import make_plot
from ..widgets.text import class_label
from ..widgets.theme import class_colour


class ProjectorView(QWidget):
    projected = Signal()  # a projection (or its error) is shown

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = None
        self.projection = None
        self.error = ""
        self.worker = Background(self)
        self.worker.done.connect(self._done)
        self.layer = QComboBox()
        self.method = QComboBox()
        for key, text in METHODS.items():
            self.method.addItem(text, key)
        self.project_btn = QPushButton("Project")
        self.project_btn.clicked.connect(self.run)
        row = QHBoxLayout()
        row.addWidget(QLabel("Layer:"))
        row.addWidget(self.layer, 1)
        row.addWidget(self.method)
        row.addWidget(self.project_btn)
        self.note = plain(QLabel("Train a model, or press Project for the untrained one."))
        self.note.setWordWrap(True)
        self._plot = None  # made on first use: pyqtgraph costs ~0.5 s at start-up
        self.plot_host = QWidget()
        QVBoxLayout(self.plot_host).setContentsMargins(0, 0, 0, 0)
        self.hover = ImageGrid(cell=96)
        self.hover_text = plain(QLabel("Hover a point to see its sample."))
        self.hover_text.setWordWrap(True)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.hover_text)
        sl.addWidget(self.hover, 1)
        split = QSplitter()
        split.addWidget(self.plot_host)
        split.addWidget(side)
        split.setSizes([600, 160])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.note)
        lay.addWidget(split, 1)
        self.points = None

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(pal=self.palette())
            self.plot_host.layout().addWidget(self._plot)
        return self._plot

    def set_workspace(self, ws, run: bool = False) -> None:
        """New weights or data; `run` projects at once (after training)."""
        self.workspace = ws
        self.layer.clear()
        if ws is None:
            return
        from ...insight.projector import default_layer, layer_choices

        graph = ws.project.graph
        for place, name in layer_choices(ws.model, graph, ws.x[:1]):
            self.layer.addItem(name, place)
        wanted = default_layer(ws.model, graph, ws.x[:1])
        self.layer.setCurrentIndex(max(0, self.layer.findData(wanted)))
        if run:
            self.run()

    def run(self) -> None:
        ws = self.workspace
        if ws is None:
            self.note.setText("No model yet: open a project with a dataset.")
            return
        place, method = self.layer.currentData(), self.method.currentData()
        self.note.setText(f"Projecting {len(ws.y)} test samples with {METHODS[method]}…")
        from ...insight.capture import clone_model
        from ...insight.projector import project

        model = clone_model(ws.model)  # the other views hook and run ws.model meanwhile
        self.worker.run(lambda: project(model, ws.project.graph, ws.x, ws.labels, place,
                                        method, ws.project.training.seed))

    def _done(self, token, projection, error) -> None:
        if token != self.worker.token:
            return
        if error is not None:
            self.error = str(error)
            self.note.setText(f"Cannot project: {error}")
            self.projected.emit()
            return
        self.error = ""
        self.projection = p = projection
        ws = self.workspace
        sil = f"; class separation (silhouette) {p.silhouette:.3f}" \
            if p.silhouette is not None else ""
        self.note.setText(f"{p.name}: {len(p.points)} test samples, {METHODS[p.method]} "
                          f"({'trained' if ws.trained else 'untrained'} weights){sil}")
        self._draw(p)
        self.projected.emit()

    def _draw(self, p) -> None:
        import pyqtgraph as pg

        self.plot.clear()
        labels = p.labels if len(p.labels) else np.zeros(len(p.points), np.int64)
        brushes = [pg.mkBrush(class_colour(int(k))) for k in labels]
        self.points = pg.ScatterPlotItem(p.points[:, 0], p.points[:, 1], size=6, pen=None,
                                         brush=brushes, data=np.arange(len(p.points)),
                                         hoverable=True, hoverSize=10)
        self.points.sigHovered.connect(self._hovered)
        self.plot.addItem(self.points)
        self.plot.autoRange()

    def _hovered(self, item, points, ev) -> None:
        if len(points):
            self.show_sample(int(points[0].data()))

    def show_sample(self, i: int) -> None:
        """The test sample behind point i, as the hover shows it."""
        ws = self.workspace
        if ws is None:
            return
        label = class_label(ws.info, ws.y[i]) if ws.info is not None else ""
        self.hover_text.setText(f"test sample {i}" + (f": {label}" if label else ""))
        if ws.image:
            self.hover.set_items([(to_qimage(np.clip(ws.shown[i], 0, 1)), label, None)])
        else:
            flat = np.asarray(ws.shown[i]).reshape(-1)
            values = ", ".join(f"{v:.3g}" for v in flat[:8]) + (" …" if flat.size > 8 else "")
            self.hover_text.setText(self.hover_text.text() + f"\n[{values}]")
            self.hover.set_items([])

    def clear(self) -> None:
        self.worker.token += 1
        self.workspace = self.projection = self.points = None
        self.layer.clear()
        if self._plot is not None:
            self._plot.clear()
        self.note.setText("Train a model, or press Project for the untrained one.")
