"""The issue's accuracy claims, checked by training the shipped examples with the settings
stored in their project files (CPU, the project's seed). No time limits here: a busy
machine must not fail them (speed is measured by `make bench`)."""
import numpy as np
import pytest

from netbuilder.api import example
from netbuilder.training import Trainer

def train(name):
    trainer = Trainer(example(name), device="cpu")
    result = trainer.run()
    assert result.status == "completed", result.message
    return trainer, result.test


def test_digits_cnn_reaches_98_percent_within_20_epochs():
    trainer, test = train("digits_cnn")
    assert trainer.settings.epochs <= 20
    assert test["accuracy"] >= 0.98


def test_spirals_mlp_reaches_95_percent():
    _, test = train("spirals_mlp")
    assert test["accuracy"] >= 0.95


def test_square_regression_mse_below_1e_3():
    _, test = train("square_regression")
    assert test["mse"] < 1e-3


def test_sine_lstm_beats_the_last_value_forecast():
    trainer, test = train("sine_lstm")
    data = trainer.data
    last = data.test.x[:, -1, 0].numpy() * data.std.ravel()[0] + data.mean.ravel()[0]
    naive = float(np.mean((last - data.test.y[:, 0].numpy()) ** 2))
    assert test["mse"] < 0.5 * naive


def test_text_classifier_beats_the_majority_class():
    trainer, test = train("text_gru")
    majority = np.bincount(trainer.data.test.y.numpy()).max() / len(trainer.data.test)
    assert test["accuracy"] >= majority + 0.3


@pytest.mark.parametrize("name", ["digits_mlp", "residual_cnn", "textbook_mlp"])
def test_other_examples_learn(name):
    trainer, test = train(name)
    assert test["accuracy"] >= 0.9
