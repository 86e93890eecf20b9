"""The user's own data: a folder of images (one sub-folder per class) and a CSV file."""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from ..core.registry import BOOL, CHOICE, INT, STR, Param
from .registry import (CLASS, CLASSIFICATION, REAL, REGRESSION, DataError, DataInfo,
                       DatasetSpec, RawData, register)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_CLASSES_AUTO = 20  # "auto": a whole-number target with at most this many values is a class


def _folder(o, option="path") -> Path:
    if not o[option]:
        raise DataError(f"set the dataset option {option} to the folder or file to read")
    p = Path(os.path.expanduser(o[option]))
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    return p


# ---- image folder -----------------------------------------------------------------------

def _image_folder(o):
    from PIL import Image, UnidentifiedImageError

    root = _folder(o)
    if not root.is_dir():
        raise DataError(f"{root}: is not a folder; an image dataset is a folder with one "
                        f"sub-folder of images per class")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class folder(s); an image dataset needs "
                        f"one sub-folder per class and at least two classes "
                        f"(e.g. {root}/cats/*.png and {root}/dogs/*.png)")
    mode, size = ("L" if o["grayscale"] else "RGB"), o["size"]
    xs, ys = [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (root / name).rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{root / name}: class folder has no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        for f in files:
            try:
                with Image.open(f) as im:
                    a = np.asarray(_fit(im.convert(mode), size, o["resize"]), dtype=np.uint8)
            except Image.DecompressionBombError as e:
                raise DataError(f"{f}: refused to decode this image: it is far larger than "
                                f"any training image ({e}); a file this size may be a "
                                f"decompression bomb. Remove it or shrink it") from None
            except PermissionError:
                raise DataError(f"{f}: permission denied; netbuilder cannot read this "
                                f"image") from None
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{f}: cannot read this image ({e})") from None
            xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            ys.append(label)
    channels = 1 if o["grayscale"] else 3
    info = DataInfo((channels, size, size), "float32", CLASSIFICATION, CLASS, len(classes),
                    tuple(classes))
    return RawData(np.stack(xs), np.array(ys, dtype=np.int64), info, image=True,
                   augment=lambda: _flip_crop(size), norm=_fixed_norm(o, channels))


def _fit(im, size: int, resize: int):
    """size×size: straight (resize 0), or the shorter side to `resize` and the centre
    size×size cut out (how pretrained classifiers were evaluated: 256, then 224)."""
    if not resize:
        return im.resize((size, size))
    w, h = im.size
    scale = max(resize, size) / min(w, h)
    im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))))
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return im.crop((left, top, left + size, top + size))


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
    mean, std = _numbers(o, "mean", channels), _numbers(o, "std", channels)
    if (mean is None) != (std is None):
        raise DataError("dataset options mean and std go together: set both or neither")
    return (mean, std) if mean is not None else None


def _flip_crop(size):
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(size, padding=max(1, size // 8)),
                       v2.RandomHorizontalFlip()])


register(DatasetSpec("image_folder", "Your data", "Images from a folder with one sub-folder "
                     "per class, resized to size×size.", CLASSIFICATION, _image_folder,
                     (Param("path", STR, "", "the folder of class folders"),
                      Param("size", INT, 32, "images are resized to size×size", min=4,
                            max=1024),
                      Param("grayscale", BOOL, False, "read one grey channel instead of RGB"),
                      Param("resize", INT, 0, "first resize the shorter side to this, then "
                            "cut out the centre size×size (0: resize straight to size)",
                            min=0, max=4096),
                      Param("mean", STR, "", "fixed per-channel means on the 0-1 scale, e.g. "
                            "a pretrained model's (empty: from the training images)"),
                      Param("std", STR, "", "fixed per-channel standard deviations, with "
                            "mean"))))


# ---- CSV ------------------------------------------------------------------------------------

def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _csv(o):
    path = _folder(o)
    if not path.is_file():
        raise DataError(f"{path}: is not a file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            numbered = [(i, r) for i, r in enumerate(csv.reader(f), start=1)
                        if any(c.strip() for c in r)]  # blank lines are skipped
    except UnicodeDecodeError:
        raise DataError(f"{path}: is not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as e:
        raise DataError(f"{path}: not a readable CSV file ({e})") from None
    lines = [i for i, _ in numbered]
    rows = [r for _, r in numbered]
    if len(rows) < 3:
        raise DataError(f"{path}: needs a header row and at least two data rows")
    header = [h.strip() for h in rows[0]]
    target = o["target"] or header[-1]
    if target not in header:
        raise DataError(f"{path}: no column {target!r} (columns: {', '.join(header)}); set "
                        f"the dataset option target to one of them")
    t = header.index(target)
    feats = [i for i in range(len(header)) if i != t]
    if not feats:
        raise DataError(f"{path}: the target {target!r} is the only column; there are no "
                        f"input features")
    x = np.empty((len(rows) - 1, len(feats)), np.float32)
    raw_y = []
    for n, (r, row) in enumerate(zip(lines[1:], rows[1:])):
        if len(row) != len(header):
            raise DataError(f"{path}, line {r}: has {len(row)} fields, the header has "
                            f"{len(header)}")
        for j, i in enumerate(feats):
            v = _number(row[i].strip())
            if v is None:
                raise DataError(f"{path}, line {r}, column {header[i]!r}: {row[i]!r} is not a "
                                f"number; feature columns must be numeric (drop or encode "
                                f"this column)")
            x[n, j] = v
        raw_y.append(row[t].strip())
    return _csv_target(path, target, o["task"], x, raw_y, lines[1:])


def _guess(raw_y, nums, where) -> tuple[str, str]:
    """classification or regression, and why, from the target's values."""
    distinct = len(set(raw_y))
    good = [v for v in nums if v is not None]
    if len(good) == len(nums):
        if all(float(v).is_integer() for v in good) and distinct <= MAX_CLASSES_AUTO:
            return CLASSIFICATION, (f"its values are {distinct} distinct whole numbers (at "
                                    f"most {MAX_CLASSES_AUTO} are taken as classes)")
        kind = "whole numbers" if all(float(v).is_integer() for v in good) else "numbers"
        return REGRESSION, f"its values are {kind} with {distinct} distinct values"
    if len(good) >= 0.5 * len(nums) and (distinct - len(set(v for v in good)) <= 3):
        bad = next(i for i, v in enumerate(nums) if v is None)
        raise DataError(f"{where(bad)}: {raw_y[bad]!r} is not a number, but the other "
                        f"values of this column are; fix this cell (or drop the row). If the "
                        f"values are class names, set the dataset option task to "
                        f"classification")
    names = [v for v, n in zip(raw_y, nums) if n is None][:3]
    return CLASSIFICATION, (f"its values are names such as "
                            f"{', '.join(repr(v) for v in names)}")


def _csv_target(path, target, task, x, raw_y, lines):
    def where(i):
        return f"{path}, line {lines[i]}, column {target!r}"

    empty = next((i for i, v in enumerate(raw_y) if not v), None)
    if empty is not None:
        raise DataError(f"{where(empty)}: the target cell is empty; fill it in or drop "
                        f"the row")
    nums = [_number(v) for v in raw_y]
    notes = ()
    if task == "auto":
        task, why = _guess(raw_y, nums, where)
        notes = (f"{path}: the target column {target!r} is taken as {task}: {why}; set the "
                 f"dataset option task to {_other(task)} to change this",)
    if task == REGRESSION:
        bad = next((i for i, n in enumerate(nums) if n is None), None)
        if bad is not None:
            raise DataError(f"{where(bad)}: {raw_y[bad]!r} is not a number, so it cannot "
                            f"be a regression target (fix the cell, or set task to "
                            f"classification)")
        y = np.array(nums, np.float32)[:, None]
        return RawData(x, y, DataInfo((x.shape[1],), "float32", REGRESSION, REAL,
                                      notes=notes))
    labels = sorted(set(raw_y), key=lambda v: (_number(v) is None, _number(v) or 0, v))
    if len(labels) < 2:
        raise DataError(f"{path}, column {target!r}: has a single value {labels[0]!r}; a "
                        f"classification target needs at least two classes")
    index = {v: i for i, v in enumerate(labels)}
    y = np.array([index[v] for v in raw_y], np.int64)
    return RawData(x, y, DataInfo((x.shape[1],), "float32", CLASSIFICATION, CLASS,
                                  len(labels), tuple(labels), notes=notes))


def _other(task: str) -> str:
    return REGRESSION if task == CLASSIFICATION else CLASSIFICATION


register(DatasetSpec("csv", "Your data", "A CSV file with a header row: numeric feature "
                     "columns and one target column.", CLASSIFICATION, _csv,
                     (Param("path", STR, "", "the CSV file"),
                      Param("target", STR, "", "the target column (default: the last)"),
                      Param("task", CHOICE, "auto", "classification or regression; auto "
                            "guesses from the target's values",
                            choices=("auto", CLASSIFICATION, REGRESSION)))))
