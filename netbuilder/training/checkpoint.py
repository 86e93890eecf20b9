"""Checkpoints: a directory that never needs unpickling to load.

    CKPT/model.safetensors      the compiled GraphModule's state_dict() (same keys)
    CKPT/optimizer.safetensors  optimizer state tensors ("optim.<param>.<name>") and the
                                RNG state ("rng.torch_cpu", ...)
    CKPT/state.json             optimizer param groups and scalar state, scheduler state,
                                epoch / batch / step and the trainer's history, as JSON
    CKPT/project.json           the project that was trained

A directory is written next to its final place and renamed over the old one, so a crash
while saving leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

FORMAT, VERSION = "netbuilder-checkpoint", 1
MODEL, OPTIMIZER, STATE, PROJECT = ("model.safetensors", "optimizer.safetensors", "state.json",
                                    "project.json")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message is meant for a person."""


@dataclass
class Checkpoint:
    model: dict  # name -> tensor
    optimizer: dict  # ready for optimizer.load_state_dict
    scheduler: dict | None
    state: dict  # epoch, batch, step, trainer history ...
    rng: dict  # name -> uint8 tensor
    project_text: str


class Frozen:
    """A state_dict captured earlier, standing in for its model/optimizer/scheduler in
    save() (the trainer keeps a better epoch in memory until it writes it)."""

    def __init__(self, state: dict):
        self._state = state

    def state_dict(self) -> dict:
        return self._state


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu").contiguous().clone()


def _json(obj, where: str) -> str:
    try:
        return json.dumps(obj, indent=1, default=_plain)
    except TypeError as e:
        raise CheckpointError(f"{where}: cannot be stored as JSON ({e})") from None


def _plain(v):
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON")


def save(path: str | os.PathLike, model, optimizer, scheduler, state: dict, project_text: str,
         rng: dict[str, torch.Tensor]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        save_file({k: _cpu(v) for k, v in model.state_dict().items()}, str(tmp / MODEL))
        opt = optimizer.state_dict()
        tensors = {f"rng.{k}": _cpu(v) for k, v in rng.items()}
        scalars: dict[str, dict] = {}
        for pid, st in opt["state"].items():
            for key, v in st.items():
                if isinstance(v, torch.Tensor):
                    tensors[f"optim.{pid}.{key}"] = _cpu(v)
                else:
                    scalars.setdefault(str(pid), {})[key] = v
        save_file(tensors, str(tmp / OPTIMIZER))
        doc = {"format": FORMAT, "version": VERSION, **state,
               "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
               "scheduler": scheduler.state_dict() if scheduler is not None else None}
        (tmp / STATE).write_text(_json(doc, "the training state"), encoding="utf-8")
        (tmp / PROJECT).write_text(project_text, encoding="utf-8")
        old = path.parent / f".{path.name}.old-{os.getpid()}"
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _read(file: Path) -> dict:
    if not file.is_file():
        raise CheckpointError(f"{file}: missing; a checkpoint folder holds {MODEL}, "
                              f"{OPTIMIZER}, {STATE} and {PROJECT}")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{file}: not a readable safetensors file ({e})") from None


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The model's state_dict from a checkpoint folder or a .safetensors file."""
    path = Path(path)
    if path.is_dir():
        return _read(path / MODEL)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder or file")
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: expected a checkpoint folder or a .safetensors file "
                              f"(netbuilder never unpickles .pt/.pth files)")
    return _read(path)


def load(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint folder (resume takes the folder, "
                              f"e.g. runs/NAME/checkpoints/last)")
    try:
        doc = json.loads((path / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path / STATE}: missing; is this a netbuilder checkpoint?"
                              ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path / STATE}: invalid JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path / STATE}: not a netbuilder checkpoint")
    if doc.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {doc['version']} is newer than "
                              f"this netbuilder reads ({VERSION})")
    model = _read(path / MODEL)
    tensors = _read(path / OPTIMIZER)
    state: dict[int, dict] = {}
    rng = {}
    for key, t in tensors.items():
        kind, _, rest = key.partition(".")
        if kind == "rng":
            rng[rest] = t
        elif kind == "optim":
            pid, _, name = rest.partition(".")
            state.setdefault(int(pid), {})[name] = t
    for pid, scalars in doc["optimizer"]["scalars"].items():
        state.setdefault(int(pid), {}).update(scalars)
    optimizer = {"state": state, "param_groups": doc["optimizer"]["param_groups"]}
    try:
        project_text = (path / PROJECT).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{path / PROJECT}: missing") from None
    rest = {k: v for k, v in doc.items() if k not in ("optimizer", "scheduler")}
    return Checkpoint(model, optimizer, doc.get("scheduler"), rest, rng, project_text)


def finite(x: float | None) -> float | None:
    """JSON-safe float (NaN/inf become None)."""
    return x if x is not None and math.isfinite(x) else None


CHECKPOINT_KINDS = ("last", "best")  # the Trainer's folders under RUN/checkpoints


def find_checkpoint(run_dir: str | Path) -> Path:
    run = Path(run_dir)
    for kind in CHECKPOINT_KINDS:
        ck = run / "checkpoints" / kind
        if (ck / "model.safetensors").is_file():
            return ck
    if (run / "model.safetensors").is_file():
        return run
    raise ValueError(f"{run}: no checkpoint (looked for checkpoints/last and "
                     f"checkpoints/best)")
