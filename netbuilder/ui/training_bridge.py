"""Runs the Trainer off the UI thread and hands its events to Qt, coalesced.

    bridge = TrainingBridge()
    bridge.eventsReady.connect(views.consume)   # a list of events, at most ~30 times a second
    bridge.start(project)                        # a copy of the project is trained
    bridge.pause(); bridge.resume(edited_project); bridge.stop()

Thread, not process (measured, bench/bench_gui_training.py): the Trainer's threads="auto"
runs CPU training with one intra-op thread, and then a Python thread trains as fast as the
main thread (DESIGN.md: 0.42x only at torch's default thread count). A thread also shares
the model with the UI: pause-edit-resume swaps the graph inside the paused Trainer
(carryover.py) with no copying, and the final weights are there for export. A process would
pickle every event and weight and still need the GIL-free compute that torch already gives.

Coalescing. Trainer callbacks run on the training thread; the bridge only appends the event
to a lock-protected list (plus, at probe time, computes the small "extras" below). A 33 ms
QTimer in the UI thread takes the list and emits it as one `eventsReady(list)`, so the views
refresh at most ~30 times per second whatever the batch rate, and the training thread never
waits for the UI.

Probes are paced by time: after every batch the bridge tells the prober whether the next
step is due, so snapshots come about `probe_hz` times per second, the first on the first
step (the trainer's default is every 50 steps: one snapshot in several seconds on a slow
model, ten a second on a fast one).

Extras, computed on the training thread right after a probe snapshot (where the model is
idle between two steps; measured ~1 ms for a 64×64 grid through the spirals MLP, so this
is cheaper than shipping a weight copy to the UI and evaluating there):
- `Boundary`: for 2-D classification data, class probabilities on a grid plus the training
  points (the TensorFlow Playground view);
- `Predictions`: for regression and series data, predictions against targets on the
  validation split.
Both run in eval mode under no_grad: no BatchNorm statistics change, no random numbers are
drawn, so training with and without them ends with the same weights.
"""
from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.project import Project, parse_project

# Events are told apart by class name: importing netbuilder.training imports torch, which
# the window must not wait for (app.py imports it in the background).

REFRESH_MS = 33  # at most ~30 UI refreshes per second
GRID = 64  # decision-boundary resolution
BOUNDARY_POINTS = 600
PREDICTION_POINTS = 400


@dataclass(frozen=True)
class Boundary:
    step: int
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1 (normalized inputs)
    probs: np.ndarray  # GRID×GRID×classes, rows are y
    points: np.ndarray  # N×2 training inputs
    labels: np.ndarray  # N class ids
    seconds: float  # what computing it cost the training thread


@dataclass(frozen=True)
class Predictions:
    step: int
    x: np.ndarray  # the input (1-feature data) or the sample index (anything else)
    target: np.ndarray
    pred: np.ndarray
    x_label: str
    seconds: float


@dataclass(frozen=True)
class Refused:
    message: str  # settings or data refused before training (TrainingConfigError, DataError)


@dataclass(frozen=True)
class Done:
    result: object  # training.Result


class Extras:
    """What the live views need beyond the probes, computed on the training thread."""

    def __init__(self, trainer):
        import torch

        self.trainer = trainer
        data, info = trainer.data, trainer.data.info
        self.kind = None
        if info.input_dtype != "float32":
            return
        if info.is_classification and tuple(info.input_shape) == (2,):
            self.kind = "boundary"
            n = min(BOUNDARY_POINTS, len(data.train))
            x, y = data.batch(data.train, slice(0, n))
            pts = x.numpy()
            lo, hi = pts.min(0), pts.max(0)
            pad = (hi - lo) * 0.08 + 1e-3
            lo, hi = lo - pad, hi + pad
            gx = torch.linspace(float(lo[0]), float(hi[0]), GRID)
            gy = torch.linspace(float(lo[1]), float(hi[1]), GRID)
            yy, xx = torch.meshgrid(gy, gx, indexing="ij")
            self.grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
            self.extent = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
            self.points, self.labels = pts.copy(), y.numpy().copy()
        elif not info.is_classification:
            self.kind = "predictions"
            split = data.val if len(data.val) else data.train
            n = min(PREDICTION_POINTS, len(split))
            x, y = data.batch(split, slice(0, n))
            self.x_in = x
            self.target = y.reshape(n, -1)[:, 0].numpy().astype(np.float32)
            if tuple(info.input_shape) == (1,):
                self.x_axis, self.x_label = x.reshape(-1).numpy().copy(), "input x"
            else:
                self.x_axis, self.x_label = np.arange(n, dtype=np.float32), "sample"

    def _forward(self, x):
        import torch

        t = self.trainer
        model = t.model
        was = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(x.to(t.plan.device))
        finally:
            model.train(was)
        while isinstance(out, (tuple, list)):
            out = out[0]
        return out.float().cpu()

    def compute(self, step: int):
        import torch

        if self.kind is None:
            return None
        t0 = time.perf_counter()
        out = self._forward(self.grid if self.kind == "boundary" else self.x_in)
        if self.kind == "boundary":
            loss = self.trainer.plan.loss
            if out.shape[-1] == 1:
                p = torch.sigmoid(out) if loss == "bce_with_logits" else out.clamp(0, 1)
                probs = torch.cat([1 - p, p], 1)
            elif loss == "nll":
                probs = out.exp()
            elif loss == "bce":
                probs = out.clamp(0, 1)
            else:
                probs = torch.softmax(out, 1)
            probs = probs.reshape(GRID, GRID, -1).numpy()
            return Boundary(step, self.extent, probs, self.points, self.labels,
                            time.perf_counter() - t0)
        pred = out.reshape(len(out), -1)[:, 0].numpy()
        return Predictions(step, self.x_axis, self.target, pred, self.x_label,
                           time.perf_counter() - t0)


class TrainingBridge(QObject):
    eventsReady = Signal(list)  # Trainer events (+ Boundary/Predictions) since the last drain
    stateChanged = Signal(str)  # idle | starting | running | pausing | paused | stopping
    refused = Signal(str)  # the run did not start: settings or data cannot train
    finished = Signal(object)  # training.Result, after the thread has ended
    carriedOver = Signal(object)  # CarryReport, after an edit while paused (before it goes on)

    def __init__(self, parent: QObject | None = None, probe_hz: float = 1.5,
                 refresh_ms: int = REFRESH_MS):
        super().__init__(parent)
        self.probe_hz = probe_hz
        self.state = "idle"
        self.trainer = None
        self.project: Project | None = None  # the copy being trained
        self.result = None
        self.checkpoint: str | None = None  # the last checkpoint written
        self.out_dir: Path | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._buf: list = []
        self._extras: Extras | None = None
        self._last_probe = float("-inf")
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.drain)

    # ---- control (UI thread) ------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.state != "idle"

    def start(self, project: Project, out_dir=None, device: str | None = None,
              epochs: int | None = None) -> bool:
        """Train a copy of `project` in a background thread. False when a run is active."""
        from ..training import Trainer

        if self.active:
            return False
        self.project = parse_project(project.to_json(), "the project")  # edits don't leak in
        if out_dir is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            root = Path(tempfile.gettempdir()) / "netbuilder-runs"
            out_dir = root / f"{project.name or 'untitled'}-{stamp}-{id(self) % 10000}"
        self.out_dir = Path(out_dir)
        self.result, self.checkpoint = None, None
        self.trainer = Trainer(self.project, out_dir=self.out_dir, device=device, epochs=epochs,
                               callbacks=[self._on_event], tensorboard=False)
        with self._lock:
            self._buf = []
        self._last_probe = float("-inf")
        self._set_state("starting")
        self._thread = threading.Thread(target=self._work, args=(self.trainer,),
                                        name="netbuilder-training", daemon=True)
        self._thread.start()
        self.timer.start()
        return True

    def pause(self) -> None:
        if self.state in ("running", "starting"):
            self.trainer.pause()
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
            copy = parse_project(project.to_json(), "the project")
            copy.training = self.project.training  # the run keeps its settings
            report = self.trainer.replace_project(copy)
            self.project = copy
            self.carriedOver.emit(report)
        self.trainer.resume()
        self._set_state("running")
        return report

    def stop(self) -> None:
        if self.active and self.trainer is not None:
            self.trainer.stop()
            self._set_state("stopping")

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the thread ends (then deliver what is left). True if it ended."""
        th = self._thread
        if th is not None:
            th.join(timeout)
            if th.is_alive():
                return False
        self.drain()
        return True

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    # ---- the training thread -------------------------------------------------------------

    def _work(self, trainer) -> None:
        from ..data import DataError
        from ..training import CheckpointError, TrainingConfigError

        try:
            trainer.prepare()
            self._extras = Extras(trainer)
            result = trainer.run()
        except (DataError, TrainingConfigError, CheckpointError) as e:
            self._push(Refused(str(e)))
            return
        except Exception as e:  # noqa: BLE001 (never lose a failure in a thread)
            self._push(Refused(f"training could not start: {type(e).__name__}: {e}"))
            return
        self._push(Done(result))

    def _push(self, event) -> None:
        with self._lock:
            self._buf.append(event)

    def _on_event(self, e) -> None:
        """Trainer callback, on the training thread: keep it cheap."""
        t = self.trainer
        kind = type(e).__name__
        if kind in ("Started", "BatchEnd") and self.probe_hz > 0:
            # Paced by time: the next step probes when 1/probe_hz has passed since the last
            # snapshot (Prober.due is "step % every == 0").
            due = time.perf_counter() - self._last_probe >= 1.0 / self.probe_hz
            t.prober.every = 1 if due else 1 << 40
        self._push(e)
        if kind == "ProbeSnapshot":
            self._last_probe = time.perf_counter()
        if kind == "ProbeSnapshot" and self._extras is not None:
            extra = self._extras.compute(e.step)
            if extra is not None:
                self._push(extra)

    # ---- the UI thread: deliver ----------------------------------------------------------

    def drain(self) -> None:
        with self._lock:
            events, self._buf = self._buf, []
        if not events:
            return
        out, done, refused = [], None, None
        for e in events:
            if isinstance(e, Done):
                done = e
            elif isinstance(e, Refused):
                refused = e
            else:
                out.append(e)
                if e.__class__.__name__ == "CheckpointSaved" and e.kind == "last":
                    self.checkpoint = e.path
        for e in out:  # the state follows the newest control event
            kind = type(e).__name__
            if kind == "Started" and self.state == "starting":
                self._set_state("running")
            elif kind == "Paused":
                self._set_state("paused")
            elif kind == "Resumed" and self.state == "paused":
                self._set_state("running")
        if out:
            self.eventsReady.emit(out)
        if refused is not None or done is not None:
            if self._thread is not None:
                self._thread.join(5)
            self.timer.stop()
            self._set_state("idle")
            if refused is not None:
                self.refused.emit(refused.message)
            else:
                self.result = done.result
                self.finished.emit(done.result)


__all__ = ["TrainingBridge", "Boundary", "Predictions", "Extras", "REFRESH_MS"]
