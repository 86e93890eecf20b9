"""The Data panel on a large image folder and on a CSV: the preview comes from a scan with a
progress bar (then 32 decoded images and the counts), skipped files are listed, and a CSV's
column roles are chosen in the Columns table (one undo entry each)."""
import numpy as np
from PIL import Image
from PySide6.QtCore import Qt

from netbuilder import examples
from netbuilder.ui.data.panel import DataPanel
from netbuilder.ui.document.document import Document
from test_ui_datapanel import pick, settle


def large_folder(root, per_class=1500):
    for k, cls in enumerate(("cats", "dogs")):
        (root / cls).mkdir(parents=True)
        Image.fromarray(np.full((6, 6, 3), 60 + 120 * k, np.uint8)).save(root / cls / "a.png")
        same = (root / cls / "a.png").read_bytes()
        for i in range(per_class):
            (root / cls / f"{i:05d}.png").write_bytes(same)
    (root / "dogs" / "broken.png").write_bytes(b"")
    return root


def make_panel(qtbot):
    doc = Document(examples.load("digits_cnn"))
    doc.refresh()
    p = DataPanel(doc)
    qtbot.addWidget(p)
    p.resize(1000, 600)
    p.show()
    qtbot.waitExposed(p)
    settle(qtbot, p)
    return p


def type_option(qtbot, p, name, text):
    edit = p.fields[name].editor
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_a_large_folder_previews_from_a_scan_with_a_progress_bar(qtbot, tmp_path):
    root = large_folder(tmp_path / "pets")
    p = make_panel(qtbot)
    pick(qtbot, p, "image_folder")
    type_option(qtbot, p, "path", str(root))
    # the bar shows while the folder is scanned, with what the scan has found so far
    assert p.progress.isVisibleTo(p) and p.cancel_button.isVisibleTo(p)
    assert "loading image_folder" in p.preview_title.text()
    qtbot.waitUntil(lambda: p.preview.kind == "images", timeout=20000)
    settle(qtbot, p)
    assert not p.progress.isVisibleTo(p)
    assert "scanning" in p.progress.format() and "3,003 image files in 2/2 class folders" in \
        p.progress.format()
    items = p.preview.images.items
    assert len(items) == 32 and {c for _, c, _ in items} <= {"cats", "dogs"}
    tr, va, te = (int(s.split()[0].replace(",", "")) for s in
                  p.counts_label.text().split(" · "))
    assert tr + va + te == 3003


def test_csv_column_roles_are_chosen_in_the_columns_table(qtbot, tmp_path):
    f = tmp_path / "houses.csv"
    f.write_text("size,colour,price\n" + "".join(
        f"{50 + i},{['red', 'blue', 'green'][i % 3]},{100 + 3 * i}\n" for i in range(30)))
    p = make_panel(qtbot)
    pick(qtbot, p, "csv")
    type_option(qtbot, p, "path", str(f))
    settle(qtbot, p)
    assert p.roles.isVisibleTo(p) and p.roles.columns == ["size", "colour", "price"]
    assert "not a number" in p.preview.message.text()  # colour is text, no role yet
    combo = p.roles.combo("colour")
    combo.setCurrentIndex(combo.findData("onehot"))
    settle(qtbot, p)
    assert p.doc.project.dataset.options["roles"] == "colour=onehot"
    assert p.preview.kind == "table" and p.info.input_shape == (4,)
    assert "one-hot, 3 columns" in p.notes_label.text()
    p.doc.undo_stack.undo()
    settle(qtbot, p)
    assert "roles" not in p.doc.project.dataset.options
    assert p.roles.combo("colour").currentData() == "feature"


def test_bad_files_the_preview_meets_are_listed(qtbot, tmp_path):
    root = large_folder(tmp_path / "pets", per_class=10)
    (root / "cats" / "torn.png").write_bytes(b"\x89PNG not really")
    p = make_panel(qtbot)
    pick(qtbot, p, "image_folder")
    type_option(qtbot, p, "path", str(root))
    qtbot.waitUntil(lambda: p.preview.kind == "images", timeout=20000)
    settle(qtbot, p)
    notes = p.notes_label.text()
    assert f"{root}: skipped 2 unusable image file(s)" in notes
    assert "dogs/broken.png (empty file)" in notes and "cats/torn.png (cannot read it" in notes
