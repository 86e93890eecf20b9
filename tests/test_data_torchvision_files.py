"""MNIST, FashionMNIST and CIFAR-10 read by netbuilder's own readers from torchvision's
folder layout (files generated here, 50 images each): pixels and labels round-trip exactly,
in memory and memory-mapped (over the memory budget) with the same batches, CIFAR's
python batches are read without unpickling (a hostile one is refused and runs nothing),
and damaged or missing files are explained, naming the file."""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from netbuilder.data import DataError, load
from netbuilder.data.preview import load_preview

N_TRAIN, N_TEST = 50, 20
TINY = 0.001  # MB: far below these sets, so they are memory-mapped
WHOLE = {"normalize": False, "val_fraction": 0.0}  # train split = the files, in order


def pixels(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def labels(n, seed):
    return np.random.default_rng(seed + 100).integers(0, 10, n).astype(np.uint8)


def write_idx(folder, gz=False):
    """torchvision's MNIST layout; returns {prefix: (images N×1×28×28, labels)}."""
    folder.mkdir(parents=True)
    made = {}
    for prefix, n, seed in (("train", N_TRAIN, 0), ("t10k", N_TEST, 1)):
        x, y = pixels(n, (28, 28), seed), labels(n, seed)
        for name, data in ((f"{prefix}-images-idx3-ubyte",
                            struct.pack(">IIII", 0x803, n, 28, 28) + x.tobytes()),
                           (f"{prefix}-labels-idx1-ubyte",
                            struct.pack(">II", 0x801, n) + y.tobytes())):
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
        made[prefix] = (x[:, None], y.astype(np.int64))
    return made


def cifar_batches():
    """5 training batches of 10 images and a test batch of N_TEST: (images, labels)."""
    out = [(pixels(10, (3, 32, 32), i), labels(10, i)) for i in range(5)]
    return out + [(pixels(N_TEST, (3, 32, 32), 9), labels(N_TEST, 9))]


def write_cifar_bin(root):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    batches = cifar_batches()
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name, (x, y) in zip(names, batches):
        records = np.concatenate([y[:, None], x.reshape(len(x), -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
    return batches


class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 wrote its str (SHORT_BINSTRING / BINSTRING), as in the
    official files, which Python 2 made: their pixels then lie in the file verbatim."""

    def save_bytes(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, bytes: save_bytes}


def write_cifar_py(root, key=str, protocol=2, pickler=pickle.Pickler):
    """As the official python batches are made: pickle.dump of a dict holding a uint8
    N×3072 array and a list of labels (keys as str, or as the bytes Python 3 reads)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = cifar_batches()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, (x, y) in zip(names, batches):
        k = (lambda s: s) if key is str else (lambda s: s.encode())
        d = {k("batch_label"): k(f"batch {name}"), k("labels"): [int(v) for v in y],
             k("data"): x.reshape(len(x), -1), k("filenames"): [k(f"{i}.png") for i in
                                                                range(len(x))]}
        with open(folder / name, "wb") as f:
            pickler(f, protocol=protocol).dump(d)
    return batches


def everything(d, split):
    """A split's (uint8 images, labels) as load gives them (normalize off)."""
    x, y = d.batch(split, torch.arange(len(split)))
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    return (x * 255).round().to(torch.uint8).numpy(), y.numpy()


def mapped(d) -> bool:
    store = getattr(d, "store", None)
    return store is not None and all(isinstance(p, np.memmap) for p in store.images.parts)


@pytest.mark.parametrize("name, folder, gz", [("mnist", "MNIST", False),
                                               ("fashion_mnist", "FashionMNIST", True)])
@pytest.mark.parametrize("memory_mb", [0.0, TINY])
def test_idx_files_round_trip(tmp_path, name, folder, gz, memory_mb):
    made = write_idx(tmp_path / folder / "raw", gz=gz)
    d = load(name, {"root": str(tmp_path), "memory_mb": memory_mb, **WHOLE}, seed=0)
    assert mapped(d) == (memory_mb == TINY)
    assert d.info.input_shape == (1, 28, 28) and d.info.num_classes == 10
    for split, prefix in ((d.train, "train"), (d.test, "t10k")):
        x, y = everything(d, split)
        assert x.shape == made[prefix][0].shape
        assert np.array_equal(x, made[prefix][0]) and np.array_equal(y, made[prefix][1])


@pytest.mark.parametrize("writer", ["bin", "py-str-2", "py-bytes-2", "py-bytes-4", "py2"])
@pytest.mark.parametrize("memory_mb", [0.0, TINY])
def test_cifar_round_trip(tmp_path, writer, memory_mb):
    if writer == "bin":
        batches = write_cifar_bin(tmp_path)
    elif writer == "py2":
        batches = write_cifar_py(tmp_path, bytes, 2, Python2Pickler)
        head = (tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes()[:400]
        assert b"_codecs" not in head and pickle.BINSTRING in head
    else:
        _, key, protocol = writer.split("-")
        batches = write_cifar_py(tmp_path, str if key == "str" else bytes, int(protocol))
    d = load("cifar10", {"root": str(tmp_path), "memory_mb": memory_mb, **WHOLE}, seed=0)
    assert mapped(d) == (memory_mb == TINY)
    x, y = everything(d, d.train)
    assert x.shape == (N_TRAIN, 3, 32, 32)
    assert np.array_equal(x, np.concatenate([b[0] for b in batches[:5]]))
    assert np.array_equal(y, np.concatenate([b[1] for b in batches[:5]]))
    x, y = everything(d, d.test)
    assert np.array_equal(x, batches[5][0]) and np.array_equal(y, batches[5][1])


def test_mapped_and_in_memory_give_the_same_batches(tmp_path):
    write_cifar_bin(tmp_path)
    opts = {"root": str(tmp_path), "val_fraction": 0.2}
    memory = load("cifar10", {**opts, "memory_mb": 0.0}, seed=3)
    streamed = load("cifar10", {**opts, "memory_mb": TINY}, seed=3)
    assert mapped(streamed) and not mapped(memory)
    np.testing.assert_allclose(streamed.mean, memory.mean, atol=1e-6)
    np.testing.assert_allclose(streamed.std, memory.std, atol=1e-6)
    order = torch.randperm(len(memory.train), generator=torch.Generator().manual_seed(0))
    for split in ("train", "val", "test"):
        a, b = getattr(memory, split), getattr(streamed, split)
        assert len(a) == len(b)
        got = list(streamed.batches(b, order if split == "train" else None, batch_size=16))
        want = list(memory.batches(a, order if split == "train" else None, batch_size=16))
        assert len(got) == len(want) > 0
        for (xs, ys), (xm, ym) in zip(got, want):
            assert torch.equal(ys, ym)
            torch.testing.assert_close(xs, xm, atol=1e-5, rtol=0)


def test_augmentation_still_applies_when_mapped(tmp_path):
    write_cifar_bin(tmp_path)
    opts = {"root": str(tmp_path), "memory_mb": TINY, "normalize": False}
    plain = load("cifar10", opts, seed=0)
    augmented = load("cifar10", {**opts, "augment": True}, seed=0)
    assert mapped(augmented) and augmented.augmenting and not plain.augmenting
    torch.manual_seed(0)
    x, _ = augmented.batch(augmented.train, torch.arange(16), train=True)
    x0, _ = plain.batch(plain.train, torch.arange(16), train=True)
    assert x.shape == x0.shape == (16, 3, 32, 32)
    assert not torch.equal(x, x0)  # random crops and flips moved pixels
    xv, _ = augmented.batch(augmented.val, torch.arange(4))  # evaluation is not augmented
    assert torch.equal(xv, plain.batch(plain.val, torch.arange(4))[0])


def test_preview_reads_a_few_images(tmp_path):
    batches = write_cifar_bin(tmp_path)
    p = load_preview("cifar10", {"root": str(tmp_path)})
    assert p["image"] and p["x"].shape == (32, 3, 32, 32) and p["x"].dtype == np.uint8
    d = load("cifar10", {"root": str(tmp_path)})
    assert p["counts"] == (len(d.train), len(d.val), len(d.test))
    train = np.concatenate([b[0] for b in batches[:5]])
    assert all(any(np.array_equal(img, t) for t in train) for img in p["x"])


class Hostile:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("where", ["data", "labels", "top"])
def test_a_hostile_cifar_pickle_is_refused_and_runs_nothing(tmp_path, where):
    write_cifar_py(tmp_path)
    marker = tmp_path / "marker"
    evil = Hostile(f"touch {marker}")
    target = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    x = pixels(10, (3072,), 0)
    value = evil if where == "top" else {"data": evil if where == "data" else x,
                                          "labels": evil if where == "labels" else [0] * 10}
    target.write_bytes(pickle.dumps(value, protocol=2))
    with pytest.raises(DataError) as e:
        load("cifar10", {"root": str(tmp_path)})
    assert str(target) in str(e.value) and "refused" in str(e.value)
    assert "os.system" in str(e.value) or "posix.system" in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("value, message", [
    ({"data": np.zeros((10, 3000), np.uint8), "labels": [0] * 10}, "shape"),
    ({"data": np.zeros((10, 3072), np.float32), "labels": [0] * 10}, "not uint8"),
    ({"data": np.zeros((10, 3072), np.uint8), "labels": [0] * 9}, "9 labels for 10"),
    ({"data": np.zeros((10, 3072), np.uint8), "labels": [12] * 10}, "labels outside"),
    ({"labels": [0] * 10}, "no 'data'"),
    ([1, 2, 3], "does not hold a dict"),
    # allowed names used otherwise than numpy uses them
    (b"\x80\x02}X\x04\x00\x00\x00datac_codecs\nencode\nX\x01\x00\x00\x00x"
     b"X\x05\x00\x00\x00rot13\x86Rs.", "_codecs.encode other than to write bytes"),
    (b"\x80\x02}X\x04\x00\x00\x00datacnumpy\nndarray\n)Rs.", "calls ndarray"),
    (b"\x80\x02}X\x04\x00\x00\x00data]\x85bs.", "sets the state of something"),
    (b"\x80\x02}X\x04\x00\x00\x00datac__main__\nHostile\n)\x81s.", "__main__.Hostile"),
])
def test_unexpected_cifar_pickles_are_refused(tmp_path, value, message):
    write_cifar_py(tmp_path)
    target = tmp_path / "cifar-10-batches-py" / "test_batch"
    target.write_bytes(value if isinstance(value, bytes) else pickle.dumps(value, protocol=2))
    with pytest.raises(DataError, match=message) as e:
        load("cifar10", {"root": str(tmp_path)})
    assert str(target) in str(e.value)


def test_truncated_pickle_is_damaged(tmp_path):
    write_cifar_py(tmp_path)
    target = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    target.write_bytes(target.read_bytes()[:5000])
    with pytest.raises(DataError, match="damaged CIFAR-10 batch") as e:
        load("cifar10", {"root": str(tmp_path)})
    assert str(target) in str(e.value)


def cut(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("spoil, message", [
    (lambda raw: cut(raw / "train-images-idx3-ubyte", 16 + 784 * 3 + 5), "truncated"),
    (lambda raw: cut(raw / "t10k-labels-idx1-ubyte", 6), "shorter than an idx header"),
    (lambda raw: (raw / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x801, 50, 28, 28) + bytes(50 * 784)), "magic number"),
    (lambda raw: (raw / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, 50, 32, 32) + bytes(50 * 1024)), "32×32 images"),
    (lambda raw: (raw / "train-labels-idx1-ubyte").write_bytes(
        struct.pack(">II", 0x801, 49) + bytes(49)), "not a pair"),
])
@pytest.mark.parametrize("memory_mb", [0.0, TINY])
def test_damaged_idx_files_are_explained(tmp_path, spoil, message, memory_mb):
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw)
    spoil(raw)
    with pytest.raises(DataError, match=message) as e:
        load("mnist", {"root": str(tmp_path), "memory_mb": memory_mb})
    assert str(raw) in str(e.value)


@pytest.mark.parametrize("memory_mb", [0.0, TINY])
def test_truncated_gzip_idx_is_explained(tmp_path, memory_mb):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw, gz=True)
    target = raw / "train-images-idx3-ubyte.gz"
    cut(target, len(target.read_bytes()) // 2)
    with pytest.raises(DataError, match="truncated or damaged") as e:
        load("fashion_mnist", {"root": str(tmp_path), "memory_mb": memory_mb})
    assert str(target) in str(e.value)


def test_truncated_cifar_bin_is_explained(tmp_path):
    write_cifar_bin(tmp_path)
    target = tmp_path / "cifar-10-batches-bin" / "data_batch_2.bin"
    cut(target, 3073 * 4 + 100)
    with pytest.raises(DataError, match="not a whole number of CIFAR-10 records") as e:
        load("cifar10", {"root": str(tmp_path)})
    assert str(target) in str(e.value)


def test_missing_files_say_where_and_what_to_do(tmp_path):
    with pytest.raises(DataError) as e:
        load("cifar10", {"root": str(tmp_path)})
    msg = str(e.value)
    assert f"CIFAR10 is not in {tmp_path}" in msg and "download=true" in msg
    assert str(tmp_path / "cifar-10-batches-bin") in msg and "data_batch_1.bin" in msg
    assert str(tmp_path / "cifar-10-batches-py") in msg
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw)
    (raw / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as e:
        load("mnist", {"root": str(tmp_path)})
    msg = str(e.value)
    assert f"looked in {raw}" in msg and "t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images" not in msg and "download=true" in msg


def test_a_mapped_set_trains(tmp_path):
    """The Trainer runs on the memory-mapped dataset object: dark zeros and bright ones
    (MNIST's layout, 200 + 40 images) are told apart."""
    from netbuilder.training.trainer import Trainer
    from training_util import project

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 40)):
        y = (np.arange(n) % 2).astype(np.uint8)
        x = (rng.integers(0, 60, (n, 28, 28)) + 150 * y[:, None, None]).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x803, n, 28, 28) + x.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, n) + y.tobytes())
    p = project(["Flatten", ("Linear", {"out_features": 10})], (1, 28, 28), "mnist",
                {"root": str(tmp_path), "memory_mb": TINY}, epochs=3, batch_size=32)
    t = Trainer(p)
    r = t.run()
    assert r.status == "completed", r.message
    assert mapped(t.data) and r.test["accuracy"] > 0.9
