"""The Experiments tab and Compare with…, driven as a person would: "Sweep this" on a
training setting, a real two-trial sweep in the tab, a trial clicked; a project file
compared with the canvas (added, changed and ghosted removed nodes, old → new on hover)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

from netbuilder import examples
from netbuilder.core.project import save_project
from netbuilder.ui.document.commands import SetParams
from netbuilder.ui.mainwindow import MainWindow


def _window(qtbot, example="digits_mlp") -> MainWindow:
    w = MainWindow(restore_layout=False)
    w.ask = lambda *a, **k: QMessageBox.Discard  # closing at the end: drop the edits
    qtbot.addWidget(w)
    w.load_example(example)
    w.show()
    qtbot.waitExposed(w)
    return w


def _action(widget, text):
    return next(a for a in widget.actions() if a.text() == text)


def test_compare_with_a_file_marks_added_changed_and_removed_nodes(qtbot, tmp_path,
                                                                    monkeypatch):
    w = _window(qtbot)
    old = examples.load("digits_mlp")
    old.graph.set_params("n3", {"out_features": 128})
    extra = old.graph.add_node("Dropout", name="Old dropout", params={"p": 0.5}, id="old1")
    old.graph.move(extra.id, (900.0, 400.0))
    path = tmp_path / "old.json"
    save_project(old, path)
    added = w.add_layer_at_center("LayerNorm")  # in the document, not in the old file
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    file_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    _action(file_menu, "Compare &with…").trigger()

    qtbot.waitUntil(lambda: "n3" in w.compare.marks)
    marks = w.compare.marks
    assert "out_features: 128 → 64" in marks["n3"].toolTip()
    assert added in marks and "added since old.json" in marks[added].toolTip()
    ghost = marks[f"removed:{extra.id}"]
    assert "Old dropout" in ghost.toolTip() and ghost.opacity() < 1
    assert ghost.rect().topLeft() == QPointF(900.0, 400.0)  # where it was
    assert set(marks) == {"n3", added, f"removed:{extra.id}"}
    # hovering the changed node shows the mark's tooltip: it is the top item with one
    center = w.canvas.nodes["n3"].sceneBoundingRect().center()
    tipped = [i for i in w.canvas.items(center) if i.toolTip()]
    assert tipped[0] is marks["n3"]
    # the marks take no clicks: the node under them is still selected by a click
    view = w.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(center + QPointF(0, 10)))
    qtbot.waitUntil(lambda: w.canvas.selected_node_ids() == ["n3"])
    banner = w.compare.banner
    assert banner.isVisible() and "Comparing with old.json" in banner.text.text()
    # the canvas makes room for the banner: it covers no card
    assert not banner.geometry().intersects(view.viewport().geometry())

    # editing goes on under the comparison, which follows: n3 back to 128 is unchanged
    w.doc.undo_stack.push(SetParams(w.doc.graph, "n3", {"out_features": 128}))
    qtbot.waitUntil(lambda: "n3" not in w.compare.marks)
    assert added in w.compare.marks

    qtbot.mouseClick(banner.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.compare.marks and not banner.isVisible())
    assert view.viewport().geometry().top() <= view.frameWidth()  # the room is given back
    assert not [i for i in w.canvas.items() if i.zValue() == 50]
    w.training.shutdown()


def test_sweep_this_runs_a_sweep_in_the_experiments_tab(qtbot, tmp_path):
    w = _window(qtbot)
    epochs = w.training.panel.epochs
    epochs.setValue(3)
    epochs.editingFinished.emit()  # as leaving the field does
    assert w.doc.project.training.epochs == 3
    panel = w.training.panel
    lr_label = panel.form.labelForField(panel.lr.parentWidget())  # the rate and its Find…
    _action(lr_label, "Sweep this…").trigger()  # its right-click menu
    panel = w.experiments
    assert w.bottom.currentWidget() is panel
    assert panel.specs() == ["lr=0.0003:0.03:log"]
    panel.space.item(0, 1).setText("0.002,0.005")
    panel.trials.setValue(2)
    panel.parallel.setValue(2)
    panel.folder.setText(str(tmp_path / "sweep"))
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.running and panel.table.rowCount() >= 1

    qtbot.waitUntil(lambda: not panel.running, timeout=240_000)
    statuses = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert statuses == ["completed", "completed"], panel.status.text()
    assert len(panel.coords.lines) == 2
    header = panel.table.horizontalHeader()
    col = [panel.table.horizontalHeaderItem(c).text()
           for c in range(panel.table.columnCount())].index("val_accuracy")
    header.sectionClicked.emit(col)  # sort by accuracy, as a click on the header does
    panel.table.sortItems(col, Qt.SortOrder.DescendingOrder)
    accs = [float(panel.table.item(r, col).text()) for r in range(2)]
    assert accs == sorted(accs, reverse=True)

    panel.table.selectRow(0)  # clicking a trial: its curves and its graph
    best = panel.selected_trial()
    qtbot.waitUntil(lambda: w.compare.active)
    assert str(Path(best["folder"]).resolve()) in w.results_panel.history.checked_runs()
    assert "training: epochs" not in w.compare.banner.text.text()
    assert "lr:" in w.compare.banner.text.text()

    # a double-click opens the trial's graph as the document
    rect = panel.table.visualItemRect(panel.table.item(0, 0))
    for click in (qtbot.mouseClick, qtbot.mouseDClick):  # a person's press comes first
        click(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: w.doc.path is not None)
    assert w.doc.path == Path(best["folder"]) / "project.json"
    assert w.doc.project.training.lr == best["lr"]
    w.experiments.shutdown()
    w.training.shutdown()


def test_sweep_this_on_a_layer_parameter_in_the_inspector(qtbot):
    w = _window(qtbot)
    w.canvas.select_nodes(["n5"])  # "Linear 1"
    qtbot.waitUntil(lambda: w.inspector.node_id == "n5")
    label = next(lb for lb in w.inspector.findChildren(QLabel) if lb.text() == "out_features"
                 and lb.actions())
    _action(label, "Sweep this…").trigger()
    assert w.bottom.currentWidget() is w.experiments
    assert w.experiments.specs() == ["Linear 1.out_features=5,10,20"]
    w.training.shutdown()
