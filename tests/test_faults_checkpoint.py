"""Checkpoints survive a kill at every step of a save, a second Ctrl-C inside it, a full
disk and a folder without permission: afterwards a loadable `last` exists, nothing partial
is left in view, and the message names the path."""
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from fault_util import (ERRORS, FailAt, checkpoint_files, count_writes, hidden_leftovers,
                        versions_in, write_slot_in_child)
from netbuilder.training import CheckpointError, Trainer
from netbuilder.training import checkpoint as ckpt
from netbuilder.training import checkpoint_slots as slots
from training_util import small_example

STEPS = 8  # fault points in one save: mkdir, 4 files, linked, switched, cleaned


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    root = tmp_path_factory.mktemp("payloads")
    for epoch in (1, 2):
        d = root / f"epoch{epoch}"
        d.mkdir()
        for name, data in checkpoint_files(epoch).items():
            (d / name).write_bytes(data)
    return root


def _epoch(slot) -> int:
    return ckpt.load(slot).state["epoch"]


@pytest.mark.parametrize("k", range(1, STEPS + 2))
def test_a_kill_at_any_step_of_a_save_leaves_a_loadable_last(tmp_path, payloads, k):
    slot = tmp_path / "checkpoints" / "last"
    slots.write_slot(slot, {p.name: p.read_bytes() for p in (payloads / "epoch1").iterdir()})
    rc = write_slot_in_child(slot, payloads / "epoch2", f"checkpoint:{k}=kill")
    assert rc == (137 if k <= STEPS else 0)
    # at once, before any repair: `last` is a complete checkpoint, the old or the new
    assert _epoch(slot) == (2 if k >= 7 else 1)
    notes = slots.recover(slot.parent)  # what the next run does first
    assert notes == []  # the slot was never lost: nothing to announce
    assert _epoch(slot) == (2 if k >= 7 else 1)
    assert versions_in(slot.parent) == {"last": [os.readlink(slot)]}
    assert hidden_leftovers(tmp_path) == []


@pytest.mark.parametrize("k", range(1, STEPS + 3))
def test_a_kill_while_replacing_an_old_style_folder_loses_nothing(tmp_path, payloads, k):
    """netbuilder <= 0.1 wrote `last` as a real folder; the first new save converts it."""
    slot = tmp_path / "last"
    shutil.copytree(payloads / "epoch1", slot)
    rc = write_slot_in_child(slot, payloads / "epoch2", f"checkpoint:{k}=kill")
    assert rc == (137 if k <= STEPS + 1 else 0)
    assert _epoch(slot) in (1, 2)  # readers fall back to the newest complete version
    slots.recover(tmp_path)
    if k >= 7:  # the old folder was renamed aside: the new version is the checkpoint
        assert slot.is_symlink() and _epoch(slot) == 2
        assert len(versions_in(tmp_path)["last"]) == 1
    else:  # killed before the switch: the old folder is the checkpoint, as it was
        assert not slot.is_symlink() and _epoch(slot) == 1 and versions_in(tmp_path) == {}
    assert hidden_leftovers(tmp_path) == []


def test_without_symlinks_a_kill_between_the_renames_is_recovered(tmp_path, payloads,
                                                                 monkeypatch):
    slot = tmp_path / "last"

    def no_symlinks(*a, **k):
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    slots.write_slot(slot, {p.name: p.read_bytes() for p in (payloads / "epoch1").iterdir()})
    assert slot.is_dir() and not slot.is_symlink() and _epoch(slot) == 1
    real_rename = os.rename

    def killed_after_first_rename(src, dst):  # the kill: the second rename never happens
        real_rename(src, dst)
        if str(src) == str(slot):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", killed_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        slots.write_slot(slot, {p.name: p.read_bytes()
                                for p in (payloads / "epoch2").iterdir()})
    monkeypatch.setattr(os, "rename", real_rename)
    assert not slot.exists() and _epoch(slot) == 1  # readers fall back to the old copy
    assert slots.recover(tmp_path) == [f"recovered the checkpoint {slot} from an "
                                       f"interrupted save"]
    assert slot.is_dir() and _epoch(slot) == 1 and hidden_leftovers(tmp_path) == []


def test_leftovers_of_old_versions_are_recovered_and_a_hidden_user_file_comes_back(
        tmp_path, payloads):
    # what netbuilder <= 0.1 left after a kill between its two renames
    shutil.copytree(payloads / "epoch1", tmp_path / ".last.old-4242")
    shutil.copytree(payloads / "epoch2", tmp_path / ".last.tmp-4242")
    (tmp_path / ".last.tmp-4243").mkdir()  # an interrupted write: incomplete
    (tmp_path / ".best.old-4242").write_text("the user's own notes")  # a file it hid
    shutil.copytree(payloads / "epoch1", tmp_path / "best")
    notes = slots.recover(tmp_path)
    assert _epoch(tmp_path / "last") == 2  # the newer complete copy
    assert (tmp_path / "best.recovered-1").read_text() == "the user's own notes"
    assert any("best.recovered-1" in n for n in notes)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert _epoch(tmp_path / "best") == 1


def test_a_users_file_at_the_checkpoint_path_is_never_moved(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    mine = tmp_path / "checkpoints" / "last"
    mine.write_text("mine")
    with pytest.raises(CheckpointError, match="last: a file netbuilder did not write"):
        Trainer(small_example("spirals_mlp", epochs=1), out_dir=tmp_path).run()
    assert mine.read_text() == "mine" and sorted(os.listdir(mine.parent)) == ["last"]


@pytest.mark.parametrize("error", sorted(ERRORS))
def test_a_failing_write_at_each_step_of_training_is_reported_with_the_path(
        tmp_path, monkeypatch, error):
    code, words = ERRORS[error]
    project = small_example("spirals_mlp", epochs=2)
    with monkeypatch.context() as m:
        counter = count_writes(m)
        assert Trainer(project, out_dir=tmp_path / "count").run().status == "completed"
    writes = counter.calls  # metrics.csv and 4 files per checkpoint, each epoch
    assert writes >= 10
    for k in range(1, writes + 1):
        out = tmp_path / f"run{k}"
        with monkeypatch.context() as m:
            fail = FailAt(m, k, code)
            result = Trainer(project, out_dir=out).run()
        assert fail.fired and result.status == "failed", k
        assert words in result.message and str(out) in result.message, result.message
        assert "please report" not in result.message
        assert hidden_leftovers(out) == [], k
        last = out / "checkpoints" / "last"
        if last.exists():
            ckpt.load(last)  # whatever is there is complete
        if k > 9:  # the first epoch's checkpoints were written before the failure
            assert _epoch(last) == (1 if k <= 14 else 2)


def test_the_output_location_is_checked_before_training(tmp_path, monkeypatch):
    events = []
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match=r"/file: is a file, not a folder, so .*/file/run/checkpoints cannot be made"):
        Trainer(small_example("spirals_mlp"), out_dir=tmp_path / "file" / "run",
                callbacks=[events.append]).run()

    class Usage:
        free = 1000

    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage)
    with pytest.raises(CheckpointError, match=r"no space left on .*: [\d.]+ KiB needed for "
                                              r"the checkpoints, 1000 bytes free"):
        Trainer(small_example("spirals_mlp"), out_dir=tmp_path / "run",
                callbacks=[events.append]).run()
    assert events == []


def _train(tmp_path, fault, *extra):
    env = dict(os.environ, NETBUILDER_FAULT=fault)
    return subprocess.run([sys.executable, "-m", "netbuilder", "train", "spirals_mlp",
                           "--epochs", "3", "--out", str(tmp_path), *extra],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("second", [5, 12])  # inside the same save / inside the next one
def test_a_second_ctrl_c_inside_a_save_waits_for_the_checkpoint(tmp_path, second):
    # Ctrl-C at step 3 of the first save (stop), then again at step `second`
    r = _train(tmp_path, f"checkpoint:3=sigint,checkpoint:{second}=sigint")
    assert r.returncode == 130, r.stderr
    last = tmp_path / "checkpoints" / "last"
    assert "finishing the checkpoint being written, then aborting" in r.stderr
    assert f"aborted; the last checkpoint is {last}" in r.stderr
    assert "Traceback" not in r.stderr and "Exception" not in r.stderr
    assert _epoch(last) == 1 and hidden_leftovers(tmp_path) == []
    if second > STEPS:  # the abort came inside "best": it was finished first
        assert ckpt.load(tmp_path / "checkpoints" / "best").state["epoch"] == 1


def test_a_training_run_killed_inside_a_save_resumes_from_last(tmp_path):
    r = _train(tmp_path, "checkpoint:12=kill")  # inside the first "best" save
    assert r.returncode == 137
    last = tmp_path / "checkpoints" / "last"
    assert _epoch(last) == 1
    r = subprocess.run([sys.executable, "-m", "netbuilder", "train", "spirals_mlp",
                        "--epochs", "2", "--out", str(tmp_path), "--resume", str(last)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _epoch(last) == 2 and hidden_leftovers(tmp_path) == []
    history = json.loads((last / "state.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2]
