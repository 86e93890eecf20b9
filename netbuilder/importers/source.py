"""What `netbuilder import SOURCE` names: `torchvision:resnet18` or `package.module:Name`.

Naming a module on the command line is the user choosing to run it, so its top-level
package becomes trusted for this process (project files naming it are refused later unless
the user trusts it again, see core/allowlist.py).
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass

import torch.nn as nn

from ..core.allowlist import trust_packages, trust_problem
from .fx_import import ModelImportError

IMAGE_SHAPE = [3, 224, 224]  # torchvision classification models


@dataclass
class Source:
    model: nn.Module
    factory: str | None  # 'package.module:name' that rebuilds it, when there is one
    kwargs: dict
    default_shapes: list[list[int]] | None
    label: str


def load_source(spec: str, kwargs: dict | None = None) -> Source:
    kwargs = dict(kwargs or {})
    if kwargs.get("weights") or kwargs.get("weights_backbone"):
        raise ModelImportError("pretrained weights cannot be requested here (nothing is "
                               "downloaded); import the model, then load trained weights with "
                               "--weights when you export or train")
    if not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$", spec or ""):
        raise ModelImportError(f"{spec!r}: name a model as 'torchvision:NAME' or "
                               f"'package.module:ClassOrFactory'")
    module_name, attr = spec.split(":")
    if module_name == "torchvision":
        import torchvision.models as tvm

        names = tvm.list_models(module=tvm)
        if attr not in names:
            raise ModelImportError(f"{spec}: torchvision has no classification model {attr!r} "
                                   f"(for example: {', '.join(sorted(names)[:8])} ...)")
        factory = f"torchvision.models:{attr}"
        return Source(_call(getattr(tvm, attr), kwargs, spec), factory, kwargs,
                      [IMAGE_SHAPE], attr)
    if os.getcwd() not in sys.path:  # `netbuilder import mymodels:Net` run from the project
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ModelImportError(f"{spec}: cannot import {module_name!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - the user's module failed while importing
        raise ModelImportError(f"{spec}: importing {module_name!r} failed: "
                               f"{type(e).__name__}: {e}") from None
    if trust_problem(module_name) is None:  # Python's own modules are never trusted
        trust_packages(module_name)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelImportError(f"{spec}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, nn.Module):
        if kwargs:
            raise ModelImportError(f"{spec} is a module instance; it takes no arguments")
        return Source(obj, None, {}, None, attr)
    if not callable(obj):
        raise ModelImportError(f"{spec} is not an nn.Module class, factory or instance")
    return Source(_call(obj, kwargs, spec), spec, kwargs, None, attr)


def _call(factory, kwargs, spec) -> nn.Module:
    try:
        model = factory(**kwargs)
    except Exception as e:  # noqa: BLE001
        raise ModelImportError(f"{spec}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
                               f" failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, nn.Module):
        raise ModelImportError(f"{spec} returned {type(model).__name__}, not an nn.Module")
    return model
