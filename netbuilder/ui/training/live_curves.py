"""Live curves: the loss and accuracy (or MAE) curves of a run, and every layer's weight and
gradient norm. Data is appended to growing arrays; `redraw` paints when it changed."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ...training.events import BatchEnd, EpochEnd
from ..widgets import theme
from ..widgets.plots import StickyRange, add_legend, make_plot

CLASS_COLOURS = LINE_COLOURS = theme.CLASS_COLOURS
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


class Curves(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        # The two plots share the x axis and the train/validation colours: the axis title
        # goes under the lower one and the legend under the upper one only, so that the
        # accuracy keeps a readable height in a short Live dock.
        self.loss_plot = make_plot("Loss")
        self.metric_plot = make_plot("Accuracy", bottom="epoch")
        self.metric_plot.setXLink(self.loss_plot)
        lay.addWidget(self.loss_plot, 1)
        lay.addWidget(self.metric_plot, 1)
        add_legend(self.loss_plot)
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
        if isinstance(e, BatchEnd):
            self.s_batch.append(e.epoch + (e.batch + 1) / e.batches, e.loss)
        elif isinstance(e, EpochEnd):
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
                self.metric_plot.updateGeometry()  # a longer title needs a wider plot
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
            if lp.weight_norm is None or "/" in lp.node_id:  # a block's layers: the block
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
