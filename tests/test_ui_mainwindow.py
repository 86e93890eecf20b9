"""The main window builds every feature itself: docks, menus and the wiring between them."""
from PySide6.QtWidgets import QDockWidget

from netbuilder.ui.mainwindow import MainWindow


def test_the_window_has_every_dock_and_menu(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow()
    qtbot.addWidget(w)
    menus = {a.text().replace("&", ""): a.menu() for a in w.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Train", "Help"]
    docks = {d.objectName() for d in w.findChildren(QDockWidget)}
    assert docks == {"Layers", "Inspector", "Details", "Training", "Live"}
    view = {a.text() for a in menus["View"].actions()}
    assert docks <= view  # each dock can be shown again from the View menu
    file_items = [a.text() for a in menus["File"].actions() if a.text()]
    assert file_items.index("&Export…") == file_items.index("&Quit") - 1
    train = [a.text() for a in menus["Train"].actions() if a.text()]
    assert train[:4] == ["Train", "Pause", "Resume", "Stop"]
    tabs = [w.bottom.tabText(i) for i in range(w.bottom.count())]
    assert tabs == ["Problems", "Summary", "Code", "Data", "Results", "Insight", "Pre-flight",
                    "Experiments"]
    w.training.shutdown()


def test_a_health_badge_from_training_reaches_the_canvas(qtbot, tmp_path, monkeypatch):
    """Training and the editor never import each other; the window connects them."""
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.load_example("spirals_mlp")
    node = next(iter(w.doc.graph.nodes))
    w.training.badgesChanged.emit({node: [("nan", "not finite")]})
    assert w.canvas.nodes[node].badges == [("nan", "not finite")]
    w.training.badgesChanged.emit({})
    assert w.canvas.nodes[node].badges == []
    w.training.shutdown()
