"""The README's fine-tuning screenshot, from a real window on an X display (then look at
it):

    Xvfb :104 -screen 0 1366x768x24 &
    DISPLAY=:104 .venv/bin/python packaging/finetune_screenshot.py

digits_transfer as shipped (its conv backbone frozen: dimmed, padlocks), the head given
a learning-rate multiplier of 10 in the inspector as a person would, a frozen layer
selected, the Summary tab showing the trainable / frozen split. The screen is captured
with ImageMagick's `import -window root`.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_screenshots import spin  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "assets" / "screenshots" / "finetune_frozen.png"


def main() -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from netbuilder.ui.mainwindow import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    w = MainWindow(restore_layout=False)
    w.load_example("digits_transfer")
    w.setGeometry(0, 0, 1366, 768)  # the whole screen (Xvfb has no window manager)
    w.show()
    spin(app, 1.5)
    w.doc.refresh()
    graph = w.doc.graph
    w.canvas.select_nodes([graph.by_name("head").id])
    spin(app, 0.3)
    w.inspector.tuning.mult.setValue(10.0)  # the head learns ten times faster
    w.canvas.select_nodes([graph.by_name("conv2").id])
    w.bottom.setCurrentWidget(w.summary_panel)
    w.view.fit_all()
    spin(app, 1.0)
    subprocess.run(["import", "-window", "root", str(OUT)], check=True)
    print(f"saved {OUT}")
    w.ask = lambda *a, **k: QMessageBox.Discard
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
