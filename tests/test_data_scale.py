"""Data at scale: bad image files skipped and reported, a folder larger than the memory
budget streamed through worker processes (bounded memory, same batches as in memory), the
scan's cache and cancel, previews that read only what they show, and the CSV reader's
column roles and missing-value rules."""
import numpy as np
import pytest
import torch
from PIL import Image

from netbuilder.cli import main
from netbuilder.data import DataError, get, load
from netbuilder.data.imagefiles import scan
from netbuilder.data.preview import load_preview
from netbuilder.data.resources import Cancelled
from test_export_python import bare_python  # noqa: F401 (a venv without netbuilder)
from training_util import project


def images(root, per_class=12, size=10, classes=("cat", "dog")):
    rng = np.random.default_rng(1)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            a = rng.integers(0, 90, (size, size, 3)) + 140 * k
            Image.fromarray(a.astype(np.uint8)).save(root / name / f"{i:03d}.png")
    return root


def spoil(root, monkeypatch):
    """One truncated, one empty, one garbage and one oversized image (PIL's bomb limit is
    lowered so the test needs no 14k-pixel image)."""
    good = (root / "cat" / "000.png").read_bytes()
    (root / "cat" / "truncated.png").write_bytes(good[:40])
    (root / "cat" / "empty.png").write_bytes(b"")
    (root / "dog" / "notes.jpg").write_text("not a picture")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(root / "dog" / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    return root


def test_bad_images_are_skipped_and_reported(tmp_path, monkeypatch):
    root = spoil(images(tmp_path / "pets"), monkeypatch)
    d = load("image_folder", {"path": str(root), "size": 8}, seed=0)
    assert len(d.train) + len(d.val) + len(d.test) == 24  # the good ones
    (note,) = d.info.notes
    assert "skipped 4 unusable image file(s)" in note
    for name, why in (("cat/empty.png", "empty file"), ("cat/truncated.png", "cannot read"),
                      ("dog/notes.jpg", "cannot read"), ("dog/huge.png", "decompression")):
        assert name in note and why in note.split(name)[1][:60], (name, note)


def test_the_cli_reports_skipped_images_and_trains(tmp_path, monkeypatch, capsys):
    from netbuilder.api import save_project

    root = spoil(images(tmp_path / "pets"), monkeypatch)
    p = project(["Flatten", ("Linear", {"out_features": 2})], (3, 8, 8), "image_folder",
                {"path": str(root), "size": 8}, epochs=1, batch_size=8)
    save_project(p, tmp_path / "p.json")
    assert main(["train", str(tmp_path / "p.json"), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "skipped 4 unusable image file(s)" in err and "huge.png" in err


def test_nothing_usable_says_what_was_found(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"found 6 image file\(s\) in 2 class folders, but "
                                        r"none could be used. Skipped 6.*a/0.png \(cannot read it"):
        load("image_folder", {"path": str(tmp_path)})
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.txt").write_text("no image here")
    with pytest.raises(DataError, match=r"c: class folder has no images"):
        load("image_folder", {"path": str(tmp_path)})


def test_a_folder_larger_than_the_budget_streams_with_bounded_memory(tmp_path):
    """600 images of 3×16×16 are 450 KiB decoded; with a 0.1 MB budget nothing is kept:
    every epoch decodes again in worker processes, and the batches equal the in-memory
    ones (same files, order and normalization within the sampled statistics)."""
    root = images(tmp_path / "many", per_class=300, size=16)
    streamed = load("image_folder", {"path": str(root), "size": 16, "memory_mb": 0.1}, seed=0)
    assert type(streamed).__name__ == "StreamedImages"
    p = project(["Flatten", ("Linear", {"out_features": 2})], (3, 16, 16), "image_folder",
                {"path": str(root), "size": 16, "memory_mb": 0.1}, epochs=2, batch_size=32)
    from netbuilder.training.trainer import Trainer

    t = Trainer(p)
    r = t.run()
    assert r.status == "completed", r.message
    assert r.test["accuracy"] > 0.9  # the two classes differ in brightness
    store = t.data.store
    assert store.cache is None and store.cached_bytes == 0  # nothing kept: bounded memory
    assert t.data.store._loader is None  # the worker processes ended with the run
    # the same dataset object batches like the in-memory one (scan order, split, order)
    memory = load("image_folder", {"path": str(root), "size": 16}, seed=0)
    assert type(memory).__name__ == "PreparedData"  # within the budget: decoded up front
    order = torch.arange(len(memory.train)).flip(0)
    a = next(streamed.batches(streamed.train, order, 40))
    b = next(memory.batches(memory.train, order, 40))
    assert torch.equal(a[1], b[1]) and torch.allclose(a[0], b[0])
    for d in (streamed, memory):
        d.close()


def test_streamed_cache_fills_once_and_then_serves_from_memory(tmp_path, monkeypatch):
    import netbuilder.data.imagefolder as imagefolder

    monkeypatch.setattr(imagefolder, "EAGER_MAX_FILES", 100)  # 300 files count as many
    monkeypatch.setattr(imagefolder, "STATS_SAMPLE", 50)
    root = images(tmp_path / "many", per_class=150, size=8)
    d = load("image_folder", {"path": str(root), "size": 8, "memory_mb": 0, "val_fraction":
                              0.0, "test_fraction": 0.0}, seed=0)
    assert 0 < d.store.cached_bytes < 300 * 3 * 8 * 8  # the statistics' sample so far
    first = torch.cat([y for _, y in d.batches(d.train, None, 64)])
    assert d.store.cached_bytes == 300 * 3 * 8 * 8 and d.store.have.all()
    d.close()
    again = torch.cat([y for _, y in d.batches(d.train, None, 64)])  # no workers needed
    assert d.store._loader is None and torch.equal(first, again)


def test_the_scan_is_cached_until_a_folder_changes(tmp_path):
    root = images(tmp_path / "pets", per_class=4)
    first = scan(root)
    assert len(first) == 8 and first.classes == ["cat", "dog"]
    (root / "dog" / "000.png").unlink()
    assert len(scan(root)) == 7  # a changed folder is scanned again
    seen = []
    with pytest.raises(Cancelled):
        scan(images(tmp_path / "other", per_class=2), cancelled=lambda: True)
    scan(root, progress=lambda *a: seen.append(a))
    assert seen[-1] == (2, 2, 7)


def test_a_preview_reads_only_what_it_shows(tmp_path):
    """5,080 images: the preview scans them (names only) and decodes the 32 it shows."""
    root = images(tmp_path / "big", per_class=40, size=8)
    for cls in ("cat", "dog"):
        same = (root / cls / "000.png").read_bytes()
        for i in range(2500):
            (root / cls / f"z{i:05d}.png").write_bytes(same)
    opened = []
    import netbuilder.data.imagefolder as imagefolder

    real = imagefolder.decode
    imagefolder.decode = lambda *a: opened.append(a[0]) or real(*a)
    try:
        p = load_preview("image_folder", {"path": str(root), "size": 8})
    finally:
        imagefolder.decode = real
    assert p["counts"][0] + p["counts"][1] + p["counts"][2] == 5080
    assert len(opened) == len(p["x"]) == 32


def read_csv(options):
    """The CSV as read, before splitting (these tables are too small to split)."""
    spec = get("csv")
    return spec.load(spec.fill(options))


CSV = ("size,colour,city,rooms,price\n"
       "50,red,Oslo,2,100\n"
       "61,blue,Rome,,130\n"        # rooms missing
       "70,red,Oslo,3,150\n"
       "\n"                          # a blank line: skipped, not a row
       "80,green,Rome,four,170\n"  # rooms not a number
       "90,blue,Lima,4,190\n"
       "95,red,,5,\n")               # city and price missing


@pytest.mark.parametrize("rule, rows, colours, note", [
    ("drop", 3, 2, "dropped 3 of 6 rows with missing or non-numeric cells (option "
                   "missing=drop)"),
    ("fill", 5, 3, "filled 2 missing or non-numeric cells with their column's mean"),
])
def test_csv_missing_cells_follow_the_rule_and_are_counted(tmp_path, rule, rows, colours,
                                                           note):
    f = tmp_path / "houses.csv"
    f.write_text(CSV)
    d = read_csv({"path": str(f), "roles": "colour=onehot, city=ignore", "missing": rule,
                  "task": "regression"})
    assert len(d.y) == rows and any(note in n for n in d.info.notes), d.info.notes
    x = d.x
    assert d.info.input_shape == (2 + colours,)  # size, the colours one-hot, rooms
    assert x[:, 0].tolist() == ([50, 61, 70, 80, 90] if rule == "fill" else [50, 70, 90])
    assert x[:, 1:1 + colours].sum(1).tolist() == [1.0] * rows  # one colour each
    if rule == "fill":  # rooms: the mean of 2, 3, 4 where missing or "four"
        assert sorted(x[:, 4].tolist()) == [2.0, 3.0, 3.0, 3.0, 4.0]


def test_csv_refuses_naming_the_first_bad_cell_with_counts(tmp_path):
    f = tmp_path / "houses.csv"
    f.write_text(CSV)
    with pytest.raises(DataError, match=r"houses.csv, line 3, column 'rooms': is empty; .*"
                                        r"\(2 such cells in 2 rows\).*missing to drop or fill"):
        load("csv", {"path": str(f), "roles": "colour=onehot, city=ignore"})
    with pytest.raises(DataError, match=r"line 2, column 'colour': 'red' is not a number.*"
                                        r"colour=onehot"):
        load("csv", {"path": str(f), "roles": "city=ignore"})
    with pytest.raises(DataError, match=r"option roles names no column 'town'"):
        load("csv", {"path": str(f), "roles": "town=ignore"})
    with pytest.raises(DataError, match=r"'embed' for column 'city' is not a role"):
        load("csv", {"path": str(f), "roles": "city=embed"})


def test_csv_index_role_numbers_the_categories(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("city,y\n" + "".join(f"{c},{i % 2}\n" for i, c in
                                      enumerate(["Rome", "Oslo", "Lima"] * 4)))
    d = read_csv({"path": str(f), "roles": "city=index"})
    assert d.info.input_shape == (1,) and d.info.is_classification
    assert d.x[:3, 0].tolist() == [2.0, 1.0, 0.0]  # Rome, Oslo, Lima: in name order
    assert any("category index 0..2 (Lima, Oslo, Rome)" in n for n in d.info.notes)


# ---- the exported train.py reads the same data without netbuilder --------------------------

def _export_and_train(tmp_path, p, bare_python):
    from netbuilder.export import export_project
    from test_export_python import run

    export_project(p, "python", tmp_path / "src")
    out = run(bare_python, ["train.py", "--epochs", "2"], tmp_path / "src")
    assert out.returncode == 0, out.stderr[-2000:]
    weights = torch.load(tmp_path / "src" / "checkpoints" / "weights.pt", weights_only=True)
    return out, weights


def test_exported_train_py_trains_on_an_image_folder(tmp_path, bare_python):
    root = images(tmp_path / "pets", per_class=20, size=10)
    (root / "dog" / "broken.png").write_bytes(b"")
    p = project(["Flatten", ("Linear", {"out_features": 2})], (3, 8, 8), "image_folder",
                {"path": str(root), "size": 8}, epochs=2, batch_size=8)
    out, weights = _export_and_train(tmp_path, p, bare_python)
    # netbuilder's split of the 40 usable images: 15% test, 15% validation
    assert "28 training and 6 validation samples" in out.stdout
    assert "(6 test samples)" in out.stdout
    assert "skipped 1 unusable image file(s): dog/broken.png" in out.stderr
    assert "epoch 2/2" in out.stdout and "val_acc" in out.stdout
    assert weights["linear.weight"].shape == (2, 192)


def test_exported_train_py_trains_on_a_csv_with_roles(tmp_path, bare_python):
    f = tmp_path / "houses.csv"
    f.write_text(CSV.replace("\n\n", "\n") + "".join(
        f"{100 + i},{['red', 'blue'][i % 2]},Oslo,{i % 5},{200 + i}\n" for i in range(30)))
    p = project([("Linear", {"out_features": 1})], (5,), "csv",
                {"path": str(f), "roles": "colour=onehot, city=ignore", "missing": "fill"},
                epochs=2, batch_size=8, loss="mse")
    out, weights = _export_and_train(tmp_path, p, bare_python)
    # 36 rows, one without a price; netbuilder's split: 15% test, 15% validation
    assert "25 training and 5 validation samples" in out.stdout
    assert "(5 test samples)" in out.stdout
    assert "epoch 2/2" in out.stdout and "val_acc" not in out.stdout
    assert weights["linear.weight"].shape == (1, 5)


# ---- a streamed folder through stop/resume and pause–edit–resume --------------------------

def test_a_streamed_run_stopped_and_resumed_equals_an_uninterrupted_one(tmp_path):
    from netbuilder.training import Trainer
    from netbuilder.training.events import BatchEnd
    from test_training_carryover import paused_trainer
    from test_training_trainer import same, weights

    root = images(tmp_path / "many", per_class=150, size=8)
    opts = {"path": str(root), "size": 8, "memory_mb": 0.05, "augment": True}
    p = project(["Flatten", ("Linear", {"out_features": 8}), "ReLU",
                 ("Linear", {"out_features": 2})], (3, 8, 8), "image_folder", opts,
                epochs=2, batch_size=16)
    whole = Trainer(p, out_dir=tmp_path / "whole", tensorboard=False)
    assert whole.run().status == "completed"
    assert type(whole.data).__name__ == "StreamedImages" and whole.data.store.cache is None
    cut = Trainer(p, out_dir=tmp_path / "cut", tensorboard=False)
    cut.callbacks.append(lambda e: isinstance(e, BatchEnd) and e.epoch == 0 and e.batch == 4
                         and cut.stop())
    r = cut.run()
    assert r.status == "stopped"
    again = Trainer(p, out_dir=tmp_path / "cut", tensorboard=False)
    assert again.run(resume_from=r.checkpoint).status == "completed"
    assert same(weights(again), weights(whole))  # same batches, same augmentation

    # pause, edit the graph (a wider hidden layer), resume: the streamed data goes on
    trainer, th = paused_trainer(p)
    edited = project(["Flatten", ("Linear", {"out_features": 16}), "ReLU",
                      ("Linear", {"out_features": 2})], (3, 8, 8), "image_folder", opts,
                     epochs=2, batch_size=16)
    trainer.replace_project(edited)
    trainer.resume()
    th.join(120)
    assert not th.is_alive() and trainer.epoch == 2
    assert trainer.model.state_dict()["linear.weight"].shape == (16, 192)


def test_the_windows_training_process_streams_a_folder_twice(tmp_path):
    """The GUI trains in a child process (training/worker.py) whose listener thread runs
    beside the Trainer: its decoding workers start there, and end with each run."""
    from netbuilder.training.worker import Done, RunOptions, TrainingProcess
    from test_training_worker import until

    root = images(tmp_path / "many", per_class=150, size=8)
    p = project(["Flatten", ("Linear", {"out_features": 2})], (3, 8, 8), "image_folder",
                {"path": str(root), "size": 8, "memory_mb": 0.05}, epochs=1, batch_size=32)
    proc = TrainingProcess()
    try:
        for run in ("a", "b"):
            proc.start(RunOptions(p.to_json(), str(tmp_path / run)))
            events, done = until(proc, Done, timeout=120)
            assert done.result.status == "completed", done.result.message
            assert done.result.test["accuracy"] > 0.9
    finally:
        proc.close()
