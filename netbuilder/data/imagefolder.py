"""The image_folder dataset: scan, then decode up front (small sets) or stream.

A set whose decoded bytes fit the memory budget and that has at most EAGER_MAX_FILES files
is decoded once, in parallel, and prepared like any in-memory dataset (epochs are then
tensor indexing, ~20x faster than decoding again). A larger set is streamed
(streaming.py): decoded in worker processes, and kept in memory as it arrives when it fits
the budget, so only the first epoch decodes. Unreadable, empty and oversized files are
skipped and reported (DataInfo.notes, and `skipped` for files found while streaming).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .imagefiles import BadImage, FolderIndex, Skipped, decode, scan
from .registry import CLASS, CLASSIFICATION, DataError, DataInfo, RawData
from .resources import memory_budget

EAGER_MAX_FILES = 1024  # decoding more up front would delay the first batch (~0.25 ms each)
STATS_SAMPLE = 512  # training images the streamed normalization statistics come from
PREVIEW_IMAGES = 32


def _root(o) -> Path:
    if not o["path"]:
        raise DataError("set the dataset option path to the folder or file to read")
    p = Path(os.path.expanduser(o["path"]))
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    return p


def _scan(o, progress=None, cancelled=None) -> FolderIndex:
    root = _root(o)
    tell = None
    if progress is not None:
        def tell(done, total, files):
            progress(f"scanning {root}: {files:,} image files in {done}/{total} class "
                     f"folders", done / max(1, total))
    return scan(root, tell, cancelled)


def _mode(o) -> tuple[str, int, int]:
    return ("L", 1, o["size"]) if o["grayscale"] else ("RGB", 3, o["size"])


def _info(index: FolderIndex, o, skipped: Skipped) -> DataInfo:
    _, channels, size = _mode(o)
    notes = (skipped.report(index.root),) if len(skipped) else ()
    return DataInfo((channels, size, size), "float32", CLASSIFICATION, CLASS,
                    len(index.classes), tuple(index.classes), notes=notes)


def _nothing_usable(index: FolderIndex, skipped: Skipped) -> DataError:
    return DataError(f"{index.root}: found {len(index) + len(index.skipped):,} image file(s) "
                     f"in {len(index.classes)} class folders, but none could be used. "
                     f"{skipped.report()}")


def _flip_crop(size):
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(size, padding=max(1, size // 8)),
                       v2.RandomHorizontalFlip()])


def _numbers(o, key: str, channels: int) -> tuple[float, ...] | None:
    text = o[key].strip()
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != channels or (key == "std" and min(values) <= 0):
        raise DataError(f"dataset option {key} {text!r}: give {channels} comma-separated "
                        f"number(s), one per channel{' (all above 0)' if key == 'std' else ''}"
                        f", e.g. 0.485,0.456,0.406")
    return values


def _fixed_norm(o, channels: int):
    """Fixed per-channel (mean, std) from the options, or None (computed from the data)."""
    mean, std = _numbers(o, "mean", channels), _numbers(o, "std", channels)
    if (mean is None) != (std is None):
        raise DataError("dataset options mean and std go together: set both or neither")
    return (mean, std) if mean is not None else None


def quick_info(o) -> DataInfo:
    index = _scan(o)
    return _info(index, o, index.skipped)


def raw(o, progress=None) -> RawData:
    """Every image decoded (in parallel), bad files left out and reported."""
    from .streaming import ImageStore

    index = _scan(o, progress)
    mode, _, size = _mode(o)
    store = ImageStore(index, mode, size, cache=True, resize=o["resize"])
    tell = None
    if progress is not None:
        def tell(done, total):
            progress(f"decoding {done:,}/{total:,} images of {index.root}", done / total)
    store.decode_all(tell)
    skipped = Skipped(index.skipped.items + store.skipped.items)
    keep = store.have
    if not keep.any():
        raise _nothing_usable(index, skipped)
    return RawData(store.cache[keep], index.labels[keep], _info(index, o, skipped),
                   image=True, augment=lambda: _flip_crop(size),
                   norm=_fixed_norm(o, _mode(o)[1]))


def prepared(name: str, o, seed: int, progress=None):
    from .prepare import check_raw, prepare

    _, channels, size = _mode(o)
    index = _scan(o, progress)
    fits = len(index) * channels * size * size <= memory_budget(o["memory_mb"])
    if fits and len(index) <= EAGER_MAX_FILES:
        data = raw(o, progress)
        check_raw(name, data)
        return prepare(name, data, o, seed)
    return _streamed(name, index, o, seed, fits, progress)


def _streamed(name, index: FolderIndex, o, seed, cache: bool, progress):
    import torch

    from .prepare import Split, split_indices
    from .streaming import ImageStore, StreamedImages, channel_stats

    mode, channels, size = _mode(o)
    store = ImageStore(index, mode, size, cache, resize=o["resize"])
    parts = split_indices(index.labels, o["val_fraction"], o["test_fraction"], seed, False, True)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(parts[0], min(STATS_SAMPLE, len(parts[0])), replace=False))
    if progress is not None:
        progress(f"reading {len(sample):,} of {len(index):,} images for the normalization "
                 f"statistics", None)
    count, mean, std = channel_stats(
        (x for x, _ in store.fetch([sample[i:i + 64] for i in range(0, len(sample), 64)])),
        channels)
    if not count:
        raise _nothing_usable(index, Skipped(index.skipped.items + store.skipped.items))
    if not o["normalize"]:
        mean = std = None
    else:
        fixed = _fixed_norm(o, channels)  # e.g. pretrained weights' own statistics
        if fixed is not None:
            mean, std = (np.asarray(v, np.float32).reshape(channels, 1, 1) for v in fixed)
    splits = [Split(torch.from_numpy(ids), torch.from_numpy(index.labels[ids])) for ids in parts]
    augment = _flip_crop(size) if o["augment"] else None
    skipped = Skipped(index.skipped.items + store.skipped.items)
    data = StreamedImages(name, _info(index, o, skipped), *splits, mean=mean, std=std,
                          _scale=1 / 255, _augment=augment, _raw_train=augment is not None)
    data.store, data.labels = store, index.labels
    return data


def preview(o, progress=None, cancelled=None) -> dict:
    """What the Data panel shows: the scan's counts and PREVIEW_IMAGES decoded images."""
    index = _scan(o, progress, cancelled)
    mode, _, size = _mode(o)
    n = len(index)
    rng = np.random.default_rng(0)
    xs, ys, bad = [], [], Skipped(list(index.skipped.items))
    for i in rng.permutation(n)[:PREVIEW_IMAGES * 2]:  # a few spares for bad files
        if len(xs) == PREVIEW_IMAGES:
            break
        try:
            xs.append(decode(index.root / index.files[i], mode, size, o["resize"]))
            ys.append(index.labels[i])
        except BadImage as e:
            bad.add(index.files[i], str(e))
    if not xs:
        raise _nothing_usable(index, bad)
    n_test, n_val = int(round(n * o["test_fraction"])), int(round(n * o["val_fraction"]))
    return {"info": _info(index, o, bad), "image": True, "ordered": False,
            "counts": (n - n_val - n_test, n_val, n_test), "augmentable": True,
            "x": np.stack(xs), "y": np.asarray(ys, np.int64)}
