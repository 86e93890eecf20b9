"""Fine-tuning benchmark: what freezing saves. One training step (forward, backward, Adam)
of the small_resnet example at batch 32 on 3×32×32 images, everything trainable against
the stem and the first two stages frozen (no gradients, no optimizer state for them), and
the time apply_tuning takes to set up the groups.

Each function yields (name, value) pairs; bench/run.py collects them via `benchmarks()`.
"""
from __future__ import annotations

import statistics
import time


def _network():
    """The small_resnet example on 3×32×32 images (its layers then cost something)."""
    from netbuilder.examples import load

    g = load("small_resnet").graph
    g.set_param(g.by_name("image").id, "shape", [3, 32, 32])
    return g


def _step_ms(graph, frozen):
    import torch

    from netbuilder.core.compiler import compile_graph
    from netbuilder.training.tuning import apply_tuning

    for name in frozen:
        graph.set_tuning(graph.by_name(name).id, frozen=True)
    torch.manual_seed(0)
    model = compile_graph(graph)
    t0 = time.perf_counter()
    groups = apply_tuning(model, graph, 1e-3)
    setup = time.perf_counter() - t0
    opt = torch.optim.Adam(groups, lr=1e-3)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    model.train()
    times = []
    for i in range(25):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if i >= 5:  # warm-up steps left out
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), 1000 * setup


def bench_finetune_frozen_step():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        full, _ = _step_ms(_network(), ())
        frozen, setup = _step_ms(_network(), ("conv1", "bn1", "layer1", "layer2"))
    finally:
        torch.set_num_threads(threads)
    yield "finetune_step_full_ms", full
    yield "finetune_step_backbone_frozen_ms", frozen
    yield "finetune_frozen_step_ratio", frozen / full
    yield "finetune_apply_tuning_ms", setup


def benchmarks():
    return [bench_finetune_frozen_step]
