"""Fine-tuning in the editor, driven as a person would: select layers and freeze them with
Ctrl+Shift+F (or the context menu), undo, unfreeze, freeze everything before a node, the
inspector's Frozen switch and lr multiplier, the Summary's trainable / frozen counts, Load
Weights… with a file that fits and one that does not, and Fit Head to the Data."""
import pytest
import torch
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QMenu

from netbuilder.core.compiler import compile_graph
from netbuilder.ui.editor.tuning_marks import LOCK

from window_util import open_window, load, select, settle


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    w = open_window(qtbot, tmp_path, monkeypatch)
    reports = []
    w.tuning.show_report = lambda parent, title, text, ok: reports.append((ok, text))
    w.reports = reports
    return w


def key(qtbot, w, k, mod):
    w.view.setFocus()
    qtbot.keyClick(w.view.viewport(), k, mod)
    settle(w)


def frozen_names(graph):
    return sorted(n.name for n in graph.nodes.values() if n.frozen)


def lock_pixels(w, name) -> int:
    """Pixels of the padlock's colour in the node's top-right corner, as drawn."""
    item = w.canvas.nodes[w.canvas.graph.by_name(name).id]
    if w.view.zoom() < 1:  # zoomed out the view draws plain boxes: zoom in to read a card
        w.view.zoom_by(1 / w.view.zoom())
    box = item.mapRectToScene(QRectF(0, 0, item.width, item.height))  # the card itself
    corner = QRectF(box.right() - 50, box.top() + 4, 40, 30)
    img = QImage(40, 30, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    w.canvas.render(p, QRectF(0, 0, 40, 30), corner)
    p.end()
    return sum(img.pixelColor(x, y) == LOCK for x in range(40) for y in range(30))


CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def test_freeze_and_unfreeze_a_selection_with_undo(window, qtbot):
    w = window
    g = load(w, "digits_cnn")
    total = w.doc.totals()[0]
    w.bottom.setCurrentWidget(w.summary_panel)  # the Summary tab, as a person opens it
    qtbot.waitUntil(lambda: w.summary_panel.split_label.text() ==
                    f"trainable parameters: {total:,}   ·   frozen parameters: 0")
    assert lock_pixels(w, "Conv2d") == 0
    select(w, "Conv2d", "BatchNorm2d")
    steps = w.doc.undo_stack.count()
    key(qtbot, w, Qt.Key.Key_F, CTRL_SHIFT)
    assert frozen_names(g) == ["BatchNorm2d", "Conv2d"]
    assert w.doc.undo_stack.count() == steps + 1  # one gesture, one undo entry
    assert w.doc.undo_stack.undoText() == "Freeze 2 nodes"
    frozen = 16 * 9 + 2 * 16
    qtbot.waitUntil(lambda: w.summary_panel.split_label.text() ==
                    f"trainable parameters: {total - frozen:,}   ·   frozen parameters: "
                    f"{frozen:,}")
    assert lock_pixels(w, "Conv2d") > 20
    assert "frozen" in w.canvas.nodes[g.by_name("Conv2d").id].toolTip()

    w.act_undo.trigger()
    settle(w)
    assert frozen_names(g) == [] and lock_pixels(w, "Conv2d") == 0
    w.act_redo.trigger()
    settle(w)
    assert frozen_names(g) == ["BatchNorm2d", "Conv2d"]

    # the context menu offers Unfreeze for a frozen selection (and no Freeze)
    select(w, "Conv2d", "BatchNorm2d")
    menu = QMenu()
    w._extend_context_menu(menu, w.canvas.nodes[g.by_name("Conv2d").id])
    texts = [a.text().replace("&", "") for a in menu.actions()]
    assert "Unfreeze" in texts and "Freeze" not in texts
    next(a for a in menu.actions() if a.text().replace("&", "") == "Unfreeze").trigger()
    settle(w)
    assert frozen_names(g) == []
    w.act_undo.trigger()
    settle(w)
    select(w, "Conv2d")
    key(qtbot, w, Qt.Key.Key_U, CTRL_SHIFT)
    assert frozen_names(g) == ["BatchNorm2d"]


def test_freeze_everything_before_a_node_and_the_inspector_row(window, qtbot):
    w = window
    g = load(w, "digits_cnn")
    select(w, "Linear")
    w.tuning.act_before.trigger()
    settle(w)
    # the layers with weights upstream of Linear; ReLU, pooling, Input stay as they were
    assert frozen_names(g) == ["BatchNorm2d", "BatchNorm2d 1", "Conv2d", "Conv2d 1"]
    assert w.doc.undo_stack.undoText() == "Freeze everything before Linear"
    w.act_undo.trigger()
    settle(w)
    assert frozen_names(g) == []

    head = g.by_name("Linear")
    qtbot.waitUntil(lambda: w.inspector.node_id == head.id)
    row = w.inspector.tuning
    row.frozen.click()
    assert g.node(head.id).frozen
    row.mult.setValue(10.0)
    assert g.node(head.id).lr_mult == 10.0
    w.act_undo.trigger()
    qtbot.waitUntil(lambda: row.mult.value() == 1.0)
    assert g.node(head.id).lr_mult == 1.0 and g.node(head.id).frozen
    w.act_undo.trigger()
    qtbot.waitUntil(lambda: not row.frozen.isChecked())
    assert not g.node(head.id).frozen


def test_load_weights_with_a_mismatched_file_changes_nothing(window, qtbot, tmp_path):
    w = window
    load(w, "digits_cnn")
    unrelated = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(4, 4), "encoder.bias": torch.zeros(4)},
               unrelated)
    steps, clean = w.doc.undo_stack.count(), w.doc.undo_stack.isClean()
    train_menu = next(a.menu() for a in w.menuBar().actions()
                      if a.text().replace("&", "") == "Train")
    assert w.tuning.act_load in train_menu.actions()
    w.tuning.ask_path = lambda parent: str(unrelated)  # the file dialog's answer
    w.tuning.act_load.trigger()  # Train › Load Weights…
    qtbot.waitUntil(lambda: len(w.reports) == 1)
    ok, text = w.reports[-1]
    assert not ok
    assert "none of its 2 tensor(s) fit this graph" in text and "Nothing was changed" in text
    assert "unexpected (ignored): encoder.weight, encoder.bias" in text
    assert w.doc.project.training.init_weights == ""
    assert w.doc.undo_stack.count() == steps and w.doc.undo_stack.isClean() == clean
    assert not w.tuning.act_fresh.isEnabled()

    # weights of this very graph, saved as a state_dict: they fit, and undo forgets them
    good = tmp_path / "good.pt"
    torch.save(compile_graph(w.doc.graph).state_dict(), good)
    w.tuning.ask_path = lambda parent: str(good)
    w.tuning.act_load.trigger()
    qtbot.waitUntil(lambda: len(w.reports) == 2)
    ok, text = w.reports[-1]
    assert ok and "14 tensor(s) matched, 0 missing" in text
    assert w.doc.project.training.init_weights == str(good)
    assert w.tuning.act_fresh.isEnabled()
    w.act_undo.trigger()
    qtbot.waitUntil(lambda: w.doc.project.training.init_weights == "")


def test_fit_head_to_the_data_is_one_undo_step(window, qtbot):
    w = window
    g = load(w, "digits_transfer")
    from netbuilder.core.project import DatasetChoice
    from netbuilder.ui.document.dataset import change_dataset

    w.doc.undo_stack.push(change_dataset(
        w.doc, DatasetChoice(name="digits", options={"digits": "all"}), match_input=False))
    settle(w)
    before = {n.id: (dict(n.params), n.frozen) for n in g.nodes.values()}
    steps = w.doc.undo_stack.count()
    w.tuning.act_fit.trigger()
    settle(w)
    head = g.by_name("head")
    assert head.params["out_features"] == 10
    assert w.doc.undo_stack.count() == steps + 1
    assert {k: v for k, v in before.items() if k != head.id} == {
        n.id: (dict(n.params), n.frozen) for n in g.nodes.values() if n.id != head.id}
    w.act_undo.trigger()
    settle(w)
    assert head.params["out_features"] == 5
