"""`netbuilder train` as a person uses it: progress, test metrics, files, clear errors."""
import os
import signal
import subprocess
import sys
import time

import pytest

from netbuilder.api import save_project
from netbuilder.cli import main

from training_util import project, small_example
from test_data_user import make_image_folder


def test_train_an_example_writes_checkpoint_and_csv(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "digits_cnn", "--epochs", "2", "--out", str(out),
                 "--device", "cpu"]) == 0
    cap = capsys.readouterr()
    assert "test: loss" in cap.out and "acc" in cap.out and "precision" in cap.out
    assert "epoch 2/2" in cap.err and "samples/s" in cap.err
    assert (out / "metrics.csv").read_text().count("\n") == 3
    assert (out / "checkpoints" / "last" / "model.safetensors").is_file()
    assert (out / "checkpoints" / "best" / "state.json").is_file()
    # resume to 3 epochs: only the third runs
    assert main(["train", "digits_cnn", "--epochs", "3", "--out", str(out), "--resume",
                 str(out / "checkpoints" / "last")]) == 0
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and "epoch 2/3" not in err
    assert (out / "metrics.csv").read_text().count("\n") == 4


def test_regression_prints_mse(tmp_path, capsys):
    assert main(["train", "square_regression", "--epochs", "2", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "test: loss" in out and "mae" in out and "r2" in out


def _bad_csv_project(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(30)))
    return project([("Linear", {"out_features": 2})], [2], "csv",
                   {"path": str(f), "target": "label"})


def _bad_folder_project(tmp_path):
    make_image_folder(tmp_path / "imgs", classes=("only",))
    return project(["Flatten", ("Linear", {"out_features": 2})], [3, 32, 32], "image_folder",
                   {"path": str(tmp_path / "imgs")})


@pytest.mark.parametrize("make, message", [
    (lambda tmp: project([("Linear", {"out_features": 3})], [2], "spirals"),
     "dataset 'spirals' has 2 classes but the output is N×3"),
    (lambda tmp: project([("Linear", {"out_features": 2})], [2], "spirls"),
     "unknown dataset 'spirls'"),
    (_bad_csv_project, "no column 'label' (columns: a, b, y)"),
    (_bad_folder_project, "found 1 class folder(s)"),
])
def test_bad_settings_exit_1_with_a_message(tmp_path, capsys, make, message):
    f = tmp_path / "p.json"
    save_project(make(tmp_path), f)
    assert main(["train", str(f), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {f}: ") and message in err
    assert "Traceback" not in err


def test_bad_resume_and_epochs(tmp_path, capsys):
    assert main(["train", "spirals_mlp", "--resume", str(tmp_path / "nope"), "--out",
                 str(tmp_path)]) == 1
    assert "not a checkpoint folder" in capsys.readouterr().err
    assert main(["train", "spirals_mlp", "--epochs", "0"]) == 1
    assert "epochs must be between 1" in capsys.readouterr().err


def test_non_finite_training_exits_1(tmp_path, capsys):
    p = project([("Linear", {"out_features": 32}), "ReLU", ("Linear", {"out_features": 1})],
                [1], "square", loss="mse", optimizer="sgd", lr=10.0, epochs=5)
    save_project(p, tmp_path / "p.json")
    assert main(["train", str(tmp_path / "p.json"), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "error: the loss became" in err and "first layer that went non-finite" in err


def test_ctrl_c_stops_after_the_batch_and_saves(tmp_path):
    save_project(small_example("digits_cnn", epochs=2000), tmp_path / "p.json")
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "netbuilder", "train",
                             str(tmp_path / "p.json"), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 60
    while not (out / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.05)  # wait until at least one epoch has trained
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "stopping after this batch" in stderr and "checkpoint saved to" in stderr
    assert "Traceback" not in stderr
    assert (out / "checkpoints" / "last" / "model.safetensors").is_file()
