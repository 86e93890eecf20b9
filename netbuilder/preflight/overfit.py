"""Can it learn at all: train on one batch until the network knows it by heart.

A network that can learn must be able to memorise a single batch. The check trains the
project's model (fresh, or a copy of the one given) on one batch of up to BATCH samples
for at most `steps` optimizer steps with the project's optimizer and learning rate, and
passes when the loss collapses: classification reaches 100 % on the batch (with a loss
below its first value: a constant output scores 100 % on a one-class batch), regression
falls below COLLAPSE of its first value. When it fails the message says where to look:
nothing trainable, layers that get no gradient (frozen, or a ReLU that never fires), a
learning rate too small to move the weights or so big the loss diverges, or an output that
cannot match the loss (a sigmoid fed by a ReLU can never go below 0.5).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass


from ..core.compiler import layer_places
from ..data import load as load_data
from ..training.config import adapt_target, make_loss, make_optimizer
from ..training.metrics import predict_classes
from ..training.trainer import epoch_order
from .step import PreflightError, Setup, build

BATCH = 32
STEPS = 300
COLLAPSE = 0.05  # regression: the final loss is at most this share of the first
NON_NEGATIVE = {"ReLU", "ReLU6", "Softplus", "Sigmoid", "ELU", "Hardsigmoid", "Abs"}
SQUASHING = {"Sigmoid", "Softmax", "Tanh", "LogSoftmax"}


@dataclass
class OverfitResult:
    passed: bool
    steps: int
    first_loss: float
    final_loss: float
    accuracy: float | None  # classification: on the batch, at the end
    message: str  # one line for a person: what happened and where to look


def _layer_of(model, graph) -> dict[str, str]:
    """parameter name -> 'name' (Type) of the layer that owns it."""
    out = {}
    for node, qual in layer_places(model, graph).values():
        for pname, _ in model.get_submodule(qual).named_parameters(recurse=False):
            out[f"{qual}.{pname}"] = f"{node.name!r} ({node.type})"
    return out


def output_mismatch(graph) -> str | None:
    """A squashing output fed by a layer that is never negative: half its range is gone."""
    outs = graph.nodes_of_type("Output")
    if len(outs) != 1:
        return None
    node = outs[0]
    for _ in range(2):  # the Output node, then the layer before it
        srcs = [graph.nodes[e.src] for e in graph.edges if e.dst == node.id]
        if not srcs:
            return None
        node = srcs[0]
        if node.type in SQUASHING:
            before = [graph.nodes[e.src] for e in graph.edges if e.dst == node.id]
            if before and before[0].type in NON_NEGATIVE:
                b = before[0]
                floor = "0.5" if node.type == "Sigmoid" else "its midpoint"
                return (f"the output layer {node.name!r} ({node.type}) only gets non-negative "
                        f"inputs from {b.name!r} ({b.type}), so it can never go below "
                        f"{floor}: remove {b.name!r} or put a Linear layer between them")
    return None


def overfit_batch(setup: Setup, model=None, steps: int = STEPS, device: str = "cpu",
                  data=None, cancelled=None) -> OverfitResult:
    """Train on one batch; see the module docstring. `model` is copied, never changed."""
    s, plan, graph = setup.settings, setup.plan, setup.project.graph
    if data is None:
        ds = setup.project.dataset
        data = load_data(ds.name, ds.options, seed=s.seed)
    if len(data.train) < 2:
        raise PreflightError("the training split has fewer than 2 samples")
    n = min(BATCH, max(2, s.batch_size), len(data.train))  # (BatchNorm needs 2)
    # a seeded shuffle: the first samples of a split may all be of one class
    x, y = data.batch(data.train, epoch_order(s.seed, 0, len(data.train))[:n])
    x, y = x.to(device), y.to(device)
    target = adapt_target(y, plan)
    if model is None:
        net, loss_fn, _ = build(setup, device)
    else:
        net, loss_fn = copy.deepcopy(model).to(device), make_loss(s, plan)
    net.train()
    mismatch = output_mismatch(graph)
    trainable = [p for p in net.parameters() if p.requires_grad]
    if not trainable:
        return OverfitResult(False, 0, math.nan, math.nan, None,
                             "failed: no parameter is trainable (every layer is frozen): "
                             "unfreeze at least the last layer")
    optimizer = make_optimizer(s, trainable)
    classify = setup.info.is_classification
    owners = _layer_of(net, graph)
    start = {name: p.detach().clone() for name, p in net.named_parameters() if p.requires_grad}
    first = last = math.nan
    acc = None
    silent: set[str] = set(owners)  # parameters that never got a non-zero gradient
    done = 0
    for done in range(1, steps + 1):
        if cancelled is not None and cancelled():
            break
        optimizer.zero_grad(set_to_none=True)
        out = net(x)
        loss = loss_fn(out, target)
        last = float(loss.detach())
        if done == 1:
            first = last
        if not math.isfinite(last):
            return OverfitResult(False, done, first, last, None,
                                 f"failed: the loss became {last} at step {done}: the learning "
                                 f"rate ({s.lr:g}) is too high; lower it")
        if classify:
            acc = float((predict_classes(out.detach(), plan) == y).float().mean())
            if acc == 1.0 and last < first:
                break
        elif last <= COLLAPSE * first:
            break
        loss.backward()
        for name, p in net.named_parameters():
            if name in silent and p.grad is not None and bool(p.grad.abs().sum() > 0):
                silent.discard(name)
        optimizer.step()
    passed = (acc == 1.0 and last < first) if classify else (last <= COLLAPSE * first)
    if passed:
        what = "100 % accuracy on the batch" if classify else \
            f"loss {first:.4g} -> {last:.4g}"
        return OverfitResult(True, done, first, last, acc,
                             f"passed: {what} after {done} step(s) on one batch of {n}")
    got = f"{100 * acc:.0f} % on the batch" if acc is not None else f"loss {last:.4g}"
    head = (f"failed: after {done} steps on one batch of {n} the loss went {first:.4g} -> "
            f"{last:.4g} ({got})")
    return OverfitResult(False, done, first, last, acc,
                         f"{head}; {diagnose(net, start, silent, owners, s.lr, mismatch)}")


def diagnose(net, start, silent, owners, lr, mismatch) -> str:
    """Where to look, most specific first."""
    if mismatch:
        return mismatch
    frozen = sorted({owners.get(n, n) for n, p in net.named_parameters() if not p.requires_grad})
    dead = sorted({owners.get(n, n) for n in silent})
    if dead:
        return (f"these layers got no gradient at all: {', '.join(dead[:4])}"
                f"{' …' if len(dead) > 4 else ''}; a layer before them may be dead (a ReLU "
                f"that never fires) or cut off from the loss")
    moved = max((float((p.detach() - start[n]).norm() / (start[n].norm() + 1e-12))
                 for n, p in net.named_parameters() if n in start), default=0.0)
    if moved < 1e-3:
        return (f"the weights hardly moved (at most {moved:.1e} of their size): the learning "
                f"rate ({lr:g}) is far too small; try `netbuilder lr-find`")
    if frozen:
        return (f"frozen layers: {', '.join(frozen[:4])}; the trainable rest cannot fit the "
                f"batch alone: unfreeze some")
    return (f"the weights moved but the batch was not learned: try another learning rate "
            f"(`netbuilder lr-find`), or check that the output matches the loss")
