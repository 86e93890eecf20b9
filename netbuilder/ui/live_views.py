"""Live training views (pyqtgraph), fed by TrainingBridge.eventsReady (≤ ~30 times a second).

- Curves: training loss per batch (thin) and per epoch, validation loss per epoch; accuracy
  (classification) or MAE (regression) per epoch.
- Model view, whichever fits the data: feature maps of a conv layer on the fixed probe
  sample (the first probe sample's channels as a grid), the decision boundary for 2-D
  classification data, or predictions against targets for regression and series.
- Activations: a layer's activation histogram over time, one column per probe snapshot.
- Norms: weight and gradient norm of every layer with parameters, per probe snapshot.

`consume(events)` only appends to growing arrays; drawing happens in the same call for the
views that are visible (a hidden dock costs nothing). pyqtgraph (~0.5 s to import) is
imported when the views are first built, not when the window opens.
"""
from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QStackedWidget,
                               QVBoxLayout, QWidget)

from . import theme
from .plots import StickyRange, add_legend, make_plot
from ..training.extras import Boundary, Predictions

CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
LINE_COLOURS = CLASS_COLOURS
HIST_ROWS = 48  # value bins of the histogram image
HIST_COLUMNS = 240  # newest snapshots shown
POOLED_CURVES = 12  # norm curve pairs made with the view (more are made when needed)


class Series:
    """A growing float array (amortised O(1) append, no list→array copies per refresh)."""

    def __init__(self, cap: int = 256):
        self._x = np.empty(cap)
        self._y = np.empty(cap)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.concatenate([self._x, np.empty(len(self._x))])
            self._y = np.concatenate([self._y, np.empty(len(self._y))])
        self._x[self.n], self._y[self.n] = x, y
        self.n += 1

    def extend(self, xs, ys) -> None:
        for x, y in zip(xs, ys):
            self.append(x, y)

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]


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


class Curves(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.loss_plot = make_plot("Loss", bottom="epoch")
        self.metric_plot = make_plot("Accuracy", bottom="epoch")
        self.metric_plot.setXLink(self.loss_plot)
        lay.addWidget(self.loss_plot, 3)
        lay.addWidget(self.metric_plot, 2)
        add_legend(self.loss_plot)
        add_legend(self.metric_plot)
        muted = theme.muted_colour()
        muted.setAlpha(150)
        self.batch_loss = self.loss_plot.plot([], [], pen=pg.mkPen(muted, width=1),
                                              name="train (batch)")
        # 100,000 points redraw fast: clip to the view and keep min/max peaks per pixel.
        self.batch_loss.setDownsampling(auto=True, method="peak")
        self.batch_loss.setClipToView(True)
        c0, c1 = CLASS_COLOURS[0], CLASS_COLOURS[1]
        self.train_loss = self.loss_plot.plot([], [], pen=pg.mkPen(c0, width=2), symbol="o",
                                              symbolSize=5, symbolBrush=c0, name="train")
        self.val_loss = self.loss_plot.plot([], [], pen=pg.mkPen(c1, width=2), symbol="o",
                                            symbolSize=5, symbolBrush=c1, name="validation")
        self.train_metric = self.metric_plot.plot([], [], pen=pg.mkPen(c0, width=2),
                                                  symbol="o", symbolSize=5, symbolBrush=c0,
                                                  name="train")
        self.val_metric = self.metric_plot.plot([], [], pen=pg.mkPen(c1, width=2),
                                                symbol="o", symbolSize=5, symbolBrush=c1,
                                                name="validation")
        self.loss_range = StickyRange(self.loss_plot, floor=0.0)  # losses here are >= 0
        self.metric_range = StickyRange(self.metric_plot, floor=0.0)  # accuracy or MAE
        self.clear()

    def set_epochs(self, epochs: int) -> None:
        """The run's length: the x axis spans it from the start and never moves."""
        self.loss_range.reset(fixed_x=(0.0, float(epochs)))
        self.metric_range.reset(fixed_x=(0.0, float(epochs)))

    def clear(self) -> None:
        self.s_batch, self.s_train, self.s_val = Series(1024), Series(), Series()
        self.s_train_m, self.s_val_m = Series(), Series()
        self.metric_name = None
        for item in (self.batch_loss, self.train_loss, self.val_loss, self.train_metric,
                     self.val_metric):
            item.setData([], [])
        self._dirty = self._epoch_dirty = False

    def add(self, e) -> None:
        kind = type(e).__name__
        if kind == "BatchEnd":
            self.s_batch.append(e.epoch + (e.batch + 1) / e.batches, e.loss)
        elif kind == "EpochEnd":
            self._epoch_dirty = True
            x = e.epoch + 1
            self.s_train.append(x, e.train["loss"])
            if "loss" in e.val:
                self.s_val.append(x, e.val["loss"])
            if self.metric_name is None:
                self.metric_name = "accuracy" if "accuracy" in e.train or "accuracy" in \
                    e.val else "mae"
                if self.metric_name == "accuracy":
                    self.metric_range.reset(self.metric_range.fixed_x, fixed_y=(0.0, 1.02))
                self.metric_plot.setTitle("Accuracy" if self.metric_name == "accuracy"
                                          else "Mean absolute error (validation)",
                                          color=theme.palette().color(
                                              QPalette.ColorRole.Text).name(), size="9pt")
            m = self.metric_name
            if m in e.train:
                self.s_train_m.append(x, e.train[m])
            if m in e.val:
                self.s_val_m.append(x, e.val[m])
        else:
            return
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.batch_loss.setData(self.s_batch.x, self.s_batch.y)
        if self._epoch_dirty:  # the epoch curves (with markers) change once an epoch
            self._epoch_dirty = False
            for item, s in ((self.train_loss, self.s_train), (self.val_loss, self.s_val),
                            (self.train_metric, self.s_train_m),
                            (self.val_metric, self.s_val_m)):
                item.setData(s.x, s.y)
        for rng, series in ((self.loss_range, (self.s_batch, self.s_train, self.s_val)),
                            (self.metric_range, (self.s_train_m, self.s_val_m))):
            series = [s for s in series if s.n]
            if series:
                ys = [s.y[np.isfinite(s.y)] for s in series]
                ys = [y for y in ys if len(y)]
                if ys:
                    rng.update(min(float(s.x[0]) for s in series),
                               max(float(s.x[-1]) for s in series),
                               min(float(y.min()) for y in ys), max(float(y.max()) for y in ys))


class LayerPicker(QWidget):
    """A title and a layer combo above a plot."""

    def __init__(self, title: str, plot, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        row = QHBoxLayout()
        self.title = QLabel(f"<b>{title}</b>")
        row.addWidget(self.title)
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        row.addWidget(self.combo, 1)
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
        super().__init__("Feature maps (probe sample)", plot, parent)
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
        layers = [(lp.node_id, f"{lp.name} ({lp.type})") for lp in snap.layers
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
        cols = np.array([QColor(CLASS_COLOURS[i % len(CLASS_COLOURS)]).getRgbF()[:3]
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
        super().__init__("Activations over time", plot, parent)
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
        self.set_layers([(lp.node_id, f"{lp.name} ({lp.type})") for lp in snap.layers])
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


class Norms(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.weight_plot = make_plot("Weight norm per layer")
        self.grad_plot = make_plot("Gradient norm per layer", bottom="step")
        for p in (self.weight_plot, self.grad_plot):
            p.setLogMode(y=True)
        self.grad_plot.setXLink(self.weight_plot)
        add_legend(self.weight_plot)
        lay.addWidget(self.weight_plot)
        lay.addWidget(self.grad_plot)
        self.ranges = (StickyRange(self.weight_plot, log_y=True),
                       StickyRange(self.grad_plot, log_y=True))
        self.clear()

    def set_steps(self, steps: int) -> None:
        """The run's optimizer steps: the x axis spans them from the start."""
        for r in self.ranges:
            r.reset(fixed_x=(0.0, float(max(steps, 1))))

    def _pair(self, i: int) -> tuple:
        """The i-th (weight, gradient) curve pair. Curves are made once and reused by later
        runs: creating one costs ~5 ms of the UI thread, ten of them in one refresh stalled
        the window at the start of every run."""
        import pyqtgraph as pg

        while len(self._pool) <= i:
            pen = pg.mkPen(LINE_COLOURS[len(self._pool) % len(LINE_COLOURS)], width=1.6)
            self._pool.append((self.weight_plot.plot([], [], pen=pen),
                               self.grad_plot.plot([], [], pen=pen)))
        return self._pool[i]

    def clear(self) -> None:
        for wi, gi in getattr(self, "_pool", []):
            wi.setData([], [])
            gi.setData([], [])
        legend = self.weight_plot.plotItem.legend
        if legend is not None:
            legend.clear()
        if not hasattr(self, "_pool"):
            self._pool: list[tuple] = []
            for i in range(POOLED_CURVES):
                self._pair(i)
        self.series: dict[str, tuple[Series, Series]] = {}
        self.items: dict[str, tuple] = {}
        self._dirty = False

    def add(self, snap) -> None:
        for lp in snap.layers:
            if lp.weight_norm is None:
                continue
            if lp.node_id not in self.series:
                pair = self._pair(len(self.series))
                self.series[lp.node_id] = (Series(), Series())
                self.items[lp.node_id] = pair
                self.weight_plot.plotItem.legend.addItem(pair[0], lp.name)
            w, g = self.series[lp.node_id]
            w.append(snap.step, max(lp.weight_norm, 1e-30))
            if lp.grad_norm is not None and math.isfinite(lp.grad_norm):
                g.append(snap.step, max(lp.grad_norm, 1e-30))
        self._dirty = True

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for nid, (w, g) in self.series.items():
            wi, gi = self.items[nid]
            wi.setData(w.x, w.y)
            gi.setData(g.x, g.y)
        for rng, k in zip(self.ranges, (0, 1)):
            ser = [pair[k] for pair in self.series.values() if pair[k].n]
            if ser:
                rng.update(min(float(s.x.min()) for s in ser), max(float(s.x.max()) for s in ser),
                           min(float(s.y.min()) for s in ser), max(float(s.y.max()) for s in ser))


class LiveViews(QWidget):
    """All live views side by side; `consume` is connected to TrainingBridge.eventsReady.

    One frame every 1/max_fps s redraws ONE view group whose data changed, the loss curves
    every other frame and the others in turn: a frame that repainted all six plots took
    ~30 ms of the UI thread, one group takes a few ms, so the window never stalls
    (bench/bench_gui_training.py: event-loop lateness)."""

    max_fps = 20.0  # frames; the loss curves get every other one (10 a second)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._built = False
        self._last_draw = 0.0
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self.redraw)
        self._pending: list = []
        self._frame = self._turn = 0
        self.placeholder = QLabel("Press Train (Ctrl+Enter) to watch the network learn: loss "
                                  "curves, activations, feature maps or the decision "
                                  "boundary appear here.", alignment=Qt.AlignCenter,
                                  wordWrap=True)
        self.placeholder.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.addWidget(self.placeholder, 0, 0)

    def build(self) -> None:
        """Create the plots (imports pyqtgraph); done on first use."""
        if self._built:
            return
        self._built = True
        self.placeholder.hide()
        self.curves = Curves()
        self.feature_maps = FeatureMaps()
        self.boundary = BoundaryView()
        self.predictions = PredictionsView()
        self.model_view = QStackedWidget()
        for w in (self.feature_maps, self.boundary, self.predictions):
            self.model_view.addWidget(w)
        self.histograms = Histograms()
        self.norms = Norms()
        g = self.grid
        g.addWidget(self.curves, 0, 0)
        g.addWidget(self.model_view, 0, 1)
        g.addWidget(self.histograms, 0, 2)
        g.addWidget(self.norms, 0, 3)
        for c in range(4):
            g.setColumnStretch(c, 1)
        fm, b, p = self.feature_maps, self.boundary, self.predictions

        def model_redraw():
            fm.redraw()
            b.redraw()
            p.redraw()
        # name -> (has new data?, redraw); each group paints one or two plots
        self._groups = {
            "curves": (lambda: self.curves._dirty, self.curves.redraw),
            "model": (lambda: fm._dirty or b.latest is not None or p.latest is not None,
                      model_redraw),
            "histograms": (lambda: self.histograms._dirty, self.histograms.redraw),
            "norms": (lambda: self.norms._dirty, self.norms.redraw)}

    def clear(self) -> None:
        self.build()
        for v in (self.curves, self.feature_maps, self.boundary, self.predictions,
                  self.histograms, self.norms):
            v.clear()
        self.model_view.setCurrentWidget(self.feature_maps)

    def select_layer(self, node_id: str) -> None:
        """Show this node in the histogram and feature-map views (canvas selection)."""
        if self._built:
            self.histograms.select(node_id)
            self.feature_maps.select(node_id)

    def consume(self, events: list) -> None:
        self.build()
        for e in events:
            kind = type(e).__name__
            if kind == "Started":
                if e.start_epoch == 0 and e.start_batch == 0:
                    self.clear()
                self.curves.set_epochs(e.epochs)
                self.norms.set_steps(e.epochs * e.batches_per_epoch)
            if kind in ("BatchEnd", "EpochEnd"):
                self.curves.add(e)
            elif kind == "ProbeSnapshot":
                self.feature_maps.add(e)
                self.histograms.add(e)
                self.norms.add(e)
                if self.feature_maps.maps and self.model_view.currentWidget() is not \
                        self.boundary:
                    self.model_view.setCurrentWidget(self.feature_maps)
            elif isinstance(e, Boundary):
                self.boundary.add(e)
                self.model_view.setCurrentWidget(self.boundary)
            elif isinstance(e, Predictions):
                self.predictions.add(e)
                self.model_view.setCurrentWidget(self.predictions)
        self.redraw()

    def redraw(self) -> None:
        if not self.isVisible():
            return  # drawn when shown (showEvent)
        now = time.perf_counter()
        wait = self._last_draw + 1.0 / self.max_fps - now
        if wait > 0:
            if not self._later.isActive():
                self._later.start(int(wait * 1000) + 1)
            return
        self._last_draw = now
        dirty = [name for name, (is_dirty, _) in self._groups.items() if is_dirty()]
        if not dirty:
            return
        rest = [g for g in ("model", "histograms", "norms") if g in dirty]
        if "curves" in dirty and (self._frame % 2 == 0 or not rest):
            pick = "curves"
        elif rest:
            pick = rest[self._turn % len(rest)]
            self._turn += 1
        else:  # only the curves, on an odd frame: they wait one frame (half the frames)
            self._frame += 1
            self._later.start(int(1000 / self.max_fps) + 1)
            return
        self._frame += 1
        self._groups[pick][1]()
        if len(dirty) > 1:  # the rest on the next frames
            self._later.start(int(1000 / self.max_fps) + 1)

    def showEvent(self, e) -> None:
        super().showEvent(e)
        if self._built:
            self.redraw()
