"""Export a project, then prove the artefact computes what the project computes.

Every format goes the same way: compile (and load the weights), write the artefact to a
temporary file beside the target, load it back the way a user would, compare its outputs
with the PyTorch model's on a probe batch and on a second batch size, and only then rename
it into place. A failure raises ExportError and leaves nothing behind.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.budget import MemoryBudgetError, check_memory
from ..core.compiler import CompileError, compile_graph, module_names
from ..core.project import Project
from ..core.files import DiskError, check_room, reword
from .atomic import staged_dir, staged_file
from .errors import ExportError
from .formats import FORMATS
from .inputs import probe_inputs  # noqa: F401 (part of this module's API)
from .weights import load_weights

FORMAT_NAMES = (*FORMATS, "python")


@dataclass
class ExportReport:
    format: str
    path: Path
    max_diff: float  # largest |artefact - PyTorch| over both probe batches
    batch_sizes: tuple[int, int]
    seconds: float
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        b1, b2 = self.batch_sizes
        lines = [f"wrote {self.path} ({self.format})",
                 f"verified: reloaded and compared with the PyTorch model at batch sizes "
                 f"{b1} and {b2}; largest absolute difference {self.max_diff:.3g}"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


class ExportContext:
    """What format writers may need besides the model."""

    def __init__(self, project: Project, weights, seed: int):
        self.project, self.weights, self.seed = project, weights, seed
        graph = project.graph
        names = module_names(graph)
        self.input_names = [names[n.id] for n in graph.nodes.values() if n.type == "Input"]
        self.output_names = [names[n.id] for n in graph.nodes.values() if n.type == "Output"]
        self.notes: list[str] = []

    def fresh_model(self):
        try:
            model = compile_graph(self.project.graph, seed=self.seed)
        except CompileError as e:
            raise ExportError(f"the project cannot be compiled: {e}") from None
        return model.eval()

    def node_for_op(self, op: str) -> str | None:
        """The node most likely to have produced an operation called `op`."""
        op = op.lower()
        for n in self.project.graph.nodes.values():
            code = n.params.get("function") or n.params.get("target") or ""
            if op and (op in code.lower() or op in n.type.lower()):
                return f"{n.name!r} ({n.type}{' ' + code if code else ''})"
        return None


def _outputs(y) -> list[torch.Tensor]:
    return list(y) if isinstance(y, (tuple, list)) else [y]


def compare(reference, artefact, inputs_by_batch) -> float:
    """Largest |difference|; raises ExportError when it is beyond float32 noise."""
    worst = 0.0
    with torch.no_grad():
        for xs in inputs_by_batch:
            want, got = _outputs(reference(*xs)), _outputs(artefact(*xs))
            if len(want) != len(got):
                raise ExportError(f"the exported model returns {len(got)} output(s), the "
                                  f"project {len(want)}")
            for i, (w, o) in enumerate(zip(want, got)):
                if tuple(w.shape) != tuple(o.shape):
                    raise ExportError(f"output {i + 1} has shape {tuple(o.shape)} in the "
                                      f"export but {tuple(w.shape)} in PyTorch at batch "
                                      f"{xs[0].shape[0]}")
                diff = float((w.float() - o.float()).abs().max()) if w.numel() else 0.0
                tol = 1e-4 * max(1.0, float(w.float().abs().max()) if w.numel() else 1.0)
                if not diff <= tol:
                    raise ExportError(f"the exported model's output {i + 1} differs from "
                                      f"PyTorch by {diff:.3g} at batch {xs[0].shape[0]} "
                                      f"(allowed {tol:.1g}); the export is wrong, nothing "
                                      f"was written")
                worst = max(worst, diff)
    return worst


def export_project(project: Project, fmt: str, path: str | Path, weights=None,
                   batch_sizes: tuple[int, int] = (2, 3), seed: int = 0) -> ExportReport:
    """Write `project` (with `weights`: a checkpoint dir or .safetensors file; fresh
    weights from `seed` otherwise) as `fmt` to `path`, verified. A full disk or a place
    that cannot be written is an ExportError naming the path, and leaves no file."""
    try:
        return _export(project, fmt, Path(path), weights, batch_sizes, seed)
    except DiskError as e:
        # name the target the user gave, not the hidden file it was being staged in
        raise ExportError(str(reword(e, path) if e.temporary else e)) from None
    except OSError as e:  # raised by a library's own reader or writer
        raise ExportError(str(reword(e, path))) from None


def estimate_bytes(model, fmt: str) -> int:
    """About the size of the artefact: the weights (twice for python: weights.pt and the
    checkpoint-free sources are small) plus headers and code."""
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return weights + 1024 * 1024


def _export(project, fmt, path: Path, weights, batch_sizes, seed) -> ExportReport:
    if fmt not in FORMAT_NAMES:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}")
    t0 = time.perf_counter()
    path = Path(path)
    try:  # before compiling: the model and its reloaded artefact are both in memory
        check_memory(project.graph, max(batch_sizes), 2, copies_note="the model and the "
                     "reloaded export")
    except MemoryBudgetError as e:
        raise ExportError(f"cannot export: {e}") from None
    ctx = ExportContext(project, weights, seed)
    model = ctx.fresh_model()
    if weights is not None:
        load_weights(model, weights)
    inputs = [probe_inputs(project, b, seed) for b in batch_sizes]
    if path.is_dir() and fmt != "python":
        raise ExportError(f"{path}: is a folder; give a file name such as "
                          f"model{FORMATS[fmt][0]}")
    check_room(path.parent, estimate_bytes(model, fmt), f"the {fmt} export")
    if fmt == "python":
        from .pysource import write_python

        if path.exists() and not path.is_dir():
            raise ExportError(f"{path}: python export writes a folder (model.py, train.py, "
                              f"weights.pt); this is a file")
        with staged_dir(path) as tmp:
            loaded, notes, files = write_python(project, model, tmp, ctx)
            diff = compare(model, loaded, inputs)
        return ExportReport(fmt, path, diff, batch_sizes, time.perf_counter() - t0,
                            ctx.notes + notes, [path / f for f in files])
    suffix, write, load = FORMATS[fmt]
    if path.is_dir():
        raise ExportError(f"{path}: is a folder; give a file name such as model{suffix}")
    with staged_file(path) as tmp:
        # trace with the larger batch: torch.export specialises a batch of 1 to a constant
        notes = write(model, max(inputs, key=lambda xs: xs[0].shape[0]), tmp, ctx)
        loaded = load(tmp, ctx)
        diff = compare(model, loaded, inputs) if loaded is not None else float("nan")
    return ExportReport(fmt, path, diff, batch_sizes, time.perf_counter() - t0,
                        ctx.notes + notes, [path])
