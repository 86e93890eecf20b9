"""Can this project train on its dataset? One answer, as `Problem`s tied to nodes.

The Problems panel, the status bar, `netbuilder validate`, `netbuilder train` and the
editor's Train button all ask `dataset_problems` (the training check `config.check` raises
with exactly these messages), so they say the same thing in the same words.

It works from the dataset's metadata (`DatasetSpec.info`) without loading it; datasets that
must be read to know their classes (CSV, image folder) are read once and their `DataInfo`
cached by options and file time. Needs no torch to import (shape inference imports it when
it runs).
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..core.analysis import ERROR, Problem, analyze
from ..core.graph import Graph, Node
from ..core.project import DatasetChoice, Project, TrainingSettings
from ..core.registry import fmt_shape
from ..core.shapes import ShapeInference
from ..data.registry import DataError, DataInfo, get as get_dataset

LOSS_NAMES = {"mse": "MSELoss", "l1": "L1Loss", "huber": "HuberLoss", "bce": "BCELoss",
              "bce_with_logits": "BCEWithLogitsLoss", "cross_entropy": "CrossEntropyLoss",
              "nll": "NLLLoss", "hinge": "MultiMarginLoss (hinge)",
              "quantile": "quantile (pinball) loss"}
CLASS_LOSSES = {"cross_entropy", "nll", "hinge"}  # take class ids
PROB_LOSSES = {"bce", "bce_with_logits"}  # take 0/1 (or one-hot) float targets
REAL_LOSSES = {"mse", "l1", "huber", "quantile"}
TRANSPARENT = {"Dropout", "Identity", "Flatten", "Reshape"}
# Parameters that set how many values per sample a layer gives, in the order tried.
WIDTH_PARAMS = ("out_features", "hidden_size")
# Graph-analysis warnings that an error here states more strongly about the same node.
SUPERSEDED = {"squash-before-logit-loss", "nll-without-logsoftmax"}


# ---- the dataset's metadata --------------------------------------------------------------

_INFO_CACHE: dict[tuple, DataInfo] = {}
_INFO_LOCK = threading.Lock()


def _stamp(options: dict) -> tuple:
    """Changes when a user dataset's file (or a class folder) changes on disk."""
    path = options.get("path")
    if not path:
        return ()
    p = Path(os.path.expanduser(str(path)))
    try:
        st = p.stat()
        subs = tuple(sorted((d.name, d.stat().st_mtime_ns) for d in p.iterdir()
                            if d.is_dir())) if p.is_dir() else ()
    except OSError:
        return ("missing",)
    return st.st_mtime_ns, st.st_size, subs


def _cache_key(name: str, opts: dict) -> tuple:
    return name, json.dumps(opts, sort_keys=True, default=str), _stamp(opts)


def dataset_info(choice: DatasetChoice, load: bool = True) -> DataInfo | None:
    """The DataInfo for a dataset choice. Built-in and torchvision datasets answer from
    their spec; others are loaded once (when `load`) and cached. None when it would need a
    load and `load` is false. Raises DataError (unknown dataset, bad options, unreadable
    file) with a message for a person."""
    spec = get_dataset(choice.name)
    opts = spec.fill(choice.options)
    if spec.info is not None:
        return spec.info(opts)
    key = _cache_key(choice.name, opts)
    with _INFO_LOCK:
        hit = _INFO_CACHE.get(key)
    if hit is not None or not load:
        return hit
    # an image folder answers from its scan (no image decoded); others load
    info = spec.quick_info(opts) if spec.quick_info else spec.load(opts).info
    remember_info(choice, info)
    return info


def remember_info(choice: DatasetChoice, info: DataInfo) -> None:
    """Record what a load found (the Data panel's preview loads the data anyway), so later
    checks need not load it again. Thread-safe."""
    try:
        spec = get_dataset(choice.name)
        key = _cache_key(choice.name, spec.fill(choice.options))
    except DataError:
        return
    with _INFO_LOCK:
        _INFO_CACHE[key] = info


# ---- the checks ------------------------------------------------------------------------------

def _preds(graph: Graph, nid: str) -> list[str]:
    return [e.src for e in graph.edges if e.dst == nid]


def feeder(graph: Graph, nid: str) -> Node | None:
    """The nearest layer before `nid` that is not a pass-through (Dropout, Flatten ...)."""
    preds = _preds(graph, nid)
    while preds:
        node = graph.nodes[preds[0]]
        if node.type not in TRANSPARENT:
            return node
        preds = _preds(graph, node.id)
    return None


def width_layer(graph: Graph, nid: str) -> tuple[Node, str] | None:
    """The layer (and its parameter) that sets how wide the tensor reaching `nid` is,
    walking back through layers that keep the width (activations, Dropout ...)."""
    preds, seen = _preds(graph, nid), set()
    while len(preds) == 1 and preds[0] not in seen:
        node = graph.nodes[preds[0]]
        seen.add(node.id)
        for pname in WIDTH_PARAMS:
            if node.spec.param(pname) is not None:
                return node, pname
        if node.type in ("Flatten", "Reshape", "Input"):
            return None  # the width comes from a reshape: no single parameter to name
        preds = _preds(graph, node.id)
    return None


def _label(node: Node) -> str:
    return f"{node.type} {node.name!r}"


class _Report:
    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, message: str, node: Node | None = None, code: str = "",
            param: str | None = None) -> None:
        self.problems.append(Problem(ERROR, message, node.id if node else None, code, param))


def fit_problems(graph: Graph, s: TrainingSettings, info: DataInfo, dataset: str,
                 out_shape: tuple | None) -> tuple[list[Problem], tuple]:
    """Every reason `graph` with settings `s` cannot train on `info`, and the target plan
    (output_width, one_hot, threshold). `out_shape` is the Output node's shape (None when
    the graph's errors leave it unknown: the output checks are skipped then). The graph
    must have exactly one Input and one Output."""
    r = _Report()
    inp = graph.nodes_of_type("Input")[0]
    out = graph.nodes_of_type("Output")[0]
    shape, dtype = tuple(inp.params.get("shape", [])), inp.params.get("dtype", "float32")
    if shape != tuple(info.input_shape):
        r.add(f"Input {inp.name!r} has shape {fmt_shape([None, *shape])} but dataset "
              f"{dataset!r} gives {fmt_shape([None, *info.input_shape])}; set the Input "
              f"shape to {list(info.input_shape)}", inp, "data-input-shape", "shape")
    if dtype != info.input_dtype:
        r.add(f"Input {inp.name!r} has dtype {dtype} but dataset {dataset!r} gives "
              f"{info.input_dtype}" + (" token ids" if info.input_dtype == "int64" else "")
              + f"; set the Input dtype to {info.input_dtype}", inp, "data-input-dtype",
              "dtype")
    if info.vocab_size:
        for n in graph.nodes.values():
            if n.type == "Embedding" and n.params.get("num_embeddings", 0) < info.vocab_size:
                r.add(f"Embedding {n.name!r} has {n.params['num_embeddings']} rows but "
                      f"dataset {dataset!r} uses token ids up to {info.vocab_size - 1}; "
                      f"set num_embeddings to at least {info.vocab_size}", n,
                      "data-vocab", "num_embeddings")
    plan = (1, False, None)
    if out_shape is not None:
        plan = _targets(graph, out, s.loss, out_shape, info, dataset, r)
    _loss_kind(graph, out, s.loss, r)
    if s.optimizer == "sgd" and s.nesterov and s.momentum == 0:
        r.add("SGD with nesterov=true needs a momentum above 0", code="settings-nesterov")
    return r.problems, plan


def _set_width(graph: Graph, out: Node, k: int) -> tuple[str, Node | None, str | None]:
    """'in Linear 'fc' set out_features to k' (or a general hint), the node, the param."""
    found = width_layer(graph, out.id)
    if found is None:
        return f"make the last layer give {k} value(s) per sample", None, None
    node, pname = found
    return f"in {_label(node)} set {pname} to {k}", node, pname


def _targets(graph: Graph, out: Node, loss: str, out_shape: tuple, info: DataInfo,
             dataset: str, r: _Report) -> tuple:
    """(output_width, one_hot, threshold); reports when outputs and targets cannot meet."""
    name = LOSS_NAMES[loss]
    width = out_shape[-1] if len(out_shape) >= 2 else 1
    got = fmt_shape(out_shape)
    last = feeder(graph, out.id)
    if len(out_shape) != 2:
        r.add(f"the output is {got}, but training compares one row per sample (N×width); "
              f"for a recurrent layer set output to 'last', or add Flatten before the "
              f"last Linear", last, "data-output-rank")
        return width, False, None
    if info.is_classification:
        k = info.num_classes
        if loss in REAL_LOSSES - {"quantile"} | PROB_LOSSES:
            if width == k or (width == 1 and k == 2):
                thr = None if width > 1 else (0.0 if loss == "bce_with_logits" else 0.5)
                return width, True, thr
            fix, node, pname = _set_width(graph, out, k)
            r.add(f"{name} on {k} classes needs an output of width {k} (one-hot "
                  f"targets){' or 1 (a 0/1 target)' if k == 2 else ''}, but the output "
                  f"is {got}; {fix}", node or last, "data-output-width", pname)
        elif loss in CLASS_LOSSES:
            if width != k:
                fix, node, pname = _set_width(graph, out, k)
                r.add(f"dataset {dataset!r} has {k} classes but the output is {got}; "
                      f"{name} needs one score per class: {fix}", node or last,
                      "data-output-width", pname)
        else:
            r.add(f"{name} is for regression, but dataset {dataset!r} is classification "
                  f"({k} classes); use CrossEntropy", code="data-loss-task")
        return width, False, None
    if loss not in REAL_LOSSES:
        r.add(f"{name} needs class labels, but dataset {dataset!r} has real-valued "
              f"targets ({info.task}); use MSE, L1, Huber or quantile", code="data-loss-task")
    elif width != info.target_width:
        fix, node, pname = _set_width(graph, out, info.target_width)
        r.add(f"dataset {dataset!r} has {info.target_width} target value(s) per sample "
              f"but the output is {got}; {fix}", node or last, "data-output-width", pname)
    return width, False, None


def _loss_kind(graph: Graph, out: Node, loss: str, r: _Report) -> None:
    """Logits versus probabilities: what the last layer gives against what the loss takes."""
    last = feeder(graph, out.id)
    last_type = last.type if last else ""
    name = LOSS_NAMES[loss]
    if (loss == "cross_entropy" and last_type in ("Softmax", "Sigmoid")
            or loss == "bce_with_logits" and last_type in ("Softmax", "LogSoftmax", "Sigmoid")):
        squash = "sigmoid" if loss == "bce_with_logits" else "softmax"
        r.add(f"{name} applies its own {squash} and expects raw scores, but the output "
              f"comes from {last_type} {last.name!r}; remove that {last_type} (or use "
              f"{'BCE' if loss == 'bce_with_logits' else 'NLL with LogSoftmax'})", last,
              "squash-before-logit-loss")
    if loss == "nll" and last_type != "LogSoftmax":
        r.add(f"NLLLoss expects log-probabilities, but the output comes from "
              f"{last_type or 'the Input'} {last.name if last else ''!r}; end the network "
              f"with LogSoftmax, or use CrossEntropy on raw scores", last,
              "nll-without-logsoftmax")
    if loss == "bce" and last_type not in ("Sigmoid", "Softmax"):
        r.add(f"BCELoss needs probabilities in [0, 1], but the output comes from "
              f"{last_type} {last.name if last else ''!r}; end with Sigmoid, or use "
              f"BCEWithLogits on raw scores", last, "bce-without-sigmoid")


def io_problem(graph: Graph) -> Problem | None:
    inputs, outputs = graph.nodes_of_type("Input"), graph.nodes_of_type("Output")
    if len(inputs) == 1 and len(outputs) == 1:
        return None
    return Problem(ERROR, f"training needs exactly one Input and one Output node; this graph "
                          f"has {len(inputs)} and {len(outputs)}", None, "io-count")


def output_shape(graph: Graph, inference: ShapeInference | None = None) -> tuple | None:
    """The shape reaching the (single) Output node, None when the graph leaves it unknown."""
    out = graph.nodes_of_type("Output")[0]
    if inference is None:
        si = ShapeInference(graph)
        try:
            infos = si.update()
        finally:
            si.close()
    else:
        infos = inference.update()
    info = infos.get(out.id)
    return info.output.shape if info is not None and info.output is not None else None


def dataset_problems(project: Project, info: DataInfo | None = None,
                     inference: ShapeInference | None = None, load: bool = True
                     ) -> list[Problem]:
    """Every reason this project's graph and training settings cannot train on the dataset
    it names (input, output width, target kind, logits vs probabilities, settings), as
    errors tied to the node to change. [] when the project names no dataset, or when `load`
    is false and the dataset's classes are only known by loading it (and `info` is not
    given). `inference`: the caller's ShapeInference for this graph, to reuse its work."""
    ds = project.dataset
    if ds is None:
        return []
    if info is None:
        try:
            info = dataset_info(ds, load=load)
        except DataError as e:
            return [Problem(ERROR, f"dataset {ds.name!r}: {e}", None, "dataset")]
        if info is None:
            return []
    graph = project.graph
    io = io_problem(graph)
    if io is not None:  # none at all is already a graph error
        return [io] if graph.nodes_of_type("Input") and graph.nodes_of_type("Output") else []
    problems, _ = fit_problems(graph, project.training, info, ds.name,
                               output_shape(graph, inference))
    return problems


def merge(analysis: list[Problem], data: list[Problem]) -> list[Problem]:
    """The graph analysis and the dataset problems as one list, errors first. A dataset
    error replaces the analysis warning that says the same thing more gently."""
    strong = {(p.node_id, p.code) for p in data}
    kept = [p for p in analysis if not (p.code in SUPERSEDED and (p.node_id, p.code) in strong)]
    return sorted(kept + data, key=lambda p: p.severity != ERROR)


def project_problems(project: Project, inference: ShapeInference | None = None,
                     info: DataInfo | None = None, load: bool = True) -> list[Problem]:
    """Everything wrong with a project: the graph analysis (with the loss lints) merged
    with `dataset_problems`. The window's document calls this with its own inference and
    load=False (the Data panel loads user datasets in the background and calls
    `remember_info`)."""
    graph_problems = analyze(project.graph, inference, loss=project.training.loss)
    return merge(graph_problems, dataset_problems(project, info, inference, load))
