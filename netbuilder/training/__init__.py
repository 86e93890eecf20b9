"""Training without Qt: settings checks, the Trainer, probes, metrics and checkpoints.

    from netbuilder.training import Trainer
    result = Trainer(project, out_dir="runs/x", callbacks=[on_event]).run()
"""
from .checkpoint import CheckpointError, load_weights
from .config import TrainingConfigError
from .trainer import Result, Trainer

__all__ = ["Trainer", "Result", "TrainingConfigError", "CheckpointError", "load_weights"]
