"""Sweep benchmark: the same 4 trials of digits_cnn (a grid of 4 learning rates, no
pruning), 2 at a time and one at a time, each in a fresh sweep folder. Each trial trains
with one torch thread (the Trainer's default on the CPU), so 2 trials at a time should take
a little over half as long on 2 cores: goal ratio <= 0.6.

As everywhere in this bench, torch's import is excluded: the trial processes are started
and have imported torch before the clock starts (`..._ratio`); the `_cold_` line includes
starting them, as a user waits for that too. Other work on the machine takes cores from
the trials, so the 1-minute load average is printed first.

Each function yields (name, value) pairs; bench/run.py collects them via `benchmarks()`.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

EPOCHS = 30  # ~9 s a trial on one idle core: training, not process start-up, dominates


def _sweep_seconds(parallel: int, warm: bool) -> float:
    from netbuilder import examples
    from netbuilder.experiments.space import parse_space
    from netbuilder.experiments.sweep import Sweep, SweepOptions

    project = examples.load("digits_cnn")
    project.training = project.training.model_copy(update={"epochs": EPOCHS, "device": "cpu"})
    dims = parse_space(project, ["lr=0.001,0.002,0.004,0.008"])
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Sweep(project, dims, Path(tmp) / "sweep",
                      SweepOptions(trials=4, parallel=parallel, sampler="grid", prune=False))
        t0 = time.perf_counter()
        sweep.start()  # starts the trial processes
        if warm:
            for slot in sweep.slots:  # answered once the child has imported torch
                slot.process.request("layer_state", [], timeout=600)
            t0 = time.perf_counter()
        sweep.run()
        seconds = time.perf_counter() - t0
        done = [r for r in sweep.results() if r["status"] == "completed"]
        if len(done) != 4:
            raise RuntimeError(f"the bench sweep finished {len(done)} of 4 trials: "
                               f"{sweep.results()}")
    return seconds


def bench_sweep_parallel():
    import os

    yield "sweep_load_average_1min", round(os.getloadavg()[0], 2)
    serial, parallel = _sweep_seconds(1, warm=True), _sweep_seconds(2, warm=True)
    yield "sweep_4_trials_serial_s", round(serial, 2)
    yield "sweep_4_trials_parallel_2_s", round(parallel, 2)
    yield "sweep_parallel_2_vs_serial_ratio", round(parallel / serial, 3)
    cold = _sweep_seconds(2, warm=False) / _sweep_seconds(1, warm=False)
    yield "sweep_parallel_2_vs_serial_cold_ratio", round(cold, 3)


def benchmarks():
    return [bench_sweep_parallel]
