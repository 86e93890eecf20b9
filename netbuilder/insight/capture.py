"""Every node's output of one forward pass of a compiled graph, blocks included.

`compile_graph` records which fx node holds each graph node's value (`gm.node_values`) and
which submodule is a block instance. `capture` runs the GraphModule through an fx
Interpreter that keeps those values, and runs each block instance (a nested GraphModule,
or an nn.Sequential of copies) through an Interpreter of its own, so a layer three blocks
deep is seen like a top-level one. The records come in execution order: a block's inner
layers, then the block node itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.fx as fx

from ..core.blocks import BLOCK, PORT_IN, PORT_OUT, SEP
from ..core.shapes import topo_order


@dataclass
class Record:
    place: str  # node id, inside blocks "instance/copy/inner" (as compiler.layer_places)
    path: tuple  # node ids from the top-level node down (the editor opens blocks along it)
    name: str  # "layer1 › 0 › conv1"
    type: str  # layer type, "Block" for an instance
    value: object  # the output tensor (grads retained when capture(retain=True))
    module: str | None  # qualified module name: the state_dict prefix of its parameters
    copies: tuple = ()  # the repeat copy at each block on the way (one per path[:-1])
    ports: tuple = ("out",)  # output port names; a block with several gives a tuple value

    def port_values(self) -> dict:
        """port name -> the tensor leaving that port (a multi-output block has one each)."""
        if isinstance(self.value, (tuple, list)):
            return dict(zip(self.ports, self.value))
        return {self.ports[0]: self.value}


class _Capture(fx.Interpreter):
    def __init__(self, gm, graph, retain: bool, place: str = "", path: tuple = (),
                 name: str = "", qual: str = "", copies: tuple = ()):
        super().__init__(gm)
        self.net, self.retain = graph, retain  # (fx keeps self.graph)
        self.place, self.path, self.name, self.qual = place, path, name, qual
        self.copies = copies
        node_values = getattr(gm, "node_values", None)
        if node_values is None:
            raise ValueError("the model was not compiled by netbuilder (no node map)")
        self.wanted = set(node_values.values())
        self.values: dict[str, object] = {}
        self.blocks = {q: nid for nid, q in gm.node_modules.items()
                       if graph.nodes[nid].type == BLOCK}
        self.inner: dict[str, list[Record]] = {}

    def run_node(self, n):
        out = super().run_node(n)
        if n.name in self.wanted:
            for t in out if isinstance(out, tuple) else (out,):  # a block's several outputs
                if (self.retain and isinstance(t, torch.Tensor) and t.requires_grad
                        and t.grad_fn is not None):
                    t.retain_grad()
            self.values[n.name] = out
        return out

    def call_module(self, target, args, kwargs):
        nid = self.blocks.get(target)
        if nid is None:
            return super().call_module(target, args, kwargs)
        node = self.net.nodes[nid]
        module = self.fetch_attr(target)
        seq = isinstance(module, torch.nn.Sequential)
        copies = list(module) if seq else [module]
        definition = self.net.blocks[node.params["block"]]
        records: list[Record] = []
        out = args
        for k, sub in enumerate(copies):
            label = f"{self.name}{node.name}{SEP}" + (f"{k}{SEP}" if len(copies) > 1 else "")
            qual = f"{self.qual}{target}." + (f"{k}." if seq else "")
            inner = _Capture(sub, definition, self.retain, f"{self.place}{nid}/{k}/",
                             (*self.path, nid), label, qual, (*self.copies, k))
            out = inner.run(*(out if isinstance(out, tuple) else (out,)), **kwargs)
            kwargs = {}
            records.extend(inner.records())
        self.inner[nid] = records
        return out

    def records(self) -> list[Record]:
        order, _ = topo_order(self.net)
        gm = self.module
        out: list[Record] = []
        for nid in order:
            node = self.net.nodes[nid]
            if node.type == BLOCK:
                out.extend(self.inner.get(nid, ()))
            if node.type in (PORT_IN, PORT_OUT):  # the instance's input and output say it
                continue
            fx_name = gm.node_values.get(nid)
            if fx_name not in self.values:
                continue
            qual = gm.node_modules.get(nid)
            out.append(Record(self.place + nid, (*self.path, nid), self.name + node.name,
                              node.type, self.values[fx_name],
                              self.qual + qual if qual else None, self.copies,
                              node.output_ports() or ("out",)))
        return out


NODE_MAPS = ("node_values", "node_modules", "input_names", "block_name")


def clone_model(model):
    """A deep copy that keeps the compiler's node maps (GraphModule's deepcopy drops
    attributes it does not know, in nested block modules too)."""
    import copy

    twin = copy.deepcopy(model)
    for (_, a), (_, b) in zip(model.named_modules(), twin.named_modules()):
        for attr in NODE_MAPS:
            if hasattr(a, attr):
                setattr(b, attr, copy.copy(getattr(a, attr)))
    return twin


def capture(model, graph, *inputs, retain: bool = False):
    """(model output, [Record, ...] in execution order) for one forward pass. With
    retain=True every recorded tensor keeps its .grad after a backward pass."""
    cap = _Capture(model, graph, retain)
    out = cap.run(*inputs)
    return out, cap.records()


def own_parameters(model, record: Record) -> dict:
    """The parameters a record's layer owns, by state_dict key ({} for a block instance,
    whose layers own them, and for nodes without a module)."""
    if record.module is None or record.type == BLOCK:
        return {}
    sub = model.get_submodule(record.module)
    return dict(sub.named_parameters(prefix=record.module))
