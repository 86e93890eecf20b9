"""File > Export…: choose a format, a path and weights; the export is verified in a worker
thread and a failure leaves no file."""
import re

import onnxruntime  # noqa: F401  (the ONNX verification needs it; fail early if missing)
import pytest
from PySide6.QtCore import Qt

from netbuilder import examples
from netbuilder.api import Graph, Project
from netbuilder.training import Trainer
from netbuilder.ui.document.document import Document
from netbuilder.ui.dialogs.export import TORCHSCRIPT_NOTE, ExportDialog


@pytest.fixture
def dialog(qtbot):
    doc = Document(examples.load("spirals_mlp"))
    dlg = ExportDialog(doc)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    return dlg


def choose_format(qtbot, dlg, fmt):
    combo = dlg.format
    combo.setFocus()
    target = combo.findData(fmt)
    for _ in range(combo.count()):  # step through the formats with the arrow keys
        if combo.currentIndex() == target:
            break
        qtbot.keyClick(combo, Qt.Key.Key_Down if combo.currentIndex() < target else Qt.Key.Key_Up)
    assert combo.currentData() == fmt


def test_onnx_export_is_written_and_verified(dialog, qtbot, tmp_path):
    choose_format(qtbot, dialog, "onnx")
    assert not dialog.note.isVisible()
    dialog.ask_path = lambda: str(tmp_path / "spirals")  # the file dialog's answer
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert dialog.path_edit.text() == str(tmp_path / "spirals.onnx")
    with qtbot.waitSignal(dialog.exported, timeout=60000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.busy.isVisible() and not dialog.export_button.isEnabled()
    assert (tmp_path / "spirals.onnx").is_file()
    text = dialog.result_text.toPlainText()
    diff = float(re.search(r"largest absolute difference ([0-9.e+-]+)", text).group(1))
    assert diff < 1e-4
    assert "batch sizes 2 and 3" in text
    assert "Verified" in dialog.status.text()
    assert dialog.export_button.isEnabled()


def test_torchscript_shows_the_deprecation_note(dialog, qtbot, tmp_path):
    choose_format(qtbot, dialog, "torchscript")
    assert dialog.note.isVisible() and dialog.note.text() == TORCHSCRIPT_NOTE
    assert dialog.path_edit.text().endswith(".pt")
    choose_format(qtbot, dialog, "pt2")
    assert not dialog.note.isVisible() and dialog.path_edit.text().endswith(".pt2")


def test_a_failed_export_explains_and_leaves_no_file(qtbot, tmp_path):
    g = Graph()  # singular values: no ONNX operator exists for them
    g.chain(g.add_node("Input", "matrix", {"shape": [4, 4]}),
            g.add_node("Function", "singular values", {"function": "torch.linalg:svdvals"}),
            ("Linear", {"out_features": 2}), "Output")
    dlg = ExportDialog(Document(Project(graph=g, name="svd")))
    qtbot.addWidget(dlg)
    dlg.show()
    choose_format(qtbot, dlg, "onnx")
    dlg.path_edit.setText(str(tmp_path / "m.onnx"))
    with qtbot.waitSignal(dlg.failed, timeout=60000):
        qtbot.mouseClick(dlg.export_button, Qt.MouseButton.LeftButton)
    assert "ONNX cannot express" in dlg.result_text.toPlainText()
    assert "nothing was written" in dlg.status.text()
    assert list(tmp_path.iterdir()) == []


def test_trained_weights_from_a_checkpoint_folder(dialog, qtbot, tmp_path):
    run = tmp_path / "run"
    Trainer(dialog.doc.project, out_dir=run, epochs=1, tensorboard=False).run()
    dialog.ask_folder = lambda: str(run / "checkpoints" / "last")
    qtbot.mouseClick(dialog.weights_browse, Qt.MouseButton.LeftButton)
    assert dialog.trained.isChecked()
    choose_format(qtbot, dialog, "safetensors")
    dialog.path_edit.setText(str(tmp_path / "w.safetensors"))
    with qtbot.waitSignal(dialog.exported, timeout=60000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    from safetensors.torch import load_file

    from netbuilder.training import load_weights
    saved, trained = load_file(str(tmp_path / "w.safetensors")), load_weights(
        run / "checkpoints" / "last")
    assert saved.keys() == trained.keys()
    assert all((saved[k] == trained[k]).all() for k in saved)
    # weights that do not fit: a message, no file
    dialog.weights_edit.setText(str(tmp_path / "nowhere"))
    dialog.path_edit.setText(str(tmp_path / "x.safetensors"))
    with qtbot.waitSignal(dialog.failed, timeout=60000):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert "nowhere" in dialog.error
    assert not (tmp_path / "x.safetensors").exists()
