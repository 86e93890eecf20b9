"""The run history: finished runs (their metrics.csv) listed, one curve per ticked run."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from ..widgets.plots import make_plot, panel_legend
from ..widgets.theme import class_colour


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
            self._plot = make_plot(pal=self.palette())
            self._legend = panel_legend(self._plot, self.palette())
            self._plot.setLabel("bottom", "epoch")
            self.plot_host.layout().addWidget(self._plot)
        return self._plot

    def clear(self) -> None:
        """Forget every run (another document)."""
        self.runs, self.curves = {}, {}
        self.list.clear()
        self.metric.blockSignals(True)
        self.metric.clear()
        self.metric.blockSignals(False)
        if self._plot is not None:
            self._plot.clear()
            self._legend.clear()

    def add_run(self, run_dir: str | Path, checked: bool = True) -> bool:
        """List a run folder (False when it has no metrics.csv), ticked when `checked`.
        Re-adding refreshes its history and keeps its tick."""
        run = str(Path(run_dir).resolve())
        from ...training.history import read_history  # imports torch: not at start-up

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
