"""Image folders too large to decode up front: decoded batch by batch in DataLoader worker
processes, and kept in memory as they arrive when the whole set fits the memory budget.

The Trainer asks `data.batches(split, order, ...)` for an epoch's batches, so the loader
knows the epoch's order in advance and its workers (persistent, two batches ahead each,
pinned memory on CUDA) decode ahead of the training step; the order is the Trainer's own
`epoch_order`, so runs stay deterministic. A worker gets a whole batch of file numbers and
returns one uint8 tensor (a quarter of the bytes of float32 through the pipe); the training
process scales, augments and normalizes it exactly as for in-memory data.

Files that turn out unreadable are dropped from their batch (it is one sample shorter) and
reported once (`skipped`); they never stop a run.
"""
from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .imagefiles import BadImage, FolderIndex, Skipped, decode
from .prepare import PreparedData, Split
from .resources import loader_workers

IN_PROCESS_BELOW = 256  # files: fewer are decoded in this process (starting workers costs more)
CHUNK = 64  # files per worker task when decoding a whole set


class DecodeBatches(Dataset):
    """dataset[list of file numbers] -> (uint8 N×C×H×W, the numbers decoded, [(number,
    reason)] of those that could not be)."""

    def __init__(self, root: Path, files: list[str], mode: str, size: int, resize: int = 0):
        self.root, self.files, self.mode, self.size = root, files, mode, size
        self.resize = resize

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, ids):
        xs, kept, bad = [], [], []
        for i in ids:
            try:
                xs.append(decode(self.root / self.files[i], self.mode, self.size, self.resize))
                kept.append(i)
            except BadImage as e:
                bad.append((int(i), str(e)))
        c = 1 if self.mode == "L" else 3
        x = np.stack(xs) if xs else np.empty((0, c, self.size, self.size), np.uint8)
        kept = np.asarray(kept, np.int64)
        if torch.cuda.is_available():  # tensors: the loader pins them for the copy to the GPU
            return torch.from_numpy(x), torch.from_numpy(kept), bad
        # numpy arrays go through the pipe as bytes: cheaper than sharing a tensor's memory
        # (a file descriptor handed over per tensor) for batches of small images
        return x, kept, bad


def _ignore_ctrl_c(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group: the training process stops at a batch
    # boundary (training/cli.py), and a worker that died of it would fail the run instead
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _as_is(batch):
    return batch  # DecodeBatches returns a whole batch; the default would make tensors


class _Chunks(Sampler):
    """Yields the file numbers of each batch; set `chunks` before iterating the loader (the
    sampler lives in this process, so persistent workers see each epoch's new order)."""

    def __init__(self):
        self.chunks: list = []

    def __iter__(self):
        return iter(self.chunks)

    def __len__(self) -> int:
        return len(self.chunks)


def _context():
    # fork starts a worker in milliseconds; spawn re-imports torch (~2 s). CUDA does not
    # survive a fork, so a process that has initialized it spawns.
    if sys.platform == "linux" and not torch.cuda.is_initialized():
        return mp.get_context("fork")
    return mp.get_context("spawn")


class ImageStore:
    """Decodes files of one scan: in worker processes, or from memory once cached."""

    def __init__(self, index: FolderIndex, mode: str, size: int, cache: bool, resize: int = 0):
        self.index = index
        self.source = DecodeBatches(index.root, index.files, mode, size, resize)
        self.shape = (1 if mode == "L" else 3, size, size)
        n = len(index)
        self.cache = np.empty((n, *self.shape), np.uint8) if cache else None
        self.have = np.zeros(n, bool)  # decoded and in the cache
        self.bad = np.zeros(n, bool)
        self.skipped = Skipped()
        self._sampler = _Chunks()
        self._loader = None

    @property
    def cached_bytes(self) -> int:
        return int(self.have.sum()) * int(np.prod(self.shape)) if self.cache is not None else 0

    def loader(self) -> DataLoader:
        if self._loader is None:
            workers = loader_workers()
            self._loader = DataLoader(self.source, batch_size=None, sampler=self._sampler,
                                      collate_fn=_as_is, num_workers=workers,
                                      worker_init_fn=_ignore_ctrl_c, persistent_workers=True,
                                      prefetch_factor=2, pin_memory=torch.cuda.is_available(),
                                      multiprocessing_context=_context())
        return self._loader

    def _arrived(self, x, kept, bad):
        x, kept = torch.as_tensor(x), torch.as_tensor(kept)
        for i, reason in bad:
            if not self.bad[i]:
                self.bad[i] = True
                self.skipped.add(self.index.files[i], reason)
        if self.cache is not None and len(kept):
            k = kept.numpy()
            self.cache[k] = x.numpy()
            self.have[k] = True
        return x, kept

    def fetch(self, chunks: list[np.ndarray]):
        """(uint8 x, file numbers) per chunk, in order, bad files left out."""
        if self.cache is not None and all((self.have[c] | self.bad[c]).all() for c in chunks):
            for c in chunks:
                keep = c[self.have[c]]
                yield torch.from_numpy(self.cache[keep]), torch.from_numpy(keep)
            return
        if sum(len(c) for c in chunks) < IN_PROCESS_BELOW:
            for c in chunks:
                yield self._arrived(*self.source[c])
            return
        self._sampler.chunks = [np.asarray(c) for c in chunks]
        for got in self.loader():
            yield self._arrived(*got)

    def decode_all(self, progress=None) -> None:
        """Every file into the cache (in parallel); bad files are marked."""
        ids = np.arange(len(self.index))
        chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
        done = 0
        for _, kept in self.fetch(chunks):
            done += CHUNK
            if progress:
                progress(min(done, len(ids)), len(ids))
        self.close()

    def close(self) -> None:
        """End the worker processes (a new fetch starts them again)."""
        loader, self._loader = self._loader, None
        if loader is not None and getattr(loader, "_iterator", None) is not None:
            loader._iterator._shutdown_workers()


class ArrayStore:
    """The ImageStore side that StreamedImages uses, over images already stored as arrays
    (array_files.StackedImages, memory-mapped): a batch is a read in this process, as there
    is nothing to decode that worker processes could share."""

    def __init__(self, images):
        self.images = images
        self.shape = images.shape
        self.skipped = Skipped()

    def fetch(self, chunks: list[np.ndarray]):
        for c in chunks:
            c = np.asarray(c, np.int64)
            yield torch.from_numpy(self.images.take(c)), torch.from_numpy(c)

    def close(self) -> None:
        """Nothing to end: there are no worker processes."""


def channel_stats(batches, channels: int):
    """(count of pixels per channel, mean, std) on the 0..1 scale over uint8 N×C×H×W
    tensors; mean and std are float32 C×1×1 (a constant channel gets std 1)."""
    count, total, squares = 0, torch.zeros(channels, dtype=torch.float64), 0.0
    for x in batches:
        x = x.float().div_(255)
        count += x.numel() // channels
        total = total + x.sum((0, 2, 3), dtype=torch.float64)
        squares = squares + (x * x).sum((0, 2, 3), dtype=torch.float64)
    if not count:
        return 0, None, None
    m = total / count
    mean = m.float().numpy().reshape(channels, 1, 1)
    std = (squares / count - m * m).clamp_min(0).sqrt().float().numpy().reshape(channels, 1, 1)
    std[std < 1e-8] = 1.0
    return count, mean, std


class StreamedImages(PreparedData):
    """PreparedData whose splits hold file numbers (`Split.x`) and whose batches are decoded
    by an ImageStore."""

    store: ImageStore = None
    labels: np.ndarray = None

    def _decoded(self, split: Split, x: torch.Tensor, kept: torch.Tensor, train: bool):
        y = torch.from_numpy(self.labels[kept.numpy()])
        return PreparedData.batch(self, Split(x, y), slice(None), train)

    def batch(self, split: Split, idx, train: bool = False):
        ids = split.x[idx].numpy()
        if not len(ids):
            return torch.empty((0, *self.store.shape)), split.y[:0]
        x, kept = next(self.store.fetch([ids]))
        return self._decoded(split, x, kept, train)

    def batches(self, split: Split, order=None, batch_size: int = 1024, start: int = 0,
                stop: int | None = None, train: bool = False):
        ids = split.x.numpy() if order is None else split.x.numpy()[np.asarray(order)]
        stop = -(-len(ids) // batch_size) if stop is None else stop
        chunks = [ids[b * batch_size:(b + 1) * batch_size] for b in range(start, stop)]
        for x, kept in self.store.fetch(chunks):
            yield self._decoded(split, x, kept, train)

    @property
    def skipped(self) -> Skipped:
        return self.store.skipped

    def close(self) -> None:
        self.store.close()
