"""After training: test metrics, confusion matrix, misclassified samples, a try-it box and
the run history.

Everything is driven from a run folder (the Trainer's out_dir): `ResultsPanel.show_run(dir)`
reads its metrics.csv at once, then a worker thread runs `training.evaluation.evaluate_run`
(the trained model rebuilt from the folder's checkpoint, predictions on the test split).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QScrollArea, QSplitter,
                               QStackedWidget, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from ...training.evaluation import evaluate_run
from ..document.document import Document
from ..widgets import theme
from ..widgets.background import Background
from ..widgets.forms import plain
from ..widgets.images import ImageGrid, to_qimage
from ..widgets.plots import make_plot
from ..widgets.text import class_label
from ..widgets.theme import class_colour
from .confusion import ConfusionMatrix
from .history import RunHistory
from .tryit import TryIt

GALLERY_MAX = 48


class ResultsPanel(QWidget):
    """Test metrics, confusion matrix, mistakes, try-it and run history of finished runs."""

    evaluated = Signal()  # show_run's evaluation is shown (or its error)
    EMPTY = "No finished run yet. Train the model, or add a run folder under Runs."

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.evaluation = None  # training.evaluation.Evaluation
        self.error = ""
        self._shown = None
        self.worker = Background(self)
        self.worker.done.connect(self._evaluated)

        self.title = plain(QLabel(self.EMPTY))
        self.title.setWordWrap(True)
        self.metrics_table = QTableWidget(0, 2)
        self.metrics_table.setHorizontalHeaderLabels(["metric", "test"])
        self.metrics_table.verticalHeader().hide()
        self.metrics_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        self.confusion = ConfusionMatrix()
        self.right = QStackedWidget()  # the confusion matrix, or predicted vs true
        self.right.addWidget(self.confusion)
        self._fit_plot = None
        summary = QSplitter()
        summary.addWidget(self.metrics_table)
        summary.addWidget(self.right)
        summary.setSizes([300, 500])

        self.gallery = ImageGrid(cell=56)
        gallery_scroll = QScrollArea(widgetResizable=True)
        gallery_scroll.setWidget(self.gallery)
        self.mistake_table = QTableWidget(0, 3)
        self.mistake_table.setHorizontalHeaderLabels(["input", "true", "predicted"])
        self.mistake_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.mistake_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.mistakes = QStackedWidget()
        self.mistakes.addWidget(gallery_scroll)
        self.mistakes.addWidget(self.mistake_table)
        self._gallery_scroll = gallery_scroll
        self.mistakes_note = plain(QLabel())
        mistakes_page = QWidget()
        ml = QVBoxLayout(mistakes_page)
        ml.addWidget(self.mistakes_note)
        ml.addWidget(self.mistakes, 1)
        self.mistake_count = 0

        self.try_it = TryIt()
        self.history = RunHistory()
        self.history.runActivated.connect(self.show_run)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(summary, "Test metrics")
        self.tabs.addTab(mistakes_page, "Mistakes")
        self.tabs.addTab(self.try_it, "Try it")
        self.tabs.addTab(self.history, "Runs")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addWidget(self.tabs, 1)
        doc.projectReplaced.connect(self.reset)

    def reset(self) -> None:
        """Another document: nothing of the previous one's runs stays (a late evaluation
        of one is dropped: its token is stale)."""
        self.worker.token += 1
        self.evaluation, self.error, self._shown = None, "", None
        self.title.setText(self.EMPTY)
        self.metrics_table.setRowCount(0)
        self.confusion.set_matrix(np.zeros((0, 0)), [])
        self.right.setCurrentIndex(0)
        self.gallery.set_items([])
        self.mistake_table.setRowCount(0)
        self.mistakes_note.setText("")
        self.mistake_count = 0
        self.try_it.clear()
        self.history.clear()

    def sizeHint(self) -> QSize:
        return QSize(900, 360)

    @property
    def checkpoint(self) -> str | None:
        """The checkpoint folder of the run shown (for export), if any."""
        return str(self.evaluation.checkpoint) if self.evaluation else None

    def show_run(self, run_dir: str | Path) -> None:
        """Show a finished run from its folder (the Trainer's out_dir): its history at once,
        its test results when the worker has rebuilt the model."""
        from ...training.checkpoint import find_checkpoint  # torch: loaded by now

        run = Path(run_dir)
        try:
            stamp = (run.resolve(), find_checkpoint(run).stat().st_mtime_ns)
        except (OSError, ValueError):
            stamp = (run.resolve(), None)
        if stamp[1] is not None and stamp == self._shown and (self.worker.busy
                                                               or self.evaluation):
            return  # already shown (or being evaluated): e.g. two callers on Finished
        self._shown = stamp
        self.history.add_run(run)
        self.title.setText(f"Run {run.name}: evaluating the trained model on the test split…")
        self.worker.run(lambda: evaluate_run(run))

    def _evaluated(self, token: int, ev, error) -> None:
        if token != self.worker.token:
            return
        if error is not None:
            self.error = str(error) if isinstance(error, ValueError) else \
                f"{type(error).__name__}: {error}"
            self.title.setText(f"Cannot show the results: {self.error}")
            self.evaluated.emit()
            return
        self.error = ""
        self.evaluation = ev
        ds = ev.project.dataset
        self.title.setText(f"Run {ev.run_dir.name} — {ev.project.name or 'project'} on "
                           f"{ds.name}, {len(ev.y):,} test samples "
                           f"(checkpoint {ev.checkpoint.name})")
        self._show_metrics(ev)
        self._show_mistakes(ev)
        self.try_it.set_evaluation(ev)
        self.evaluated.emit()

    def _show_metrics(self, ev) -> None:
        m, info = ev.metrics, ev.info
        rows = [(k, f"{m[k]:.4g}") for k in ("loss", "accuracy", "mse", "mae", "r2") if k in m]
        if info.is_classification and "precision" in m:
            for i, (p, r) in enumerate(zip(m["precision"], m["recall"])):
                rows.append((f"{class_label(info, i)}: precision / recall", f"{p:.3f} / {r:.3f}"))
        self.metrics_table.setRowCount(len(rows))
        for i, (k, v) in enumerate(rows):
            self.metrics_table.setItem(i, 0, QTableWidgetItem(k))
            item = QTableWidgetItem(v)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.metrics_table.setItem(i, 1, item)
        if info.is_classification:
            self.confusion.set_matrix(m["confusion"], [class_label(info, i)
                                                       for i in range(info.num_classes)])
        else:
            self.confusion.set_matrix(np.zeros((0, 0)), [])
            self._show_fit(ev)
        self.right.setCurrentIndex(0 if info.is_classification else 1)

    def _show_fit(self, ev) -> None:
        """Regression: predicted against true test values (first target), and y = x."""
        import pyqtgraph as pg

        if self._fit_plot is None:
            self._fit_plot = make_plot(pal=self.palette())
            self._fit_plot.setLabel("bottom", "true")
            self._fit_plot.setLabel("left", "predicted")
            self.right.addWidget(self._fit_plot)
        plot = self._fit_plot
        plot.clear()
        true = ev.y.reshape(len(ev.y), -1)[:, 0]
        pred = ev.pred.reshape(len(ev.pred), -1)[:, 0]
        if len(true):
            lo, hi = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
            plot.plot([lo, hi], [lo, hi], pen=pg.mkPen(theme.muted_colour(self.palette()),
                                                       style=Qt.PenStyle.DashLine))
        self.fit_points = pg.ScatterPlotItem(true, pred, size=5, pen=None,
                                             brush=pg.mkBrush(class_colour(0)))
        plot.addItem(self.fit_points)
        plot.autoRange()

    def _show_mistakes(self, ev) -> None:
        info = ev.info
        if not info.is_classification:
            err = np.abs(ev.pred - ev.y.reshape(ev.pred.shape)).sum(1)
            wrong = np.argsort(-err)[:GALLERY_MAX]
            self.mistake_count = len(wrong)
            self.mistakes_note.setText(f"The {len(wrong)} test samples with the largest "
                                       f"errors")
            self._fill_table(ev, wrong, "true", "predicted")
            return
        wrong = np.flatnonzero(ev.pred != ev.y)
        self.mistake_count = len(wrong)
        shown = wrong[:GALLERY_MAX]
        self.mistakes_note.setText(
            f"{len(wrong)} of {len(ev.y)} test samples misclassified"
            + (f"; the first {len(shown)} shown" if len(wrong) > len(shown) else "")
            + ("" if len(wrong) else " — none"))
        if ev.image:
            err = theme.severity_colour("error", self.palette())
            self.gallery.set_items([
                (to_qimage(np.clip(ev.shown_x[i], 0, 1)),
                 f"{class_label(info, ev.y[i])}→{class_label(info, ev.pred[i])}", err)
                for i in shown])
            self.gallery.setToolTip("true → predicted")
            self.mistakes.setCurrentWidget(self._gallery_scroll)
        else:
            self._fill_table(ev, shown, "true", "predicted")

    def _fill_table(self, ev, idx, a: str, b: str) -> None:
        info = ev.info
        t = self.mistake_table
        t.setRowCount(len(idx))
        for r, i in enumerate(idx):
            x = ev.shown_x[i]
            if info.input_dtype == "int64" and ev.words:
                text = " ".join(ev.words.get(int(j), "?") for j in x if int(j) != 0)
            else:
                flat = np.asarray(x).reshape(-1)
                text = ", ".join(f"{float(v):.3g}" for v in flat[:12]) + (
                    " …" if flat.size > 12 else "")
            t.setItem(r, 0, QTableWidgetItem(text))
            pred = ev.pred[i]
            conf = ""
            if ev.probs is not None:
                conf = f" ({100 * ev.probs[i, int(pred)]:.0f}%)"
            t.setItem(r, 1, QTableWidgetItem(class_label(info, ev.y[i])))
            t.setItem(r, 2, QTableWidgetItem(class_label(info, pred) + conf))
        t.resizeColumnToContents(1)
        t.resizeColumnToContents(2)
        self.mistakes.setCurrentWidget(t)


__all__ = ["ResultsPanel"]
