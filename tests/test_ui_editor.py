"""The editor driven as a person drives it: drop layers, wire ports with the mouse, edit in
the inspector, delete, undo/redo, save and reopen."""
import json

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent, QDragEnterEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from netbuilder import examples
from netbuilder.core.project import Project, load_project
from netbuilder.ui.editor.items import EdgeItem
from netbuilder.ui.mainwindow import MainWindow
from netbuilder.ui.editor.palette import layer_mime


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow()
    w.ask = lambda *a, **k: QMessageBox.Discard  # answer "discard" to unsaved-changes
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def settle(w):
    QApplication.processEvents()
    w.doc.refresh()
    QApplication.processEvents()


def drop_layer(w, type_name, scene_pos):
    """Drag a layer from the palette and drop it on the canvas at a scene position."""
    mime = layer_mime(type_name)
    view = w.view
    pt = view.mapFromScene(QPointF(*scene_pos))
    enter = QDragEnterEvent(pt, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), enter)
    drop = QDropEvent(QPointF(pt), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(view.viewport(), drop)
    settle(w)
    return w.canvas.selected_node_ids()[0]


def port_point(w, node_id, port, output):
    item = w.canvas.nodes[node_id]
    p = (item.outputs if output else item.inputs)[port]
    return w.view.mapFromScene(p.scenePos())


def wire(qtbot, w, src, dst, dst_port="in"):
    vp = w.view.viewport()
    a, b = port_point(w, src, "out", True), port_point(w, dst, dst_port, False)
    qtbot.mousePress(vp, Qt.LeftButton, pos=a)
    qtbot.mouseMove(vp, QPoint((a.x() + b.x()) // 2, (a.y() + b.y()) // 2))
    qtbot.mouseMove(vp, b)
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=b)
    settle(w)


def edge_label(w, src, dst):
    for edge, item in w.canvas.edges.items():
        if edge.src == src and edge.dst == dst:
            return item.label
    raise AssertionError("no such wire on the canvas")


def set_field(qtbot, w, name, text):
    field = w.inspector.fields[name]
    editor = field.editor
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key_Return)
    settle(w)
    return field


def test_build_edit_delete_undo_save_reopen(qtbot, window, tmp_path):
    w = window
    w.view.resetTransform()
    inp = drop_layer(w, "Input", (0, 0))
    lin = drop_layer(w, "Linear", (320, 0))
    out = drop_layer(w, "Output", (640, 0))
    assert [n.type for n in w.doc.graph.nodes.values()] == ["Input", "Linear", "Output"]

    wire(qtbot, w, inp, lin)
    wire(qtbot, w, lin, out)
    assert len(w.doc.graph.edges) == 2
    assert edge_label(w, lin, out) == "N×32"  # Linear's default width, shown on the wire
    assert w.doc.valid

    # Inspector: change out_features; the wire downstream shows the new shape.
    w.canvas.select_nodes([lin])
    settle(w)
    entries = w.doc.undo_stack.count()
    set_field(qtbot, w, "out_features", "10")
    assert w.doc.undo_stack.count() == entries + 1  # typing "10" is one edit, not two
    assert w.doc.graph.node(lin).params["out_features"] == 10
    assert edge_label(w, lin, out) == "N×10"

    # An invalid value is refused with a message and changes nothing.
    w.canvas.select_nodes([inp])
    settle(w)
    before, entries = w.doc.graph.signature(), w.doc.undo_stack.count()
    field = set_field(qtbot, w, "shape", "4, -2")
    assert field.message.isVisible() and "at least 1" in field.message.text()
    assert w.doc.graph.signature() == before and w.doc.undo_stack.count() == entries
    field = set_field(qtbot, w, "shape", "6")
    assert not field.message.isVisible()
    assert edge_label(w, inp, lin) == "N×6"

    final = w.doc.graph.signature()
    # Delete the Linear with the keyboard, as a person would.
    w.canvas.select_nodes([lin])
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key_Delete)
    settle(w)
    assert lin not in w.doc.graph.nodes and w.doc.graph.edges == []
    assert not w.doc.valid  # Output is now unconnected

    stack = w.doc.undo_stack
    stack.undo()
    assert w.doc.graph.signature() == final
    while stack.canUndo():
        stack.undo()
    assert w.doc.graph.nodes == {}
    while stack.canRedo():
        stack.redo()
    assert w.doc.graph.signature() != final  # the deletion is redone too
    stack.undo()
    settle(w)
    assert w.doc.graph.signature() == final
    assert edge_label(w, lin, out) == "N×10"

    path = tmp_path / "built.json"
    assert w._save_to(path)
    assert not w.doc.modified and "*" not in w.windowTitle().replace("[*]", "")
    w.new_project()
    assert w.doc.graph.nodes == {}
    assert w.open_path(path)
    assert w.doc.graph.signature() == final
    assert load_project(path).graph.signature() == final


def test_dropping_onto_a_wire_inserts_the_layer(qtbot, window):
    w = window
    w.doc.set_project(examples.load("spirals_mlp"))
    settle(w)
    g = w.doc.graph
    first = g.edges[0]
    item = w.canvas.edges[first]
    mid = item.path().pointAtPercent(0.5)
    w.view.centerOn(mid)
    new = drop_layer(w, "Dropout", (mid.x(), mid.y()))
    assert g.node(new).type == "Dropout"
    assert [e.dst for e in g.out_edges(first.src)] == [new]
    assert [e.src for e in g.in_edges(first.dst)] == [new]
    w.doc.undo_stack.undo()  # one gesture, one undo entry
    assert new not in g.nodes and first in g.edges


def test_moving_a_group_is_one_undo_entry(qtbot, window):
    w = window
    w.doc.set_project(examples.load("digits_mlp"))
    settle(w)
    ids = list(w.doc.graph.nodes)[:2]
    w.canvas.select_nodes(ids)
    start = {i: w.doc.graph.node(i).pos for i in ids}
    vp = w.view.viewport()
    item = w.canvas.nodes[ids[0]]
    p = w.view.mapFromScene(item.sceneBoundingRect().center())
    assert vp.rect().contains(p)
    qtbot.mousePress(vp, Qt.LeftButton, pos=p)  # on a selected node: the group moves
    for k in range(1, 6):
        qtbot.mouseMove(vp, p + QPoint(20 * k, 12 * k))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=p + QPoint(100, 60))
    settle(w)
    moved = {i: w.doc.graph.node(i).pos for i in ids}
    assert all(moved[i] != start[i] for i in ids)
    assert w.doc.undo_stack.count() == 1
    w.doc.undo_stack.undo()
    assert {i: w.doc.graph.node(i).pos for i in ids} == start


def test_copy_paste_and_duplicate(qtbot, window):
    w = window
    w.doc.set_project(examples.load("digits_mlp"))
    settle(w)
    g = w.doc.graph
    lin = [n.id for n in g.nodes.values() if n.type == "Linear"][:1]
    relu = [n.id for n in g.nodes.values() if n.type == "ReLU"]
    w.canvas.select_nodes(lin + relu)
    w.copy()
    pasted = w.paste()
    assert len(pasted) == 2 and len(g.nodes) == 8
    # the wire between the two copied nodes is pasted too
    assert any(e.src in pasted and e.dst in pasted for e in g.edges)
    dup = w.duplicate()
    assert len(dup) == 2 and len(g.nodes) == 10
    w.doc.undo_stack.undo()
    w.doc.undo_stack.undo()
    assert len(g.nodes) == 6


def test_problems_panel_click_centres_the_node(qtbot, window):
    w = window
    w.doc.set_project(examples.load("digits_cnn"))
    settle(w)
    flatten = next(n.id for n in w.doc.graph.nodes.values() if n.type == "Flatten")
    w.canvas.select_nodes([flatten])
    w.canvas.delete_selection()
    settle(w)
    assert not w.doc.valid
    assert "error" in w.status_valid.text()
    linear = next(n.id for n in w.doc.graph.nodes.values() if n.type == "Dropout")
    w.problems_panel.nodeActivated.emit(linear)
    assert w.canvas.selected_node_ids() == [linear]


def test_unsaved_changes_prompt_and_title(qtbot, window, tmp_path):
    w = window
    w.doc.set_project(examples.load("spirals_mlp"))
    settle(w)
    assert not w.isWindowModified()
    w.add_layer_at_center("ReLU")
    assert w.isWindowModified()
    asked = []
    w.ask = lambda *a, **k: (asked.append(a[2]), QMessageBox.Cancel)[1]
    w.new_project()
    assert asked and len(w.doc.graph.nodes) == 8  # cancelled: nothing lost


def test_autosave_and_recovery(qtbot, window, tmp_path):
    w = window
    w.doc.set_project(examples.load("spirals_mlp"))
    w.add_layer_at_center("GELU")
    w.autosave()
    assert w.recovery_path().exists()
    expected = w.doc.graph.signature()
    # A new window after a "crash" offers the copy back.
    w2 = MainWindow()
    qtbot.addWidget(w2)
    w2.ask = lambda *a, **k: QMessageBox.Yes
    assert w2.offer_recovery()
    assert w2.doc.graph.signature() == expected and w2.doc.modified


def test_recent_files_are_remembered(qtbot, window, tmp_path):
    w = window
    path = tmp_path / "p.json"
    path.write_text(examples.text("digits_mlp"))
    assert w.open_path(path)
    assert w.recent_files()[0] == str(path.resolve())
    assert json.loads((tmp_path / "state" / "recent.json").read_text())[0] == str(path.resolve())


def test_bad_file_shows_a_message_and_keeps_the_project(qtbot, window, tmp_path, monkeypatch):
    w = window
    w.doc.set_project(examples.load("digits_mlp"))
    before = w.doc.graph.signature()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "netbuilder-project", "version": 99, "graph": {}}')
    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: shown.append(a[2]))
    assert not w.open_path(bad)
    assert "version 99" in shown[0]
    assert w.doc.graph.signature() == before


def test_arrow_clicks_on_one_parameter_merge_into_one_undo_entry(qtbot, window):
    w = window
    w.doc.set_project(examples.load("digits_cnn"))
    settle(w)
    conv = next(n.id for n in w.doc.graph.nodes.values() if n.type == "Conv2d")
    w.canvas.select_nodes([conv])
    settle(w)
    spin = w.inspector.fields["out_channels"].editor
    for _ in range(3):
        spin.stepUp()
    settle(w)
    assert w.doc.graph.node(conv).params["out_channels"] == 19
    assert w.doc.undo_stack.count() == 1
    w.doc.undo_stack.undo()
    assert w.doc.graph.node(conv).params["out_channels"] == 16


def test_opening_a_project_with_untrusted_code_asks_first(qtbot, window, tmp_path):
    w = window
    w.doc.set_project(examples.load("digits_mlp"))
    before = w.doc.graph.signature()
    data = json.loads(examples.text("digits_mlp"))
    relu = next(n for n in data["graph"]["nodes"] if n["type"] == "ReLU")
    relu["type"], relu["params"] = "Module", {"target": "evil_pkg.payload:Thing"}
    path = tmp_path / "untrusted.json"
    path.write_text(json.dumps(data))
    asked = []
    w.ask = lambda *a, **k: (asked.append(a[2]), QMessageBox.No)[1]
    assert not w.open_path(path)
    assert "evil_pkg" in asked[0] and "runs" in asked[0]
    assert w.doc.graph.signature() == before
    from netbuilder.importers.trust import trusted
    assert "evil_pkg" not in trusted()
