"""CSV files whose float32 table is larger than the memory budget: streamed from a memory map.

Two passes over the file in chunks of CHUNK_BYTES (read by polars, every cell as text so
a late odd cell cannot break the schema): the first counts rows and missing or non-numeric
cells, the fill means, the categories and the target's values, and raises
the same errors as the in-memory reader (csvfile.py); the second writes the finished input
table (filled, one-hot) chunk by chunk into a float32 .npy in the user cache, keyed by the
file's path, size and modification time and the options that shape the table.

Why a memory-mapped .npy: batches are then slices of one array, as fast as in-memory
indexing once the pages are read, and the pages live in the OS page cache, which the
system reclaims under pressure; re-reading row ranges of the CSV would parse text every
epoch. A second load of the same file reads only the cached table and its targets.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from . import csvfile as cf
from .prepare import PreparedData, Split
from .registry import CLASS, CLASSIFICATION, REAL, REGRESSION, DataError, DataInfo
from .resources import Cancelled, cache_dir, memory_budget

CHUNK_BYTES = 4 << 20  # of CSV text per chunk (~20,000 rows of 21 numbers)
QUOTE_TRIES = 100
FORMAT = 1  # bump when the cached table's layout changes
PREVIEW_ROWS = 2000  # preview.PREVIEW_POINTS (which imports the registry, hence this file)
STATS_ROWS = 65_536  # table rows per step of the normalization statistics


def table_bytes(path: Path, width: int) -> int:
    """The float32 table's size (before one-hot columns), from a row count that polars
    makes without keeping the file."""
    import polars as pl

    try:
        rows = pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
        return 0  # the in-memory reader says what is wrong with the file
    return int(rows) * width * 4


def prepared(name: str, o, seed: int, progress=None) -> PreparedData:
    """The csv dataset: read whole when its table fits the budget, else streamed."""
    from .prepare import check_raw, prepare

    if o["augment"]:
        raise DataError(f"dataset {name!r}: augment=true works on image datasets only")
    if _fits(o):
        raw = cf.load_csv(o)
        check_raw(name, raw)
        return prepare(name, raw, o, seed)
    return streamed(name, o, seed, progress)


def _pieces(path: Path):
    """The file after its header line in pieces of about CHUNK_BYTES that end at a line
    end outside quotes (a quoted cell may hold a line break)."""
    with open(path, "rb") as f:
        line = f.readline()
        while line and not line.strip():  # blank lines before the header, as header() does
            line = f.readline()
        rest = b""
        while True:
            more = f.read(CHUNK_BYTES)
            buf = rest + more
            if not more:
                if buf:
                    yield buf
                return
            cut = buf.rfind(b"\n")
            for _ in range(QUOTE_TRIES):  # an odd number of quotes before: inside a cell
                if cut < 0 or not buf.count(b'"', 0, cut) % 2:
                    break
                cut = buf.rfind(b"\n", 0, cut)
            else:  # a stray quote mark: cut at the last line end all the same
                cut = buf.rfind(b"\n")
            if cut < 0:
                rest = buf  # a line longer than a piece
                continue
            yield buf[:cut + 1]
            rest = buf[cut + 1:]


def _chunks(path: Path, names: list[str], cancelled=None):
    """(polars text frame without blank rows, file line of each row) per piece of the
    file; stops with Cancelled when `cancelled()` turns true.

    Why pieces of bytes rather than polars' batched reader: on the bench's file, polars'
    collect_batches held ~130 MB more at 52 MB of CSV and ~300 MB at 200 MB (it reads
    ahead of the consumer), pieces ~45 MB at both."""
    import io

    import polars as pl

    # a made-up header gives every piece the file's width (polars takes it from the first
    # line): short rows get missing cells, long ones fail as in the in-memory reader
    head = ",".join(f"c{i}" for i in range(len(names))).encode() + b"\n"
    start = 0
    try:
        for piece in _pieces(path):
            if cancelled is not None and cancelled():
                raise Cancelled
            df = pl.read_csv(io.BytesIO(head + piece), infer_schema=False, new_columns=names)
            lines = np.arange(start + 2, start + 2 + len(df))
            start += len(df)
            blank = df.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy()
            if blank.any():
                df, lines = df.filter(~pl.Series(blank)), lines[~blank]
            yield df, lines
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
        raise cf.read_error(path, e, len(names)) from None


class _Chunk:
    """One chunk decoded as the in-memory reader decodes a whole table."""

    def __init__(self, df, lines, numeric, categorical, target, rule):
        import polars as pl

        self.lines, self.numeric = lines, numeric
        self.x = df.select([cf._as_number(pl.col(c), pl.Utf8) for c in numeric]).to_numpy(
            writable=True) if numeric else np.zeros((len(df), 0), np.float32)
        self.bad = ~np.isfinite(self.x)
        self.x[self.bad] = np.nan
        self.problems = cf._Problems(len(df))
        self.odd = {}  # numeric column number -> (non-numbers, cells that are not empty)
        for j in np.flatnonzero(self.bad.any(0)):
            shown = cf._text(df[numeric[j]]).to_numpy()
            odd = self.bad[:, j] & (shown != None)  # noqa: E711 (elementwise)
            example = shown[int(np.argmax(odd))] if odd.any() else None
            self.odd[j] = (int(odd.sum()), int((~self.bad[:, j] | odd).sum()), example)
            self.problems.add(self.bad[:, j], numeric[j], shown, lines)
        self.text = {c: cf._text(df[c]) for c in categorical}
        for c, text in self.text.items():
            miss = text.is_null().to_numpy()
            self.problems.add(miss, c, [None] * len(miss), lines)
        self.y = cf._text(df[target])
        self.y_missing = self.y.is_null().to_numpy()
        drop = self.y_missing | self.problems.rows if rule == "drop" else self.y_missing
        self.keep = ~drop


class _Pass:
    """The first pass's totals over every chunk."""

    def __init__(self, numeric, categorical):
        self.rows = self.dropped = self.cells = self.problem_rows = self.filled = 0
        self.first = None  # (line, column, value) of the first missing or odd cell
        self.first_empty_target = None  # its line
        self.odd = np.zeros(len(numeric), np.int64)
        self.seen = np.zeros(len(numeric), np.int64)
        self.example = [None] * len(numeric)
        self.sums = np.zeros(len(numeric))
        self.counts = np.zeros(len(numeric), np.int64)
        self.categories = {c: set() for c in categorical}
        self.target = cf.TargetSummary()

    def add(self, ch: _Chunk):
        import polars as pl

        self.rows += len(ch.keep)
        self.dropped += int((~ch.keep).sum())
        p = ch.problems
        if p.first is not None and self.first is None:
            self.first = p.first
        self.cells += p.cells
        self.problem_rows += int(p.rows.sum())
        for j, (odd, seen, example) in ch.odd.items():
            self.odd[j] += odd
            self.seen[j] += seen
            if self.example[j] is None:
                self.example[j] = example
        if ch.y_missing.any() and self.first_empty_target is None:
            self.first_empty_target = int(ch.lines[np.argmax(ch.y_missing)])
        keep, bad = ch.keep, ch.bad[ch.keep]
        self.sums += np.where(bad, 0.0, ch.x[keep]).sum(0, dtype=np.float64)
        self.counts += (~bad).sum(0)
        self.filled += int(bad.sum())
        kept = pl.Series(keep)
        for c, text in ch.text.items():
            self.categories[c].update(text.fill_null(cf.MISSING_CATEGORY).filter(kept)
                                      .unique().to_list())
        self.target.add(ch.y.filter(kept), ch.lines[keep])


def _first_pass(path, names, numeric, categorical, target, rule, progress, cancelled
                ) -> _Pass:
    total = _Pass(numeric, categorical)
    for df, lines in _chunks(path, names, cancelled):
        total.add(_Chunk(df, lines, numeric, categorical, target, rule))
        if progress is not None:
            progress(f"reading {path}: {total.rows:,} rows", None)
    if total.rows < 2:
        raise cf.too_few_rows(path)
    if rule != "refuse":
        for j, c in enumerate(numeric):
            if total.odd[j] > 0.5 * max(1, total.seen[j]):
                raise cf.mostly_text(path, c, total.example[j])
    if rule == "refuse" and total.first is not None and (
            total.first_empty_target is None or total.first[0] <= total.first_empty_target):
        p = cf._Problems(0)
        p.first, p.cells, p.rows = total.first, total.cells, np.ones(total.problem_rows, bool)
        raise cf._refuse(path, p)
    if total.first_empty_target is not None and rule == "refuse":
        raise cf.target_empty(path, total.first_empty_target, target)
    if total.rows - total.dropped < 2:
        raise cf.no_rows_left(path, total.dropped, total.rows)
    return total


def _key(path: Path, o) -> str:
    st = path.stat()
    what = [FORMAT, str(path.resolve()), st.st_size, st.st_mtime_ns] + [
        o[k] for k in ("target", "task", "roles", "missing")]
    return hashlib.sha256(json.dumps(what).encode()).hexdigest()[:24]


def _finished(ch: _Chunk, means, cats, roles, feats, labels, regression):
    """A chunk's kept rows as the table's float32 rows (filled, encoded) and targets."""
    import polars as pl

    keep = ch.keep.copy()
    raw_y = ch.y.filter(pl.Series(keep))
    if regression:  # a target that is not a number is dropped after the fill means
        good = np.isfinite(raw_y.cast(pl.Float64, strict=False).to_numpy())
        raw_y = raw_y.filter(pl.Series(good))
        keep[keep] = good
    xn, bad = ch.x[keep], ch.bad[keep]
    xn[bad] = np.take(means, np.nonzero(bad)[1])
    blocks = {c: xn[:, j:j + 1] for j, c in enumerate(ch.numeric)}
    for c in ch.text:
        values = ch.text[c].fill_null(cf.MISSING_CATEGORY).filter(pl.Series(keep))
        blocks[c] = cf.encode(cf.class_ids(values, cats[c]), roles[c], len(cats[c]))
    x = np.ascontiguousarray(np.concatenate([blocks[c] for c in feats], axis=1), np.float32)
    return x, cf.regression_y(raw_y) if regression else cf.class_ids(raw_y, labels)


def _convert(o, folder: Path, key: str, progress, cancelled=None) -> dict:
    """Both passes: the table to `key`.x.npy, the targets to `key`.y.npy; returns what the
    DataInfo needs (also saved, as `key`.json)."""
    import polars as pl

    path, names, target, roles, feats, numeric = cf.columns(o)
    categorical = [c for c in feats if c not in numeric]
    rule = o["missing"]
    total = _first_pass(path, names, numeric, categorical, target, rule, progress, cancelled)
    notes = []
    if total.dropped:
        notes.append(cf.dropped_note(path, total.dropped, total.rows, rule))
    if total.filled:
        notes.append(cf.filled_note(path, total.filled))
    means = (total.sums / np.maximum(1, total.counts)).astype(np.float32)
    cats = {c: cf._label_order(list(total.categories[c])) for c in categorical}
    shown = {c: [c] for c in numeric}
    for c in categorical:
        shown[c] = cf.column_names(c, roles[c], cats[c])
        notes.append(cf.category_note(c, roles[c], cats[c]))
    task, more, labels = cf.decide_task(path, target, o["task"], total.target, rule)
    notes += more
    regression = task == REGRESSION
    rows = total.target.numbers if regression else total.target.rows
    width = sum(len(shown[c]) for c in feats)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f"{key}.{os.getpid()}.part"
    y = np.empty((rows, 1), np.float32) if regression else np.empty(rows, np.int64)
    at = 0
    try:
        # plain writes, not a writable memory map: written pages then never count in this
        # process's memory while they wait to reach the disk
        with open(part, "wb") as out:
            np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(
                np.dtype(np.float32)), "fortran_order": False, "shape": (rows, width)})
            for df, lines in _chunks(path, names, cancelled):
                ch = _Chunk(df, lines, numeric, categorical, target, rule)
                xs, ys = _finished(ch, means, cats, roles, feats, labels, regression)
                out.write(xs.tobytes())
                n = len(ys)
                y[at:at + n] = ys
                at += n
                if progress is not None:
                    progress(f"converting {path}: {at:,} of {rows:,} rows", at / max(1, rows))
        np.save(folder / f"{key}.y.npy", y)
        meta = {"task": task, "labels": labels, "notes": notes, "width": width,
                "feature_names": [n for c in feats for n in shown[c]],
                "source": str(path.resolve())}
        (folder / f"{key}.json").write_text(json.dumps(meta))
        os.replace(part, folder / f"{key}.x.npy")  # last: only a finished table is found
    finally:
        part.unlink(missing_ok=True)
    return meta


def _cached(path: Path, o, progress, cancelled=None):
    """(memory-mapped table, targets, meta), converting the file on first use (and again
    when a cached entry turns out damaged)."""
    folder, key = cache_dir("csv"), _key(path, o)
    files = [folder / f"{key}.{s}" for s in ("x.npy", "y.npy", "json")]
    for attempt in (1, 2):
        if not all(f.exists() for f in files):
            _convert(o, folder, key, progress, cancelled)
            _forget_older(folder, key, str(path.resolve()))
        try:
            meta = json.loads(files[2].read_text())
            x, y = np.load(files[0], mmap_mode="r"), np.load(files[1], allow_pickle=False)
            if x.shape != (len(y), meta["width"]) or x.dtype != np.float32:
                raise ValueError(f"a {x.shape} {x.dtype} table for {len(y)} targets")
            return x, y, meta
        except (OSError, ValueError, KeyError) as e:
            for f in files:
                f.unlink(missing_ok=True)
            if attempt == 2:
                raise DataError(f"{path}: its table in the cache {folder} could not be read "
                                f"back ({e})") from None


def _forget_older(folder: Path, key: str, source: str) -> None:
    """Removes the cached tables of earlier versions of the same file (or options)."""
    for meta in folder.glob("*.json"):
        other = meta.name[:-len(".json")]
        if other == key:
            continue
        try:
            if json.loads(meta.read_text()).get("source") != source:
                continue
        except (OSError, ValueError):
            continue
        for f in (f"{other}.x.npy", f"{other}.y.npy", f"{other}.json"):
            (folder / f).unlink(missing_ok=True)


def _train_stats(table: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation over `rows`, read in steps (two passes, as
    numpy's std, so the values equal the in-memory ones)."""
    total = np.zeros(table.shape[1])
    steps = [rows[i:i + STATS_ROWS] for i in range(0, len(rows), STATS_ROWS)]
    for r in steps:
        total += table[r].sum(0, dtype=np.float64)
    mean = total / len(rows)
    squares = np.zeros(table.shape[1])
    for r in steps:
        squares += ((table[r].astype(np.float64) - mean) ** 2).sum(0)
    std = np.sqrt(squares / len(rows)).astype(np.float32)
    std[std < 1e-8] = 1.0
    return mean.astype(np.float32), std


def _info(meta: dict) -> DataInfo:
    if meta["task"] == CLASSIFICATION:
        return DataInfo((meta["width"],), "float32", CLASSIFICATION, CLASS,
                        len(meta["labels"]), tuple(meta["labels"]), notes=tuple(meta["notes"]))
    return DataInfo((meta["width"],), "float32", REGRESSION, REAL, notes=tuple(meta["notes"]))


def _fits(o) -> bool:
    path, names, *_ = cf.columns(o)
    return table_bytes(path, len(names) - 1) <= memory_budget(o["memory_mb"])


def quick_info(o) -> DataInfo:
    """The DataInfo: of the in-memory load, or of the cached table (made on first use)."""
    if _fits(o):
        return cf.load_csv(o).info
    return _info(_cached(cf.columns(o)[0], o, None)[2])


def preview(o, progress=None, cancelled=None) -> dict:
    """The Data panel's table preview: up to PREVIEW_ROWS rows; a file above the budget
    is converted (once) and sampled from its cached table, never read whole."""
    if _fits(o):
        raw = cf.load_csv(o)
        x, y, info, columns = raw.x, raw.y, raw.info, raw.feature_names
    else:
        x, y, meta = _cached(cf.columns(o)[0], o, progress, cancelled)
        info, columns = _info(meta), tuple(meta["feature_names"])
    n = len(y)
    n_test, n_val = int(round(n * o["test_fraction"])), int(round(n * o["val_fraction"]))
    rng = np.random.default_rng(0)
    idx = np.arange(n) if n <= PREVIEW_ROWS else np.sort(
        rng.choice(n, PREVIEW_ROWS, replace=False))
    return {"info": info, "image": False, "ordered": False, "augmentable": False,
            "counts": (n - n_val - n_test, n_val, n_test), "columns": columns,
            "x": np.asarray(x[idx]), "y": y[idx]}


def streamed(name: str, o, seed: int, progress=None) -> StreamedTable:
    from .prepare import split_indices

    path = cf.columns(o)[0]
    table, y, meta = _cached(path, o, progress)
    if len(y) < 10:
        raise DataError(f"dataset {name!r}: only {len(y)} samples; at least 10 are needed "
                        f"to split into train, validation and test")
    classes = meta["task"] == CLASSIFICATION
    parts = split_indices(y, o["val_fraction"], o["test_fraction"], seed, False, classes)
    if len(parts[0]) < 2:
        raise DataError(f"dataset {name!r}: the training split is empty; lower val_fraction "
                        f"or test_fraction")
    mean = std = None
    if o["normalize"]:
        mean, std = _train_stats(table, parts[0])
    splits = [Split(torch.from_numpy(ids), torch.from_numpy(y[ids])) for ids in parts]
    data = StreamedTable(name, _info(meta), *splits, mean=mean, std=std)
    data.table, data.feature_names = table, tuple(meta["feature_names"])
    return data


class StreamedTable(PreparedData):
    """PreparedData whose splits hold row numbers (`Split.x`) of a memory-mapped table."""

    table: np.ndarray = None
    feature_names: tuple = ()

    def batch(self, split: Split, idx, train: bool = False):
        rows = split.x[idx].numpy()
        x = torch.from_numpy(np.ascontiguousarray(self.table[rows]))
        return self._normalize(x), split.y[idx]
