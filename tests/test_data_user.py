"""The user's own data (image folder, CSV) and torchvision sets on a machine offline."""

import numpy as np
import pytest
import torch
from PIL import Image

from netbuilder.data import DataError, load


def make_image_folder(root, classes=("cat", "dog"), per_class=8, size=12):
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            a = rng.integers(0, 100, (size, size, 3), dtype=np.uint8) + 120 * k
            Image.fromarray(a.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def test_image_folder_loads_classes_and_resizes(tmp_path):
    root = make_image_folder(tmp_path / "pets")
    d = load("image_folder", {"path": str(root), "size": 8}, seed=0)
    assert d.info.class_names == ("cat", "dog") and d.info.input_shape == (3, 8, 8)
    assert len(d.train) + len(d.val) + len(d.test) == 16
    x, y = d.batch(d.train, torch.arange(len(d.train)))
    assert x.shape[1:] == (3, 8, 8) and set(y.tolist()) == {0, 1}
    grey = load("image_folder", {"path": str(root), "size": 8, "grayscale": True,
                                 "augment": True}, seed=0)
    assert grey.info.input_shape == (1, 8, 8)
    assert grey.batch(grey.train, torch.arange(4), train=True)[0].shape == (4, 1, 8, 8)


@pytest.mark.parametrize("setup, message", [
    (lambda root: root, "no such file or folder"),
    (lambda root: make_image_folder(root, classes=("only",)), "found 1 class folder"),
    (lambda root: (make_image_folder(root), (root / "empty").mkdir()), "empty: class folder "
                                                                       "has no images"),
])
def test_bad_image_folders_are_explained(tmp_path, setup, message):
    root = tmp_path / "imgs"
    setup(root)
    with pytest.raises(DataError, match=message):
        load("image_folder", {"path": str(root)})


def test_image_folder_needs_a_path():
    with pytest.raises(DataError, match="set the dataset option path"):
        load("image_folder")


CSV = "size,rooms,colour,price\n" + "".join(
    f"{50 + i},{1 + i % 4},{['red', 'blue'][i % 2]},{100 + 3 * i + (i % 4)}\n" for i in range(40))


def test_csv_with_a_chosen_target_column(tmp_path):
    f = tmp_path / "houses.csv"
    f.write_text("size,rooms,price,colour\n" + "".join(
        f"{50 + i},{1 + i % 4},{100 + 3 * i}.5,{['red', 'blue'][i % 2]}\n" for i in range(40)))
    d = load("csv", {"path": str(f), "target": "colour"}, seed=0)
    assert d.info.is_classification and d.info.class_names == ("blue", "red")
    assert d.info.input_shape == (3,)
    f.write_text("size,rooms,price\n" + "".join(
        f"{50 + i},{1 + i % 4},{100 + 3 * i}.5\n" for i in range(40)))
    r = load("csv", {"path": str(f), "target": "price", "normalize": False}, seed=0)
    assert not r.info.is_classification and r.info.input_shape == (2,) and \
        r.info.target_width == 1
    assert float(r.train.y.min()) >= 100.5


@pytest.mark.parametrize("content, options, message", [
    (CSV, {"target": "cost"}, r"no column 'cost' \(columns: size, rooms, colour, price\)"),
    (CSV, {"target": "price"}, r"line 2, column 'colour': 'red' is not a number"),
    ("a,b\n1,2\n3\n4,5\n", {}, "line 3, column .b.: the target cell is empty"),
    ("a,b\n1,2\n3,4,5\n4,5\n", {}, "line 3: has 3 fields, the header has 2"),
    ("a,b\n1,x\n2,y\n3,z\n", {"target": "b", "task": "regression"}, "'x' is not a number"),
    ("a\n1\n2\n", {}, "the target 'a' is the only column"),
])
def test_bad_csv_is_explained(tmp_path, content, options, message):
    f = tmp_path / "data.csv"
    f.write_text(content)
    with pytest.raises(DataError, match=message):
        load("csv", {"path": str(f), **options})


def test_mnist_offline_says_what_to_do(tmp_path):
    with pytest.raises(DataError) as e:
        load("mnist", {"root": str(tmp_path)})
    msg = str(e.value)
    assert f"MNIST is not in {tmp_path}" in msg and "download=true" in msg


def test_cifar_download_offline_fails_with_a_message(tmp_path):
    try:
        load("fashion_mnist", {"root": str(tmp_path), "download": True})
    except DataError as e:
        assert "offline" in str(e) or "failed" in str(e) or "not in" in str(e)
    else:
        pytest.skip("this machine is online: the download worked")


def test_mnist_from_a_local_folder(tmp_path):
    """torchvision's file layout, written by hand: netbuilder reads it without a download."""
    import gzip
    import struct

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        imgs = rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + imgs.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.tobytes())
    d = load("mnist", {"root": str(tmp_path)}, seed=0)
    assert len(d.test) == 10 and len(d.train) + len(d.val) == 30
    x, y = d.batch(d.train, torch.arange(4))
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert gzip  # (torchvision also accepts the .gz files)
