"""Check a project's training settings against its graph and dataset, and build the loss,
optimizer and LR schedule.

`check()` runs before any training and refuses combinations that cannot work, with a
message that says why and what to change (CrossEntropy after Softmax, an output width that
is not the number of classes, an Input shape that is not the dataset's ...).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.analysis import ERROR, analyze
from ..core.budget import OPTIMIZER_STATES, memory_problem
from ..core.graph import Graph
from ..core.project import TrainingSettings
from ..data.registry import DataInfo
from .compat import fit_problems, io_problem, output_shape


class TrainingConfigError(ValueError):
    """Settings that cannot train; the message is meant for a person."""


@dataclass(frozen=True)
class Plan:
    """How targets meet outputs, decided once from the settings and the data."""
    loss: str
    output_width: int
    one_hot: bool  # class targets are turned into one-hot (or 0/1) float vectors
    threshold: float | None  # width-1 binary outputs: the class-1 threshold
    device: str
    mixed_precision: bool
    warnings: tuple[str, ...] = ()


def pick_device(wanted: str) -> str:
    if wanted == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if wanted == "cuda" and not torch.cuda.is_available():
        raise TrainingConfigError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU "
                                  "here; use --device cpu or auto")
    if wanted == "mps" and not (getattr(torch.backends, "mps", None)
                                and torch.backends.mps.is_available()):
        raise TrainingConfigError("device 'mps' was asked for, but Apple's Metal backend is "
                                  "not available here; use --device cpu or auto")
    return wanted


def check(graph: Graph, s: TrainingSettings, info: DataInfo, dataset: str,
          device: str | None = None, memory: bool = True) -> Plan:
    """Raise TrainingConfigError with every reason this cannot train; else return the Plan.
    The reasons are `compat.fit_problems`, the same the Problems panel and `validate` show.
    memory=False skips the quick memory refusal (pre-flight estimates memory itself)."""
    problems = [p.message for p in analyze(graph) if p.severity == ERROR]
    if problems:
        raise TrainingConfigError("the graph has errors:\n" + "\n".join(f"  - {m}"
                                                                         for m in problems))
    io = io_problem(graph)
    if io is not None:
        raise TrainingConfigError(io.message)
    # refuse before anything is allocated: weights, gradients, optimizer state, batch
    memory = memory and memory_problem(graph, s.batch_size, 2 + OPTIMIZER_STATES[s.optimizer],
                                       copies_note="weights, gradients, optimizer state")
    if memory:
        raise TrainingConfigError(f"cannot train here: the project {memory}; nothing was "
                                  f"allocated (make the layers smaller)")
    found, plan_args = fit_problems(graph, s, info, dataset, output_shape(graph))
    why = [p.message for p in found]
    warnings = []
    dev = pick_device(device or s.device) if not why else "cpu"
    amp = s.mixed_precision
    if amp and dev != "cuda":
        warnings.append(f"mixed precision works on CUDA only; training in float32 on {dev}")
        amp = False
    if why:
        raise TrainingConfigError("cannot train with these settings:\n"
                                  + "\n".join(f"  - {m}" for m in why))
    return Plan(s.loss, *plan_args, device=dev, mixed_precision=amp, warnings=tuple(warnings))


# ---- builders ---------------------------------------------------------------------------------

def make_loss(s: TrainingSettings, plan: Plan):
    """loss_fn(output, target) with the targets already in the form the loss takes."""
    simple = {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss,
              "bce": F.binary_cross_entropy, "bce_with_logits":
              F.binary_cross_entropy_with_logits, "cross_entropy": F.cross_entropy,
              "nll": F.nll_loss, "hinge": F.multi_margin_loss}
    if s.loss == "quantile":
        q = s.quantile

        def pinball(out, y):
            d = y - out
            return torch.maximum(q * d, (q - 1) * d).mean()
        return pinball
    return simple[s.loss]


def adapt_target(y: torch.Tensor, plan: Plan, dtype=torch.float32) -> torch.Tensor:
    if not plan.one_hot:
        return y
    if plan.output_width == 1:
        return y.to(dtype).unsqueeze(1)
    return F.one_hot(y, plan.output_width).to(dtype)


def make_optimizer(s: TrainingSettings, params):
    o = torch.optim
    wd = s.weight_decay
    if s.optimizer == "sgd":
        return o.SGD(params, lr=s.lr, momentum=s.momentum, nesterov=s.nesterov, weight_decay=wd)
    if s.optimizer == "adagrad":
        return o.Adagrad(params, lr=s.lr, weight_decay=wd)
    if s.optimizer == "rmsprop":
        return o.RMSprop(params, lr=s.lr, momentum=s.momentum, weight_decay=wd)
    if s.optimizer == "adam":
        return o.Adam(params, lr=s.lr, weight_decay=wd)
    return o.AdamW(params, lr=s.lr, weight_decay=wd)


# Schedules stepped after every batch; the others step after every epoch.
PER_BATCH = {"onecycle"}


def make_scheduler(s: TrainingSettings, optimizer, epochs: int, batches: int):
    """Fixed, documented choices so a project needs no extra fields: step = ×0.1 every third
    of the run; cosine = to 0 over the run; one-cycle peaks at lr; plateau halves the LR
    after 3 epochs without validation-loss improvement."""
    sch = torch.optim.lr_scheduler
    if s.schedule == "step":
        return sch.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if s.schedule == "cosine":
        return sch.CosineAnnealingLR(optimizer, T_max=epochs)
    if s.schedule == "onecycle":
        cycle = s.optimizer in ("adam", "adamw") or (s.optimizer in ("sgd", "rmsprop")
                                                      and s.momentum > 0)
        peaks = [s.lr * g.get("lr_mult", 1.0) for g in optimizer.param_groups]
        return sch.OneCycleLR(optimizer, max_lr=peaks, total_steps=max(2, epochs * batches),
                              cycle_momentum=cycle)
    if s.schedule == "plateau":
        return sch.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    return None
