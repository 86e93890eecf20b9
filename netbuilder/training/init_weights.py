"""Start a run from other weights: a netbuilder checkpoint folder, a .safetensors file, or a
PyTorch state_dict file (.pt/.pth/.bin, read with torch.load(weights_only=True), which
refuses anything but tensors and plain containers: a file is never unpickled into code).

    report = load_initial(model, "runs/base/checkpoints/last")

Tensors whose name and shape match are copied; the rest of the model keeps its fresh
initialisation. The report lists the matched, missing (in the model, not in the file),
unexpected (in the file, not in the model) and shape-mismatched tensors. A file that
matches nothing is refused (InitError) and the model is left untouched.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .config import TrainingConfigError

TORCH_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt"}


class InitError(TrainingConfigError):
    """Weights that cannot start this run; the message is meant for a person."""


@dataclass(frozen=True)
class InitReport:
    path: str
    matched: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple, tuple], ...] = ()  # (name, file shape, model shape)
    notes: tuple[str, ...] = field(default=())

    def lines(self, limit: int = 6) -> list[str]:
        def some(items):
            shown = ", ".join(items[:limit])
            return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
        out = [f"initial weights {self.path}: {len(self.matched)} tensor(s) matched, "
               f"{len(self.missing)} missing, {len(self.unexpected)} unexpected, "
               f"{len(self.mismatched)} with another shape"]
        if self.mismatched:
            out.append("  another shape (kept fresh): " + some(
                [f"{k} {tuple(a)} in the file, {tuple(b)} here" for k, a, b in self.mismatched]))
        if self.missing:
            out.append("  missing (kept fresh): " + some(list(self.missing)))
        if self.unexpected:
            out.append("  unexpected (ignored): " + some(list(self.unexpected)))
        return out

    def text(self) -> str:
        return "\n".join(self.lines())


def _unwrap(obj, where: str) -> dict:
    """A state_dict, possibly inside a training checkpoint's dict ({"model": ...})."""
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        tensors = {k: v for k, v in obj.items() if isinstance(k, str)
                   and isinstance(v, torch.Tensor)}
        if tensors:
            return {k[7:] if k.startswith("module.") else k: v for k, v in tensors.items()}
    raise InitError(f"{where}: holds no tensors by name; expected a state_dict (a dict of "
                    f"parameter name -> tensor), e.g. torch.save(model.state_dict(), file)")


def _why(e: Exception) -> str:
    text = str(e)
    if "Unsupported global" in text or "GLOBAL" in text:
        return "it holds Python objects besides tensors (e.g. a whole pickled model)"
    if any(k in text for k in ("invalid load key", "Unsupported operand", "could not find",
                               "zip", "EOF", "truncated")):
        return "it is not a file written by torch.save (or it is damaged or truncated)"
    return f"{type(e).__name__} ({text.strip().splitlines()[0][:120] if text.strip() else ''})"


def read_tensors(path) -> dict[str, torch.Tensor]:
    """The named tensors of a checkpoint folder, .safetensors or PyTorch state_dict file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise InitError(f"{p}: no such checkpoint folder or weights file")
    if p.is_file() and p.suffix.lower() in TORCH_SUFFIXES:
        try:
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - UnpicklingError, zip errors, truncation
            raise InitError(f"{p}: cannot be read as a PyTorch state_dict: {_why(e)}. "
                            f"netbuilder reads these files with torch.load(weights_only=True), "
                            f"which takes tensors and plain containers only and never runs "
                            f"code") from None
        return _unwrap(obj, str(p))
    try:
        return ckpt.load_weights(p)
    except ckpt.CheckpointError as e:
        raise InitError(f"{e}; or give a PyTorch state_dict file "
                        f"({', '.join(sorted(TORCH_SUFFIXES))})") from None


def compare(model: torch.nn.Module, tensors: dict, path: str = "") -> InitReport:
    own = model.state_dict()
    matched, mismatched = [], []
    for k, v in own.items():
        if k in tensors:
            if tuple(tensors[k].shape) == tuple(v.shape):
                matched.append(k)
            else:
                mismatched.append((k, tuple(tensors[k].shape), tuple(v.shape)))
    missing = [k for k in own if k not in tensors]
    unexpected = [k for k in tensors if k not in own]
    return InitReport(str(path), tuple(matched), tuple(missing), tuple(unexpected),
                      tuple(mismatched))


def check_initial(model: torch.nn.Module, path) -> tuple[InitReport, dict]:
    """(report, tensors) without changing the model; raises InitError when nothing fits."""
    tensors = read_tensors(path)
    report = compare(model, tensors, str(path))
    if not report.matched:
        raise InitError(
            "\n".join([f"{path}: none of its {len(tensors)} tensor(s) fit this graph, so "
                       f"nothing was loaded; were they trained with another network?",
                       *report.lines()[1:]]))
    return report, tensors


def load_initial(model: torch.nn.Module, path) -> InitReport:
    """Copy every matching tensor of `path` into `model` (in place) and report."""
    report, tensors = check_initial(model, path)
    own = model.state_dict()
    with torch.no_grad():
        for k in report.matched:
            own[k].copy_(tensors[k].to(own[k].dtype))
    return report
