"""The real peak of a real training step on the CPU, to hold the estimate against.

Independent of the estimate's tracker: torch.profiler reports every allocation and free
of the CPU allocator (kernels' own scratch buffers included). The peak is what was
allocated before the step (weights, buffers, optimizer state, the batch) plus the highest
point of the running sum of the step's allocations.
"""
from __future__ import annotations

import torch
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile

from .step import Setup, build, fake_batch, train_step
from .tracker import unique_bytes


def _allocations(events, out: list) -> None:
    for e in events:
        if e.tag == _EventType.Allocation:
            out.append((e.start_time_ns, e.extra_fields.alloc_size))
        _allocations(e.children, out)


def real_peak(setup: Setup, batch_size: int, precision: str = "fp32") -> int:
    """Bytes at the peak of the second of two real training steps at `batch_size`."""
    model, loss_fn, optimizer = build(setup)
    x, y = fake_batch(setup.info, batch_size)
    train_step(model, loss_fn, optimizer, setup.plan, x, y, precision)
    before = unique_bytes([*model.parameters(), *model.buffers(), x, y,
                           *(v for st in optimizer.state.values() for v in st.values())])
    grads = unique_bytes(p.grad for p in model.parameters())
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        train_step(model, loss_fn, optimizer, setup.plan, x, y, precision)
    allocs: list = []
    _allocations(prof.profiler.kineto_results.experimental_event_tree(), allocs)
    allocs.sort()
    # The profiler does not report frees of memory allocated before it started, so the
    # previous step's gradients (freed first, by zero_grad(set_to_none=True)) never show
    # as a negative size: the running sum counts from `before`.
    running = highest = 0
    for _, size in allocs:
        running += size
        highest = max(highest, running)
    return max(before + grads, before + highest)
