"""The Data panel: choose the project's dataset, edit its options, preview it, and see
whether the graph fits it before training.

The dataset is part of the project, not of the graph, so the Document's graph signals do
not cover it. Changes go through `SetDataset` undo commands, and every Document has one
`DatasetNotifier` (a child QObject, see `dataset_notifier`) whose `datasetChanged` tells
every view that the choice changed (including on undo/redo).

Choosing a dataset also sets the Input node's shape and dtype to the data's (checkbox
"Match the Input node", on by default) in the same undo entry: a new dataset almost always
needs it, and one Ctrl+Z restores both. The "Match Input node" button does the same later,
e.g. after the graph was edited. Mismatches the Input cannot fix (output width, loss) are
explained by the training package's own `config.check`, run on every analysis update.

Loading for the preview runs in a worker thread (scikit-learn and torchvision sets take
0.1-2 s); torchvision sets are always previewed with download=false.
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QFont, QImage, QKeySequence, QPainter, QPalette,
                           QStandardItem, QStandardItemModel, QUndoCommand)
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFormLayout, QFrame,
                               QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                               QSplitter, QStackedWidget, QTableWidget, QTableWidgetItem,
                               QTextBrowser, QVBoxLayout, QWidget)

from ..core.project import DatasetChoice
from ..core.registry import Param
from . import plots, theme
from .commands import MacroCommand, SetParams
from .document import Document
from .inspector import ParamField, _plain, _rule, _section, _tidy_form

PREVIEW_IMAGES = 32
PREVIEW_ROWS = 50
PREVIEW_POINTS = 2000
PREVIEW_SENTENCES = 12

# Class colours readable on light and dark backgrounds (Tableau 10).
CLASS_COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                 "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


def class_colour(i: int) -> QColor:
    return QColor(CLASS_COLOURS[i % len(CLASS_COLOURS)])


# ---- shared helpers (also used by results.py) -----------------------------------------------

class Background(QObject):
    """Run a function in a Python thread; `done(token, result, error)` arrives on the UI
    thread. A newer `run` makes older results stale: their token is no longer `token`."""

    done = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.token = 0
        self.threads: list[threading.Thread] = []

    def run(self, fn: Callable[[], Any]) -> int:
        self.token += 1
        token = self.token

        def work():
            try:
                result, error = fn(), None
            except Exception as e:  # noqa: BLE001 (shown to the user)
                result, error = None, e
            self.done.emit(token, result, error)
        t = threading.Thread(target=work, daemon=True, name="netbuilder-background")
        self.threads = [x for x in self.threads if x.is_alive()] + [t]
        t.start()
        return token

    @property
    def busy(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def wait(self, timeout: float = 30.0) -> None:
        for t in self.threads:
            t.join(timeout)


def make_plot(pal: QPalette | None = None):
    return plots.make_plot(pal=pal)


def add_legend(plot, pal: QPalette | None = None):
    return plots.add_legend(plot, pal, offset=(6, 4), alpha=170, size="8pt")


def to_qimage(x: np.ndarray) -> QImage:
    """C×H×W (1 or 3 channels) or H×W, uint8 or float in [0, 1] -> a QImage (a copy)."""
    a = np.asarray(x)
    if a.ndim == 3 and a.shape[0] not in (1, 3):
        a = a[:1]
    if a.dtype != np.uint8:
        a = np.clip(a.astype(np.float32) * 255.0, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[0] == 3:
        rgb = np.ascontiguousarray(a.transpose(1, 2, 0))
        h, w = rgb.shape[:2]
        return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    g = np.ascontiguousarray(a.reshape(a.shape[-2], a.shape[-1]))
    h, w = g.shape
    return QImage(g.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class ImageGrid(QWidget):
    """Small images with a caption under each, drawn pixelated so 8×8 digits stay legible.
    `items` is the list of (QImage, caption, caption colour or None) shown."""

    def __init__(self, parent: QWidget | None = None, cell: int = 64):
        super().__init__(parent)
        self.items: list[tuple[QImage, str, QColor | None]] = []
        self.cell = cell
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_items(self, items) -> None:
        self.items = list(items)
        self.updateGeometry()
        self.update()

    def _columns(self) -> int:
        return max(1, (self.width() - 8) // (self.cell + 8))

    def heightForWidth(self, w: int) -> int:
        cols = max(1, (w - 8) // (self.cell + 8))
        rows = -(-len(self.items) // cols)
        return 8 + rows * (self.cell + 8 + self.fontMetrics().height() + 4)

    def hasHeightForWidth(self) -> bool:
        return True

    def sizeHint(self) -> QSize:
        return QSize(8 * (self.cell + 8), self.heightForWidth(8 * (self.cell + 8)))

    def paintEvent(self, e) -> None:
        p = QPainter(self)
        pal = self.palette()
        fm = self.fontMetrics()
        cols = self._columns()
        text_h = fm.height()
        for i, (img, caption, colour) in enumerate(self.items):
            r, c = divmod(i, cols)
            x = 8 + c * (self.cell + 8)
            y = 8 + r * (self.cell + 8 + text_h + 4)
            target = QRectF(x, y, self.cell, self.cell)
            p.drawImage(target, img)  # no smoothing: pixels stay square
            p.setPen(pal.color(QPalette.ColorRole.Mid))
            p.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5))
            p.setPen(colour or pal.color(QPalette.ColorRole.Text))
            p.drawText(QRectF(x - 4, y + self.cell + 2, self.cell + 8, text_h),
                       Qt.AlignmentFlag.AlignCenter,
                       fm.elidedText(caption, Qt.TextElideMode.ElideRight, self.cell + 8))
        p.end()


def info_text(info) -> str:
    shape = "×".join(str(s) for s in info.input_shape)
    bits = [f"input N×{shape} {info.input_dtype}", info.task]
    if info.is_classification:
        bits.append(f"{info.num_classes} classes")
    else:
        bits.append(f"{info.target_width} target value(s)")
    if info.vocab_size:
        bits.append(f"vocabulary {info.vocab_size}")
    return " · ".join(bits)


# ---- the undo command -----------------------------------------------------------------------

class DatasetNotifier(QObject):
    datasetChanged = Signal()


def dataset_notifier(doc: Document) -> DatasetNotifier:
    """The Document's one notifier (created on first use, owned by the Document)."""
    n = doc.findChild(DatasetNotifier, "datasetNotifier")
    if n is None:
        n = DatasetNotifier(doc)
        n.setObjectName("datasetNotifier")
    return n


class SetDataset(QUndoCommand):
    """Set `doc.project.dataset` (a DatasetChoice or None). Consecutive edits of one option
    (spin-box arrows) merge into one entry."""

    MERGE_ID = 2001

    def __init__(self, doc: Document, choice: DatasetChoice | None, text: str = "",
                 merge_key: str | None = None, parent: QUndoCommand | None = None):
        name = choice.name if choice else "none"
        super().__init__(text or f"Dataset {name}", parent)
        self.doc = doc
        self.old = copy.deepcopy(doc.project.dataset)
        self.new = copy.deepcopy(choice)
        self.merge_key = merge_key

    def _set(self, value) -> None:
        self.doc.project.dataset = copy.deepcopy(value)
        dataset_notifier(self.doc).datasetChanged.emit()

    def redo(self):
        self._set(self.new)

    def undo(self):
        self._set(self.old)

    def id(self) -> int:
        return self.MERGE_ID if self.merge_key else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, SetDataset) or other.merge_key != self.merge_key \
                or self.merge_key is None or other.doc is not self.doc:
            return False
        self.new = other.new
        return True


def input_node(graph):
    inputs = graph.nodes_of_type("Input")
    return inputs[0] if len(inputs) == 1 else None


def input_mismatch(graph, info) -> dict | None:
    """The Input parameters that would match `info`, or None when they already do (or the
    graph has not exactly one Input)."""
    node = input_node(graph)
    if node is None or info is None:
        return None
    want = info.input_params()
    have = {k: node.params.get(k) for k in want}
    have["shape"] = list(have["shape"] or [])
    return None if have == want else want


def match_input_command(doc: Document, info) -> QUndoCommand | None:
    want = input_mismatch(doc.graph, info)
    if want is None:
        return None
    cmd = SetParams(doc.graph, input_node(doc.graph).id, want)
    cmd.setText("Match Input to dataset")
    return cmd


def change_dataset(doc: Document, choice: DatasetChoice | None, match_input: bool = True
                   ) -> QUndoCommand:
    """One undo entry: the new dataset, and the Input node's shape/dtype when asked and
    known without loading."""
    cmd = SetDataset(doc, choice)
    if not match_input or choice is None:
        return cmd
    try:
        from ..data import get
        spec = get(choice.name)
        info = spec.info(spec.fill(choice.options)) if spec.info else None
    except Exception:  # noqa: BLE001 (bad options: the panel shows the message)
        info = None
    params = match_input_command(doc, info)
    if params is None:
        return cmd
    macro = MacroCommand(f"Dataset {choice.name}")
    macro.children = [cmd, params]
    return macro


# ---- preview --------------------------------------------------------------------------------

def load_preview(name: str, options: dict) -> dict:
    """Runs in a worker thread: the raw data and what the preview shows of it."""
    from ..data import get

    spec = get(name)
    opts = spec.fill(options)
    if "download" in opts:
        opts["download"] = False  # a preview never downloads
    raw = spec.load(opts)
    n = len(raw.y)
    n_test = len(raw.test[1]) if raw.test is not None else int(round(n * opts["test_fraction"]))
    n_val = int(round(n * opts["val_fraction"]))
    n_train = n - n_val - (0 if raw.test is not None else n_test)
    out = {"name": name, "info": raw.info, "image": raw.image, "ordered": raw.ordered,
           "counts": (n_train, n_val, n_test), "augmentable": raw.augment is not None}
    rng = np.random.default_rng(0)
    if raw.image:
        idx = np.sort(rng.choice(n, min(PREVIEW_IMAGES, n), replace=False))
        out["x"], out["y"] = raw.x[idx], raw.y[idx]
    elif raw.info.input_dtype == "int64":
        k = min(PREVIEW_SENTENCES, n)
        out["x"], out["y"] = raw.x[:k], raw.y[:k]
        out["words"] = _decoder(name, opts)
    elif len(raw.info.input_shape) == 2:  # a series: windows of T steps
        out["x"], out["y"] = raw.x[:300], raw.y[:300]
    else:
        idx = np.arange(n) if n <= PREVIEW_POINTS else np.sort(
            rng.choice(n, PREVIEW_POINTS, replace=False))
        out["x"], out["y"] = raw.x[idx], raw.y[idx]
    return out


def _decoder(name: str, opts: dict) -> dict[int, str] | None:
    if name != "tiny_reviews":
        return None
    from ..data import text

    vocab = text.build_vocab([text.tokenize(s) for s, _ in text.reviews()], opts["vocab_size"])
    return {i: t for t, i in vocab.items()}


def preview_kind(p: dict) -> str:
    info = p["info"]
    if p["image"]:
        return "images"
    if info.input_dtype == "int64":
        return "text"
    if len(info.input_shape) == 2:
        return "series"
    if info.input_shape == (2,) and info.is_classification:
        return "scatter"
    if info.input_shape == (1,) and not info.is_classification:
        return "curve"
    return "table"


def class_label(info, y) -> str:
    if info.is_classification:
        y = int(y)
        return info.class_names[y] if y < len(info.class_names) else str(y)
    return ", ".join(f"{float(v):.3g}" for v in np.atleast_1d(y))


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
            self._plot = make_plot(self.palette())
            self._legend = add_legend(self._plot, self.palette())
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
        self.table.setHorizontalHeaderLabels([f"x{i}" for i in range(cols)] + [target])
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
                        f"{class_label(info, y)}</b></td><td>{_html(body)}</td></tr>")
        shown = "tokens decoded with the vocabulary (padding hidden)" if words else "token ids"
        self.text.setHtml(f"<table cellspacing=3>{''.join(rows)}</table>"
                          f"<p style='color:{theme.css(theme.muted_colour())}'>{shown}</p>")
        self.sentences = len(rows)
        self._page("text")


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- the panel --------------------------------------------------------------------------------

class DataPanel(QWidget):
    """Dataset chooser, option editors, preview, and the pre-training check."""

    previewReady = Signal()  # a preview (or its error message) is shown
    checked = Signal()  # the fit between graph and dataset was re-checked

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.notifier = dataset_notifier(doc)
        self.fields: dict[str, ParamField] = {}
        self.preview_data: dict | None = None
        self.info = None  # DataInfo of the current choice, when known
        self.check_message = ""
        self.fits = False
        self._loaded_key = None
        self.loader = Background(self)
        self.loader.done.connect(self._preview_loaded)

        self.combo = QComboBox()
        self.combo.setModel(self._model())
        self.combo.setMaxVisibleItems(30)
        self.combo.activated.connect(self._combo_activated)
        self.doc_label = _plain(QLabel(wordWrap=True))
        self.doc_label.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.info_label = _plain(QLabel(wordWrap=True))
        self.match_box = QCheckBox("Match the Input node when choosing")
        self.match_box.setChecked(True)
        self.match_box.setToolTip("Set the Input node's shape and dtype to the dataset's, in "
                                  "the same undo step as the dataset change")
        self.match_button = QPushButton("Match Input node")
        self.match_button.setToolTip("Set the Input node's shape and dtype to the dataset's")
        self.match_button.clicked.connect(self.match_input)

        self.options_form = QFormLayout()
        self.split_form = QFormLayout()
        for f in (self.options_form, self.split_form):
            _tidy_form(f)
        self.options_title = _section("Options")
        self.counts_label = _plain(QLabel())
        self.counts_label.setStyleSheet(f"color: {theme.css(theme.muted_colour())};")
        self.check_label = QLabel(wordWrap=True)
        self.check_label.setTextFormat(Qt.TextFormat.RichText)
        self.check_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        side = QWidget()
        body = QVBoxLayout(side)
        body.setContentsMargins(10, 10, 10, 10)
        body.setSpacing(6)
        body.addWidget(_section("Dataset"))
        body.addWidget(self.combo)
        body.addWidget(self.doc_label)
        body.addWidget(self.info_label)
        body.addWidget(self.match_box)
        body.addWidget(_rule())
        body.addWidget(_section("Fit with the graph"))  # first: it decides whether it trains
        body.addWidget(self.check_label)
        row = QHBoxLayout()
        row.addWidget(self.match_button)
        row.addStretch(1)
        body.addLayout(row)
        body.addWidget(_rule())
        body.addWidget(self.options_title)
        body.addLayout(self.options_form)
        body.addWidget(_section("Split and augmentation"))
        body.addLayout(self.split_form)
        body.addWidget(self.counts_label)
        body.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(side)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.preview = Preview()
        self.preview_title = _section("Preview")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(6, 10, 6, 6)
        rl.addWidget(self.preview_title)
        rl.addWidget(self.preview, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([320, 600])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(split)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(0)
        self._check_timer.timeout.connect(self.run_check)
        self.notifier.datasetChanged.connect(self.refresh)
        doc.projectReplaced.connect(self.refresh)
        doc.analysisChanged.connect(self._check_timer.start)
        for name in ("trainingChanged",):  # the loss is part of the check
            if hasattr(doc, name):
                getattr(doc, name).connect(self._check_timer.start)
        if hasattr(doc, "lockChanged"):  # a training run uses the data: no edits meanwhile
            doc.lockChanged.connect(self._lock_changed)
        self.refresh()

    def sizeHint(self) -> QSize:
        return QSize(900, 320)

    def _lock_changed(self, locked: bool) -> None:
        for w in [self.combo, self.match_button, self.match_box] + [
                f.editor for f in self.fields.values()]:
            w.setEnabled(not locked)
        if not locked:
            self._update_augment()
            self.run_check()

    def _push(self, cmd) -> None:
        self.doc.undo_stack.push(cmd)
        self._show_choice()  # a refused push (document locked): show what is stored
        self._build_fields()

    # ---- the chooser -------------------------------------------------------------------

    def _model(self) -> QStandardItemModel:
        from ..data import all_specs

        model = QStandardItemModel(self)
        placeholder = QStandardItem("Choose a dataset…")
        placeholder.setData(None, Qt.ItemDataRole.UserRole)
        model.appendRow(placeholder)
        bold = QFont()
        bold.setBold(True)
        by_cat: dict[str, list] = {}
        for spec in all_specs():
            by_cat.setdefault(spec.category, []).append(spec)
        for cat, specs in by_cat.items():
            head = QStandardItem(cat)
            head.setFont(bold)
            head.setFlags(Qt.ItemFlag.NoItemFlags)
            model.appendRow(head)
            for spec in specs:
                extra = "" if spec.offline else ", local files"
                item = QStandardItem(f"    {spec.name}  ({spec.task}{extra})")
                item.setData(spec.name, Qt.ItemDataRole.UserRole)
                item.setToolTip(spec.doc)
                model.appendRow(item)
        return model

    def dataset_names(self) -> list[str]:
        m = self.combo.model()
        return [m.item(i).data(Qt.ItemDataRole.UserRole) for i in range(m.rowCount())
                if m.item(i).data(Qt.ItemDataRole.UserRole)]

    def _combo_activated(self, index: int) -> None:
        name = self.combo.itemData(index, Qt.ItemDataRole.UserRole)
        current = self.doc.project.dataset
        if name is None or (current is not None and current.name == name):
            self._show_choice()
            return
        self.choose(name)

    def choose(self, name: str) -> None:
        """Make `name` (with default options) the project's dataset: one undo entry."""
        self._push(change_dataset(self.doc, DatasetChoice(name=name, options={}),
                                  self.match_box.isChecked()))

    def match_input(self) -> None:
        cmd = match_input_command(self.doc, self.info)
        if cmd is not None:
            self._push(cmd)

    # ---- showing the choice ------------------------------------------------------------

    def spec(self):
        from ..data import DataError, get

        ds = self.doc.project.dataset
        if ds is None:
            return None
        try:
            return get(ds.name)
        except DataError:
            return None

    def refresh(self) -> None:
        self._show_choice()
        self._build_fields()
        self._update_info()
        self._load_preview()
        self._check_timer.start()

    def _show_choice(self) -> None:
        ds = self.doc.project.dataset
        i = self.combo.findData(ds.name if ds else None, Qt.ItemDataRole.UserRole)
        self.combo.setCurrentIndex(max(0, i))
        spec = self.spec()
        if ds is not None and spec is None:
            self.doc_label.setText(f"Unknown dataset {ds.name!r}; choose another.")
        else:
            self.doc_label.setText(spec.doc if spec else "The project has no dataset yet.")

    def _build_fields(self) -> None:
        spec = self.spec()
        names = tuple(p.name for p in spec.all_params) if spec else ()
        if tuple(self.fields) != names:
            for form in (self.options_form, self.split_form):
                while form.rowCount():
                    form.removeRow(0)
            self.fields = {}
            if spec:
                for p in spec.all_params:
                    f = ParamField(p)
                    f.edited.connect(lambda p=p: self._field_edited(p))
                    form = self.split_form if p in _common() else self.options_form
                    label = QLabel(p.name.replace("_", " "))
                    label.setToolTip(p.doc)
                    form.addRow(label, f)
                    self.fields[p.name] = f
        self.options_title.setVisible(bool(spec and spec.params))
        if spec:
            opts = {p.name: p.default for p in spec.all_params}
            opts.update(self.doc.project.dataset.options)
            for name, f in self.fields.items():
                f.show_value(opts.get(name))
                f.set_problem(None)
            self._problem_from_fill()
        self._update_augment()

    def _update_augment(self) -> None:
        f = self.fields.get("augment")
        if f is None:
            return
        p = self.preview_data
        ok = bool(p and p["augmentable"]) if p else True
        f.editor.setEnabled(ok or bool(f.shown))
        f.editor.setToolTip(f.param.doc if ok else "augmentation works on image datasets only")

    def _problem_from_fill(self) -> str | None:
        """Show the registry's own complaint about the stored options (e.g. fractions that
        leave no training data) under the field it names, or the fraction fields."""
        spec, ds = self.spec(), self.doc.project.dataset
        try:
            spec.fill(ds.options)
        except ValueError as e:
            msg = str(e)
            target = next((n for n in self.fields if f"option {n} " in msg), None)
            for n in ([target] if target else ["val_fraction", "test_fraction"]):
                if n in self.fields:
                    self.fields[n].set_problem(msg)
            return msg
        return None

    def _field_edited(self, p: Param) -> None:
        f = self.fields[p.name]
        value, msg = f.read()
        if msg is None:
            msg = p.check(value)
            msg = f"{p.name} {msg}" if msg else None
        if msg:
            f.set_problem(msg)
            return
        ds = self.doc.project.dataset
        if value == f.shown:
            f.set_problem(None)
            return
        options = dict(ds.options)
        options[p.name] = value
        if value == p.default:
            options.pop(p.name)
        try:
            self.spec().fill(options)  # the registry's own cross-option checks
        except ValueError as e:
            f.set_problem(str(e))
            return
        f.set_problem(None)
        choice = DatasetChoice(name=ds.name, options=options)
        cmd = SetDataset(self.doc, choice, f"Dataset {ds.name}: {p.name}", merge_key=p.name)
        if p.name in [q.name for q in self.spec().params] and self.match_box.isChecked():
            # an option such as window or max_len changes the input shape: match it too
            spec = self.spec()
            try:
                info = spec.info(spec.fill(options)) if spec.info else None
            except ValueError:
                info = None
            params = match_input_command(self.doc, info)
            if params is not None:
                macro = MacroCommand(cmd.text())
                macro.children = [cmd, params]
                cmd = macro
        self._push(cmd)

    def _update_info(self) -> None:
        spec, ds = self.spec(), self.doc.project.dataset
        self.info = None
        if spec is not None and spec.info is not None:
            try:
                self.info = spec.info(spec.fill(ds.options))
            except ValueError:
                self.info = None
        if self.info is None and self.preview_data and ds and \
                self.preview_data["key"] == _key(ds):
            self.info = self.preview_data["info"]
        self.info_label.setText(info_text(self.info) if self.info else "")

    # ---- preview -----------------------------------------------------------------------

    def _load_preview(self) -> None:
        ds, spec = self.doc.project.dataset, self.spec()
        if ds is None or spec is None:
            self._loaded_key = None
            self.preview_data = None
            self.preview.show_message("Choose a dataset to preview it.")
            self.counts_label.setText("")
            self.previewReady.emit()
            return
        key = _key(ds)
        if key == self._loaded_key:
            return
        self._loaded_key = key
        try:
            spec.fill(ds.options)
        except ValueError as e:
            self.preview.show_message(str(e))
            self.previewReady.emit()
            return
        self.preview_title.setText(f"Preview — loading {ds.name}…")
        options = dict(ds.options)
        self.loader.run(lambda: {**load_preview(ds.name, options), "key": key})

    def _preview_loaded(self, token: int, result, error) -> None:
        if token != self.loader.token:
            return  # a newer choice is loading
        if error is not None:
            self.preview_data = None
            self.preview_title.setText("Preview")
            self.preview.show_message(str(error) if isinstance(error, ValueError)
                                      else f"{type(error).__name__}: {error}")
            self.counts_label.setText("")
        else:
            self.preview_data = result
            tr, va, te = result["counts"]
            self.counts_label.setText(f"{tr:,} training · {va:,} validation · {te:,} test "
                                      f"samples")
            self.preview_title.setText(f"Preview — {result['name']}")
            self.preview.show_preview(result)
            self._update_info()
            self._update_augment()
            self._check_timer.start()
        self.previewReady.emit()

    # ---- the pre-training check --------------------------------------------------------

    def run_check(self) -> None:
        """Ask the training package whether this graph can train on this dataset."""
        if not self.doc.analysis_enabled:
            return  # needs torch; the first analysisChanged (torch ready) runs it again
        from ..training.config import TrainingConfigError, check

        ds = self.doc.project.dataset
        mismatch = input_mismatch(self.doc.graph, self.info)
        self.match_button.setEnabled(mismatch is not None)
        ok_c = theme.css(theme.ok_colour())
        err_c = theme.css(theme.severity_colour("error"))
        if ds is None:
            self.fits, self.check_message = False, "Choose a dataset to check the graph."
            self.check_label.setText(self.check_message)
        elif self.info is None:
            self.fits, self.check_message = False, "Waiting for the data…"
            self.check_label.setText(self.check_message)
        else:
            try:
                plan = check(self.doc.graph, self.doc.project.training, self.info, ds.name,
                             device="cpu")
            except TrainingConfigError as e:
                self.fits, self.check_message = False, str(e)
                lines = str(e).splitlines()
                items = "".join(f"<li>{_html(line.strip().lstrip('- '))}</li>"
                                for line in lines[1:])
                self.check_label.setText(f"<span style='color:{err_c}'>✖ {_html(lines[0])}"
                                         f"</span><ul style='margin-left:-20px'>{items}</ul>")
            except Exception as e:  # noqa: BLE001 (an analysis failure must not break the panel)
                self.fits, self.check_message = False, f"{type(e).__name__}: {e}"
                self.check_label.setText(_html(self.check_message))
            else:
                self.fits = True
                self.check_message = (f"Ready to train: the graph fits {ds.name} "
                                      f"(loss {self.doc.project.training.loss}, output width "
                                      f"{plan.output_width})")
                warn = "".join(f"<br>{_html(w)}" for w in plan.warnings)
                self.check_label.setText(f"<span style='color:{ok_c}'>✔ "
                                         f"{_html(self.check_message)}</span>{warn}")
        self.checked.emit()


def _key(ds: DatasetChoice):
    return ds.name, tuple(sorted(ds.options.items()))


def _common() -> tuple[Param, ...]:
    from ..data.registry import COMMON
    return COMMON


# ---- installation into the main window ----------------------------------------------------

def install_data_and_results(window) -> None:
    """Add the Data and Results tabs (in a dock below the canvas) and File > Export… (Ctrl+E)
    to a MainWindow. The panels are `window.data_panel` and `window.results_panel`."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget, QMenu

    from .exportdialog import ExportDialog
    from .results import ResultsPanel

    doc = window.doc
    window.data_panel = DataPanel(doc)
    window.results_panel = ResultsPanel(doc)
    tabs = getattr(window, "bottom", None)
    if tabs is not None:
        tabs.addTab(window.data_panel, "Data")
        tabs.addTab(window.results_panel, "Results")
    else:  # no tab area: docks of their own
        for title, w in (("Data", window.data_panel), ("Results", window.results_panel)):
            dock = QDockWidget(title, window)
            dock.setObjectName(title)
            dock.setWidget(w)
            window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)

    def open_export():
        dlg = ExportDialog(doc, weights=window.results_panel.checkpoint, parent=window)
        window.export_dialog = dlg
        dlg.show()
        return dlg

    bridge = getattr(getattr(window, "training", None), "bridge", None)
    if bridge is not None and hasattr(bridge, "finished"):
        def finished(result):  # a run ended: show its results from its folder
            out = getattr(bridge, "out_dir", None)
            if out is not None and getattr(result, "status", "") in ("completed", "stopped"):
                window.results_panel.show_run(out)
        bridge.finished.connect(finished)

    act = QAction("&Export…", window)
    act.setShortcut(QKeySequence("Ctrl+E"))
    act.triggered.connect(open_export)
    window.act_export = act
    window.open_export_dialog = open_export
    file_menu = next((a.menu() for a in window.menuBar().actions()
                      if isinstance(a.menu(), QMenu) and a.text().replace("&", "") == "File"),
                     None)
    if file_menu is None:
        window.addAction(act)
        return
    quit_act = next((a for a in file_menu.actions() if a.text().replace("&", "") == "Quit"),
                    None)
    if quit_act is not None:
        file_menu.insertAction(quit_act, act)
        file_menu.insertSeparator(quit_act)
    else:
        file_menu.addAction(act)
