"""Live training views (pyqtgraph), fed by TrainingBridge.eventsReady (≤ ~30 times a second);
the views live in live_curves.py and live_model.py.

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

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QStackedWidget, QWidget

from ...training.events import BatchEnd, EpochEnd, ProbeSnapshot, Started
from ...training.extras import Boundary, Predictions
from ..widgets import theme
from .live_curves import Curves, Norms
from .live_model import BoundaryView, FeatureMaps, Histograms, PredictionsView


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
            self._show_plots(True)
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

    def _show_plots(self, on: bool) -> None:
        for w in (self.curves, self.model_view, self.histograms, self.norms):
            w.setVisible(on)
        self.placeholder.setVisible(not on)

    def reset(self) -> None:
        """Another document: nothing of the previous run; the placeholder until Train."""
        self._later.stop()
        if self._built:
            for v in (self.curves, self.feature_maps, self.boundary, self.predictions,
                      self.histograms, self.norms):
                v.clear()
            self._show_plots(False)

    @property
    def showing_placeholder(self) -> bool:
        return not self.placeholder.isHidden()

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
            if isinstance(e, Started):
                if e.start_epoch == 0 and e.start_batch == 0:
                    self.clear()
                self.curves.set_epochs(e.epochs)
                self.norms.set_steps(e.epochs * e.batches_per_epoch)
            if isinstance(e, (BatchEnd, EpochEnd)):
                self.curves.add(e)
            elif isinstance(e, ProbeSnapshot):
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
