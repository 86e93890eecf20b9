"""`netbuilder sweep`: Optuna trials of digits_mlp in parallel processes, results.csv, trial
snapshots, resuming after Ctrl-C without training finished trials again, and bad specs."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netbuilder import examples
from netbuilder.cli import main
from netbuilder.core.project import load_project, save_project
from netbuilder.experiments.space import SpaceError, apply, parse_space

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 5  # digits_mlp is above 90 % validation accuracy after 3-4 epochs at lr ~3e-3


def _short_project(tmp_path: Path) -> Path:
    project = examples.load("digits_mlp")
    project.training = project.training.model_copy(update={"epochs": EPOCHS, "device": "cpu"})
    path = tmp_path / "digits_mlp.json"
    save_project(project, path)
    return path


def _rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_four_trials_two_at_a_time_write_results_and_snapshots(tmp_path, capsys):
    project = _short_project(tmp_path)
    out = tmp_path / "sweep"
    code = main(["sweep", str(project), "--param", "lr=1e-3:2e-2:log", "--trials", "4",
                 "--parallel", "2", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    rows = _rows(out)
    assert len(rows) == 4
    assert {r["status"] for r in rows} <= {"completed", "pruned"}
    assert "val_accuracy" in rows[0] and "test_accuracy" in rows[0]
    for r in rows:
        snapshot = load_project(out / r["folder"] / "project.json")
        assert snapshot.training.lr == pytest.approx(float(r["lr"]))  # the trial's own value
        assert snapshot.training.epochs == EPOCHS
        assert (out / r["folder"] / "metrics.csv").is_file()
    assert len({r["lr"] for r in rows}) == 4
    completed = [float(r["val_accuracy"]) for r in rows if r["status"] == "completed"]
    assert max(completed) >= 0.9
    assert "best: trial" in capsys.readouterr().out


def test_interrupted_sweep_resumes_without_training_finished_trials_again(tmp_path):
    import optuna

    project = _short_project(tmp_path)
    out = tmp_path / "sweep"
    cmd = ["sweep", str(project), "--param", "lr=1e-3:2e-2:log", "--trials", "4",
           "--parallel", "2", "--no-prune", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "netbuilder", *cmd], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "results.csv").is_file() and _rows(out):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as in a terminal
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "resume" in err and "Traceback" not in err
    before = {r["trial"]: r for r in _rows(out)}
    assert 1 <= len(before) < 4
    stamps = {t: (out / r["folder"] / "metrics.csv").stat().st_mtime_ns
              for t, r in before.items()}

    assert main(cmd) == 0
    after = _rows(out)
    assert len(after) == 4
    by_trial = {r["trial"]: r for r in after}
    for t, r in before.items():  # the finished trials are kept as they were, not re-trained
        assert by_trial[t] == r
        assert (out / r["folder"] / "metrics.csv").stat().st_mtime_ns == stamps[t]
    study = optuna.load_study(study_name="netbuilder-sweep",
                              storage=f"sqlite:///{out / 'sweep.db'}")
    interrupted = [t for t in study.trials if t.user_attrs.get("interrupted")]
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 4
    # a trial stopped by the Ctrl-C is no result: its value was trained again on resume
    lrs = {float(r["lr"]) for r in after}
    for t in interrupted:
        assert t.params["lr"] in lrs
        assert str(t.number) not in by_trial
    assert len(list((out / "trials").iterdir())) == 4 + len(interrupted)


@pytest.mark.parametrize("param, words", [
    ("lr", "NAME=SPEC"),
    ("lr=1e-3:1e-1:cubic", "lo:hi:log"),
    ("lr=0:1e-1:log", "lo > 0"),
    ("lr=0.1:0.01", "empty"),
    ("lr=20", "lr "),
    ("optimizer=adam:sgd", "list"),
    ("optimizer=adam,rmsprp", "rmsprp"),
    ("batch_size=16,abc", "whole number"),
    ("Linear 9.out_features=8,16", "no layer named 'Linear 9'"),
    ("Linear 1.width=8,16", "has no parameter 'width'"),
    ("Linear 1.out_features=0:16", "at least"),
    ("colour=red", "neither a training setting"),
])
def test_bad_specs_exit_1_with_a_message(param, words, tmp_path, capsys):
    code = main(["sweep", "digits_mlp", "--param", param, "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ") and words in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()  # nothing was created


def test_a_folder_that_holds_no_sweep_is_refused_and_left_alone(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    code = main(["sweep", "digits_mlp", "--param", "lr=1e-3,1e-2", "--out", str(tmp_path)])
    assert code == 1
    assert "holds no sweep" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_grid_refuses_ranges(tmp_path, capsys):
    code = main(["sweep", "digits_mlp", "--param", "lr=1e-3:1e-2", "--sampler", "grid",
                 "--out", str(tmp_path / "s")])
    assert code == 1 and "is a range" in capsys.readouterr().err


def test_layer_parameters_and_settings_are_applied_to_a_copy():
    project = examples.load("digits_mlp")
    dims = parse_space(project, ["Linear.out_features=16,48", "batch_size=32:128",
                                 "optimizer=sgd,adam"])
    assert [d.kind for d in dims] == ["choice", "int", "choice"]
    assert dims[0].key == "n3.out_features"
    trial = apply(project, dims, {"n3.out_features": 48, "batch_size": 100,
                                  "optimizer": "sgd"})
    assert trial.graph.node("n3").params["out_features"] == 48
    assert trial.training.batch_size == 100 and trial.training.optimizer == "sgd"
    assert project.graph.node("n3").params["out_features"] == 64  # the original is untouched
    with pytest.raises(SpaceError, match="twice"):
        parse_space(project, ["lr=1e-3,1e-2", "lr=1e-4,1e-3"])
    json.dumps([d.spec_text() for d in dims])


def test_a_hopeless_trial_is_pruned_from_its_validation_curve(tmp_path):
    from netbuilder.experiments.sweep import Sweep, SweepOptions

    project = load_project(_short_project(tmp_path))
    dims = parse_space(project, ["lr=1e-6:1e-2:log"])
    sweep = Sweep(project, dims, tmp_path / "sweep", SweepOptions(trials=3, parallel=1))
    sweep.start()
    for lr in (3e-3, 4e-3, 1e-6):  # two good runs set the median, then a hopeless one
        sweep.study.enqueue_trial({"lr": lr})
    sweep.run()
    rows = {float(r["lr"]): r for r in _rows(tmp_path / "sweep")}
    assert rows[3e-3]["status"] == rows[4e-3]["status"] == "completed"
    hopeless = rows[1e-6]
    assert hopeless["status"] == "pruned"
    trained = (tmp_path / "sweep" / hopeless["folder"] / "metrics.csv").read_text()
    assert 1 < len(trained.splitlines()) - 1 < EPOCHS  # stopped after a few epochs


def test_a_damaged_storage_is_a_clear_error_and_is_left_alone(tmp_path, capsys):
    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.db").write_bytes(b"not a database, just bytes" * 40)
    code = main(["sweep", "digits_mlp", "--param", "lr=1e-3,1e-2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "cannot be read as a sweep's storage" in err
    assert (out / "sweep.db").read_bytes() == b"not a database, just bytes" * 40
    assert sorted(p.name for p in out.iterdir()) == ["sweep.db"]
