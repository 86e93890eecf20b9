"""Start-up: paint the window first, import torch in the background, then analyse.

`import torch` takes seconds on a cold machine; nothing the window shows first needs it,
so a worker thread imports it while the event loop paints. The Document's analysis (which
runs torch modules on the meta device) is switched on when the import is done.
"""
from __future__ import annotations

import os
import sys
import threading
import time

from PySide6.QtCore import QObject, QThread, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

_T0 = time.perf_counter()


class Warmup(QThread):
    """Imports the heavy modules off the UI thread: torch (then `torchReady`: the quick
    first pass can show shapes), then what FLOP counting on the meta device needs."""

    failed = Signal(str)
    torchReady = Signal()

    def __init__(self):
        super().__init__()
        self.shapes_shown = threading.Event()  # set by the window: its first shapes are up
        self.failed_message = ""

    def run(self) -> None:
        try:
            import torch

            self.torchReady.emit()
            # The quick pass runs on the UI thread now; importing on here would halve its
            # share of the interpreter.
            self.shapes_shown.wait(3.0)
            from torch.utils.flop_counter import FlopCounterMode

            # The first meta-device op imports torch._dynamo (~2 s): pay it here too.
            with FlopCounterMode(display=False):
                torch.nn.Linear(2, 2, device="meta")(torch.empty(1, 2, device="meta"))
        except Exception as e:  # torch missing or broken: say so in the window
            self.failed_message = f"{type(e).__name__}: {e}"
            self.failed.emit(self.failed_message)


def apply_theme(app: QApplication) -> None:
    """Fusion style with a dark palette when the system asks for one."""
    app.setStyle("Fusion")
    scheme = QGuiApplication.styleHints().colorScheme()
    dark = scheme == scheme.Dark or os.environ.get("NETBUILDER_THEME") == "dark"
    if os.environ.get("NETBUILDER_THEME") == "light":
        dark = False
    if dark:
        from .widgets.theme import dark_palette

        app.setPalette(dark_palette())


class _FirstPaint(QObject):
    """Reports (stdout) the time from start-up to the window's first paint, for the bench."""

    def __init__(self, window):
        super().__init__(window)
        self.done = False
        window.installEventFilter(self)

    def eventFilter(self, obj, event):
        if not self.done and event.type() == event.Type.Paint:
            self.done = True
            print(f"first_paint_s: {time.perf_counter() - _T0:.3f}", flush=True)
            if os.environ.get("NETBUILDER_QUIT_AFTER_PAINT"):  # start-up benchmark
                QTimer.singleShot(0, QApplication.instance().quit)
        return False


def _show_cached_shapes(doc) -> None:
    """A relaunch: when the on-disk cache knows every node, analyse now, before torch is
    imported. The analysis is switched off again at once, so the views that need torch
    (code, data check) still wait for it."""
    from ..core import shapecache

    if doc.graph.nodes and shapecache.cached_infos(doc.graph) is not None:
        doc.analysis_enabled = True
        try:
            doc.refresh()
        finally:
            doc.analysis_enabled = False


def _save_shape_cache(graph, path) -> None:
    """Count what the quick pass left out, then store the cache for the next launch."""
    from ..core import shapecache, shapes

    shapes.quick_first_pass(False)
    try:
        with shapes.inference(graph) as si:
            si.update()
        shapecache.save(path)
    except Exception:  # noqa: BLE001 (a cache that cannot be written only costs time)
        pass


def _report_first_shapes(doc) -> None:
    """Reports (stdout) the time from start-up to the first analysis that gave the node
    cards their shapes, for the bench."""
    def changed():
        if any(i.output is not None for i in doc.infos.values()):
            doc.analysisChanged.disconnect(changed)
            print(f"shapes_s: {time.perf_counter() - _T0:.3f} (torch imported: "
                  f"{'yes' if 'torch' in sys.modules else 'no'})", flush=True)
            if os.environ.get("NETBUILDER_QUIT_AFTER_SHAPES"):  # start-up benchmark
                QTimer.singleShot(0, QApplication.instance().quit)

    doc.analysisChanged.connect(changed)


# Debian/Ubuntu packages Qt's xcb platform plugin needs beyond what the wheel ships.
XCB_LIBS = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4",
            "xcb-keysyms": "libxcb-keysyms1", "xkbcommon-x11": "libxkbcommon-x11-0",
            "xcb-image": "libxcb-image0", "xcb-render-util": "libxcb-render-util0"}


def display_problem(screenshot: bool) -> str | None:
    """Why a window cannot open here, in words a person can act on (None when it can).
    Screenshots need no display: they render offscreen."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return None
    if screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return ("no display to open the window on. Run it in a desktop session, or on a "
                "headless machine with `xvfb-run -a make run` (apt-get install xvfb), or "
                "render a picture with `netbuilder gui FILE --screenshot out.png`")
    if os.environ.get("WAYLAND_DISPLAY"):
        return None
    import ctypes.util

    missing = [pkg for lib, pkg in XCB_LIBS.items() if ctypes.util.find_library(lib) is None]
    if missing:
        return ("Qt needs system libraries to open an X11 window: "
                f"sudo apt-get install {' '.join(missing)}")
    return None


SCREENSHOT_SIZE = (1366, 768)


def _report_geometry(win) -> None:
    """NETBUILDER_REPORT_GEOMETRY: print where the window is (frame included), the screen's
    free area and the window's minimum size; with the value `quit`, then quit. For the
    real-window test."""
    if getattr(win, "_geometry_reported", False):
        return
    win._geometry_reported = True
    frame, avail = win.frameGeometry(), win.screen().availableGeometry()
    minimum = win.minimumSizeHint().expandedTo(win.minimumSize())
    print(f"window_geometry: {frame.x()} {frame.y()} {frame.width()} {frame.height()}; "
          f"screen: {avail.x()} {avail.y()} {avail.width()} {avail.height()}; "
          f"minimum: {minimum.width()} {minimum.height()}", flush=True)
    if os.environ.get("NETBUILDER_REPORT_GEOMETRY") == "quit":
        QApplication.instance().quit()


def run(project: str | None = None, screenshot: str | None = None,
        size: tuple[int, int] | None = None) -> int:
    problem = display_problem(bool(screenshot))
    if problem and not QApplication.instance():
        print(f"error: {problem}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("netbuilder")
    app.setOrganizationName("netbuilder")
    apply_theme(app)
    from .widgets import gui_gc

    gui_gc.install()

    from ..core import shapecache, shapes
    from ..core.project import ProjectError
    from .. import examples
    from .document.persistence import state_dir
    from .mainwindow import MainWindow

    cache_path = state_dir() / "shape-cache.json"
    shapecache.load(cache_path)

    win = MainWindow(restore_layout=not screenshot)  # screenshots: the default layout
    win.doc.analysis_enabled = False
    if project:
        try:
            if os.path.exists(project) or project.endswith(".json"):
                win.doc.open(project)
            else:
                win.doc.set_project(examples.resolve(project))
        except ProjectError as e:
            if screenshot:
                print(f"error: {e}", file=sys.stderr)
                return 1
            QMessageBox.warning(win, "Cannot open project", str(e))
    if os.environ.get("NETBUILDER_REPORT_STARTUP"):
        _FirstPaint(win)
        _report_first_shapes(win.doc)
    if screenshot and size is None:
        size = SCREENSHOT_SIZE  # offscreen has no real screen to fit
    if size is not None:
        win.resize(*size)
    _show_cached_shapes(win.doc)
    win.show()
    win.view.fit_all()
    if os.environ.get("NETBUILDER_REPORT_GEOMETRY"):
        # once the shapes are in the cards (the window's final content), and settled
        win.doc.analysisChanged.connect(
            lambda: QTimer.singleShot(500, lambda: _report_geometry(win)))

    warm = Warmup()
    if screenshot:  # one complete analysis (FLOPs too) before the picture
        warm.shapes_shown.set()
        warm.finished.connect(win.doc.enable_analysis)
    else:
        # Shapes first (on the CPU, see shapes.QUICK) as soon as torch is imported; the
        # FLOPs follow when the meta device is warm.
        def count_flops():
            shapes.quick_first_pass(False)
            win.doc.enable_analysis()

        shapes.quick_first_pass(True)
        if win.doc.infos:
            warm.shapes_shown.set()
        win.doc.analysisChanged.connect(warm.shapes_shown.set)
        warm.torchReady.connect(win.doc.enable_analysis)
        warm.finished.connect(count_flops)
    warm.failed.connect(lambda msg: QMessageBox.critical(
        win, "PyTorch is not available", f"Shapes cannot be computed: {msg}"))
    warm.start()
    if not screenshot:
        # the training process imports torch too: start it once the editor is warm, so that
        # Train starts at once instead of ~2 s later
        warm.finished.connect(lambda: QTimer.singleShot(1500, win.training.bridge.prewarm))

    if screenshot:
        def shoot():
            if getattr(shoot, "done", False):
                return
            shoot.done = True
            win.view.fit_all()
            app.processEvents()
            win.grab().save(screenshot)
            print(f"saved {screenshot}")
            app.quit()

        win.doc.analysisChanged.connect(lambda: QTimer.singleShot(300, shoot))
    elif not project and not os.environ.get("NETBUILDER_NO_RECOVERY"):
        QTimer.singleShot(0, win.offer_recovery)
    code = app.exec()
    from .editor.clipboard import release_clipboard

    release_clipboard()
    warm.wait()
    if not warm.failed_message:
        _save_shape_cache(win.doc.graph, cache_path)
    return code
