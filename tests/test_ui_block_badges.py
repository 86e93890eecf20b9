"""Health badges from training reach the layers inside an opened block: each copy of a
repeat shows its own layers' badges, and the closed block carries them too."""
from PySide6.QtWidgets import QMessageBox

from netbuilder.ui.mainwindow import MainWindow


def test_an_opened_block_shows_the_badges_of_its_own_copy(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow(restore_layout=False)
    w.ask = lambda *a, **k: QMessageBox.Discard
    qtbot.addWidget(w)
    w.load_example("small_resnet")
    g = w.doc.graph
    layer1 = g.by_name("layer1").id
    inner = {n.name: n.id for n in g.blocks["Basic Block"].nodes.values()}
    dead = [("dead_relu", "every output is 0")]
    # as the training feature sends them: a closed block's summary and the inner places
    w.training.badgesChanged.emit({layer1: dead, f"{layer1}/1/{inner['relu']}": dead})
    assert w.canvas.nodes[layer1].badges == dead
    w.doc.levels.enter(layer1, 0)  # copy 0 is healthy
    qtbot.waitUntil(lambda: inner["relu"] in w.canvas.nodes)
    assert all(item.badges == [] for item in w.canvas.nodes.values())
    w.doc.levels.up()
    w.doc.levels.enter(layer1, 1)  # copy 1 has the dead ReLU
    qtbot.waitUntil(lambda: w.canvas.nodes.get(inner["relu"]) is not None
                    and w.canvas.nodes[inner["relu"]].badges == dead)
    assert w.canvas.nodes[inner["conv1"]].badges == []
    w.doc.levels.up()
    qtbot.waitUntil(lambda: layer1 in w.canvas.nodes)
    assert w.canvas.nodes[layer1].badges == dead
    w.training.shutdown()
