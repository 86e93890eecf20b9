"""Generic nodes: what `netbuilder import` cannot map to a built-in layer.

`Parameter` is a learned tensor (a ViT class token or position embedding). `Module` keeps
an original submodule: it is rebuilt as `target(**kwargs)`, then `.get_submodule(path)`;
its weights come from the checkpoint like any layer's. `Function` calls an original
function or tensor method. Arguments are JSON templates (templates.py).

Opening a file must never run code the user did not choose to run, so `target` and
`function` may name only what allowlist.py accepts; the check runs wherever parameters are
checked (the project loader, the analysis, shape inference) and again, on the object
itself, right before anything is called.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from . import allowlist
from .layers import ANY_DTYPE, BIG, MAX_INPUTS, nn, size, torch
from .registry import BOOL, CHOICE, INT, SHAPE, LayerSpec, Param, register
from .templates import decode_template, template_problem


@dataclass(frozen=True)
class CodeParam(Param):
    """A STR parameter naming code; its check refuses what allowlist.py does not accept."""
    code_kind: str = allowlist.MODULE

    def check(self, value, bounds=True):
        msg = Param.check(self, value, bounds) or allowlist.name_problem(value, self.code_kind)
        if msg or value == self.default:  # the defaults are allowed (tested); checking them
            return msg                    # here would import torch whenever specs register
        return allowlist.code_problem(value, self.code_kind)


@dataclass(frozen=True)
class JsonParam(Param):
    """A STR parameter holding JSON (a list or an object)."""
    json_type: type = list
    plain_kwargs: bool = False  # constructor arguments: nothing naming files or weights

    def check(self, value, bounds=True):
        msg = Param.check(self, value, bounds)
        if msg:
            return msg
        try:
            data = json.loads(value)
        except ValueError as e:
            return f"is not valid JSON ({e})"
        if not isinstance(data, self.json_type):
            return f"must be a JSON {'list' if self.json_type is list else 'object'}"
        return template_problem(data) or (allowlist.kwargs_problem(data)
                                          if self.plain_kwargs else None)


@dataclass(frozen=True)
class SubmoduleParam(Param):
    """A STR parameter naming a submodule path ('encoder.layers.0'); no dunder walks."""

    def check(self, value, bounds=True):
        msg = Param.check(self, value, bounds)
        if msg or value == "":
            return msg
        parts = value.split(".")
        if any(not p.isidentifier() and not p.isdigit() for p in parts):
            return f"{value!r} is not a submodule path such as 'encoder.layers.0'"
        if any(p.startswith("__") for p in parts):
            return f"{value!r} reaches into private attributes; netbuilder refuses it"
        return None


def _ports(p):
    n = p["num_inputs"]
    n = min(max(n, 0), MAX_INPUTS) if isinstance(n, int) else 1
    return tuple(f"in{i + 1}" for i in range(n))


def _pick(y, item):
    return y if item < 0 else y[item]


# ---- Parameter -------------------------------------------------------------------------------

_LEARNED_TENSOR = []


def _learned_tensor(p, s):
    if not _LEARNED_TENSOR:  # defined on first use: this module must not import torch
        class LearnedTensor(nn().Module):
            """Holds one learned tensor and returns it. In a state_dict the tensor is the
            module itself (`class_token`, not `class_token.value`), as in a hand-written
            model that keeps it as an nn.Parameter attribute, so the original's state_dict
            loads strictly with no renaming (the holder's hook, see hold_learned_tensors,
            takes the key back on loading)."""

            def __init__(self, shape: list, init: str = "normal", trainable: bool = True):
                super().__init__()
                t = torch()
                value = t.zeros(shape) if init == "zeros" else t.randn(shape) * 0.02
                self.value = nn().Parameter(value, requires_grad=trainable)

            def forward(self):
                return self.value

            def _save_to_state_dict(self, destination, prefix, keep_vars):
                key = prefix[:-1] if prefix else "value"
                destination[key] = self.value if keep_vars else self.value.detach()

        _LEARNED_TENSOR.append(LearnedTensor)
    return _LEARNED_TENSOR[0](list(p["shape"]), p["init"], p["trainable"])


def _learned_tensor_keys(module, state_dict, prefix, *_):
    """Load pre-hook of a module holding LearnedTensors: `prefix + name` -> `.value`. It
    runs before the children get their part of the (already copied) state_dict."""
    for name, child in module.named_children():
        key = prefix + name
        if isinstance(child, _LEARNED_TENSOR[0]) and key in state_dict:
            state_dict[key + ".value"] = state_dict.pop(key)


def is_learned_tensor(module) -> bool:
    return bool(_LEARNED_TENSOR) and isinstance(module, _LEARNED_TENSOR[0])


def hold_learned_tensors(module) -> None:
    """Let `module` load state_dicts that name its LearnedTensor children's tensors by the
    children's own names (what their state_dict() writes)."""
    if _LEARNED_TENSOR and any(isinstance(c, _LEARNED_TENSOR[0]) for c in module.children()):
        module._register_load_state_dict_pre_hook(_learned_tensor_keys, with_module=True)


register(LayerSpec(
    "Parameter", "Generic", "A learned tensor, such as a ViT class token or position "
    "embedding. Its first dimension is 1, so it broadcasts over the batch.",
    params=(Param("shape", SHAPE, [1, 16], "full shape; the first entry must be 1", min=1,
                  max=BIG, min_len=1, max_len=6),
            Param("init", CHOICE, "normal", "initial values (before training or loading)",
                  choices=("normal", "zeros")),
            Param("trainable", BOOL, True, "updated by the optimizer")),
    inputs=(), build=_learned_tensor, apply=lambda call, xs, p: call(),
    check=lambda p, s: None if p["shape"][0] == 1 else
    f"the first entry of shape {p['shape']} must be 1 (it stands for the batch)",
    key_params=("shape",),
))

# ---- Module ----------------------------------------------------------------------------------

_MODULE_CACHE: "dict[tuple, object]" = {}


def _generic_module(p, s):
    device = str(torch().empty(0).device)  # "meta" while shapes are inferred
    key = (p["target"], p["kwargs"], device)
    whole = _MODULE_CACHE.pop(key, None)  # put back last: least recently used goes first
    if whole is not None:
        _MODULE_CACHE[key] = whole
    else:
        factory = allowlist.resolve(p["target"], allowlist.MODULE)
        kwargs = decode_template(p["kwargs"], [])
        msg = allowlist.kwargs_problem(kwargs)
        if msg:
            raise allowlist.CodeRefused(f"{p['target']}: {msg}")
        whole = factory(**kwargs)
        if not isinstance(whole, nn().Module):
            raise ValueError(f"{p['target']} did not build a torch.nn.Module")
        # keep a few: a factory may build a large network, and an imported model's nodes
        # alternate between its factory and torch.nn classes
        while len(_MODULE_CACHE) >= 4:
            _MODULE_CACHE.pop(next(iter(_MODULE_CACHE)))
        _MODULE_CACHE[key] = whole
    path = p["path"]
    msg = SubmoduleParam("path", "str", "").check(path)
    if msg:
        raise allowlist.CodeRefused(f"path {msg}")
    return copy.deepcopy(whole.get_submodule(path) if path else whole)


def _generic_module_apply(call, xs, p):
    args = decode_template(p["args"], xs)
    kwargs = decode_template(p["call_kwargs"], xs)
    return _pick(call(*args, **kwargs), p["item"])


NUM_GENERIC_INPUTS = size("num_inputs", 1, "number of inputs", lo=0, hi=MAX_INPUTS)
ITEM = Param("item", INT, -1, "for a tuple result: the element to keep (-1 = all)",
             min=-1, max=64)
ARGS = JsonParam("args", "str", '[{"$in": 0}]', "positional arguments (JSON template)")
KWARGS = JsonParam("call_kwargs", "str", "{}", "keyword arguments (JSON template)",
                   json_type=dict)

register(LayerSpec(
    "Module", "Generic", "An original torch submodule kept as it is: built as "
    "target(**kwargs), then the submodule at path. Only nn.Module classes of torch.nn, "
    "torchvision.models and torchvision.ops, torchvision model builders, and trusted "
    "packages may be named.",
    params=(CodeParam("target", "str", "torch.nn:Identity",
                      "class or factory, as package.module:name"),
            JsonParam("kwargs", "str", "{}", "its keyword arguments (JSON)", json_type=dict,
                      plain_kwargs=True),
            SubmoduleParam("path", "str", "", "submodule inside what it builds ('' = itself)"),
            NUM_GENERIC_INPUTS, ARGS, KWARGS, ITEM),
    inputs=_ports, build=_generic_module, apply=_generic_module_apply,
    dtypes=ANY_DTYPE, key_params=("target", "path"),
))

# ---- Function --------------------------------------------------------------------------------


def _generic_function_apply(call, xs, p):
    fn = allowlist.resolve(p["function"], allowlist.FUNCTION)
    args = decode_template(p["args"], xs)
    kwargs = decode_template(p["call_kwargs"], xs)
    if allowlist.is_tensor_method(fn):  # call it on args[0] (a tensor, or an fx proxy)
        if not args or not hasattr(type(args[0]), "__torch_function__"):
            raise ValueError(f"{p['function']} is a tensor method; its first argument must "
                             f"be an input tensor")
        method = p["function"].split(".")[-1]
        return _pick(getattr(args[0], method)(*args[1:], **kwargs), p["item"])
    return _pick(fn(*args, **kwargs), p["item"])


register(LayerSpec(
    "Function", "Generic", "An original tensor function or method (torch:Tensor.expand), "
    "called with JSON arguments. Only tensor computations may be named.",
    params=(CodeParam("function", "str", "torch:neg", "function, as package.module:name",
                      code_kind=allowlist.FUNCTION),
            NUM_GENERIC_INPUTS, ARGS, KWARGS, ITEM),
    inputs=_ports, apply=_generic_function_apply, dtypes=ANY_DTYPE,
    key_params=("function",),
))
