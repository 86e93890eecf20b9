"""`netbuilder import torchvision:NAME --pretrained`: torchvision's own weights for NAME.

The weights are the model's DEFAULT entry of torchvision's weight enum, read from torch's
cache (`torch.hub.get_dir()/checkpoints`, i.e. $TORCH_HOME/hub/checkpoints), with
torch.load(weights_only=True). Nothing is downloaded unless the user asks (--download);
a missing file is explained: which file, from where, to which folder. The weights' own
preprocessing (resize, crop, normalisation) becomes the project's dataset options, so
images are fed as the weights expect.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelImportError


@dataclass(frozen=True)
class Pretrained:
    name: str  # e.g. "ResNet18_Weights.IMAGENET1K_V1"
    path: Path  # the cached file
    dataset_options: dict  # image_folder options matching the weights' preprocessing
    classes: int


def _weights_entry(model_name: str):
    import torchvision.models as tvm

    try:
        return tvm.get_model_weights(model_name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        raise ModelImportError(f"torchvision:{model_name} has no pretrained weights in "
                               f"torchvision") from None


def cache_path(entry) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(entry.url)


def preprocessing(entry) -> dict:
    """The weights' evaluation transform as image_folder dataset options."""
    t = entry.transforms()
    crop = list(getattr(t, "crop_size", [224]))[0]
    resize = list(getattr(t, "resize_size", [0]) or [0])[0]
    return {"size": int(crop), "resize": int(resize),
            "mean": ",".join(f"{v:g}" for v in t.mean),
            "std": ",".join(f"{v:g}" for v in t.std)}


def load_pretrained(model, model_name: str, download: bool = False) -> Pretrained:
    """Copy torchvision's pretrained weights for `model_name` into `model` (in place)."""
    import torch

    entry = _weights_entry(model_name)
    path = cache_path(entry)
    if not path.is_file():
        if not download:
            size = entry.meta.get("_file_size")
            about = f" (about {size:.0f} MB)" if isinstance(size, (int, float)) else ""
            raise ModelImportError(
                f"the pretrained weights {entry} are not in torch's cache. Put the file "
                f"{path.name}{about}, from {entry.url}, into {path.parent} (the folder "
                f"follows $TORCH_HOME), or run again with --download to fetch it (needs "
                f"internet)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(entry.url, str(path), progress=True)
        except OSError as e:
            raise ModelImportError(f"downloading {entry.url} into {path.parent} failed "
                                   f"({e}); this computer may be offline. Copy the file "
                                   f"there by hand") from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file
        raise ModelImportError(f"{path}: cannot be read as {entry}'s weights "
                               f"({type(e).__name__}); delete it and put the file from "
                               f"{entry.url} there") from None
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        first = str(e).splitlines()[:2]
        raise ModelImportError(f"{path}: does not hold {entry}'s weights for {model_name} "
                               f"({' '.join(first).strip()[:300]}); delete it and put the "
                               f"file from {entry.url} there") from None
    return Pretrained(str(entry), path, preprocessing(entry),
                      len(entry.meta.get("categories") or ()))
