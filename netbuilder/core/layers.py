"""Every built-in layer type, one `register(LayerSpec(...))` entry each.

Sizes that follow from the upstream shape (in_features, in_channels, num_features,
input_size, embed_dim ...) are read from `s[0]` (the first input's shape, batch of 1
included) inside `build`, never typed by the user. torch is imported lazily so that this
module (and the palette that reads it) loads without it.
"""
from __future__ import annotations

import math
import operator
from functools import reduce

from .registry import BOOL, CHOICE, FLOAT, INT, SHAPE, LayerSpec, Param, register

ANY_DTYPE = ("float32", "int64")
BIG = 1_000_000


def nn():
    import torch.nn

    return torch.nn


def torch():
    import torch as t

    return t


# ---- shared parameter definitions -------------------------------------------------------

def size(name, default, doc, lo=1, hi=BIG):
    return Param(name, INT, default, doc, min=lo, max=hi)


def bias(default=True):
    return Param("bias", BOOL, default, "learn an additive bias")


KERNEL = size("kernel_size", 3, "size of the sliding window", hi=64)
STRIDE = size("stride", 1, "step between windows", hi=64)
PADDING = size("padding", 0, "zeros added on each side", lo=0, hi=64)
DILATION = size("dilation", 1, "spacing between kernel taps", hi=64)
GROUPS = size("groups", 1, "channel groups (in_channels for depthwise)", hi=65536)
POOL_STRIDE = size("stride", 0, "step between windows (0 = same as kernel)", lo=0, hi=64)
EPS = Param("eps", FLOAT, 1e-5, "added to the variance for stability", min=1e-12, max=1.0)
MOMENTUM = Param("momentum", FLOAT, 0.1, "running-statistics momentum", min=0.0, max=1.0)
DROPOUT = Param("dropout", FLOAT, 0.0, "dropout probability", min=0.0, max=0.99)
# DenseNet concatenates every earlier layer's features (up to 49 inputs in densenet201)
MAX_INPUTS = 256
NUM_INPUTS = size("num_inputs", 2, "number of inputs to merge", lo=2, hi=MAX_INPUTS)


def merge_ports(p):
    n = p["num_inputs"]
    n = min(max(n, 0), NUM_INPUTS.max) if isinstance(n, int) else 2  # even when invalid
    return tuple(f"in{i + 1}" for i in range(n))


def conv_kwargs(p):
    return dict(kernel_size=p["kernel_size"], stride=p["stride"], padding=p["padding"],
                dilation=p["dilation"], groups=p["groups"], bias=p["bias"])


def pool_stride(p):
    return p["stride"] or p["kernel_size"]


def _fmt(shape):
    from .registry import fmt_shape
    return fmt_shape(shape)


def _dim_ok(dim, rank):
    return -rank <= dim < rank


def check_reshape(p, s):
    target = list(p["shape"])
    have = math.prod(s[0][1:])
    known = math.prod(d for d in target if d != -1)
    if -1 in target:
        if have % known:
            return (f"cannot reshape {_fmt(s[0])} ({have} values per sample) into "
                    f"{_fmt([None] + target)}: {have} is not divisible by {known}")
    elif have != known:
        return (f"cannot reshape {_fmt(s[0])} ({have} values per sample) into "
                f"{_fmt([None] + target)} ({known} values); the counts must match")
    return None


def check_permute(p, s):
    rank = len(s[0])
    if sorted(p["dims"]) != list(range(1, rank)):
        want = ", ".join(str(i) for i in range(1, rank))
        return (f"dims {p['dims']} must list each of {want} once for input {_fmt(s[0])} "
                f"(the batch, dimension 0, stays first)")
    return None


def check_softmax(p, s):
    if not _dim_ok(p["dim"], len(s[0])):
        return f"dim {p['dim']} does not exist in input {_fmt(s[0])} (rank {len(s[0])})"
    if p["dim"] in (0, -len(s[0])):
        return "dim 0 is the batch; normalizing across samples mixes them (use 1 or -1)"
    return None


def check_heads(key):
    def check(p, s):
        e = s[0][-1]
        if e % p[key]:
            return (f"embedding size {e} is not divisible by {key}={p[key]}; choose a "
                    f"{key} that divides {e}")
        return None
    return check


def check_concat(p, s):
    rank = len(s[0])
    if any(len(x) != rank for x in s):
        return "inputs have different ranks: " + ", ".join(_fmt(x) for x in s)
    if not _dim_ok(p["dim"], rank):
        return f"dim {p['dim']} does not exist in inputs of rank {rank}"
    d = p["dim"] % rank
    if d == 0:
        return "dim 0 is the batch; concatenate along 1 or a later dimension"
    for x in s[1:]:
        if any(a != b for i, (a, b) in enumerate(zip(s[0], x)) if i != d):
            return ("all dimensions except dim %d must match: " % p["dim"]
                    + " vs ".join(_fmt(y) for y in s))
    return None


def check_same_shape(p, s):
    if any(x != s[0] for x in s[1:]):
        return ("inputs must have the same shape, got " + " and ".join(_fmt(x) for x in s)
                + "; e.g. a 1×1 Conv2d or Linear on one path can match the sizes")
    return None


# ---- I/O --------------------------------------------------------------------------------

register(LayerSpec(
    "Input", "Input/Output", "A model input; its shape excludes the batch dimension.",
    params=(
        Param("shape", SHAPE, [16], "shape of one sample, without the batch", min=1,
              max=BIG, min_len=1, max_len=5),
        Param("dtype", CHOICE, "float32", "float32 for features, int64 for token ids",
              choices=("float32", "int64")),
    ),
    inputs=(), key_params=("shape",), dtypes=ANY_DTYPE, tags=frozenset({"input"}),
))
register(LayerSpec(
    "Output", "Input/Output", "A model output; several Outputs return a tuple.",
    inputs=("in",), outputs=(), dtypes=ANY_DTYPE, tags=frozenset({"output"}),
    apply=lambda call, xs, p: xs[0],
))

# ---- dense and convolution --------------------------------------------------------------

register(LayerSpec(
    "Linear", "Dense", "Fully connected layer: y = x·Wᵀ + b over the last dimension.",
    params=(size("out_features", 32, "number of output features"), bias()),
    build=lambda p, s: nn().Linear(s[0][-1], p["out_features"], bias=p["bias"]),
    ranks=(2, 3), rank_hint="insert Flatten before it", key_params=("out_features",),
    tags=frozenset({"affine"}),
))
for _dim, _rank in ((1, 3), (2, 4)):
    register(LayerSpec(
        f"Conv{_dim}d", "Convolution", f"{_dim}-D convolution over N×C×{'L' if _dim == 1 else 'H×W'}.",
        params=(size("out_channels", 16, "number of filters", hi=65536), KERNEL, STRIDE,
                PADDING, DILATION, GROUPS, bias()),
        build=(lambda d: lambda p, s: getattr(nn(), f"Conv{d}d")(s[0][1], p["out_channels"],
                                                                  **conv_kwargs(p)))(_dim),
        ranks=(_rank,), rank_hint="insert Reshape before it" if _dim == 2 else "",
        key_params=("out_channels", "kernel_size", "stride"), tags=frozenset({"affine"}),
    ))
register(LayerSpec(
    "ConvTranspose2d", "Convolution", "Transposed 2-D convolution (learned upsampling).",
    params=(size("out_channels", 16, "number of filters", hi=65536), KERNEL,
            size("stride", 2, "upsampling factor", hi=64), PADDING,
            size("output_padding", 0, "extra size on one side of the output", lo=0, hi=63),
            bias()),
    build=lambda p, s: nn().ConvTranspose2d(
        s[0][1], p["out_channels"], p["kernel_size"], stride=p["stride"],
        padding=p["padding"], output_padding=p["output_padding"], bias=p["bias"]),
    ranks=(4,), key_params=("out_channels", "kernel_size", "stride"), tags=frozenset({"affine"}),
))

# ---- pooling ----------------------------------------------------------------------------

for _name, _rank, _doc in (("MaxPool1d", 3, "Maximum over 1-D windows."),
                           ("MaxPool2d", 4, "Maximum over 2-D windows."),
                           ("AvgPool2d", 4, "Average over 2-D windows.")):
    register(LayerSpec(
        _name, "Pooling", _doc,
        params=(size("kernel_size", 2, "window size", hi=64), POOL_STRIDE,
                size("padding", 0, "zeros added on each side", lo=0, hi=32)),
        build=(lambda n: lambda p, s: getattr(nn(), n)(p["kernel_size"], stride=pool_stride(p),
                                                       padding=p["padding"]))(_name),
        ranks=(_rank,), key_params=("kernel_size",),
    ))
register(LayerSpec(
    "AdaptiveAvgPool2d", "Pooling", "Average to a fixed H×W (1 = global average pooling).",
    params=(size("output_size", 1, "output height and width", hi=1024),),
    build=lambda p, s: nn().AdaptiveAvgPool2d(p["output_size"]),
    ranks=(4,), key_params=("output_size",),
))

# ---- normalization and regularization ---------------------------------------------------

register(LayerSpec(
    "BatchNorm1d", "Normalization", "Normalizes each feature over the batch (N×C or N×C×L).",
    params=(EPS, MOMENTUM),
    build=lambda p, s: nn().BatchNorm1d(s[0][1], eps=p["eps"], momentum=p["momentum"]),
    ranks=(2, 3), tags=frozenset({"batchnorm"}),
))
register(LayerSpec(
    "BatchNorm2d", "Normalization", "Normalizes each channel over batch and space (N×C×H×W).",
    params=(EPS, MOMENTUM),
    build=lambda p, s: nn().BatchNorm2d(s[0][1], eps=p["eps"], momentum=p["momentum"]),
    ranks=(4,), tags=frozenset({"batchnorm"}),
))
register(LayerSpec(
    "LayerNorm", "Normalization", "Normalizes each sample over its last dimension.",
    params=(EPS, Param("elementwise_affine", BOOL, True, "learn a scale and shift")),
    build=lambda p, s: nn().LayerNorm(s[0][-1], eps=p["eps"],
                                      elementwise_affine=p["elementwise_affine"]),
))
register(LayerSpec(
    "Dropout", "Normalization", "Zeroes random elements while training (regularization).",
    params=(Param("p", FLOAT, 0.5, "probability of zeroing an element", min=0.0, max=0.99),),
    build=lambda p, s: nn().Dropout(p["p"]), key_params=("p",), tags=frozenset({"dropout"}),
))

# ---- shape --------------------------------------------------------------------------------

register(LayerSpec(
    "Flatten", "Shape", "Flattens everything but the batch: N×C×H×W -> N×(C·H·W).",
    build=lambda p, s: nn().Flatten(), dtypes=ANY_DTYPE, tags=frozenset({"passthrough"}),
))
register(LayerSpec(
    "Reshape", "Shape", "Reshapes each sample (batch kept); one entry may be -1.",
    params=(Param("shape", SHAPE, [-1], "new shape without the batch", min=1, max=BIG,
                  min_len=1, max_len=5, allow_minus_one=True),),
    apply=lambda call, xs, p: xs[0].flatten(1).unflatten(1, tuple(p["shape"])),
    key_params=("shape",), dtypes=ANY_DTYPE, check=check_reshape,
))
register(LayerSpec(
    "Permute", "Shape", "Reorders the non-batch dimensions, numbered as torch does (batch = 0).",
    params=(Param("dims", SHAPE, [2, 1], "new order of dimensions 1..rank-1", min=1, max=7,
                  min_len=1, max_len=7),),
    apply=lambda call, xs, p: xs[0].permute(0, *p["dims"]),
    key_params=("dims",), dtypes=ANY_DTYPE, check=check_permute,
))
register(LayerSpec(
    "Identity", "Shape", "Passes its input through unchanged.",
    build=lambda p, s: nn().Identity(), dtypes=ANY_DTYPE, tags=frozenset({"passthrough"}),
))

# ---- activations ----------------------------------------------------------------------------


def activation(name, doc, formula, params=(), build=None, apply=None, key=(), check=None):
    kwargs = {"check": check} if check else {}
    if apply is not None:
        kwargs["apply"] = apply
    register(LayerSpec(
        name, "Activation", doc, params=params,
        build=build or (lambda p, s: getattr(nn(), name)()), formula=formula,
        key_params=key, tags=frozenset({"activation"}), **kwargs,
    ))


def _sigmoid(x):
    return 1 / (1 + math.exp(-x)) if x > -60 else 0.0


activation("Sigmoid", "Squashes to (0, 1); saturates for large |x|, so gradients vanish.",
           lambda x, p: _sigmoid(x))
activation("Tanh", "Squashes to (-1, 1); zero-centred but saturates like sigmoid.",
           lambda x, p: math.tanh(x))
activation("ReLU", "max(0, x): cheap, does not saturate for x > 0; units can die.",
           lambda x, p: max(0.0, x))
activation("LeakyReLU", "x for x > 0, slope·x otherwise: keeps a gradient for x < 0.",
           lambda x, p: x if x > 0 else p["negative_slope"] * x,
           params=(Param("negative_slope", FLOAT, 0.01, "slope for x < 0", min=0.0, max=1.0),),
           build=lambda p, s: nn().LeakyReLU(p["negative_slope"]), key=("negative_slope",))
activation("ELU", "x for x > 0, α·(eˣ - 1) otherwise: smooth, negative outputs.",
           lambda x, p: x if x > 0 else p["alpha"] * (math.exp(x) - 1),
           params=(Param("alpha", FLOAT, 1.0, "value approached for very negative x",
                         min=0.0, max=100.0),),
           build=lambda p, s: nn().ELU(p["alpha"]))
activation("Softplus", "log(1 + e^(βx))/β: a smooth ReLU.",
           lambda x, p: math.log1p(math.exp(min(p["beta"] * x, 50))) / p["beta"],
           params=(Param("beta", FLOAT, 1.0, "sharpness", min=1e-3, max=100.0),),
           build=lambda p, s: nn().Softplus(beta=p["beta"]))
activation("SELU", "Scaled ELU that keeps activations normalized in deep MLPs.",
           lambda x, p: 1.0507 * (x if x > 0 else 1.67326 * (math.exp(x) - 1)))
activation("SiLU", "x·sigmoid(x), also called Swish.",
           lambda x, p: x * _sigmoid(x))
activation("GELU", "x·Φ(x): the smooth gate used in transformers.",
           lambda x, p: 0.5 * x * (1 + math.erf(x / math.sqrt(2))),
           params=(Param("approximate", CHOICE, "none", "tanh approximation",
                         choices=("none", "tanh")),),
           build=lambda p, s: nn().GELU(approximate=p["approximate"]))
activation("Sine", "sin(ω·x): periodic activation (SIREN).",
           lambda x, p: math.sin(p["omega"] * x),
           params=(Param("omega", FLOAT, 1.0, "frequency ω", min=1e-3, max=1000.0),),
           build=lambda p, s: None,
           apply=lambda call, xs, p: torch().sin(xs[0] if p["omega"] == 1.0
                                                 else xs[0] * p["omega"]))
SOFTMAX_DIM = Param("dim", INT, -1, "dimension that sums to one (torch numbering)",
                    min=-8, max=8)
activation("Softmax", "Turns scores into probabilities that sum to 1. Losses such as "
           "CrossEntropy expect the raw scores instead.",
           None, params=(SOFTMAX_DIM,), build=lambda p, s: nn().Softmax(dim=p["dim"]),
           check=check_softmax)
activation("LogSoftmax", "log of Softmax; pair with NLLLoss.",
           None, params=(SOFTMAX_DIM,), build=lambda p, s: nn().LogSoftmax(dim=p["dim"]),
           check=check_softmax)

# ---- sequence and text ----------------------------------------------------------------------

register(LayerSpec(
    "Embedding", "Sequence", "Looks up a learned vector for each token id (N×T -> N×T×D).",
    params=(size("num_embeddings", 1000, "vocabulary size"),
            size("embedding_dim", 32, "vector size")),
    build=lambda p, s: nn().Embedding(p["num_embeddings"], p["embedding_dim"]),
    ranks=(2,), rank_hint="feed it N×T token ids", dtypes=("int64",),
    key_params=("num_embeddings", "embedding_dim"),
))

RNN_OUTPUT = Param("output", CHOICE, "last", "last time step (N×H) or full sequence (N×T×H)",
                   choices=("last", "sequence"))


def recurrent_apply(call, xs, p):
    out = call(xs[0])[0]
    return out[:, -1] if p["output"] == "last" else out


def recurrent(name, doc, extra=()):
    def build(p, s):
        kw = {"nonlinearity": p["nonlinearity"]} if "nonlinearity" in p else {}
        return getattr(nn(), name)(s[0][-1], p["hidden_size"], num_layers=p["num_layers"],
                                   bidirectional=p["bidirectional"], batch_first=True, **kw)

    register(LayerSpec(
        name, "Sequence", doc,
        params=(size("hidden_size", 32, "state size"), size("num_layers", 1, "stacked layers",
                                                            hi=16),
                Param("bidirectional", BOOL, False, "also read the sequence backwards"),
                RNN_OUTPUT, *extra),
        build=build, apply=recurrent_apply, ranks=(3,),
        rank_hint="feed it N×T×D (time steps × features)",
        key_params=("hidden_size", "output"),
    ))


recurrent("RNN", "Elman recurrent layer over N×T×D.",
          (Param("nonlinearity", CHOICE, "tanh", "state activation", choices=("tanh", "relu")),))
recurrent("GRU", "Gated recurrent unit over N×T×D.")
recurrent("LSTM", "Long short-term memory over N×T×D.")

register(LayerSpec(
    "MultiheadAttention", "Sequence", "Self-attention over N×T×E (query = key = value).",
    params=(size("num_heads", 4, "attention heads (must divide the embedding size)", hi=256),
            DROPOUT, bias()),
    build=lambda p, s: nn().MultiheadAttention(s[0][-1], p["num_heads"], dropout=p["dropout"],
                                               bias=p["bias"], batch_first=True),
    apply=lambda call, xs, p: call(xs[0], xs[0], xs[0], need_weights=False)[0],
    ranks=(3,), rank_hint="feed it N×T×E", key_params=("num_heads",),
    check=check_heads("num_heads"),
))
register(LayerSpec(
    "TransformerEncoderLayer", "Sequence", "Self-attention + feed-forward block over N×T×E.",
    params=(size("nhead", 4, "attention heads (must divide the embedding size)", hi=256),
            size("dim_feedforward", 128, "hidden size of the feed-forward part"),
            Param("dropout", FLOAT, 0.1, "dropout probability", min=0.0, max=0.99),
            Param("activation", CHOICE, "relu", "feed-forward activation",
                  choices=("relu", "gelu")),
            Param("norm_first", BOOL, False, "pre-norm (more stable when deep)")),
    build=lambda p, s: nn().TransformerEncoderLayer(
        s[0][-1], p["nhead"], dim_feedforward=p["dim_feedforward"], dropout=p["dropout"],
        activation=p["activation"], norm_first=p["norm_first"], batch_first=True),
    ranks=(3,), rank_hint="feed it N×T×E", key_params=("nhead", "dim_feedforward"),
    check=check_heads("nhead"),
))

# ---- merges ------------------------------------------------------------------------------

for _name, _op, _doc in (("Add", operator.add, "Element-wise sum (residual connections)."),
                         ("Multiply", operator.mul, "Element-wise product (gating).")):
    register(LayerSpec(
        _name, "Merge", _doc + " All inputs must have the same shape.", params=(NUM_INPUTS,),
        inputs=merge_ports, apply=(lambda op: lambda call, xs, p: reduce(op, xs))(_op),
        check=check_same_shape, tags=frozenset({"merge"}),
    ))
register(LayerSpec(
    "Concat", "Merge", "Joins inputs along one dimension; the others must match.",
    params=(NUM_INPUTS, Param("dim", INT, 1, "dimension to join along (torch numbering, "
                              "1 = channels/features, -1 = last)", min=-8, max=8)),
    inputs=merge_ports, apply=lambda call, xs, p: torch().cat(list(xs), dim=p["dim"]),
    key_params=("dim",), check=check_concat, tags=frozenset({"merge"}),
))

# ---- more activations (torchvision models use them) -----------------------------------------

activation("ReLU6", "min(max(0, x), 6): a ReLU capped at 6 (MobileNet).",
           lambda x, p: min(max(0.0, x), 6.0))
activation("Hardsigmoid", "A piecewise-linear sigmoid: clamp(x/6 + 1/2, 0, 1).",
           lambda x, p: min(max(0.0, x / 6 + 0.5), 1.0))
activation("Hardswish", "x·hardsigmoid(x): a cheap Swish (MobileNetV3).",
           lambda x, p: x * min(max(0.0, x / 6 + 0.5), 1.0))


def check_mean(p, s):
    rank = len(s[0])
    for d in p["dims"]:
        if not _dim_ok(d, rank):
            return f"dim {d} does not exist in input {_fmt(s[0])} (rank {rank})"
        if d % rank == 0:
            return "dim 0 is the batch; averaging across samples mixes them"
    if len({d % rank for d in p["dims"]}) != len(p["dims"]):
        return f"dims {p['dims']} name the same dimension twice"
    return None


register(LayerSpec(
    "Mean", "Shape", "Averages over the given dimensions (torch numbering, batch = 0); "
    "mean over 2 and 3 of N×C×H×W is global average pooling.",
    params=(Param("dims", SHAPE, [-1], "dimensions to average over", min=-8, max=8,
                  min_len=1, max_len=7),
            Param("keepdim", BOOL, False, "keep the averaged dimensions with size 1")),
    apply=lambda call, xs, p: xs[0].mean(dim=tuple(p["dims"]), keepdim=p["keepdim"]),
    key_params=("dims",), check=check_mean,
))

# ---- generic nodes (Parameter, Module, Function) live in generic_layers.py, registered
# after these by the package's __init__ ------------------------------------------------------

from .templates import decode_template  # noqa: E402,F401  (export/pysource reads it here)
