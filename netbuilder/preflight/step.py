"""One training step as the trainer takes it, for pre-flight to run on fake or real tensors.

The pieces (model, loss, optimizer, targets) come from the same builders the Trainer uses
(training/config.py), so what pre-flight measures or trains is what `train` would run.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from ..core.compiler import compile_graph
from ..core.project import Project, TrainingSettings
from ..data.registry import DataError, DataInfo
from ..training.compat import dataset_info
from ..training.config import (Plan, TrainingConfigError, adapt_target, check, make_loss,
                               make_optimizer)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class PreflightError(ValueError):
    """The project cannot be checked; the message says why, for a person."""


@dataclass
class Setup:
    project: Project
    settings: TrainingSettings
    info: DataInfo
    plan: Plan


def prepare(project: Project, device: str = "cpu", settings: TrainingSettings | None = None
            ) -> Setup:
    """The checked plan of a project (without the quick memory refusal: pre-flight
    estimates memory itself). Raises PreflightError with the trainer's words."""
    s = settings or project.training
    ds = project.dataset
    if ds is None:
        raise PreflightError("the project has no dataset; choose one (e.g. 'digits') first")
    try:
        info = dataset_info(ds, load=True)
        plan = check(project.graph, s, info, ds.name, device, memory=False)
    except (DataError, TrainingConfigError) as e:
        raise PreflightError(str(e)) from None
    return Setup(project, s, info, plan)


def fake_batch(info: DataInfo, batch: int, device="cpu"):
    """Random inputs and targets of the dataset's kind (a fake-tensor run needs only the
    shapes; a real measurement needs any valid values)."""
    shape = (batch, *info.input_shape)
    if info.input_dtype == "int64":
        x = torch.randint(0, max(1, info.vocab_size), shape, device=device)
    else:
        x = torch.randn(shape, device=device)
    if info.is_classification:
        y = torch.randint(0, max(1, info.num_classes), (batch,), device=device)
    else:
        y = torch.randn(batch, info.target_width, device=device)
    return x, y


def build(setup: Setup, device="cpu"):
    """(model, loss_fn, optimizer), seeded like the trainer's."""
    s = setup.settings
    model = compile_graph(setup.project.graph, seed=s.seed)
    if str(device) != "cpu":  # (never under FakeTensorMode: fake tensors cannot be moved)
        model = model.to(device)
    model.train()
    return model, make_loss(s, setup.plan), make_optimizer(s, model.parameters())


def autocast(precision: str, device_type: str = "cpu"):
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=dtype)


def train_step(model, loss_fn, optimizer, plan: Plan, x, y, precision: str = "fp32",
               phase=None, device_type: str = "cpu"):
    """zero_grad(set_to_none) -> forward -> loss -> backward -> optimizer step, as
    Trainer._step does; `phase(name)` is told where it is. Returns (output, loss)."""
    def at(name):
        if phase is not None:
            phase(name)
    at("forward")
    optimizer.zero_grad(set_to_none=True)
    with autocast(precision, device_type):
        out = model(x)
    loss = loss_fn(out.float() if precision != "fp32" else out, adapt_target(y, plan))
    at("backward")
    loss.backward()
    at("optimizer")
    optimizer.step()
    at("done")
    return out, loss
