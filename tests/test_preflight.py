"""Pre-flight: the memory estimate against a real step, the LR suggestion trains the digits
CNN, the overfit check passes on every classification example and fails usefully on
broken networks, and the three commands."""
from __future__ import annotations

import json

import pytest
import torch

from netbuilder import examples
from netbuilder.cli import main
from netbuilder.core.project import parse_project
from netbuilder.preflight.lr_find import lr_find
from netbuilder.preflight.measure import real_peak
from netbuilder.preflight.memory import estimate, largest_batch, refusal
from netbuilder.preflight.overfit import overfit_batch
from netbuilder.preflight.step import build, prepare

CLASSIFIERS = [n for n in examples.names()
               if examples.load(n).training.loss in ("cross_entropy", "nll", "bce",
                                                     "bce_with_logits", "hinge")
               or n == "textbook_mlp"]  # (a softmax output trained with MSE on classes)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def with_training(name: str, **changes):
    project = examples.load(name)
    project.training = project.training.model_copy(update=changes)
    return project


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn", "residual_cnn", "sine_lstm"])
def test_estimate_is_close_to_the_real_peak_of_a_real_step(name):
    setup = prepare(examples.load(name))
    est = estimate(setup)
    real = real_peak(setup, setup.settings.batch_size)
    assert 0.9 <= est.total / real <= 1.1, (est, real)
    params = sum(p.numel() * 4 for p in build(setup)[0].parameters())
    assert est.parameters >= params  # (BatchNorm's buffers count with the parameters)
    assert est.activations > 0


def test_memory_grows_with_the_batch_and_the_largest_batch_fits():
    setup = prepare(examples.load("digits_cnn"))
    small, big = estimate(setup, 16), estimate(setup, 64)
    assert big.activations > 3 * small.activations
    assert big.parameters == small.parameters
    limit = 2 * 2**20
    fits, est = largest_batch(setup, limit)
    assert 1 <= fits < 64 and est.total <= limit
    assert estimate(setup, fits + max(2, fits // 50)).total > limit
    msg = refusal(setup, limit)
    assert msg and f"the largest batch size that fits is {fits}" in msg and "MiB" in msg


def test_the_trainer_refuses_a_run_that_cannot_fit_with_the_numbers():
    from netbuilder.training.config import TrainingConfigError
    from netbuilder.training.trainer import Trainer

    trainer = Trainer(examples.load("digits_cnn"), memory=2**20)
    with pytest.raises(TrainingConfigError, match=r"needs an estimated [\d.]+ MiB .*"
                       r"activations .* has 1\.0 MiB; the largest batch size that fits"):
        trainer.prepare()
    assert trainer.model is None  # nothing was built


def test_suggested_rate_trains_the_digits_cnn_to_95_percent_in_5_epochs():
    from netbuilder.training.trainer import Trainer

    project = examples.load("digits_cnn")
    model = build(prepare(project))[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    found = lr_find(prepare(project), model=model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert found.rule in ("steepest descent", "minimum / 10")
    assert 1e-5 < found.suggestion < 1.0
    project.training = project.training.model_copy(update={"lr": found.suggestion})
    result = Trainer(project, epochs=5, tensorboard=False).run()
    assert result.status == "completed"
    assert result.test["accuracy"] >= 0.95, (found.suggestion, result.test)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_overfit_passes_on_every_shipped_classification_example(name):
    result = overfit_batch(prepare(examples.load(name)))
    assert result.passed, result.message
    assert result.accuracy == 1.0 and result.message.startswith("passed: 100 %")


def test_overfit_fails_when_everything_is_frozen():
    setup = prepare(examples.load("digits_mlp"))
    model = build(setup)[0]
    for p in model.parameters():
        p.requires_grad_(False)
    result = overfit_batch(setup, model=model)
    assert not result.passed and "every layer is frozen" in result.message


def test_overfit_fails_with_a_tiny_learning_rate_and_says_so():
    result = overfit_batch(prepare(with_training("digits_mlp", lr=1e-9)), steps=40)
    assert not result.passed
    assert "learning rate (1e-09) is far too small" in result.message, result.message


def relu_before_sigmoid():
    data = json.loads(examples.text("spirals_mlp"))
    nodes = data["graph"]["nodes"]
    next(n for n in nodes if n["id"] == "n6")["params"]["out_features"] = 1
    nodes += [{"id": "n8", "type": "ReLU", "name": "ReLU out", "params": {}},
              {"id": "n9", "type": "Sigmoid", "name": "Sigmoid", "params": {}}]
    edges = [e for e in data["graph"]["edges"] if e["dst"] != "n7"]
    edges += [{"src": "n6", "dst": "n8"}, {"src": "n8", "dst": "n9"},
              {"src": "n9", "dst": "n7"}]
    data["graph"]["edges"] = edges
    data["training"]["loss"] = "bce"
    return parse_project(json.dumps(data), "relu before sigmoid")


def test_overfit_fails_on_a_relu_before_a_sigmoid_output_and_names_them():
    result = overfit_batch(prepare(relu_before_sigmoid()), steps=100)
    assert not result.passed
    assert "'Sigmoid' (Sigmoid) only gets non-negative inputs from 'ReLU out'" in \
        result.message and "below 0.5" in result.message


def test_commands(tmp_path, capsys):
    assert main(["fit", "digits_mlp", "--device", "T4", "--batch-size", "128"]) == 0
    out = capsys.readouterr().out
    assert "estimated peak memory:" in out and "MiB" in out and "device: T4" in out
    assert "largest batch size that fits: 65536" in out and "per epoch" in out
    assert main(["fit", "digits_cnn", "--memory", "0.002"]) == 0
    out = capsys.readouterr().out
    assert "does NOT fit" in out
    largest = int(out.split("largest batch size that fits: ")[1].split()[0])
    assert 1 <= largest < 64
    assert main(["fit", "digits_mlp", "--device", "Z80"]) == 1
    assert "unknown device 'Z80'" in capsys.readouterr().err
    plot = tmp_path / "lr.png"
    assert main(["lr-find", "spirals_mlp", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "suggested learning rate: " in out and "(rule: " in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["check", "spirals_mlp", "--overfit-batch"]) == 0
    assert "overfit one batch: passed" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(relu_before_sigmoid().to_json())
    assert main(["check", str(bad), "--overfit-batch"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("overfit one batch: failed") and "ReLU out" in out
    wrong = json.loads(examples.text("spirals_mlp"))  # 3 outputs for 2 classes
    next(n for n in wrong["graph"]["nodes"] if n["id"] == "n6")["params"]["out_features"] = 3
    bad.write_text(json.dumps(wrong))
    for command in (["fit", str(bad)], ["lr-find", str(bad)],
                    ["check", str(bad), "--overfit-batch"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {bad}: ") and "Traceback" not in err, err


def test_time_estimates_follow_the_device_table_and_this_machine_is_measured_once(
        tmp_path, monkeypatch):
    from netbuilder.preflight import devices
    from netbuilder.preflight.report import fit_report

    monkeypatch.setenv("NETBUILDER_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(devices, "_CPU", None)
    cpu = devices.this_cpu()
    cache = tmp_path / "netbuilder" / devices.CACHE_NAME
    assert cache.exists() and cpu.fp32_tflops > 0
    cache.write_text(json.dumps({"gflops": 1.0, "op_overhead_us": 5.0}))
    monkeypatch.setattr(devices, "_CPU", None)
    assert devices.this_cpu().fp32_tflops == pytest.approx(1e-3)  # read back, not measured
    setup = prepare(examples.load("digits_cnn"))
    t4, h100 = (fit_report(setup, devices.resolve(n), 4096, samples=10_000)
                for n in ("T4", "H100"))
    assert h100.time.step_s < t4.time.step_s
    assert t4.time.batches == 10_000 // 4096 + 1
    assert t4.time.epoch_s == pytest.approx(t4.time.step_s * t4.time.batches)
    assert devices.resolve("rtx4090").name == "RTX 4090"
    with pytest.raises(ValueError, match="unknown device 'Z80'"):
        devices.resolve("Z80")
