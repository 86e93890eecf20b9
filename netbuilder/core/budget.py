"""Refuse before allocating: how much memory a graph needs, from meta-device shapes.

Shape inference runs every layer on the `meta` device, so parameter counts and output
shapes are known without allocating anything. `memory_problem` turns them into bytes and
compares with the machine's memory, so `train`, `export` and the editor refuse a project
that cannot fit ("needs 3.6 TiB for its parameters; this machine has 23 GiB") instead of
dying in the allocator. No Qt and no allocation here; the UI may call it directly.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .graph import Graph
from .shapes import ShapeInference

FLOAT_BYTES = 4  # parameters and activations are float32
# Parameter-sized tensors an optimizer keeps besides the weights and their gradients.
OPTIMIZER_STATES = {"sgd": 1, "adagrad": 1, "rmsprop": 2, "adam": 2, "adamw": 2}


class MemoryBudgetError(ValueError):
    """The project needs more memory than this machine has; the message says how much."""


def machine_memory() -> int:
    """Physical memory in bytes (what could ever be allocated here)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: a generous 64 GiB guess
        return 64 * 2**30


def human_bytes(n: float) -> str:
    """3.6 TiB, 23 GiB, 512 MiB, 12 KiB, 100 bytes."""
    if n < 1024:
        return f"{int(n)} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"):
        n /= 1024
        if n < 1024 or unit == "YiB":
            return f"{n:.2g} {unit}" if n < 10 else f"{n:,.0f} {unit}"
    return f"{n} bytes"


@dataclass(frozen=True)
class MemoryNeed:
    parameters: int  # count
    parameter_bytes: int  # weights (x copies when training)
    activation_bytes: int  # every node's output for one batch
    batch: int
    largest: str  # the node with the most parameters or output values
    largest_what: str  # "10¹² parameters" / "N×1000000×1000000 output"

    @property
    def total(self) -> int:
        return self.parameter_bytes + self.activation_bytes


def estimate(graph: Graph, batch: int, copies: int = 1,
             inference: ShapeInference | None = None) -> MemoryNeed:
    """Bytes for `copies` parameter-sized tensors (1 = weights; training adds gradients and
    optimizer state) and the activations of one batch. Nodes whose shapes are unknown
    (errors) count as zero: the analysis reports those."""
    own = inference is None
    si = ShapeInference(graph) if own else inference
    try:
        infos = si.update()
    finally:
        if own:
            si.close()
    params = act = 0
    top_node, top_bytes, top_what = "", -1, ""
    for nid, info in infos.items():
        node = graph.nodes.get(nid)
        if node is None or info.output is None:
            continue
        values = math.prod(info.output.shape[1:]) * batch
        size = 8 if info.output.dtype == "int64" else FLOAT_BYTES
        params += info.params
        act += values * size
        for nbytes, what in ((info.params * FLOAT_BYTES, f"{info.params:,} parameters"),
                             (values * size, f"an output of {info.output} values")):
            if nbytes > top_bytes:
                top_node, top_bytes, top_what = node.name, nbytes, what
    return MemoryNeed(params, params * FLOAT_BYTES * copies, act, batch, top_node, top_what)


def memory_problem(graph: Graph, batch: int, copies: int = 1,
                   inference: ShapeInference | None = None, available: int | None = None,
                   copies_note: str = "") -> str | None:
    """'needs 3.6 TiB for its parameters; this machine has 23 GiB' (plus the node that
    needs the most), or None when it fits in `available` bytes (default: the machine).
    `copies_note` says what the `copies` parameter-sized tensors are."""
    need = estimate(graph, batch, copies, inference)
    have = machine_memory() if available is None else available
    if need.total <= have:
        return None
    if need.parameter_bytes >= need.activation_bytes:
        what = f"{human_bytes(need.parameter_bytes / copies)} for its parameters"
        if copies > 1:
            what += (f" (×{copies}{': ' + copies_note if copies_note else ''}: "
                     f"{human_bytes(need.parameter_bytes)})")
    else:
        what = (f"{human_bytes(need.activation_bytes)} for the activations of a batch of "
                f"{need.batch}")
    largest = f" (node {need.largest!r} alone has {need.largest_what})" if need.largest else ""
    return f"needs {what}; this machine has {human_bytes(have)}{largest}"


def check_memory(graph: Graph, batch: int, copies: int = 1,
                 inference: ShapeInference | None = None, copies_note: str = "") -> None:
    """Raise MemoryBudgetError when the graph cannot fit; call before compiling."""
    msg = memory_problem(graph, batch, copies, inference, copies_note=copies_note)
    if msg:
        raise MemoryBudgetError(f"the project {msg}; nothing was allocated")
