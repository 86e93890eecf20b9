"""Render the README's Experiments screenshots in a real window (then look at them):

    Xvfb :105 -screen 0 1366x768x24 &
    DISPLAY=:105 .venv/bin/python packaging/experiments_screenshots.py

1. experiments_sweep.png: a sweep of the learning rate and the first layer's width on the
   digits MLP, started from the Experiments tab, finished, the best trial selected (its
   curves join the run history, its graph is compared on the canvas).
2. compare_diff.png: File > Compare with… an older version of the project: a changed
   width, a removed Dropout (ghosted) and an added LayerNorm, with the tooltip of the
   changed node (old → new).
The screen is grabbed whole, so tooltips are in the picture.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

SHOTS = Path(__file__).resolve().parents[1] / "assets" / "screenshots"


def main() -> int:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QApplication, QMessageBox, QToolTip

    from netbuilder import examples
    from netbuilder.core.project import save_project
    from netbuilder.ui.mainwindow import MainWindow
    from training_screenshots import spin  # beside this file

    app = QApplication.instance() or QApplication(sys.argv)
    w = MainWindow(restore_layout=False)
    w.ask = lambda *a, **k: QMessageBox.Discard
    w.resize(1366, 740)
    w.move(0, 0)
    w.load_example("digits_mlp")
    w.show()
    w.doc.refresh()
    spin(app, 0.5)
    tmp = Path(tempfile.mkdtemp(prefix="netbuilder-shots-"))

    # ---- 1: a sweep from the Experiments tab -----------------------------------------------
    panel = w.training.panel
    panel.epochs.setValue(8)
    panel.epochs.editingFinished.emit()
    w._sweep_this("lr", w.doc.project.training.lr)  # as "Sweep this…" on Learning rate does
    w.inspector.set_node("n3")
    w.inspector._sweep("out_features")  # and on the first Linear's out_features
    exp = w.experiments
    exp.space.item(1, 1).setText("16,32,64,128")
    exp.trials.setValue(10)
    exp.parallel.setValue(2)
    exp.folder.setText(str(tmp / "sweep"))
    w.resizeDocks([w.details_dock], [330], Qt.Vertical)
    exp.start()
    deadline = time.monotonic() + 900
    while exp.running and time.monotonic() < deadline:
        spin(app, 0.2)
    col = [exp.table.horizontalHeaderItem(c).text()
           for c in range(exp.table.columnCount())].index("val_accuracy")
    exp.table.sortItems(col, Qt.SortOrder.DescendingOrder)
    exp.table.selectRow(0)
    spin(app, 1.0)
    w.view.fit_all()
    spin(app, 0.5)
    app.primaryScreen().grabWindow(0).save(str(SHOTS / "experiments_sweep.png"))
    print(f"saved {SHOTS / 'experiments_sweep.png'}")
    w.compare.clear()

    # ---- 2: a diff on the canvas --------------------------------------------------------------
    old = examples.load("digits_mlp")
    old.graph.set_params("n3", {"out_features": 128})
    old.graph.add_node("Dropout", name="Dropout", params={"p": 0.3}, id="d1",
                       pos=(580.0, 460.0))
    old.training = old.training.model_copy(update={"lr": 0.01, "epochs": 8})
    save_project(old, tmp / "digits_mlp_v1.json")
    w.add_layer_at_center("LayerNorm")
    w.compare.compare_with_path(str(tmp / "digits_mlp_v1.json"), "digits_mlp_v1.json")
    w.bottom.setCurrentWidget(w.problems_panel)
    w.resizeDocks([w.details_dock], [190], Qt.Vertical)
    spin(app, 0.5)
    w.view.fitInView(w.canvas.itemsBoundingRect().adjusted(-40, -120, 40, 40),
                     Qt.AspectRatioMode.KeepAspectRatio)
    spin(app, 0.8)
    item = w.compare.marks["n3"]
    at = w.view.viewport().mapToGlobal(w.view.mapFromScene(item.sceneBoundingRect().center()))
    QToolTip.showText(at + QPoint(8, 8), item.toolTip(), w.view.viewport())
    spin(app, 0.8)
    app.primaryScreen().grabWindow(0).save(str(SHOTS / "compare_diff.png"))
    print(f"saved {SHOTS / 'compare_diff.png'}")
    w.training.shutdown()
    w.experiments.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
