"""Classic blocks of the course, built as block definitions with the public Graph API.

    name = add_classic(project.graph.blocks, "bottleneck", channels=64, stride=2)
    project.graph.add_node("Block", "layer2", {"block": name, "repeat": 1})

Each builder fills an empty definition Graph; `add_classic` picks a free name (the kind's
title, then "Title 2", ...) and defines the helpers a block needs (a dense block repeats a
"Dense Layer" definition). `CLASSICS` lists them for the editor's palette.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .blocks import BLOCK, PORT_IN, PORT_OUT

NO_BIAS = {"bias": False}


@dataclass(frozen=True)
class Classic:
    title: str
    doc: str
    build: Callable  # (library, graph, **options) -> None
    options: dict  # option -> default


def _ports(g, rank: int = 0):
    return (g.add_node(PORT_IN, "in", {"rank": rank}, (0.0, 0.0)),
            g.add_node(PORT_OUT, "out", pos=(1000.0, 0.0)))


def _conv(g, name, channels, kernel=3, stride=1, padding=None):
    pad = kernel // 2 if padding is None else padding
    return g.add_node("Conv2d", name, {"out_channels": channels, "kernel_size": kernel,
                                       "stride": stride, "padding": pad, **NO_BIAS})


def vgg(lib, g, convs=2, channels=64):
    i, o = _ports(g, 4)
    chain = [i]
    for k in range(1, convs + 1):
        chain += [_conv(g, f"conv{k}", channels), g.add_node("ReLU", f"relu{k}")]
    chain += [g.add_node("MaxPool2d", "pool", {"kernel_size": 2}), o]
    g.chain(*chain)


def _residual_tail(g, i, o, last, channels_out, stride, downsample):
    """last + shortcut(i) -> ReLU -> out; the shortcut is a 1x1 conv + BN when needed."""
    add = g.add_node("Add", "add")
    g.connect(last.id, add.id, dst_port="in1")
    if downsample:
        ds = _conv(g, "downsample_conv", channels_out, kernel=1, stride=stride, padding=0)
        bn = g.add_node("BatchNorm2d", "downsample_bn")
        g.chain(i, ds, bn)
        g.connect(bn.id, add.id, dst_port="in2")
    else:
        g.connect(i.id, add.id, dst_port="in2")
    g.chain(add, g.add_node("ReLU", "relu_out"), o)


def basic(lib, g, channels=64, stride=1, downsample=False):
    i, o = _ports(g, 4)
    nodes = g.chain(i, _conv(g, "conv1", channels, stride=stride), g.add_node("BatchNorm2d", "bn1"),
                    g.add_node("ReLU", "relu"), _conv(g, "conv2", channels),
                    g.add_node("BatchNorm2d", "bn2"))
    _residual_tail(g, i, o, nodes[-1], channels, stride, downsample or stride != 1)


def bottleneck(lib, g, channels=64, stride=1, downsample=False, expansion=4):
    i, o = _ports(g, 4)
    nodes = g.chain(i, _conv(g, "conv1", channels, kernel=1, padding=0),
                    g.add_node("BatchNorm2d", "bn1"), g.add_node("ReLU", "relu1"),
                    _conv(g, "conv2", channels, stride=stride), g.add_node("BatchNorm2d", "bn2"),
                    g.add_node("ReLU", "relu2"),
                    _conv(g, "conv3", channels * expansion, kernel=1, padding=0),
                    g.add_node("BatchNorm2d", "bn3"))
    _residual_tail(g, i, o, nodes[-1], channels * expansion, stride,
                   downsample or stride != 1)


def dense_layer(lib, g, growth=12):
    """BN-ReLU-conv producing `growth` new channels, concatenated to its input."""
    i, o = _ports(g, 4)
    nodes = g.chain(i, g.add_node("BatchNorm2d", "norm"), g.add_node("ReLU", "relu"),
                    _conv(g, "conv", growth))
    cat = g.add_node("Concat", "concat", {"dim": 1})
    g.connect(i.id, cat.id, dst_port="in1")
    g.connect(nodes[-1].id, cat.id, dst_port="in2")
    g.connect(cat.id, o.id)


def dense(lib, g, layers=4, growth=12):
    """`layers` dense layers: one Dense Layer definition repeated (each copy sees more
    channels, so the copies' weights differ in shape, as in DenseNet)."""
    name = add_classic(lib, "dense_layer", growth=growth)
    i, o = _ports(g, 4)
    g.chain(i, g.add_node(BLOCK, "layers", {"block": name, "repeat": layers}), o)


def transition(lib, g, channels=32):
    i, o = _ports(g, 4)
    g.chain(i, g.add_node("BatchNorm2d", "norm"), g.add_node("ReLU", "relu"),
            _conv(g, "conv", channels, kernel=1, padding=0),
            g.add_node("AvgPool2d", "pool", {"kernel_size": 2}), o)


def inception(lib, g, c1=16, c3_reduce=16, c3=24, c5_reduce=4, c5=8, pool_proj=8):
    """Four parallel branches (1x1; 1x1-3x3; 1x1-5x5; 3x3 max-pool-1x1), concatenated."""
    i, o = _ports(g, 4)
    cat = g.add_node("Concat", "concat", {"num_inputs": 4, "dim": 1})
    branches = [
        [_conv(g, "b1_conv", c1, 1, padding=0)],
        [_conv(g, "b2_reduce", c3_reduce, 1, padding=0), g.add_node("ReLU", "b2_relu"),
         _conv(g, "b2_conv", c3, 3)],
        [_conv(g, "b3_reduce", c5_reduce, 1, padding=0), g.add_node("ReLU", "b3_relu"),
         _conv(g, "b3_conv", c5, 5)],
        [g.add_node("MaxPool2d", "b4_pool", {"kernel_size": 3, "stride": 1, "padding": 1}),
         _conv(g, "b4_proj", pool_proj, 1, padding=0)],
    ]
    for k, branch in enumerate(branches, 1):
        act = g.add_node("ReLU", f"b{k}_out")
        g.chain(i, *branch, act)
        g.connect(act.id, cat.id, dst_port=f"in{k}")
    g.connect(cat.id, o.id)


def transformer(lib, g, dim=64, heads=4, mlp=128, dropout=0.0):
    """Pre-norm encoder layer: x + attn(norm(x)), then x + mlp(norm(x))."""
    i, o = _ports(g, 3)
    attn = g.chain(i, g.add_node("LayerNorm", "norm1"),
                   g.add_node("MultiheadAttention", "attn", {"num_heads": heads,
                                                             "dropout": dropout}))
    add1 = g.add_node("Add", "add1")
    g.connect(attn[-1].id, add1.id, dst_port="in1")
    g.connect(i.id, add1.id, dst_port="in2")
    ff = g.chain(add1, g.add_node("LayerNorm", "norm2"),
                 g.add_node("Linear", "fc1", {"out_features": mlp}), g.add_node("GELU", "gelu"),
                 g.add_node("Linear", "fc2", {"out_features": dim}))
    add2 = g.add_node("Add", "add2")
    g.connect(ff[-1].id, add2.id, dst_port="in1")
    g.connect(add1.id, add2.id, dst_port="in2")
    g.connect(add2.id, o.id)


def lstm(lib, g, hidden=32, layers=2, dropout=0.0):
    """`layers` LSTMs, each reading the whole sequence of the one before (N×T×H out)."""
    i, o = _ports(g, 3)
    chain = [i]
    for k in range(1, layers + 1):
        chain.append(g.add_node("LSTM", f"lstm{k}", {"hidden_size": hidden,
                                                     "output": "sequence"}))
        if dropout and k < layers:
            chain.append(g.add_node("Dropout", f"dropout{k}", {"p": dropout}))
    g.chain(*chain, o)


CLASSICS: dict[str, Classic] = {
    "vgg": Classic("VGG Block", "convolutions (3x3, ReLU) then 2x2 max-pooling", vgg,
                   {"convs": 2, "channels": 64}),
    "basic": Classic("Basic Block", "ResNet basic block: two 3x3 convs + skip", basic,
                     {"channels": 64, "stride": 1, "downsample": False}),
    "bottleneck": Classic("Bottleneck", "ResNet bottleneck: 1x1, 3x3, 1x1 (x4) + skip",
                          bottleneck, {"channels": 64, "stride": 1, "downsample": False,
                                       "expansion": 4}),
    "dense_layer": Classic("Dense Layer", "DenseNet layer: BN-ReLU-conv, concatenated",
                           dense_layer, {"growth": 12}),
    "dense": Classic("Dense Block", "DenseNet block: dense layers, each adding channels",
                     dense, {"layers": 4, "growth": 12}),
    "transition": Classic("Transition", "DenseNet transition: BN-ReLU-1x1 conv-avg-pool",
                          transition, {"channels": 32}),
    "inception": Classic("Inception Block", "four parallel branches concatenated",
                         inception, {"c1": 16, "c3_reduce": 16, "c3": 24, "c5_reduce": 4,
                                     "c5": 8, "pool_proj": 8}),
    "transformer": Classic("Encoder Layer", "pre-norm transformer encoder: attention + MLP",
                           transformer, {"dim": 64, "heads": 4, "mlp": 128, "dropout": 0.0}),
    "lstm": Classic("Stacked LSTM", "LSTM layers reading each other's sequences", lstm,
                    {"hidden": 32, "layers": 2, "dropout": 0.0}),
}


def add_classic(library, kind: str, name: str | None = None, **options) -> str:
    """Define a classic block in `library`; returns the definition's name."""
    try:
        classic = CLASSICS[kind]
    except KeyError:
        raise ValueError(f"unknown classic block {kind!r} (known: "
                         f"{', '.join(CLASSICS)})") from None
    unknown = set(options) - set(classic.options)
    if unknown:
        raise ValueError(f"{classic.title} has no option {sorted(unknown)[0]!r} (known: "
                         f"{', '.join(classic.options)})")
    base = name or classic.title
    name, k = base, 2
    while name in library:
        name, k = f"{base} {k}", k + 1
    graph = library.define(name)
    classic.build(library, graph, **{**classic.options, **options})
    _layout(graph)
    return name


def _layout(graph) -> None:
    from .layout import apply_layout

    apply_layout(graph)
