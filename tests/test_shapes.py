import pytest

from netbuilder.core import shapes
from netbuilder.core.graph import Graph
from netbuilder.core.shapes import ShapeInference


def cnn():
    g = Graph()
    nodes = g.chain(g.add_node("Input", params={"shape": [1, 8, 8]}),
                    ("Conv2d", {"out_channels": 16, "padding": 1}), "BatchNorm2d", "ReLU",
                    "MaxPool2d", "Flatten", ("Linear", {"out_features": 10}), "Output")
    return g, nodes


def shape_of(si, node):
    return si.update()[node.id].output.shape


def test_shapes_params_and_flops_come_from_the_real_modules():
    g, n = cnn()
    si = ShapeInference(g)
    infos = si.update()
    assert [infos[x.id].output.shape for x in n] == [
        (None, 1, 8, 8), (None, 16, 8, 8), (None, 16, 8, 8), (None, 16, 8, 8),
        (None, 16, 4, 4), (None, 256), (None, 10), (None, 10)]
    assert infos[n[1].id].params == 16 * 9 + 16
    assert infos[n[6].id].params == 256 * 10 + 10
    # conv: 2 * (out pixels 8*8*16) * (9 taps), per sample; linear: 2*256*10
    assert infos[n[1].id].flops == 2 * 8 * 8 * 16 * 9
    assert infos[n[6].id].flops == 2 * 256 * 10


def test_an_edit_recomputes_only_downstream():
    g, n = cnn()
    si = ShapeInference(g)
    si.update()
    before = shapes.stats["evaluations"]
    g.set_param(n[6].id, "out_features", 5)  # Linear near the end
    assert shape_of(si, n[-1]) == (None, 5)
    assert si.recomputed == 2  # the Linear and the Output
    g.set_param(n[1].id, "out_channels", 8)  # first conv: everything after it
    assert shape_of(si, n[5]) == (None, 128)
    assert si.recomputed == 7
    assert shapes.stats["evaluations"] - before <= 2 + 7
    # Something upstream-irrelevant: renaming recomputes nothing
    g.rename(n[3].id, "act")
    si.update()
    assert not si.dirty


def test_linear_after_conv_explains_the_fix():
    g, n = cnn()
    g.remove_node(n[5].id)  # drop Flatten
    g.connect(n[4].id, n[6].id)
    info = ShapeInference(g).update()[n[6].id]
    assert info.output is None
    assert "N×16×4×4" in info.error and "insert Flatten" in info.error


def test_merge_of_different_shapes_names_both():
    g = Graph()
    a = g.add_node("Input", params={"shape": [16, 8, 8]})
    b = g.add_node("Conv2d", params={"out_channels": 32, "padding": 1})
    add = g.add_node("Add")
    g.connect(a.id, b.id)
    g.connect(b.id, add.id)
    g.connect(a.id, add.id)
    err = ShapeInference(g).update()[add.id].error
    assert "N×32×8×8" in err and "N×16×8×8" in err


@pytest.mark.parametrize("layer,params,in_shape,expected", [
    ("Concat", {"dim": 1}, [4, 5], None),
    ("Conv1d", {"out_channels": 6, "kernel_size": 3}, [4, 10], (None, 6, 8)),
    ("ConvTranspose2d", {"out_channels": 3, "kernel_size": 2, "stride": 2}, [4, 5, 5],
     (None, 3, 10, 10)),
    ("MaxPool1d", {}, [4, 10], (None, 4, 5)),
    ("AvgPool2d", {}, [3, 6, 6], (None, 3, 3, 3)),
    ("AdaptiveAvgPool2d", {"output_size": 1}, [3, 6, 6], (None, 3, 1, 1)),
    ("BatchNorm1d", {}, [7], (None, 7)),
    ("LayerNorm", {}, [5, 7], (None, 5, 7)),
    ("Reshape", {"shape": [2, -1]}, [12], (None, 2, 6)),
    ("Permute", {"dims": [2, 1]}, [3, 5], (None, 5, 3)),
    ("GRU", {"hidden_size": 9, "output": "sequence"}, [5, 3], (None, 5, 9)),
    ("LSTM", {"hidden_size": 9, "bidirectional": True}, [5, 3], (None, 18)),
    ("RNN", {"hidden_size": 4}, [5, 3], (None, 4)),
    ("MultiheadAttention", {"num_heads": 2}, [5, 8], (None, 5, 8)),
    ("TransformerEncoderLayer", {"nhead": 2}, [5, 8], (None, 5, 8)),
    ("Softmax", {}, [5], (None, 5)),
    ("Sine", {"omega": 30.0}, [5], (None, 5)),
])
def test_layer_shapes(layer, params, in_shape, expected):
    g = Graph()
    a = g.add_node("Input", params={"shape": in_shape})
    x = g.add_node(layer, params=params)
    g.connect(a.id, x.id)
    if layer == "Concat":
        g.connect(a.id, x.id)
        expected = (None, 8, 5)
    info = ShapeInference(g).update()[x.id]
    assert info.error is None
    assert info.output.shape == expected


@pytest.mark.parametrize("layer,params,in_shape,dtype,fragment", [
    ("Reshape", {"shape": [5, -1]}, [12], "float32", "not divisible"),
    ("Permute", {"dims": [1, 1]}, [3, 5], "float32", "each of 1, 2 once"),
    ("MultiheadAttention", {"num_heads": 3}, [5, 8], "float32", "not divisible"),
    ("Conv2d", {"kernel_size": 5}, [1, 3, 3], "float32", "Kernel size can't be greater"),
    ("Conv2d", {}, [64], "float32", "insert Reshape"),
    ("Linear", {}, [12], "int64", "insert an Embedding"),
    ("Embedding", {}, [12], "float32", "int64"),
    ("Softmax", {"dim": 3}, [5], "float32", "does not exist"),
])
def test_bad_inputs_get_human_messages(layer, params, in_shape, dtype, fragment):
    g = Graph()
    a = g.add_node("Input", params={"shape": in_shape, "dtype": dtype})
    x = g.add_node(layer, params=params)
    g.connect(a.id, x.id)
    info = ShapeInference(g).update()[x.id]
    assert info.output is None and fragment in info.error


def test_invalid_params_block_inference_without_building():
    g = Graph()
    a = g.add_node("Input", params={"shape": [4]})
    x = g.add_node("Linear", params={"out_features": 10**12})
    g.connect(a.id, x.id)
    info = ShapeInference(g).update()[x.id]
    assert info.blocked and info.output is None
