"""Render the README's opened-block screenshot offscreen (then look at it):

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/block_screenshot.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

OUT = Path(__file__).resolve().parents[1] / "assets" / "screenshots" / "editor_block_open.png"


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from netbuilder.ui.mainwindow import MainWindow
    from training_screenshots import spin  # beside this file

    app = QApplication.instance() or QApplication(sys.argv)
    w = MainWindow(restore_layout=False)
    w.resize(1366, 768)
    w.load_example("small_resnet")
    w.show()
    w.doc.refresh()
    spin(app, 0.5)
    layer = next(n.id for n in w.doc.graph.nodes.values() if n.name == "layer2")
    w.blocks.open_instance(layer)  # as a double-click does
    w.doc.refresh()
    w.bottom.setCurrentWidget(w.summary_panel)
    spin(app, 0.5)
    w.view.fit_all()
    spin(app, 0.3)
    w.grab().save(str(OUT))
    print(f"saved {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
