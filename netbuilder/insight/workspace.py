"""What the insight views work on: a model, its project and the test samples (no Qt).

`from_evaluation` takes a finished run's (trained weights, the Trainer's test split);
`from_project` compiles fresh seeded weights and loads the project's dataset, so every
view also works before training (and shows what training changed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .names import InsightError
from .stepper import Stepper


@dataclass
class Workspace:
    project: object
    model: object  # eval mode; the views never change it (the Stepper steps a copy)
    plan: object | None
    info: object | None  # DataInfo
    x: torch.Tensor  # test inputs as the model takes them
    y: np.ndarray  # test targets
    shown: np.ndarray  # test inputs as a person sees them (images in [0, 1])
    mean: np.ndarray | None
    std: np.ndarray | None
    trained: bool
    checkpoint: object = None  # the run's checkpoint folder: its optimizer state steps on

    @property
    def image(self) -> bool:
        return self.x.dim() == 4 and self.x.is_floating_point()

    def model_input(self, shown: np.ndarray) -> torch.Tensor:
        """A batch in a person's units (as `shown`) -> what the model takes."""
        x = np.asarray(shown, dtype=np.int64 if not self.x.is_floating_point()
                       else np.float32)
        if self.mean is not None and x.dtype == np.float32:
            x = (x - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(x))

    def baseline(self) -> torch.Tensor:
        """"Nothing" for attributions: zero in a person's units (black for images)."""
        zero = np.zeros((1, *self.x.shape[1:]), np.float32)
        return self.model_input(zero)

    def sample(self, i: int):
        """(x, target) of test sample i."""
        n = len(self.y)
        if not 0 <= i < n:
            raise InsightError(f"sample {i}: the test split has {n} samples (0 to {n - 1})")
        return self.x[i:i + 1], torch.as_tensor(self.y[i:i + 1])

    def stepper(self) -> Stepper:
        from .stepper import saved_optimizer

        s = Stepper(self.project, model=self.model, plan=self.plan, info=self.info)
        if self.checkpoint is not None:
            s.use_optimizer_state(saved_optimizer(self.checkpoint))
        return s

    @property
    def labels(self) -> np.ndarray | None:
        if self.info is None or not self.info.is_classification:
            return None
        return self.y.astype(np.int64)


def from_evaluation(ev) -> Workspace:
    return Workspace(ev.project, ev.model, ev.plan, ev.info, ev.to_model_input(ev.shown_x),
                     ev.y, ev.shown_x, ev.mean, ev.std, trained=True, checkpoint=ev.checkpoint)


def from_project(project) -> Workspace:
    """Fresh weights from the project's seed, on its dataset's test split."""
    from ..core.compiler import CompileError, compile_graph
    from ..data import DataError, load
    from ..training.config import TrainingConfigError, check

    ds = project.dataset
    if ds is None:
        raise InsightError("the project has no dataset; choose one, or type values")
    try:
        data = load(ds.name, ds.options, seed=project.training.seed)
    except DataError as e:
        raise InsightError(f"dataset {ds.name!r}: {e}") from None
    try:
        model = compile_graph(project.graph, seed=project.training.seed).eval()
    except CompileError as e:
        raise InsightError(str(e)) from None
    try:
        plan = check(project.graph, project.training, data.info, ds.name, device="cpu")
    except TrainingConfigError:
        plan = None
    x, y = data.batch(data.test, slice(0, len(data.test)))
    shown = x
    if x.is_floating_point() and data.mean is not None:
        shown = x * torch.as_tensor(data.std) + torch.as_tensor(data.mean)
    return Workspace(project, model, plan, data.info, x, y.numpy(), shown.numpy(), data.mean,
                     data.std, trained=False)
