"""Small projects shared by the training tests."""
import dataclasses

import numpy as np

from netbuilder.api import DatasetChoice, Graph, Project, TrainingSettings, example


def project(layers, shape, dataset, options=None, dtype=None, **training):
    g = Graph()
    params = {"shape": list(shape)}
    if dtype:
        params["dtype"] = dtype
    g.chain(g.add_node("Input", "x", params), *layers, "Output")
    return Project(graph=g, training=TrainingSettings(**training),
                   dataset=DatasetChoice(name=dataset, options=options or {}))


def with_training(p: Project, **changes) -> Project:
    return dataclasses.replace(p, training=p.training.model_copy(update=changes))


def small_example(name, **changes) -> Project:
    return with_training(example(name), **changes)


def plain(value):
    """True when an event holds only plain Python / numpy data (no tensors)."""
    if isinstance(value, (str, int, float, bool, type(None), np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if dataclasses.is_dataclass(value):
        return all(plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False
