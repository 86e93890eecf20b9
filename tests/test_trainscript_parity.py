"""The exported train.py prepares the user's data exactly as netbuilder's own loaders do:
the same samples in the same train / validation / test split, and the same tensors
(resize and centre crop, fixed or computed normalization, grayscale, augmentation of
training images; CSV column roles and each missing-cell rule), generates netbuilder's
built-in datasets and splits, normalizes and augments them as netbuilder does, and it
still runs where netbuilder is not installed."""
import importlib.util
import sys
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from netbuilder.data import DataError, load
from netbuilder.export import export_project
from netbuilder.importers.pretrained import preprocessing
from test_export_python import bare_python, run  # noqa: F401 (a venv without netbuilder)
from training_util import project


def image_folder(root, per_class=(9, 8, 7)):
    """Random images of several sizes and shapes in 3 class folders, each with a
    sub-folder, so order, resize and crop all matter: RGB and grey PNGs, and large JPEGs
    (which netbuilder decodes at a reduced scale); and one unreadable file."""
    rng = np.random.default_rng(3)
    for k, n in enumerate(per_class):
        folder = root / f"class{k}"
        for sub in ("a", "b"):
            (folder / sub).mkdir(parents=True)
        for i in range(n):
            big = i % 4 == 1
            h, w = rng.integers(50, 90, 2) if big else rng.integers(14, 40, 2)
            a = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
            a[..., k] //= 2  # a little colour per class
            where = folder / ["a", "b", "."][i % 3]
            im = Image.fromarray(a).convert("L") if i % 4 == 2 else Image.fromarray(a)
            im.save(where / f"{i:02d}.{'jpg' if big else 'png'}")
    (root / "class1" / "broken.png").write_bytes(b"not a picture")
    return root


def pretrained_options(root):
    """The dataset options a pretrained import sets, from torchvision's own evaluation
    transform (ImageNet mean/std), shrunk to 16 px crops of 20 px resizes."""
    from torchvision.transforms._presets import ImageClassification

    entry = SimpleNamespace(transforms=partial(ImageClassification, crop_size=16,
                                               resize_size=20))
    return {"path": str(root), **preprocessing(entry)}


def exported_train_py(tmp_path, p, monkeypatch):
    """train.py exported for project `p`, imported as a module (its model.py beside it)."""
    export_project(p, "python", tmp_path / "src")
    monkeypatch.setattr(sys, "path", list(sys.path))  # train.py adds its folder
    monkeypatch.delitem(sys.modules, "model", raising=False)
    spec = importlib.util.spec_from_file_location(f"train_{tmp_path.name}",
                                                  tmp_path / "src" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules.pop("model", None)  # another test's model.py is another module
    return module


def stacked(dataset):
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(xs), torch.stack(ys)


def assert_same_splits(script_sets, data, batch=None):
    """train.py's (train, val, test) equal netbuilder's splits, sample for sample."""
    for dataset, split in zip(script_sets, (data.train, data.val, data.test)):
        x, y = stacked(dataset)
        want_x, want_y = (split.x, split.y) if batch is None else batch(split)
        assert torch.equal(y, want_y)
        assert x.shape == want_x.shape and x.dtype == want_x.dtype == torch.float32
        assert torch.allclose(x, want_x, rtol=1e-6, atol=1e-6), (x - want_x).abs().max()


def net(shape, classes):
    return ["Flatten", ("Linear", {"out_features": classes})], shape


def test_image_folder_with_pretrained_preprocessing(tmp_path, monkeypatch):
    opts = pretrained_options(image_folder(tmp_path / "pets"))
    assert opts == {"path": str(tmp_path / "pets"), "size": 16, "resize": 20,
                    "mean": "0.485,0.456,0.406", "std": "0.229,0.224,0.225"}
    p = project(*net((3, 16, 16), 3), "image_folder", opts, seed=5)
    train_py = exported_train_py(tmp_path, p, monkeypatch)
    *sets, classification = train_py.make_datasets()
    data = load("image_folder", opts, seed=5)
    assert classification and [len(s) for s in sets] == [16, 4, 4]  # 24 usable images
    assert data.mean.ravel().tolist() == pytest.approx([0.485, 0.456, 0.406])
    assert_same_splits(sets, data)


@pytest.mark.parametrize("normalize", [True, False])
def test_image_folder_grayscale_computed_statistics_and_other_fractions(tmp_path,
                                                                         monkeypatch,
                                                                         normalize):
    opts = {"path": str(image_folder(tmp_path / "pets", (12, 10, 9))), "size": 12,
            "grayscale": True, "val_fraction": 0.25, "test_fraction": 0.1,
            "normalize": normalize}
    p = project(*net((1, 12, 12), 3), "image_folder", opts, seed=11)
    *sets, _ = exported_train_py(tmp_path, p, monkeypatch).make_datasets()
    data = load("image_folder", opts, seed=11)
    assert [len(s) for s in sets] == [20, 8, 3]
    assert (data.mean.shape == (1, 1, 1)) if normalize else data.mean is None
    assert_same_splits(sets, data)


def test_streamed_image_folder_split_and_sampled_statistics(tmp_path, monkeypatch):
    """Above memory_mb netbuilder streams the folder: it splits every file found (the
    unreadable one drops out of its part) and normalizes with a sample's statistics."""
    opts = {"path": str(image_folder(tmp_path / "pets")), "size": 8, "memory_mb": 0.001}
    p = project(*net((3, 8, 8), 3), "image_folder", opts)
    train_py = exported_train_py(tmp_path, p, monkeypatch)
    monkeypatch.setattr(train_py, "STATS_SAMPLE", 6)  # netbuilder's, made small below
    monkeypatch.setattr("netbuilder.data.imagefolder.STATS_SAMPLE", 6)
    *sets, _ = train_py.make_datasets()
    data = load("image_folder", opts, seed=0)
    try:
        assert type(data).__name__ == "StreamedImages"
        assert sum(len(s) for s in sets) == 24 and len(data.train) + len(data.val) + \
            len(data.test) == 25  # netbuilder counts the bad file until it is read
        assert_same_splits(sets, data, batch=lambda split: data.batch(split, slice(None)))
    finally:
        data.close()


def test_augmented_training_images_are_flipped_shifted_copies(tmp_path, monkeypatch):
    opts = {"path": str(image_folder(tmp_path / "pets")), "size": 8, "augment": True}
    p = project(*net((3, 8, 8), 3), "image_folder", opts)
    train, val, test, _ = exported_train_py(tmp_path, p, monkeypatch).make_datasets()
    data = load("image_folder", opts, seed=0)
    assert data.augmenting
    assert_same_splits((val, test), SimpleNamespace(train=data.val, val=data.test, test=None))
    mean, std = (torch.from_numpy(v) for v in (data.mean, data.std))
    torch.manual_seed(0)
    seen = set()
    for i in range(len(train)):  # netbuilder's augmentation: 1-pixel padded crop, flip
        base = data.train.x[i]  # unnormalized: netbuilder augments it per batch
        got = train[i][0] * std + mean
        padded = torch.nn.functional.pad(base, (1, 1, 1, 1))
        crops = {(top, left, flip): padded[:, top:top + 8, left:left + 8].flip(-1) if flip
                 else padded[:, top:top + 8, left:left + 8]
                 for top in range(3) for left in range(3) for flip in (0, 1)}
        match = [k for k, c in crops.items() if torch.allclose(got, c, atol=1e-5)]
        assert len(match) == 1, i
        seen.add(match[0])
    assert len(seen) > 6 and {k[2] for k in seen} == {0, 1}  # shifts and flips


CSV_HEAD = "id,colour,city,area,rooms,kind,price\n"


def table(path, rows=40):
    """id (ignored), colour (one-hot) and city (index) categories, two numeric columns,
    a class target and a price; missing and non-numeric cells here and there."""
    rng = np.random.default_rng(2)
    lines = []
    for i in range(rows):
        colour = ["red", "blue", "green"][i % 3]
        city = ["Oslo", "Lima", "9", "10"][i % 4]  # 9 before 10
        area = f"{rng.uniform(20, 200):.3f}"
        rooms = str(int(rng.integers(1, 6)))
        kind = ["flat", "house"][int(float(area) > 90)]
        price = f"{float(area) * 3 + rng.normal(0, 5):.2f}"
        lines.append([str(1000 + i), colour, city, area, rooms, kind, price])
    lines[3][1] = ""  # a missing category
    lines[5][3] = "n/a"  # a number that is not one
    lines[8][4] = " "  # an empty numeric cell
    lines[11][5] = lines[11][6] = ""  # no target
    lines[14][6] = "?"  # a price that is not a number
    path.write_text(CSV_HEAD + "".join(",".join(r) + "\n" for r in lines) + "\n")
    return path


@pytest.mark.parametrize("missing", ["drop", "fill"])
@pytest.mark.parametrize("target", ["kind", "price"])
def test_csv_roles_and_missing_cells(tmp_path, monkeypatch, missing, target):
    f = table(tmp_path / "homes.csv")
    other = "price" if target == "kind" else "kind"
    opts = {"path": str(f), "target": target, "missing": missing,
            "roles": f"id=ignore, colour=onehot, city=index, {other}=ignore",
            "task": "classification" if target == "kind" else "regression"}
    width = 3 + 1 + 2 + (missing == "fill")  # one-hot colours (+ "(missing)"), city, numbers
    p = project([("Linear", {"out_features": 2 if target == "kind" else 1})], (width,),
                "csv", opts, seed=3, loss="cross_entropy" if target == "kind" else "mse")
    *sets, classification = exported_train_py(tmp_path, p, monkeypatch).make_datasets()
    data = load("csv", opts, seed=3)
    assert classification == (target == "kind") and sets[0].tensors[0].shape[1] == width
    kept = 40 - 1 - (target == "price") - (3 if missing == "drop" else 0)
    assert sum(len(s) for s in sets) == kept
    assert_same_splits(sets, data)


def test_csv_refuse_rule(tmp_path, monkeypatch):
    """refuse: on a complete file both give the same data; at a missing cell both stop."""
    f = table(tmp_path / "homes.csv")
    with_gaps = f.read_text()
    rows = with_gaps.splitlines()
    f.write_text("\n".join(r for i, r in enumerate(rows) if i not in (4, 6, 9, 12)))
    opts = {"path": str(f), "target": "kind", "roles": "id=ignore, colour=onehot, "
            "city=index, price=ignore"}
    p = project([("Linear", {"out_features": 2})], (6,), "csv", opts)
    train_py = exported_train_py(tmp_path, p, monkeypatch)
    *sets, _ = train_py.make_datasets()
    assert sum(len(s) for s in sets) == 36
    assert_same_splits(sets, load("csv", opts))
    f.write_text(with_gaps)
    with pytest.raises(DataError, match="line 5, column 'colour': is empty"):
        load("csv", opts)
    with pytest.raises(SystemExit, match="data row 4, column 'colour': a missing or "
                                         "non-numeric cell"):
        train_py.make_datasets()


def test_csv_column_of_mostly_text_needs_a_role(tmp_path, monkeypatch):
    opts = {"path": str(table(tmp_path / "homes.csv")), "target": "kind", "missing": "fill",
            "roles": "id=ignore, city=index, price=ignore"}  # colour: no role
    p = project([("Linear", {"out_features": 2})], (4,), "csv", opts)
    with pytest.raises(DataError, match="column 'colour': most values are not numbers"):
        load("csv", opts)
    with pytest.raises(SystemExit, match="column 'colour': most values are not numbers"):
        exported_train_py(tmp_path, p, monkeypatch).make_datasets()


def test_exported_train_py_runs_without_netbuilder_on_pretrained_options(tmp_path,
                                                                         bare_python):
    opts = pretrained_options(image_folder(tmp_path / "pets"))
    p = project(*net((3, 16, 16), 3), "image_folder", {**opts, "augment": True},
                epochs=1, batch_size=8)
    export_project(p, "python", tmp_path / "src")
    text = (tmp_path / "src" / "train.py").read_text()
    assert "'resize': 20" in text and "'mean': '0.485,0.456,0.406'" in text
    out = run(bare_python, ["train.py"], tmp_path / "src")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "16 training and 4 validation samples" in out.stdout
    assert "epoch 1/1" in out.stdout and "(4 test samples)" in out.stdout
    assert "skipped 1 unusable image file(s): class1/broken.png" in out.stderr
    weights = torch.load(tmp_path / "src" / "checkpoints" / "weights.pt", weights_only=True)
    assert weights["linear.weight"].shape == (3, 768)


# ---- the built-in datasets: generated, split and normalized as netbuilder does ------------

BUILTIN_CASES = [  # (dataset, options, input shape, loss, seed)
    ("digits", {"digits": "5-9"}, (1, 8, 8), "cross_entropy", 4),
    ("digits", {"val_fraction": 0.2, "test_fraction": 0.1}, (1, 8, 8), "mse", 0),  # one-hot
    ("spirals", {"samples": 301, "noise": 0.2}, (2,), "cross_entropy", 9),
    ("moons", {"samples": 120, "normalize": False}, (2,), "cross_entropy", 2),
    ("circles", {"samples": 90}, (2,), "cross_entropy", 1),
    ("xor", {"samples": 80}, (2,), "cross_entropy", 3),
    ("blobs", {"samples": 90, "features": 3, "classes": 4}, (3,), "cross_entropy", 5),
    ("iris", {}, (4,), "cross_entropy", 6),
    ("wine", {"test_fraction": 0.0}, (13,), "cross_entropy", 0),
    ("square", {"samples": 100, "noise": 0.1}, (1,), "mse", 7),
    ("sine", {"samples": 100}, (1,), "mse", 8),
    ("sine_series", {"samples": 150, "window": 12, "val_fraction": 0.2}, (12, 1), "mse", 5),
    ("tiny_reviews", {"max_len": 10, "vocab_size": 64}, (10,), "cross_entropy", 2),
]


@pytest.mark.parametrize("name, opts, shape, loss, seed", BUILTIN_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in BUILTIN_CASES])
def test_builtin_dataset_splits_match_netbuilder(tmp_path, monkeypatch, name, opts, shape,
                                                 loss, seed):
    """Same samples in the same seeded train / validation / test split, standardized with
    the training split's statistics, and the same targets (class ids, one-hot rows for a
    regression loss, float values)."""
    width = 1 if loss == "mse" and name in ("square", "sine", "sine_series") else 64
    layers = ["Flatten", ("Linear", {"out_features": width})]
    if name == "tiny_reviews":
        layers = [("Embedding", {"num_embeddings": 64, "embedding_dim": 4}), *layers]
    p = project(layers, shape, name, opts, dtype="int64" if name == "tiny_reviews" else None,
                seed=seed, loss=loss)
    *sets, classification = exported_train_py(tmp_path, p, monkeypatch).make_datasets()
    data = load(name, opts, seed=seed)
    assert classification == data.info.is_classification
    assert [len(s) for s in sets] == [len(data.train), len(data.val), len(data.test)]
    for dataset, split in zip(sets, (data.train, data.val, data.test)):
        x, y = dataset.tensors
        want_y = split.y
        if classification and loss == "mse":
            want_y = torch.nn.functional.one_hot(split.y, data.info.num_classes).float()
        assert torch.equal(y, want_y) and y.dtype == want_y.dtype
        assert x.shape == split.x.shape and x.dtype == split.x.dtype
        assert torch.allclose(x.double(), split.x.double(), rtol=1e-6, atol=1e-6), \
            (x.double() - split.x.double()).abs().max()
    assert (data.mean is None) == (opts.get("normalize") is False or name == "tiny_reviews")


@pytest.mark.parametrize("name, opts, shape, width", [
    ("digits", {"augment": True}, (1, 8, 8), 10),
    ("sine_series", {"samples": 200, "window": 8}, (8, 1), 1)])
def test_builtin_train_py_without_netbuilder_reports_netbuilders_split(
        tmp_path, bare_python, name, opts, shape, width):
    p = project(["Flatten", ("Linear", {"out_features": width})], shape, name, opts,
                epochs=1, batch_size=64, loss="mse" if width == 1 else "cross_entropy")
    export_project(p, "python", tmp_path / "src")
    out = run(bare_python, ["train.py"], tmp_path / "src")
    assert out.returncode == 0, out.stderr[-2000:]
    data = load(name, opts, seed=0)
    assert f"{len(data.train)} training and {len(data.val)} validation samples" in out.stdout
    assert f"({len(data.test)} test samples)" in out.stdout
    assert ("test_acc" in out.stdout) == (name == "digits")


def test_augmented_digits_are_netbuilders_random_shifts(tmp_path, monkeypatch):
    """augment on: validation and test as netbuilder's; each training image is changed by
    netbuilder's own transform (same random draw), then normalized."""
    opts = {"augment": True}
    p = project(*net((1, 8, 8), 10), "digits", opts, seed=1)
    train, val, test, _ = exported_train_py(tmp_path, p, monkeypatch).make_datasets()
    data = load("digits", opts, seed=1)
    assert data.augmenting
    assert_same_splits((val, test), SimpleNamespace(train=data.val, val=data.test, test=None))
    changed = 0
    for i in range(0, len(train), 97):
        torch.manual_seed(i)
        got_x, got_y = train[i]
        torch.manual_seed(i)
        want_x, want_y = data.batch(data.train, torch.tensor([i]), train=True)
        assert got_y == want_y[0]
        assert torch.allclose(got_x, want_x[0], rtol=1e-6, atol=1e-6)
        changed += not torch.allclose(got_x, data._normalize(data.train.x[i]))
    assert changed >= 5  # really augmented
