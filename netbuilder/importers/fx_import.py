"""nn.Module -> editable netbuilder graph, via torch.fx tracing.

1. `torch.fx` traces the model, recording each submodule call (structure.py: every child
   module becomes a block instance, identical children share one definition).
2. The traced graph runs at two batch sizes (values.py), so shape arithmetic such as
   `x.reshape(x.shape[0], 768, -1)` becomes constants or "the batch size of x".
3. Each fx node becomes a registry layer when one is equivalent (modules.py), else a
   generic `Module` (rebuilt from its class or the model's factory) or `Function` node.
4. The graph is compiled, the original weights are loaded by their own state_dict keys,
   and the outputs are compared with the original model's.
"""
from __future__ import annotations

import json
import operator
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.fx as fx
import torch.nn as nn

from ..core.allowlist import FUNCTION, MODULE, code_problem
from ..core.compiler import CompileError, compile_graph
from ..core.graph import Graph
from ..core.layers import MAX_INPUTS
from ..core.project import Project
from . import modules as M
from .errors import ModelImportError
from .structure import Structure, copy_weights, module_key, trace
from .verify import VerificationError, check_deterministic, verify
from .values import BatchOf, Unrepresentable, is_batched, make_inputs, record, symbolic


@dataclass
class ImportResult:
    project: Project
    model: fx.GraphModule  # compile(project) with the original weights copied in
    max_diff: float  # largest |original - imported| on a probe batch
    generic: list[str] = field(default_factory=list)  # nodes kept as Module/Function
    seconds: float = 0.0

    @property
    def state_dict(self) -> dict:
        return self.model.state_dict()


_TENSOR, _CONST, _BAD = "tensor", "const", "bad"
_ADD_OPS = {operator.add, operator.iadd, torch.add}
_MUL_OPS = {operator.mul, operator.imul, torch.mul}
_RESHAPES = {"reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze"}


def _fn_name(n: fx.Node) -> str | None:
    if n.op == "call_method":
        return n.target
    if n.op == "call_function":
        if n.target in _ADD_OPS:
            return "add"
        if n.target in _MUL_OPS:
            return "mul"
        try:
            return M.FUNCTION_NAMES.get(n.target)
        except TypeError:  # unhashable target
            return None
    return None


class _Builder:
    def __init__(self, gm: fx.GraphModule, v1: dict, v2: dict, factory: str | None,
                 factory_kwargs: dict, graph: Graph | None = None, prefix: str = "",
                 calls: Counter | None = None, generic: list | None = None):
        self.gm, self.v1, self.v2 = gm, v1, v2
        self.factory, self.factory_kwargs = factory, factory_kwargs
        self.g = graph if graph is not None else Graph()
        self.prefix = prefix  # the module path this graph stands for ('' = the model)
        self.value: dict[fx.Node, tuple] = {}
        self.weights: dict[str, object] = {}  # node id -> original module or tensor
        self.module_keys: dict[str, str] = {}  # Module node id -> structure.module_key
        self.generic: list[str] = generic if generic is not None else []
        self.calls = calls if calls is not None else Counter(
            n.target for n in gm.graph.nodes if n.op == "call_module")

    # ---- helpers ------------------------------------------------------------------------

    def batched(self, a) -> bool:
        return isinstance(a, fx.Node) and self.value.get(a, (None,))[0] == _TENSOR \
            and is_batched(self.v1.get(a), self.v2.get(a))

    def tensor(self, a) -> bool:
        return isinstance(a, fx.Node) and self.value.get(a, (None,))[0] == _TENSOR

    def const(self, a):
        """The constant behind an argument (fx node or literal); raises when it is not one."""
        if isinstance(a, fx.Node):
            kind, v = self.value[a][:2]
            if kind == _BAD:
                raise ModelImportError(v)
            if kind != _CONST or _has_batch(v):
                raise _NoMatch
            return v
        if isinstance(a, (list, tuple)):
            return type(a)(self.const(x) for x in a) if isinstance(a, tuple) else \
                [self.const(x) for x in a]
        return a

    def rel(self, target: str) -> str:
        """A submodule or attribute path relative to this graph's module: its node name,
        so the compiled module nests like the original (`layer1.0.conv1`)."""
        name = target[len(self.prefix) + 1:] if self.prefix else target
        if self.prefix and not target.startswith(self.prefix + "."):
            raise ModelImportError(f"{target!r} is used inside {self.prefix!r}, which does "
                                   f"not own it")
        if "." in name:
            raise ModelImportError(f"{self.prefix or 'the model'} uses {name!r} of a "
                                   f"container it never calls (a ModuleList); netbuilder "
                                   f"keeps such a module whole")
        return name

    def add(self, type_name, fx_node: fx.Node, params, inputs, name=None):
        # fx numbers operations model-wide (add_7); a block names them per definition
        base = name or re.sub(r"_\d+$", "", fx_node.name)
        node = self.g.add_node(type_name, self.g.unique_name(base), params)
        for i, src in enumerate(inputs):
            self.connect(src, node.id, node.input_ports()[i])
        return node.id

    def connect(self, src: fx.Node, dst: str, dst_port: str) -> None:
        """Wire fx value `src` into node `dst`: from its node's output port (a block with
        several outputs records which one as a third element)."""
        v = self.value[src]
        self.g.connect(v[1], dst, v[2] if len(v) > 2 else "out", dst_port)

    def where(self, n: fx.Node) -> str:
        if n.op == "call_module":
            return f"submodule {n.target!r} ({type(self.gm.get_submodule(n.target)).__name__})"
        return f"operation {n.name!r} ({n.op} {getattr(n.target, '__name__', n.target)})"

    def allowed(self, n: fx.Node, name: str, kind: str) -> None:
        """Emit only what the project loader accepts (core/allowlist.py)."""
        msg = code_problem(name, kind)
        if msg:
            raise ModelImportError(f"{self.where(n)}: {msg}; a project file could not name "
                                   f"it, so netbuilder cannot import this model")

    # ---- the walk -------------------------------------------------------------------------

    def step(self, n: fx.Node) -> None:
        """Add what fx node `n` computes to this graph."""
        if n in self.value:  # already handled (getitem of a tuple result)
            return
        try:
            if n.op == "placeholder":
                self.placeholder(n)
            elif n.op == "output":
                self.output(n)
            elif not _holds_tensors(self.v1.get(n)):
                self.shape_value(n)
            elif n.op == "get_attr":
                self.get_attr(n)
            else:
                self.call(n)
        except ModelImportError:
            raise
        except Unrepresentable as e:
            raise ModelImportError(f"{self.where(n)}: {e}; netbuilder graphs can depend "
                                   f"on the batch size only directly") from None
        except _NoMatch:
            raise ModelImportError(f"{self.where(n)}: no netbuilder layer fits") from None

    def keep_whole(self, call, name: str, args, result: fx.Node, why: Exception) -> None:
        """A submodule call netbuilder cannot express: one generic Module node of its class
        with its weights (raises `why`, the reason, when it cannot be rebuilt either)."""
        m = call.module
        label = f"submodule {call.path!r} ({type(m).__name__})"
        try:
            target, kwargs, path = self.rebuild_recipe(None, m, call.path)
        except ModelImportError:
            raise ModelImportError(f"{why}; {label} cannot be kept whole either: import the "
                                   f"model from a factory ('package.module:function') so "
                                   f"netbuilder can rebuild it") from None
        msg = code_problem(target, MODULE)
        if msg:
            raise ModelImportError(f"{why}; {label} cannot be kept whole: {msg}")
        if not isinstance(self.v1.get(result), torch.Tensor):
            raise ModelImportError(f"{why}; {label} returns no single tensor")
        ports, a, k = self.template(result, args[0], args[1])
        params = {"target": target, "kwargs": json.dumps(kwargs), "path": path,
                  "num_inputs": len(ports), "args": a, "call_kwargs": k, "item": -1}
        nid = self.add("Module", result, params, ports, name=name)
        self.module_keys[nid] = module_key(m)
        self.generic.append(f"{self.prefix + '.' if self.prefix else ''}{name}")
        self.value[result] = (_TENSOR, nid)

    def placeholder(self, n):
        a = self.v1[n]
        if not is_batched(a, self.v2[n]):
            raise ModelImportError(f"input {n.name!r}: expected a tensor with a batch "
                                   f"dimension first")
        dtype = "int64" if a.dtype == torch.int64 else "float32"
        node = self.g.add_node("Input", n.name, {"shape": list(a.shape[1:]), "dtype": dtype})
        self.value[n] = (_TENSOR, node.id)

    def shape_value(self, n):
        try:
            self.value[n] = (_CONST, symbolic(n, self.v1[n], self.v2[n], self.v1, self.v2))
        except Unrepresentable as e:
            self.value[n] = (_BAD, f"{self.where(n)}: {e}; netbuilder graphs can depend on "
                                   f"the batch size only directly")

    def get_attr(self, n):
        t = self.v1[n]
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() == 0 \
                or t.shape[0] != 1:
            raise ModelImportError(f"attribute {n.target!r} (a tensor of shape "
                                   f"{tuple(getattr(t, 'shape', ()))}) is used directly by the "
                                   f"forward code; netbuilder keeps such tensors only when "
                                   f"their first dimension is 1 (class tokens, position "
                                   f"embeddings)")
        nid = self.add("Parameter", n, {"shape": list(t.shape), "init": "normal",
                                        "trainable": bool(t.requires_grad)}, [],
                       name=self.rel(n.target))
        self.weights[nid] = t
        self.value[n] = (_TENSOR, nid)

    def output(self, n) -> list:
        result = n.args[0]
        items = list(result) if isinstance(result, (tuple, list)) else [result]
        for i, item in enumerate(items):
            if not self.tensor(item):
                raise ModelImportError(f"the model returns {type(self.v1.get(item, item)).__name__}"
                                       f"; netbuilder graphs return tensors (or a tuple of "
                                       f"tensors)")
            name = "output" if len(items) == 1 else f"output {i + 1}"
            self.add("Output", n, {}, [item], name=name)
        return items

    def call(self, n):
        tuple_result = not isinstance(self.v1[n], torch.Tensor)
        index = None
        if tuple_result:
            index = self.tuple_index(n)
        if n.op == "call_module":
            self.call_module(n, index)
        else:
            if index is None and self.map_function(n):
                return
            self.generic_function(n, index)

    def tuple_index(self, n) -> int | list[int]:
        """A tuple result is only ever indexed; which element(s)?"""
        idx = []
        for u in n.users:
            if not (u.op == "call_function" and u.target is operator.getitem
                    and isinstance(u.args[1], int)):
                raise ModelImportError(f"{self.where(n)} returns a "
                                       f"{type(self.v1[n]).__name__} that is used whole; "
                                       f"netbuilder nodes pass single tensors")
            idx.append(u.args[1])
        idx = sorted(set(idx))
        return idx[0] if len(idx) == 1 else idx

    def set_tuple_users(self, n, nid, item=None):
        for u in n.users:
            if item is None or u.args[1] == item:
                self.value[u] = (_TENSOR, nid)

    # ---- modules ----------------------------------------------------------------------------

    def call_module(self, n, index):
        m = self.gm.get_submodule(n.target)
        owns_weights = any(True for _ in m.parameters()) or any(True for _ in m.buffers())
        if owns_weights and self.calls[n.target] > 1:
            raise ModelImportError(f"{self.where(n)} is called {self.calls[n.target]} times "
                                   f"(shared weights); each netbuilder node has its own "
                                   f"weights")
        mapped = M.layer_for(m)
        if mapped is not None and self.module_call_ok(n, mapped[0], index):
            type_name, params = mapped
            nid = self.add(type_name, n, params, [n.args[0]], name=self.rel(n.target))
            self.weights[nid] = m
            if index is None:
                self.value[n] = (_TENSOR, nid)
            else:
                self.set_tuple_users(n, nid)
            return
        if isinstance(index, list):
            raise ModelImportError(f"{self.where(n)}: several elements of its result are used; "
                                   f"a kept submodule can give only one")
        target, kwargs, path = self.rebuild_recipe(n, m, n.target)
        self.allowed(n, target, MODULE)
        ports, args, kwargs_t = self.template(n, n.args, n.kwargs)
        params = {"target": target, "kwargs": json.dumps(kwargs), "path": path,
                  "num_inputs": len(ports), "args": args, "call_kwargs": kwargs_t,
                  "item": -1 if index is None else index}
        nid = self.add("Module", n, params, ports, name=self.rel(n.target))
        self.weights[nid] = m
        self.module_keys[nid] = module_key(m)
        self.generic.append(n.target)
        if index is None:
            self.value[n] = (_TENSOR, nid)
        else:
            self.set_tuple_users(n, nid)

    def module_call_ok(self, n, type_name, index) -> bool:
        """Is the call the one the registry layer's `apply` makes?"""
        x = n.args[0] if n.args else None
        if not self.batched(x):
            return False
        if type_name == "MultiheadAttention":
            return (len(n.args) == 3 and n.args[1] is x and n.args[2] is x and index == 0
                    and set(n.kwargs) <= {"need_weights"})
        if type_name == "Linear" and self.v1[x].dim() > 3:  # the registry's Linear is 2-D/3-D
            return False
        if type_name in ("RNN", "GRU", "LSTM"):
            return len(n.args) == 1 and not n.kwargs and index == 0
        return len(n.args) == 1 and not n.kwargs and index is None

    def rebuild_recipe(self, n, m, target: str) -> tuple[str, dict, str]:
        cls = type(m)
        kwargs = M.constructor_kwargs(m) if cls.__module__.split(".")[0] in (
            "torch", "torchvision") else None
        if kwargs is not None:
            return M.public_name(cls), {k: M.encode(v) for k, v in kwargs.items()}, ""
        if self.factory is None:
            where = self.where(n) if n is not None else f"submodule {target!r}"
            raise ModelImportError(f"{where} has no netbuilder layer and cannot be "
                                   f"rebuilt from its attributes; import the model from a "
                                   f"factory ('package.module:function') so netbuilder can "
                                   f"rebuild it")
        return self.factory, self.factory_kwargs, target

    # ---- functions and methods --------------------------------------------------------------

    def map_function(self, n) -> bool:
        """Add a registry layer for `n` if one is equivalent; False when none fits."""
        name = _fn_name(n)
        if name is None:
            return False
        try:
            layer = self.function_layer(n, name)
        except _NoMatch:
            return False
        if layer is None:
            return False
        if layer == "alias":
            self.value[n] = self.value[n.args[0]]
            return True
        type_name, params, inputs = layer
        self.value[n] = (_TENSOR, self.add(type_name, n, params, inputs))
        return True

    def function_layer(self, n, name):
        args, kw = list(n.args), dict(n.kwargs)
        out = self.v1[n]
        if name in ("add", "mul"):
            x, y = (args + [None, None])[:2]
            if len(args) == 2 and not kw and self.batched(x) and self.batched(y) \
                    and self.v1[x].shape == self.v1[y].shape:
                return ("Add" if name == "add" else "Multiply"), {"num_inputs": 2}, [x, y]
            return None
        if name == "cat":
            xs = args[0] if args else kw.get("tensors")
            dim = self.const(args[1]) if len(args) > 1 else self.const(kw.get("dim", 0))
            if (isinstance(xs, (list, tuple)) and 2 <= len(xs) <= MAX_INPUTS
                    and all(self.batched(t) for t in xs) and isinstance(dim, int)
                    and dim % self.v1[xs[0]].dim() != 0
                    and set(kw) <= {"dim", "tensors"}):
                return "Concat", {"num_inputs": len(xs), "dim": dim}, list(xs)
            return None
        x = args[0] if args else kw.get("input")
        if not self.batched(x):
            return None
        rank = self.v1[x].dim()
        if name in _RESHAPES:  # judged by the result: the arguments may hold the batch size
            if not is_batched(out, self.v2[n]):
                return None
            if out.dim() == 2 and rank > 2:
                return "Flatten", {}, [x]
            if 2 <= out.dim() <= 6:
                return "Reshape", {"shape": list(out.shape[1:])}, [x]
            return None
        kw.pop("inplace", None)
        rest, kw = self.const(args[1:]), self.const(kw)

        def only(*names):
            if set(kw) - set(names):
                raise _NoMatch

        if name in M.ACTIVATIONS and not rest:
            only()
            return M.ACTIVATIONS[name], {}, [x]
        if name == "gelu" and not rest:
            only("approximate")
            return "GELU", {"approximate": kw.get("approximate", "none")}, [x]
        if name == "leaky_relu" and len(rest) <= 1:
            only("negative_slope")
            slope = rest[0] if rest else kw.get("negative_slope", 0.01)
            return "LeakyReLU", {"negative_slope": float(slope)}, [x]
        if name == "contiguous" and not rest and not kw:
            return "alias"
        if name == "permute":
            dims = list(rest[0]) if len(rest) == 1 and isinstance(rest[0], (list, tuple)) \
                else list(kw.get("dims", rest))
            dims = [d % rank for d in dims]
            if dims and dims[0] == 0 and sorted(dims) == list(range(rank)):
                return "Permute", {"dims": dims[1:]}, [x]
            return None
        if name == "transpose" and len(rest) == 2 and not kw:
            a, b = (d % rank for d in rest)
            if 0 in (a, b):
                return None
            dims = list(range(1, rank))
            dims[a - 1], dims[b - 1] = dims[b - 1], dims[a - 1]
            return "Permute", {"dims": dims}, [x]
        if name == "mean":
            dim = rest[0] if rest else kw.get("dim")
            keep = rest[1] if len(rest) > 1 else kw.get("keepdim", False)
            only("dim", "keepdim")
            dims = [dim] if isinstance(dim, int) else list(dim or [])
            if dims and all(d % rank for d in dims):
                return "Mean", {"dims": dims, "keepdim": bool(keep)}, [x]
            return None
        if name == "adaptive_avg_pool2d" and len(rest) == 1 and not kw:
            size = M._uniform(rest[0])
            return ("AdaptiveAvgPool2d", {"output_size": size}, [x]) if isinstance(size, int) \
                else None
        if name in ("softmax", "log_softmax"):
            dim = rest[0] if rest else kw.get("dim")
            kw.pop("_stacklevel", None)
            if isinstance(dim, int) and kw.get("dtype") is None and len(rest) <= 1:
                return ("Softmax" if name == "softmax" else "LogSoftmax"), {"dim": dim}, [x]
            return None
        return None

    def generic_function(self, n, index):
        if n.op == "call_method":
            fname = f"torch:Tensor.{n.target}"
        else:
            try:
                fname = M.public_name(n.target)
            except (ValueError, AttributeError) as e:
                raise ModelImportError(f"{self.where(n)}: {e}") from None
        self.allowed(n, fname, FUNCTION)
        ports, args, kwargs = self.template(n, n.args, n.kwargs)
        items = index if isinstance(index, list) else [index]
        for item in items:  # no weights, so each used element may get its own node
            params = {"function": fname, "num_inputs": len(ports), "args": args,
                      "call_kwargs": kwargs, "item": -1 if item is None else item}
            name = n.name if item is None or len(items) == 1 else f"{n.name}[{item}]"
            nid = self.add("Function", n, params, ports, name=name)
            self.generic.append(self.g.node(nid).name)
            if item is None:
                self.value[n] = (_TENSOR, nid)
            else:
                self.set_tuple_users(n, nid, item)

    def template(self, n, args, kwargs) -> tuple[list[fx.Node], str, str]:
        """JSON argument templates; tensors become input ports."""
        ports: list[fx.Node] = []

        def port(node):
            if node not in ports:
                ports.append(node)
            return ports.index(node)

        def enc(a):
            if isinstance(a, fx.Node):
                kind, v = self.value[a][:2]
                if kind == _TENSOR:
                    return {"$in": port(a)}
                if kind == _BAD:
                    raise ModelImportError(v)
                return enc_const(v)
            if isinstance(a, (list, tuple)) and not isinstance(a, torch.Size):
                items = [enc(x) for x in a]
                return items if isinstance(a, list) else {"$tuple": items}
            if isinstance(a, slice):
                return {"$slice": [enc(a.start), enc(a.stop), enc(a.step)]}
            if isinstance(a, dict):
                return {k: enc(v) for k, v in a.items()}
            return enc_const(a)

        def enc_const(v):
            if isinstance(v, BatchOf):
                return {"$batch": port(v.ref)}
            if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
                items = [enc_const(x) for x in v]
                return items if isinstance(v, list) else {"$tuple": items}
            try:
                return M.encode(v)
            except TypeError as e:
                raise ModelImportError(f"{self.where(n)}: {e}") from None

        a, k = enc(list(args)), enc(dict(kwargs))
        if len(ports) > MAX_INPUTS:
            raise ModelImportError(f"{self.where(n)} takes {len(ports)} tensors; a netbuilder "
                                   f"node takes at most {MAX_INPUTS}")
        return ports, json.dumps(a), json.dumps(k)


class _NoMatch(Exception):
    pass


def _has_batch(v) -> bool:
    if isinstance(v, BatchOf):
        return True
    return isinstance(v, (list, tuple)) and any(_has_batch(x) for x in v)


def _holds_tensors(v) -> bool:
    if isinstance(v, torch.Tensor):
        return True
    return isinstance(v, (list, tuple)) and any(_holds_tensors(x) for x in v)


def import_model(model: nn.Module, input_shapes: list[list[int]], *,
                 input_dtypes: list[str] | None = None, name: str = "imported",
                 factory: str | None = None, factory_kwargs: dict | None = None
                 ) -> ImportResult:
    """`model` -> ImportResult. `factory` ('torchvision.models:resnet18') lets generic
    nodes rebuild submodules netbuilder has no layer for."""
    t0 = time.perf_counter()
    model = model.eval()
    dtypes = input_dtypes or ["float32"] * len(input_shapes)
    vocab = min((m.num_embeddings for m in model.modules() if isinstance(m, nn.Embedding)),
                default=None)
    make = make_inputs(input_shapes, dtypes, vocab)
    gm, tracer = trace(model)
    n_inputs = sum(1 for n in gm.graph.nodes if n.op == "placeholder")
    if n_inputs != len(input_shapes):
        raise ModelImportError(f"{type(model).__name__}.forward takes {n_inputs} input(s) but "
                               f"{len(input_shapes)} input shape(s) were given")
    try:
        v1, v2 = record(gm, make)
    except Exception as e:  # noqa: BLE001 - the model's own error, for a person
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        shapes = ", ".join("×".join(map(str, s)) for s in input_shapes)
        raise ModelImportError(f"{type(model).__name__} fails on input {shapes} "
                               f"(batch excluded): {first}") from None
    calls = Counter(n.target for n in gm.graph.nodes if n.op == "call_module")
    generic: list[str] = []

    def make_builder(graph, prefix):
        b = _Builder(gm, v1, v2, factory, factory_kwargs or {}, graph, prefix, calls, generic)
        _fold_last_steps(b)
        return b

    structure = Structure(make_builder, tracer, gm.graph)
    try:
        structure.build_root(ModelImportError)
    except ModelImportError:  # a random or stateful model: say that, not which op failed
        try:
            check_deterministic(model, gm, make(2), {})
        except VerificationError as e:
            raise ModelImportError(str(e)) from None
        raise
    graph = structure.root
    try:
        compiled = compile_graph(graph)
    except CompileError as e:
        raise ModelImportError(f"the imported graph is not valid: {e}") from None
    copy_weights(compiled, graph, model)
    compiled.eval()
    node_of = structure.node_of_root
    names = {nid: node.name for nid, node in graph.nodes.items()}
    try:  # raises with the cause and the place unless the graph matches the original
        max_diff = verify(model, gm, compiled, make(2), node_of, names)
    except VerificationError as e:
        raise ModelImportError(str(e)) from None
    project = Project(graph=graph, name=name,
                      description=f"Imported from {factory or type(model).__name__} "
                                  f"with netbuilder import.")
    return ImportResult(project, compiled, max_diff, generic, time.perf_counter() - t0)


def _fold_last_steps(b: _Builder) -> None:
    """`rnn(x)[0][:, -1]` is the registry RNN with output='last': wrap `call_module` so the
    getitem after the sequence output switches the node instead of adding one."""
    original = b.call_module

    def call_module(n, index):
        original(n, index)
        node_id = b.value.get(next(iter(n.users), None), (None, None))[1]
        if node_id is None or b.g.node(node_id).type not in ("RNN", "GRU", "LSTM"):
            return
        seq = [u for u in n.users]
        if len(seq) != 1 or len(seq[0].users) != 1:
            return
        last = next(iter(seq[0].users))
        if (last.op == "call_function" and last.target is operator.getitem
                and last.args[1] == (slice(None), -1)):
            b.g.set_param(node_id, "output", "last")
            b.value[last] = (_TENSOR, node_id)

    b.call_module = call_module
