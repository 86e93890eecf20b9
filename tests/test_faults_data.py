"""The user's data and the environment: bad CSV target cells by line and column, the
classification/regression guess with its reason (and the option that overrides it), and
environment errors named as such, not as bugs. (Decompression bombs and other bad images:
test_data_scale.py.)"""
import errno

import pytest

from netbuilder.cli import environment_error, main
from netbuilder.data import DataError, load


def _csv(tmp_path, rows, header="a,b,y"):
    f = tmp_path / "d.csv"
    f.write_text(header + "\n" + "\n".join(rows) + "\n")
    return f


def _rows(targets):
    return [f"{i},{i % 3},{t}" for i, t in enumerate(targets)]


def test_an_empty_target_cell_is_named_by_line_and_column(tmp_path):
    f = _csv(tmp_path, _rows(["a", "b"] * 10 + [""] + ["a"]))
    with pytest.raises(DataError, match=r"d\.csv, line 22, column 'y': the target cell is "
                                        r"empty"):
        load("csv", {"path": str(f)})


def test_one_nan_in_a_float_target_is_named_not_taken_as_sixty_classes(tmp_path):
    values = [f"{0.37 * i:.3f}" for i in range(60)]
    values[41] = "nan"
    f = _csv(tmp_path, _rows(values))
    with pytest.raises(DataError, match=r"line 43, column 'y': 'nan' is not a number, but "
                                        r"the other values of this column are"):
        load("csv", {"path": str(f)})
    with pytest.raises(DataError, match=r"line 43, column 'y': 'nan' is not a number, so "
                                        r"it cannot be a regression target"):
        load("csv", {"path": str(f), "task": "regression"})
    d = load("csv", {"path": str(f), "task": "classification"})  # the override still works
    assert d.info.num_classes == 60


@pytest.mark.parametrize("targets, task, reason", [
    (["0", "1", "2"] * 8, "classification", "its values are 3 distinct whole numbers"),
    ([f"{0.1 * i:.2f}" for i in range(24)], "regression", "its values are numbers with 24 "
                                                        "distinct values"),
    (["cat", "dog"] * 12, "classification", "its values are names such as 'cat', 'dog'"),
])
def test_the_guess_is_explained_and_can_be_overridden(tmp_path, targets, task, reason):
    f = _csv(tmp_path, _rows(targets))
    info = load("csv", {"path": str(f)}).info
    assert info.task == task
    (note,) = info.notes
    assert f"the target column 'y' is taken as {task}: {reason}" in note
    assert "set the dataset option task to" in note
    if task == "classification" and targets[0] == "0":
        assert load("csv", {"path": str(f), "task": "regression"}).info.task == "regression"


def test_the_train_command_prints_the_guess(tmp_path, capsys):
    from netbuilder.api import DatasetChoice, save_project
    from training_util import project

    f = _csv(tmp_path, _rows(["0", "1"] * 15))
    p = project([("Linear", {"out_features": 2})], (2,), "csv", {"path": str(f)}, epochs=1)
    save_project(p, tmp_path / "p.json")
    assert main(["train", str(tmp_path / "p.json"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "taken as classification: its values are 2 distinct whole " \
                               "numbers" in err


@pytest.mark.parametrize("error, words", [
    (PermissionError(errno.EACCES, "Permission denied", "/data/x.json"),
     "/data/x.json: permission denied"),
    (OSError(errno.ENOSPC, "No space left on device", "/data/x.json"), "no space left on"),
    (FileNotFoundError(errno.ENOENT, "No such file", "/data/x.json"),
     "/data/x.json: no such file or folder"),
    (MemoryError(), "not enough memory"),
])
def test_environment_errors_read_as_such(error, words):
    assert words in environment_error(error) and "report" not in environment_error(error)


def test_a_cli_environment_error_is_not_called_a_bug(tmp_path, monkeypatch, capsys):
    from fault_util import FailAt

    src = tmp_path / "src"
    src.mkdir()
    (src / "tiny_model_for_faults.py").write_text(
        "import torch.nn as nn\n"
        "class Net(nn.Sequential):\n"
        "    def __init__(self):\n"
        "        super().__init__(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n")
    monkeypatch.syspath_prepend(str(src))
    out = tmp_path / "out"
    out.mkdir()
    FailAt(monkeypatch, 1, errno.EACCES)
    assert main(["import", "tiny_model_for_faults:Net", "-o", str(out / "r.json"),
                 "--input-shape", "4"]) == 1
    err = capsys.readouterr().err
    assert f"{out / 'r.safetensors'}: permission denied" in err, err  # the first write
    assert "please report" not in err and "unexpectedly" not in err
    assert list(out.iterdir()) == []
