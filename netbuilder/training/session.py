"""A document's training run as a state machine over the training process (no Qt).

    idle -> starting -> running <-> pausing -> paused -> running ...
                \\-> stopping (from any active state) -> idle; a run that ends -> idle

The window drives it (`start`, `pause`, `resume`, `stop`) and polls it (`poll`, from a
timer); the Qt adapter (ui/training/bridge.py) turns what `poll` returns into signals.

Pauses are numbered: each `pause()` sends a new sequence number and the child answers the
newest with a PauseAck carrying it. Only that answer makes the run "paused", so a pause that
crossed a Stop or a quick Resume on the way never unlocks the graph while it trains.
Events are dispatched by their type (`_HANDLERS`), not by name.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..core.project import Project, parse_project
from .events import CheckpointSaved, Resumed, Started
from .worker import Batch, Died, Done, PauseAck, Refused, RunOptions, TrainingProcess

IDLE, STARTING, RUNNING, PAUSING, PAUSED, STOPPING = (
    "idle", "starting", "running", "pausing", "paused", "stopping")
CHECKPOINT_EVERY_S = 10.0  # "last" at most this often during a run (always at its end)


@dataclass(frozen=True)
class Ended:
    """How a run ended: `refused` (it never started: settings or data cannot train) or
    `result` (training.Result: completed, stopped or failed)."""

    refused: str | None = None
    result: object = None


class RunSession:
    def __init__(self, probe_hz: float = 4.0,
                 on_state: Callable[[str], None] | None = None,
                 on_carry: Callable[[object], None] | None = None):
        self.probe_hz = probe_hz
        self.on_state = on_state  # called with the new state on every change
        self.on_carry = on_carry  # called with the CarryReport of an edit, before it goes on
        self.state = IDLE
        self.process: TrainingProcess | None = None  # started on first use, kept for the next
        self.project: Project | None = None  # the copy being trained
        self.result = None
        self.checkpoint: str | None = None  # the last "last" checkpoint written
        self.out_dir: Path | None = None
        self.pause_seq = 0  # numbers pause requests; the child's PauseAck says which it met

    @property
    def active(self) -> bool:
        return self.state != IDLE

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            if self.on_state is not None:
                self.on_state(state)

    # ---- control ------------------------------------------------------------------------

    def prewarm(self) -> None:
        """Start the training process now, so that a run starts at once (it imports torch)."""
        if self.process is None or not self.process.alive:
            self.process = TrainingProcess()

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
        self._set_state(STARTING)
        self.process.start(RunOptions(self.project.to_json(), str(self.out_dir), device,
                                      epochs, self.probe_hz, CHECKPOINT_EVERY_S))
        return True

    def pause(self) -> None:
        if self.state in (RUNNING, STARTING):
            self.pause_seq += 1
            self.process.pause(self.pause_seq)
            self._set_state(PAUSING)

    def resume(self, project: Project | None = None):
        """Go on; with `project` (edited while paused), train its graph from here, keeping
        unchanged layers. Returns the CarryReport (None without a graph change); raises
        TrainingConfigError (still paused) when the edited graph cannot train."""
        if self.state not in (PAUSED, PAUSING):
            return None
        report = None
        if project is not None and self.state == PAUSED and \
                project.graph.signature() != self.project.graph.signature():
            text = project.to_json()
            report = self.process.replace(text)  # raises TrainingConfigError: stays paused
            copy = parse_project(text, "the project")
            copy.training = self.project.training  # the run keeps its settings
            self.project = copy
            if self.on_carry is not None:
                self.on_carry(report)  # the paused child still holds the carried-over state
        self.process.resume()
        self._set_state(RUNNING)
        return report

    def layer_state(self, node_ids) -> dict:
        """While paused: weights and optimizer state of these layers, as numpy arrays."""
        return self.process.layer_state(node_ids)

    def stop(self) -> None:
        if self.active and self.process is not None:
            self.process.stop()
            self._set_state(STOPPING)

    def wait_readable(self, timeout: float) -> None:
        if self.process is not None:
            self.process.wait_readable(timeout)

    def close(self) -> None:
        """End the training process (the window is closing)."""
        if self.process is not None:
            self.process.close()
            self.process = None
        if self.active:
            self._set_state(IDLE)

    # ---- what the child sent --------------------------------------------------------------

    def poll(self) -> tuple[list, object]:
        """(the run's events since the last poll, the child's end message or None while the
        run goes on). The state follows the newest control event; PauseAcks are consumed
        here. Deliver the events, then pass an end message to `finish`."""
        if self.process is None:
            return [], None
        events, end = [], None
        for m in self.process.receive():
            if isinstance(m, Batch):
                events += m.events
            elif isinstance(m, (Done, Refused, Died)):
                end = m
        for e in events:
            handler = _HANDLERS.get(type(e))
            if handler is not None:
                handler(self, e)
        return [e for e in events if not isinstance(e, PauseAck)], end

    def finish(self, end) -> Ended:
        """The run is over (a Done, Refused or Died from `poll`): back to idle."""
        self._set_state(IDLE)
        if isinstance(end, Refused):
            return Ended(refused=end.message)
        if isinstance(end, Died):
            from .events import Result

            self.process = None  # a new one starts with the next run
            self.result = Result("failed", message=end.message, checkpoint=self.checkpoint)
        else:
            self.result = end.result
        return Ended(result=self.result)

    def _checkpoint_saved(self, e: CheckpointSaved) -> None:
        if e.kind == "last":
            self.checkpoint = e.path

    def _started(self, e: Started) -> None:
        if self.state == STARTING:
            self._set_state(RUNNING)

    def _pause_ack(self, e: PauseAck) -> None:
        # only the answer to the newest pause request counts (see the module docstring)
        if self.state == PAUSING and e.seq == self.pause_seq:
            self._set_state(PAUSED)

    def _resumed(self, e: Resumed) -> None:
        if self.state == PAUSED:
            self._set_state(RUNNING)


_HANDLERS = {CheckpointSaved: RunSession._checkpoint_saved, Started: RunSession._started,
             PauseAck: RunSession._pause_ack, Resumed: RunSession._resumed}

__all__ = ["RunSession", "Ended", "IDLE", "STARTING", "RUNNING", "PAUSING", "PAUSED",
           "STOPPING", "CHECKPOINT_EVERY_S"]
