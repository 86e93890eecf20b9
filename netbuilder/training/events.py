"""What the Trainer reports, as small frozen dataclasses of plain Python / numpy data.

Callbacks run on the training thread; nothing here refers to a live tensor, so a GUI may
queue an event to another thread (e.g. emit it through a Qt signal) and read it later
while training goes on.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Started:
    epochs: int
    batches_per_epoch: int
    start_epoch: int  # 0 for a new run; later when resuming
    start_batch: int
    device: str
    threads: int  # torch intra-op threads used for this run
    parameters: int
    train_samples: int
    val_samples: int
    test_samples: int


@dataclass(frozen=True)
class BatchEnd:
    epoch: int  # 0-based
    batch: int  # 0-based, within the epoch
    batches: int  # per epoch
    step: int  # optimizer steps since the run began
    loss: float
    accuracy: float | None  # classification only
    lr: float
    samples_per_s: float  # over the epoch so far


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train: dict  # {"loss": .., "accuracy": ..} averaged over the epoch
    val: dict  # split metrics, see metrics.evaluate (empty without a validation split)
    lr: float
    seconds: float
    samples_per_s: float


@dataclass(frozen=True)
class LayerProbe:
    node_id: str
    name: str  # the node's name in the graph
    type: str
    mean: float
    std: float
    min: float
    max: float
    hist_counts: np.ndarray  # int64, HIST_BINS values
    hist_edges: np.ndarray  # float32, HIST_BINS + 1 values
    dead_fraction: float | None = None  # ReLU-like layers: units zero on every probe sample
    weight_norm: float | None = None  # layers with parameters
    grad_norm: float | None = None
    update_ratio: float | None = None  # ||Δw|| / ||w|| of the last optimizer step
    feature_maps: np.ndarray | None = None  # conv layers: C×H×W of the first probe sample


@dataclass(frozen=True)
class ProbeSnapshot:
    epoch: int
    batch: int
    step: int
    layers: tuple[LayerProbe, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    kind: str  # "last" or "best"
    epoch: int  # epochs completed
    batch: int  # batches completed in the next epoch (0 at an epoch boundary)


@dataclass(frozen=True)
class Paused:
    epoch: int
    batch: int


@dataclass(frozen=True)
class Resumed:
    epoch: int
    batch: int


@dataclass(frozen=True)
class Finished:
    status: str  # "completed" or "stopped"
    epochs_done: int
    test: dict  # test-split metrics (empty when stopped early or without a test split)
    best_val_loss: float | None
    seconds: float


@dataclass(frozen=True)
class Failed:
    message: str  # for a person: what happened, where, what to try
    epoch: int | None = None
    batch: int | None = None
    node_id: str | None = None  # the first layer whose output was not finite


Event = (Started | BatchEnd | EpochEnd | ProbeSnapshot | CheckpointSaved | Paused | Resumed
         | Finished | Failed)


# The end of a run. Here, not in trainer.py: a process that only receives it (a sweep's,
# over the pipe) must not import torch to unpickle it (measured: 1.5 s of a busy core).
@dataclass
class Result:
    status: str  # "completed", "stopped" or "failed"
    epochs_done: int = 0
    test: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    message: str = ""  # failures: for a person
    checkpoint: str | None = None  # the last checkpoint written
    best_val_loss: float | None = None
    traceback: str = ""  # unexpected failures: for a developer
    nothing_to_do: bool = False  # resumed from a checkpoint that had trained every epoch
    notices: list[str] = field(default_factory=list)  # e.g. leftovers recovered at start
