"""Metrics on known numbers, and the history CSV."""
import csv

import numpy as np
import pytest

from netbuilder.training.history import HistoryWriter, row
from netbuilder.training.metrics import classification, regression


def test_classification_metrics():
    m = classification(np.array([0, 1, 1, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 0]), 3)
    assert m["confusion"] == [[1, 0, 1], [0, 1, 0], [0, 1, 2]]  # rows: true class
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx([1.0, 0.5, 2 / 3])
    assert m["recall"] == pytest.approx([0.5, 1.0, 2 / 3])


def test_regression_metrics():
    true = np.array([[1.0], [2.0], [3.0], [4.0]])
    m = regression(true + 0.5, true)
    assert m["mse"] == pytest.approx(0.25) and m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 1.0 / 5.0)
    assert regression(true, true)["r2"] == 1.0


def test_history_csv(tmp_path):
    w = HistoryWriter(tmp_path / "run", tensorboard=False)
    rows = [row(0, {"loss": 1.0, "accuracy": 0.5}, {"loss": 0.9, "accuracy": 0.6,
                                                    "confusion": [[1]]}, 0.01, 1.0, 100.0)]
    w.write(rows)
    rows.append(row(1, {"loss": 0.5, "accuracy": 0.8}, {"loss": 0.4, "accuracy": 0.9}, 0.01,
                    1.0, 100.0))
    w.write(rows)
    with open(tmp_path / "run" / "metrics.csv") as f:
        got = list(csv.DictReader(f))
    assert [r["epoch"] for r in got] == ["1", "2"] and got[1]["val_accuracy"] == "0.9"
    assert "val_confusion" not in got[0]
