import pytest
import torch
import torch.nn as nn

from netbuilder.core.compiler import CompileError, compile_graph
from netbuilder.core.graph import Graph


def branchy_graph():
    """image -> stem conv -> [branch a: conv, relu] + [branch b: 1x1 conv] -> add
    -> concat(add, stem) -> pool -> flatten -> head, plus a second output (stem pooled)."""
    g = Graph()
    inp = g.add_node("Input", "image", {"shape": [3, 8, 8]})
    stem = g.add_node("Conv2d", "stem", {"out_channels": 8, "padding": 1})
    a1 = g.add_node("Conv2d", "branch a", {"out_channels": 8, "padding": 1})
    a2 = g.add_node("ReLU", "branch a act")
    b1 = g.add_node("Conv2d", "branch b", {"out_channels": 8, "kernel_size": 1})
    add = g.add_node("Add", "merge")
    cat = g.add_node("Concat", "join", {"dim": 1})
    pool = g.add_node("AdaptiveAvgPool2d", "pool")
    flat = g.add_node("Flatten", "flat")
    head = g.add_node("Linear", "head", {"out_features": 5})
    out = g.add_node("Output", "logits")
    g.connect(inp.id, stem.id)
    g.chain(stem, a1, a2)
    g.connect(stem.id, b1.id)
    g.connect(a2.id, add.id, dst_port="in1")
    g.connect(b1.id, add.id, dst_port="in2")
    g.connect(add.id, cat.id, dst_port="in1")
    g.connect(stem.id, cat.id, dst_port="in2")
    g.chain(cat, pool, flat, head, out)
    return g


class HandWritten(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.branch_a = nn.Conv2d(8, 8, 3, padding=1)
        self.branch_b = nn.Conv2d(8, 8, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(16, 5)

    def forward(self, image):
        s = self.stem(image)
        x = torch.relu(self.branch_a(s)) + self.branch_b(s)
        x = torch.cat([x, s], dim=1)
        return self.head(torch.flatten(self.pool(x), 1))


def test_dag_matches_hand_written_module_outputs_and_gradients():
    gm = compile_graph(branchy_graph(), seed=0)
    ref = HandWritten()
    missing, unexpected = ref.load_state_dict(gm.state_dict(), strict=False)
    assert missing == [] and unexpected == []
    x = torch.randn(4, 3, 8, 8)
    y1, y2 = gm(x), ref(x)
    assert torch.allclose(y1, y2, atol=1e-6)
    y1.square().sum().backward()
    y2.square().sum().backward()
    grads = dict(ref.named_parameters())
    for name, p in gm.named_parameters():
        assert torch.allclose(p.grad, grads[name].grad, atol=1e-5), name


def test_code_is_readable_and_named_after_nodes():
    gm = compile_graph(branchy_graph())
    code = gm.code
    assert "def forward(self, image):" in code
    for name in ("self.stem(", "self.branch_a(", "self.branch_b(", "self.head("):
        assert name in code
    assert "torch.cat(" in code
    assert isinstance(gm, torch.fx.GraphModule)


def test_several_inputs_and_outputs():
    g = Graph()
    a = g.add_node("Input", "a", {"shape": [4]})
    b = g.add_node("Input", "b", {"shape": [4]})
    m = g.add_node("Multiply")
    g.connect(a.id, m.id)
    g.connect(b.id, m.id)
    g.chain(m, g.add_node("Output", "product"))
    g.chain(b, g.add_node("Linear", "proj", {"out_features": 2}), g.add_node("Output", "p"))
    gm = compile_graph(g)
    x, y = torch.randn(3, 4), torch.randn(3, 4)
    prod, proj = gm(x, y)
    assert torch.equal(prod, x * y) and proj.shape == (3, 2)
    assert gm.input_names == ["a", "b"]


def test_invalid_graph_refuses_to_compile_with_reasons():
    g = Graph()
    g.chain(g.add_node("Input", params={"shape": [2, 4, 4]}), "Linear", "Output")
    with pytest.raises(CompileError, match="insert Flatten"):
        compile_graph(g)


def test_sequence_models_compile_and_run():
    g = Graph()
    g.chain(g.add_node("Input", "tokens", {"shape": [7], "dtype": "int64"}),
            ("Embedding", {"num_embeddings": 50, "embedding_dim": 8}),
            ("TransformerEncoderLayer", {"nhead": 2}), ("MultiheadAttention", {"num_heads": 2}),
            ("LSTM", {"hidden_size": 6}), ("Linear", {"out_features": 3}), "Output")
    gm = compile_graph(g)
    assert gm(torch.randint(0, 50, (2, 7))).shape == (2, 3)
