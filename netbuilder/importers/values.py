"""What each fx node computes, found by running the traced model at two batch sizes.

A value that is the same in both runs is a constant (image sizes, channel counts, the 3 in
`x.dim() == 3`); an int that follows the batch size is "the batch size of tensor T"; a
tensor whose first dimension follows the batch size is batched. Everything the importer
decides about shape arithmetic (`x.reshape(x.shape[0], 768, 196)`) rests on this.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx as fx

BATCHES = (2, 3)  # not 1: some ops (squeeze) treat a batch of one specially


@dataclass(frozen=True)
class BatchOf:
    """An int equal to the batch size of the tensor computed by fx node `ref`."""
    ref: fx.Node


class Unrepresentable(Exception):
    pass


class _Recorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.values: dict[fx.Node, object] = {}

    def run_node(self, n):
        out = super().run_node(n)
        self.values[n] = out
        return out


def record(gm: fx.GraphModule, make_inputs) -> tuple[dict, dict]:
    """Run `gm` on make_inputs(b) for both batch sizes; the values of every node. On the
    meta device when every operation allows it (only shapes and shape arithmetic are
    needed; a real forward of a large model costs seconds), else for real."""
    try:
        return _record_meta(gm, make_inputs)
    except Exception:  # noqa: BLE001 - a data-dependent op, a CPU-only tensor: run for real
        pass
    runs = []
    with torch.no_grad():
        for b in BATCHES:
            r = _Recorder(gm)
            r.run(*make_inputs(b))
            runs.append(r.values)
    return runs[0], runs[1]


class _MetaRun(torch.nn.Module):
    def __init__(self, gm):
        super().__init__()
        self.gm = gm

    def forward(self, *xs):
        r = _Recorder(self.gm)
        r.run(*xs)
        return r.values


def _record_meta(gm: fx.GraphModule, make_inputs) -> tuple[dict, dict]:
    from torch.func import functional_call

    wrapper = _MetaRun(gm)
    state = {k: v.to("meta") for k, v in
             [*wrapper.named_parameters(remove_duplicate=False),
              *wrapper.named_buffers(remove_duplicate=False)]}
    runs = []
    with torch.no_grad():
        for b in BATCHES:
            xs = [x.to("meta") for x in make_inputs(b)]
            runs.append(functional_call(wrapper, state, tuple(xs)))
    return runs[0], runs[1]


def is_batched(v1, v2) -> bool:
    return (isinstance(v1, torch.Tensor) and isinstance(v2, torch.Tensor) and v1.dim() > 0
            and v1.dim() == v2.dim() and v1.shape[0] == BATCHES[0]
            and v2.shape[0] == BATCHES[1] and v1.shape[1:] == v2.shape[1:])


def batch_ref(node: fx.Node, v1: dict, v2: dict) -> fx.Node | None:
    """The batched tensor an int-valued node was computed from (breadth-first)."""
    seen, todo = set(), [node]
    while todo:
        n = todo.pop(0)
        if n in seen:
            continue
        seen.add(n)
        if n is not node and is_batched(v1.get(n), v2.get(n)):
            return n
        todo.extend(n.all_input_nodes)
    return None


def symbolic(node: fx.Node, a, b, v1: dict, v2: dict):
    """A non-tensor value with batch-dependent ints replaced by BatchOf; raises
    Unrepresentable when it depends on the batch some other way."""
    if isinstance(a, torch.Tensor):
        raise Unrepresentable("a tensor inside a shape value")
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        items = [symbolic(node, x, y, v1, v2) for x, y in zip(a, b)]
        return items if isinstance(a, list) else tuple(items)
    if a == b and type(a) is type(b):
        return a
    if isinstance(a, int) and (a, b) == BATCHES:
        ref = batch_ref(node, v1, v2)
        if ref is not None:
            return BatchOf(ref)
    raise Unrepresentable(f"{node.name} is {a} at batch {BATCHES[0]} but {b} at batch "
                          f"{BATCHES[1]}")


def make_inputs(shapes, dtypes, vocab: int | None):
    """Fixed random inputs for a batch size b (seeded by b): what the import records and
    verifies with."""
    def make(b):
        g = torch.Generator().manual_seed(b)
        out = []
        for shape, dtype in zip(shapes, dtypes):
            if dtype == "int64":
                out.append(torch.randint(0, vocab or 2, (b, *shape), generator=g))
            else:
                out.append(torch.randn((b, *shape), generator=g))
        return out
    return make
