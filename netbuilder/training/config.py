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
from ..core.registry import fmt_shape
from ..core.shapes import ShapeInference
from ..data.registry import DataInfo

LOSS_NAMES = {"mse": "MSELoss", "l1": "L1Loss", "huber": "HuberLoss", "bce": "BCELoss",
              "bce_with_logits": "BCEWithLogitsLoss", "cross_entropy": "CrossEntropyLoss",
              "nll": "NLLLoss", "hinge": "MultiMarginLoss (hinge)",
              "quantile": "quantile (pinball) loss"}
CLASS_LOSSES = {"cross_entropy", "nll", "hinge"}  # take class ids
PROB_LOSSES = {"bce", "bce_with_logits"}  # take 0/1 (or one-hot) float targets
REAL_LOSSES = {"mse", "l1", "huber", "quantile"}
TRANSPARENT = {"Dropout", "Identity", "Flatten", "Reshape"}


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


def _feeder(graph: Graph, nid: str):
    """The nearest layer before `nid` that is not a pass-through (Dropout, Flatten ...)."""
    preds = [e.src for e in graph.edges if e.dst == nid]
    while preds:
        node = graph.nodes[preds[0]]
        if node.type not in TRANSPARENT:
            return node
        preds = [e.src for e in graph.edges if e.dst == node.id]
    return None


def check(graph: Graph, s: TrainingSettings, info: DataInfo, dataset: str,
          device: str | None = None) -> Plan:
    """Raise TrainingConfigError with every reason this cannot train; else return the Plan."""
    problems = [p.message for p in analyze(graph) if p.severity == ERROR]
    if problems:
        raise TrainingConfigError("the graph has errors:\n" + "\n".join(f"  - {m}"
                                                                         for m in problems))
    inputs = [n for n in graph.nodes.values() if n.type == "Input"]
    outputs = [n for n in graph.nodes.values() if n.type == "Output"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise TrainingConfigError(f"training needs exactly one Input and one Output node; "
                                  f"this graph has {len(inputs)} and {len(outputs)}")
    inp, out = inputs[0], outputs[0]
    why: list[str] = []
    shape, dtype = tuple(inp.params.get("shape", [])), inp.params.get("dtype", "float32")
    if shape != tuple(info.input_shape):
        why.append(f"Input {inp.name!r} has shape {fmt_shape([None, *shape])} but dataset "
                   f"{dataset!r} gives {fmt_shape([None, *info.input_shape])}; set the Input "
                   f"shape to {list(info.input_shape)}")
    if dtype != info.input_dtype:
        why.append(f"Input {inp.name!r} has dtype {dtype} but dataset {dataset!r} gives "
                   f"{info.input_dtype}" + (" token ids" if info.input_dtype == "int64" else ""))
    if info.vocab_size:
        for n in graph.nodes.values():
            if n.type == "Embedding" and n.params.get("num_embeddings", 0) < info.vocab_size:
                why.append(f"Embedding {n.name!r} has {n.params['num_embeddings']} rows but "
                           f"dataset {dataset!r} uses token ids up to {info.vocab_size - 1}; "
                           f"set num_embeddings to at least {info.vocab_size}")
    si = ShapeInference(graph)
    try:
        out_shape = si.update()[out.id].output.shape
        # refuse before anything is allocated: weights, gradients, optimizer state, batch
        memory = memory_problem(graph, s.batch_size, 2 + OPTIMIZER_STATES[s.optimizer], si,
                                copies_note="weights, gradients, optimizer state")
    finally:
        si.close()
    if memory:
        raise TrainingConfigError(f"cannot train here: the project {memory}; nothing was "
                                  f"allocated (make the layers smaller)")
    plan_args = _targets(s.loss, out_shape, info, dataset, why)
    last = _feeder(graph, out.id)
    last_type = last.type if last else ""
    name = LOSS_NAMES[s.loss]
    if (s.loss == "cross_entropy" and last_type in ("Softmax", "Sigmoid")
            or s.loss == "bce_with_logits" and last_type in ("Softmax", "LogSoftmax", "Sigmoid")):
        squash = "sigmoid" if s.loss == "bce_with_logits" else "softmax"
        why.append(f"{name} applies its own {squash} and expects raw scores, but the output "
                   f"comes from {last_type} {last.name!r}; remove that {last_type} (or use "
                   f"{'BCE' if s.loss == 'bce_with_logits' else 'NLL with LogSoftmax'})")
    if s.loss == "nll" and last_type != "LogSoftmax":
        why.append(f"NLLLoss expects log-probabilities, but the output comes from "
                   f"{last_type or 'the Input'} {last.name if last else ''!r}; end the network "
                   f"with LogSoftmax, or use CrossEntropy on raw scores")
    if s.loss == "bce" and last_type not in ("Sigmoid", "Softmax"):
        why.append(f"BCELoss needs probabilities in [0, 1], but the output comes from "
                   f"{last_type} {last.name if last else ''!r}; end with Sigmoid, or use "
                   f"BCEWithLogits on raw scores")
    if s.optimizer == "sgd" and s.nesterov and s.momentum == 0:
        why.append("SGD with nesterov=true needs a momentum above 0")
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


def _targets(loss: str, out_shape: tuple, info: DataInfo, dataset: str, why: list[str]):
    """(output_width, one_hot, threshold); appends to `why` when they cannot meet."""
    name = LOSS_NAMES[loss]
    width = out_shape[-1] if len(out_shape) >= 2 else 1
    got = fmt_shape(out_shape)
    if len(out_shape) != 2:
        why.append(f"the output is {got}, but training compares one row per sample (N×width); "
                   f"for a recurrent layer set output to 'last', or add Flatten before the "
                   f"last Linear")
        return width, False, None
    if info.is_classification:
        k = info.num_classes
        if loss in REAL_LOSSES - {"quantile"} | PROB_LOSSES:
            if width == k or (width == 1 and k == 2):
                thr = None if width > 1 else (0.0 if loss == "bce_with_logits" else 0.5)
                return width, True, thr
            why.append(f"{name} on {k} classes needs an output of width {k} (one-hot "
                       f"targets){' or 1 (a 0/1 target)' if k == 2 else ''}, but the output "
                       f"is {got}; set the last layer's out_features to {k}")
        elif loss in CLASS_LOSSES:
            if width != k:
                why.append(f"dataset {dataset!r} has {k} classes but the output is {got}; "
                           f"{name} needs one score per class: set the last layer's "
                           f"out_features to {k}")
        else:
            why.append(f"{name} is for regression, but dataset {dataset!r} is classification "
                       f"({k} classes); use CrossEntropy")
        return width, False, None
    if loss not in REAL_LOSSES:
        why.append(f"{name} needs class labels, but dataset {dataset!r} has real-valued "
                   f"targets ({info.task}); use MSE, L1, Huber or quantile")
    elif width != info.target_width:
        why.append(f"dataset {dataset!r} has {info.target_width} target value(s) per sample "
                   f"but the output is {got}; set the last layer's out_features to "
                   f"{info.target_width}")
    return width, False, None


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
        return sch.OneCycleLR(optimizer, max_lr=s.lr, total_steps=max(2, epochs * batches),
                              cycle_momentum=cycle)
    if s.schedule == "plateau":
        return sch.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    return None
