"""After training: test metrics, confusion matrix, misclassified samples, a try-it box and
the run history.

Everything is driven from a run folder (the Trainer's out_dir): `ResultsPanel.show_run(dir)`
reads its metrics.csv, then a worker thread rebuilds the trained model from the folder's
last checkpoint (project.json + model.safetensors, `training.load_weights`), loads the
project's dataset with the training seed (so the test split is the Trainer's) and predicts
the test split. The Trainer's Finished event carries the test metrics and the confusion
matrix but not the per-sample predictions the gallery and the try-it box need, so the
checkpoint is the one source for all of them.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QScrollArea, QSplitter,
                               QStackedWidget, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from . import theme
from .datapanel import (Background, ImageGrid, add_legend, class_colour, class_label,
                        make_plot, to_qimage)
from .document import Document
from .inspector import _plain, _tidy_form

GALLERY_MAX = 48
CHECKPOINT_KINDS = ("last", "best")


# ---- the model side (no Qt; runs in a worker thread) ----------------------------------------

@dataclass
class Evaluation:
    run_dir: Path
    checkpoint: Path
    project: object
    model: object  # the compiled GraphModule with the trained weights, eval mode
    plan: object
    info: object  # DataInfo
    metrics: dict  # training.metrics.evaluate on the test split
    shown_x: np.ndarray  # test inputs as a person sees them (images in [0, 1], raw values)
    y: np.ndarray  # test targets
    pred: np.ndarray  # predicted class ids (classification) or values
    probs: np.ndarray | None  # N×classes (classification)
    mean: np.ndarray | None
    std: np.ndarray | None
    image: bool
    words: dict | None  # token id -> word, for text

    def to_model_input(self, shown: np.ndarray):
        """A batch in the person's units (as `shown_x`) -> the tensor the model takes."""
        import torch

        x = np.asarray(shown, dtype=np.int64 if self.info.input_dtype == "int64"
                       else np.float32)
        if self.mean is not None and x.dtype == np.float32:
            x = (x - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x))

    def predict(self, shown: np.ndarray) -> np.ndarray:
        """Class probabilities (classification) or predicted values, for one batch."""
        import torch

        with torch.no_grad():
            out = self.model(self.to_model_input(shown)).float()
        return probabilities(out, self.plan) if self.info.is_classification else out.numpy()


def probabilities(out, plan) -> np.ndarray:
    import torch

    if plan.threshold is not None:  # one output for two classes
        p1 = torch.sigmoid(out[:, 0]) if plan.loss == "bce_with_logits" or plan.threshold == 0 \
            else out[:, 0].clamp(0, 1)
        return torch.stack([1 - p1, p1], 1).numpy()
    if plan.loss == "nll":
        return out.exp().numpy()
    if plan.loss == "bce":
        return (out / out.sum(1, keepdim=True).clamp_min(1e-12)).numpy()
    return torch.softmax(out, 1).numpy()


def find_checkpoint(run_dir: str | Path) -> Path:
    run = Path(run_dir)
    for kind in CHECKPOINT_KINDS:
        ck = run / "checkpoints" / kind
        if (ck / "model.safetensors").is_file():
            return ck
    if (run / "model.safetensors").is_file():
        return run
    raise ValueError(f"{run}: no checkpoint (looked for checkpoints/last and "
                     f"checkpoints/best)")


def evaluate_run(run_dir: str | Path) -> Evaluation:
    """Rebuild the run's model from its checkpoint and predict the test split."""
    import torch

    from ..core.compiler import compile_graph
    from ..core.project import parse_project
    from ..data import load as load_data
    from ..training import load_weights
    from ..training.config import check, make_loss
    from ..training.metrics import evaluate, predict_classes

    run = Path(run_dir)
    ck = find_checkpoint(run)
    project = parse_project((ck / "project.json").read_text(encoding="utf-8"),
                            str(ck / "project.json"))
    ds = project.dataset
    if ds is None:
        raise ValueError(f"{ck}: the trained project names no dataset")
    data = load_data(ds.name, ds.options, seed=project.training.seed)
    plan = check(project.graph, project.training, data.info, ds.name, device="cpu")
    model = compile_graph(project.graph, seed=project.training.seed)
    model.load_state_dict(load_weights(ck))
    model.eval()
    metrics = evaluate(model, data, data.test, plan, make_loss(project.training, plan), "cpu")
    split = data.test
    outs, shown = [], []
    with torch.no_grad():
        for i in range(0, len(split), 1024):
            x, _ = data.batch(split, slice(i, i + 1024))
            outs.append(model(x).float())
            if x.dtype == torch.float32 and data.mean is not None:
                x = x * torch.as_tensor(data.std) + torch.as_tensor(data.mean)
            shown.append(x.numpy())
        if len(split):
            # the try-it box predicts one sample at a time on the UI thread, and the first
            # call at a new batch size is slow (~40 ms: kernels are chosen per shape); pay
            # that here, on the worker thread
            model(data.batch(split, slice(0, 1))[0])
    out = torch.cat(outs) if outs else torch.zeros(0, plan.output_width)
    info = data.info
    if info.is_classification:
        pred, probs = predict_classes(out, plan).numpy(), probabilities(out, plan)
    else:
        pred, probs = out.numpy(), None
    words = None
    if ds.name == "tiny_reviews":
        from .datapanel import _decoder
        from ..data import get
        words = _decoder(ds.name, get(ds.name).fill(ds.options))
    image = len(info.input_shape) == 3 and info.input_dtype == "float32"
    return Evaluation(run, ck, project, model, plan, info, metrics,
                      np.concatenate(shown) if shown else np.zeros((0, *info.input_shape)),
                      split.y.numpy(), pred, probs, data.mean, data.std, image, words)


def read_history(run_dir: str | Path) -> list[dict]:
    """metrics.csv as a list of {column: float} rows ([] when there is none)."""
    path = Path(run_dir) / "metrics.csv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    out = []
    for r in rows:
        d = {}
        for k, v in r.items():
            try:
                d[k] = float(v)
            except (TypeError, ValueError):
                pass
        out.append(d)
    return out


# ---- widgets ------------------------------------------------------------------------------------

class ConfusionMatrix(QWidget):
    """A heat map of counts: rows are the true class, columns the predicted one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.matrix = np.zeros((0, 0), np.int64)
        self.labels: list[str] = []
        self.setMinimumSize(260, 220)

    def set_matrix(self, matrix, labels) -> None:
        self.matrix = np.asarray(matrix, dtype=np.int64)
        self.labels = [str(s) for s in labels]
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(420, 380)

    def paintEvent(self, e) -> None:
        k = len(self.matrix)
        p = QPainter(self)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        if k == 0:
            p.setPen(theme.muted_colour(pal))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No confusion matrix yet")
            return
        fm = self.fontMetrics()
        label_w = min(110, max(fm.horizontalAdvance(s) for s in self.labels) + 10)
        top, left = fm.height() * 2 + 6, label_w + fm.height() + 6
        size = max(4.0, min((self.width() - left - 6) / k, (self.height() - top - 6) / k))
        p.setPen(text)
        p.drawText(QRectF(left, 0, size * k, fm.height()), Qt.AlignmentFlag.AlignCenter,
                   "predicted")
        p.save()
        p.translate(fm.height() - 2, top + size * k / 2)
        p.rotate(-90)
        p.drawText(QRectF(-size * k / 2, -fm.height(), size * k, fm.height()),
                   Qt.AlignmentFlag.AlignCenter, "true")
        p.restore()
        peak = max(1, int(self.matrix.max()))
        base = pal.color(QPalette.ColorRole.Base)
        hi = QColor("#3574f0") if theme.is_dark(pal) else QColor("#2f6fde")
        small = size < fm.height() * 1.2
        for i in range(k):
            y = top + i * size
            name = fm.elidedText(self.labels[i], Qt.TextElideMode.ElideRight, label_w - 6)
            p.setPen(text)
            p.drawText(QRectF(left - label_w, y, label_w - 6, size),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)
            p.drawText(QRectF(left + i * size, fm.height() + 2, size, fm.height()),
                       Qt.AlignmentFlag.AlignCenter,
                       fm.elidedText(self.labels[i], Qt.TextElideMode.ElideRight, int(size)))
            for j in range(k):
                v = int(self.matrix[i, j])
                t = (v / peak) ** 0.5 if v else 0.0
                c = QColor.fromRgbF(base.redF() + (hi.redF() - base.redF()) * t,
                                    base.greenF() + (hi.greenF() - base.greenF()) * t,
                                    base.blueF() + (hi.blueF() - base.blueF()) * t)
                r = QRectF(left + j * size, y, size, size)
                p.fillRect(r, c)
                if i == j:
                    p.setPen(theme.ok_colour(pal))
                    p.drawRect(r.adjusted(0.5, 0.5, -1, -1))
                if not small:
                    p.setPen(QColor("white") if t > 0.55 else text)
                    p.drawText(r, Qt.AlignmentFlag.AlignCenter, str(v))
        p.setPen(pal.color(QPalette.ColorRole.Mid))
        p.drawRect(QRectF(left, top, size * k, size * k))
        p.end()


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
        self.ev: Evaluation | None = None
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
        _tidy_form(self.form)
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
        self.answer = _plain(QLabel(wordWrap=True))
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
            self._plot = make_plot(self.palette())
            self._plot.setMouseEnabled(False, False)
            self._plot.setLabel("left", "probability")
            self.plot_host.layout().addWidget(self._plot, 1)
        return self._plot

    def set_evaluation(self, ev: Evaluation) -> None:
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
            from ..data import text

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


class RunHistory(QWidget):
    """Finished runs (their metrics.csv), and one curve per checked run, overlaid."""

    runActivated = Signal(str)  # a run folder was double-clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: dict[str, list[dict]] = {}
        self.curves: dict[str, object] = {}
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.itemChanged.connect(lambda _: self.update_plot())
        self.list.itemDoubleClicked.connect(
            lambda it: self.runActivated.emit(it.data(Qt.ItemDataRole.UserRole)))
        self.list.setToolTip("Tick runs to compare them; double-click one to show its results")
        self.metric = QComboBox()
        self.metric.currentIndexChanged.connect(lambda _: self.update_plot())
        add = QPushButton("Add runs…")
        add.setToolTip("A run folder, or a folder of run folders")
        add.clicked.connect(self.add_dialog)
        self.ask_folder = lambda: QFileDialog.getExistingDirectory(self, "Run folder")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(QLabel("Plot"))
        row.addWidget(self.metric, 1)
        ll.addLayout(row)
        ll.addWidget(add)
        self._plot = None
        self.plot_host = QWidget()
        QVBoxLayout(self.plot_host).setContentsMargins(0, 0, 0, 0)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.plot_host)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 600])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

    @property
    def plot(self):
        if self._plot is None:
            self._plot = make_plot(self.palette())
            self._legend = add_legend(self._plot, self.palette())
            self._plot.setLabel("bottom", "epoch")
            self.plot_host.layout().addWidget(self._plot)
        return self._plot

    def add_run(self, run_dir: str | Path, checked: bool = True) -> bool:
        """List a run folder (False when it has no metrics.csv), ticked when `checked`.
        Re-adding refreshes its history and keeps its tick."""
        run = str(Path(run_dir).resolve())
        rows = read_history(run)
        if not rows:
            return False
        self.runs[run] = rows
        item = self._item(run)
        self.list.blockSignals(True)
        if item is None:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, run)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        last = rows[-1]
        score = next((f"{k.replace('_', ' ')} {last[k]:.4g}" for k in
                      ("val_accuracy", "val_loss", "train_loss") if k in last), "")
        item.setText(f"{Path(run).name} — {int(last.get('epoch', len(rows)))} epochs, {score}")
        item.setToolTip(run)
        self.list.blockSignals(False)
        self._update_metrics()
        self.update_plot()
        return True

    def add_folder(self, folder: str | Path) -> int:
        folder = Path(folder)
        if (folder / "metrics.csv").is_file():
            return int(self.add_run(folder))
        found = 0
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            found += self.add_run(sub, checked=False)
        return found

    def add_dialog(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.add_folder(folder)

    def _item(self, run: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == run:
                return self.list.item(i)
        return None

    def set_checked(self, run_dir, checked: bool) -> None:
        item = self._item(str(Path(run_dir).resolve()))
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def checked_runs(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def _update_metrics(self) -> None:
        cols = list(dict.fromkeys(k for rows in self.runs.values() for r in rows for k in r
                                  if k.startswith(("train_", "val_"))))
        current = self.metric.currentText()
        if cols == [self.metric.itemText(i) for i in range(self.metric.count())]:
            return
        self.metric.blockSignals(True)
        self.metric.clear()
        self.metric.addItems(cols)
        want = current if current in cols else ("val_loss" if "val_loss" in cols
                                                else "train_loss")
        self.metric.setCurrentIndex(max(0, self.metric.findText(want)))
        self.metric.blockSignals(False)

    def update_plot(self) -> None:
        import pyqtgraph as pg

        plot = self.plot
        plot.clear()
        self._legend.clear()
        self.curves = {}
        key = self.metric.currentText()
        plot.setLabel("left", key.replace("_", " "))
        for i, run in enumerate(self.checked_runs()):
            rows = [r for r in self.runs.get(run, []) if key in r]
            if not rows:
                continue
            x = [r.get("epoch", j + 1) for j, r in enumerate(rows)]
            self.curves[run] = plot.plot(x, [r[key] for r in rows], name=Path(run).name,
                                         pen=pg.mkPen(class_colour(i), width=2),
                                         symbol="o", symbolSize=5,
                                         symbolBrush=class_colour(i), symbolPen=None)


class ResultsPanel(QWidget):
    """Test metrics, confusion matrix, mistakes, try-it and run history of finished runs."""

    evaluated = Signal()  # show_run's evaluation is shown (or its error)

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.evaluation: Evaluation | None = None
        self.error = ""
        self._shown = None
        self.worker = Background(self)
        self.worker.done.connect(self._evaluated)

        self.title = _plain(QLabel("No finished run yet. Train the model, or add a run "
                                   "folder under Runs."))
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
        self.mistakes_note = _plain(QLabel())
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

    def sizeHint(self) -> QSize:
        return QSize(900, 360)

    @property
    def checkpoint(self) -> str | None:
        """The checkpoint folder of the run shown (for export), if any."""
        return str(self.evaluation.checkpoint) if self.evaluation else None

    def show_run(self, run_dir: str | Path) -> None:
        """Show a finished run from its folder (the Trainer's out_dir): its history at once,
        its test results when the worker has rebuilt the model."""
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

    def _show_metrics(self, ev: Evaluation) -> None:
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

    def _show_fit(self, ev: Evaluation) -> None:
        """Regression: predicted against true test values (first target), and y = x."""
        import pyqtgraph as pg

        if self._fit_plot is None:
            self._fit_plot = make_plot(self.palette())
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

    def _show_mistakes(self, ev: Evaluation) -> None:
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

    def _fill_table(self, ev: Evaluation, idx, a: str, b: str) -> None:
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


__all__ = ["ResultsPanel", "RunHistory", "TryIt", "DrawCanvas", "ConfusionMatrix",
           "Evaluation", "evaluate_run", "read_history"]
