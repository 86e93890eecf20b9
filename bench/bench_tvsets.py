"""MNIST-sized idx files (60,000 + 10,000 generated 28×28 images, torchvision's layout):
loaded in memory (the default budget) and memory-mapped (a 1 MB budget), each in a fresh
process: load time, one shuffled epoch of batches, peak resident memory and the process's
own (anonymous) memory after the epoch, both above the imports.

Each function yields (name, value) pairs; bench/run.py collects them via `benchmarks()`.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
ROOT = Path(tempfile.gettempdir()) / "netbuilder-bench-data" / "mnist-sized"


def _files() -> Path:
    raw = ROOT / "MNIST" / "raw"
    if (raw / "t10k-labels-idx1-ubyte").is_file():
        return ROOT
    import numpy as np

    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60_000), ("t10k", 10_000)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x803, n, 28, 28) + x.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
    return ROOT


def _memory() -> dict:
    status = {line.split(":")[0]: int(line.split()[1]) for line in open("/proc/self/status")
              if line.startswith(("VmHWM", "RssAnon"))}
    return {"peak": status["VmHWM"] / 1024, "anon": status["RssAnon"] / 1024}


def _measure(root: str, memory_mb: float) -> dict:
    import time

    import sklearn.model_selection  # noqa: F401 (imported by the load: not counted)
    import torch

    import netbuilder.data.prepare  # noqa: F401
    import netbuilder.data.streaming  # noqa: F401
    from netbuilder.data import load

    before = _memory()
    t0 = time.perf_counter()
    data = load("mnist", {"root": root, "memory_mb": memory_mb}, seed=0)
    loaded = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in data.batches(data.train, torch.randperm(len(data.train)), 256, train=True):
        pass
    epoch = time.perf_counter() - t0
    after = _memory()
    return {"mapped": hasattr(data, "store"), "load_s": loaded, "epoch_s": epoch,
            "peak_mib": after["peak"] - before["peak"], "anon_mib": after["anon"] - before["anon"]}


def _child(memory_mb: float) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": str(HERE), "OMP_NUM_THREADS": "1",
               "NETBUILDER_CACHE_DIR": cache}
        out = subprocess.run([sys.executable, __file__, json.dumps([str(_files()), memory_mb])],
                             env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"bench_tvsets child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_tvsets_mnist_sized():
    for label, memory_mb in (("memory", 0.0), ("mapped", 1.0)):
        r = _child(memory_mb)
        assert r["mapped"] == (label == "mapped"), r
        yield f"tvsets_mnist_{label}_load_s", r["load_s"]
        yield f"tvsets_mnist_{label}_epoch_s", r["epoch_s"]
        yield f"tvsets_mnist_{label}_peak_mib", r["peak_mib"]
        yield f"tvsets_mnist_{label}_anon_mib", r["anon_mib"]


def benchmarks():
    return [bench_tvsets_mnist_sized]


if __name__ == "__main__":
    print(json.dumps(_measure(*json.loads(sys.argv[1]))))
