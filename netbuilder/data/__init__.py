"""Datasets: a registry of built-in, torchvision and user datasets (no Qt).

    from netbuilder.data import load, get, all_specs
    data = load("digits", {"val_fraction": 0.1}, seed=0)
    x, y = data.batch(data.train, torch.arange(32), train=True)
"""
from .registry import (CLASS, CLASSIFICATION, REAL, REGRESSION, SEQUENCE, DataError, DataInfo,
                       DatasetSpec, RawData, all_specs, get, register)
# The sources register themselves into the registry (which imports none of them back).
from . import builtin, torchvision_sets, user  # noqa: E402,F401,I001

__all__ = ["load", "get", "all_specs", "register", "DatasetSpec", "DataInfo", "DataError",
           "RawData", "PreparedData", "Split", "CLASSIFICATION", "REGRESSION", "SEQUENCE",
           "CLASS", "REAL"]


def __getattr__(name):
    # prepare.py needs torch; the registry does not, so the editor can list and describe
    # datasets before torch has finished importing.
    if name in ("PreparedData", "Split", "load"):
        from . import prepare

        return getattr(prepare, name)
    raise AttributeError(f"module 'netbuilder.data' has no attribute {name!r}")
