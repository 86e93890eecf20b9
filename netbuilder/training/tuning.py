"""Apply a graph's frozen parts and learning-rate multipliers to a compiled model.

    groups = apply_tuning(model, graph, lr)      # then make_optimizer(settings, groups)

A frozen parameter gets requires_grad=False and is left out of the groups, so it gets no
gradient, no optimizer state and no weight decay. A frozen BatchNorm (or any norm with
running statistics) stays in evaluation mode whatever model.train() is called with, so its
running mean and variance never move and it normalises with them while the rest trains.
Each distinct multiplier is one parameter group with lr = base lr × multiplier and the key
"lr_mult"; schedules scale every group's own lr, so the ratios hold for the whole run.
"""
from __future__ import annotations

import types

import torch

from ..core.tuning import effective_tuning
from .config import TrainingConfigError


def _stay_in_eval(self, mode: bool = True):
    return torch.nn.Module.train(self, False)


def _pin_eval(module: torch.nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._NormBase):
            m.train = types.MethodType(_stay_in_eval, m)
            m.eval()


def apply_tuning(model: torch.nn.Module, graph, lr: float) -> list[dict]:
    """Freeze what the graph marks frozen and return the optimizer's parameter groups.
    Raises TrainingConfigError when nothing is left to train."""
    groups: dict[float, list] = {}
    frozen_any = False
    for qual, tuning in effective_tuning(model, graph).items():
        module = model.get_submodule(qual)
        if tuning.frozen:
            frozen_any = True
            for p in module.parameters():
                p.requires_grad_(False)
            _pin_eval(module)
            continue
        for p in module.parameters():
            if p.requires_grad:
                groups.setdefault(tuning.lr_mult, []).append(p)
    out = [{"params": ps, "lr": lr * mult, "lr_mult": mult} for mult, ps in groups.items()]
    if not out and frozen_any:
        raise TrainingConfigError("every layer with weights is frozen, so nothing would "
                                  "train; unfreeze at least one layer (e.g. the head)")
    return out or [{"params": list(model.parameters()), "lr": lr, "lr_mult": 1.0}]


def group_lrs(groups, base_lr: float) -> list[float]:
    """Each group's learning rate for a schedule that takes one per group (one-cycle)."""
    return [base_lr * g.get("lr_mult", 1.0) for g in groups]


def trainable_count(groups) -> int:
    return sum(p.numel() for g in groups for p in g["params"])


def head_fit(project) -> tuple[str, int]:
    """(node id of the final classifier, the dataset's number of classes): what "fit the
    head to the data" sets. Raises ValueError (GraphError, DataError) saying why not."""
    from ..core.tuning import find_head
    from .compat import dataset_info

    if project.dataset is None:
        raise ValueError("the project has no dataset: choose one first, then fit the head")
    info = dataset_info(project.dataset, load=True)
    if not info.is_classification:
        raise ValueError(f"dataset {project.dataset.name!r} is not a classification task; "
                         f"the head has no classes to fit")
    return find_head(project.graph).id, info.num_classes
