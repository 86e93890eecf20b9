"""Will it fit: the peak memory of one training step, measured on fake tensors.

The model is compiled and a real training step (forward, loss, backward, optimizer step)
runs under FakeTensorMode, so no tensor has memory but every op produces a tensor of its
true size; LiveStorage (tracker.py) counts what is alive op by op. The second step is the
one measured (Adam and friends create their state in the first). At the peak, each live
storage is put in one part: the parameters and buffers, their gradients, the optimizer's
state, the activations (made in the forward pass and still alive, i.e. saved for
backward, the batch included) and temporaries (the rest: backward's and the optimizer's
intermediates). Nothing here allocates model-sized memory, so a model far too big for the
machine is estimated without trying it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from .corrections import resolve_pending
from .step import PreflightError, Setup, build, fake_batch, train_step
from .tracker import LiveStorage

PARTS = ("parameters", "gradients", "optimizer", "activations", "temporaries")
PART_LABELS = {"parameters": "parameters", "gradients": "gradients",
               "optimizer": "optimizer state", "activations": "activations (saved)",
               "temporaries": "temporaries"}
MAX_BATCH = 65536  # TrainingSettings.batch_size's bound


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    gradients: int
    optimizer: int
    activations: int
    temporaries: int
    batch_size: int
    precision: str
    ops: int  # ATen ops in one step (the time estimate charges each some overhead)

    @property
    def total(self) -> int:
        return sum(getattr(self, p) for p in PARTS)

    def parts(self) -> dict[str, int]:
        return {p: getattr(self, p) for p in PARTS}


def estimate(setup: Setup, batch_size: int | None = None, precision: str = "fp32"
             ) -> MemoryEstimate:
    """The peak of one (steady-state) training step at `batch_size` (default: the
    project's). Raises PreflightError when the step cannot run on fake tensors."""
    est = _estimate(setup, batch_size, precision)
    if resolve_pending():  # a kernel whose real memory had to be measured first
        est = _estimate(setup, batch_size, precision)
    return est


def _estimate(setup: Setup, batch_size: int | None, precision: str) -> MemoryEstimate:
    batch = batch_size or setup.settings.batch_size
    fake = FakeTensorMode()
    try:
        with fake:
            model, loss_fn, optimizer = build(setup)
            x, y = fake_batch(setup.info, batch)
        tracker = LiveStorage()
        with fake, tracker:
            for t in (*model.parameters(), *model.buffers()):
                tracker.track(t, "parameters")
            tracker.track(x, "forward")
            tracker.track(y, "forward")

            def phase(name):
                tracker.phase = name
            train_step(model, loss_fn, optimizer, setup.plan, x, y, precision, phase)
            tracker.reset_peak()
            ops0 = tracker.ops
            train_step(model, loss_fn, optimizer, setup.plan, x, y, precision, phase)
            ops = tracker.ops - ops0
            owners = {
                "parameters": tracker.tokens([*model.parameters(), *model.buffers()]),
                "gradients": tracker.tokens(p.grad for p in model.parameters()),
                "optimizer": tracker.tokens(v for st in optimizer.state.values()
                                            for v in st.values()),
            }
    except PreflightError:
        raise
    except Exception as e:  # noqa: BLE001 (a layer the fake tensors cannot run)
        raise PreflightError(f"the training step could not be simulated on fake tensors "
                             f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                             ) from None
    sums = dict.fromkeys(PARTS, 0)
    for nbytes, phase_name, token in tracker.at_peak.values():
        part = next((p for p, tokens in owners.items() if token in tokens), None)
        if part is None:
            part = "activations" if phase_name == "forward" else "temporaries"
        sums[part] += nbytes
    return MemoryEstimate(**sums, batch_size=batch, precision=precision, ops=ops)


def largest_batch(setup: Setup, memory: int, precision: str = "fp32",
                  first: MemoryEstimate | None = None) -> tuple[int, MemoryEstimate | None]:
    """The largest batch size whose step fits in `memory` bytes, and its estimate (0, None
    when not even a batch of 1 fits). Memory grows almost linearly with the batch: two
    estimates give the line, a few more confirm the answer."""
    cache: dict[int, MemoryEstimate] = {}

    def at(b: int) -> MemoryEstimate:
        if b not in cache:
            cache[b] = first if first is not None and first.batch_size == b else \
                estimate(setup, b, precision)
        return cache[b]
    lo_b = 2  # BatchNorm cannot train on one sample
    hi_b = max(lo_b * 8, first.batch_size if first else 64)
    lo, hi = at(lo_b), at(hi_b)
    per_sample = max(1.0, (hi.total - lo.total) / (hi_b - lo_b))
    guess = int(lo_b + (memory - lo.total) / per_sample)
    guess = max(1, min(MAX_BATCH, guess))
    # bracket: `good` fits, `bad` does not (or is past the bound)
    if at(guess).total <= memory:
        good, bad = guess, None
        step = max(1, guess // 16)
        while good < MAX_BATCH:
            nxt = min(MAX_BATCH, good + step)
            if at(nxt).total > memory:
                bad = nxt
                break
            good, step = nxt, step * 2
        if bad is None:
            return good, at(good)
    else:
        bad, good = guess, None
        b = guess
        while b > 1:
            b = max(1, int(b * 0.8))
            if at(b).total <= memory:
                good = b
                break
        if good is None:
            return (1, at(1)) if at(1).total <= memory else (0, None)
    for _ in range(12):  # bisect; a few fake steps each
        if bad - good <= max(1, good // 100):
            break
        mid = (good + bad) // 2
        if at(mid).total <= memory:
            good = mid
        else:
            bad = mid
    return good, at(good)


def refusal(setup: Setup, memory: int, what: str = "this machine") -> str | None:
    """Why a run cannot fit in `memory` bytes (with the numbers), or None when it fits.
    For the trainer: cheap unless the run is big enough to matter."""
    from ..core.budget import estimate as quick_estimate
    from ..core.budget import OPTIMIZER_STATES

    s = setup.settings
    quick = quick_estimate(setup.project.graph, s.batch_size, 2 + OPTIMIZER_STATES[s.optimizer])
    if quick.total < memory // 8:  # far from the limit: no need to simulate a step
        return None
    est = estimate(setup, s.batch_size)
    if est.total <= memory:
        return None
    fits, _ = largest_batch(setup, memory, first=est)
    hint = (f"the largest batch size that fits is {fits}" if fits
            else "not even a batch of 1 fits: make the layers smaller")
    return (f"one training step at batch size {s.batch_size} needs an estimated "
            f"{describe(est)}; {what} has {mib(memory)}; {hint}")


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def describe(est: MemoryEstimate) -> str:
    """'812.4 MiB (parameters 1.2 MiB, gradients ..., ...)'."""
    parts = ", ".join(f"{PART_LABELS[p]} {mib(v)}" for p, v in est.parts().items())
    return f"{mib(est.total)} ({parts})"


def measure_on_cuda(setup: Setup, batch_size: int, precision: str = "fp32") -> int:
    """A bounded trial on the GPU: two real steps; the second one's
    torch.cuda.max_memory_allocated, in bytes. Only where CUDA is available."""
    if not torch.cuda.is_available():
        raise PreflightError("no CUDA GPU here to confirm the estimate on")
    model, loss_fn, optimizer = build(setup, "cuda")
    x, y = fake_batch(setup.info, batch_size, "cuda")
    train_step(model, loss_fn, optimizer, setup.plan, x, y, precision, device_type="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    train_step(model, loss_fn, optimizer, setup.plan, x, y, precision, device_type="cuda")
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model, optimizer, x, y
    torch.cuda.empty_cache()
    return peak
