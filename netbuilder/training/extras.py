"""What the live views need beyond the probes, computed where the model is: in the
training process, right after a probe snapshot (the model is idle between two steps there).

- `Boundary`: for 2-D classification data, class probabilities on a grid plus the training
  points (the TensorFlow Playground view); ~1 ms for 64x64 through the spirals MLP, far
  cheaper than shipping weights to the window and evaluating there;
- `Predictions`: for regression and series data, predictions against targets on the
  validation split.

Both run in eval mode under no_grad: no BatchNorm statistics change and no random numbers
are drawn, so training with and without them ends with the same weights. Importing this
module does not import torch (the window imports it for the two dataclasses).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .probabilities import plan_probabilities

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
        if self.kind is None:
            return None
        t0 = time.perf_counter()
        out = self._forward(self.grid if self.kind == "boundary" else self.x_in)
        if self.kind == "boundary":
            probs = plan_probabilities(out, self.trainer.plan).reshape(GRID, GRID, -1).numpy()
            return Boundary(step, self.extent, probs, self.points, self.labels,
                            time.perf_counter() - t0)
        pred = out.reshape(len(out), -1)[:, 0].numpy()
        return Predictions(step, self.x_axis, self.target, pred, self.x_label,
                           time.perf_counter() - t0)


__all__ = ["Boundary", "Predictions", "Extras", "GRID"]
