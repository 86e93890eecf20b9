"""Shape inference by running the real torch modules on the meta device.

Each node is evaluated with its spec's `build` + `apply` on meta tensors of batch 1 (no
memory, no arithmetic), under `FlopCounterMode` for FLOPs. Results are cached by
(type, params, input shapes), and `ShapeInference` listens to graph events so an edit only
re-evaluates the nodes downstream of it whose inputs actually changed.
"""
from __future__ import annotations

import contextlib
import heapq
import json
import math
from collections import OrderedDict
from dataclasses import dataclass, field

from . import registry
from .blocks import BLOCK, PORT_IN, PORT_OUT, SEP, output_port_names, repeat_refusal
from .graph import Edge, Graph, Node
from .registry import fmt_shape

DTYPES = {"float32": "float32", "int64": "int64"}


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple  # dimension 0 is the symbolic batch (None)
    dtype: str = "float32"

    def __str__(self) -> str:
        return fmt_shape(self.shape)


@dataclass(frozen=True)
class NodeInfo:
    output: TensorInfo | None = None
    params: int = 0
    flops: int = 0  # per sample, forward pass
    error: str | None = None  # this node's own shape problem, for a person
    blocked: bool = False  # cannot infer because of something upstream/unconnected/params
    # Block instances: one {inner node id: NodeInfo} per copy (params and flops above are
    # the totals over every copy and every layer inside).
    inner: tuple = field(default=(), compare=False, hash=False, repr=False)
    # Block instances with an error inside: where, as (copy index, inner node id, ...)
    # down to the failing layer, so an editor can open the block there.
    where: tuple = ()
    flops_pending: bool = False  # from the quick first pass: flops not counted yet (0)
    # Block instances with several outputs: ((port, TensorInfo), ...); `output` is the first
    ports: tuple = ()


def output_of(info: NodeInfo | None, port: str = "out") -> TensorInfo | None:
    """The tensor a node gives at output port `port` (a block can have several)."""
    if info is None:
        return None
    if info.ports and port != "out":
        return dict(info.ports).get(port)
    return info.output


def outputs_text(info: NodeInfo | None) -> str | None:
    """A node's output shape for a person; a block with several outputs names each port's
    ("down N×6×4×4, skip N×6×8×8"). None while it is unknown."""
    if info is None or info.output is None:
        return None
    if info.ports:
        return ", ".join(f"{port} {t}" for port, t in info.ports)
    return str(info.output)


BLOCKED = NodeInfo(blocked=True)


class ShapeError(Exception):
    pass


# ---- evaluation of one node -------------------------------------------------------------

_CACHE: "OrderedDict[tuple, NodeInfo]" = OrderedDict()
_CACHE_SIZE = 8192
stats = {"evaluations": 0}  # real torch evaluations, for tests and benchmarks


def _key(node: Node, inputs: tuple) -> tuple:
    return node.type, json.dumps(node.params, sort_keys=True), inputs


def evaluate(node: Node, inputs: tuple[TensorInfo, ...]) -> NodeInfo:
    key = _key(node, inputs)
    hit = _CACHE.get(key)
    if hit is not None and not (hit.flops_pending and not QUICK["on"]):
        _CACHE.move_to_end(key)
        return hit
    info = _evaluate(node.spec, node.params, inputs)
    _CACHE[key] = info
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return info


def _rank_text(spec: registry.LayerSpec, rank: int) -> str:
    seq = spec.category == "Sequence"
    return {2: "N×T token ids" if "int64" in spec.dtypes and seq else "N×features",
            3: "N×T×D" if seq else "N×C×L" if "1d" in spec.type else "N×T×features",
            4: "N×C×H×W"}.get(rank, f"rank {rank}")


def _evaluate(spec: registry.LayerSpec, params: dict, inputs: tuple[TensorInfo, ...]
              ) -> NodeInfo:
    if "input" in spec.tags:
        return NodeInfo(output=TensorInfo((None, *params["shape"]), params["dtype"]))
    shapes = [i.shape for i in inputs]
    for i in inputs:
        if i.dtype not in spec.dtypes:
            if i.dtype == "int64":
                return NodeInfo(error=f"{spec.type} needs float input but gets int64 token "
                                      f"ids ({i}); insert an Embedding before it")
            return NodeInfo(error=f"{spec.type} needs int64 token ids but gets {i.dtype} "
                                  f"values ({i}); set the Input dtype to int64")
    if spec.ranks is not None:
        for i in inputs:
            if len(i.shape) not in spec.ranks:
                want = " or ".join(_rank_text(spec, r) for r in spec.ranks)
                hint = f"; {spec.rank_hint}" if spec.rank_hint else ""
                return NodeInfo(error=f"{spec.type} expects {want} but gets {i}{hint}")
    if spec.check is not None:
        msg = spec.check(params, shapes)
        if msg:
            return NodeInfo(error=msg)
    stats["evaluations"] += 1
    try:
        return _run_quick(spec, params, inputs) or _run_meta(spec, params, inputs)
    except ShapeError as e:
        return NodeInfo(error=str(e))
    except Exception as e:  # torch's own message, trimmed to its first line
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return NodeInfo(error=f"{spec.type} cannot take "
                              f"{' and '.join(str(i) for i in inputs)}: {first}")


def _run_meta(spec, params, inputs) -> NodeInfo:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    concrete = [(1, *i.shape[1:]) for i in inputs]
    with torch.device("meta"):
        module = spec.build(params, concrete) if spec.build else None
    if module is not None:
        module.eval()
    xs = [torch.empty(s, dtype=getattr(torch, i.dtype), device="meta")
          for s, i in zip(concrete, inputs)]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = spec.apply(module, xs, params)
    if not isinstance(y, torch.Tensor):
        raise ShapeError(f"{spec.type} did not produce a tensor")
    if y.dim() == 0 or y.shape[0] != 1:
        raise ShapeError(f"{spec.type} would mix the batch dimension (got {tuple(y.shape)})")
    if any(d == 0 for d in y.shape):
        raise ShapeError(f"{spec.type} turns {' and '.join(map(str, inputs))} into an empty "
                         f"tensor {fmt_shape((None, *y.shape[1:]))}; the input is too small")
    nparams = sum(p.numel() for p in module.parameters()) if module is not None else 0
    dtype = "int64" if y.dtype == torch.int64 else "float32"
    return NodeInfo(output=TensorInfo((None, *y.shape[1:]), dtype), params=nparams,
                    flops=int(counter.get_total_flops()))


# ---- the quick first pass ------------------------------------------------------------------
# The first meta-device op, and FlopCounterMode on any device, import torch._dynamo (1-2 s
# after `import torch`). The window turns QUICK on until that import is done (in the
# background): small built-in layers then run on the CPU at batch 1 without FLOP counting,
# which gives shapes and parameter counts at once; their FLOPs are counted on the meta
# device by the first update after QUICK is off (`flops_pending`). Anything else (big or
# generic layers, errors, an exhausted time budget) takes the meta path as always, so
# messages stay the meta path's.

QUICK = {"on": False, "budget_s": 1.0, "spent_s": 0.0}
QUICK_MAX_SIZE = 4_000_000  # see _size_bound: keeps CPU weights and work small
QUICK_MAX_INPUT = 1_000_000  # elements in one sample


def quick_first_pass(on: bool) -> None:
    QUICK["on"] = on


@contextlib.contextmanager
def quick_pass(budget_s: float = 0.05):
    """Shapes now, FLOPs later, for an editor showing an edit's shapes at once: inside,
    small built-in layers take the quick CPU path (with a budget of their own); the next
    update outside counts the FLOPs they left out."""
    saved = dict(QUICK)
    QUICK.update(on=True, budget_s=budget_s, spent_s=0.0)
    try:
        yield
    finally:
        QUICK.update(saved)


def _size_bound(params: dict, concrete: list) -> int:
    """A rough upper bound on a layer's weight count, known before building it (building on
    the meta device to count them would import torch._dynamo for many layers): the product
    of its whole-number parameters times the largest input dimension."""
    size = max((max(s[1:], default=1) for s in concrete), default=1)
    for v in params.values():
        for x in v if isinstance(v, list) else [v]:
            if isinstance(x, int) and not isinstance(x, bool):
                size *= max(1, x)
    return size


def _run_quick(spec, params, inputs) -> NodeInfo | None:
    if not QUICK["on"] or QUICK["spent_s"] > QUICK["budget_s"] or spec.category == "Generic":
        return None
    import time

    import torch

    t0 = time.perf_counter()
    try:
        concrete = [(1, *i.shape[1:]) for i in inputs]
        if any(math.prod(s) > QUICK_MAX_INPUT for s in concrete) \
                or _size_bound(params, concrete) > QUICK_MAX_SIZE:
            return None
        module = None
        if spec.build:
            with torch.device("cpu"):
                module = spec.build(params, concrete)
            module.eval()
        xs = [torch.zeros(s, dtype=getattr(torch, i.dtype)) for s, i in zip(concrete, inputs)]
        with torch.no_grad():
            y = spec.apply(module, xs, params)
        if not isinstance(y, torch.Tensor) or y.dim() == 0 or y.shape[0] != 1 or 0 in y.shape:
            return None  # the meta path explains it
        nparams = sum(p.numel() for p in module.parameters()) if module is not None else 0
        dtype = "int64" if y.dtype == torch.int64 else "float32"
        return NodeInfo(output=TensorInfo((None, *y.shape[1:]), dtype), params=nparams,
                        flops_pending=True)
    except Exception:  # noqa: BLE001 (the meta path gives the message)
        return None
    finally:
        QUICK["spent_s"] += time.perf_counter() - t0


# ---- whole graph, incrementally -----------------------------------------------------------

def topo_order(graph: Graph) -> tuple[list[str], set[str]]:
    """Kahn's algorithm in insertion order. Returns (order, nodes on or after a cycle)."""
    indeg = {nid: 0 for nid in graph.nodes}
    succ: dict[str, list[str]] = {nid: [] for nid in graph.nodes}
    for e in graph.edges:
        indeg[e.dst] += 1
        succ[e.src].append(e.dst)
    ready = [nid for nid, d in indeg.items() if d == 0]
    order = []
    while ready:
        nid = ready.pop()
        order.append(nid)
        for m in succ[nid]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    stuck = set(graph.nodes) - set(order)
    return order, stuck


class ShapeInference:
    """Keeps `infos` (node id -> NodeInfo) current as the graph changes."""

    def __init__(self, graph: Graph, ports: dict | None = None, listen: bool = True,
                 stack: tuple = ()) -> None:
        """`ports` (port name -> TensorInfo) evaluates a block definition for one instance's
        inputs; `stack` is the chain of definitions being evaluated (refuses recursion);
        listen=False for a one-shot evaluation that never sees edits."""
        self.graph = graph
        self.ports = ports
        self.stack = stack
        self.infos: dict[str, NodeInfo] = {}
        self.recomputed: int = 0  # nodes re-evaluated by the last update
        self.renewed: set[str] = set()  # nodes the last update gave a new NodeInfo object
        self._dirty: set[str] = set(graph.nodes)
        self._pending: set[str] = set()  # infos whose FLOPs the quick pass left uncounted
        self._structure: tuple | None = None  # (order, stuck, inputs by node)
        self._listening = listen
        if not listen:
            return
        lib = graph.blocks.events
        lib.changed.connect(self._on_block_changed)
        lib.defined.connect(self._on_blocks)
        lib.removed.connect(self._on_blocks)
        lib.renamed.connect(self._on_blocks)
        ev = graph.events
        ev.node_added.connect(self._on_node)
        ev.node_removed.connect(self._on_removed)
        ev.node_changed.connect(self._on_changed)
        ev.edge_added.connect(self._on_edge)
        ev.edge_removed.connect(self._on_edge)
        ev.reset.connect(self._on_reset)

    def close(self) -> None:
        if not self._listening:
            return
        self._listening = False
        lib = self.graph.blocks.events
        lib.changed.disconnect(self._on_block_changed)
        for sig in (lib.defined, lib.removed, lib.renamed):
            sig.disconnect(self._on_blocks)
        ev = self.graph.events
        for sig, cb in ((ev.node_added, self._on_node), (ev.node_removed, self._on_removed),
                        (ev.node_changed, self._on_changed), (ev.edge_added, self._on_edge),
                        (ev.edge_removed, self._on_edge), (ev.reset, self._on_reset)):
            sig.disconnect(cb)

    # events only mark work; `update` does it (so a macro of ten edits costs one pass)
    def _on_node(self, node: Node) -> None:
        self._dirty.add(node.id)
        self._structure = None

    def _on_removed(self, node: Node) -> None:
        self.infos.pop(node.id, None)
        self._dirty.discard(node.id)
        self._pending.discard(node.id)
        self._structure = None

    def _on_changed(self, node: Node, what: str) -> None:
        if what == "params":
            self._dirty.add(node.id)
            # Only merges change their port list; wires into dropped ports arrive as
            # edge_removed events, which reset the structure anyway.

    def _on_edge(self, edge: Edge) -> None:
        self._dirty.add(edge.dst)
        self._structure = None

    def _on_block_changed(self, name: str) -> None:
        """An edit inside a definition: only the instances that use it, directly or through
        another definition, are re-evaluated."""
        lib = self.graph.blocks
        for node in self.graph.nodes.values():
            if node.type == BLOCK and name in lib.closure(node.params["block"]):
                self._dirty.add(node.id)

    def _on_blocks(self, *names) -> None:
        for node in self.graph.nodes.values():
            if node.type == BLOCK:
                self._dirty.add(node.id)
        self._structure = None  # port lists may have changed

    def _on_reset(self) -> None:
        self.infos.clear()
        self._pending.clear()
        self._dirty = set(self.graph.nodes)
        self._structure = None

    def _get_structure(self):
        if self._structure is None:
            order, stuck = topo_order(self.graph)
            into: dict[str, dict[str, str]] = {nid: {} for nid in self.graph.nodes}
            succ: dict[str, list[str]] = {nid: [] for nid in self.graph.nodes}
            self._src_ports = {}  # (dst, dst port) -> src port, where it is not "out"
            for e in self.graph.edges:
                into[e.dst][e.dst_port] = e.src
                succ[e.src].append(e.dst)
                if e.src_port != "out":
                    self._src_ports[(e.dst, e.dst_port)] = e.src_port
            self._index = {nid: i for i, nid in enumerate(order)}
            self._succ = succ
            self._structure = (order, stuck, into)
        return self._structure

    @property
    def dirty(self) -> bool:
        return bool(self._dirty) or bool(self._pending) and not QUICK["on"]

    def update(self) -> dict[str, NodeInfo]:
        if self._pending and not QUICK["on"]:
            self._dirty |= self._pending  # count the FLOPs the quick pass left out
            self._pending = set()
        if not self._dirty:
            self.renewed = set()
            return self.infos
        order, stuck, into = self._get_structure()
        changed: set[str] = set()
        recomputed = 0
        nodes = self.graph.nodes
        # Walk forward from the edits in topological order, going on past a node only when
        # its info changed: an edit whose effect stops after a few nodes costs a few nodes,
        # however much of the graph lies downstream.
        index, succ = self._index, self._succ
        heap = [(index[n], n) for n in self._dirty if n in index]
        heapq.heapify(heap)
        seen: set[str] = set()
        while heap:
            _, nid = heapq.heappop(heap)
            if nid in seen or nid in stuck:
                continue
            seen.add(nid)
            node = nodes[nid]
            recomputed += 1
            info = self._infer(node, into[nid])
            if info.flops_pending:
                self._pending.add(nid)
            else:
                self._pending.discard(nid)
            if info != self.infos.get(nid):
                changed.add(nid)
                for m in succ[nid]:
                    if m not in seen:
                        heapq.heappush(heap, (index.get(m, -1), m))
            self.infos[nid] = info  # also when only a block's inner infos changed
        for nid in stuck:
            self.infos[nid] = NodeInfo(blocked=True, error=None)
        self.renewed = seen | stuck
        self._dirty.clear()
        self.recomputed = recomputed
        return self.infos

    def _infer(self, node: Node, srcs: dict[str, str]) -> NodeInfo:
        spec = node.spec
        if spec.check_params(node.params):
            return BLOCKED  # the analysis explains invalid parameters
        if node.type == PORT_IN:
            return self._port_input(node)
        inputs = []
        for port in node.input_ports():
            src = srcs.get(port)
            got = output_of(self.infos.get(src) if src else None,
                            self._src_ports.get((node.id, port), "out"))
            if got is None:
                return BLOCKED
            inputs.append(got)
        if node.type == BLOCK:
            return evaluate_block(self.graph.blocks, node, tuple(inputs), self.stack)
        return evaluate(node, tuple(inputs))

    def _port_input(self, node: Node) -> NodeInfo:
        given = (self.ports or {}).get(node.name)
        if given is None:
            return BLOCKED  # a definition on its own: its shapes come from an instance
        rank, dtype = node.params["rank"], node.params["dtype"]
        if given.dtype != dtype:
            return NodeInfo(error=f"port {node.name} takes {dtype} but gets {given.dtype} "
                                  f"({given})")
        if rank and len(given.shape) != rank:
            return NodeInfo(error=f"port {node.name} takes rank {rank} "
                                  f"({fmt_shape((None,) + ('?',) * (rank - 1))}) but gets "
                                  f"{given}")
        return NodeInfo(output=given)

    def input_infos(self, node_id: str) -> list[TensorInfo | None]:
        """The tensors arriving at each input port of a node (None when unknown)."""
        self.update()
        _, _, into = self._get_structure()
        node = self.graph.node(node_id)
        out = []
        for port in node.input_ports():
            src = into[node_id].get(port)
            out.append(output_of(self.infos.get(src) if src else None,
                                 self._src_ports.get((node_id, port), "out")))
        return out

    def totals(self) -> tuple[int, int]:
        self.update()
        return (sum(i.params for i in self.infos.values()),
                sum(i.flops for i in self.infos.values()))


# ---- block instances -------------------------------------------------------------------------

def evaluate_block(library, node: Node, inputs: tuple[TensorInfo, ...], stack: tuple = ()
                   ) -> NodeInfo:
    """Run the definition once per copy, each copy fed by the previous one. Cached by the
    definition's deep version (so an edit inside it, or inside anything it uses, misses)."""
    name, repeat = node.params["block"], node.params["repeat"]
    if name not in library:
        return NodeInfo(error=f"block {name!r} is not defined in this project")
    if name in stack:
        loop = SEP.join((*stack[stack.index(name):], name))
        return NodeInfo(error=f"block {name!r} uses itself ({loop}); blocks cannot nest "
                              f"recursively")
    ins, outs = library.port_nodes(name)
    if not outs:
        return NodeInfo(error=f"block {name!r} needs a BlockOutput")
    if repeat > 1 and (len(ins) != 1 or len(outs) != 1):
        return NodeInfo(error=repeat_refusal(name, repeat, ins, outs))
    # the quick first pass leaves inner FLOPs uncounted: its results are kept apart
    key = ("block", name, library.deep_key(name), repeat, inputs, stack, QUICK["on"])
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    graph = library[name]
    copies: list[dict] = []
    params = flops = 0
    current = inputs
    info = None
    for k in range(repeat):
        si = ShapeInference(graph, dict(zip((n.name for n in ins), current)), listen=False,
                            stack=(*stack, name))
        infos = dict(si.update())
        copies.append(infos)
        where = f"{k}{SEP}" if repeat > 1 else ""
        problem = _first_problem(graph, infos)
        if problem:
            message, place = problem
            info = NodeInfo(error=where + message, inner=tuple(copies), where=(k, *place))
            break
        out = infos[outs[0].id].output
        if out is None or any(infos[o.id].output is None for o in outs):
            # incomplete: the definition's own analysis says why
            info = NodeInfo(blocked=True, inner=tuple(copies))
            break
        params += sum(i.params for i in infos.values())
        flops += sum(i.flops for i in infos.values())
        current = (out,)
    if info is None:
        pending = any(i.flops_pending for infos in copies for i in infos.values())
        ports = () if len(outs) == 1 else tuple(
            zip(output_port_names([o.name for o in outs]),
                (copies[-1][o.id].output for o in outs)))
        info = NodeInfo(output=current[0], params=params, flops=flops, inner=tuple(copies),
                        flops_pending=pending, ports=ports)
    _CACHE[key] = info
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return info


def _first_problem(graph: Graph, infos: dict) -> tuple[str, tuple] | None:
    """The first shape error inside a definition: ("inner › path: message", place)."""
    order, _ = topo_order(graph)
    for nid in order:
        info = infos.get(nid)
        if info is not None and info.error:
            node = graph.nodes[nid]
            sep = SEP if node.type == BLOCK and info.inner else ": "
            return f"{node.name}{sep}{info.error}", (nid, *info.where)
    return None


def port_output(graph: Graph, infos: dict) -> NodeInfo | None:
    for n in graph.nodes.values():
        if n.type == PORT_OUT:
            return infos.get(n.id)
    return None


@contextlib.contextmanager
def inference(graph: Graph):
    si = ShapeInference(graph)
    try:
        yield si
    finally:
        si.close()
