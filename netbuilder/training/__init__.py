"""Training without Qt: settings checks, the Trainer, probes, metrics and checkpoints.

    from netbuilder.training import Trainer
    result = Trainer(project, out_dir="runs/x", callbacks=[on_event]).run()
"""
__all__ = ["Trainer", "Result", "TrainingConfigError", "CheckpointError", "load_weights"]

_WHERE = {"Trainer": "trainer", "Result": "trainer", "TrainingConfigError": "config",
          "CheckpointError": "checkpoint", "load_weights": "checkpoint"}


def __getattr__(name):
    # These need torch. The events, the extras' dataclasses and the worker process's parent
    # side do not, so the window can import them before torch has finished importing.
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'netbuilder.training' has no attribute {name!r}")
