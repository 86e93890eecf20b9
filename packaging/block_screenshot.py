"""Render the README's block screenshots (then look at them): an opened block with its
breadcrumb, and a block expanded in place on the top-level canvas.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/block_screenshot.py
    DISPLAY=:1 .venv/bin/python packaging/block_screenshot.py   # a real (X) window
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHOTS = Path(__file__).resolve().parents[1] / "assets" / "screenshots"


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
    spin(app, 0.8)
    graph = w.doc.graph

    # 1. layer1 (Basic Block ×2) opened: breadcrumb with the copy shown, a layer selected
    w.blocks.open_instance(graph.by_name("layer1").id)  # as a double-click does
    spin(app, 0.3)
    w.doc.refresh()
    conv2 = w.canvas.graph.by_name("conv2").id
    w.canvas.select_nodes([conv2])
    w.inspector_dock.raise_()
    w.bottom.setCurrentWidget(w.summary_panel)
    spin(app, 0.5)
    w.view.fit_all()
    spin(app, 0.3)
    save(w, SHOTS / "editor_block_open.png")

    # 2. back at the top, layer1 expanded in place (E), zoomed to read it
    w.doc.levels.go(0)
    spin(app, 0.3)
    w.canvas.select_nodes([graph.by_name("layer1").id])
    w.blocks.act_expand.trigger()
    w.details_dock.hide()  # the canvas's whole height for the frame
    w.live_dock.hide()
    spin(app, 0.3)
    w.view.fit_all()
    w.view.zoom_by(0.58 / w.view.zoom())
    frame = w.canvas.nodes[graph.by_name("layer1").id].sceneBoundingRect()
    shown = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    w.view.centerOn(frame.left() - 30 + shown.width() / 2, frame.top() - 30 + shown.height() / 2)
    spin(app, 0.5)
    save(w, SHOTS / "editor_block_expanded.png")
    return 0


def save(w, path: Path) -> None:
    w.grab().save(str(path))
    print(f"saved {path}")


if __name__ == "__main__":
    sys.exit(main())
