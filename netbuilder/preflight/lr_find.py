"""Learning-rate range test: on a copy of the model, raise the learning rate exponentially
batch by batch and watch the (smoothed) loss.

The loss first barely moves, then falls, then blows up. Two rules read a rate off it:
"steepest descent" (where the smoothed loss falls fastest per decade of learning rate) and
"minimum / 10" (a tenth of the rate at the lowest smoothed loss). The suggestion is the
steepest-descent rate when it lies below the minimum's rate (a clean curve); otherwise the
minimum / 10. Which rule was used is part of the result. The weights that were passed in
are never touched: the test trains a deep copy.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from ..data import load as load_data
from ..training.config import adapt_target, make_loss, make_optimizer
from ..training.trainer import epoch_order
from .step import PreflightError, Setup, build

SMOOTHING = 0.9  # exponential moving average of the loss (bias-corrected)
DIVERGED = 4.0  # stop once the smoothed loss is this many times its best


@dataclass
class LrFindResult:
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # raw, per batch
    smoothed: list[float] = field(default_factory=list)
    suggestion: float = 0.0
    rule: str = ""  # "steepest descent" or "minimum / 10"
    steepest: float | None = None
    minimum: float | None = None


def lr_find(setup: Setup, model=None, start_lr: float = 1e-7, end_lr: float = 10.0,
            steps: int = 100, device: str = "cpu", data=None, cancelled=None
            ) -> LrFindResult:
    """Run the range test. `model` (default: the project's freshly compiled model) is
    copied first; `cancelled()` may stop it early."""
    s, plan = setup.settings, setup.plan
    if not (0 < start_lr < end_lr):
        raise PreflightError("the learning-rate range must grow: 0 < start < end")
    if data is None:
        ds = setup.project.dataset
        data = load_data(ds.name, ds.options, seed=s.seed)
    if len(data.train) == 0:
        raise PreflightError("the dataset's training split is empty")
    if model is None:
        net, loss_fn, _ = build(setup, device)
    else:
        net, loss_fn = copy.deepcopy(model).to(device), make_loss(s, plan)
    net.train()
    optimizer = make_optimizer(s, net.parameters())
    factor = (end_lr / start_lr) ** (1 / max(1, steps - 1))
    result = LrFindResult()
    avg, best, lr = 0.0, math.inf, start_lr
    order, pos, epoch = epoch_order(s.seed, 0, len(data.train)), 0, 0
    bs = min(s.batch_size, len(data.train))
    for i in range(steps):
        if cancelled is not None and cancelled():
            break
        if pos + bs > len(order):
            epoch += 1
            order, pos = epoch_order(s.seed, epoch, len(data.train)), 0
        x, y = data.batch(data.train, order[pos:pos + bs], train=True)
        pos += bs
        x, y = x.to(device), y.to(device)
        for g in optimizer.param_groups:
            g["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), adapt_target(y, plan))
        value = float(loss.detach())
        if not math.isfinite(value):
            break
        loss.backward()
        optimizer.step()
        avg = SMOOTHING * avg + (1 - SMOOTHING) * value
        smooth = avg / (1 - SMOOTHING ** (i + 1))
        result.lrs.append(lr)
        result.losses.append(value)
        result.smoothed.append(smooth)
        best = min(best, smooth)
        if i > 5 and smooth > DIVERGED * best:
            break
        lr *= factor
    if len(result.lrs) < 5:
        raise PreflightError(f"the loss was not finite from a learning rate of "
                             f"{start_lr:g} on: the network diverges at once; check its "
                             f"output against the loss")
    suggest(result)
    return result


def suggest(r: LrFindResult) -> None:
    """Fill in the two rules' rates and the suggestion (see the module docstring)."""
    lrs, sm = np.log10(np.array(r.lrs)), np.array(r.smoothed)
    i_min = int(np.argmin(sm))
    r.minimum = float(r.lrs[i_min])
    if i_min >= 3:
        slope = np.gradient(sm[:i_min + 1], lrs[:i_min + 1])
        # skip the very first points: the moving average is still warming up there
        lo = min(2, i_min - 1)
        i_steep = lo + int(np.argmin(slope[lo:]))
        r.steepest = float(r.lrs[i_steep])
    fall = float(sm[0] - sm[i_min])
    if r.steepest is not None and r.steepest < r.minimum and fall > 0.05 * abs(sm[0]):
        r.suggestion, r.rule = r.steepest, "steepest descent"
    else:
        r.suggestion, r.rule = r.minimum / 10, "minimum / 10"


def save_plot(r: LrFindResult, path, title: str = "") -> None:
    """The loss curve against the learning rate (log scale) with the suggestion, as PNG."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(r.lrs, r.losses, color="#b0bec5", linewidth=1, label="loss per batch")
    ax.plot(r.lrs, r.smoothed, color="#1e88e5", linewidth=2, label="smoothed loss")
    ax.axvline(r.suggestion, color="#e53935", linestyle="--",
               label=f"suggested {r.suggestion:.2g} ({r.rule})")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    low, first = min(r.smoothed), r.smoothed[0]
    ax.set_ylim(low - 0.05 * abs(low), max(first, low) * 1.3 + 1e-9)  # the blow-up is cut
    ax.set_title(title or "learning-rate range test")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))
