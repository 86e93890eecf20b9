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
    numeric = [c for c in feats if roles.get(c, "feature") == "feature"]
    # every numeric feature in one float32 array: a missing, non-numeric, nan or inf cell
    # is nan here
    x_num = df.select([_as_number(pl.col(c), df[c].dtype) for c in numeric]).to_numpy(
        writable=True) if numeric else np.zeros((len(df), 0), np.float32)
    bad = ~np.isfinite(x_num)
    x_num[bad] = np.nan
    problems = _Problems(len(df))
    for j in np.flatnonzero(bad.any(0)):
        c = numeric[j]
        text = df[c].cast(pl.Utf8).str.strip_chars()
        shown = text.set(text == "", None).to_numpy()
        odd = bad[:, j] & (shown != None)  # noqa: E711 (elementwise)
        if odd.sum() > 0.5 * max(1, (~bad[:, j] | odd).sum()) and rule != "refuse":
            raise DataError(f"{path}, column {c!r}: most values are not numbers (e.g. "
                            f"{shown[int(np.argmax(odd))]!r}); give it a role: option roles, "
                            f"e.g. {c}=onehot, {c}=index or {c}=ignore")
        problems.add(bad[:, j], c, shown, lines)
    categorical = {c: _text(df[c]) for c in feats if c not in numeric}
    for c, text in categorical.items():
        miss = text.is_null().to_numpy()
        problems.add(miss, c, [None] * len(miss), lines)
    raw_y = _text(df[target])
    y_missing = raw_y.is_null().to_numpy()
    if rule == "refuse" and problems.first is not None and (
            not y_missing.any() or problems.first[0] <= lines[np.argmax(y_missing)]):
        raise _refuse(path, problems)
    if y_missing.any() and rule == "refuse":
        raise DataError(f"{path}, line {lines[np.argmax(y_missing)]}, column {target!r}: the "
                        f"target cell is empty; fill it in or drop the row (or set the option "
                        f"missing to drop)")
    drop = y_missing | problems.rows if rule == "drop" else y_missing
    keep = ~drop
    if keep.sum() < 2:
        raise DataError(f"{path}: no rows left after dropping those with missing cells "
                        f"({int(drop.sum()):,} of {len(df):,}); use missing=fill")
    notes = []
    if drop.any():
        notes.append(f"{path}: dropped {int(drop.sum()):,} of {len(df):,} rows with missing or "
                     f"non-numeric cells (option missing={rule})")
        x_num, bad = x_num[keep], bad[keep]
    if bad.any():  # fill: each column's mean over its numbers
        means = np.where(bad, 0.0, x_num).sum(0) / np.maximum(1, (~bad).sum(0))
        x_num[bad] = np.take(means, np.nonzero(bad)[1])
        notes.append(f"{path}: filled {int(bad.sum()):,} missing or non-numeric cells with "
                     f"their column's mean (option missing=fill)")
    blocks = {c: x_num[:, j:j + 1] for j, c in enumerate(numeric)}
    shown = {c: [c] for c in numeric}  # the preview's column names
    for c, text in categorical.items():
        values = text.fill_null(MISSING_CATEGORY).filter(pl.Series(keep))
        cats = _label_order(values.unique().to_list())
        codes = values.replace_strict(cats, list(range(len(cats))),
                                      return_dtype=pl.Int64).to_numpy()
        shown[c] = [f"{c}={v}" for v in cats] if roles[c] == "onehot" else [c]
        if roles[c] == "onehot":
            blocks[c] = np.eye(len(cats), dtype=np.float32)[codes]
            notes.append(f"column {c!r}: one-hot, {len(cats)} columns ({_few(cats)})")
        else:
            blocks[c] = codes.astype(np.float32)[:, None]
            notes.append(f"column {c!r}: category index 0..{len(cats) - 1} ({_few(cats)})")
    x = x_num if not categorical else np.concatenate([blocks[c] for c in feats], axis=1)
    raw = _target(path, target, o["task"], np.ascontiguousarray(x, np.float32),
                  raw_y.filter(pl.Series(keep)), lines[keep], tuple(notes), rule)
    raw.feature_names = tuple(n for c in feats for n in shown[c])
    return raw


def _as_number(expr, dtype):
    import polars as pl

    if dtype == pl.Utf8:  # text in the column: " 4 " is 4, "four" is missing
        expr = expr.str.strip_chars().cast(pl.Float64, strict=False)
    return expr.cast(pl.Float32)


def _few(cats) -> str:
    return ", ".join(cats[:4]) + (", …" if len(cats) > 4 else "")


def _target(path, target, task, x, raw_y, lines, notes, rule):
    """The target column (polars text, no missing cells) -> y, and the task."""
    import polars as pl

    def where(i):
        return f"{path}, line {lines[i]}, column {target!r}"

    nums = raw_y.cast(pl.Float64, strict=False).to_numpy()  # nan: not a number
    good = np.isfinite(nums)
    if task == "auto":
        task, why = _guess(raw_y, nums, good, where, rule)
        notes = notes + (f"{path}: the target column {target!r} is taken as {task}: {why}; "
                         f"set the dataset option task to {_other(task)} to change this",)
    if task == REGRESSION:
        if not good.all():
            bad = int(np.argmax(~good))
            if rule == "refuse":
                raise DataError(f"{where(bad)}: {raw_y[bad]!r} is not a number, so it cannot "
                                f"be a regression target (fix the cell, or set task to "
                                f"classification)")
            notes = notes + (f"{path}: dropped {int((~good).sum()):,} rows whose target is "
                             f"not a number (option missing={rule})",)
            x, nums = x[good], nums[good]
        return RawData(x, nums.astype(np.float32)[:, None],
                       DataInfo((x.shape[1],), "float32", REGRESSION, REAL, notes=notes))
    labels = _label_order(raw_y.unique().to_list())
    if len(labels) < 2:
        raise DataError(f"{path}, column {target!r}: has a single value {labels[0]!r}; a "
                        f"classification target needs at least two classes")
    y = raw_y.replace_strict(labels, list(range(len(labels))), return_dtype=pl.Int64)
    return RawData(x, y.to_numpy(), DataInfo((x.shape[1],), "float32", CLASSIFICATION, CLASS,
                                             len(labels), tuple(labels), notes=notes))


def _guess(raw_y, nums, good, where, rule) -> tuple[str, str]:
    """classification or regression, and why, from the target's values."""
    distinct = raw_y.n_unique()
    if good.all():
        whole = bool(np.all(nums == np.floor(nums)))
        if whole and distinct <= MAX_CLASSES_AUTO:
            return CLASSIFICATION, (f"its values are {distinct} distinct whole numbers (at "
                                    f"most {MAX_CLASSES_AUTO} are taken as classes)")
        kind = "whole numbers" if whole else "numbers"
        return REGRESSION, f"its values are {kind} with {distinct} distinct values"
    import polars as pl

    odd = raw_y.filter(pl.Series(~good))
    if good.mean() >= 0.5 and odd.n_unique() <= 3:
        if rule != "refuse":
            return REGRESSION, (f"its values are numbers but for {len(odd):,} cells such "
                                f"as {odd[0]!r}")
        bad = int(np.argmax(~good))
        raise DataError(f"{where(bad)}: {raw_y[bad]!r} is not a number, but the other "
                        f"values of this column are; fix this cell (or drop the row). If the "
                        f"values are class names, set the dataset option task to "
                        f"classification")
    names = odd.unique(maintain_order=True).head(3).to_list()
    return CLASSIFICATION, f"its values are names such as {', '.join(repr(v) for v in names)}"


def _other(task: str) -> str:
    return REGRESSION if task == CLASSIFICATION else CLASSIFICATION
