"""The Qt adapter over the run session (netbuilder/training/session.py): a timer polls it
and its events reach the views as signals, coalesced.

    bridge = TrainingBridge()
    bridge.eventsReady.connect(views.consume)   # a list of events, at most ~30 times a second
    bridge.start(project)                        # a copy of the project is trained
    bridge.pause(); bridge.resume(edited_project); bridge.stop()

Training runs in a child process, not a thread: measured (bench/bench_gui_training.py; with
the Trainer in a thread of this process, training from the window ran at 0.39x the plain
loop and the event loop was up to 230 ms late; see worker.py for why). The model lives in
the child, so what the window needs afterwards comes through files: the checkpoints
(results panel, export) and metrics.csv (run history).

A 33 ms QTimer takes whatever the child has sent and emits it as one `eventsReady(list)`,
so the views refresh at most ~30 times per second whatever the batch rate, and the
training never waits for the window. Probe snapshots are paced by time in the child (up
to `probe_hz` a second within a 2 % time budget), with the decision boundary /
predictions (training/extras.py) right after.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from ...core.project import Project
from ...training.session import CHECKPOINT_EVERY_S, RunSession

REFRESH_MS = 33  # at most ~30 UI refreshes per second


class TrainingBridge(QObject):
    eventsReady = Signal(list)  # Trainer events (+ Boundary/Predictions) since the last drain
    stateChanged = Signal(str)  # idle | starting | running | pausing | paused | stopping
    refused = Signal(str)  # the run did not start: settings or data cannot train
    finished = Signal(object)  # training.Result, once the run has ended
    carriedOver = Signal(object)  # CarryReport, after an edit while paused (before it goes on)

    def __init__(self, parent: QObject | None = None, probe_hz: float = 4.0,
                 refresh_ms: int = REFRESH_MS):
        super().__init__(parent)
        self.session = RunSession(probe_hz, on_state=self.stateChanged.emit,
                                  on_carry=self.carriedOver.emit)
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.drain)

    # the session's state, read by the panels and tests
    state = property(lambda self: self.session.state)
    active = property(lambda self: self.session.active)
    worker = property(lambda self: self.session.process)
    project = property(lambda self: self.session.project)
    result = property(lambda self: self.session.result)
    checkpoint = property(lambda self: self.session.checkpoint)
    out_dir = property(lambda self: self.session.out_dir)

    # ---- control (UI thread) ------------------------------------------------------------

    def prewarm(self) -> None:
        """Start the training process now, so that Train starts at once (it imports torch)."""
        self.session.prewarm()

    def start(self, project: Project, out_dir=None, device: str | None = None,
              epochs: int | None = None) -> bool:
        """Train a copy of `project` in the training process. False when a run is active."""
        if not self.session.start(project, out_dir, device, epochs):
            return False
        self.timer.start()
        return True

    def pause(self) -> None:
        self.session.pause()

    def resume(self, project: Project | None = None):
        """Go on, with the graph of `project` when it was edited while paused (see
        RunSession.resume). Returns the CarryReport or None."""
        return self.session.resume(project)

    def layer_state(self, node_ids) -> dict:
        return self.session.layer_state(node_ids)

    def stop(self) -> None:
        self.session.stop()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the run ends (delivering its events). True if it ended."""
        deadline = time.monotonic() + timeout
        while self.active:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.session.wait_readable(min(left, 0.05))
            self.drain()
        return True

    def close(self) -> None:
        """End the training process (the window is closing)."""
        self.session.close()
        self.timer.stop()

    # ---- deliver (UI thread) -------------------------------------------------------------

    def drain(self) -> None:
        events, end = self.session.poll()
        if events:
            self.eventsReady.emit(events)
        if end is None:
            return
        self.timer.stop()
        end = self.session.finish(end)
        if end.refused is not None:
            self.refused.emit(end.refused)
        else:
            self.finished.emit(end.result)


__all__ = ["TrainingBridge", "REFRESH_MS", "CHECKPOINT_EVERY_S"]
