"""Per-epoch history: metrics.csv in the run folder, and TensorBoard event files when the
optional `tensorboard` package is installed."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..core.files import atomic_write

from .metrics import scalars


def row(epoch: int, train: dict, val: dict, lr: float, seconds: float, rate: float) -> dict:
    r = {"epoch": epoch + 1}
    r.update({f"train_{k}": v for k, v in scalars(train).items()})
    r.update({f"val_{k}": v for k, v in scalars(val).items()})
    r.update({"lr": lr, "seconds": round(seconds, 4), "samples_per_s": round(rate, 1)})
    return r


class HistoryWriter:
    def __init__(self, out_dir: str | os.PathLike | None, tensorboard: bool = True):
        self.csv = Path(out_dir) / "metrics.csv" if out_dir else None
        self.tb = None
        if out_dir:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        if out_dir and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                pass
            else:
                self.tb = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def write(self, rows: list[dict]) -> None:
        """Rewrite the CSV with every row (it is small), then log the newest row."""
        if self.csv and rows:
            columns = list(dict.fromkeys(k for r in rows for k in r))
            f = io.StringIO(newline="")
            w = csv.DictWriter(f, columns)
            w.writeheader()
            w.writerows(rows)
            atomic_write(self.csv, f.getvalue())  # DiskError names the path
        if self.tb and rows:
            last = rows[-1]
            try:
                for k, v in last.items():
                    if k != "epoch" and isinstance(v, (int, float)):
                        self.tb.add_scalar(k.replace("_", "/", 1), v, last["epoch"])
                self.tb.flush()
            except Exception:  # noqa: BLE001 - optional logs must not end a run (full disk)
                self.close()

    def close(self) -> None:
        tb, self.tb = self.tb, None
        if tb:
            try:
                tb.close()  # joins TensorBoard's writer thread: nothing prints after us
            except Exception:  # noqa: BLE001
                pass


def read_history(run_dir: str | Path) -> list[dict]:
    """metrics.csv as a list of {column: float} rows ([] when there is none)."""
    path = Path(run_dir) / "metrics.csv"
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    out = []
    for r in rows:
        d = {}
        for k, v in r.items():
            try:
                d[k] = float(v)
            except (TypeError, ValueError):
                pass
        out.append(d)
    return out
