"""The inspector edits a layer through undo commands and refuses bad values with a message."""
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLineEdit, QSpinBox, QStyle,
                               QStyleOptionButton)

from netbuilder import examples
from netbuilder.ui.document import commands
from netbuilder.ui.document.document import Document
from netbuilder.ui.editor.inspector import Inspector


@pytest.fixture
def doc(qtbot):
    d = Document(examples.load("digits_cnn"))
    d.refresh()
    return d


@pytest.fixture
def inspector(qtbot, doc):
    w = Inspector(doc)
    qtbot.addWidget(w)
    w.resize(320, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


def first(doc, type_name):
    return doc.graph.nodes_of_type(type_name)[0]


def downstream(doc, node_id):
    return doc.graph.out_edges(node_id)[0].dst


def type_into(qtbot, editor, text):
    """Select what the editor holds, type over it and press Enter, as a person would."""
    line = editor.lineEdit() if isinstance(editor, QSpinBox) else editor
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def test_no_selection_shows_a_hint(inspector):
    assert inspector.hint.isVisible()
    assert inspector.hint.text() == "Select a layer to edit it"
    assert not inspector.node_view.isVisible()


def test_selecting_a_conv_shows_editors_and_analysis(inspector, doc):
    conv = first(doc, "Conv2d")
    inspector.set_node(conv.id)
    assert not inspector.hint.isVisible()
    assert "Conv2d" in inspector.title.text()
    assert conv.spec.doc in inspector.doc_label.text()
    assert inspector.name_edit.text() == conv.name
    assert list(inspector.fields) == [p.name for p in conv.spec.params]
    kinds = {name: type(f.editor) for name, f in inspector.fields.items()}
    assert issubclass(kinds["out_channels"], QSpinBox)
    assert kinds["bias"] is QCheckBox
    assert inspector.fields["out_channels"].editor.value() == conv.params["out_channels"]
    assert inspector.info_rows() == {"Input": "N×1×8×8", "Output": "N×16×8×8",
                                     "Parameters": "144", "FLOPs": "18,432"}


def test_typing_out_channels_pushes_one_undoable_command(inspector, doc, qtbot):
    conv = first(doc, "Conv2d")
    after = downstream(doc, conv.id)
    inspector.set_node(conv.id)
    count = doc.undo_stack.count()

    type_into(qtbot, inspector.fields["out_channels"].editor, "24")
    assert doc.undo_stack.count() == count + 1
    assert conv.params["out_channels"] == 24
    doc.refresh()
    assert str(doc.infos[after].output) == "N×24×8×8"
    assert inspector.info_rows()["Output"] == "N×24×8×8"  # refreshed on analysisChanged

    doc.undo_stack.undo()
    assert conv.params["out_channels"] == 16
    assert inspector.fields["out_channels"].editor.value() == 16  # re-read from the graph
    doc.refresh()
    assert str(doc.infos[after].output) == "N×16×8×8"
    assert doc.undo_stack.count() == count + 1  # undo did not push anything new


def test_spin_arrows_stop_at_the_bounds(inspector, doc, qtbot):
    conv = first(doc, "Conv2d")
    inspector.set_node(conv.id)
    spin = inspector.fields["stride"].editor
    assert spin.value() == 1
    spin.stepDown()  # stride must be at least 1
    assert spin.value() == 1 and conv.params["stride"] == 1
    spin.stepUp()
    assert conv.params["stride"] == 2


def test_out_of_range_int_is_explained_and_not_applied(inspector, doc, qtbot):
    conv = first(doc, "Conv2d")
    inspector.set_node(conv.id)
    before, count = doc.graph.signature(), doc.undo_stack.count()
    field = inspector.fields["kernel_size"]

    type_into(qtbot, field.editor, "100")
    assert field.message.isVisible()
    assert field.message.text() == "kernel_size must be at most 64, got 100"
    assert field.frame.invalid
    assert doc.graph.signature() == before and doc.undo_stack.count() == count

    # another (valid) edit leaves the rejected text in place for the user to fix
    type_into(qtbot, inspector.fields["out_channels"].editor, "8")
    assert field.editor.value() == 100 and field.message.isVisible()

    type_into(qtbot, field.editor, "5")
    assert not field.message.isVisible() and not field.frame.invalid
    assert conv.params["kernel_size"] == 5


def test_bad_float_text_is_refused(inspector, doc, qtbot):
    bn = first(doc, "BatchNorm2d")
    inspector.set_node(bn.id)
    field = inspector.fields["eps"]
    assert isinstance(field.editor, QLineEdit) and field.editor.text() == "1e-05"
    before, count = doc.graph.signature(), doc.undo_stack.count()

    type_into(qtbot, field.editor, "tiny")
    assert field.message.isVisible() and "must be a number" in field.message.text()
    assert field.message.text().startswith("eps ")
    type_into(qtbot, field.editor, "2")
    assert field.message.text() == "eps must be at most 1, got 2.0"
    type_into(qtbot, field.editor, "nan")
    assert "finite" in field.message.text()
    assert doc.graph.signature() == before and doc.undo_stack.count() == count

    type_into(qtbot, field.editor, "0.001")
    assert not field.message.isVisible()
    assert bn.params["eps"] == 0.001 and isinstance(bn.params["eps"], float)
    assert doc.undo_stack.count() == count + 1


def test_shape_text_is_parsed_and_checked(inspector, doc, qtbot):
    image = first(doc, "Input")
    conv = first(doc, "Conv2d")
    inspector.set_node(image.id)
    field = inspector.fields["shape"]
    assert field.editor.text() == "1, 8, 8"
    before = doc.graph.signature()

    for bad, words in (("1, x", "whole numbers"), ("1, 0, 8", "at least 1"),
                       ("1, 2, 3, 4, 5, 6", "1 to 5 entries")):
        type_into(qtbot, field.editor, bad)
        assert field.message.isVisible() and words in field.message.text(), bad
        assert field.message.text().startswith("shape ")
    assert doc.graph.signature() == before

    type_into(qtbot, field.editor, "1, 16, 16")
    assert image.params["shape"] == [1, 16, 16]
    assert not field.message.isVisible()
    doc.refresh()
    assert str(doc.infos[conv.id].output) == "N×16×16×16"


def test_checkbox_and_choice_edits(inspector, doc, qtbot):
    conv = first(doc, "Conv2d")
    inspector.set_node(conv.id)
    count = doc.undo_stack.count()
    box = inspector.fields["bias"].editor
    assert not box.isChecked()
    # click the indicator itself (the box is as wide as the panel, its label is empty)
    indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator,
                                           _option(box), box)
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=indicator.center())
    assert conv.params["bias"] is True
    assert doc.undo_stack.count() == count + 1

    image = first(doc, "Input")
    inspector.set_node(image.id)
    combo = inspector.fields["dtype"].editor
    assert isinstance(combo, QComboBox) and combo.currentText() == "float32"
    combo.setCurrentIndex(combo.findText("int64"))
    assert image.params["dtype"] == "int64"
    assert doc.undo_stack.count() == count + 2


def test_rename_and_empty_name(inspector, doc, qtbot):
    conv = first(doc, "Conv2d")
    inspector.set_node(conv.id)
    count = doc.undo_stack.count()

    type_into(qtbot, inspector.name_edit, "   ")
    assert inspector.name_message.isVisible()
    assert "name" in inspector.name_message.text()
    assert conv.name == "Conv2d" and doc.undo_stack.count() == count

    type_into(qtbot, inspector.name_edit, "stem conv")
    assert conv.name == "stem conv" and not inspector.name_message.isVisible()
    assert doc.undo_stack.count() == count + 1
    doc.undo_stack.undo()
    assert inspector.name_edit.text() == "Conv2d"


def test_showing_nodes_pushes_nothing(inspector, doc):
    count = doc.undo_stack.count()
    for nid in doc.graph.nodes:
        inspector.set_node(nid)
    inspector.set_node(None)
    assert doc.undo_stack.count() == count


def test_stored_bad_value_and_problems_are_shown(inspector, doc):
    conv = first(doc, "Conv2d")
    # a bad value that came from elsewhere (a file, a script): shown as it is, and flagged
    doc.undo_stack.push(commands.SetParams(doc.graph, conv.id, {"kernel_size": 100}))
    doc.refresh()
    inspector.set_node(conv.id)
    field = inspector.fields["kernel_size"]
    assert field.editor.value() == 100
    assert field.message.text() == "kernel_size must be at most 64, got 100"
    texts = inspector.problem_texts()
    assert any("kernel_size must be at most 64" in t for t in texts)
    assert inspector.info_rows()["Output"].startswith("not known")


def test_deleted_node_and_replaced_project(inspector, doc, qtbot):
    dropout = first(doc, "Dropout")
    inspector.set_node(dropout.id)
    doc.undo_stack.push(commands.delete_nodes(doc.graph, [dropout.id]))
    assert inspector.node_id is None and inspector.hint.isVisible()

    old_graph = doc.graph
    doc.set_project(examples.load("digits_mlp"))
    doc.refresh()
    lin = first(doc, "Linear")
    inspector.set_node(lin.id)
    type_into(qtbot, inspector.fields["out_features"].editor, "48")
    assert lin.params["out_features"] == 48
    # the old graph no longer drives the inspector
    old_graph.rename(first_id(old_graph), "ghost")
    assert inspector.name_edit.text() == lin.name


def _option(box):
    opt = QStyleOptionButton()
    box.initStyleOption(opt)
    return opt


def first_id(graph):
    return next(iter(graph.nodes))


def test_inspector_renders(inspector, doc, qtbot):
    inspector.set_node(first(doc, "Conv2d").id)
    type_into(qtbot, inspector.fields["kernel_size"].editor, "100")
    assert inspector.grab().save("/tmp/panel_inspector.png")
