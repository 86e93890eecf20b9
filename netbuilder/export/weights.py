"""Weights for export: a checkpoint directory (model.safetensors + project.json) or a
.safetensors file. safetensors holds plain tensors, so loading never unpickles."""
from __future__ import annotations

from pathlib import Path

from .errors import ExportError

WEIGHTS_FILE = "model.safetensors"


def weights_path(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        if not (p / WEIGHTS_FILE).is_file():
            raise ExportError(f"{p}: checkpoint directory has no {WEIGHTS_FILE}")
        return p / WEIGHTS_FILE
    if not p.exists():
        raise ExportError(f"{p}: no such checkpoint (give a checkpoint directory or a "
                          f".safetensors file)")
    if p.suffix != ".safetensors":
        raise ExportError(f"{p}: weights must be a .safetensors file or a checkpoint "
                          f"directory; netbuilder never unpickles .pt/.pth files")
    return p


def read_weights(path: str | Path) -> dict:
    """The tensors of a checkpoint; the trainer's reader when it is there (one format)."""
    try:
        from ..training.checkpoint import CheckpointError
        from ..training.checkpoint import load_weights as read_checkpoint
    except ImportError:
        return _read_safetensors(weights_path(path))
    try:
        return read_checkpoint(path)
    except CheckpointError as e:
        raise ExportError(str(e)) from None


def _read_safetensors(p: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(p))
    except (SafetensorError, OSError, ValueError) as e:
        raise ExportError(f"{p}: not a readable safetensors file ({e})") from None


def load_weights(model, path: str | Path) -> None:
    """Copy the tensors in `path` into `model` (a compiled GraphModule); the keys and
    shapes must match exactly."""
    state = read_weights(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    wrong = [f"{k} ({tuple(state[k].shape)} in the file, {tuple(own[k].shape)} here)"
             for k in own if k in state and state[k].shape != own[k].shape]
    if missing or extra or wrong:
        parts = []
        for label, items in (("missing", missing), ("not in this graph", extra),
                             ("wrong shape", wrong)):
            if items:
                parts.append(f"{label}: {', '.join(items[:4])}"
                             + (f" and {len(items) - 4} more" if len(items) > 4 else ""))
        raise ExportError(f"{path}: the weights do not fit this project ({'; '.join(parts)})"
                          f"; were they trained with a different graph?")
    model.load_state_dict(state)


def save_weights(model, path: str | Path) -> None:
    from safetensors.torch import save

    from ..core.files import write_bytes

    # clone: safetensors refuses tensors that share memory (tied weights)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    # bytes first, then netbuilder's own write: a full disk is a DiskError naming the path
    write_bytes(path, save(state, metadata={"format": "pt", "producer": "netbuilder"}))
