"""Training as one feature of the window: the bridge to the training process, the training
panel, the live views and the health monitor, kept in step with each other.

What it needs from the rest of the window (the canvas badges, centring on a failed node,
showing the Live dock) it asks for with signals; the main window connects them.
"""
from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Signal

from ...training.events import Failed, ProbeSnapshot
from ...training.health import HealthMonitor
from .bridge import TrainingBridge
from .live_views import LiveViews
from .panel import TrainingPanel


class TrainingUi(QObject):
    badgesChanged = Signal(dict)  # {node id: [(kind, message)]}: draw these on the canvas
    failedAt = Signal(str)  # a failure names this node: show it
    runStarting = Signal()  # Train was pressed: the live views are cleared and built
    trainRefused = Signal(object)  # Train was refused: the first error (core Problem)

    def __init__(self, doc, parent: QObject | None = None):
        super().__init__(parent)
        self.doc = doc
        self.bridge = TrainingBridge(self)
        self.panel = TrainingPanel(doc, self.bridge)
        self.views = LiveViews()
        self.health = HealthMonitor()
        self.bridge.eventsReady.connect(self.views.consume)
        self.bridge.eventsReady.connect(self._health)
        self.panel.startRequested.connect(self._starting)
        self.panel.refusedByProblems.connect(self.trainRefused.emit)
        doc.projectReplaced.connect(self._project_replaced)

    def _starting(self) -> None:
        self.health.clear()
        self.badgesChanged.emit({})
        self.views.clear()  # builds the plots now, before the run's events start coming
        self.runStarting.emit()

    def _health(self, events: list) -> None:
        changed = False
        for e in events:
            if isinstance(e, ProbeSnapshot):
                self.health.update(e)
                changed = True
            elif isinstance(e, Failed):
                self.health.failed(e)
                changed = True
                if e.node_id:
                    self.failedAt.emit(e.node_id)
        if changed:
            self.badgesChanged.emit(self.health.badges)

    def _project_replaced(self) -> None:
        """Another document (its run was stopped before, see MainWindow): nothing of the
        previous run stays in the panel, the live views or the badges."""
        self.shutdown(wait=False, close=False)
        self.health.clear()
        self.badgesChanged.emit({})
        self.views.reset()

    def select_layer(self, node_id: str) -> None:
        """Show this node in the layer views (the canvas selection changed)."""
        if shiboken6.isValid(self.views):  # not while the window is torn down
            self.views.select_layer(node_id)

    def end_run(self, confirm) -> bool:
        """Stop the run, when there is one and `confirm()` agrees, and wait for its end.
        True when no run is left."""
        if not self.bridge.active:
            return True
        if not confirm():
            return False
        self.bridge.stop()
        return self.bridge.wait(30)

    def shutdown(self, wait: bool = True, close: bool = True) -> None:
        """Stop a run (another project opened); with close, also end the training process
        (the window closes or the app quits)."""
        if self.bridge.active:
            self.bridge.stop()
            if wait:
                self.bridge.wait(10)
        if close:
            self.bridge.close()
