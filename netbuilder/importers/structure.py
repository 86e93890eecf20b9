"""Keeping the original's module hierarchy: each child module becomes a block instance.

The model is traced once, flat, by a Tracer that also records every call of a non-leaf
submodule: its path, its arguments and result (fx nodes) and the range of fx nodes its
forward created (tracing appends nodes in call order, so a call's nodes are contiguous).
Each call then becomes a block definition built from its own nodes, with the direct
children's calls as Block nodes named after their attributes, so the compiled module
nests exactly like the original and its state_dict keys are the original's.

Structurally identical children share one definition: definitions are compared on what
they contain (node types, names, parameters, wires; a kept-whole module by its class,
hyperparameters and weight shapes), never on weights. A child whose forward cannot be
expressed in netbuilder layers is kept whole as a generic `Module` node of its class. A
Sequential of copies of one definition becomes `repeat: N`; a child that is one
weightless operation (torchvision's Permute) is inlined under the child's name, and one
that computes nothing (an identity) disappears.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn

from ..core.blocks import BLOCK, PORT_IN, PORT_OUT, BlockError
from ..core.graph import Graph
from ..core.layout import apply_layout
from .errors import ModelImportError


@dataclass
class Call:
    path: str
    module: nn.Module
    args: tuple  # fx nodes in the structure the forward was called with
    kwargs: dict
    start: int  # sequence numbers: this call created the nodes in (start, end]
    end: int = 0
    result: object = None
    children: list["Call"] = field(default_factory=list)


class RecordingTracer(fx.Tracer):
    """fx.Tracer that numbers nodes and records each non-leaf submodule call."""

    def __init__(self):
        super().__init__()
        self.seq = 0
        self.root_call: Call | None = None
        self.stack: list[Call] = []
        self.calls: list[Call] = []

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        self.seq += 1
        node.meta["nb_seq"] = self.seq
        return node

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        if self.is_leaf_module(m, path) or not self.stack:
            return super().call_module(m, forward, args, kwargs)
        # a copy now: the forward may append to a list it was given (DenseNet's features)
        call = Call(path, m, _unproxy(args), _unproxy(kwargs), self.seq)
        self.stack[-1].children.append(call)
        self.calls.append(call)
        self.stack.append(call)
        try:
            call.result = super().call_module(m, forward, args, kwargs)
        finally:
            self.stack.pop()
        call.end = self.seq
        return call.result

    def trace(self, root, concrete_args=None):
        self.root_call = Call("", root, (), {}, 0)
        self.stack = [self.root_call]
        graph = super().trace(root, concrete_args)
        self.root_call.end = self.seq
        return graph


def _nodes(x) -> list[fx.Node]:
    out: list[fx.Node] = []
    fx.node.map_aggregate(x, lambda a: out.append(a.node) if isinstance(a, fx.Proxy)
                          else out.append(a) if isinstance(a, fx.Node) else None)
    return out


def _unproxy(x):
    return fx.node.map_aggregate(x, lambda a: a.node if isinstance(a, fx.Proxy) else a)


def _inside(n: fx.Node, call: Call) -> bool:
    return call.start < n.meta.get("nb_seq", -1) <= call.end


def module_key(m: nn.Module) -> str:
    """Class, hyperparameters and weight shapes of a module and its submodules (what
    makes two kept-whole modules interchangeable once their weights are loaded)."""
    h = hashlib.sha1()
    for path, sub in m.named_modules():
        attrs = {k: repr(v)[:200] for k, v in vars(sub).items()
                 if not k.startswith("_") and k != "training"
                 and (isinstance(v, (bool, int, float, str, tuple, list)) or v is None)}
        h.update(repr((path, type(sub).__module__, type(sub).__qualname__,
                       sorted(attrs.items()), sub.extra_repr())).encode())
        for k, v in sub.named_parameters(recurse=False):
            h.update(repr((k, tuple(v.shape), str(v.dtype), v.requires_grad)).encode())
        for k, v in sub.named_buffers(recurse=False):
            h.update(repr((k, tuple(v.shape), str(v.dtype))).encode())
            if k in sub._non_persistent_buffers_set:  # not loaded from the state_dict
                h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class Structure:
    """Builds the root graph and the block library from a RecordingTracer's calls."""

    def __init__(self, make_builder, tracer: RecordingTracer, graph: fx.Graph):
        self.make_builder = make_builder  # (graph, prefix) -> fx_import._Builder
        self.tracer = tracer
        self.root = Graph()
        self.keys: dict[str, str] = {}  # canonical content -> definition name
        self.uses = Counter(c.path for c in tracer.calls)
        self.order = list(graph.nodes)
        self.node_of_root: dict = {}

    # ---- one level ---------------------------------------------------------------------

    def build_root(self, error_type):
        b = self.make_builder(self.root, "")
        self.walk(b, self.tracer.root_call, error_type, root=True)
        self.node_of_root = {n: v[1] for n, v in b.value.items() if v[0] == "tensor"}
        apply_layout(self.root)
        return b

    def walk(self, b, call: Call, error_type, root=False):
        """Add `call`'s own nodes and its children to builder `b`'s graph."""
        children = self.containers(call)
        ci = 0
        for n in self.order:
            seq = n.meta.get("nb_seq", 0)
            while ci < len(children) and children[ci].start < seq:
                self.child(b, children[ci], error_type)
                ci += 1
            if not root and not _inside(n, call):
                continue
            if any(_inside(n, c) for c in children) or n in b.value:
                continue
            if n.op == "placeholder" and not root:
                continue
            b.step(n)
        for c in children[ci:]:
            self.child(b, c, error_type)

    def containers(self, call: Call) -> list[Call]:
        """`call`'s children in call order, where the items of a container that is looped
        over, never called (`for block in self.blocks: x = block(x)`, a ModuleList), are
        one call of the container, as if it were an nn.Sequential, when they form a chain."""
        base = call.path + "." if call.path else ""
        kids = sorted(call.children, key=lambda c: c.start)
        out, i = [], 0
        while i < len(kids):
            head, _, rest = kids[i].path[len(base):].partition(".")
            j = i + 1
            while rest and j < len(kids) and \
                    kids[j].path[len(base):].partition(".")[0] == head:
                j += 1
            chain = self.chain_of(base + head, kids[i:j]) if rest else None
            out.extend([chain] if chain else kids[i:j])
            i = j
        return out

    def chain_of(self, path: str, items: list[Call]) -> Call | None:
        """One call of container `path` for its `items`, when each takes the previous
        one's result and nothing happens between them."""
        for k, c in enumerate(items):
            tensors = [a for a in _nodes((c.args, c.kwargs)) if isinstance(a, fx.Node)]
            if "." in c.path[len(path) + 1:] or not isinstance(_unproxy(c.result), fx.Node) \
                    or (k and (c.start != items[k - 1].end
                               or tensors != [_unproxy(items[k - 1].result)])):
                return None
        module = self.tracer.root.get_submodule(path)
        return Call(path, module, items[0].args, items[0].kwargs, items[0].start,
                    items[-1].end, items[-1].result, list(items))

    # ---- a child call: a block instance, a kept-whole module, an alias or one node -----

    def child(self, b, call: Call, error_type):
        name = b.rel(call.path)
        result = _unproxy(call.result)
        # a tuple of tensors (features and a skip) becomes a block with several outputs
        results = list(result) if isinstance(result, (tuple, list)) and len(result) > 1 \
            and all(isinstance(r, fx.Node) for r in result) else [result]
        if not all(isinstance(r, fx.Node) for r in results):
            raise error_type(f"submodule {call.path!r} ({type(call.module).__name__}) "
                             f"returns {type(result).__name__}; a block returns tensors or "
                             f"a flat tuple of tensors")
        self.check_users(call, results, error_type)
        if len(results) > 1:
            result = tuple(results)
        args = _unproxy((call.args, call.kwargs))
        if self.owns_weights(call.module) and self.uses[call.path] > 1:
            raise error_type(f"submodule {call.path!r} ({type(call.module).__name__}) is "
                             f"called {self.uses[call.path]} times (shared weights); each "
                             f"netbuilder node has its own weights")
        try:
            made = self.definition(b, call, args, result, error_type)
        except (error_type, BlockError) as e:
            if isinstance(call.module, nn.ModuleList):  # a container: nothing to call
                raise
            b.keep_whole(call, name, args, result, e)
            return
        kind, what, ports = made
        if kind == "alias":
            b.value[result] = b.value[what]
            return
        if kind == "inline":
            node = what
            nid = b.add(node.type, None, node.params, ports, name=name)
            b.value[result] = ("tensor", nid)
            return
        block, repeat = what
        node = b.g.add_node(BLOCK, b.g.unique_name(name), {"block": block, "repeat": repeat})
        for port, src in zip(self.root.blocks.input_ports(block), ports):
            b.connect(src, node.id, port)
        if len(results) == 1:
            b.value[result] = ("tensor", node.id)
        for r, port in zip(results, node.output_ports() if len(results) > 1 else ()):
            b.value.setdefault(r, ("tensor", node.id, port))

    @staticmethod
    def owns_weights(m: nn.Module) -> bool:
        return any(True for _ in m.parameters()) or any(True for _ in m.buffers())

    def check_users(self, call: Call, results: list, error_type):
        for n in self.order:
            if _inside(n, call) and n not in results:
                outside = [u for u in n.users if not _inside(u, call)]
                if outside:
                    raise error_type(f"submodule {call.path!r} hands out {n.name!r} "
                                     f"besides its result; netbuilder cannot split it")

    def definition(self, parent, call: Call, args, result, error_type):
        ports = []
        for a in _nodes(args):
            if parent.tensor(a):
                if not parent.batched(a):
                    raise error_type(f"submodule {call.path!r} takes a tensor without a "
                                     f"batch dimension")
                if a not in ports:
                    ports.append(a)
        if not ports:
            raise error_type(f"submodule {call.path!r} takes no batched tensor")
        g = Graph(blocks=self.root.blocks)
        b = self.make_builder(g, call.path)
        for k, a in enumerate(ports):
            node = g.add_node(PORT_IN, "in" if k == 0 else f"in{k + 1}",
                              {"dtype": "int64" if parent.v1[a].dtype == torch.int64
                               else "float32"})
            b.value[a] = ("tensor", node.id)
        for a in _nodes(args):
            if a not in b.value:
                kind = parent.value.get(a, ("bad",))[0]
                if kind != "const" or _batchy(parent.value[a][1]):
                    raise error_type(f"submodule {call.path!r} takes {a.name!r}, which "
                                     f"depends on the batch size")
                b.value[a] = parent.value[a]
        self.walk(b, call, error_type)
        if isinstance(result, tuple):
            return "block", (self.define(self.outputs(g, b, call, result, error_type), call,
                                         b), 1), ports
        if b.value.get(result, ("",))[0] != "tensor":
            raise error_type(f"submodule {call.path!r} returns no tensor")
        out_src = b.value[result][1]
        if out_src in {b.value[p][1] for p in ports}:  # computes nothing: an identity
            return "alias", ports[[b.value[p][1] for p in ports].index(out_src)], []
        body = [n for n in g.nodes.values() if n.type != PORT_IN]
        if len(body) == 1 and body[0].type not in (BLOCK, "Module", "Parameter") \
                and not self.owns_weights(call.module) \
                and [e.src for e in g.in_edges(body[0].id)] == [b.value[p][1] for p in ports]:
            return "inline", body[0], ports
        out = g.add_node(PORT_OUT, g.unique_name("out"))
        b.connect(result, out.id, "in")
        seq = self.sequence_of(g)
        if seq is not None:
            return "block", seq, ports
        return "block", (self.define(g, call, b), 1), ports

    @staticmethod
    def outputs(g: Graph, b, call: Call, results: tuple, error_type) -> Graph:
        """One BlockOutput per returned tensor, "out1", "out2", … in the tuple's order."""
        for k, r in enumerate(results):
            if b.value.get(r, ("",))[0] != "tensor":
                raise error_type(f"submodule {call.path!r} returns a tuple whose item {k} "
                                 f"is no tensor")
            b.connect(r, g.add_node(PORT_OUT, f"out{k + 1}").id, "in")
        return g

    def sequence_of(self, g: Graph):
        """(definition, N) when g is a chain of N Blocks of one definition named 0..N-1."""
        blocks = [n for n in g.nodes.values() if n.type == BLOCK]
        if len(blocks) < 2 or len(blocks) + 2 != len(g.nodes) \
                or len({n.params["block"] for n in blocks}) != 1 \
                or [n.name for n in blocks] != [str(i) for i in range(len(blocks))] \
                or any(n.params["repeat"] != 1 for n in blocks) \
                or len(self.root.blocks.input_ports(blocks[0].params["block"])) != 1:
            return None
        chain = [e for e in g.edges]
        ids = [n.id for n in g.nodes.values()]
        if len(chain) != len(ids) - 1:
            return None
        src_of = {e.dst: e.src for e in g.edges}
        if any(src_of.get(blocks[i].id) != blocks[i - 1].id for i in range(1, len(blocks))):
            return None
        return blocks[0].params["block"], len(blocks)

    def define(self, g: Graph, call: Call, b) -> str:
        key = _canonical(g, b)
        if key in self.keys:
            return self.keys[key]
        cls = type(call.module).__name__.strip("_") or "Block"
        last = call.path.rsplit(".", 1)[-1]
        base = last if type(call.module) in (nn.Sequential, nn.ModuleList) \
            and last.isidentifier() else cls
        base = base[:56]
        name, k = base, 2
        while name in self.root.blocks:
            name, k = f"{base} {k}", k + 1
        apply_layout(g)
        self.root.blocks.define(name, g)
        self.keys[key] = name
        return name


def _batchy(v) -> bool:
    from .values import BatchOf

    if isinstance(v, BatchOf):
        return True
    return isinstance(v, (list, tuple)) and any(_batchy(x) for x in v)


def _canonical(g: Graph, b) -> str:
    index = {nid: i for i, nid in enumerate(g.nodes)}
    nodes = []
    for nid, n in g.nodes.items():
        params = dict(n.params)
        if n.type == "Module":
            params["path"] = b.module_keys.get(nid, params["path"])
        nodes.append((n.type, n.name, sorted(params.items())))
    edges = sorted((index[e.src], e.src_port, index[e.dst], e.dst_port) for e in g.edges)
    return json.dumps([nodes, edges], default=repr)


def trace(model: nn.Module) -> tuple[fx.GraphModule, RecordingTracer]:
    tracer = RecordingTracer()
    try:
        graph = tracer.trace(model)
        gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    except Exception as e:  # noqa: BLE001 - fx raises many types; all mean "untraceable"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelImportError(f"torch.fx cannot trace {type(model).__name__}: {first}. "
                               f"netbuilder imports models whose forward has no Python "
                               f"control flow that depends on tensor values") from None
    g = gm.graph
    for node in list(g.nodes):  # asserts check shapes netbuilder checks itself
        if node.op == "call_function" and node.target is torch._assert:
            g.erase_node(node)
    g.eliminate_dead_code()
    gm.recompile()
    return gm, tracer


def copy_weights(compiled: fx.GraphModule, graph: Graph, model: nn.Module) -> None:
    """The original's weights into the compiled graph, by state_dict key: they are the
    original's keys (a learned tensor too, see generic_layers.LearnedTensor)."""
    source = model.state_dict()
    state, missing = {}, []
    for key, tensor in compiled.state_dict().items():
        if key in source and source[key].shape == tensor.shape:
            state[key] = source[key]
        else:
            missing.append(key)
    if missing:
        raise ModelImportError(f"the imported graph names weights the original does not have "
                               f"(first: {missing[0]!r}); please report this with the model, "
                               f"it is a netbuilder import bug")
    compiled.load_state_dict(state, strict=True)
