"""Resume checks what it resumes: another project's checkpoint, another optimizer, a damaged
state.json and a newer version are refused with a message; the resume hint carries every
setting; a run with nothing left to do says so."""
import dataclasses
import json
import shutil

import pytest

from netbuilder.api import DatasetChoice, save_project
from netbuilder.cli import main
from netbuilder.training import CheckpointError, Trainer
from training_util import small_example, with_training


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    Trainer(small_example("spirals_mlp", epochs=2), out_dir=out).run()
    return out / "checkpoints" / "last"


def _resume(project, last, tmp_path, **kw):
    return Trainer(project, out_dir=tmp_path, **kw).run(resume_from=last)


def test_another_projects_checkpoint_is_refused_naming_the_difference(run, tmp_path):
    other_data = dataclasses.replace(small_example("spirals_mlp"),
                                     dataset=DatasetChoice(name="moons", options={}))
    with pytest.raises(CheckpointError, match="belongs to another run .the checkpoint was "
                                              "trained on dataset 'spirals', this project "
                                              "uses 'moons'.*start a new run"):
        _resume(other_data, run, tmp_path)
    noisier = dataclasses.replace(small_example("spirals_mlp"), dataset=DatasetChoice(
        name="spirals", options={"noise": 0.5}))
    with pytest.raises(CheckpointError, match="the dataset option noise is 0.5 here but "):
        _resume(noisier, run, tmp_path)
    with pytest.raises(CheckpointError, match="the seed is 7 here but 0"):
        _resume(small_example("spirals_mlp", seed=7), run, tmp_path)
    wider = small_example("spirals_mlp")
    hidden = next(n for n in wider.graph.nodes.values() if n.type == "Linear")
    wider.graph.set_param(hidden.id, "out_features", 48)
    with pytest.raises(CheckpointError, match=f"the graph differs: node '{hidden.name}' "
                                              f"\\(Linear\\) has out_features=48 here but "
                                              f"out_features=32"):
        _resume(wider, run, tmp_path)


def test_hyperparameters_may_change_on_resume(run, tmp_path):
    r = _resume(small_example("spirals_mlp", lr=0.001), run, tmp_path, epochs=3)
    assert r.status == "completed" and [h["epoch"] for h in r.history] == [1, 2, 3]


def test_an_optimizer_change_is_refused_clearly(run, tmp_path):
    with pytest.raises(CheckpointError, match="the optimizer is 'sgd' here but 'adam' in the "
                                              "checkpoint.*Set them back to resume, or start "
                                              "a new run"):
        _resume(small_example("spirals_mlp", optimizer="sgd"), run, tmp_path)


def _damaged(run, tmp_path, change):
    copy = tmp_path / "ckpt"
    shutil.copytree(run, copy)
    doc = json.loads((copy / "state.json").read_text())
    change(doc)
    (copy / "state.json").write_text(json.dumps(doc))
    return copy


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("optimizer"), "has no 'optimizer' entry; the checkpoint is damaged"),
    (lambda d: d.pop("epoch"), "has no 'epoch' entry"),
    (lambda d: d.update(epoch="3"), "'epoch' must be a whole number, not str"),
    (lambda d: d.update(history={}), "'history' must be a list, not dict"),
    (lambda d: d["optimizer"].pop("param_groups"), "'optimizer' must hold 'param_groups'"),
    (lambda d: d.update(version=99), "checkpoint version 99 is newer than this netbuilder "
                                     "reads"),
])
def test_a_damaged_state_json_gets_a_message_not_a_key_error(run, tmp_path, change,
                                                             message):
    ck = _damaged(run, tmp_path, change)
    with pytest.raises(CheckpointError, match=message):
        _resume(small_example("spirals_mlp"), ck, tmp_path / "out")


def test_a_version_1_checkpoint_still_resumes(run, tmp_path):
    def old(doc):
        doc["version"] = 1
        doc.pop("fingerprint")
        doc.pop("epochs")

    r = _resume(small_example("spirals_mlp"), _damaged(run, tmp_path, old), tmp_path / "o",
                epochs=3)
    assert r.status == "completed" and len(r.history) == 3


def test_the_resume_hint_carries_every_setting_and_is_followed(tmp_path, capsys):
    project = tmp_path / "p.json"
    save_project(small_example("spirals_mlp", epochs=2), project)
    out = tmp_path / "out"
    # a second run, stopped by Ctrl-C at its first save: the hint must carry --epochs 4
    import os

    os.environ["NETBUILDER_FAULT"] = "checkpoint:1=sigint"
    try:
        from netbuilder.training import checkpoint_slots

        checkpoint_slots._COUNT[0] = 0
        assert main(["train", str(project), "--epochs", "4", "--device", "cpu", "--out",
                     str(out)]) == 130
    finally:
        del os.environ["NETBUILDER_FAULT"]
    err = capsys.readouterr().err
    hint = next(line for line in err.splitlines() if line.startswith("resume with: "))
    last = out / "checkpoints" / "last"
    assert hint == (f"resume with: netbuilder train {project} --out {out} --epochs 4 "
                    f"--device cpu --resume {last}")
    argv = hint.removeprefix("resume with: netbuilder ").split()
    assert main(argv) == 0
    assert json.loads((last / "state.json").read_text())["epoch"] == 4
    capsys.readouterr()
    assert main(argv) == 0  # again: everything is trained already
    err = capsys.readouterr().err
    assert f"nothing left to train: {last} has already trained all 4 epoch(s)" in err
    assert "--epochs 8" in err
