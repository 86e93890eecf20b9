"""torchvision models (random weights: nothing can be downloaded here) import into
editable graphs that compute the same outputs, and export to every format verified."""
import pytest
import torch

from netbuilder.api import compile, validate
from netbuilder.core.project import parse_project
from netbuilder.export import export_project, load_weights, save_weights
from netbuilder.importers import import_model, load_source

# (model, input shape): small images where the model allows it; ViT-B/16 needs 224x224.
MODELS = [("resnet18", [3, 64, 64]), ("mobilenet_v3_small", [3, 64, 64]),
          ("vgg11", [3, 64, 64]), ("vit_b_16", [3, 224, 224])]
FORMATS = {"torchscript": "m.pt", "onnx": "m.onnx", "pt2": "m.pt2",
           "safetensors": "m.safetensors", "python": "src"}


def imported(name, shape):
    source = load_source(f"torchvision:{name}")
    torch.manual_seed(0)
    with torch.no_grad():  # zero-initialised heads (ViT) would hide wiring mistakes
        for p in source.model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    result = import_model(source.model, [shape], factory=source.factory, name=name)
    return source.model, result


@pytest.mark.parametrize("name,shape", MODELS, ids=[m[0] for m in MODELS])
def test_import_compile_export(name, shape, tmp_path):
    original, result = imported(name, shape)
    assert result.max_diff <= 1e-5
    # the project round-trips through its file and compiles to the same function
    project = parse_project(result.project.to_json(), name)
    assert [p for p in validate(project) if p.severity == "error"] == []
    save_weights(result.model, tmp_path / "w.safetensors")
    model = compile(project).eval()
    load_weights(model, tmp_path / "w.safetensors")
    x = torch.randn(1, *shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), atol=1e-5, rtol=0)
    for fmt, filename in FORMATS.items():
        report = export_project(project, fmt, tmp_path / filename,
                                weights=tmp_path / "w.safetensors", batch_sizes=(1, 2))
        assert report.max_diff <= 1e-3, (fmt, report.max_diff)


def every_node(graph):
    """The nodes of the graph and of every block definition it uses."""
    yield from graph.nodes.values()
    for name in graph.blocks.used():
        yield from graph.blocks[name].nodes.values()


def inside(graph, *path):
    """The node at a module path (`features`, `0`, `0`) through block instances."""
    g = graph
    for name in path[:-1]:
        g = graph.blocks[g.by_name(name).params["block"]]
    return g.by_name(path[-1])


def test_known_layers_map_to_registry_types_with_their_parameters():
    _, result = imported("mobilenet_v3_small", [3, 64, 64])
    g = result.project.graph
    types = {n.type for n in every_node(g)}
    assert {"Conv2d", "BatchNorm2d", "Hardswish", "Hardsigmoid", "ReLU", "Add",
            "AdaptiveAvgPool2d", "Flatten", "Linear", "Dropout"} <= types
    first = inside(g, "features", "0", "0")
    assert first.params | {} == {"out_channels": 16, "kernel_size": 3, "stride": 2,
                                 "padding": 1, "dilation": 1, "groups": 1, "bias": False}
    assert inside(g, "features", "0", "1").params["eps"] == 0.001
    # squeeze-excitation scales N×C×H×W by N×C×1×1: a broadcast, kept as a Function
    scale = [n for n in every_node(g) if n.type == "Function"]
    assert scale and all(n.params["function"] == "operator:mul" for n in scale)


def test_vit_shape_arithmetic_becomes_layers():
    _, result = imported("vit_b_16", [3, 224, 224])
    g = result.project.graph
    assert g.by_name("reshape").type == "Reshape"
    assert g.by_name("reshape").params["shape"] == [768, 196]
    assert g.by_name("permute").params["dims"] == [2, 1]
    assert g.by_name("class_token").type == "Parameter"
    assert g.by_name("class_token").params["shape"] == [1, 1, 768]
    expand = g.by_name("expand")  # class token repeated for each sample in the batch
    assert expand.params["function"] == "torch:Tensor.expand"
    assert '{"$batch": 1}' in expand.params["args"]
    # the 12 encoder layers (encoder_layer_0 ...) share one definition; its attention is
    # a registry layer
    layers = g.blocks[inside(g, "encoder", "layers").params["block"]]
    uses = {n.params["block"] for n in layers.nodes.values() if n.type == "Block"}
    assert len(uses) == 1 and len(layers.nodes_of_type("Block")) == 12
    assert g.blocks[uses.pop()].by_name("self_attention").type == "MultiheadAttention"


def test_layout_is_layered_left_to_right():
    """Wires run rightwards, or down to the next band where a long network wraps."""
    _, result = imported("resnet18", [3, 64, 64])
    g = result.project.graph
    pos = {n.id: n.pos for n in g.nodes.values()}
    assert all(pos[e.src][0] < pos[e.dst][0] or pos[e.dst][1] > pos[e.src][1]
               for e in g.edges)
    assert len({p for p in pos.values()}) == len(pos)  # no two nodes on top of each other
