"""The checkpoint contract: a folder of safetensors + JSON that loads without unpickling."""
import json

import pytest
import torch
from safetensors.torch import load_file

from netbuilder.api import compile, load_project
from netbuilder.training import CheckpointError, Trainer, load_weights
from netbuilder.training import checkpoint

from training_util import small_example

FILES = {"model.safetensors", "optimizer.safetensors", "state.json", "project.json"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    trainer = Trainer(small_example("residual_cnn", epochs=2, optimizer="adamw",
                                    schedule="plateau"), out_dir=out)
    trainer.run()
    return out, trainer


def test_last_and_best_folders_hold_the_contract(run):
    out, trainer = run
    for kind in ("last", "best"):
        folder = out / "checkpoints" / kind
        assert {f.name for f in folder.iterdir()} == FILES
        for f in FILES:
            assert (folder / f).read_bytes()[:1] != b"\x80"  # not a pickle
    state = json.loads((out / "checkpoints" / "last" / "state.json").read_text())
    assert state["format"] == "netbuilder-checkpoint" and state["epoch"] == 2
    assert state["scheduler"]["mode"] == "min" and len(state["history"]) == 2
    assert load_project(out / "checkpoints" / "last" / "project.json").to_json() == \
        trainer.project.to_json()
    tensors = load_file(str(out / "checkpoints" / "last" / "optimizer.safetensors"))
    assert "rng.torch_cpu" in tensors and any(k.endswith(".exp_avg") for k in tensors)


def test_load_weights_from_folder_or_file_fits_the_compiled_module(run):
    out, trainer = run
    folder = out / "checkpoints" / "last"
    a, b = load_weights(folder), load_weights(folder / "model.safetensors")
    expected = trainer.model.state_dict()
    assert a.keys() == b.keys() == expected.keys()
    assert all(torch.equal(a[k], expected[k]) for k in a)
    fresh = compile(trainer.project)
    fresh.load_state_dict(a)  # the compiled GraphModule takes them as they are
    fresh.eval(), trainer.model.eval()
    x = trainer.data.test.x[:8]
    assert torch.equal(fresh(x), trainer.model(x))


def test_bad_checkpoint_paths_are_explained(tmp_path, run):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_weights(tmp_path / "nope")
    (tmp_path / "model.pt").write_bytes(b"\x80\x04junk")
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_weights(tmp_path / "model.pt")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_weights(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="state.json: missing"):
        checkpoint.load(tmp_path)


def test_resuming_into_another_graph_is_refused(run, tmp_path):
    out, _ = run
    with pytest.raises(CheckpointError, match="belongs to another run .the graph differs"):
        Trainer(small_example("digits_cnn", epochs=3), out_dir=tmp_path).run(
            resume_from=out / "checkpoints" / "last")


def test_resume_with_more_epochs_continues_the_history(run, tmp_path):
    out, _ = run
    r = Trainer(small_example("residual_cnn", optimizer="adamw", schedule="plateau"),
                epochs=3, out_dir=tmp_path).run(resume_from=out / "checkpoints" / "last")
    assert r.status == "completed" and [h["epoch"] for h in r.history] == [1, 2, 3]
    assert (tmp_path / "metrics.csv").read_text().count("\n") == 4


def test_paced_checkpoints_write_less_and_keep_the_same_best(tmp_path):
    """checkpoint_every_s (the window's setting): "last" only when due and at the end; a
    better epoch in between is held in memory and written as the same "best"."""
    saved = {}

    def train(every, out):
        events = []
        Trainer(small_example("spirals_mlp", epochs=6), out_dir=out, checkpoint_every_s=every,
                callbacks=[lambda e: events.append(e) if type(e).__name__ == "CheckpointSaved"
                           else None]).run()
        saved[every] = [(e.kind, e.epoch) for e in events]

    train(0, tmp_path / "each")
    train(3600, tmp_path / "paced")
    assert [k for k, _ in saved[0]].count("last") == 6
    assert saved[3600] == [("last", 6)] + [b for b in saved[0] if b[0] == "best"][-1:]
    for kind in ("last", "best"):
        each = load_file(str(tmp_path / "each" / "checkpoints" / kind / "model.safetensors"))
        paced = load_file(str(tmp_path / "paced" / "checkpoints" / kind / "model.safetensors"))
        assert each.keys() == paced.keys()
        assert all(torch.equal(each[k], paced[k]) for k in each)
    a = json.loads((tmp_path / "each" / "checkpoints" / "best" / "state.json").read_text())
    b = json.loads((tmp_path / "paced" / "checkpoints" / "best" / "state.json").read_text())
    def losses(state):
        return [(r["train_loss"], r["val_loss"]) for r in state["history"]]
    assert a["epoch"] == b["epoch"] and losses(a) == losses(b)


def test_an_output_location_that_cannot_hold_checkpoints_is_refused_before_training(tmp_path):
    (tmp_path / "checkpoints").write_text("a file where the folder should be")
    events = []
    with pytest.raises(CheckpointError, match="checkpoints: is a file, not a folder"):
        Trainer(small_example("spirals_mlp", epochs=2), out_dir=tmp_path,
                callbacks=[events.append]).run()
    assert events == []  # found before the first epoch, not after it
    assert (tmp_path / "checkpoints").read_text() == "a file where the folder should be"
