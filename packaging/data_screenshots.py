"""Render the README's Data panel screenshots offscreen (then look at them): a CSV with a
category column one-hot encoded and rows dropped, and an image folder with bad files.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/data_screenshots.py
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHOTS = Path(__file__).resolve().parents[1] / "assets" / "screenshots"


def make_csv(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["area,rooms,district,year,price,sold"]
    for i in range(400):
        area, rooms = rng.integers(30, 160), rng.integers(1, 6)
        district = ["north", "harbour", "old town", "east"][i % 4]
        year = "" if i % 37 == 5 else str(rng.integers(1950, 2024))
        price = area * 3 + rooms * 20 + i % 7
        rows.append(f"{area},{rooms},{district},{year},{price},{'yes' if price < 300 else 'no'}")
    path = folder / "houses.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def make_folder(folder: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 32
    for k, name in enumerate(("circles", "stripes", "waves")):
        (folder / "shapes" / name).mkdir(parents=True)
        for i in range(12):
            c = rng.random(3)
            if k == 0:
                a = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.1 + 0.05 * c[0]) * 1.0
            elif k == 1:
                a = (np.sin((xx + c[1]) * 20) > 0) * 1.0
            else:
                a = np.sin(xx * 8 + yy * 5 + c[2] * 6) * 0.5 + 0.5
            img = (np.stack([a * c[0], a * c[1], a * 0.8], -1) * 255).astype(np.uint8)
            Image.fromarray(img).save(folder / "shapes" / name / f"{i:03d}.png")
    (folder / "shapes" / "waves" / "scan_0412.png").write_bytes(b"")
    (folder / "shapes" / "stripes" / "copy of 017.png").write_bytes(b"\x89PNG truncated")
    return folder / "shapes"


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from netbuilder.core.project import DatasetChoice
    from netbuilder.ui.document.dataset import change_dataset
    from netbuilder.ui.mainwindow import MainWindow
    from training_screenshots import spin  # beside this file

    app = QApplication.instance() or QApplication(sys.argv)
    tmp = Path(tempfile.mkdtemp(prefix="netbuilder-shots-"))
    w = MainWindow(restore_layout=False)
    w.resize(1366, 768)
    w.load_example("textbook_mlp")
    w.show()
    w.doc.refresh()
    w.bottom.setCurrentWidget(w.data_panel)
    spin(app, 0.5)
    w.resizeDocks([w.details_dock], [470], Qt.Orientation.Vertical)  # room for the panel
    for name, options, png in (
            ("csv", {"path": str(make_csv(tmp)), "roles": "district=onehot, price=ignore",
                     "missing": "drop"}, "data_csv_roles.png"),
            ("image_folder", {"path": str(make_folder(tmp)), "size": 32},
             "data_image_folder.png")):
        w.doc.undo_stack.push(change_dataset(w.doc, DatasetChoice(name=name, options=options),
                                             True))
        spin(app, 2.0)
        w.data_panel.loader.wait()
        spin(app, 1.0)
        w.data_panel.match_input()
        spin(app, 1.0)
        side = w.data_panel.roles.parentWidget()
        while side is not None and not hasattr(side, "ensureWidgetVisible"):
            side = side.parentWidget()
        if side is not None:
            side.ensureWidgetVisible(w.data_panel.notes_label)  # the Columns table and notes
        spin(app, 0.5)
        w.grab().save(str(SHOTS / png))
        print(f"saved {SHOTS / png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
