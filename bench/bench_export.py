"""Export and import benchmarks, run by bench/run.py (`make bench`).

import_layout_resnet50_s    torchvision resnet50 (random weights) -> graph, weights copied,
                            outputs checked; the layout share is reported on its own
export_digits_cnn_<fmt>_s   each export format for the digits CNN, including its
                            verification (reload + compare at two batch sizes)
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path


def bench_import_resnet50():
    import torchvision

    from netbuilder.core.layout import auto_layout
    from netbuilder.importers import import_model

    model = torchvision.models.resnet50()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = import_model(model, [[3, 224, 224]], factory="torchvision.models:resnet50")
        times.append(time.perf_counter() - t0)
    assert result.max_diff <= 1e-4, result.max_diff
    layout = []
    for _ in range(5):
        t0 = time.perf_counter()
        auto_layout(result.project.graph)
        layout.append(time.perf_counter() - t0)
    yield "import_layout_resnet50_s", statistics.median(times)
    yield "import_resnet50_layout_only_s", statistics.median(layout)
    yield "import_resnet50_nodes", len(result.project.graph.nodes)


def bench_export_digits_cnn():
    from netbuilder.api import example
    from netbuilder.export import FORMAT_NAMES, export_project

    project = example("digits_cnn")
    with tempfile.TemporaryDirectory() as d:
        export_project(project, "onnx", Path(d) / "warm.onnx")  # one-time lazy imports
        for fmt in FORMAT_NAMES:
            times = []
            for i in range(3):
                t0 = time.perf_counter()
                export_project(project, fmt, Path(d) / f"m{i}.{fmt}")
                times.append(time.perf_counter() - t0)
            yield f"export_digits_cnn_{fmt}_s", statistics.median(times)


def benchmarks():
    return [bench_import_resnet50, bench_export_digits_cnn]
