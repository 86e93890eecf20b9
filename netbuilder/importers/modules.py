"""torch.nn modules -> registry layers with their parameters.

`layer_for(module)` returns (layer type, params) when a registry layer builds an equivalent
module (same class, same state_dict keys, so weights copy over one to one), else None and
the importer keeps the original submodule in a generic `Module` node.
"""
from __future__ import annotations

import inspect
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core import registry


def _uniform(v):
    """3 for 3 or (3, 3); None when the entries differ."""
    if isinstance(v, (tuple, list)):
        return v[0] if v and all(x == v[0] for x in v) else None
    return v


def _ints(**kw):
    return None if any(not isinstance(v, int) or isinstance(v, bool) for v in kw.values()) \
        else kw


def _conv(m):
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        return None
    p = _ints(kernel_size=_uniform(m.kernel_size), stride=_uniform(m.stride),
              padding=_uniform(m.padding), dilation=_uniform(m.dilation))
    if p is None:
        return None
    return {"out_channels": m.out_channels, **p, "groups": m.groups,
            "bias": m.bias is not None}


def _conv_transpose(m):
    if m.padding_mode != "zeros" or _uniform(m.dilation) != 1 or m.groups != 1:
        return None
    p = _ints(kernel_size=_uniform(m.kernel_size), stride=_uniform(m.stride),
              padding=_uniform(m.padding), output_padding=_uniform(m.output_padding))
    return None if p is None else {"out_channels": m.out_channels, **p,
                                   "bias": m.bias is not None}


def _max_pool(m):
    if m.ceil_mode or m.return_indices or _uniform(m.dilation) != 1:
        return None
    return _ints(kernel_size=_uniform(m.kernel_size),
                 stride=_uniform(m.stride if m.stride is not None else m.kernel_size),
                 padding=_uniform(m.padding))


def _avg_pool(m):
    if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
        return None
    return _ints(kernel_size=_uniform(m.kernel_size),
                 stride=_uniform(m.stride if m.stride is not None else m.kernel_size),
                 padding=_uniform(m.padding))


def _batch_norm(m):
    if not (m.affine and m.track_running_stats) or m.momentum is None:
        return None
    return {"eps": m.eps, "momentum": m.momentum}


def _layer_norm(m):
    if len(m.normalized_shape) != 1 or (m.elementwise_affine and m.bias is None):
        return None
    return {"eps": m.eps, "elementwise_affine": m.elementwise_affine}


def _embedding(m):
    if (m.padding_idx is not None or m.max_norm is not None or m.scale_grad_by_freq
            or m.sparse):
        return None
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}


def _recurrent(m):
    if not m.batch_first or not m.bias or m.dropout or getattr(m, "proj_size", 0):
        return None
    p = {"hidden_size": m.hidden_size, "num_layers": m.num_layers,
         "bidirectional": m.bidirectional, "output": "sequence"}
    if isinstance(m, nn.RNN):
        p["nonlinearity"] = m.nonlinearity
    return p


def _attention(m):
    if (not m.batch_first or not m._qkv_same_embed_dim or m.bias_k is not None
            or m.add_zero_attn):
        return None
    return {"num_heads": m.num_heads, "dropout": m.dropout, "bias": m.in_proj_bias is not None}


def _encoder_layer(m):
    act = {1: "relu", 2: "gelu"}.get(getattr(m, "activation_relu_or_gelu", 0))
    if (act is None or not m.self_attn.batch_first or m.norm1.eps != 1e-5
            or m.linear1.bias is None):
        return None
    return {"nhead": m.self_attn.num_heads, "dim_feedforward": m.linear1.out_features,
            "dropout": m.dropout.p, "activation": act, "norm_first": m.norm_first}


def _softmax(m):
    return None if m.dim is None else {"dim": m.dim}


MODULES = {
    nn.Linear: ("Linear", lambda m: {"out_features": m.out_features, "bias": m.bias is not None}),
    nn.Conv1d: ("Conv1d", _conv), nn.Conv2d: ("Conv2d", _conv),
    nn.ConvTranspose2d: ("ConvTranspose2d", _conv_transpose),
    nn.MaxPool1d: ("MaxPool1d", _max_pool), nn.MaxPool2d: ("MaxPool2d", _max_pool),
    nn.AvgPool2d: ("AvgPool2d", _avg_pool),
    nn.AdaptiveAvgPool2d: ("AdaptiveAvgPool2d",
                           lambda m: _ints(output_size=_uniform(m.output_size))),
    nn.BatchNorm1d: ("BatchNorm1d", _batch_norm), nn.BatchNorm2d: ("BatchNorm2d", _batch_norm),
    nn.LayerNorm: ("LayerNorm", _layer_norm),
    nn.Dropout: ("Dropout", lambda m: {"p": m.p}),
    nn.Flatten: ("Flatten", lambda m: {} if (m.start_dim, m.end_dim) == (1, -1) else None),
    nn.Identity: ("Identity", lambda m: {}),
    nn.Sigmoid: ("Sigmoid", lambda m: {}), nn.Tanh: ("Tanh", lambda m: {}),
    nn.ReLU: ("ReLU", lambda m: {}), nn.ReLU6: ("ReLU6", lambda m: {}),
    nn.Hardswish: ("Hardswish", lambda m: {}), nn.Hardsigmoid: ("Hardsigmoid", lambda m: {}),
    nn.SELU: ("SELU", lambda m: {}), nn.SiLU: ("SiLU", lambda m: {}),
    nn.LeakyReLU: ("LeakyReLU", lambda m: {"negative_slope": m.negative_slope}),
    nn.ELU: ("ELU", lambda m: {"alpha": m.alpha}),
    nn.Softplus: ("Softplus", lambda m: {"beta": m.beta} if m.threshold == 20 else None),
    nn.GELU: ("GELU", lambda m: {"approximate": m.approximate}),
    nn.Softmax: ("Softmax", _softmax), nn.LogSoftmax: ("LogSoftmax", _softmax),
    nn.Embedding: ("Embedding", _embedding),
    nn.RNN: ("RNN", _recurrent), nn.GRU: ("GRU", _recurrent), nn.LSTM: ("LSTM", _recurrent),
    nn.MultiheadAttention: ("MultiheadAttention", _attention),
    nn.TransformerEncoderLayer: ("TransformerEncoderLayer", _encoder_layer),
}


def layer_for(module: nn.Module) -> tuple[str, dict] | None:
    entry = MODULES.get(type(module))  # exact class: a subclass may change forward
    if entry is None:
        return None
    type_name, read = entry
    params = read(module)
    if params is None:
        return None
    spec = registry.get(type_name)
    if any(spec.param(k).check(v) for k, v in params.items()):
        return None  # outside the bounds the editor allows (e.g. a 128-wide kernel)
    return type_name, params


# ---- keeping an original module: how to rebuild it -----------------------------------------

def public_name(obj) -> str:
    """'torch.nn:Upsample' rather than 'torch.nn.modules.upsampling:Upsample'."""
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or obj.__name__
    if module == "_operator":
        return f"operator:{name}"
    root = module.split(".")[0]
    for candidate in (("torch.nn.functional", "torch.nn", "torch", "torchvision.ops",
                       "torchvision.models") if root in ("torch", "torchvision") else ()):
        mod = _import(candidate)
        if mod is not None and getattr(mod, obj.__name__, None) is obj:
            return f"{candidate}:{obj.__name__}"
    if module.startswith("torch._C"):
        raise ValueError(f"{module}.{name} has no public name")
    return f"{module}:{name}"


def _import(name):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def constructor_kwargs(module: nn.Module) -> dict | None:
    """Keyword arguments that rebuild `module` (read back from its attributes), or None
    when the rebuilt module would differ (checked on its repr and state_dict shapes)."""
    cls = type(module)
    kwargs = {}
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None
    for name, p in list(sig.parameters.items())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in ("device", "dtype"):
            continue
        if hasattr(module, name):
            value = getattr(module, name)
            try:
                json.dumps(encode(value))
            except (TypeError, ValueError):
                return None
            kwargs[name] = value
        elif p.default is p.empty:
            return None
    try:
        rebuilt = cls(**kwargs)
    except Exception:  # noqa: BLE001 - any failure means "cannot rebuild this way"
        return None
    same = rebuilt.extra_repr() == module.extra_repr() and {
        k: v.shape for k, v in rebuilt.state_dict().items()} == {
        k: v.shape for k, v in module.state_dict().items()}
    return kwargs if same else None


def encode(v):
    """A Python constant -> JSON for argument templates (see layers.decode_template)."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and abs(v) != float("inf") else {"$float": str(v)}
    if isinstance(v, list):
        return [encode(x) for x in v]
    if isinstance(v, tuple):  # torch.Size too
        return {"$tuple": [encode(x) for x in v]}
    if isinstance(v, slice):
        return {"$slice": [encode(v.start), encode(v.stop), encode(v.step)]}
    if v is Ellipsis:
        return {"$ellipsis": True}
    if isinstance(v, torch.dtype):
        return {"$dtype": str(v).split(".")[-1]}
    raise TypeError(f"cannot store {type(v).__name__} {v!r} in a project file")


# ---- functions and tensor methods -> registry layers -----------------------------------------

ACTIVATIONS = {
    "relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "silu": "SiLU", "selu": "SELU",
    "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "relu6": "ReLU6", "sin": "Sine",
}
FUNCTION_NAMES = {torch.relu: "relu", F.relu: "relu", torch.sigmoid: "sigmoid",
                  F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu",
                  F.selu: "selu", torch.selu: "selu", F.hardswish: "hardswish",
                  F.hardsigmoid: "hardsigmoid", F.relu6: "relu6", torch.sin: "sin",
                  F.gelu: "gelu", torch.flatten: "flatten", torch.cat: "cat",
                  torch.concat: "cat", torch.mean: "mean", torch.reshape: "reshape",
                  torch.permute: "permute", torch.transpose: "transpose",
                  F.adaptive_avg_pool2d: "adaptive_avg_pool2d", F.softmax: "softmax",
                  torch.softmax: "softmax", F.log_softmax: "log_softmax",
                  torch.log_softmax: "log_softmax", torch.add: "add", torch.mul: "mul",
                  F.leaky_relu: "leaky_relu"}
