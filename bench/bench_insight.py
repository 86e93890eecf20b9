"""Insight benchmarks, run by bench/run.py (`make bench`).

insight_trace_<example>_ms     one sample forward with every node kept, the loss, backward
                               and one optimizer step (what Start + Step cost in the GUI)
insight_gradcam_digits_ms      Grad-CAM of one digit (captum, the last convolution)
insight_projector_pca_digits_s the digits CNN's penultimate layer on the test set, to 2-D
"""
from __future__ import annotations

import statistics
import time


def _median_ms(fn, repeats: int = 7) -> float:
    fn()  # the first call at a shape picks kernels: not what a person waits for later
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def bench_insight_trace():
    from netbuilder import examples
    from netbuilder.insight.workspace import from_project

    for name in ("textbook_mlp", "digits_cnn", "small_resnet"):
        ws = from_project(examples.load(name))
        x, y = ws.sample(0)
        stepper = ws.stepper()

        def once():
            stepper.trace(x, y)
            stepper.step()
        yield f"insight_trace_{name}_ms", _median_ms(once)


def bench_insight_views():
    from netbuilder import examples
    from netbuilder.insight.attribution import attribute
    from netbuilder.insight.projector import project
    from netbuilder.insight.workspace import from_project

    ws = from_project(examples.load("digits_cnn"))
    x, _ = ws.sample(0)
    yield "insight_gradcam_digits_ms", _median_ms(
        lambda: attribute(ws.model, ws.project.graph, x, "gradcam", baseline=ws.baseline()))
    t0 = time.perf_counter()
    project(ws.model, ws.project.graph, ws.x, ws.labels)
    yield "insight_projector_pca_digits_s", time.perf_counter() - t0


def benchmarks():
    return [bench_insight_trace, bench_insight_views]
