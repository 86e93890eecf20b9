"""Data at scale: image folders (first batch, epoch time against torchvision, peak memory
with a budget below the decoded size) and a 300,000-row CSV against numpy.loadtxt (and the
two fast readers, polars and pyarrow, against each other).

The folders and the CSV are generated once into NETBUILDER_BENCH_DATA (default: a folder in
the system temp dir) and reused by later runs. Peak memory is measured in a child process
per case, so one case's memory does not hide another's.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

IMAGE_PX = 48  # generated images are IMAGE_PX×IMAGE_PX PNGs ...
SIZE = 32  # ... resized to SIZE×SIZE
BATCH = 64
CLASSES = 4
CSV_ROWS, CSV_COLS = 300_000, 21
HERE = Path(__file__).resolve().parent.parent


def data_root() -> Path:
    root = Path(os.environ.get("NETBUILDER_BENCH_DATA")
                or Path(tempfile.gettempdir()) / "netbuilder-bench-data")
    root.mkdir(parents=True, exist_ok=True)
    return root


def image_folder(n: int) -> Path:
    """n PNG images in CLASSES class folders (smooth random blobs: real-ish compression)."""
    from PIL import Image

    root = data_root() / f"images_{n}"
    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(n)
    yy, xx = np.mgrid[0:IMAGE_PX, 0:IMAGE_PX] / IMAGE_PX
    for k in range(CLASSES):
        (root / f"class_{k}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        k = i % CLASSES
        c = rng.random((3, 1, 1))
        a = (np.sin(xx * (3 + k) + c * 6) * np.cos(yy * (2 + k) - c * 3) * 0.5 + 0.5) * 255
        a = a + rng.normal(0, 8, a.shape)
        img = np.clip(a, 0, 255).astype(np.uint8).transpose(1, 2, 0)
        Image.fromarray(img).save(root / f"class_{k}" / f"{i:06d}.png", compress_level=1)
    done.touch()
    return root


def csv_file() -> Path:
    path = data_root() / f"table_{CSV_ROWS}x{CSV_COLS}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    x = rng.normal(size=(CSV_ROWS, CSV_COLS - 1)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        f.write(",".join([f"f{i}" for i in range(CSV_COLS - 1)] + ["label"]) + "\n")
        np.savetxt(f, np.column_stack([x, y]), fmt=["%.6g"] * (CSV_COLS - 1) + ["%d"],
                   delimiter=",")
    os.replace(tmp, path)
    return path


# ---- what a child process measures (python bench_data.py CASE JSON) ---------------------

def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _netbuilder_epoch(folder: str, memory_mb: float, epochs: int) -> dict:
    """Load as the Trainer does, then read every training batch `epochs` times."""
    import sklearn.model_selection  # noqa: F401
    import torch
    import torchvision.transforms.v2  # noqa: F401

    from netbuilder.data import load
    from netbuilder.training.trainer import batches_per_epoch, epoch_order

    # after the imports (torch, scikit-learn, torchvision: ~2-4 s on a busy 2-core machine,
    # the same for every dataset and folder size): the data's own cost
    t0 = time.perf_counter()
    data = load("image_folder", {"path": folder, "size": SIZE, "memory_mb": memory_mb}, seed=0)
    n = len(data.train)
    nb = batches_per_epoch(n, BATCH)
    it = data.batches(data.train, epoch_order(0, 0, n), BATCH, 0, nb, train=True)
    x, _ = next(it)
    first = time.perf_counter() - t0
    times = []
    for e in range(epochs):
        t = time.perf_counter()
        if e > 0:
            it = data.batches(data.train, epoch_order(0, e, n), BATCH, 0, nb, train=True)
        for x, y in it:
            torch.as_tensor(x).sum()  # the step would read the batch
        times.append(time.perf_counter() - t)
    cached = getattr(getattr(data, "store", None), "cached_bytes", None)
    data.close()
    return {"first_batch_s": first, "epochs_s": times, "peak_rss_mib": _peak_rss_mib(),
            "streamed": hasattr(data, "store"), "cached_bytes": cached}


def _torchvision_epoch(folder: str, epochs: int) -> dict:
    import torch
    from torchvision import datasets, transforms

    from netbuilder.data import load

    # the same split (the training files) and transforms: resize, to tensor, normalize
    tf = transforms.Compose([transforms.Resize((SIZE, SIZE)), transforms.ToTensor(),
                             transforms.Normalize((0.5,) * 3, (0.25,) * 3)])
    t0 = time.perf_counter()
    ds = datasets.ImageFolder(folder, transform=tf)
    data = load("image_folder", {"path": folder, "size": SIZE, "memory_mb": 0.01}, seed=0)
    train = torch.utils.data.Subset(ds, data.train.x.tolist())
    data.close()
    loader = torch.utils.data.DataLoader(train, batch_size=BATCH, shuffle=True, num_workers=2,
                                         generator=torch.Generator().manual_seed(0))
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        for x, y in loader:
            x.sum()
        times.append(time.perf_counter() - t)
    return {"epochs_s": times, "setup_s": time.perf_counter() - t0 - sum(times)}


def _status_mib(field: str) -> float:
    """A memory line of /proc/self/status (Linux; else the peak so far)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_rss_mib()


def _reset_peak() -> float:
    """Resets the process's peak resident memory to what it holds now (Linux: the import's
    own transient peak would otherwise hide the data's); returns that."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mib("VmRSS")


def _csv_epoch(path: str, memory_mb: float) -> dict:
    """Load the CSV as the Trainer does (streamed when memory_mb is below its table), then
    read every training batch once."""
    import torch

    from netbuilder.data import load
    from netbuilder.training.trainer import batches_per_epoch, epoch_order

    import sklearn.model_selection  # noqa: F401 (the split's; before the baseline)

    base = _reset_peak()  # python, torch, polars and netbuilder themselves
    anon = _status_mib("RssAnon")
    t0 = time.perf_counter()
    data = load("csv", {"path": path, "memory_mb": memory_mb}, seed=0)
    load_s = time.perf_counter() - t0
    n = len(data.train)
    t = time.perf_counter()
    for x, _ in data.batches(data.train, epoch_order(0, 0, n), BATCH, 0,
                             batches_per_epoch(n, BATCH), train=True):
        torch.as_tensor(x).sum()
    return {"load_s": load_s, "epoch_s": time.perf_counter() - t,
            "peak_rss_mib": _peak_rss_mib(), "above_imports_mib": _status_mib("VmHWM") - base,
            # after the epoch: the process's own memory, without mapped file pages
            "anon_mib": _status_mib("RssAnon") - anon,
            "kind": type(data).__name__}


def _child(case: str, **kw) -> dict:
    """One measurement in a fresh process, with an empty index cache: the first batch
    includes the folder's first scan."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1",
               "NETBUILDER_CACHE_DIR": cache}
        out = subprocess.run([sys.executable, __file__, case, json.dumps(kw)], env=env,
                             capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"bench_data child {case} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _decoded_mib(n: int) -> float:
    return n * 3 * SIZE * SIZE / 2 ** 20


# ---- the benchmarks ---------------------------------------------------------------------

def bench_data_image_folder():
    firsts = {}
    for n in (2_000, 20_000):
        folder = str(image_folder(n))
        # the default budget: both are streamed (over 1,024 files) and kept as they arrive
        r = _child("netbuilder", folder=folder, memory_mb=0.0, epochs=1)
        firsts[n] = r["first_batch_s"]
        yield f"data_image_folder_first_batch_s_{n}", r["first_batch_s"]
        # a budget of a quarter of the decoded size: streamed, nothing kept
        small = _decoded_mib(n) / 4
        r = _child("netbuilder", folder=folder, memory_mb=small, epochs=1)
        assert r["streamed"] and not r["cached_bytes"], r
        yield f"data_image_folder_peak_rss_mib_{n}", r["peak_rss_mib"]
        yield f"data_image_folder_decoded_mib_{n}", _decoded_mib(n)
    yield "data_image_folder_first_batch_growth_ratio", firsts[20_000] / firsts[2_000]

    folder = str(image_folder(2_000))
    ours = _child("netbuilder", folder=folder, memory_mb=_decoded_mib(2_000) / 4, epochs=2)
    theirs = _child("torchvision", folder=folder, epochs=2)
    # steady state: the second epoch of each (torchvision's DataLoader restarts its workers)
    yield "data_image_folder_epoch_s", ours["epochs_s"][1]
    yield "data_image_folder_torchvision_epoch_s", theirs["epochs_s"][1]
    yield "data_image_folder_epoch_vs_torchvision_ratio", ours["epochs_s"][1] / theirs[
        "epochs_s"][1]
    cached = _child("netbuilder", folder=str(image_folder(20_000)), memory_mb=0.0, epochs=2)
    yield "data_image_folder_cached_epoch_s_20000", cached["epochs_s"][1]


def many_empty_ish_files(n: int) -> Path:
    """n copies of one tiny PNG in 4 class folders: written fast, scanned like photos."""
    from PIL import Image

    root = data_root() / f"tiny_{n}"
    if (root / ".complete").exists():
        return root
    for k in range(CLASSES):
        (root / f"class_{k}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((4, 4, 3), 60 * k, np.uint8)).save(root / f"class_{k}" / "a.png")
    same = (root / "class_0" / "a.png").read_bytes()
    for i in range(n - CLASSES):
        (root / f"class_{i % CLASSES}" / f"{i:06d}.png").write_bytes(same)
    (root / ".complete").touch()
    return root


def bench_data_preview_100000():
    """The Data panel's preview of a 100,000-image folder: a first scan (no index cached)
    and a second (index cached)."""
    from netbuilder.data.preview import load_preview

    folder = str(many_empty_ish_files(100_000))
    old = os.environ.get("NETBUILDER_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["NETBUILDER_CACHE_DIR"] = cache
        try:
            times = []
            for _ in range(2):
                t = time.perf_counter()
                p = load_preview("image_folder", {"path": folder, "size": 32})
                times.append(time.perf_counter() - t)
        finally:
            if old is None:
                os.environ.pop("NETBUILDER_CACHE_DIR")
            else:
                os.environ["NETBUILDER_CACHE_DIR"] = old
    assert sum(p["counts"]) == 100_000 and len(p["x"]) == 32
    yield "data_image_folder_preview_100000_s", times[0]
    yield "data_image_folder_preview_100000_cached_index_s", times[1]


def _csv_times(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_data_csv():
    import polars as pl
    import pyarrow.csv as pacsv

    from netbuilder.data import get, load

    path = csv_file()
    spec = get("csv")
    options = spec.fill({"path": str(path)})
    t_numpy = _csv_times(lambda: np.loadtxt(path, delimiter=",", skiprows=1,
                                            dtype=np.float32), repeats=1)
    t_polars = _csv_times(lambda: pl.read_csv(path).to_numpy())
    t_arrow = _csv_times(lambda: np.column_stack([c.to_numpy() for c in
                                                  pacsv.read_csv(path).columns]))
    # the file to feature and target arrays, as numpy.loadtxt gives them (with the header,
    # the missing-cell checks and the target's classes)
    t_ours = _csv_times(lambda: spec.load(options))
    # and on to the split, normalized tensors (the same for every dataset)
    t_split = _csv_times(lambda: load("csv", {"path": str(path)}, seed=0))
    yield "data_csv_numpy_loadtxt_s", t_numpy
    yield "data_csv_polars_read_s", t_polars
    yield "data_csv_pyarrow_read_s", t_arrow
    yield "data_csv_load_s", t_ours
    yield "data_csv_load_vs_numpy_ratio", t_ours / t_numpy
    yield "data_csv_load_split_normalize_s", t_split


def csv_file_times(k: int) -> Path:
    """The bench CSV's rows k times over (a larger file of the same kind)."""
    base = csv_file()
    path = base.with_name(f"{base.stem}_x{k}.csv")
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        with open(base, "rb") as src, open(tmp, "wb") as out:
            head, rows = src.readline(), src.read()
            out.write(head + rows * k)
        os.replace(tmp, path)
    return path


def bench_data_csv_streamed():
    """The 300,000-row CSV (a 23 MiB float32 table) with a 4 MB budget: converted once to
    a memory-mapped table, then batched from it; memory against the in-memory load, and
    at 4x the rows (goal: roughly flat). "above_imports" leaves out python, torch and
    polars themselves. (The peak counts the table's pages while they are mapped: page
    cache the system can take back, unlike the in-memory reader's arrays.)"""
    path = str(csv_file())
    streamed = _child("csv", path=path, memory_mb=4)
    memory = _child("csv", path=path, memory_mb=0)
    larger = _child("csv", path=str(csv_file_times(4)), memory_mb=4)
    assert streamed["kind"] == larger["kind"] == "StreamedTable"
    assert memory["kind"] == "PreparedData"
    yield "data_csv_streamed_peak_rss_mib", streamed["peak_rss_mib"]
    yield "data_csv_streamed_above_imports_mib", streamed["above_imports_mib"]
    yield "data_csv_streamed_above_imports_mib_4x_rows", larger["above_imports_mib"]
    yield "data_csv_streamed_anon_mib", streamed["anon_mib"]
    yield "data_csv_streamed_anon_mib_4x_rows", larger["anon_mib"]
    yield "data_csv_in_memory_peak_rss_mib", memory["peak_rss_mib"]
    yield "data_csv_in_memory_above_imports_mib", memory["above_imports_mib"]
    yield "data_csv_in_memory_anon_mib", memory["anon_mib"]
    yield "data_csv_streamed_first_load_s", streamed["load_s"]
    yield "data_csv_streamed_epoch_s", streamed["epoch_s"]
    yield "data_csv_in_memory_epoch_s", memory["epoch_s"]


def benchmarks():
    return [bench_data_image_folder, bench_data_preview_100000, bench_data_csv,
            bench_data_csv_streamed]


if __name__ == "__main__":
    case, kw = sys.argv[1], json.loads(sys.argv[2])
    cases = {"netbuilder": _netbuilder_epoch, "torchvision": _torchvision_epoch,
             "csv": _csv_epoch}
    result = cases[case](**kw)
    print(json.dumps(result))
