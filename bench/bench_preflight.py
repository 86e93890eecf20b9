"""Pre-flight benchmark: the fake-tensor estimate of a training step's peak memory divided
by the real peak of a real step on the CPU (torch.profiler's allocation events: an
independent count, kernels' own scratch buffers included). Goal: every ratio 0.9-1.1.
Also how long one estimate takes.

Each function yields (name, value) pairs; bench/run.py collects them via `benchmarks()`.
"""
from __future__ import annotations

import time

MODELS = ("digits_mlp", "digits_cnn", "residual_cnn", "sine_lstm", "text_gru",
          "small_resnet", "small_transformer")


def _resnet18_setup():
    """torchvision's resnet18 at 64x64 (imported as a project), 1000 classes, batch 16."""
    import torchvision

    from netbuilder.data.registry import CLASS, DataInfo
    from netbuilder.importers import import_model
    from netbuilder.preflight.step import Setup
    from netbuilder.training.config import Plan

    project = import_model(torchvision.models.resnet18(), [[3, 64, 64]],
                           factory="torchvision.models:resnet18").project
    settings = project.training.model_copy(update={"batch_size": 16})
    info = DataInfo((3, 64, 64), "float32", "classification", CLASS, num_classes=1000)
    return Setup(project, settings, info, Plan("cross_entropy", 1000, False, None, "cpu",
                                               False))


def bench_fit_estimate_vs_measured():
    import torch

    from netbuilder import examples
    from netbuilder.preflight.measure import real_peak
    from netbuilder.preflight.memory import estimate
    from netbuilder.preflight.step import prepare

    torch.set_num_threads(1)
    setups = [(name, lambda n=name: prepare(examples.load(n))) for name in MODELS]
    setups.append(("resnet18_64", _resnet18_setup))
    for name, make in setups:
        setup = make()
        t0 = time.perf_counter()
        est = estimate(setup)
        took = time.perf_counter() - t0
        real = real_peak(setup, setup.settings.batch_size)
        yield f"fit_estimate_vs_measured_{name}", round(est.total / real, 3)
        yield f"fit_estimate_s_{name}", round(took, 3)


def benchmarks():
    return [bench_fit_estimate_vs_measured]
