"""The real peak of a real training step on the CPU, to hold the estimate against.

Independent of the estimate's tracker: torch.profiler reports every allocation and free
of the CPU allocator (kernels' own scratch buffers included). The peak is what was
allocated before (weights, buffers, the batch) plus the highest point of the running sum
of the allocations of two steps.
"""
from __future__ import annotations

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
    """Bytes at the peak of two real training steps at `batch_size` (the second, with
    the optimizer's state, is the higher one)."""
    model, loss_fn, optimizer = build(setup)
    x, y = fake_batch(setup.info, batch_size)
    before = unique_bytes([*model.parameters(), *model.buffers(), x, y])
    # Both steps are profiled: memory a library allocates in the first and keeps (oneDNN's
    # scratchpad) is memory too, and would be invisible to a profile of the second alone.
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        for _ in range(2):
            train_step(model, loss_fn, optimizer, setup.plan, x, y, precision)
    allocs: list = []
    _allocations(prof.profiler.kineto_results.experimental_event_tree(), allocs)
    allocs.sort()
    running = highest = 0
    for _, size in allocs:
        running += size
        highest = max(highest, running)
    return before + highest
