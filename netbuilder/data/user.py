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
                    im = im.convert(mode).resize((size, size))
                    a = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{f}: cannot read this image ({e})") from None
            xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            ys.append(label)
    channels = 1 if o["grayscale"] else 3
    info = DataInfo((channels, size, size), "float32", CLASSIFICATION, CLASS, len(classes),
                    tuple(classes))
    return RawData(np.stack(xs), np.array(ys, dtype=np.int64), info, image=True,
                   augment=lambda: _flip_crop(size))


def _flip_crop(size):
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomCrop(size, padding=max(1, size // 8)),
                       v2.RandomHorizontalFlip()])


register(DatasetSpec("image_folder", "Your data", "Images from a folder with one sub-folder "
                     "per class, resized to size×size.", CLASSIFICATION, _image_folder,
                     (Param("path", STR, "", "the folder of class folders"),
                      Param("size", INT, 32, "images are resized to size×size", min=4,
                            max=1024),
                      Param("grayscale", BOOL, False, "read one grey channel instead of RGB"))))


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
    return _csv_target(path, target, o["task"], x, raw_y, [header[i] for i in feats])


def _csv_target(path, target, task, x, raw_y, feature_names):
    nums = [_number(v) for v in raw_y]
    numeric = all(v is not None for v in nums)
    if task == "auto":
        whole = numeric and all(float(v).is_integer() for v in nums)
        task = (CLASSIFICATION if not numeric or (whole and len(set(nums)) <= MAX_CLASSES_AUTO)
                else REGRESSION)
    if task == REGRESSION:
        if not numeric:
            bad = next(v for v, n in zip(raw_y, nums) if n is None)
            raise DataError(f"{path}, column {target!r}: {bad!r} is not a number, so it "
                            f"cannot be a regression target (set task to classification)")
        y = np.array(nums, np.float32)[:, None]
        return RawData(x, y, DataInfo((x.shape[1],), "float32", REGRESSION, REAL))
    labels = sorted(set(raw_y), key=lambda v: (_number(v) is None, _number(v) or 0, v))
    if len(labels) < 2:
        raise DataError(f"{path}, column {target!r}: has a single value {labels[0]!r}; a "
                        f"classification target needs at least two classes")
    index = {v: i for i, v in enumerate(labels)}
    y = np.array([index[v] for v in raw_y], np.int64)
    return RawData(x, y, DataInfo((x.shape[1],), "float32", CLASSIFICATION, CLASS,
                                  len(labels), tuple(labels)))


register(DatasetSpec("csv", "Your data", "A CSV file with a header row: numeric feature "
                     "columns and one target column.", CLASSIFICATION, _csv,
                     (Param("path", STR, "", "the CSV file"),
                      Param("target", STR, "", "the target column (default: the last)"),
                      Param("task", CHOICE, "auto", "classification or regression; auto "
                            "guesses from the target's values",
                            choices=("auto", CLASSIFICATION, REGRESSION)))))
