"""`netbuilder gui` from the command line: screenshots, and a clear message without a display."""
import os
import subprocess
import sys


def run(args, tmp_path, **env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(NETBUILDER_STATE_DIR=str(tmp_path), **env_changes)
    return subprocess.run([sys.executable, "-m", "netbuilder", *args], capture_output=True,
                          text=True, env=env, timeout=180)


def test_without_a_display_the_window_explains_what_to_do(tmp_path):
    r = run(["gui", "digits_cnn"], tmp_path)
    assert r.returncode == 1
    assert "no display" in r.stderr and "xvfb-run" in r.stderr
    assert "Traceback" not in r.stderr


def test_screenshot_renders_without_a_display(tmp_path):
    png = tmp_path / "shot.png"
    r = run(["gui", "residual_cnn", "--screenshot", str(png)], tmp_path)
    assert r.returncode == 0, r.stderr
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_screenshot_of_a_bad_file_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    r = run(["gui", str(bad), "--screenshot", str(tmp_path / "x.png")], tmp_path)
    assert r.returncode == 1 and "invalid JSON" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_the_window_paints_without_importing_torch(tmp_path):
    """Everything on screen at start-up must work before torch is imported (the app
    imports it in a background thread); a module-level torch import anywhere in the
    window would block the first paint for seconds."""
    code = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from netbuilder import examples
from netbuilder.ui.mainwindow import MainWindow
w = MainWindow()
w.doc.analysis_enabled = False
w.doc.set_project(examples.load('digits_cnn'))
w.show()
for _ in range(20):
    app.processEvents()
w.grab()
print(sorted(m for m in ('torch', 'pyqtgraph') if m in sys.modules))
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NETBUILDER_STATE_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
