"""The editor window as the GUI tests open it, and the small gestures they share."""
from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

from netbuilder.ui.mainwindow import MainWindow


def open_window(qtbot, tmp_path, monkeypatch) -> MainWindow:
    """A shown main window with its own state folder; closing it drops unsaved edits."""
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow()
    w.ask = lambda *a, **k: QMessageBox.Discard
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def settle(w) -> None:
    QApplication.processEvents()
    w.doc.refresh()
    QApplication.processEvents()


def load(w, name):
    w.load_example(name)
    settle(w)
    return w.doc.graph


def select(w, *names) -> None:
    """Select nodes on the canvas by name, as a rubber band or ctrl-clicks would."""
    graph = w.canvas.graph
    w.canvas.clearSelection()
    for name in names:
        w.canvas.nodes[graph.by_name(name).id].setSelected(True)
    QApplication.processEvents()
