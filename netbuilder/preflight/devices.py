"""How long a step takes: the FLOP count against a device's throughput.

Known devices are listed with their datasheet peak (dense fp32 and bf16/fp16 tensor-core
TFLOP/s) and memory; training reaches a fraction of peak (EFFICIENCY) and every op costs
a launch overhead. This machine's CPU is measured once (a float32 matmul on one thread,
as the trainer trains on the CPU, and the cost of a tiny op) and the result is cached in
the state folder, so later estimates are instant.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Device:
    name: str
    fp32_tflops: float
    half_tflops: float  # bf16/fp16 (tensor cores where there are some)
    memory_gib: float
    op_overhead_us: float = 10.0  # a kernel launch
    efficiency: float = 0.4  # of peak, for training small-to-medium models

    def tflops(self, precision: str) -> float:
        return self.fp32_tflops if precision == "fp32" else self.half_tflops


KNOWN = {d.name.lower(): d for d in (
    Device("T4", 8.1, 65.0, 16),
    Device("L4", 30.3, 121.0, 24),
    Device("A10", 31.2, 125.0, 24),
    Device("A100", 19.5, 312.0, 80),  # the 80 GB part; fp32 without TF32
    Device("H100", 67.0, 989.0, 80),  # SXM
    Device("H200", 67.0, 989.0, 141),
    Device("RTX 3060", 12.7, 51.0, 12),
    Device("RTX 4090", 82.6, 165.0, 24),
    Device("M1", 2.6, 2.6, 16, 20.0),
    Device("M2", 3.6, 3.6, 24, 20.0),
    Device("M3", 4.1, 4.1, 24, 20.0),
    Device("M3 Max", 16.4, 16.4, 128, 20.0),
)}
ALIASES = {"rtx3060": "rtx 3060", "rtx4090": "rtx 4090", "3060": "rtx 3060",
           "4090": "rtx 4090", "m3max": "m3 max", "mps": "m2"}
CACHE_NAME = "cpu-speed.json"


def known_names() -> list[str]:
    return [d.name for d in KNOWN.values()]


def cache_dir() -> Path:
    base = os.environ.get("NETBUILDER_STATE_DIR") or os.environ.get("XDG_STATE_HOME")
    return Path(base) / "netbuilder" if base else Path.home() / ".local" / "state" / "netbuilder"


def machine_memory() -> int:
    """Physical memory in bytes (core.budget's rule, without importing torch: the
    editor's Pre-flight tab asks while the window first paints)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 64 * 2**30


def _measure_cpu() -> dict:
    """One thread: a 256x256 matmul's GFLOP/s and a tiny op's microseconds."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(256, 256), torch.randn(256, 256)
        for _ in range(3):
            a @ b
        n, t0 = 20, time.perf_counter()
        for _ in range(n):
            a @ b
        gflops = 2 * 256**3 * n / (time.perf_counter() - t0) / 1e9
        x = torch.zeros(8)
        m, t0 = 2000, time.perf_counter()
        for _ in range(m):
            x.add(1.0)
        overhead = (time.perf_counter() - t0) / m * 1e6
    finally:
        torch.set_num_threads(old)
    return {"gflops": gflops, "op_overhead_us": overhead}


_CPU: dict | None = None


def this_cpu() -> Device:
    """This machine, measured once and cached (in memory and in the state folder)."""
    global _CPU
    if _CPU is None:
        path = cache_dir() / CACHE_NAME
        try:
            found = json.loads(path.read_text())
            _CPU = {"gflops": float(found["gflops"]),
                    "op_overhead_us": float(found["op_overhead_us"])}
        except (OSError, ValueError, KeyError, TypeError):
            _CPU = _measure_cpu()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(_CPU))
            except OSError:  # a read-only home: measure again next time
                pass
    tf = _CPU["gflops"] / 1e3
    return Device("this machine (CPU, 1 thread)", tf, tf, machine_memory() / 2**30,
                  _CPU["op_overhead_us"], efficiency=0.8)


def resolve(name: str) -> Device:
    """'cpu' (this machine), 'cuda' (the GPU here), 'mps' or a known device name."""
    key = name.strip().lower()
    if key == "cpu":
        return this_cpu()
    if key == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for, but PyTorch sees no CUDA GPU "
                             "here; name one instead (e.g. --device T4)")
        props = torch.cuda.get_device_properties(0)
        for known in KNOWN.values():  # a GPU we know by name
            if known.name.lower().replace(" ", "") in props.name.lower().replace(" ", ""):
                return Device(props.name, known.fp32_tflops, known.half_tflops,
                              props.total_memory / 2**30)
        return Device(props.name, 10.0, 40.0, props.total_memory / 2**30)
    key = ALIASES.get(key.replace(" ", ""), key)
    if key in KNOWN:
        return KNOWN[key]
    raise ValueError(f"unknown device {name!r}; use cpu, cuda, mps or one of: "
                     f"{', '.join(known_names())}")


@dataclass(frozen=True)
class TimeEstimate:
    step_s: float
    epoch_s: float | None
    batches: int | None


def step_time(device: Device, flops_per_sample: int, batch: int, ops: int,
              precision: str = "fp32", train_samples: int | None = None) -> TimeEstimate:
    """A training step costs about 3x the forward FLOPs (backward is ~2x forward), at
    `efficiency` of the device's peak, plus every op's overhead."""
    compute = 3 * flops_per_sample * batch / (device.tflops(precision) * 1e12
                                               * device.efficiency)
    step = compute + ops * device.op_overhead_us * 1e-6
    if not train_samples:
        return TimeEstimate(step, None, None)
    from ..training.trainer import batches_per_epoch
    n = batches_per_epoch(train_samples, batch)
    return TimeEstimate(step, step * n, n)
