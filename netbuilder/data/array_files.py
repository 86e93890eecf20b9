"""Image sets stored as raw arrays: MNIST's idx files and CIFAR-10's batches (no torch).

Each reader checks the file against its format (magic number, image size, the byte count
its header or record size implies) and raises DataError naming the file otherwise. With
`lazy` the pixels are memory-mapped, so nothing is read before a batch asks for it; files
that cannot be mapped (gzip-compressed idx files, Python 3 pickles whose pixels are text)
are written out once, uncompressed, to the user cache and mapped from there.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import threading
import zlib
from pathlib import Path

import numpy as np

from . import safe_pickle
from .registry import DataError
from .resources import cache_dir

IDX_IMAGES, IDX_LABELS = 0x803, 0x801  # magic numbers: uint8 data, 3 or 1 dimensions
MNIST_SIDE = 28
MAX_IMAGES = 10_000_000  # a header claiming more is damaged (MNIST's train set has 60,000)
CIFAR_RECORD = 1 + safe_pickle.PIXELS  # label byte + 3×32×32 pixel bytes
NUM_CLASSES = 10
COPY_CHUNK = 1 << 20


class StackedImages:
    """Several uint8 N×C×H×W arrays (memory maps or in memory) read as one."""

    def __init__(self, parts: list[np.ndarray]):
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts])
        self.shape = tuple(parts[0].shape[1:])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def take(self, ids) -> np.ndarray:
        """The images `ids` (numbers over all parts), in that order, as one array."""
        ids = np.asarray(ids, np.int64)
        out = np.empty((len(ids), *self.shape), np.uint8)
        part = np.searchsorted(self.starts, ids, side="right") - 1
        for p in np.unique(part):
            here = part == p
            out[here] = self.parts[p][ids[here] - self.starts[p]]
        return out

    def whole(self) -> np.ndarray:
        return np.concatenate([np.asarray(p) for p in self.parts])


def _damaged(path: Path, what: str) -> DataError:
    return DataError(f"{path}: {what}; the file is truncated or damaged. Delete it and copy "
                     f"or download it again")


def _spilled(path: Path, size: int, write) -> Path:
    """An uncompressed copy of `path`'s content in the user cache (made by `write(file)`
    once, reused while `path` is unchanged)."""
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode(
        "utf-8", "surrogatepass")).hexdigest()[:24]
    out = cache_dir("array-files") / f"{key}.u8"
    if out.is_file() and out.stat().st_size == size:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---- MNIST's idx files ------------------------------------------------------------------

def _open_idx(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def idx_header(path: Path, magic: int) -> tuple[int, ...]:
    """The dimensions in an idx file's header; raises DataError when it is not one of
    MNIST's idx files of that kind."""
    ndim = 3 if magic == IDX_IMAGES else 1
    try:
        with _open_idx(path) as f:
            head = f.read(4 + 4 * ndim)
    except (OSError, EOFError, zlib.error) as e:
        raise _damaged(path, f"cannot read its header ({e})") from None
    if len(head) < 4 + 4 * ndim:
        raise _damaged(path, f"only {len(head)} bytes, shorter than an idx header")
    found = int.from_bytes(head[:4], "big")
    if found != magic:
        kind = "images (0x00000803)" if magic == IDX_IMAGES else "labels (0x00000801)"
        raise DataError(f"{path}: not an MNIST idx file of {kind}: its magic number is "
                        f"{found:#010x}")
    dims = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if not 0 < dims[0] <= MAX_IMAGES:
        raise _damaged(path, f"its header claims {dims[0]:,} items")
    if magic == IDX_IMAGES and dims[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise DataError(f"{path}: holds {dims[1]}×{dims[2]} images; MNIST and FashionMNIST "
                        f"images are {MNIST_SIDE}×{MNIST_SIDE}")
    return dims


def _idx_body(path: Path, header: int, size: int, lazy: bool):
    """The `size` bytes after the header: a memory map, or bytes; checks the length."""
    if path.suffix != ".gz":
        have = path.stat().st_size - header
        if have != size:
            raise _damaged(path, f"{have + header:,} bytes, but its header promises "
                                 f"{size + header:,}")
        return np.memmap(path, np.uint8, "r", offset=header, shape=(size,)) if lazy else \
            np.fromfile(path, np.uint8, size, offset=header)

    def copy(out):
        left = size
        with gzip.open(path, "rb") as f:
            f.read(header)
            while left:
                chunk = f.read(min(COPY_CHUNK, left))
                if not chunk:
                    raise _damaged(path, f"it holds {size - left:,} bytes after its header, "
                                         f"but the header promises {size:,}")
                out.write(chunk)
                left -= len(chunk)
            if f.read(1):
                raise _damaged(path, f"it holds more than the {size:,} bytes its header "
                                     f"promises")
    try:
        if lazy:
            return np.memmap(_spilled(path, size, copy), np.uint8, "r", shape=(size,))
        import io

        buf = io.BytesIO()
        copy(buf)
        return np.frombuffer(buf.getbuffer(), np.uint8)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise _damaged(path, f"cannot decompress it ({e})") from None


def idx_count(path: Path) -> int:
    return idx_header(path, IDX_IMAGES)[0]


def read_idx(images: Path, labels: Path, lazy: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N×1×28×28, int64 labels) from a pair of MNIST idx files."""
    n, rows, cols = idx_header(images, IDX_IMAGES)
    (n_labels,) = idx_header(labels, IDX_LABELS)
    if n_labels != n:
        raise DataError(f"{images} holds {n:,} images but {labels} holds {n_labels:,} "
                        f"labels; the two files are not a pair")
    y = np.asarray(_idx_body(labels, 8, n, False), np.int64)
    if y.max(initial=0) >= NUM_CLASSES:
        raise DataError(f"{labels}: has label {int(y.max())}; MNIST labels are 0..9")
    x = _idx_body(images, 16, n * rows * cols, lazy).reshape(n, 1, rows, cols)
    return x, y


# ---- CIFAR-10 -------------------------------------------------------------------------------

def cifar_bin_count(path: Path) -> int:
    size = path.stat().st_size
    if size == 0 or size % CIFAR_RECORD:
        raise _damaged(path, f"{size:,} bytes is not a whole number of CIFAR-10 records "
                             f"(1 label byte + 3072 pixel bytes each)")
    return size // CIFAR_RECORD


def read_cifar_bin(path: Path, lazy: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N×3×32×32, int64 labels) from one batch of CIFAR-10's binary version."""
    n = cifar_bin_count(path)
    records = np.memmap(path, np.uint8, "r", shape=(n, CIFAR_RECORD))
    y = np.asarray(records[:, 0], np.int64)
    if y.max(initial=0) >= NUM_CLASSES:
        raise DataError(f"{path}: has label {int(y.max())}; CIFAR-10 labels are 0..9 (is "
                        f"this CIFAR-100's binary version?)")
    x = records[:, 1:].reshape(n, 3, 32, 32)
    return (x if lazy else np.array(x)), y


def read_cifar_pickle(path: Path, lazy: bool) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N×3×32×32, int64 labels) from one batch of CIFAR-10's python version, read
    without unpickling (safe_pickle)."""
    batch = safe_pickle.read_batch(path)
    n, shape = len(batch), (len(batch), 3, 32, 32)
    if batch.offset is not None:
        x = np.memmap(path, np.uint8, "r", offset=batch.offset, shape=shape)
        return (x if lazy else np.array(x)), batch.labels
    if lazy:
        mapped = _spilled(path, n * safe_pickle.PIXELS, lambda f: f.write(batch.pixels))
        return np.memmap(mapped, np.uint8, "r", shape=shape), batch.labels
    return np.frombuffer(batch.pixels, np.uint8).reshape(shape), batch.labels
