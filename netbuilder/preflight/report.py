"""Will it fit, and how long will it take: one report for the CLI and the editor."""
from __future__ import annotations

from dataclasses import dataclass

from ..core.budget import human_bytes
from ..core.shapes import ShapeInference
from .devices import Device, TimeEstimate, step_time
from .memory import MAX_BATCH, PART_LABELS, MemoryEstimate, estimate, largest_batch, mib
from .step import Setup


@dataclass(frozen=True)
class FitReport:
    device: Device
    memory: int  # bytes it has to fit in
    estimate: MemoryEstimate
    largest: int  # the largest batch size that fits (0: not even 1)
    time: TimeEstimate
    flops_per_sample: int

    @property
    def fits(self) -> bool:
        return self.estimate.total <= self.memory


def flops_per_sample(setup: Setup) -> int:
    si = ShapeInference(setup.project.graph)
    try:
        return sum(i.flops for i in si.update().values())
    finally:
        si.close()


def train_samples(setup: Setup) -> int | None:
    """Samples in the training split (None when the data cannot be read now)."""
    from ..data import DataError, load as load_data

    ds = setup.project.dataset
    try:
        return len(load_data(ds.name, ds.options, seed=setup.settings.seed).train)
    except (DataError, OSError, ValueError):
        return None


def fit_report(setup: Setup, device: Device, batch_size: int | None = None,
               precision: str = "fp32", memory: int | None = None,
               samples: int | None = None) -> FitReport:
    est = estimate(setup, batch_size, precision)
    have = memory if memory is not None else int(device.memory_gib * 2**30)
    fits, _ = largest_batch(setup, have, precision, first=est)
    flops = flops_per_sample(setup)
    if samples is None:
        samples = train_samples(setup)
    t = step_time(device, flops, est.batch_size, est.ops, precision, samples)
    return FitReport(device, have, est, fits, t, flops)


def seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    if s < 120:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def fit_text(r: FitReport) -> str:
    e = r.estimate
    lines = [f"device: {r.device.name} ({mib(r.memory)} to fit in), batch size "
             f"{e.batch_size}, {e.precision}",
             f"estimated peak memory: {e.total / 2**20:,.{2 if e.total >= 2**20 else 4}f} MiB"
             + ("" if e.total >= 2**20 else f" ({human_bytes(e.total)})")]
    width = max(len(v) for v in PART_LABELS.values())
    lines.append("  live at that moment (gradients may still be forming):")
    for part, value in e.parts().items():
        lines.append(f"    {PART_LABELS[part]:<{width}}  {human_bytes(value):>10}")
    verdict = "fits" if r.fits else "does NOT fit"
    lines.append(f"{verdict} in {mib(r.memory)}")
    bound = " (the largest a project allows)" if r.largest >= MAX_BATCH else ""
    lines.append(f"largest batch size that fits: {r.largest}{bound}")
    t = r.time
    epoch = (f"; per epoch ({t.batches} batches): {seconds(t.epoch_s)}"
             if t.epoch_s is not None else "")
    lines.append(f"estimated time per step: {seconds(t.step_s)}{epoch}  "
                 f"({3 * r.flops_per_sample * e.batch_size / 1e9:.3g} GFLOP per step, "
                 f"{e.ops} ops)")
    return "\n".join(lines)
