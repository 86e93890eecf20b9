"""Checkpoints: a directory that never needs unpickling to load.

    CKPT/model.safetensors      the compiled GraphModule's state_dict() (same keys)
    CKPT/optimizer.safetensors  optimizer state tensors ("optim.<param>.<name>") and the
                                RNG state ("rng.torch_cpu", ...)
    CKPT/state.json             optimizer param groups and scalar state, scheduler state,
                                epoch / batch / step, the trainer's history and the
                                fingerprint of the project (graph, dataset, optimizer), as JSON
    CKPT/project.json           the project that was trained

CKPT (`checkpoints/last`, `checkpoints/best`) is a slot that always names a complete
checkpoint, whatever moment a save is killed at (checkpoint_slots.py). Everything is
serialised in memory first and written with netbuilder's own writes, so a full disk is an
error that names the path, never a half-written file in view.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save as save_bytes

from ..core.files import explain
from . import checkpoint_slots as slots

FORMAT, VERSION = slots.FORMAT, 2  # 2: state.json holds the project's fingerprint
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
    """Write a checkpoint into the slot `path`; raises CheckpointError naming the path
    (full disk, no permission, something else in the way), the old checkpoint intact."""
    path = Path(path)
    files = encode(model, optimizer, scheduler, state, project_text, rng)
    try:
        slots.write_slot(path, files)
    except OSError as e:
        raise CheckpointError(explain(e, path, sum(map(len, files.values())))) from None
    return path


def encode(model, optimizer, scheduler, state: dict, project_text: str,
           rng: dict[str, torch.Tensor]) -> dict[str, bytes]:
    """The checkpoint's files as bytes (so their size is known before writing)."""
    model_bytes = save_bytes({k: _cpu(v) for k, v in model.state_dict().items()})
    opt = optimizer.state_dict()
    tensors = {f"rng.{k}": _cpu(v) for k, v in rng.items()}
    scalars: dict[str, dict] = {}
    for pid, st in opt["state"].items():
        for key, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = _cpu(v)
            else:
                scalars.setdefault(str(pid), {})[key] = v
    doc = {"format": FORMAT, "version": VERSION, **state,
           "optimizer": {"param_groups": opt["param_groups"], "scalars": scalars},
           "scheduler": scheduler.state_dict() if scheduler is not None else None}
    return {MODEL: model_bytes, OPTIMIZER: save_bytes(tensors),
            PROJECT: project_text.encode("utf-8"),
            STATE: _json(doc, "the training state").encode("utf-8")}


def estimate_bytes(model, optimizer_name: str, project_text: str) -> int:
    """About what one checkpoint of `model` takes on disk (for the room check)."""
    params = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    slots_per_param = {"adam": 2, "adamw": 2, "rmsprop": 2, "adagrad": 1, "sgd": 1}
    n = 1 + slots_per_param.get(optimizer_name, 2)
    return n * params + len(project_text.encode()) + 256 * 1024  # headers, JSON, RNG


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
    path = slots.resolve(path)
    if path.is_dir():
        return _read(path / MODEL)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder or file")
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: expected a checkpoint folder or a .safetensors file "
                              f"(netbuilder never unpickles .pt/.pth files)")
    return _read(path)


# What state.json must hold, and the type of each (older versions lack "fingerprint").
_REQUIRED = {"epoch": int, "batch": int, "step": int, "optimizer": dict}
_OPTIONAL = {"history": list, "best_val_loss": (int, float, type(None)), "partial": list,
             "scheduler": (dict, type(None)), "fingerprint": dict, "seed": int}


def _check_doc(doc: dict, where: Path) -> None:
    def kind(t):
        ts = t if isinstance(t, tuple) else (t,)
        names = {int: "a whole number", float: "a number", dict: "an object",
                 list: "a list", type(None): "null"}
        return " or ".join(names[x] for x in ts)

    for key, t in _REQUIRED.items():
        if key not in doc:
            raise CheckpointError(f"{where}: has no {key!r} entry; the checkpoint is damaged "
                                  f"or was not written by netbuilder")
    for key, t in {**_REQUIRED, **_OPTIONAL}.items():
        v = doc.get(key)
        if key in doc and (not isinstance(v, t) or isinstance(v, bool)):
            raise CheckpointError(f"{where}: {key!r} must be {kind(t)}, not "
                                  f"{type(v).__name__}; the checkpoint is damaged")
    opt = doc["optimizer"]
    if not isinstance(opt.get("param_groups"), list) or not isinstance(
            opt.get("scalars", {}), dict):
        raise CheckpointError(f"{where}: 'optimizer' must hold 'param_groups' (a list) and "
                              f"'scalars' (an object); the checkpoint is damaged")
    if any(x < 0 for x in (doc["epoch"], doc["batch"], doc["step"])):
        raise CheckpointError(f"{where}: epoch, batch and step cannot be negative")


def load(path: str | os.PathLike) -> Checkpoint:
    asked = Path(path)
    path = slots.resolve(asked)
    if not path.is_dir():
        raise CheckpointError(f"{asked}: not a checkpoint folder (resume takes the folder, "
                              f"e.g. runs/NAME/checkpoints/last)")
    try:
        doc = json.loads((path / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path / STATE}: missing; is this a netbuilder checkpoint?"
                              ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path / STATE}: invalid JSON ({e})") from None
    except OSError as e:
        raise CheckpointError(f"{path / STATE}: cannot read ({e.strerror or e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path / STATE}: not a netbuilder checkpoint")
    version = doc.get("version", 0)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version} is newer than this "
                              f"netbuilder reads ({VERSION}); update netbuilder")
    _check_doc(doc, path / STATE)
    model = _read(path / MODEL)
    tensors = _read(path / OPTIMIZER)
    state: dict[int, dict] = {}
    rng = {}
    try:
        for key, t in tensors.items():
            kind, _, rest = key.partition(".")
            if kind == "rng":
                rng[rest] = t
            elif kind == "optim":
                pid, _, name = rest.partition(".")
                state.setdefault(int(pid), {})[name] = t
        for pid, scalars in doc["optimizer"].get("scalars", {}).items():
            state.setdefault(int(pid), {}).update(scalars)
    except (ValueError, TypeError, AttributeError):
        raise CheckpointError(f"{path}: the optimizer state is damaged (unexpected entry "
                              f"names); start a new run") from None
    optimizer = {"state": state, "param_groups": doc["optimizer"]["param_groups"]}
    try:
        project_text = (path / PROJECT).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckpointError(f"{path / PROJECT}: missing") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path / PROJECT}: cannot read ({e})") from None
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
