"""The dataset registry: one declarative `DatasetSpec` per dataset, like the layer registry.

A spec states what the data looks like (input shape and dtype, task, target kind, number of
classes) so the editor can set the Input node and the trainer can pick and check the loss,
and it lists typed options (`core.registry.Param`, the same kind the layers use) so the
inspector and the project-file checks need no per-dataset code.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from ..core.registry import BOOL, FLOAT, Param

CLASSIFICATION, REGRESSION, SEQUENCE = "classification", "regression", "sequence"
CLASS, REAL = "class", "real"  # target kinds: int64 class ids, or float values


class DataError(ValueError):
    """A dataset that cannot be loaded or used; the message is meant for a person."""


@dataclass(frozen=True)
class DataInfo:
    input_shape: tuple[int, ...]  # one sample, without the batch
    input_dtype: str  # "float32" or "int64" (token ids)
    task: str  # classification | regression | sequence
    target: str  # CLASS (N int64 ids) or REAL (N×target_width float32)
    num_classes: int = 0
    class_names: tuple[str, ...] = ()
    target_width: int = 1  # REAL targets
    vocab_size: int = 0  # int64 inputs: ids are < vocab_size
    notes: tuple[str, ...] = ()  # for a person: e.g. why a CSV target was taken as classes

    @property
    def is_classification(self) -> bool:
        return self.target == CLASS

    def input_params(self) -> dict:
        """Parameters for the graph's Input node that match this data."""
        return {"shape": list(self.input_shape), "dtype": self.input_dtype}

    @property
    def default_loss(self) -> str:
        """A TrainingSettings.loss that fits: cross_entropy for classes, else mse."""
        return "cross_entropy" if self.is_classification else "mse"

    @property
    def output_width(self) -> int:
        """The out_features the last layer needs with the default loss."""
        return self.num_classes if self.is_classification else self.target_width


@dataclass
class RawData:
    """What a loader returns, before splitting and normalization."""
    x: np.ndarray  # float32, uint8 (images, scaled by 1/255 later) or int64 (tokens)
    y: np.ndarray  # int64 class ids, or float32 N×target_width
    info: DataInfo
    image: bool = False  # N×C×H×W: per-channel normalization, augmentation allowed
    ordered: bool = False  # a time series: split in time order, never shuffled across
    test: tuple[np.ndarray, np.ndarray] | None = None  # a fixed official test split
    augment: Callable[[], Any] | None = None  # builds a torchvision.transforms.v2 transform
    # Fixed per-channel (mean, std) on the 0..1 scale, e.g. pretrained weights' own; None:
    # normalize computes them from the training split.
    norm: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    feature_names: tuple[str, ...] = ()  # a table's input columns, for the preview


# Options every dataset accepts: how to split, normalize and augment it.
COMMON = (
    Param("val_fraction", FLOAT, 0.15, "share of the data held out for validation",
          min=0.0, max=0.5),
    Param("test_fraction", FLOAT, 0.15, "share of the data held out for the final test",
          min=0.0, max=0.5),
    Param("normalize", BOOL, True, "standardize inputs with the training split's mean and "
          "standard deviation (per feature or per channel)"),
    Param("augment", BOOL, False, "random flips/crops/shifts of training images "
          "(image datasets only)"),
)


@dataclass(frozen=True)
class DatasetSpec:
    """load(options) -> RawData; `options` is complete (defaults filled in, checked).
    info(options) -> DataInfo when it is known without loading (built-ins); else the data
    is loaded to find out (CSV, image folder)."""
    name: str
    category: str
    doc: str
    task: str
    load: Callable[[dict], RawData]
    params: tuple[Param, ...] = ()
    info: Callable[[dict], DataInfo] | None = None
    offline: bool = True  # False: may need a download
    tags: frozenset = field(default_factory=frozenset)
    # prepared(name, options, seed, progress) -> PreparedData: loads, splits and batches
    # by itself (image folders: scanned, then decoded up front or streamed)
    prepared: Callable[..., Any] | None = None
    # quick_info(options) -> DataInfo by reading little (a folder scan), where `info` cannot
    quick_info: Callable[[dict], DataInfo] | None = None
    # preview(options, progress, cancelled) -> the Data panel's preview, reading only what
    # it shows (see preview.py); None: the preview loads the data
    preview: Callable[..., dict] | None = None

    @property
    def all_params(self) -> tuple[Param, ...]:
        return self.params + COMMON

    def fill(self, options: dict | None) -> dict:
        """Defaults overridden by `options`, each checked; raises DataError naming the
        option."""
        options = dict(options or {})
        out = {p.name: p.default for p in self.all_params}
        for key, value in options.items():
            p = next((q for q in self.all_params if q.name == key), None)
            if p is None:
                known = ", ".join(q.name for q in self.all_params)
                raise DataError(f"dataset {self.name!r} has no option {key!r} "
                                f"(options: {known})")
            msg = p.check(value)
            if msg:
                raise DataError(f"dataset {self.name!r}: option {key} {msg}")
            out[key] = value
        if out["val_fraction"] + out["test_fraction"] >= 0.9:
            raise DataError(f"dataset {self.name!r}: val_fraction + test_fraction must leave "
                            f"at least 10% of the data for training")
        return out

    def describe(self, options: dict | None = None) -> DataInfo:
        opts = self.fill(options)
        if self.info:
            return self.info(opts)
        return self.quick_info(opts) if self.quick_info else self.load(opts).info


_REGISTRY: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec) -> DatasetSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"dataset {spec.name!r} is registered twice")
    if spec.task not in (CLASSIFICATION, REGRESSION, SEQUENCE):
        raise ValueError(f"dataset {spec.name!r}: unknown task {spec.task!r}")
    _REGISTRY[spec.name] = spec
    return spec


def get(name: str) -> DatasetSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known datasets: "
                        f"{', '.join(sorted(_REGISTRY))}") from None


def all_specs() -> list[DatasetSpec]:
    return list(_REGISTRY.values())


def with_info(raw: RawData, **changes) -> RawData:
    return replace(raw, info=replace(raw.info, **changes))
