"""Import benchmark: torchvision resnet50 (random weights) -> an editable project with its
block structure and an automatic layout, verified against the original (what
`netbuilder import torchvision:resnet50` does before writing).

Each function yields (name, value) pairs; bench/run.py collects them via `benchmarks()`.
"""
from __future__ import annotations

import gc
import statistics
import time


def bench_import_layout_resnet50():
    import torchvision

    from netbuilder.importers import import_model

    model = torchvision.models.resnet50().eval()
    times, parts = [], None
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        result = import_model(model, [[3, 224, 224]], factory="torchvision.models:resnet50")
        times.append(time.perf_counter() - t0)
        parts = result
    yield "import_layout_resnet50_s", statistics.median(times)
    yield "import_layout_resnet50_top_nodes", len(parts.project.graph.nodes)
    yield "import_layout_resnet50_definitions", len(parts.project.graph.blocks)


def benchmarks():
    return [bench_import_layout_resnet50]
