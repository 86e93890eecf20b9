"""Live views of the model itself: feature maps of a conv layer, the decision boundary (2-D
classification), predictions against targets (regression, series), and a layer's activation
histogram over time."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from ...training.extras import Boundary, Predictions
from ..widgets import theme
from ..widgets.compact import ElidedLabel, FittingCombo
from ..widgets.plots import StickyRange, add_legend, make_plot

CLASS_COLOURS = theme.CLASS_COLOURS
HIST_ROWS = 48  # value bins of the histogram image
HIST_COLUMNS = 240  # newest snapshots shown


def image_view(plot):
    """An ImageItem (row-major: image[row, col]) in a plot with square pixels."""
    import pyqtgraph as pg

    item = pg.ImageItem(axisOrder="row-major")
    plot.addItem(item)
    plot.setAspectLocked(True)
    return item


def mosaic(maps: np.ndarray, pad: int = 1) -> np.ndarray:
    """C×H×W feature maps → one image, each map scaled to 0..1, NaN as padding."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:  # Conv1d: C×L, one row per channel
        maps = maps[:, None, :]
    c, h, w = maps.shape
    cols = int(math.ceil(math.sqrt(c * h / max(w, 1))))
    cols = max(1, min(c, cols))
    rows = int(math.ceil(c / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    for i in range(c):
        m = maps[i]
        lo, hi = np.nanmin(m), np.nanmax(m)
        m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        r, k = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, k * (w + pad): k * (w + pad) + w] = m
    return out


def rebin(edges: np.ndarray, counts: np.ndarray, lo: float, hi: float,
          rows: int = HIST_ROWS) -> np.ndarray:
    """Counts over `edges` spread onto `rows` equal bins over [lo, hi] (via the CDF)."""
    cdf = np.concatenate([[0.0], np.cumsum(counts, dtype=np.float64)])
    fixed = np.linspace(lo, hi, rows + 1)
    return np.diff(np.interp(fixed, edges.astype(np.float64), cdf))


def layer_label(lp) -> str:
    """"conv1 (Conv2d)"; just "Conv2d 1" when the name already says the type."""
    return lp.name if lp.name.startswith(lp.type) else f"{lp.name} ({lp.type})"


class LayerPicker(QWidget):
    """A title and a layer combo above a plot. In a narrow column the combo keeps the
    layer's name whole and the title gives way (elided; the tooltip says it all)."""

    def __init__(self, title: str, tip: str, plot, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        row = QHBoxLayout()
        self.title = ElidedLabel(title)
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setToolTip(tip)
        # elided, but never below its first word
        self.title.setMinimumWidth(self.title.fontMetrics().horizontalAdvance(
            title.split()[0] + "…"))
        row.addWidget(self.title, 1)
        self.combo = FittingCombo()
        self.combo.setToolTip(tip)
        row.addWidget(self.combo)
        lay.addLayout(row)
        lay.addWidget(plot, 1)
        self.plot = plot

    def set_layers(self, layers: list[tuple[str, str]]) -> None:
        """[(node id, label)]; keeps the current choice when it is still there."""
        have = [self.combo.itemData(i) for i in range(self.combo.count())]
        if have == [nid for nid, _ in layers]:
            return
        current = self.combo.currentData()
        self.combo.blockSignals(True)
        self.combo.clear()
        for nid, label in layers:
            self.combo.addItem(label, nid)
        i = self.combo.findData(current)
        self.combo.setCurrentIndex(max(0, i))
        self.combo.blockSignals(False)
        self.combo.updateGeometry()  # (signals were blocked) its width follows the choice

    def select(self, node_id: str) -> bool:
        i = self.combo.findData(node_id)
        if i >= 0:
            self.combo.setCurrentIndex(i)
        return i >= 0

    @property
    def node_id(self) -> str | None:
        return self.combo.currentData()


class FeatureMaps(LayerPicker):
    def __init__(self, parent=None):
        import pyqtgraph as pg

        plot = make_plot()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.invertY(True)
        super().__init__("Feature maps", "The chosen layer's feature maps on the probe "
                         "sample, one square per channel", plot, parent)
        self.image = image_view(plot)
        self.image.setLookupTable(pg.colormap.get("viridis").getLookupTable(nPts=256))
        self.maps: dict[str, np.ndarray] = {}
        self.combo.currentIndexChanged.connect(lambda *_: self.redraw(force=True))
        self._dirty = False

    def clear(self) -> None:
        self.maps = {}
        self.image.clear()
        self.set_layers([])

    def add(self, snap) -> None:
        layers = [(lp.node_id, layer_label(lp)) for lp in snap.layers
                  if lp.feature_maps is not None]
        for lp in snap.layers:
            if lp.feature_maps is not None:
                self.maps[lp.node_id] = lp.feature_maps
        if layers:
            self.set_layers(layers)
            self._dirty = True

    def redraw(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        maps = self.maps.get(self.node_id)
        if maps is None:
            return
        img = mosaic(maps)
        self.image.setImage(np.nan_to_num(img, nan=0.0), levels=(0.0, 1.0))
        self.image.setRect(QRectF(0, 0, img.shape[1], img.shape[0]))


class BoundaryView(QWidget):
    def __init__(self, parent=None):
        import pyqtgraph as pg

        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot = make_plot("Decision boundary (training points)")
        lay.addWidget(self.plot)
        self.image = image_view(self.plot)
        self.scatter = pg.ScatterPlotItem(size=5, pen=pg.mkPen("#263238", width=0.6))
        self.plot.addItem(self.scatter)
        self.latest: Boundary | None = None
        self._drawn_points = None

    def clear(self) -> None:
        self.latest, self._drawn_points = None, None
        self.image.clear()
        self.scatter.clear()

    def add(self, b: Boundary) -> None:
        self.latest = b

    def rgb(self, b: Boundary) -> np.ndarray:
        k = b.probs.shape[-1]
        cols = np.array([theme.class_colour(i).getRgbF()[:3]
                         for i in range(k)], np.float32)
        rgb = b.probs.astype(np.float32) @ cols  # H×W×3: the classes' colours mixed by p
        conf = b.probs.max(-1, keepdims=True)
        light = 1.0 - 0.55 * (conf - 1.0 / k) / (1.0 - 1.0 / k)  # unsure → pale
        return np.clip(rgb * (1 - light * 0.6) + light * 0.6, 0, 1)

    def redraw(self) -> None:
        b = self.latest
        if b is None:
            return
        self.latest = None
        img = (self.rgb(b) * 255).astype(np.uint8)
        self.image.setImage(img, levels=(0, 255))
        x0, x1, y0, y1 = b.extent
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        if self._drawn_points is not b.points:
            import pyqtgraph as pg

            brushes = [pg.mkBrush(CLASS_COLOURS[int(c) % len(CLASS_COLOURS)])
                       for c in b.labels]
            self.scatter.setData(pos=b.points, brush=brushes)
            self._drawn_points = b.points


class PredictionsView(QWidget):
    def __init__(self, parent=None):
        import pyqtgraph as pg

        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot = make_plot("Predictions vs targets (validation)")
        lay.addWidget(self.plot)
        add_legend(self.plot)
        self.target = self.plot.plot([], [], pen=None, symbol="o", symbolSize=4,
                                     symbolBrush=CLASS_COLOURS[0], symbolPen=None,
                                     name="target")
        self.pred = self.plot.plot([], [], pen=pg.mkPen(CLASS_COLOURS[1], width=2),
                                   name="prediction")
        self.range = StickyRange(self.plot)
        self.latest: Predictions | None = None

    def clear(self) -> None:
        self.latest = None
        self.range.reset()
        self.target.setData([], [])
        self.pred.setData([], [])

    def add(self, p: Predictions) -> None:
        self.latest = p

    def redraw(self) -> None:
        p = self.latest
        if p is None:
            return
        self.latest = None
        order = np.argsort(p.x, kind="stable")
        self.target.setData(p.x[order], p.target[order])
        self.pred.setData(p.x[order], p.pred[order])
        self.plot.setLabel("bottom", p.x_label)
        ys = np.concatenate([p.target, p.pred])
        ys = ys[np.isfinite(ys)]
        if len(ys) and len(p.x):
            self.range.update(float(p.x.min()), float(p.x.max()), float(ys.min()),
                              float(ys.max()))


class Histograms(LayerPicker):
    def __init__(self, parent=None):
        import pyqtgraph as pg

        plot = make_plot(left="activation", bottom="probe snapshot")
        super().__init__("Activations over time", "The chosen layer's activation "
                         "histogram, one column per probe snapshot", plot, parent)
        self.image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.image)
        self.image.setLookupTable(pg.colormap.get("inferno").getLookupTable(nPts=256))
        self.range = StickyRange(plot, pad=0.02)
        self.hist: dict[str, list] = {}
        self.combo.currentIndexChanged.connect(self._layer_changed)
        self._dirty = False

    def _layer_changed(self, *_) -> None:
        self.range.reset()  # another layer has another value range
        self.redraw(force=True)

    def clear(self) -> None:
        self.hist = {}
        self.range.reset()
        self.image.clear()
        self.set_layers([])

    def add(self, snap) -> None:
        for lp in snap.layers:
            h = self.hist.setdefault(lp.node_id, [])
            h.append((snap.step, lp.hist_edges, lp.hist_counts))
            if len(h) > 2 * HIST_COLUMNS:
                del h[:HIST_COLUMNS]
        self.set_layers([(lp.node_id, layer_label(lp)) for lp in snap.layers])
        self._dirty = True

    def image_for(self, node_id: str):
        cols = self.hist.get(node_id, [])[-HIST_COLUMNS:]
        if not cols:
            return None
        lo = min(float(e[0]) for _, e, _ in cols)
        hi = max(float(e[-1]) for _, e, _ in cols)
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            hi = lo + 1e-6
        img = np.stack([rebin(e, c, lo, hi) for _, e, c in cols], 1)  # rows = values
        img /= np.maximum(img.max(0, keepdims=True), 1e-12)  # each column to its own peak
        return img, lo, hi

    def redraw(self, force: bool = False) -> None:
        if not (self._dirty or force):
            return
        self._dirty = False
        got = self.image_for(self.node_id) if self.node_id else None
        if got is None:
            return
        img, lo, hi = got
        self.image.setImage(np.sqrt(img), levels=(0.0, 1.0))
        self.image.setRect(QRectF(0, lo, img.shape[1], hi - lo))
        self.range.update(0.0, max(float(img.shape[1]), 8.0), lo, hi)
