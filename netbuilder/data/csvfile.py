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
from dataclasses import dataclass, field
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
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as e:
        raise read_error(path, e, len(names)) from None
    lines = np.arange(2, len(df) + 2)
    blank = df.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy()
    if blank.any():
        df, lines = df.filter(~pl.Series(blank)), lines[~blank]
    return df, lines


def read_error(path, e, width) -> DataError:
    """polars' error reading `path` as a message for a person."""
    import polars as pl

    if isinstance(e, pl.exceptions.NoDataError):
        return DataError(f"{path}: needs a header row and at least two data rows")
    if "more fields" in str(e):
        return DataError(_long_row(path, width))
    if "utf-8" in str(e).lower() or "utf8" in str(e).lower():
        return DataError(f"{path}: is not UTF-8 text; save the CSV as UTF-8")
    return DataError(f"{path}: not a readable CSV file ({str(e).splitlines()[0]})")


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


def columns(o):
    """(path, header names, target, roles, features, numeric features) from the options,
    checked against the file's header."""
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
    numeric = [c for c in feats if roles.get(c, "feature") == "feature"]
    return path, names, target, roles, feats, numeric


def too_few_rows(path) -> DataError:
    return DataError(f"{path}: needs a header row and at least two data rows")


def mostly_text(path, column, example) -> DataError:
    return DataError(f"{path}, column {column!r}: most values are not numbers (e.g. "
                     f"{example!r}); give it a role: option roles, e.g. {column}=onehot, "
                     f"{column}=index or {column}=ignore")


def target_empty(path, line, target) -> DataError:
    return DataError(f"{path}, line {line}, column {target!r}: the target cell is empty; fill "
                     f"it in or drop the row (or set the option missing to drop)")


def no_rows_left(path, dropped, total) -> DataError:
    return DataError(f"{path}: no rows left after dropping those with missing cells "
                     f"({dropped:,} of {total:,}); use missing=fill")


def dropped_note(path, dropped, total, rule) -> str:
    return (f"{path}: dropped {dropped:,} of {total:,} rows with missing or non-numeric cells "
            f"(option missing={rule})")


def filled_note(path, cells) -> str:
    return (f"{path}: filled {cells:,} missing or non-numeric cells with their column's mean "
            f"(option missing=fill)")


def category_note(column, role, cats) -> str:
    if role == "onehot":
        return f"column {column!r}: one-hot, {len(cats)} columns ({_few(cats)})"
    return f"column {column!r}: category index 0..{len(cats) - 1} ({_few(cats)})"


def load_csv(o) -> RawData:
    import polars as pl

    path, names, target, roles, feats, numeric = columns(o)
    df, lines = _read(path, names, target)
    if len(df) < 2:
        raise too_few_rows(path)
    rule = o["missing"]
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
            raise mostly_text(path, c, shown[int(np.argmax(odd))])
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
        raise target_empty(path, lines[np.argmax(y_missing)], target)
    drop = y_missing | problems.rows if rule == "drop" else y_missing
    keep = ~drop
    if keep.sum() < 2:
        raise no_rows_left(path, int(drop.sum()), len(df))
    notes = []
    if drop.any():
        notes.append(dropped_note(path, int(drop.sum()), len(df), rule))
        x_num, bad = x_num[keep], bad[keep]
    if bad.any():  # fill: each column's mean over its numbers
        means = np.where(bad, 0.0, x_num).sum(0) / np.maximum(1, (~bad).sum(0))
        x_num[bad] = np.take(means, np.nonzero(bad)[1])
        notes.append(filled_note(path, int(bad.sum())))
    blocks = {c: x_num[:, j:j + 1] for j, c in enumerate(numeric)}
    shown = {c: [c] for c in numeric}  # the preview's column names
    for c, text in categorical.items():
        values = text.fill_null(MISSING_CATEGORY).filter(pl.Series(keep))
        cats = _label_order(values.unique().to_list())
        codes = values.replace_strict(cats, list(range(len(cats))),
                                      return_dtype=pl.Int64).to_numpy()
        shown[c] = column_names(c, roles[c], cats)
        blocks[c] = encode(codes, roles[c], len(cats))
        notes.append(category_note(c, roles[c], cats))
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


def column_names(column, role, cats) -> list[str]:
    return [f"{column}={v}" for v in cats] if role == "onehot" else [column]


def encode(codes, role, n_cats) -> np.ndarray:
    """Category numbers -> float32 input columns: one-hot, or the number itself."""
    if role == "onehot":
        return np.eye(n_cats, dtype=np.float32)[codes]
    return codes.astype(np.float32)[:, None]


def _few(cats) -> str:
    return ", ".join(cats[:4]) + (", …" if len(cats) > 4 else "")


@dataclass
class TargetSummary:
    """What deciding the task needs to know of the target column (rows kept, no missing
    cells), gathered in one go (in memory) or chunk by chunk (streamed files)."""
    distinct: set = field(default_factory=set)  # the values, as text
    rows: int = 0
    numbers: int = 0  # cells that are finite numbers
    whole: bool = True  # every number is a whole number
    odd: list = field(default_factory=list)  # the first few distinct non-numbers, in order
    odd_cells: int = 0
    first_odd: tuple | None = None  # (line, value) of the first non-number

    def add(self, raw_y, lines) -> np.ndarray:
        """Counts a block of target text; returns which of its cells are numbers."""
        import polars as pl

        nums = raw_y.cast(pl.Float64, strict=False).to_numpy()  # nan: not a number
        good = np.isfinite(nums)
        self.distinct.update(raw_y.unique().to_list())
        self.rows += len(good)
        self.numbers += int(good.sum())
        self.whole = self.whole and bool(np.all(nums[good] == np.floor(nums[good])))
        if not good.all():
            odd = raw_y.filter(pl.Series(~good))
            self.odd_cells += len(odd)
            for v in odd.unique(maintain_order=True).head(4).to_list():
                if v not in self.odd and len(self.odd) < 4:
                    self.odd.append(v)
            if self.first_odd is None:
                self.first_odd = (int(lines[int(np.argmax(~good))]), odd[0])
        return good


def decide_task(path, target, task, t: TargetSummary, rule) -> tuple[str, tuple, list]:
    """(task, notes, class names) for the target, or the DataError its values call for."""
    def where():
        return f"{path}, line {t.first_odd[0]}, column {target!r}"

    notes = ()
    if task == "auto":
        task, why = _guess(t, where, rule)
        notes += (f"{path}: the target column {target!r} is taken as {task}: {why}; set the "
                  f"dataset option task to {_other(task)} to change this",)
    if task == REGRESSION:
        if t.odd_cells:
            if rule == "refuse":
                raise DataError(f"{where()}: {t.first_odd[1]!r} is not a number, so it cannot "
                                f"be a regression target (fix the cell, or set task to "
                                f"classification)")
            notes += (f"{path}: dropped {t.odd_cells:,} rows whose target is not a number "
                      f"(option missing={rule})",)
        return task, notes, []
    labels = _label_order(list(t.distinct))
    if len(labels) < 2:
        raise DataError(f"{path}, column {target!r}: has a single value {labels[0]!r}; a "
                        f"classification target needs at least two classes")
    return task, notes, labels


def regression_y(raw_y) -> np.ndarray:
    import polars as pl

    return raw_y.cast(pl.Float64, strict=False).to_numpy().astype(np.float32)[:, None]


def class_ids(raw_y, labels) -> np.ndarray:
    import polars as pl

    return raw_y.replace_strict(labels, list(range(len(labels))), return_dtype=pl.Int64
                                ).to_numpy()


def _target(path, target, task, x, raw_y, lines, notes, rule):
    """The target column (polars text, no missing cells) -> y, and the task."""
    import polars as pl

    summary = TargetSummary()
    good = summary.add(raw_y, lines)
    task, more, labels = decide_task(path, target, task, summary, rule)
    notes = notes + more
    if task == REGRESSION:
        if not good.all():
            x, raw_y = x[good], raw_y.filter(pl.Series(good))
        return RawData(x, regression_y(raw_y),
                       DataInfo((x.shape[1],), "float32", REGRESSION, REAL, notes=notes))
    return RawData(x, class_ids(raw_y, labels), DataInfo(
        (x.shape[1],), "float32", CLASSIFICATION, CLASS, len(labels), tuple(labels),
        notes=notes))


def _guess(t: TargetSummary, where, rule) -> tuple[str, str]:
    """classification or regression, and why, from the target's values."""
    distinct = len(t.distinct)
    if not t.odd_cells:
        if t.whole and distinct <= MAX_CLASSES_AUTO:
            return CLASSIFICATION, (f"its values are {distinct} distinct whole numbers (at "
                                    f"most {MAX_CLASSES_AUTO} are taken as classes)")
        kind = "whole numbers" if t.whole else "numbers"
        return REGRESSION, f"its values are {kind} with {distinct} distinct values"
    if t.numbers >= 0.5 * t.rows and len(t.odd) <= 3:
        if rule != "refuse":
            return REGRESSION, (f"its values are numbers but for {t.odd_cells:,} cells such "
                                f"as {t.odd[0]!r}")
        raise DataError(f"{where()}: {t.first_odd[1]!r} is not a number, but the other "
                        f"values of this column are; fix this cell (or drop the row). If the "
                        f"values are class names, set the dataset option task to "
                        f"classification")
    names = t.odd[:3]
    return CLASSIFICATION, f"its values are names such as {', '.join(repr(v) for v in names)}"


def _other(task: str) -> str:
    return REGRESSION if task == CLASSIFICATION else CLASSIFICATION
