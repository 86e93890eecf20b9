"""The Data panel: choose a dataset (one undo entry), edit its options, preview it, and see
the training package's verdict on graph vs dataset."""
import pytest
from PySide6.QtCore import Qt

from netbuilder import examples
from netbuilder.ui.data.panel import DataPanel
from netbuilder.ui.document.document import Document


@pytest.fixture
def panel(qtbot):
    doc = Document(examples.load("digits_cnn"))
    doc.refresh()
    p = DataPanel(doc)
    qtbot.addWidget(p)
    p.resize(1000, 420)
    p.show()
    qtbot.waitExposed(p)
    settle(qtbot, p)
    return p


def settle(qtbot, p):
    """Wait for the state: the preview loaded (or explained), the analysis and the fit
    check done; never for a fixed time."""
    qtbot.waitUntil(lambda: not p.loader.busy and "loading" not in p.preview_title.text()
                    and (p.preview_data is not None or p.preview.kind == "message")
                    and not p.doc.analysis_pending() and not p._check_timer.isActive(),
                    timeout=20000)


def pick(qtbot, p, name):
    """Choose `name` in the combo with the keyboard, as a person would."""
    combo = p.combo
    index = combo.findData(name, Qt.ItemDataRole.UserRole)
    assert index > 0, name
    combo.setFocus()
    # open-free keyboard selection: move to the row, then 'activate' like the popup does
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    settle(qtbot, p)


def test_digits_preview_is_a_grid_of_labelled_images(panel):
    assert panel.preview.kind == "images"
    items = panel.preview.images.items
    assert len(items) == 32
    assert all(img.width() == 8 and img.height() == 8 for img, _, _ in items)
    assert {caption for _, caption, _ in items} <= {str(i) for i in range(10)}
    assert panel.fits and "Ready to train" in panel.check_message
    assert "1,257 training" in panel.counts_label.text()


def test_choosing_spirals_is_one_undo_entry_that_also_matches_the_input(panel, qtbot):
    doc = panel.doc
    pick(qtbot, panel, "spirals")
    assert doc.project.dataset.name == "spirals"
    assert doc.undo_stack.count() == 1
    inp = doc.graph.nodes_of_type("Input")[0]
    assert inp.params["shape"] == [2]
    # the scatter holds every point of the dataset, one item per class
    assert panel.preview.kind == "scatter"
    assert sum(len(item.data) for item in panel.preview.scatter_items) == 1000
    # the CNN cannot take 2-D points: the training check says so, naming the layer
    doc.refresh()
    settle(qtbot, panel)
    assert not panel.fits and "Conv2d" in panel.check_message
    assert "✖" in panel.check_label.text()

    doc.undo_stack.undo()
    settle(qtbot, panel)
    assert doc.project.dataset.name == "digits"
    assert doc.graph.nodes_of_type("Input")[0].params["shape"] == [1, 8, 8]
    assert panel.combo.currentData(Qt.ItemDataRole.UserRole) == "digits"
    assert panel.preview.kind == "images"


def test_mismatch_is_shown_and_match_input_button_fixes_it(panel, qtbot):
    doc = panel.doc
    panel.match_box.setChecked(False)
    pick(qtbot, panel, "mnist")  # not on disk: the preview explains, info is still known
    assert doc.graph.nodes_of_type("Input")[0].params["shape"] == [1, 8, 8]
    assert panel.preview.kind == "message" and "download=true" in panel.preview.message.text()
    assert not panel.fits and "[1, 28, 28]" in panel.check_message
    assert panel.match_button.isEnabled()
    qtbot.mouseClick(panel.match_button, Qt.MouseButton.LeftButton)
    doc.refresh()
    settle(qtbot, panel)
    assert doc.graph.nodes_of_type("Input")[0].params["shape"] == [1, 28, 28]
    assert panel.fits, panel.check_message
    assert not panel.match_button.isEnabled()
    assert doc.undo_stack.count() == 2


def test_output_width_and_loss_mismatches_come_from_the_training_check(panel, qtbot):
    doc = panel.doc
    doc.set_project(examples.load("spirals_mlp"))  # an MLP: 2 inputs, 2 classes
    settle(qtbot, panel)
    assert panel.fits, panel.check_message
    pick(qtbot, panel, "blobs")  # 2 features, 3 classes
    doc.refresh()
    settle(qtbot, panel)
    assert not panel.fits
    assert "has 3 classes but the output is N×2" in panel.check_message
    pick(qtbot, panel, "square")  # regression: the Input follows, the loss does not fit
    doc.refresh()
    settle(qtbot, panel)
    assert panel.preview.kind == "curve"
    assert doc.graph.nodes_of_type("Input")[0].params["shape"] == [1]
    assert "CrossEntropyLoss needs class labels" in panel.check_message


def test_option_edits_are_checked_undoable_and_reload_the_preview(panel, qtbot):
    doc = panel.doc
    pick(qtbot, panel, "tiny_reviews")
    assert panel.preview.kind == "text" and panel.preview.sentences == 12
    html = panel.preview.text.toPlainText()
    assert "positive" in html and "negative" in html and "<pad>" not in html
    assert doc.graph.nodes_of_type("Input")[0].params == {"shape": [16], "dtype": "int64"}

    field = panel.fields["max_len"]
    field.editor.selectAll()
    qtbot.keyClicks(field.editor, "24")
    qtbot.keyClick(field.editor, Qt.Key.Key_Return)
    settle(qtbot, panel)
    assert doc.project.dataset.options == {"max_len": 24}
    assert doc.graph.nodes_of_type("Input")[0].params["shape"] == [24]  # matched too
    assert doc.undo_stack.count() == 2

    # fractions that leave no training data: refused with the registry's message
    val = panel.fields["val_fraction"]
    val.editor.setText("0.5")
    qtbot.keyClick(val.editor, Qt.Key.Key_Return)
    test = panel.fields["test_fraction"]
    test.editor.setText("0.45")
    qtbot.keyClick(test.editor, Qt.Key.Key_Return)
    settle(qtbot, panel)
    msg = panel.fields["test_fraction"].message
    assert msg.isVisible() and "at least 10% of the data for training" in msg.text()
    assert doc.project.dataset.options == {"max_len": 24, "val_fraction": 0.5}  # not stored
    assert doc.undo_stack.count() == 3
    for _ in range(3):
        doc.undo_stack.undo()
    settle(qtbot, panel)
    assert doc.project.dataset.name == "digits"
    assert doc.graph.nodes_of_type("Input")[0].params == {"shape": [1, 8, 8], "dtype": "float32"}
    assert panel.preview.kind == "images"


def test_table_and_series_previews(panel, qtbot):
    pick(qtbot, panel, "iris")
    t = panel.preview.table
    assert panel.preview.kind == "table"
    assert t.columnCount() == 5 and t.rowCount() == 50
    assert t.item(0, 4).text() in ("setosa", "versicolor", "virginica")
    pick(qtbot, panel, "sine_series")
    assert panel.preview.kind == "series" and len(panel.preview.series_items) == 3
    # augmentation is for images only: the checkbox is disabled here
    assert not panel.fields["augment"].editor.isEnabled()


def test_the_dataset_signal_follows_project_replacement_and_undo(panel, qtbot):
    doc = panel.doc
    seen = []
    doc.datasetChanged.connect(lambda: seen.append(doc.project.dataset))
    doc.set_project(examples.load("spirals_mlp"))
    settle(qtbot, panel)
    assert panel.combo.currentData(Qt.ItemDataRole.UserRole) == "spirals"
    assert panel.preview.kind == "scatter"
    pick(qtbot, panel, "moons")
    doc.undo_stack.undo()  # the project itself emits the change (psygnal), also on undo
    assert [d.name for d in seen] == ["spirals", "moons", "spirals"]


def test_main_window_has_data_and_results_tabs_and_ctrl_e_export(qtbot, tmp_path, monkeypatch):
    from PySide6.QtGui import QKeySequence

    from netbuilder.ui.dialogs.export import ExportDialog
    from netbuilder.ui.mainwindow import MainWindow

    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.load_example("spirals_mlp")
    w.show()
    qtbot.waitExposed(w)
    tabs = [w.bottom.tabText(i) for i in range(w.bottom.count())]
    assert "Data" in tabs and "Results" in tabs
    settle(qtbot, w.data_panel)
    assert w.data_panel.preview.kind == "scatter"
    file_menu = w.menuBar().actions()[0].menu()
    export = next(a for a in file_menu.actions() if a.text() == "&Export…")
    assert export.shortcut() == QKeySequence("Ctrl+E")
    export.trigger()
    dlg = w.export_dialog
    assert isinstance(dlg, ExportDialog) and dlg.isVisible() and dlg.fresh.isChecked()
    dlg.close()
