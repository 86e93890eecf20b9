"""Cycle collection on the GUI thread only.

Python collects cycles in whichever thread happens to allocate when a threshold is crossed.
Our background threads (dataset info, image scans, background jobs) allocate a lot, so a
collection can run there and free a cycle that holds Qt objects, for instance a closed
window's plot items, deleting them off the GUI thread while it may be painting them: a
segfault. While the app runs, automatic collection is off and a timer on the GUI thread
collects with the interpreter's own thresholds.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.was_enabled = gc.isenabled()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        """Collect the oldest generation whose count passed its threshold (as gc would)."""
        counts = gc.get_count()
        generation = -1
        for g in range(3):
            if counts[g] > self.thresholds[g]:
                generation = g
            else:
                break
        if generation >= 0:
            gc.collect(generation)

    def stop(self) -> None:
        self.timer.stop()
        if self.was_enabled:
            gc.enable()


def install() -> GuiThreadCollector | None:
    """Once per application (idempotent); None when there is no Qt application yet."""
    app = QCoreApplication.instance()
    if app is None:
        return None
    found = app.findChild(GuiThreadCollector)
    return found if found is not None else GuiThreadCollector(app)


def uninstall() -> None:
    """Back to automatic collection (tests that end their GUI part)."""
    app = QCoreApplication.instance()
    found = app.findChild(GuiThreadCollector) if app is not None else None
    if found is not None:
        found.stop()
        found.setParent(None)  # now owned by Python alone: gone with this reference
