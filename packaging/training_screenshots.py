"""Render the README's training screenshots offscreen (then look at them):

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/training_screenshots.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

OUT = Path(__file__).resolve().parents[1] / "assets" / "screenshots"
SHOTS = [  # example, epochs, shoot at epoch, window size (the README shows both screens)
    ("digits_cnn", 40, 8, "training_digits_cnn.png", (1920, 1080)),
    ("spirals_mlp", 400, 120, "training_spirals.png", (1366, 768))]


def spin(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def main() -> int:
    from PySide6.QtWidgets import QApplication, QMessageBox

    from netbuilder.ui.mainwindow import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    for name, epochs, at, file, size in SHOTS:
        w = MainWindow(restore_layout=False)
        w.resize(*size)
        w.load_example(name)
        w.show()
        w.doc.refresh()
        box = w.training.panel.fields["epochs"]  # as a person sets it (an undoable edit)
        box.setValue(epochs)
        box.editingFinished.emit()
        done = []
        w.training.bridge.eventsReady.connect(
            lambda evs: done.extend(e.epoch for e in evs if type(e).__name__ == "EpochEnd"))
        w.training.panel.act_start.trigger()
        deadline = time.monotonic() + 120
        while (not done or done[-1] + 1 < at) and time.monotonic() < deadline:
            spin(app, 0.05)
        w.training.panel.act_pause.trigger()  # hold still for the picture
        spin(app, 1.0)  # the views take turns to redraw: let every one catch up
        w.view.fit_all()
        spin(app, 0.2)
        w.grab().save(str(OUT / file))
        print(f"saved {OUT / file} at epoch {done[-1] + 1 if done else 0}")
        w.training.shutdown()
        w.ask = lambda *a, **k: QMessageBox.Discard  # nothing to save: an example
        w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
