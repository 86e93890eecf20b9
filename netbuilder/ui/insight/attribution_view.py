"""What the network looks at: saliency, Integrated Gradients, Grad-CAM and occlusion
(`insight.attribution`, captum) for the chosen sample, drawn over the input image, or as
bars over tabular features."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QStackedWidget,
                               QVBoxLayout, QWidget)

from ...insight.names import ATTRIBUTION_METHODS as METHODS, InsightError
from ..widgets.forms import plain
from ..widgets.images import ImageGrid, to_qimage
from ..widgets.plots import make_plot
from ..widgets.text import class_label
from ..widgets.theme import class_colour
from .values import unit_range


def heat_overlay(gray: np.ndarray, heat: np.ndarray, alpha: float = 0.85) -> np.ndarray:
    """3×H×W in [0, 1]: the image dimmed to half under a black-red-yellow-white heat map of
    `heat` (scaled to its own maximum), so the heat reads on white ink too."""
    g = 0.5 * np.clip(np.asarray(gray, np.float32), 0, 1)
    h = np.asarray(heat, np.float32)
    h = h / h.max() if h.max() > 0 else np.zeros_like(h)
    colour = np.stack([np.clip(3 * h, 0, 1), np.clip(3 * h - 1, 0, 1),
                       np.clip(3 * h - 2, 0, 1)])
    a = alpha * h
    return (1 - a) * g[None] + a * colour


class AttributionView(QWidget):
    explained = Signal()  # an attribution (or its error) is shown

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace = None
        self.sample = None  # (x, target, shown)
        self.result = None
        self.method = QComboBox()
        for key, text in METHODS.items():
            self.method.addItem(text, key)
        self.method.setCurrentIndex(list(METHODS).index("gradcam"))
        self.layer = QComboBox()
        self.layer.setToolTip("The convolution Grad-CAM looks at (its features after its "
                              "BatchNorm and activation); the last one is the usual choice")
        self.method.currentIndexChanged.connect(self._method_changed)
        self.explain_btn = QPushButton("Explain")
        self.explain_btn.clicked.connect(self.explain)
        row = QHBoxLayout()
        row.addWidget(QLabel("Method:"))
        row.addWidget(self.method)
        self.layer_label = QLabel("layer:")
        row.addWidget(self.layer_label)
        row.addWidget(self.layer, 1)
        row.addWidget(self.explain_btn)
        self.note = plain(QLabel("Choose a sample above and press Explain."))
        self.note.setWordWrap(True)
        self.images = ImageGrid(cell=150)
        self._plot = None
        self.pages = QStackedWidget()
        self.pages.addWidget(self.images)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.note)
        lay.addWidget(self.pages, 1)
        self._method_changed()

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(pal=self.palette(), left="attribution")
            self._plot.setMouseEnabled(False, False)
            self.pages.addWidget(self._plot)
        return self._plot

    def _method_changed(self, *_) -> None:
        grad_cam = self.method.currentData() == "gradcam"
        self.layer.setVisible(grad_cam)
        self.layer_label.setVisible(grad_cam)

    def set_workspace(self, ws) -> None:
        self.workspace = ws
        self.layer.clear()
        if ws is not None and ws.image:
            from ...insight.attribution import conv_layers

            for place, name, _ in conv_layers(ws.model, ws.project.graph, ws.x[:1]):
                self.layer.addItem(name, place)
            self.layer.setCurrentIndex(self.layer.count() - 1)

    def set_sample(self, x, target, shown) -> None:
        self.sample = (x, target, shown)

    def explain(self) -> None:
        ws = self.workspace
        if ws is None or self.sample is None:
            self.note.setText("Choose a sample above first (Start loads it).")
            self.explained.emit()
            return
        x, _, shown = self.sample
        method = self.method.currentData()
        from ...insight.attribution import attribute

        try:
            self.result = attribute(ws.model, ws.project.graph, x, method,
                                    baseline=ws.baseline(), layer=self.layer.currentData())
        except InsightError as e:
            self.result = None
            self.note.setText(str(e))
            self.explained.emit()
            return
        a = self.result
        what = class_label(ws.info, a.target) if ws.info is not None and \
            ws.info.is_classification else f"output {a.target}"
        where = f" on {a.layer}" if a.layer else ""
        self.note.setText(f"{METHODS[method]}{where} for the class {what} "
                          f"({'trained' if ws.trained else 'untrained'} weights). Brighter = "
                          f"more evidence for it.")
        if ws.image:
            self._draw_image(np.asarray(shown)[0], a.values)
        else:
            self._draw_bars(a.values.reshape(-1))
        self.explained.emit()

    def _draw_image(self, shown: np.ndarray, values: np.ndarray) -> None:
        gray = shown.mean(0) if shown.ndim == 3 else shown
        heat = np.abs(values).sum(0) if values.ndim == 3 else np.abs(values)
        self.images.set_items([
            (to_qimage(np.clip(shown, 0, 1)), "input", None),
            (to_qimage(unit_range(heat)), "attribution", None),
            (to_qimage(heat_overlay(gray, heat)), "overlay", None)])
        self.pages.setCurrentWidget(self.images)

    def _draw_bars(self, v: np.ndarray) -> None:
        import pyqtgraph as pg

        plot = self.plot
        plot.clear()
        brushes = [pg.mkBrush(class_colour(0 if x >= 0 else 1)) for x in v]
        self.bars = pg.BarGraphItem(x=np.arange(len(v)), height=v, width=0.7,
                                    brushes=brushes, pen=None)
        plot.addItem(self.bars)
        if len(v) <= 32:
            plot.getAxis("bottom").setTicks([[(i, f"x{i}") for i in range(len(v))]])
        plot.autoRange()
        self.pages.setCurrentWidget(plot)

    def clear(self) -> None:
        self.workspace = self.sample = self.result = None
        self.layer.clear()
        self.images.set_items([])
        self.note.setText("Choose a sample above and press Explain.")
