"""Settings that cannot train are refused before training, saying why."""
import pytest

from netbuilder.data import DataError
from netbuilder.training import Trainer, TrainingConfigError
from netbuilder.training.config import pick_device

from training_util import project, small_example, with_training

MLP = (("Linear", {"out_features": 8}), "ReLU")


@pytest.mark.parametrize("make, message", [
    (lambda: project([*MLP, ("Linear", {"out_features": 2}), "Softmax"], [2], "spirals"),
     "CrossEntropyLoss applies its own softmax .* comes from Softmax 'Softmax'; remove"),
    (lambda: project([*MLP, ("Linear", {"out_features": 3})], [2], "spirals"),
     "dataset 'spirals' has 2 classes but the output is N×3; .* out_features to 2"),
    (lambda: project([*MLP, ("Linear", {"out_features": 10})], [64], "digits"),
     r"Input 'x' has shape N×64 but dataset 'digits' gives N×1×8×8; set the Input shape to "
     r"\[1, 8, 8\]"),
    (lambda: project([*MLP, ("Linear", {"out_features": 1})], [1], "square"),
     "CrossEntropyLoss needs class labels, but dataset 'square' has real-valued targets"),
    (lambda: project([*MLP, ("Linear", {"out_features": 2})], [2], "spirals", loss="mse",
                     optimizer="sgd", nesterov=True, momentum=0.0),
     "nesterov=true needs a momentum above 0"),
    (lambda: project([*MLP, ("Linear", {"out_features": 3})], [2], "spirals", loss="mse"),
     "MSELoss on 2 classes needs an output of width 2 .* or 1"),
    (lambda: project([*MLP, ("Linear", {"out_features": 3})], [2], "spirals", loss="quantile"),
     "quantile .* is for regression"),
    (lambda: project([*MLP, ("Linear", {"out_features": 2})], [2], "spirals", loss="nll"),
     "NLLLoss expects log-probabilities.*end the network with LogSoftmax"),
    (lambda: project([*MLP, ("Linear", {"out_features": 1})], [2], "spirals", loss="bce"),
     "BCELoss needs probabilities in \\[0, 1\\]"),
    (lambda: project([("Embedding", {"num_embeddings": 20, "embedding_dim": 4}),
                      ("GRU", {"hidden_size": 4}), ("Linear", {"out_features": 2})], [16],
                     "tiny_reviews", dtype="int64"),
     "Embedding 'Embedding' has 20 rows but dataset 'tiny_reviews' uses token ids up to"),
    (lambda: project([("LSTM", {"hidden_size": 4, "output": "sequence"}),
                      ("Linear", {"out_features": 1})], [20, 1], "sine_series", loss="mse"),
     "the output is N×20×1, .* set output to 'last'"),
    (lambda: project(["Flatten"], [2], "spirals", dtype="int64"),
     "dtype int64 but dataset 'spirals' gives float32"),
])
def test_refused_with_the_reason(make, message):
    with pytest.raises(TrainingConfigError, match=message):
        Trainer(make()).prepare()


def test_every_reason_is_listed_at_once():
    p = project([*MLP, ("Linear", {"out_features": 3}), "Softmax"], [5], "spirals")
    with pytest.raises(TrainingConfigError) as e:
        Trainer(p).prepare()
    assert str(e.value).count("\n  - ") == 3  # input shape, output width, softmax


def test_graph_errors_are_refused():
    p = project([("Linear", {"out_features": 2})], [1, 8, 8], "digits")
    with pytest.raises(TrainingConfigError, match="(?s)the graph has errors:.*insert Flatten"):
        Trainer(p).prepare()


def test_unknown_dataset_and_missing_dataset():
    p = project([("Linear", {"out_features": 2})], [2], "spirels")
    with pytest.raises(DataError, match="unknown dataset 'spirels'"):
        Trainer(p).prepare()
    p.dataset = None
    with pytest.raises(TrainingConfigError, match="the project has no dataset"):
        Trainer(p).prepare()


@pytest.mark.parametrize("loss, width, last", [
    ("mse", 2, "Softmax"), ("mse", 1, None), ("l1", 2, None), ("huber", 2, None),
    ("bce", 1, "Sigmoid"), ("bce_with_logits", 1, None), ("bce_with_logits", 2, None),
    ("cross_entropy", 2, None), ("cross_entropy", 2, "LogSoftmax"), ("nll", 2, "LogSoftmax"),
    ("hinge", 2, None)])
def test_classification_losses_that_fit_train(loss, width, last):
    layers = [*MLP, ("Linear", {"out_features": width})] + ([last] if last else [])
    r = Trainer(project(layers, [2], "moons", {"samples": 200}, loss=loss, epochs=2),
                threads=1).run()
    assert r.status == "completed" and 0 <= r.test["accuracy"] <= 1


@pytest.mark.parametrize("loss", ["mse", "l1", "huber", "quantile"])
def test_regression_losses_train(loss):
    p = project([*MLP, ("Linear", {"out_features": 1})], [1], "sine", {"samples": 200},
                loss=loss, epochs=2, quantile=0.9)
    r = Trainer(p, threads=1).run()
    assert r.status == "completed" and {"mse", "mae", "r2"} <= set(r.test)


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
@pytest.mark.parametrize("schedule", ["none", "step", "cosine", "onecycle", "plateau"])
def test_optimizers_and_schedules_run(optimizer, schedule):
    p = small_example("spirals_mlp", optimizer=optimizer, schedule=schedule, epochs=3,
                      nesterov=optimizer == "sgd", weight_decay=1e-4)
    events = []
    r = Trainer(p, threads=1, probe_every=0, callbacks=[events.append]).run()
    assert r.status == "completed"
    lrs = [e.lr for e in events if type(e).__name__ == "EpochEnd"]
    if schedule == "onecycle":
        assert lrs[0] != lrs[-1]
    if schedule == "cosine":
        assert lrs == sorted(lrs, reverse=True) and lrs[-1] < lrs[0]


def test_device_choice():
    assert pick_device("auto") == "cpu" or pick_device("auto") in ("cuda", "mps")
    assert pick_device("cpu") == "cpu"
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(TrainingConfigError, match="no CUDA GPU"):
            pick_device("cuda")
        p = small_example("spirals_mlp", mixed_precision=True, epochs=1)
        plan = Trainer(p).prepare()
        assert not plan.mixed_precision and "CUDA only" in plan.warnings[0]


def test_bad_epochs_override():
    with pytest.raises(TrainingConfigError, match="epochs must be between 1"):
        Trainer(small_example("spirals_mlp"), epochs=0)
    assert with_training(small_example("spirals_mlp"), epochs=2).training.epochs == 2
