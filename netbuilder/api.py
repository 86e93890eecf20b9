"""The small Python API: build a graph in code, save/load, validate, summarise, compile.

    from netbuilder.api import Graph, Project, save_project, load_project, validate, compile
"""
from __future__ import annotations

from .core.analysis import ERROR, WARNING, Problem, analyze
from .core.compiler import CompileError, compile_graph
from .core.graph import Edge, Graph, GraphError, Node
from .core.layout import apply_layout
from .core.project import (DatasetChoice, Project, ProjectError, TrainingSettings,
                           load_project, save_project)
from .core.summary import SummaryRow, summary_rows
from .core.tuning import parameter_split
from . import examples

__all__ = ["Graph", "Node", "Edge", "GraphError", "Project", "ProjectError", "TrainingSettings",
           "DatasetChoice", "load_project", "save_project", "validate", "compile", "summary",
           "example", "open_project", "Problem", "CompileError", "apply_layout", "ERROR",
           "WARNING", "SummaryRow", "fit_head", "parameter_split"]


def _graph_and_loss(obj):
    if isinstance(obj, Project):
        return obj.graph, obj.training.loss
    return obj, None


def validate(obj: Graph | Project) -> list[Problem]:
    """Errors first, then warnings. A project also enables the loss-dependent lints and,
    when it names a dataset, the checks that the network can train on it (the same the
    Train button and `netbuilder train` refuse with)."""
    if isinstance(obj, Project):
        from .training.compat import project_problems

        return project_problems(obj)
    return analyze(obj)


def compile(obj: Graph | Project, seed: int | None = None):  # noqa: A001 (API name)
    """A torch.fx.GraphModule; raises CompileError listing the graph's errors."""
    graph, _ = _graph_and_loss(obj)
    return compile_graph(graph, seed=seed)


def summary(obj: Graph | Project, depth: int | None = 1) -> list[SummaryRow]:
    """Rows in execution order (output shape, parameters, FLOPs per sample): one per
    top-level node at depth 1, block instances expanded for each level more, one per layer
    with depth=None. The rows add up to the totals at any depth."""
    graph, _ = _graph_and_loss(obj)
    return summary_rows(graph, depth)


def fit_head(project: Project) -> Node:
    """Set the final classifier's out_features to the dataset's number of classes (every
    other layer, and so every other weight, is left as it is). Returns that node; raises
    ValueError saying why when there is no head or no classes."""
    from .training.tuning import head_fit

    node_id, classes = head_fit(project)
    project.graph.set_param(node_id, "out_features", classes)
    return project.graph.node(node_id)


def example(name: str) -> Project:
    return examples.load(name)


def open_project(spec: str) -> Project:
    """A project file path or the name of a shipped example."""
    return examples.resolve(spec)
