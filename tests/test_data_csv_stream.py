"""A CSV whose float32 table is larger than the memory budget is streamed from a
memory-mapped table in the user cache: same rules, notes, errors, splits and normalized
values as the in-memory reader, and a training run works on it."""
import numpy as np
import pytest
import torch

import netbuilder.data.csvstream as csvstream
from netbuilder.data import DataError, load
from netbuilder.data.resources import cache_dir

TINY = 0.01  # MB: far below the test files' tables, so they stream


def write_csv(path, rows=3000, seed=0, spoil=True, regression=False):
    """Three numeric columns, a colour (one-hot), a size (index), an id (ignored), and a
    target that depends on x1; a few empty and non-numeric cells when `spoil`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)) * [1, 10, 0.1] + [0, 5, -3]
    colours = rng.choice(["red", "green", "blue"], rows)
    sizes = rng.choice(["S", "M", "L", "XL"], rows)
    lines = ["id,x1,x2,x3,colour,size,label"]
    for i in range(rows):
        cells = [str(i), f"{x[i, 0]:.5f}", f"{x[i, 1]:.5f}", f"{x[i, 2]:.5f}", colours[i],
                 sizes[i], f"{x[i, 0] * 2 + 1:.4f}" if regression else
                 ("yes" if x[i, 0] > 0 else "no")]
        if spoil and i % 97 == 5:
            cells[2] = ""  # empty numeric cell
        if spoil and i % 211 == 7:
            cells[3] = "n/a"  # not a number
        if spoil and i % 389 == 11:
            cells[4] = ""  # missing category
        if spoil and i % 499 == 13:
            cells[6] = ""  # missing target
        lines.append(",".join(cells))
        if i == 100:
            lines.append("")  # a blank line is skipped, not a row
    path.write_text("\n".join(lines) + "\n")
    return path


def options(path, **more):
    return {"path": str(path), "roles": "id=ignore, colour=onehot, size=index", **more}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(csvstream, "CHUNK_BYTES", 30_000)  # several chunks in a small file


def all_rows(d, split):
    return d.batch(split, torch.arange(len(split)))


@pytest.mark.parametrize("missing", ["fill", "drop"])
def test_a_csv_larger_than_the_budget_streams_like_the_in_memory_load(
        tmp_path, small_chunks, missing):
    path = write_csv(tmp_path / "t.csv")
    memory = load("csv", options(path, missing=missing), seed=3)
    streamed = load("csv", options(path, missing=missing, memory_mb=TINY), seed=3)
    assert type(memory).__name__ == "PreparedData"
    assert type(streamed).__name__ == "StreamedTable"
    assert streamed.info == memory.info  # shape, classes and the notes (counts) alike
    notes = " | ".join(streamed.info.notes)
    assert ("filled" if missing == "fill" else "dropped") in notes
    colours = 4 if missing == "fill" else 3  # fill: "(missing)" is a colour too
    assert f"one-hot, {colours} columns" in notes and "category index 0..3" in notes
    for key in ("train", "val", "test"):
        a, b = getattr(streamed, key), getattr(memory, key)
        assert len(a) == len(b)
        xa, ya = all_rows(streamed, a)
        xb, yb = all_rows(memory, b)
        assert torch.equal(ya, yb)
        assert torch.allclose(xa, xb, atol=1e-4), (key, (xa - xb).abs().max())
    assert np.allclose(streamed.mean, memory.mean, rtol=1e-5, atol=1e-5)
    assert np.allclose(streamed.std, memory.std, rtol=1e-5)
    # the converted table is in the user cache, not beside the data
    assert list(cache_dir("csv").glob("*.x.npy")) and not list(tmp_path.glob("*.npy"))


def test_refuse_gives_the_same_error_as_the_in_memory_load(tmp_path, small_chunks):
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(DataError) as memory:
        load("csv", options(path), seed=0)
    with pytest.raises(DataError) as streamed:
        load("csv", options(path, memory_mb=TINY), seed=0)
    assert str(streamed.value) == str(memory.value)
    assert "line 7, column 'x2': is empty" in str(streamed.value)
    assert not list(cache_dir("csv").glob("*.npy"))  # nothing half-written left behind


def test_a_streamed_regression_target_and_a_text_column(tmp_path, small_chunks):
    path = write_csv(tmp_path / "r.csv", regression=True)
    memory = load("csv", options(path, missing="drop"), seed=1)
    streamed = load("csv", options(path, missing="drop", memory_mb=TINY), seed=1)
    assert streamed.info == memory.info and streamed.info.task == "regression"
    xa, ya = all_rows(streamed, streamed.train)
    xb, yb = all_rows(memory, memory.train)
    assert torch.allclose(ya, yb) and torch.allclose(xa, xb, atol=1e-4)
    with pytest.raises(DataError, match=r"column 'colour': most values are not numbers"):
        load("csv", {"path": str(path), "missing": "fill", "memory_mb": TINY})


def test_the_cached_table_is_reused_until_the_file_changes(tmp_path):
    path = write_csv(tmp_path / "t.csv", rows=800, spoil=False)
    first = load("csv", options(path, memory_mb=TINY), seed=0)
    tables = sorted(cache_dir("csv").glob("*.x.npy"))
    stamp = tables[0].stat().st_mtime_ns
    again = load("csv", options(path, memory_mb=TINY), seed=0)
    assert sorted(cache_dir("csv").glob("*.x.npy")) == tables
    assert tables[0].stat().st_mtime_ns == stamp  # read, not written again
    assert torch.equal(all_rows(first, first.val)[0], all_rows(again, again.val)[0])
    write_csv(path, rows=900, seed=1, spoil=False)
    changed = load("csv", options(path, memory_mb=TINY), seed=0)
    assert len(changed.train) + len(changed.val) + len(changed.test) == 900
    now = list(cache_dir("csv").glob("*.x.npy"))
    assert len(now) == 1 and now != tables  # a new table, the old one removed
    expected = all_rows(changed, changed.test)[0]
    now[0].unlink()  # (a new file: `changed` still maps the old one)
    now[0].write_bytes(b"not a table")  # damaged: converted again
    again = load("csv", options(path, memory_mb=TINY), seed=0)
    assert torch.equal(all_rows(again, again.test)[0], expected)


def test_a_training_run_on_a_streamed_csv_matches_the_in_memory_run(tmp_path):
    from netbuilder.training.trainer import Trainer
    from training_util import project

    path = write_csv(tmp_path / "t.csv", rows=2000)
    results = {}
    for budget in (TINY, 0):
        opts = options(path, missing="fill", memory_mb=budget)
        width = load("csv", opts).info.input_shape[0]
        p = project([("Linear", {"out_features": 16}), "ReLU",
                     ("Linear", {"out_features": 2})], (width,), "csv", opts, epochs=3,
                    batch_size=64, lr=0.01)
        t = Trainer(p)
        r = t.run()
        assert r.status == "completed", r.message
        results[type(t.data).__name__] = r.test["accuracy"]
    assert results["StreamedTable"] > 0.9  # the label is the sign of x1
    # the same rows, splits, order and normalization: the same model, up to rounding
    assert abs(results["StreamedTable"] - results["PreparedData"]) <= 0.01, results


def test_the_preview_and_the_info_of_a_large_csv_come_from_its_cached_table(
        tmp_path, small_chunks):
    from netbuilder.data import get
    from netbuilder.data.preview import PREVIEW_POINTS, load_preview

    path = write_csv(tmp_path / "t.csv", rows=2500)
    big = options(path, missing="drop", memory_mb=TINY)
    small = options(path, missing="drop")
    seen = []
    p = load_preview("csv", big, lambda message, fraction: seen.append(message))
    q = load_preview("csv", small)
    assert any("converting" in m for m in seen)
    assert p["info"] == q["info"] and p["counts"] == q["counts"]
    assert p["columns"] == q["columns"] and "colour=red" in p["columns"]
    assert len(p["x"]) == PREVIEW_POINTS and np.allclose(p["x"], q["x"], atol=1e-4)
    assert np.array_equal(p["y"], q["y"])
    spec = get("csv")
    assert spec.describe(big) == spec.describe(small) == q["info"]


def test_a_cancelled_conversion_leaves_nothing_behind(tmp_path, small_chunks):
    from netbuilder.data.preview import load_preview
    from netbuilder.data.resources import Cancelled

    path = write_csv(tmp_path / "t.csv", rows=2500, spoil=False)
    calls, chunks = [], len(list(csvstream._pieces(path)))
    assert chunks > 2

    def cancelled():
        calls.append(1)
        return len(calls) > chunks + 1  # stop while the table is being written

    with pytest.raises(Cancelled):
        load_preview("csv", options(path, memory_mb=TINY), None, cancelled)
    assert cache_dir("csv").is_dir()  # the second pass had begun writing
    assert not list(cache_dir("csv").glob("*"))  # and left no half-written table


def test_quoted_line_breaks_and_ragged_rows_read_as_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(csvstream, "CHUNK_BYTES", 64)  # a piece ends inside most rows
    rows = ["a,b,note,label"] + [f'{i},{i % 7},"line one\nline, two {i}",{i % 2}'
                                  for i in range(60)]
    rows[9] = "8,1"  # a short row: missing cells
    path = tmp_path / "q.csv"
    path.write_text("\n".join(rows) + "\n")
    o = {"path": str(path), "roles": "note=index", "missing": "drop"}
    memory = load("csv", o, seed=0)
    streamed = load("csv", {**o, "memory_mb": 0.0001}, seed=0)
    assert type(streamed).__name__ == "StreamedTable"
    assert streamed.info == memory.info and "dropped 1 of 60 rows" in streamed.info.notes[0]
    assert torch.equal(all_rows(streamed, streamed.train)[0], all_rows(memory, memory.train)[0])
    path.write_text("\n".join(rows[:20] + ["1,2,x,1,extra"] + rows[20:]) + "\n")
    with pytest.raises(DataError) as a:
        load("csv", o)
    with pytest.raises(DataError) as b:
        load("csv", {**o, "memory_mb": 0.0001})
    assert str(a.value) == str(b.value) and "has 5 fields, the header has 4" in str(a.value)
