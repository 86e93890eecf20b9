"""The csv dataset: a CSV file with a header row, read by polars.

Why polars: on the bench's 300,000-row, 21-column file (bench/bench_data.py) it read the
table in about a quarter of numpy.loadtxt's time and gives the whole numeric table as one
array in one call; pyarrow's reader was as fast on a quiet machine but slower under load,
and its type inference cannot turn an odd cell into "missing" without a second pass.

Column roles (option `roles`, e.g. "colour=onehot, id=ignore"): every column but the
target is a numeric `feature` unless given `ignore`, `onehot` (one 0/1 column per value)
or `index` (the value's number 0..k-1, for an Embedding). Missing cells (empty, short rows,
nan/inf) and cells that are not numbers follow the option `missing`:

- refuse (the default): the load fails, naming the first such cell by line and column
  and counting the others;
- drop: rows with any such cell are left out;
- fill: a numeric cell becomes its column's mean, a categorical one the category
  "(missing)"; a row whose target is missing is still dropped (a target is never made up).

What was dropped or filled is counted in the dataset's notes (printed by `netbuilder
train`, shown in the Data panel).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .registry import CLASS, CLASSIFICATION, REAL, REGRESSION, DataError, DataInfo, RawData

MAX_CLASSES_AUTO = 20  # "auto": a whole-number target with at most this many values is a class
ROLES = ("feature", "ignore", "onehot", "index")
MISSING = ("refuse", "drop", "fill")
MISSING_CATEGORY = "(missing)"


def _path(o) -> Path:
    if not o["path"]:
        raise DataError("set the dataset option path to the folder or file to read")
    p = Path(os.path.expanduser(o["path"]))
    if not p.exists():
        raise DataError(f"{p}: no such file or folder")
    if not p.is_file():
        raise DataError(f"{p}: is not a file")
    return p


def header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.reader(f):
                if any(c.strip() for c in row):
                    return [h.strip() for h in row]
    except UnicodeDecodeError:
        raise DataError(f"{path}: is not UTF-8 text; save the CSV as UTF-8") from None
    except csv.Error as e:
        raise DataError(f"{path}: not a readable CSV file ({e})") from None
    raise DataError(f"{path}: needs a header row and at least two data rows")


def parse_roles(text: str, columns: list[str], path) -> dict[str, str]:
    """"a=onehot, b=ignore" -> {"a": "onehot", "b": "ignore"}, checked against the header."""
    roles = {}
    for part in (p.strip() for p in (text or "").replace(";", ",").split(",")):
        if not part:
            continue
        name, eq, role = (s.strip() for s in part.rpartition("="))
        if not eq or not name:
            raise DataError(f"{path}: option roles: {part!r} should read column=role "
                            f"(roles: {', '.join(ROLES)})")
        if name not in columns:
            raise DataError(f"{path}: option roles names no column {name!r} (columns: "
                            f"{', '.join(columns)})")
        if role not in ROLES:
            raise DataError(f"{path}: option roles: {role!r} for column {name!r} is not a "
                            f"role; use one of {', '.join(ROLES)}")
        roles[name] = role
    return roles


def _read(path: Path, names: list[str], target: str):
    """The table as polars columns (the target as text), with blank lines removed; and
    the file line of each row."""
    import polars as pl

    kw = dict(schema_overrides={target: pl.Utf8}, new_columns=names, infer_schema_length=10_000)
    try:
        try:
            df = pl.read_csv(path, **kw)
        except pl.exceptions.ComputeError as e:
            if "more fields" in str(e):
                raise
            df = pl.read_csv(path, infer_schema=False, new_columns=names)  # odd cells later on
    except pl.exceptions.ComputeError as e:
        if "more fields" in str(e):
            raise DataError(_long_row(path, len(names))) from None
        if "utf-8" in str(e).lower() or "utf8" in str(e).lower():
            raise DataError(f"{path}: is not UTF-8 text; save the CSV as UTF-8") from None
        raise DataError(f"{path}: not a readable CSV file ({str(e).splitlines()[0]})") from None
    except pl.exceptions.NoDataError:
        raise DataError(f"{path}: needs a header row and at least two data rows") from None
    lines = np.arange(2, len(df) + 2)
    blank = df.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy()
    if blank.any():
        df, lines = df.filter(~pl.Series(blank)), lines[~blank]
    return df, lines


def _long_row(path, width) -> str:
    with open(path, newline="", encoding="utf-8-sig") as f:
        for i, row in enumerate(csv.reader(f), start=1):
            if len(row) > width:
                return f"{path}, line {i}: has {len(row)} fields, the header has {width}"
    return f"{path}: a row has more fields than the header ({width})"


def _numbers(col):
    """float64 values (nan where missing or not a number) and a mask of cells that held
    text which is not a number."""
    import polars as pl

    if col.dtype == pl.Utf8:
        text = col.str.strip_chars()
        text = text.set(text == "", None)
        values = text.cast(pl.Float64, strict=False)
        odd = (values.is_null() & text.is_not_null()).to_numpy()
    else:
        values, odd = col.cast(pl.Float64), np.zeros(len(col), bool)
    v = values.to_numpy().astype(np.float64, copy=False)
    odd = odd | np.isinf(v) | (np.isnan(v) & ~values.is_null().to_numpy())  # nan, inf cells
    return np.where(np.isfinite(v), v, np.nan), odd


def _text(col):
    import polars as pl

    t = col.cast(pl.Utf8).str.strip_chars()
    return t.set(t == "", None)


def _label_order(values) -> list[str]:
    def key(v):
        try:
            f = float(v)
        except ValueError:
            return (1, 0.0, v)
        return (0, f, v)
    return sorted(values, key=key)


class _Problems:
    """Missing or non-numeric cells: the first one for the message, and the counts."""

    def __init__(self, n):
        self.rows = np.zeros(n, bool)
        self.cells, self.first = 0, None

    def add(self, mask, column, values, lines):
        if mask.any():
            i = int(np.argmax(mask))
            if self.first is None or lines[i] < self.first[0]:
                self.first = (int(lines[i]), column, values[i])
            self.cells += int(mask.sum())
            self.rows |= mask


def _refuse(path, p: _Problems) -> DataError:
    line, column, value = p.first
    what = ("is empty" if value is None else f"{str(value)!r} is not a number")
    more = ""
    if p.cells > 1:
        more = f" ({p.cells:,} such cells in {int(p.rows.sum()):,} rows)"
    return DataError(f"{path}, line {line}, column {column!r}: {what}; feature columns must be "
                     f"numeric{more}. Set the option missing to drop or fill to skip or fill "
                     f"such cells, or give a text column a role (option roles, e.g. "
                     f"{column}=onehot, or {column}=ignore)")


def load_csv(o) -> RawData:
    import polars as pl

    path = _path(o)
    names = header(path)
    target = o["target"] or names[-1]
    if target not in names:
        raise DataError(f"{path}: no column {target!r} (columns: {', '.join(names)}); set "
                        f"the dataset option target to one of them")
    roles = parse_roles(o["roles"], names, path)
    feats = [c for c in names if c != target and roles.get(c) != "ignore"]
    if not feats:
        raise DataError(f"{path}: the target {target!r} is the only column; there are no "
                        f"input features")
    df, lines = _read(path, names, target)
    if len(df) < 2:
        raise DataError(f"{path}: needs a header row and at least two data rows")
    rule = o["missing"]
    problems = _Problems(len(df))
    blocks, notes, filled = [], [], 0
    for c in feats:
        role = roles.get(c, "feature")
        if role in ("onehot", "index"):
            text = _text(df[c])
            miss = text.is_null().to_numpy()
            problems.add(miss, c, [None] * len(miss), lines)
            blocks.append((c, role, text))
            continue
        values, odd = _numbers(df[c])
        miss = np.isnan(values)
        if odd.sum() > 0.5 * max(1, (~miss | odd).sum()) and rule != "refuse":
            raise DataError(f"{path}, column {c!r}: most values are not numbers (e.g. "
                            f"{df[c][int(np.argmax(odd))]!r}); give it a role: option roles, "
                            f"e.g. {c}=onehot, {c}=index or {c}=ignore")
        shown = np.where(odd, df[c].cast(pl.Utf8).to_numpy(), None) if odd.any() else \
            [None] * len(values)
        problems.add(miss, c, shown, lines)
        blocks.append((c, role, values))
    raw_y = _text(df[target])
    y_missing = raw_y.is_null().to_numpy()
    if rule == "refuse" and problems.first is not None and (
            not y_missing.any() or problems.first[0] <= lines[np.argmax(y_missing)]):
        raise _refuse(path, problems)
    if y_missing.any() and rule == "refuse":
        raise DataError(f"{path}, line {lines[np.argmax(y_missing)]}, column {target!r}: the "
                        f"target cell is empty; fill it in or drop the row (or set the option "
                        f"missing to drop)")
    drop = y_missing | (problems.rows if rule == "drop" else False)
    x_cols = []
    for c, role, values in blocks:
        if role in ("onehot", "index"):
            values = values.fill_null(MISSING_CATEGORY).to_numpy()[~drop]
            cats = _label_order(set(values.tolist()))
            codes = _codes(values, cats)
            if role == "onehot":
                x_cols.append(np.eye(len(cats), dtype=np.float32)[codes])
                notes.append(f"column {c!r}: one-hot, {len(cats)} columns ({_few(cats)})")
            else:
                x_cols.append(codes.astype(np.float32)[:, None])
                notes.append(f"column {c!r}: category index 0..{len(cats) - 1} "
                             f"({_few(cats)})")
            continue
        v = values[~drop]
        gaps = np.isnan(v)
        if gaps.any():  # fill
            mean = np.nanmean(v) if (~gaps).any() else 0.0
            v = np.where(gaps, mean, v)
            filled += int(gaps.sum())
        x_cols.append(v.astype(np.float32)[:, None])
    if drop.sum():
        notes.append(f"{path}: dropped {int(drop.sum()):,} of {len(df):,} rows with missing or "
                     f"non-numeric cells (option missing={rule})")
    if filled:
        notes.append(f"{path}: filled {filled:,} missing or non-numeric cells with their "
                     f"column's mean (option missing=fill)")
    keep = ~drop
    if keep.sum() < 2:
        raise DataError(f"{path}: no rows left after dropping those with missing cells "
                        f"({int(drop.sum()):,} of {len(df):,}); use missing=fill")
    x = np.ascontiguousarray(np.concatenate(x_cols, axis=1), np.float32)
    nums = raw_y.cast(pl.Float64, strict=False).to_numpy()[keep]
    return _target(path, target, o["task"], x, raw_y.to_numpy()[keep], nums, lines[keep],
                   tuple(notes), rule)


def _few(cats) -> str:
    return ", ".join(cats[:4]) + (", …" if len(cats) > 4 else "")


def _codes(values: np.ndarray, order: list[str]) -> np.ndarray:
    uniq, inverse = np.unique(values.astype(str), return_inverse=True)
    where = {v: i for i, v in enumerate(order)}
    return np.array([where[u] for u in uniq], np.int64)[inverse]


def _target(path, target, task, x, raw_y, nums, lines, notes, rule):
    def where(i):
        return f"{path}, line {lines[i]}, column {target!r}"

    text = raw_y.astype(str)
    nums = np.asarray(nums, np.float64)  # per row: the value, or nan when it is not a number
    uniq = np.unique(text)
    good = np.isfinite(nums)
    if task == "auto":
        task, why = _guess(uniq, nums, good, text, where, rule)
        notes = notes + (f"{path}: the target column {target!r} is taken as {task}: {why}; "
                         f"set the dataset option task to {_other(task)} to change this",)
    if task == REGRESSION:
        if not good.all():
            bad = int(np.argmax(~good))
            if rule == "refuse":
                raise DataError(f"{where(bad)}: {str(text[bad])!r} is not a number, so it cannot "
                                f"be a regression target (fix the cell, or set task to "
                                f"classification)")
            notes = notes + (f"{path}: dropped {int((~good).sum()):,} rows whose target is "
                             f"not a number (option missing={rule})",)
            x, nums = x[good], nums[good]
        return RawData(x, nums.astype(np.float32)[:, None],
                       DataInfo((x.shape[1],), "float32", REGRESSION, REAL, notes=notes))
    labels = _label_order(uniq.tolist())
    if len(labels) < 2:
        raise DataError(f"{path}, column {target!r}: has a single value {labels[0]!r}; a "
                        f"classification target needs at least two classes")
    y = _codes(text, labels)
    return RawData(x, y, DataInfo((x.shape[1],), "float32", CLASSIFICATION, CLASS,
                                  len(labels), tuple(labels), notes=notes))


def _guess(uniq, nums, good, text, where, rule) -> tuple[str, str]:
    """classification or regression, and why, from the target's values."""
    distinct = len(uniq)
    if good.all():
        whole = bool(np.all(nums == np.floor(nums)))
        if whole and distinct <= MAX_CLASSES_AUTO:
            return CLASSIFICATION, (f"its values are {distinct} distinct whole numbers (at "
                                    f"most {MAX_CLASSES_AUTO} are taken as classes)")
        kind = "whole numbers" if whole else "numbers"
        return REGRESSION, f"its values are {kind} with {distinct} distinct values"
    odd = np.unique(text[~good])
    if good.mean() >= 0.5 and len(odd) <= 3:
        if rule != "refuse":
            return REGRESSION, (f"its values are numbers but for {int((~good).sum()):,} "
                                f"cells such as {str(odd[0])!r}")
        bad = int(np.argmax(~good))
        raise DataError(f"{where(bad)}: {str(text[bad])!r} is not a number, but the other "
                        f"values of this column are; fix this cell (or drop the row). If the "
                        f"values are class names, set the dataset option task to "
                        f"classification")
    names = [v for v in dict.fromkeys(text[~good].tolist())][:3]
    return CLASSIFICATION, f"its values are names such as {', '.join(repr(v) for v in names)}"


def _other(task: str) -> str:
    return REGRESSION if task == CLASSIFICATION else CLASSIFICATION
