"""Turn a dataset choice into train / validation / test tensors ready for batching.

Splits are seeded (stratified for classes, in time order for series); normalization uses
the training split's statistics only, so nothing leaks from validation or test. Data stays
in memory as tensors and is batched by indexing, which on small data is several times
faster than a DataLoader with per-sample collation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .registry import DataError, DataInfo, RawData, get

KEEP_UINT8_ABOVE = 20_000_000  # elements: bigger image sets stay uint8, scaled per batch


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class PreparedData:
    name: str
    info: DataInfo
    train: Split
    val: Split
    test: Split
    mean: np.ndarray | None  # the normalization applied (None: not normalized)
    std: np.ndarray | None
    _scale: float = 1.0  # uint8 stored data is multiplied by this first
    _augment: object = None  # a torchvision.transforms.v2 transform, training only
    _raw_train: bool = False  # train.x is not yet normalized (it is augmented per batch)

    def batch(self, split: Split, idx: torch.Tensor | slice, train: bool = False):
        """(inputs, targets) for the samples `idx` of `split`, normalized (and augmented
        for training batches when augmentation is on)."""
        x, y = split.x[idx], split.y[idx]
        if x.dtype == torch.uint8:
            x = x.float().mul_(self._scale)
            if not (train and self._raw_train):
                x = self._normalize(x)
        if train and self._raw_train:
            if self._augment is not None:
                x = torch.stack([self._augment(s) for s in x])
            x = self._normalize(x)
        return x, y

    def _normalize(self, x):
        if self.mean is None:
            return x
        mean, std = (torch.as_tensor(a, dtype=x.dtype) for a in (self.mean, self.std))
        return (x - mean) / std

    def batches(self, split: Split, order=None, batch_size: int = 1024, start: int = 0,
                stop: int | None = None, train: bool = False):
        """(inputs, targets) of batches start..stop-1 of `split` in `order` (None: as
        stored), as `batch` gives them; streamed datasets decode ahead meanwhile."""
        stop = -(-len(split) // batch_size) if stop is None else stop
        for b in range(start, stop):
            cut = slice(b * batch_size, (b + 1) * batch_size)
            yield self.batch(split, cut if order is None else order[cut], train)

    def close(self) -> None:
        """Release worker processes (streamed datasets); in-memory data has none."""

    @property
    def augmenting(self) -> bool:
        return self._augment is not None


def load(name: str, options: dict | None = None, seed: int = 0, progress=None
         ) -> PreparedData:
    """`progress(message, fraction or None)`, when given, hears about long scans and
    decodes (image folders)."""
    spec = get(name)
    opts = spec.fill(options)
    if spec.prepared is not None:  # the dataset splits and batches itself (image folders)
        return spec.prepared(name, opts, seed, progress)
    raw = spec.load(opts)
    check_raw(name, raw)
    if opts["augment"] and (not raw.image or raw.augment is None):
        raise DataError(f"dataset {name!r}: augment=true works on image datasets only")
    return prepare(name, raw, opts, seed)


def check_raw(name: str, raw: RawData) -> None:
    if len(raw.x) != len(raw.y):
        raise DataError(f"dataset {name!r}: {len(raw.x)} inputs but {len(raw.y)} targets")
    if len(raw.x) < 10:
        raise DataError(f"dataset {name!r}: only {len(raw.x)} samples; at least 10 are needed "
                        f"to split into train, validation and test")


def split_indices(y: np.ndarray, val: float, test: float, seed: int, ordered: bool,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(y)
    n_test, n_val = int(round(n * test)), int(round(n * val))
    if ordered:  # train on the past, validate and test on the future
        idx = np.arange(n)
        return idx[:n - n_val - n_test], idx[n - n_val - n_test:n - n_test], idx[n - n_test:]
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)

    def cut(ids, k, rs):
        if k == 0:
            return ids, ids[:0]
        strat = y[ids] if stratify and np.bincount(y[ids]).min(initial=2) >= 2 and \
            k >= len(np.unique(y[ids])) else None
        try:
            return train_test_split(ids, test_size=k, random_state=rs, stratify=strat)
        except ValueError:  # a class too rare to stratify
            return train_test_split(ids, test_size=k, random_state=rs)
    rest, test_idx = cut(idx, n_test, seed)
    train_idx, val_idx = cut(rest, n_val, seed + 1)
    return np.sort(train_idx), np.sort(val_idx), np.sort(test_idx)


def _channel_axes(x: np.ndarray, image: bool) -> tuple[int, ...]:
    keep = 1 if image else x.ndim - 1
    return tuple(i for i in range(x.ndim) if i != keep)


def prepare(name: str, raw: RawData, opts: dict, seed: int) -> PreparedData:
    info = raw.info
    classes = info.is_classification
    if raw.test is not None:  # an official test split: only validation is cut here
        tr, va, _ = split_indices(raw.y, opts["val_fraction"], 0.0, seed, raw.ordered, classes)
        xs = {"train": raw.x[tr], "val": raw.x[va], "test": raw.test[0]}
        ys = {"train": raw.y[tr], "val": raw.y[va], "test": raw.test[1]}
    else:
        parts = split_indices(raw.y, opts["val_fraction"], opts["test_fraction"], seed,
                              raw.ordered, classes)
        xs = {k: raw.x[i] for k, i in zip(("train", "val", "test"), parts)}
        ys = {k: raw.y[i] for k, i in zip(("train", "val", "test"), parts)}
    if len(ys["train"]) < 2:
        raise DataError(f"dataset {name!r}: the training split is empty; lower val_fraction "
                        f"or test_fraction")

    uint8 = raw.x.dtype == np.uint8
    scale = 1 / 255 if uint8 else 1.0
    mean = std = None
    if opts["normalize"] and info.input_dtype == "float32" and raw.norm is not None:
        shape = (-1,) + (1,) * (xs["train"].ndim - 2)  # per channel
        mean, std = (np.asarray(v, dtype=np.float32).reshape(shape) for v in raw.norm)
    elif opts["normalize"] and info.input_dtype == "float32":
        axes = _channel_axes(xs["train"], raw.image)
        sample = xs["train"].astype(np.float64) * scale
        mean = sample.mean(axis=axes, keepdims=True)[0].astype(np.float32)
        std = sample.std(axis=axes, keepdims=True)[0].astype(np.float32)
        std[std < 1e-8] = 1.0  # a constant feature: leave it, don't divide by zero
    augment = raw.augment() if opts["augment"] else None
    data = PreparedData(name, info, *(Split(torch.empty(0), torch.empty(0)) for _ in range(3)),
                        mean=mean, std=std, _scale=scale, _augment=augment,
                        _raw_train=augment is not None)
    keep_uint8 = uint8 and raw.x.size > KEEP_UINT8_ABOVE
    for key in ("train", "val", "test"):
        x = torch.from_numpy(np.ascontiguousarray(xs[key]))
        y = torch.from_numpy(np.ascontiguousarray(ys[key]))
        if not keep_uint8 and info.input_dtype == "float32":
            x = x.float() * scale if uint8 else x.float()
            if not (key == "train" and data._raw_train):
                x = data._normalize(x)
        setattr(data, key, Split(x.contiguous(), y))
    return data
