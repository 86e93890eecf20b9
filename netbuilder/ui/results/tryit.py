"""The try-it box: draw a digit, type features or a sentence, and see the trained model's
answer (class probabilities from `training.probabilities`, via the Evaluation)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QStackedWidget, QVBoxLayout, QWidget)

from ..widgets.forms import plain, tidy_form
from ..widgets.images import to_qimage
from ..widgets.plots import make_plot
from ..widgets.text import class_label
from ..widgets.theme import class_colour


class DrawCanvas(QWidget):
    """Draw with the mouse on an H×W grid shown upsampled; `values` is H×W in [0, 1].
    Left button draws, right button erases."""

    changed = Signal()

    def __init__(self, h: int = 8, w: int = 8, parent: QWidget | None = None):
        super().__init__(parent)
        self.values = np.zeros((h, w), np.float32)
        self.setFixedSize(224, 224)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the left mouse button, erase with the right one")

    def set_grid(self, h: int, w: int) -> None:
        self.values = np.zeros((h, w), np.float32)
        self.update()

    def clear(self) -> None:
        self.values[:] = 0
        self.update()
        self.changed.emit()

    def _cell(self, pos: QPointF) -> tuple[float, float]:
        h, w = self.values.shape
        return pos.y() / self.height() * h, pos.x() / self.width() * w

    def stamp(self, pos: QPointF, erase: bool = False) -> None:
        h, w = self.values.shape
        cy, cx = self._cell(pos)
        radius = max(0.6, h / 14)  # a pen about a stroke wide: 1 cell at 8×8, 2 at 28×28
        ys, xs = np.mgrid[0:h, 0:w]
        d = np.hypot(ys + 0.5 - cy, xs + 0.5 - cx)
        ink = np.clip(1.5 - d / radius, 0, 1).astype(np.float32)
        if erase:
            self.values = np.minimum(self.values, 1 - ink)
        else:
            self.values = np.maximum(self.values, ink)
        self.update()

    def mousePressEvent(self, e) -> None:
        self.stamp(e.position(), e.button() == Qt.MouseButton.RightButton)
        self.changed.emit()

    def mouseMoveEvent(self, e) -> None:
        if e.buttons() & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            self.stamp(e.position(), bool(e.buttons() & Qt.MouseButton.RightButton))
            self.changed.emit()

    def paintEvent(self, e) -> None:
        p = QPainter(self)
        p.drawImage(QRectF(self.rect()), to_qimage(self.values))
        if not self.values.any():
            p.setPen(QColor("#9a9a9a"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "draw here")
        p.setPen(self.palette().color(QPalette.ColorRole.Mid))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        p.end()


class TryIt(QWidget):
    """Give the trained model an input of your own and see its answer."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.ev = None
        self.probabilities = np.zeros(0)
        self.prediction: np.ndarray | None = None
        self.canvas = DrawCanvas()
        self.canvas.changed.connect(self.predict)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        sample = QPushButton("Test sample")
        sample.setToolTip("Start from the next test sample")
        sample.clicked.connect(self.load_sample)
        self._sample_i = -1
        draw = QWidget()
        dl = QVBoxLayout(draw)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.canvas)
        row = QHBoxLayout()
        row.addWidget(clear)
        row.addWidget(sample)
        dl.addLayout(row)
        dl.addStretch(1)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        tidy_form(self.form)
        self.feature_edits: list[QLineEdit] = []
        form_scroll = QScrollArea(widgetResizable=True)
        form_scroll.setWidget(self.form_host)
        self.text_edit = QLineEdit()
        self.text_edit.setPlaceholderText("type a sentence")
        self.text_edit.textChanged.connect(self.predict)
        text_box = QWidget()
        tl = QVBoxLayout(text_box)
        tl.addWidget(QLabel("Type a review:"))
        tl.addWidget(self.text_edit)
        tl.addStretch(1)
        self.inputs = QStackedWidget()
        self.empty = QLabel("Train a model (or open a run) to try it here.",
                            alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        for w in (self.empty, draw, form_scroll, text_box):
            self.inputs.addWidget(w)
        self._draw, self._form_page, self._text_page = draw, form_scroll, text_box
        self.answer = plain(QLabel(wordWrap=True))
        self._plot = None
        self.plot_host = QWidget()
        pl = QVBoxLayout(self.plot_host)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.answer)
        lay = QHBoxLayout(self)
        lay.addWidget(self.inputs)
        lay.addWidget(self.plot_host, 1)

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(pal=self.palette())
            self._plot.setMouseEnabled(False, False)
            self._plot.setLabel("left", "probability")
            self.plot_host.layout().addWidget(self._plot, 1)
        return self._plot

    def clear(self) -> None:
        """No model to try (another document): the placeholder, no answer, no bars."""
        self.ev = None
        self.probabilities, self.prediction = np.zeros(0), None
        self.inputs.setCurrentWidget(self.empty)
        self.answer.setText("")
        self.text_edit.blockSignals(True)
        self.text_edit.clear()
        self.text_edit.blockSignals(False)
        if self._plot is not None:
            self._plot.clear()

    def set_evaluation(self, ev) -> None:
        self.ev = ev
        info = ev.info
        self._sample_i = -1
        if ev.image:
            c, h, w = info.input_shape
            self.canvas.set_grid(h, w)
            self.inputs.setCurrentWidget(self._draw)
        elif info.input_dtype == "int64":
            self.inputs.setCurrentWidget(self._text_page if ev.words else self.empty)
        else:
            while self.form.rowCount():
                self.form.removeRow(0)
            self.feature_edits = []
            n = int(np.prod(info.input_shape))
            first = ev.shown_x[0].reshape(-1) if len(ev.shown_x) else np.zeros(n)
            for i in range(min(n, 64)):
                edit = QLineEdit(f"{float(first[i]):.4g}")
                edit.editingFinished.connect(self.predict)
                self.form.addRow(f"x{i}", edit)
                self.feature_edits.append(edit)
            self.inputs.setCurrentWidget(self._form_page if n <= 64 else self.empty)
        if info.is_classification:
            self.plot  # noqa: B018 (creates it)
        self.predict()

    def load_sample(self) -> None:
        ev = self.ev
        if ev is None or not len(ev.shown_x):
            return
        self._sample_i = (self._sample_i + 1) % len(ev.shown_x)
        x = ev.shown_x[self._sample_i]
        if ev.image:
            self.canvas.values = np.clip(x.mean(0), 0, 1).astype(np.float32)
            self.canvas.update()
        self.predict()

    def current_input(self) -> np.ndarray | None:
        ev = self.ev
        info = ev.info
        if ev.image:
            c = info.input_shape[0]
            return np.repeat(self.canvas.values[None], c, 0)[None]
        if info.input_dtype == "int64":
            from ...data import text

            vocab = {w: i for i, w in (ev.words or {}).items()}
            ids = text.pad(text.numericalize(text.tokenize(self.text_edit.text()), vocab),
                           info.input_shape[0])
            return np.array([ids], np.int64)
        values = []
        for edit in self.feature_edits:
            try:
                values.append(float(edit.text()))
            except ValueError:
                return None
        return np.array(values, np.float32).reshape(1, *info.input_shape)

    def predict(self) -> None:
        ev = self.ev
        if ev is None:
            return
        x = self.current_input()
        if x is None:
            self.answer.setText("Every feature needs a number.")
            return
        y = ev.predict(x)[0]
        info = ev.info
        if not info.is_classification:
            self.prediction = y
            self.answer.setText("prediction: " + ", ".join(f"{v:.4g}" for v in y))
            return
        self.probabilities = y
        best = int(np.argmax(y))
        self.answer.setText(f"prediction: {class_label(info, best)} "
                            f"({100 * y[best]:.1f}%)")
        self._draw_bars(y)

    def _draw_bars(self, probs) -> None:
        import pyqtgraph as pg

        plot = self.plot
        plot.clear()
        k = len(probs)
        brushes = [pg.mkBrush(class_colour(i)) for i in range(k)]
        self.bars = pg.BarGraphItem(x=np.arange(k), height=probs, width=0.7, brushes=brushes,
                                    pen=None)
        plot.addItem(self.bars)
        plot.setYRange(0, 1, padding=0.02)
        plot.setXRange(-0.6, k - 0.4, padding=0)
        names = [class_label(self.ev.info, i) for i in range(k)]
        plot.getAxis("bottom").setTicks([list(enumerate(names))])
