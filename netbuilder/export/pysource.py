"""Readable PyTorch source: model.py (a named nn.Module written as a person would write
it), train.py (see trainscript.py) and weights.pt (a plain state_dict).

`__init__` builds the same submodules under the same names as the compiled GraphModule, so
the state_dict keys are identical; `forward` is written from the fx graph, one line per
operation, with the output shape of each line as a comment (N is the batch).
"""
from __future__ import annotations

import importlib.util
import io
import operator
import re
import sys
import uuid
from pathlib import Path

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from ..core.files import write_bytes
from ..core.generic_layers import is_learned_tensor
from ..core.layers import decode_template
from ..core.project import Project
from ..core.registry import fmt_shape, identifier
from .errors import ExportError
from .inputs import probe_inputs
from .trainscript import train_script

INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
         operator.floordiv: "//", operator.matmul: "@", operator.pow: "**",
         operator.mod: "%"}

def class_name(project: Project) -> str:
    words = re.findall(r"[A-Za-z0-9]+", project.name or "")
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Network"
    return name if name[0].isalpha() else "Net" + name


# ---- __init__: one constructor call per submodule -------------------------------------------

def _kwargs_code(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _module_code(node, module: nn.Module, imports: set[str]) -> str:
    if node is not None and node.type == "Parameter":  # as a hand-written model keeps it
        frozen = "" if node.params["trainable"] else ", requires_grad=False"
        return f"nn.Parameter(torch.zeros({list(node.params['shape'])}){frozen})"
    if node is not None and node.type == "Module":
        modname, attr = node.params["target"].split(":")
        imports.add(f"import {modname}")
        kwargs = decode_template(node.params["kwargs"], [])
        code = f"{modname}.{attr}({_kwargs_code(kwargs)})"
        if node.params["path"]:
            code += f".get_submodule({node.params['path']!r})"
        return code
    if isinstance(module, nn.MultiheadAttention):
        return (f"nn.MultiheadAttention({module.embed_dim}, {module.num_heads}, "
                f"dropout={module.dropout}, bias={module.in_proj_bias is not None}, "
                f"batch_first=True)")
    if isinstance(module, nn.TransformerEncoderLayer):
        act = "gelu" if module.activation_relu_or_gelu == 2 else "relu"
        return (f"nn.TransformerEncoderLayer({module.self_attn.embed_dim}, "
                f"{module.self_attn.num_heads}, dim_feedforward={module.linear1.out_features}"
                f", dropout={module.dropout.p}, activation={act!r}, "
                f"norm_first={module.norm_first}, batch_first=True)")
    if type(module).__module__.startswith("torch.nn") and not list(module.children()):
        return "nn." + repr(module)  # torch.nn reprs are their constructor calls
    raise ExportError(f"no Python source for submodule {type(module).__name__}")


def _check_rebuilt(code: str, module: nn.Module, where: str, namespace: dict) -> None:
    try:
        rebuilt = eval(code, namespace)  # noqa: S307 - our own generated code
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"node {where}: the generated constructor {code!r} fails: {e}") \
            from None
    shapes = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    if shapes != {k: tuple(v.shape) for k, v in module.state_dict().items()}:
        raise ExportError(f"node {where}: the generated constructor {code!r} does not build "
                          f"the same module")


# ---- forward: one line per fx node ------------------------------------------------------------

def _function_name(target, imports: set[str]) -> str:
    name = getattr(target, "__name__", str(target))
    if getattr(F, name, None) is target:
        return f"F.{name}"
    if getattr(torch, name, None) is target:
        return f"torch.{name}"
    qual = fx.node._get_qualified_name(target)
    root = qual.split(".")[0]
    if root not in ("torch",):
        imports.add(f"import {qual.rsplit('.', 1)[0]}")
    return qual


def _arg(a, index=False) -> str:
    if isinstance(a, fx.Node):
        return a.name
    if isinstance(a, slice) and index:
        parts = ["" if v is None else _arg(v) for v in (a.start, a.stop, a.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if a.step is not None else "")
    if isinstance(a, tuple):
        if index:
            return ", ".join(_arg(x, True) for x in a) or "()"
        return "(" + ", ".join(_arg(x) for x in a) + ("," if len(a) == 1 else "") + ")"
    if isinstance(a, list):
        return "[" + ", ".join(_arg(x) for x in a) + "]"
    if isinstance(a, torch.dtype):
        return str(a)
    if a is Ellipsis:
        return "..."
    return repr(a)


def _call_args(args, kwargs) -> str:
    return ", ".join([_arg(a) for a in args] + [f"{k}={_arg(v)}" for k, v in kwargs.items()])


def _statement(n: fx.Node, imports: set[str]) -> str:
    if n.op == "call_module":
        target = f"self.{n.target}" if n.target.isidentifier() else \
            f"getattr(self, {n.target!r})"
        return f"{target}({_call_args(n.args, n.kwargs)})"
    if n.op == "call_method":
        return f"{_arg(n.args[0])}.{n.target}({_call_args(n.args[1:], n.kwargs)})"
    if n.op == "get_attr":
        return f"self.{n.target}"
    if n.target in INFIX and len(n.args) == 2 and not n.kwargs:
        return f"{_arg(n.args[0])} {INFIX[n.target]} {_arg(n.args[1])}"
    if n.target is operator.getitem:
        return f"{_arg(n.args[0])}[{_arg(n.args[1], index=True)}]"
    if n.target is getattr:
        return f"{_arg(n.args[0])}.{n.args[1]}"
    return f"{_function_name(n.target, imports)}({_call_args(n.args, n.kwargs)})"


def _shape_comment(n: fx.Node) -> str:
    meta = n.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return ""
    return "  # " + fmt_shape((None, *tuple(meta.shape)[1:]))


class _Classes:
    """One class per block definition. Instances whose inferred sizes differ (a dense layer
    fed more channels) share it when the difference is their input size, which becomes the
    constructor argument (`DenseLayer(24)`), as a person would write it; otherwise each
    variant gets a class of its own (`Bottleneck2`)."""

    SIZE_ARGS = (("in_channels", 1), ("in_features", -1))

    def __init__(self, project: Project, imports: set[str]):
        self.project, self.imports = project, imports
        self.namespace = {"nn": nn, "torch": torch, "F": F}
        self.sources: list[str] = []  # class definitions, innermost first
        self.taken: set[str] = set()
        self.inputs: dict[int, tuple] = {}  # id(GraphModule) -> the args it was called with
        self.calls: dict[int, str] = {}  # id(GraphModule) -> its constructor call

    def capture(self, model: nn.Module):
        """Hooks recording each block module's inputs during one probe run."""
        handles = []
        for m in model.modules():
            if m is not model and isinstance(m, fx.GraphModule):
                handles.append(m.register_forward_pre_hook(
                    lambda mod, args: self.inputs.setdefault(id(mod), args)))
        return handles

    def plan(self, model: nn.Module) -> None:
        """Decide every block module's class, definitions used inside others first."""
        by_block: dict[str, list] = {}
        for m in model.modules():
            if m is not model and getattr(m, "block_name", None):
                by_block.setdefault(m.block_name, []).append(m)
        lib = self.project.graph.blocks
        done: list[str] = []

        def visit(name):
            if name in done:
                return
            done.append(name)  # (recursion is refused before compiling)
            for inner in lib.uses(name):
                visit(inner)
            if name in by_block:
                self._decide(name, by_block[name])

        for name in list(by_block):
            visit(name)

    def _decide(self, block: str, modules: list) -> None:
        graph = self.project.graph.blocks[block]
        variants = []
        for gm in modules:
            args = self.inputs.get(id(gm))
            if args is not None:
                ShapeProp(gm).propagate(*args)
            init = self.init_lines(gm, graph)
            params, fwd = _forward_lines(gm, self.imports)
            shape = tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else ()
            variants.append((gm, init, params, fwd, shape))
        if len({tuple(v[1]) for v in variants}) == 1:
            cls = self._emit(block, variants[0], None)
            self.calls.update((id(v[0]), f"{cls}()") for v in variants)
            return
        for arg, dim in self.SIZE_ARGS:
            if not all(len(v[4]) > 1 for v in variants):
                break
            templates = {tuple(_substitute(line, v[4][dim], arg) for line in v[1])
                         for v in variants}
            if len(templates) == 1:
                first = variants[0]
                cls = self._emit(block, (first[0], list(templates.pop()), *first[2:]), arg)
                self.calls.update((id(v[0]), f"{cls}({v[4][dim]})") for v in variants)
                return
        by_init: dict[tuple, str] = {}
        for v in variants:
            key = tuple(v[1])
            if key not in by_init:
                by_init[key] = self._emit(block, v, None)
            self.calls[id(v[0])] = f"{by_init[key]}()"

    def _emit(self, block: str, variant, arg: str | None) -> str:
        from ..core.compiler import class_name_for

        _, init, params, fwd, shape = variant
        base = class_name_for(block)
        cls, k = base, 2
        while cls in self.taken:
            cls, k = f"{base}{k}", k + 1
        self.taken.add(cls)
        doc = f"Block {block!r}."
        if arg:
            doc += f" Shapes in comments are for its first use ({arg}={shape[1]})." \
                if arg == "in_channels" else \
                f" Shapes in comments are for its first use ({arg}={shape[-1]})."
        self.sources.append("\n".join([
            "", "", f"class {cls}(nn.Module):", f'    """{doc}"""', "",
            f"    def __init__(self{', ' + arg if arg else ''}):", "        super().__init__()",
            *init, "", f"    def forward(self, {', '.join(params)}):", *fwd]))
        return cls

    def init_lines(self, gm: fx.GraphModule, graph) -> list[str]:
        by_module = {v: graph.nodes[k] for k, v in gm.node_modules.items()}
        lines = []
        for name, module in gm.named_children():
            node = by_module.get(name)
            code = self.constructor(node, module, name)
            named = node is None or name in (node.name, identifier(node.name))
            comment = "" if named else f"  # {node.name}"
            lines.append(f"        self.{name} = {code}{comment}" if name.isidentifier()
                         else f"        self.add_module({name!r}, {code}){comment}")
        return lines

    def constructor(self, node, module: nn.Module, name: str) -> str:
        if node is not None and node.type == "Block":
            copies = list(module) if isinstance(module, nn.Sequential) else [module]
            made = [self.calls[id(c)] for c in copies]
            return made[0] if len(made) == 1 else _sequential(made)
        code = _module_code(node, module, self.imports)
        if not (node and node.type in ("Module", "Parameter")):
            _check_rebuilt(code, module, repr(node.name if node else name), self.namespace)
        return code


def _substitute(line: str, size: int, arg: str) -> str:
    return re.sub(rf"(?<![\w.]){size}(?![\w.])", arg, line)


def _sequential(made: list[str]) -> str:
    """nn.Sequential of a repeat's copies, written as a loop when they follow a pattern."""
    n = len(made)
    if len(set(made)) == 1:  # identical copies
        return f"nn.Sequential(*[{made[0]} for _ in range({n})])"
    calls = [re.fullmatch(r"(\w+)\((\d+)\)", m) for m in made]
    if all(calls) and len({c.group(1) for c in calls}) == 1:
        sizes = [int(c.group(2)) for c in calls]
        step = sizes[1] - sizes[0]
        if all(b - a == step for a, b in zip(sizes, sizes[1:])):  # DenseNet: in + i·growth
            return (f"nn.Sequential(*[{calls[0].group(1)}({sizes[0]} + {step} * i) "
                    f"for i in range({n})])")
    return "nn.Sequential(" + ", ".join(made) + ")"


def _forward_lines(gm: fx.GraphModule, imports: set[str]) -> tuple[list[str], list[str]]:
    params = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    fwd = []
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            continue
        if n.op == "output":
            result = n.args[0]
            fwd.append(f"        return {_arg(result)}" if not isinstance(result, tuple)
                       else f"        return {', '.join(_arg(r) for r in result)}")
            continue
        code = _statement(n, imports)
        if n.op == "call_module" and is_learned_tensor(gm.get_submodule(n.target)):
            code = code[:-2]  # an nn.Parameter attribute in model.py: read, not called
        fwd.append(f"        {n.name} = {code}{_shape_comment(n)}")
    return params, fwd


def model_source(project: Project, model: fx.GraphModule, probe) -> tuple[str, str]:
    """(source of model.py, class name)."""
    cls = class_name(project)
    imports: set[str] = set()
    classes = _Classes(project, imports)
    handles = classes.capture(model)
    try:
        ShapeProp(model).propagate(*probe)
    finally:
        for h in handles:
            h.remove()
    classes.taken.add(cls)
    classes.plan(model)
    init_lines = classes.init_lines(model, project.graph)
    inputs, fwd = _forward_lines(model, imports)
    in_shapes = ", ".join(f"{n.name} {fmt_shape((None, *n.params['shape']))}"
                          for n in project.graph.nodes.values() if n.type == "Input")
    header = [
        f'"""{project.name}: generated by netbuilder.',
        "",
        f"Inputs: {in_shapes} (N is the batch). Needs only PyTorch.",
        "Run it (`python model.py`) to load weights.pt and apply the model to a random batch.",
        '"""',
        "from pathlib import Path",
        "",
        "import torch",
        "import torch.nn.functional as F  # noqa: F401",
        "from torch import nn",
        *sorted(imports),
    ]
    body = [
        "",
        "",
        "",
        f"class {cls}(nn.Module):",
        f'    """{project.description or project.name}"""' if project.description else
        f'    """{project.name}"""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        *init_lines,
        "",
        f"    def forward(self, {', '.join(inputs)}):",
        *fwd,
        "",
        "",
        'def build(weights=Path(__file__).with_name("weights.pt")):',
        f'    """A {cls} with the exported weights (weights_only: nothing is unpickled)."""',
        f"    model = {cls}()",
        "    if weights is not None and Path(weights).exists():",
        "        model.load_state_dict(torch.load(weights, map_location=\"cpu\", "
        "weights_only=True))",
        "    return model.eval()",
        "",
        "",
        'if __name__ == "__main__":',
        "    model = build()",
        "    with torch.no_grad():",
        f"        batch = {_example_inputs(project)}",
        "        out = model(*batch)",
        "    shapes = [tuple(o.shape) for o in (out if isinstance(out, tuple) else (out,))]",
        '    print(f"' + cls + ': {sum(p.numel() for p in model.parameters())} parameters; "',
        '          f"output shape(s) for a batch of 2: {shapes}")',
    ]
    text = ("\n".join(header) + ("\n" if classes.sources else "")
            + "\n".join(classes.sources) + "\n".join(body) + "\n")
    return text, cls


def _example_inputs(project: Project) -> str:
    parts = []
    for n in project.graph.nodes.values():
        if n.type != "Input":
            continue
        shape = ", ".join(str(d) for d in (2, *n.params["shape"]))
        if n.params["dtype"] == "int64":
            vocab = min((m.params["num_embeddings"] for m in project.graph.nodes.values()
                         if m.type == "Embedding"), default=2)
            parts.append(f"torch.randint(0, {vocab}, ({shape}))")
        else:
            parts.append(f"torch.randn({shape})")
    return "[" + ", ".join(parts) + "]"


def load_generated(folder: Path, cls: str) -> nn.Module:
    """Import the generated model.py (under a unique name) and build it with weights.pt."""
    name = f"_netbuilder_generated_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        return module.build(folder / "weights.pt")
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"the generated model.py does not run: {type(e).__name__}: {e}") \
            from None
    finally:
        sys.modules.pop(name, None)


def write_python(project: Project, model: fx.GraphModule, folder: Path, ctx):
    src, cls = model_source(project, model, probe_inputs(project, 1, ctx.seed))
    write_bytes(folder / "model.py", src.encode("utf-8"))
    buf = io.BytesIO()  # torch's own file writer aborts the process on a full disk
    torch.save(model.state_dict(), buf)
    write_bytes(folder / "weights.pt", buf.getvalue())
    script, notes = train_script(project, cls)
    write_bytes(folder / "train.py", script.encode("utf-8"))
    write_bytes(folder / "project.json", project.to_json().encode("utf-8"))
    loaded = load_generated(folder, cls)
    notes = [f"class {cls} in model.py; train.py trains it (python train.py, or "
             f"torchrun --nproc_per_node=N train.py)", *notes]
    return loaded, notes, ["model.py", "train.py", "weights.pt", "project.json"]


__all__ = ["write_python", "model_source", "class_name"]
