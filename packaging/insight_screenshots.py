"""Render the README's Insight screenshots in a real window (then look at them):

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 .venv/bin/python packaging/insight_screenshots.py

With DISPLAY set the whole screen is captured with ImageMagick's `import`; without it (or
with QT_QPA_PLATFORM=offscreen) the window grabs itself.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_screenshots import spin  # noqa: E402 (the same event pump)

OUT = Path(__file__).resolve().parents[1] / "assets" / "screenshots"
SIZE = (1366, 768)


def shoot(app, w, file: str) -> None:
    spin(app, 0.8)
    path = OUT / file
    if os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen" \
            and shutil.which("import"):
        subprocess.run(["import", "-window", "root", str(path)], check=True)
    else:
        w.grab().save(str(path))
    print(f"saved {path}")


def window(app, example: str):
    from PySide6.QtCore import Qt

    from netbuilder.ui.mainwindow import MainWindow

    w = MainWindow(restore_layout=False)
    w.resize(*SIZE)
    w.move(0, 0)
    w.load_example(example)
    w.show()
    spin(app, 0.5)
    w.details_dock.raise_()
    w.bottom.setCurrentWidget(w.insight)
    # taller details, as a person drags the splitter: the step-through needs the room
    w.resizeDocks([w.details_dock], [int(SIZE[1] * 0.5)], Qt.Vertical)
    spin(app, 0.3)
    return w


def close(w) -> None:
    from PySide6.QtWidgets import QMessageBox

    w.training.shutdown()
    w.ask = lambda *a, **k: QMessageBox.Discard  # an example: nothing to save
    w.close()


def step_through(app) -> None:
    """The textbook MLP, one typed sample, back through the gradients to the first layer."""
    w = window(app, "textbook_mlp")
    panel = w.insight
    panel.source.setCurrentText("Typed values")
    panel.values.setText("0.5, -1, 2")
    panel.target.setText("1")
    panel.start()
    steps = panel.steps
    while steps.forward_btn.isEnabled():
        steps.forward()
    while steps.back_btn.isEnabled():
        steps.back()
        if steps.records[steps.pos].name == "Linear 1":
            break
    w.view.fit_all()  # the whole network with the values on its wires
    shoot(app, w, "insight_step_through.png")
    close(w)


def grad_cam(app) -> None:
    """The digits CNN after a few epochs: Grad-CAM of a test digit."""
    from netbuilder import examples
    from netbuilder.training import Trainer

    run = Path(tempfile.mkdtemp(prefix="netbuilder-insight-"))
    Trainer(examples.load("digits_cnn"), out_dir=run, epochs=6, tensorboard=False).run()
    w = window(app, "digits_cnn")
    with_result = []
    w.results_panel.evaluated.connect(lambda: with_result.append(True))
    w.results_panel.show_run(run)
    while not with_result:
        spin(app, 0.1)
    panel = w.insight
    panel.index.setValue(4)
    panel.start()
    panel.tabs.setCurrentWidget(panel.attribution)
    view = panel.attribution
    view.layer.setCurrentIndex(0)  # the first convolution's features (see the README)
    view.explain()
    w.view.fit_all()
    shoot(app, w, "insight_grad_cam.png")
    close(w)
    shutil.rmtree(run, ignore_errors=True)


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    step_through(app)
    grad_cam(app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
