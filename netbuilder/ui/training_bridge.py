"""Runs training in a child process (netbuilder.training.worker) and hands its events to
Qt, coalesced.

    bridge = TrainingBridge()
    bridge.eventsReady.connect(views.consume)   # a list of events, at most ~30 times a second
    bridge.start(project)                        # a copy of the project is trained
    bridge.pause(); bridge.resume(edited_project); bridge.stop()

Process, not thread: measured (bench/bench_gui_training.py; with the Trainer in a thread of
this process, training from the window ran at 0.39x the plain loop and the event loop was
up to 230 ms late; see worker.py for why). The
model lives in the child, so what the window needs afterwards comes through files: the
checkpoints (results panel, export) and metrics.csv (run history). Pause-edit-resume sends
the edited project to the paused child, which swaps the graph in place (carryover.py).

A 33 ms QTimer takes whatever the child has sent and emits it as one `eventsReady(list)`,
so the views refresh at most ~30 times per second whatever the batch rate, and the
training never waits for the window. Probe snapshots are paced by time in the child (up
to `probe_hz` a second within a 2 % time budget), with the decision boundary /
predictions (training/extras.py) right after.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.project import Project, parse_project
from ..training.extras import Boundary, Predictions  # noqa: F401 (the views' event types)
from ..training.worker import (Batch, Died, Done, PauseAck, Refused, RunOptions,
                               TrainingProcess)

REFRESH_MS = 33  # at most ~30 UI refreshes per second
CHECKPOINT_EVERY_S = 10.0  # "last" at most this often during a run (always at its end)


class TrainingBridge(QObject):
    eventsReady = Signal(list)  # Trainer events (+ Boundary/Predictions) since the last drain
    stateChanged = Signal(str)  # idle | starting | running | pausing | paused | stopping
    refused = Signal(str)  # the run did not start: settings or data cannot train
    finished = Signal(object)  # training.Result, once the run has ended
    carriedOver = Signal(object)  # CarryReport, after an edit while paused (before it goes on)

    def __init__(self, parent: QObject | None = None, probe_hz: float = 4.0,
                 refresh_ms: int = REFRESH_MS):
        super().__init__(parent)
        self.probe_hz = probe_hz
        self.state = "idle"
        self.worker: TrainingProcess | None = None  # started on first use, kept for the next
        self.project: Project | None = None  # the copy being trained
        self.result = None
        self.checkpoint: str | None = None  # the last checkpoint written
        self.out_dir: Path | None = None
        self._pause_seq = 0  # numbers pause requests; the child's PauseAck says which it met
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.drain)

    # ---- control (UI thread) ------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.state != "idle"

    def prewarm(self) -> None:
        """Start the training process now, so that Train starts at once (it imports torch)."""
        if self.worker is None or not self.worker.alive:
            self.worker = TrainingProcess()

    def start(self, project: Project, out_dir=None, device: str | None = None,
              epochs: int | None = None) -> bool:
        """Train a copy of `project` in the training process. False when a run is active."""
        if self.active:
            return False
        self.project = parse_project(project.to_json(), "the project")  # edits don't leak in
        if out_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            root = Path(tempfile.gettempdir()) / "netbuilder-runs"
            out_dir = root / f"{project.name or 'untitled'}-{stamp}-{id(self) % 10000}"
        self.out_dir = Path(out_dir)
        self.result, self.checkpoint = None, None
        self.prewarm()
        self._set_state("starting")
        self.worker.start(RunOptions(self.project.to_json(), str(self.out_dir), device, epochs,
                                     self.probe_hz, CHECKPOINT_EVERY_S))
        self.timer.start()
        return True

    def pause(self) -> None:
        if self.state in ("running", "starting"):
            self._pause_seq += 1
            self.worker.pause(self._pause_seq)
            self._set_state("pausing")

    def resume(self, project: Project | None = None):
        """Go on; with `project` (edited while paused), train its graph from here, keeping
        unchanged layers. Returns the CarryReport (None without a graph change); raises
        TrainingConfigError (still paused) when the edited graph cannot train."""
        if self.state not in ("paused", "pausing"):
            return None
        report = None
        if project is not None and self.state == "paused" and \
                project.graph.signature() != self.project.graph.signature():
            text = project.to_json()
            report = self.worker.replace(text)  # raises TrainingConfigError: stays paused
            copy = parse_project(text, "the project")
            copy.training = self.project.training  # the run keeps its settings
            self.project = copy
            self.carriedOver.emit(report)
        self.worker.resume()
        self._set_state("running")
        return report

    def layer_state(self, node_ids) -> dict:
        """While paused: weights and optimizer state of these layers, as numpy arrays."""
        return self.worker.layer_state(node_ids)

    def stop(self) -> None:
        if self.active and self.worker is not None:
            self.worker.stop()
            self._set_state("stopping")

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the run ends (delivering its events). True if it ended."""
        deadline = time.monotonic() + timeout
        while self.active:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.worker.wait_readable(min(left, 0.05))
            self.drain()
        return True

    def close(self) -> None:
        """End the training process (the window is closing)."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        self.timer.stop()
        if self.active:
            self._set_state("idle")

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    # ---- deliver (UI thread) -------------------------------------------------------------

    def drain(self) -> None:
        if self.worker is None:
            return
        out, end = [], None
        for m in self.worker.receive():
            if isinstance(m, Batch):
                out += m.events
            elif isinstance(m, (Done, Refused, Died)):
                end = m
        for e in out:  # the state follows the newest control event
            kind = type(e).__name__
            if kind == "CheckpointSaved" and e.kind == "last":
                self.checkpoint = e.path
            elif kind == "Started" and self.state == "starting":
                self._set_state("running")
            elif kind == "PauseAck" and self.state == "pausing" and e.seq == self._pause_seq:
                # only the answer to the newest pause request: a Paused that crossed a Stop
                # or a quick Resume on the way must not unlock the graph while it trains
                self._set_state("paused")
            elif kind == "Resumed" and self.state == "paused":
                self._set_state("running")
        out = [e for e in out if not isinstance(e, PauseAck)]
        if out:
            self.eventsReady.emit(out)
        if end is None:
            return
        self.timer.stop()
        self._set_state("idle")
        if isinstance(end, Refused):
            self.refused.emit(end.message)
        elif isinstance(end, Died):
            from ..training import Result

            self.worker = None  # a new one starts with the next run
            self.result = Result("failed", message=end.message, checkpoint=self.checkpoint)
            self.finished.emit(self.result)
        else:
            self.result = end.result
            self.finished.emit(end.result)


__all__ = ["TrainingBridge", "Boundary", "Predictions", "REFRESH_MS"]
