"""A main window's place on the screen and its dock layout, remembered between launches.

The layout is stored with QSettings in an ini file the caller chooses (the window puts it in
the state dir, which NETBUILDER_STATE_DIR overrides, so tests never share one). The version
is part of the saved state: a layout saved by an older dock arrangement is ignored, not
half-applied."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar

SCREEN_FRACTION = 0.9


def available_rect(window: QMainWindow) -> QRect:
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1366, 768)


def fit_to_screen(window: QMainWindow, fraction: float = SCREEN_FRACTION) -> QSize:
    """Size the window to `fraction` of the screen's free area (never below its minimum
    unless the screen is smaller still) and centre it there."""
    avail = available_rect(window)
    w = int(avail.width() * fraction)
    h = int(avail.height() * fraction)
    minimum = window.minimumSizeHint()
    w = min(max(w, minimum.width()), avail.width())
    h = min(max(h, minimum.height()), avail.height())
    window.resize(w, h)
    frame = window.frameGeometry()
    frame.moveCenter(avail.center())
    window.move(frame.topLeft())
    return QSize(w, h)


def keep_on_screen(window: QMainWindow) -> None:
    """After restoring a geometry saved on another screen: shrink and move it inside."""
    avail = available_rect(window)
    frame = window.frameGeometry()
    if avail.contains(frame):
        return
    extra_w = frame.width() - window.width()
    extra_h = frame.height() - window.height()
    window.resize(min(window.width(), avail.width() - extra_w),
                  min(window.height(), avail.height() - extra_h))
    frame = window.frameGeometry()
    x = min(max(frame.left(), avail.left()), avail.right() - frame.width() + 1)
    y = min(max(frame.top(), avail.top()), avail.bottom() - frame.height() + 1)
    window.move(x, y)


def dock_action(window: QMainWindow, dock: QDockWidget, shortcut: QKeySequence) -> QAction:
    """A View-menu entry for a dock, checked while it is open. Its shortcut brings a closed
    or covered dock to the front (a tab behind another is raised, not closed); on a dock
    already in front it closes it."""
    act = QAction(dock.windowTitle(), window)
    act.setCheckable(True)
    act.setShortcut(shortcut)
    act.setChecked(not dock.isHidden())

    def triggered():
        if dock.isHidden() or dock.visibleRegion().isEmpty():
            dock.show()
            dock.raise_()
        else:
            dock.close()
        act.setChecked(not dock.isHidden())

    act.triggered.connect(triggered)
    dock.visibilityChanged.connect(lambda *_: act.setChecked(not dock.isHidden()))
    return act


def hide_spare_tab_bars(window: QMainWindow) -> None:
    """Tabifying docks before the window is shown leaves a spare tab bar that show() would
    paint over another dock (Qt 6.11); hidden explicitly, the layout shows only the bars
    it uses."""
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        bar.hide()


class LayoutStore:
    """saveGeometry/saveState of one window in an ini file, tagged with a layout version."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = Path(path), version

    def _settings(self) -> QSettings:
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def save(self, window: QMainWindow) -> None:
        s = self._settings()
        s.setValue("layout/version", self.version)
        s.setValue("layout/geometry", window.saveGeometry())
        s.setValue("layout/state", window.saveState(self.version))
        s.sync()

    def restore(self, window: QMainWindow) -> bool:
        """True when a saved layout of this version was applied (geometry and docks)."""
        if not self.path.exists():
            return False
        s = self._settings()
        try:
            version = int(s.value("layout/version", -1))
        except (TypeError, ValueError):
            return False
        geometry, state = s.value("layout/geometry"), s.value("layout/state")
        if version != self.version or geometry is None or state is None:
            return False
        if not window.restoreGeometry(geometry):
            return False
        if not window.restoreState(state, self.version):
            return False
        keep_on_screen(window)
        return True

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
