"""A folder of images, one sub-folder per class: scanned once, decoded on demand.

`scan(root)` lists the files without opening any of them (names and types from the
directory entries). The list is cached as JSON in the
user cache (resources.cache_dir("image-index")), keyed by the folder, and reused while no
folder under the root has changed (a folder's mtime changes when files are added, removed
or renamed in it), so a second scan of 100,000 files reads one small file.

`decode(path, mode, size)` reads one image; a file PIL cannot read, or one larger than
PIL's decompression-bomb limit, raises BadImage, and the loaders skip it and report it.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .registry import DataError
from .resources import Cancelled, cache_dir

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
INDEX_FORMAT = "netbuilder-image-index-2"
SHOW_SKIPPED = 5  # a report names this many skipped files


class BadImage(Exception):
    """One image that cannot be used; the message says why, for a person."""


@dataclass
class Skipped:
    """Files left out of a load, with the reason for each (shown: the first few)."""
    items: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def add(self, name: str, reason: str) -> None:
        self.items.append((name, reason))

    def __len__(self) -> int:
        return len(self.items)

    def report(self, where=None) -> str:
        shown = "; ".join(f"{n} ({r})" for n, r in self.items[:SHOW_SKIPPED])
        more = f"; and {len(self.items) - SHOW_SKIPPED} more" if len(self) > SHOW_SKIPPED else ""
        head = f"{where}: skipped" if where else "Skipped"
        return f"{head} {len(self)} unusable image file(s): {shown}{more}"


@dataclass
class FolderIndex:
    root: Path
    classes: list[str]
    files: list[str]  # relative to root, class folder first
    labels: np.ndarray  # int64, one per file
    skipped: Skipped

    def __len__(self) -> int:
        return len(self.files)

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=len(self.classes))


Progress = Callable[[int, int, int], None]  # (class folders done, class folders, files)


def scan(root: Path, progress: Progress | None = None,
         cancelled: Callable[[], bool] | None = None) -> FolderIndex:
    """The class folders and image files under `root`; raises DataError when there is no
    usable dataset there, Cancelled when `cancelled()` turns true."""
    if not root.is_dir():
        raise DataError(f"{root}: is not a folder; an image dataset is a folder with one "
                        f"sub-folder of images per class")
    classes = sorted(d.name for d in os.scandir(root) if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{root}: found {len(classes)} class folder(s); an image dataset needs "
                        f"one sub-folder per class and at least two classes "
                        f"(e.g. {root}/cats/*.png and {root}/dogs/*.png)")
    cached = _read_index(root, classes)
    if cached is not None:
        if progress:
            progress(len(classes), len(classes), len(cached))
        return cached
    files, labels, skipped, dirs = [], [], Skipped(), {}
    for label, name in enumerate(classes):
        found = _walk(root, name, dirs, skipped, cancelled)
        if not found:
            raise DataError(f"{root / name}: class folder has no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        files += found
        labels += [label] * len(found)
        if progress:
            progress(label + 1, len(classes), len(files))
    index = FolderIndex(root, classes, files, np.array(labels, np.int64), skipped)
    _write_index(index, dirs)
    return index


def _walk(root: Path, name: str, dirs: dict, skipped: Skipped, cancelled) -> list[str]:
    """The image files under root/name, by name, depth first. Reads directory entries
    only: no file is opened or stat-ed (a 100,000-file folder lists in ~0.3 s)."""
    out, stack = [], [name]
    while stack:
        rel = stack.pop()
        if cancelled is not None and cancelled():
            raise Cancelled()
        files, subdirs = [], []
        try:
            dirs[rel] = os.stat(root / rel).st_mtime_ns
            with os.scandir(root / rel) as entries:
                for e in entries:
                    n = e.name
                    if n.startswith("."):
                        continue
                    if e.is_dir():  # from the entry's type: no system call
                        subdirs.append(n)
                    elif n[n.rfind("."):].lower() in IMAGE_SUFFIXES:
                        files.append(n)
        except OSError as e:
            skipped.add(rel, f"cannot list this folder: {e.strerror or e}")
            continue
        files.sort()
        out += [f"{rel}/{n}" for n in files]
        stack += [f"{rel}/{d}" for d in sorted(subdirs, reverse=True)]
    return out


def _index_file(root: Path) -> Path:
    key = hashlib.sha1(str(root.resolve()).encode("utf-8", "surrogatepass")).hexdigest()
    return cache_dir("image-index") / f"{key[:20]}.json"


def _read_index(root: Path, classes: list[str]) -> FolderIndex | None:
    """The cached scan, when every folder it saw is unchanged; else None."""
    try:
        with open(_index_file(root), encoding="utf-8") as f:
            d = json.load(f)
        if d.get("format") != INDEX_FORMAT or d["root"] != str(root.resolve()) or \
                d["classes"] != classes:
            return None
        for rel, mtime in d["dirs"].items():
            if os.stat(root / rel).st_mtime_ns != mtime:
                return None
        skipped = Skipped([tuple(s) for s in d["skipped"]])
        files = d["files"].split("\n") if d["files"] else []
        labels = np.repeat(np.arange(len(classes)), d["counts"])
        if len(labels) != len(files):
            return None
        return FolderIndex(root, classes, files, labels, skipped)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no cache, or a damaged one: scan again


def _write_index(index: FolderIndex, dirs: dict) -> None:
    path = _index_file(index.root)
    if any("\n" in f for f in index.files):
        return  # the index keeps the names one a line
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": INDEX_FORMAT, "root": str(index.root.resolve()),
                       "classes": index.classes, "dirs": dirs,
                       "files": "\n".join(index.files),  # one string: 10x faster to write
                       "counts": index.counts().tolist(), "skipped": index.skipped.items}, f)
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves time


def _fit(im, size: int, resize: int):
    """size×size: straight (resize 0), or the shorter side to `resize` and the centre
    size×size cut out (how pretrained classifiers were evaluated: 256, then 224)."""
    from PIL import Image

    if not resize:
        return im.resize((size, size), Image.BILINEAR)
    w, h = im.size
    scale = max(resize, size) / min(w, h)
    im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
    w, h = im.size
    left, top = (w - size) // 2, (h - size) // 2
    return im.crop((left, top, left + size, top + size))


def decode(path: Path, mode: str, size: int, resize: int = 0) -> np.ndarray:
    """C×size×size uint8 (mode "L" or "RGB"); raises BadImage saying why not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            side = max(size, resize)
            im.draft(mode, (side, side))  # JPEG: decode at a reduced scale when it can
            a = np.asarray(_fit(im.convert(mode), size, resize), np.uint8)
    except Image.DecompressionBombError as e:
        raise BadImage(f"larger than the decompression-bomb limit: {e}") from None
    except PermissionError:
        raise BadImage("permission denied") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        try:
            empty = os.path.getsize(path) == 0
        except OSError:
            empty = False
        if empty:
            raise BadImage("empty file") from None
        if isinstance(e, UnidentifiedImageError):
            raise BadImage("cannot read it: not an image format PIL knows") from None
        raise BadImage(f"cannot read it: {e}") from None
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
