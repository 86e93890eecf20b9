"""`netbuilder sweep --ray`: the trials train as Ray tasks (here on a local Ray instance)
and their files land in the sweep's folder. Skipped when the optional `ray` extra is not
installed."""
from __future__ import annotations

import csv

import pytest

ray = pytest.importorskip("ray")

from netbuilder import examples  # noqa: E402
from netbuilder.core.project import load_project  # noqa: E402
from netbuilder.experiments.space import parse_space  # noqa: E402
from netbuilder.experiments.sweep import Sweep, SweepOptions  # noqa: E402


def test_a_sweep_on_a_local_ray_instance(tmp_path):
    project = examples.load("digits_mlp")
    project.training = project.training.model_copy(update={"epochs": 3, "device": "cpu"})
    dims = parse_space(project, ["lr=0.002,0.004"])
    out = tmp_path / "sweep"
    sweep = Sweep(project, dims, out, SweepOptions(trials=2, parallel=2, sampler="grid",
                                                   ray_address="local", prune=False))
    try:
        sweep.run()
    finally:
        if ray.is_initialized():
            ray.shutdown()
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(float(r["lr"]) for r in rows) == [0.002, 0.004]
    assert all(r["status"] == "completed" for r in rows), rows
    for r in rows:
        folder = out / r["folder"]
        assert load_project(folder / "project.json").training.lr == float(r["lr"])
        assert len((folder / "metrics.csv").read_text().splitlines()) == 1 + 3  # header, epochs
        assert (folder / "checkpoints" / "last" / "model.safetensors").stat().st_size > 0
        assert float(r["val_accuracy"]) > 0.5


def test_an_unreachable_cluster_is_a_clear_error(tmp_path, capsys):
    from netbuilder.cli import main

    code = main(["sweep", "digits_mlp", "--param", "lr=1e-3,1e-2", "--ray",
                 "ray://127.0.0.1:9", "--out", str(tmp_path / "s")])
    assert code == 1
    assert "cannot connect to the Ray cluster" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
