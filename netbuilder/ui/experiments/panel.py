"""The Experiments tab: sweeps started from the editor, watched live, compared.

"Sweep this" on a layer parameter (inspector) or a training setting (training panel)
adds a row with a first range the user edits; trials, parallelism and the sampler are set
here. The sweep is the same `experiments.sweep.Sweep` as `netbuilder sweep`: it trains in
its own processes, and a timer on the UI thread polls it (polling never blocks), so the
table and the plot follow every trial's progress. Choosing an existing sweep folder shows
it, and Start resumes it without training its finished trials again.

Selecting a trial emits `trialActivated(folder)` (the window overlays its curves in the
run history and compares its graph on the canvas); a double-click emits `trialOpened`.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QFileDialog,
                               QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QSplitter, QStyle,
                               QStyledItemDelegate, QStyleOptionProgressBar, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from ..widgets import theme
from ..widgets.forms import plain
from .coords import ParallelCoordinates

POLL_MS = 200
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class _Item(QTableWidgetItem):
    """A cell that sorts by its number when it has one (1e-3 < 2e-2 < "-")."""

    def __lt__(self, other):
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        if isinstance(a, (int, float)) != isinstance(b, (int, float)):
            return isinstance(a, (int, float))
        return self.text() < other.text()


class _ProgressDelegate(QStyledItemDelegate):
    """The progress column as a bar (its sort value is the fraction done)."""

    def paint(self, painter, option, index):
        value = index.data(SORT_ROLE)
        if not isinstance(value, (int, float)):
            return super().paint(painter, option, index)
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect.adjusted(2, 3, -2, -3))
        bar.minimum, bar.maximum, bar.progress = 0, 100, int(round(100 * value))
        bar.text, bar.textVisible = f"{bar.progress}%", True
        QApplication.style().drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)


class ExperimentsPanel(QWidget):
    trialActivated = Signal(str)  # a trial's folder: show its curves and its graph
    trialOpened = Signal(str)  # a trial's project.json: open it as the document
    message = Signal(str)  # for the status bar

    def __init__(self, doc, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.sweep = None
        self.dims: list = []
        self.rows: dict[int, dict] = {}  # trial number -> shown row
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.ask_folder = lambda: QFileDialog.getExistingDirectory(self, "Sweep folder")

        self.space = QTableWidget(0, 2)
        self.space.setHorizontalHeaderLabels(["sweep", "values"])
        self.space.horizontalHeaderItem(1).setToolTip("a list a,b,c or a range lo:hi or "
                                                      "lo:hi:log")
        self.space.verticalHeader().hide()
        self.space.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.
                                                           ResizeToContents)
        self.space.horizontalHeader().setStretchLastSection(True)
        self.space.setToolTip("Right-click a layer parameter in the Inspector or a training "
                              "setting and choose Sweep this; edit the values here")
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        add_lr = QPushButton("+ lr")
        add_lr.setToolTip("Sweep the learning rate")
        add_lr.clicked.connect(lambda: self.add_param("lr", self.doc.project.training.lr))
        self.trials = QSpinBox(minimum=1, maximum=10_000, value=8)
        self.parallel = QSpinBox(minimum=1, maximum=64, value=2)
        self.sampler = QComboBox()
        for text, key in (("TPE (Optuna)", "tpe"), ("Random", "random"), ("Grid", "grid")):
            self.sampler.addItem(text, key)
        self.metric_box = QComboBox()
        self.metric_box.addItems(["val_accuracy", "val_loss"])
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a new folder for each sweep")
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._choose_folder)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.status = plain(QLabel("Add what to sweep, then Start."))
        self.status.setWordWrap(True)

        form = QGridLayout()  # two settings a row: the tab is short
        form.setVerticalSpacing(3)
        for i, (label, w) in enumerate((("Trials", self.trials), ("At once", self.parallel),
                                        ("Sampler", self.sampler),
                                        ("Optimise", self.metric_box))):
            form.addWidget(QLabel(label), i // 2, 2 * (i % 2))
            form.addWidget(w, i // 2, 2 * (i % 2) + 1)
        form.addWidget(QLabel("Folder"), 2, 0)
        form.addWidget(self.folder, 2, 1, 1, 2)
        form.addWidget(browse, 2, 3)
        buttons = QHBoxLayout()
        for b in (add_lr, remove, self.start_button, self.stop_button):
            buttons.addWidget(b)
        self.space.setMinimumHeight(60)
        setup = QWidget()
        sl = QVBoxLayout(setup)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.setSpacing(4)
        sl.addWidget(self.space, 1)
        sl.addLayout(buttons)
        sl.addLayout(form)
        sl.addWidget(self.status)

        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSortingEnabled(True)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.itemDoubleClicked.connect(self._row_opened)
        self.table.setToolTip("Click a trial to compare it; double-click to open its graph")
        self.coords = ParallelCoordinates()
        self.coords.trialClicked.connect(self.select_trial)

        split = QSplitter()
        split.addWidget(setup)
        split.addWidget(self.table)
        split.addWidget(self.coords)
        split.setSizes([320, 470, 400])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)

    # ---- the search space -------------------------------------------------------------

    def add_param(self, name: str, value) -> None:
        """"Sweep this": a row for `name` with a first range around `value`."""
        from ...experiments.space import SpaceError, suggest_spec

        try:
            spec = suggest_spec(self.doc.project, name, value)
        except SpaceError as e:
            self._say(f"Cannot sweep {name}: {e}")
            return
        for row in range(self.space.rowCount()):
            if self.space.item(row, 0).text() == name:
                self.space.item(row, 1).setText(spec)
                break
        else:
            row = self.space.rowCount()
            self.space.insertRow(row)
            label = QTableWidgetItem(name)
            label.setFlags(label.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.space.setItem(row, 0, label)
            self.space.setItem(row, 1, QTableWidgetItem(spec))
        self.space.selectRow(row)
        self._say(f"{name} added to the sweep: {spec} (edit the values, then Start)")

    def specs(self) -> list[str]:
        return [f"{self.space.item(r, 0).text()}={self.space.item(r, 1).text().strip()}"
                for r in range(self.space.rowCount())]

    def _remove_selected(self) -> None:
        for row in sorted({i.row() for i in self.space.selectedIndexes()}, reverse=True):
            self.space.removeRow(row)

    def _choose_folder(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.folder.setText(folder)
            self.show_folder(folder)

    # ---- running --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.sweep is not None

    def start(self) -> bool:
        from ...experiments.space import SpaceError, parse_space
        from ...experiments.sweep import Sweep, SweepError, SweepOptions

        if self.running:
            return False
        folder = self.folder.text().strip() or str(
            Path(tempfile.gettempdir()) / "netbuilder-sweeps" /
            f"{self.doc.project.name or 'untitled'}-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            self.dims = parse_space(self.doc.project, self.specs())
            sweep = Sweep(self.doc.project, self.dims, folder, SweepOptions(
                trials=self.trials.value(), parallel=self.parallel.value(),
                sampler=self.sampler.currentData(), metric=self.metric_box.currentText()))
            sweep.start()
        except (SpaceError, SweepError, OSError) as e:
            self._say(f"Cannot start the sweep: {e}")
            return False
        self.sweep = sweep
        self.folder.setText(folder)
        self._reset_table()
        for st in sweep.trials.values():
            self._show_trial(st)
        self._set_running(True)
        self._say(f"Sweeping {', '.join(d.name for d in self.dims)} in {folder}"
                  + "".join(f"; {n}" for n in sweep.notes))
        self.timer.start()
        self.poll()  # the first trials start now
        return True

    def stop(self) -> None:
        if self.sweep is not None:
            self.sweep.stop()
            self._say("Stopping: the running trials end at their next batch")

    def poll(self) -> None:
        sweep = self.sweep
        if sweep is None:
            return
        changed = sweep.poll()
        for st in changed:
            self._show_trial(st)
        if changed:
            self._update_plot()
        if sweep.done:
            self.timer.stop()
            sweep.close()
            self.sweep = None
            self._set_running(False)
            best = sweep.best()
            what = "stopped" if sweep.stopping else "finished"
            tail = (f"; best: trial {best['trial']}, {sweep.metric} {best[sweep.metric]:.4g}"
                    if best else "")
            self._say(f"Sweep {what}: {sweep.finished_count} trial(s){tail}")
        else:
            running = len(sweep.running)
            self.status.setText(f"{sweep.finished_count} of {sweep.options.trials} trials "
                                f"finished, {running} training")

    def shutdown(self) -> None:
        """The window is closing: end the trials (they count as interrupted)."""
        self.timer.stop()
        if self.sweep is not None:
            self.sweep.close(timeout=3.0)
            self.sweep = None

    def _set_running(self, on: bool) -> None:
        self.start_button.setEnabled(not on)
        self.stop_button.setEnabled(on)
        self.space.setEnabled(not on)

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    # ---- the table and the plot ------------------------------------------------------------

    def _columns(self) -> list[str]:
        metric = self.metric_box.currentText()
        return ["trial", "status", "progress", *(d.name for d in self.dims), metric,
                "seconds"]

    def _reset_table(self) -> None:
        self.rows = {}
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setRowCount(0)
        cols = self._columns()
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setItemDelegateForColumn(2, _ProgressDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(2, 80)
        self.table.setSortingEnabled(True)

    def _show_trial(self, st) -> None:
        metric = self.metric_box.currentText()
        row = {"trial": st.number, "status": st.status, "progress": st.progress,
               **{d.name: st.values.get(d.key) for d in self.dims},
               metric: st.metrics.get(metric), "seconds": st.seconds or None,
               "folder": str(st.folder)}
        self._put_row(row)

    def _put_row(self, row: dict) -> None:
        self.rows[row["trial"]] = row
        self.table.setSortingEnabled(False)  # rows must not move while a row is written
        r = next((i for i in range(self.table.rowCount())
                  if self.table.item(i, 0).data(SORT_ROLE) == row["trial"]), None)
        if r is None:
            r = self.table.rowCount()
            self.table.insertRow(r)
        for c, key in enumerate(self._columns()):
            v = row.get(key)
            item = self.table.item(r, c)
            if item is None:
                item = _Item()
                self.table.setItem(r, c, item)
            item.setData(SORT_ROLE, v if isinstance(v, (int, float)) else None)
            item.setText("" if key == "progress" else _fmt(v))
            if key == "status":
                item.setForeground(theme.severity_colour("error", self.palette())
                                   if v == "failed" else self.palette().text().color())
        self.table.setSortingEnabled(True)

    def _update_plot(self) -> None:
        metric = self.metric_box.currentText()
        done = [r for r in self.rows.values() if r["status"] in ("completed", "pruned")]
        self.coords.set_data(self.dims, metric, metric == "val_accuracy", done)

    def select_trial(self, number: int) -> None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(SORT_ROLE) == number:
                self.table.selectRow(r)
                return

    def selected_trial(self) -> dict | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        return self.rows.get(self.table.item(rows.pop(), 0).data(SORT_ROLE))

    def _row_selected(self) -> None:
        row = self.selected_trial()
        if row is None:
            return
        self.coords.select(row["trial"])
        self._update_plot()
        if Path(row["folder"], "project.json").is_file():
            self.trialActivated.emit(row["folder"])

    def _row_opened(self, item) -> None:
        row = self.selected_trial()
        if row is not None and Path(row["folder"], "project.json").is_file():
            self.trialOpened.emit(str(Path(row["folder"], "project.json")))

    def show_folder(self, folder) -> bool:
        """Show a sweep folder's results (results.csv) without running anything."""
        from ...core.project import ProjectError, load_project
        from ...experiments.space import SpaceError, parse_space
        from ...experiments.sweep import read_results

        if self.running:
            return False
        rows = read_results(folder)
        try:
            base = load_project(Path(folder) / "project.json")
            specs, metric = _stored_space(Path(folder))
            self.dims = parse_space(base, specs)
        except (ProjectError, SpaceError, KeyError, ValueError):
            self._say(f"{folder}: holds no sweep that can be shown")
            return False
        self.metric_box.setCurrentText(metric)
        self.space.setRowCount(0)
        for spec in specs:
            name, _, values = spec.partition("=")
            row = self.space.rowCount()
            self.space.insertRow(row)
            self.space.setItem(row, 0, QTableWidgetItem(name))
            self.space.setItem(row, 1, QTableWidgetItem(values))
        self._reset_table()
        for r in rows:
            r["progress"] = 1.0
            r["folder"] = str(Path(folder) / r["folder"])
            self._put_row(r)
        self._update_plot()
        self._say(f"{len(rows)} trial(s) in {folder}; Start resumes the sweep")
        return True


def _stored_space(folder: Path) -> tuple[list[str], str]:
    """The --param specs and the metric a sweep folder's study was started with."""
    import optuna

    from ...experiments.sweep import STUDY

    if not (folder / "sweep.db").is_file():
        raise ValueError("no sweep.db")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    attrs = optuna.load_study(study_name=STUDY,
                              storage=f"sqlite:///{(folder / 'sweep.db').resolve()}").user_attrs
    names = attrs["names"]
    return [f"{names[k]}={v}" for k, v in attrs["space"].items()], attrs["metric"]


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


__all__ = ["ExperimentsPanel"]
