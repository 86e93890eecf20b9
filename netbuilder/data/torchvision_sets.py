"""MNIST, FashionMNIST and CIFAR-10 from torchvision's folder layout, read by netbuilder.

The files are read by array_files (idx files; CIFAR-10's binary batches, or its python
batches walked opcode by opcode without unpickling), never by torchvision's dataset classes,
which unpickle CIFAR's files: a project's root option could point at a folder shipped with
it. A set that fits the memory budget (option memory_mb, as for image folders) is read into
memory; a larger one is memory-mapped and its batches read as they are asked for
(streaming.StreamedImages over an ArrayStore), in the same deterministic order.

Nothing is downloaded unless the user sets the option download=true (torchvision's download
helpers fetch the archives; reading stays ours); when the files are missing the message says
where netbuilder looked and what to do.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.registry import BOOL, STR, Param
from . import array_files as af
from .registry import CLASS, CLASSIFICATION, DataError, DataInfo, DatasetSpec, RawData, register
from .resources import MEMORY, memory_budget

DEFAULT_ROOT = os.path.join("~", ".cache", "netbuilder", "datasets")

ROOT = Param("root", STR, DEFAULT_ROOT, "folder holding the downloaded files")
DOWNLOAD = Param("download", BOOL, False, "download the files when missing (needs internet)")

FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")
CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
         "truck")
CIFAR_BIN, CIFAR_PY = "cifar-10-batches-bin", "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
PREVIEW_IMAGES = 32
STATS_BATCH = 256  # images per step of the streamed normalization statistics (small steps:
# the allocator keeps the high-water mark of larger float temporaries as resident memory)


def _info(shape, classes):
    return lambda o: DataInfo(shape, "float32", CLASSIFICATION, CLASS, len(classes),
                              tuple(classes))


# ---- where the files are ------------------------------------------------------------------

class Missing(Exception):
    """The files are not there; the message says which, and where."""


def _idx_files(root: Path, cls_name: str):
    """((train images, train labels), (test images, test labels)) in ROOT/NAME/raw, the
    uncompressed file where both are there; raises Missing."""
    folder = root / cls_name / "raw"
    found, missing = [], []
    for prefix in ("train", "t10k"):
        pair = []
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{prefix}-{kind}-ubyte"
            path = next((p for p in (folder / name, folder / f"{name}.gz") if p.is_file()),
                        None)
            pair.append(path)
            if path is None:
                missing.append(f"{name}[.gz]")
        found.append(tuple(pair))
    if missing:
        raise Missing(f"looked in {folder} for {', '.join(missing)}")
    return tuple(found)


def _cifar_files(root: Path):
    """("bin" or "py", [train batch files], [test batch file]); raises Missing."""
    for kind, folder, suffix in (("bin", root / CIFAR_BIN, ".bin"), ("py", root / CIFAR_PY, "")):
        files = [folder / f"{n}{suffix}" for n in CIFAR_TRAIN + ("test_batch",)]
        if all(f.is_file() for f in files):
            return kind, files[:-1], files[-1:]
    shown = []
    for folder, suffix in ((root / CIFAR_BIN, ".bin"), (root / CIFAR_PY, "")):
        names = [f"{n}{suffix}" for n in CIFAR_TRAIN + ("test_batch",)]
        absent = [n for n in names if not (folder / n).is_file()]
        shown.append(f"{folder} (missing {', '.join(absent)})")
    raise Missing(f"looked for the binary or the python version in {' and '.join(shown)}")


def _locate(cls_name: str, root: Path):
    return _cifar_files(root) if cls_name == "CIFAR10" else _idx_files(root, cls_name)


def _download(cls_name: str, root: Path) -> None:
    """Fetch the official archives with torchvision's helpers (checked by their md5 sums);
    only fetching and unpacking, never reading. Not testable offline."""
    import torchvision.datasets as tvd
    from torchvision.datasets.utils import download_and_extract_archive

    if cls_name == "CIFAR10":
        c = tvd.CIFAR10
        download_and_extract_archive(c.url, str(root), filename=c.filename, md5=c.tgz_md5)
        return
    cls = getattr(tvd, cls_name)
    for filename, md5 in cls.resources:
        for i, mirror in enumerate(cls.mirrors):
            try:
                download_and_extract_archive(f"{mirror}{filename}", str(root / cls_name / "raw"),
                                             filename=filename, md5=md5)
                break
            except OSError:
                if i == len(cls.mirrors) - 1:
                    raise


def _files(cls_name: str, o, allow_download: bool = True):
    root = Path(os.path.expanduser(o["root"]))
    try:
        return _locate(cls_name, root)
    except Missing as first:
        if not (o["download"] and allow_download):
            raise DataError(
                f"{cls_name} is not in {root}: {first}. Set the dataset option download=true "
                f"to fetch it (needs internet; about {'170' if cls_name == 'CIFAR10' else '30'}"
                f" MB), or copy torchvision's {cls_name} files into that folder, or point the "
                f"option root at a folder that has them.") from None
    try:
        _download(cls_name, root)
    except RuntimeError as e:  # torchvision: a download whose md5 sum does not match
        raise DataError(f"downloading {cls_name} into {root} failed: {e}") from None
    except OSError as e:  # URLError, socket errors, permission problems
        raise DataError(f"downloading {cls_name} into {root} failed ({e}); this computer "
                        f"may be offline. Copy the files there by hand, or train on an "
                        f"offline dataset such as digits.") from None
    try:
        return _locate(cls_name, root)
    except Missing as e:
        raise DataError(f"{cls_name}: the download into {root} did not leave the files "
                        f"netbuilder reads: {e}") from None


# ---- reading ------------------------------------------------------------------------------

def _stored_bytes(cls_name: str, files) -> int:
    """The pixels' size, from headers and file sizes (nothing else is read)."""
    if cls_name != "CIFAR10":
        return sum(af.idx_count(images) * 28 * 28 for images, _ in files)
    kind, train, test = files
    if kind == "bin":
        return sum(af.cifar_bin_count(f) * af.safe_pickle.PIXELS for f in train + test)
    return sum(f.stat().st_size for f in train + test)  # a little above the pixels


def _read(cls_name: str, files, lazy: bool):
    """((StackedImages, int64 labels) of the training files, the same of the test files)."""
    if cls_name != "CIFAR10":
        groups = [[af.read_idx(images, labels, lazy)] for images, labels in files]
    else:
        kind, train, test = files
        reader = af.read_cifar_bin if kind == "bin" else af.read_cifar_pickle
        groups = [[reader(f, lazy) for f in paths] for paths in (train, test)]
    return tuple((af.StackedImages([x for x, _ in g]), np.concatenate([y for _, y in g]))
                 for g in groups)


def _raw(cls_name, shape, classes, augment, o, files=None) -> RawData:
    """Everything in memory (the set fits the budget, or a caller wants RawData)."""
    files = files if files is not None else _files(cls_name, o)
    (x, y), (tx, ty) = _read(cls_name, files, lazy=False)
    return RawData(x.whole(), y, _info(shape, classes)(o), image=True, test=(tx.whole(), ty),
                   augment=augment)


def _prepared(cls_name, shape, classes, augment, name, o, seed, progress=None):
    from .prepare import check_raw, prepare

    files = _files(cls_name, o)
    if _stored_bytes(cls_name, files) <= memory_budget(o["memory_mb"]):
        data = _raw(cls_name, shape, classes, augment, o, files)
        check_raw(name, data)
        return prepare(name, data, o, seed)
    return _streamed(cls_name, shape, classes, augment, name, o, seed, files, progress)


def _streamed(cls_name, shape, classes, augment, name, o, seed, files, progress):
    """Memory-mapped: the splits hold image numbers (training files first, then the
    test files), and batches are read from the maps as the Trainer asks for them."""
    import torch

    from .prepare import Split, split_indices
    from .streaming import ArrayStore, StreamedImages, channel_stats

    (x, y), (tx, ty) = _read(cls_name, files, lazy=True)
    train, val, _ = split_indices(y, o["val_fraction"], 0.0, seed, False, True)
    test = np.arange(len(y), len(y) + len(ty))
    store = ArrayStore(af.StackedImages(x.parts + tx.parts))
    mean = std = None
    if o["normalize"]:  # over every training image, as in memory, a step at a time
        if progress is not None:
            progress(f"reading {len(train):,} {cls_name} images for the normalization "
                     f"statistics", None)
        steps = [train[i:i + STATS_BATCH] for i in range(0, len(train), STATS_BATCH)]
        _, mean, std = channel_stats((b for b, _ in store.fetch(steps)), shape[0])
    labels = np.concatenate([y, ty])
    splits = [Split(torch.from_numpy(ids), torch.from_numpy(labels[ids]))
              for ids in (train, val, test)]
    transform = augment() if o["augment"] else None
    data = StreamedImages(name, _info(shape, classes)(o), *splits, mean=mean, std=std,
                          _scale=1 / 255, _augment=transform, _raw_train=transform is not None)
    data.store, data.labels = store, labels
    return data


def _preview(cls_name, shape, classes, o, progress=None, cancelled=None) -> dict:
    """The Data panel's preview: PREVIEW_IMAGES training images read from the maps."""
    (x, y), (_, ty) = _read(cls_name, _files(cls_name, o, allow_download=False), lazy=True)
    n = len(y)
    idx = np.sort(np.random.default_rng(0).choice(n, min(PREVIEW_IMAGES, n), replace=False))
    n_val = int(round(n * o["val_fraction"]))
    return {"info": _info(shape, classes)(o), "image": True, "ordered": False,
            "counts": (n - n_val, n_val, len(ty)), "augmentable": True,
            "x": x.take(idx), "y": y[idx]}


def _shift():
    from torchvision.transforms import v2

    return v2.RandomAffine(degrees=10, translate=(0.1, 0.1))


def _flip_crop():
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])


def _spec(name, cls_name, shape, classes, augment, doc) -> DatasetSpec:
    def load(o):
        return _raw(cls_name, shape, classes, augment, o)

    def prepared(name_, o, seed, progress=None):
        return _prepared(cls_name, shape, classes, augment, name_, o, seed, progress)

    def preview(o, progress=None, cancelled=None):
        return _preview(cls_name, shape, classes, o, progress, cancelled)

    return DatasetSpec(name, "Images (torchvision)", doc, CLASSIFICATION, load,
                       (ROOT, DOWNLOAD, MEMORY), info=_info(shape, classes), offline=False,
                       prepared=prepared, preview=preview)


for _args in (
        ("mnist", "MNIST", (1, 28, 28), tuple(str(i) for i in range(10)), _shift,
         "70,000 handwritten digits, 1×28×28 (the official 10,000 form the test split)."),
        ("fashion_mnist", "FashionMNIST", (1, 28, 28), FASHION, _shift,
         "70,000 pictures of clothing, 1×28×28, 10 classes."),
        ("cifar10", "CIFAR10", (3, 32, 32), CIFAR, _flip_crop,
         "60,000 colour photos, 3×32×32, 10 classes.")):
    register(_spec(*_args))
