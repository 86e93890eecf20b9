"""A block with several outputs (a U-Net's down step: the pooled features and the skip):
ports, shapes, compile, files, summary, model.py and ONNX."""
import importlib.util

import pytest
import torch

from netbuilder.api import compile, summary, validate
from netbuilder.core.analysis import errors
from netbuilder.core.graph import Graph, GraphError
from netbuilder.core.project import Project, ProjectError, load_project, parse_project
from netbuilder.core.shapes import ShapeInference
from netbuilder.export import export_project, save_weights


def unet(repeat=1) -> Project:
    g = Graph()
    d = g.blocks.define("Down")
    conv = d.add_node("Conv2d", "conv", {"out_channels": 6, "padding": 1})
    relu = d.add_node("ReLU", "relu")
    pool = d.add_node("MaxPool2d", "pool", {"kernel_size": 2})
    d.chain(d.add_node("BlockInput", "in"), conv, relu, pool, d.add_node("BlockOutput", "down"))
    d.connect(relu.id, d.add_node("BlockOutput", "skip").id)
    x = g.add_node("Input", "x", {"shape": [3, 8, 8]})
    step = g.add_node("Block", "down1", {"block": "Down", "repeat": repeat})
    g.connect(x.id, step.id)
    up = g.add_node("ConvTranspose2d", "up", {"out_channels": 6, "kernel_size": 2,
                                              "stride": 2})
    cat = g.add_node("Concat", "cat")
    head = g.add_node("Conv2d", "head", {"out_channels": 2, "kernel_size": 1})
    g.connect(step.id, up.id, "down")
    g.connect(up.id, cat.id, dst_port="in1")
    g.connect(step.id, cat.id, "skip", "in2")
    g.chain(cat, head, g.add_node("Output", "y"))
    return Project(graph=g, name="unet")


def unet_classifier() -> Project:
    """unet() with a Flatten and a Linear of 2 classes at the end (one class id a target)."""
    p = unet()
    g = p.graph
    g.remove_node(g.by_name("y").id)
    g.chain(g.by_name("head"), g.add_node("Flatten", "flat"),
            g.add_node("Linear", "fc", {"out_features": 2}), g.add_node("Output", "y"))
    return p


def test_ports_shapes_and_compiled_outputs():
    p = unet()
    g = p.graph
    step = g.by_name("down1")
    assert step.output_ports() == ("down", "skip")
    with pytest.raises(GraphError, match="no output port 'out'"):
        g.connect(step.id, g.by_name("head").id)
    si = ShapeInference(g)
    infos = si.update()
    assert [port for port, _ in infos[step.id].ports] == ["down", "skip"]
    assert infos[step.id].output.shape[1:] == (6, 4, 4)
    assert dict(infos[step.id].ports)["skip"].shape[1:] == (6, 8, 8)
    assert si.input_infos(g.by_name("cat").id)[1].shape[1:] == (6, 8, 8)
    assert infos[g.by_name("head").id].output.shape[1:] == (2, 8, 8)
    si.close()
    assert not errors(validate(p))
    model = compile(p, seed=0).eval()
    assert {"down1.conv.weight", "up.weight", "head.weight"} <= set(model.state_dict())
    x = torch.randn(2, 3, 8, 8)
    m = model.down1
    with torch.no_grad():
        down, skip = m(x)
        ref = model.head(torch.cat([model.up(down), skip], 1))
        torch.testing.assert_close(model(x), ref)
    assert torch.equal(skip, torch.relu(m.conv(x)))


def test_saved_file_summary_and_exports(tmp_path):
    p = unet()
    (tmp_path / "unet.json").write_text(p.to_json())
    loaded = load_project(tmp_path / "unet.json")
    assert loaded.graph.signature() == p.graph.signature()
    rows = summary(loaded.graph, depth=None)
    assert [r.name for r in rows if r.name.startswith("down1")] == \
        ["down1 › conv", "down1 › relu", "down1 › pool"]
    top = {r.name: r for r in summary(loaded.graph)}
    assert "N×6×4×4" in top["down1"].output and "N×6×8×8" in top["down1"].output
    model = compile(loaded, seed=0).eval()
    save_weights(model, tmp_path / "w.safetensors")
    report = export_project(loaded, "python", tmp_path / "src",
                            weights=tmp_path / "w.safetensors", batch_sizes=(1, 2))
    assert report.max_diff <= 1e-5
    source = (tmp_path / "src" / "model.py").read_text()
    assert "class Down(nn.Module)" in source and "return pool, relu" in source
    spec = importlib.util.spec_from_file_location("exported_unet", tmp_path / "src" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exported = mod.build(weights=None).eval()
    exported.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x))
    onnx = export_project(loaded, "onnx", tmp_path / "m.onnx",
                          weights=tmp_path / "w.safetensors", batch_sizes=(1, 2))
    assert onnx.max_diff <= 1e-4


def test_refusals_name_the_problem():
    # a repeat chains output to input: one output only
    p = unet(repeat=2)
    msgs = [e.message for e in errors(validate(p))]
    assert any(m.startswith("down1: repeat 2 feeds") and "block 'Down' needs exactly one "
               "BlockInput and one BlockOutput, but it has 1 input (in) and 2 outputs "
               "(down, skip); set repeat to 1" in m for m in msgs), msgs
    # a wire from a port the block does not have is refused on loading, naming the ports
    data = unet().to_json().replace('"src_port": "skip"', '"src_port": "bypass"')
    with pytest.raises(ProjectError, match=r"no output port 'bypass' \(it has: down, skip\)"):
        parse_project(data, "bad.json")
    # two outputs with one name
    g = unet().graph
    d = g.blocks["Down"]
    d.rename(d.by_name("skip").id, "down")
    assert any("two output ports share the name 'down'" in e.message
               for e in errors(validate(g)))


class DownStep(torch.nn.Module):
    """Returns the pooled features and the skip, as a U-Net's encoder step does."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(2)

    def forward(self, x):
        f = torch.relu(self.conv(x))
        return self.pool(f), f


class TinyUNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 4, 1)
        self.down1, self.down2 = DownStep(), DownStep()
        self.up = torch.nn.ConvTranspose2d(4, 4, 4, stride=4)
        self.head = torch.nn.Conv2d(8, 2, 1)

    def forward(self, x):
        y, skip = self.down1(self.stem(x))
        y, _ = self.down2(y)
        return self.head(torch.cat([self.up(y), skip], 1))


def test_import_keeps_a_submodule_returning_a_tuple_as_a_two_output_block(tmp_path):
    from netbuilder.importers import import_model

    original = TinyUNet().eval()
    result = import_model(original, [[3, 8, 8]], name="unet")
    g = result.project.graph
    down1, down2 = g.by_name("down1"), g.by_name("down2")
    assert down1.type == "Block" and down1.params["block"] == down2.params["block"]
    assert down1.output_ports() == ("out1", "out2")
    assert {(e.src_port, g.nodes[e.dst].name) for e in g.out_edges(down1.id)} == \
        {("out1", "down2"), ("out2", "cat")}
    assert not g.out_edges(down2.id) or \
        {e.src_port for e in g.out_edges(down2.id)} == {"out1"}
    project = parse_project(result.project.to_json(), "unet")
    assert not errors(validate(project))
    model = compile(project).eval()
    model.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), original(x), atol=1e-5, rtol=0)


def test_group_a_selection_with_two_outputs_and_ungroup_restores_it():
    from netbuilder.core.grouping import group, ungroup

    p = unet()
    ungroup(p.graph, p.graph.by_name("down1").id)  # a flat graph: conv, relu, pool, up, …
    g = p.graph
    before, ref = g.signature(), compile(g, seed=0).eval()
    names = ["conv", "relu", "pool"]  # the pool goes on to `up`, the relu to `cat`
    assert all(g.by_name(n) for n in names)
    b = group(g, [g.by_name(n).id for n in names], "Step", "down1")
    assert b.output_ports() == ("out1", "out2")
    assert {(e.src_port, g.nodes[e.dst].name) for e in g.out_edges(b.id)} == \
        {("out1", "up"), ("out2", "cat")}
    model = compile(g, seed=0).eval()
    model.load_state_dict({("down1." + k if k.split(".")[0] in names else k): v
                           for k, v in ref.state_dict().items()}, strict=True)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))
    ungroup(g, b.id)
    assert g.signature() == before and "Step" not in g.blocks


def test_group_refuses_a_selection_a_value_leaves_and_reenters():
    from netbuilder.core.grouping import group, ungroup

    p = unet()
    ungroup(p.graph, p.graph.by_name("down1").id)
    g = p.graph
    before = g.signature()
    with pytest.raises(GraphError, match=r"2 values leave the selection \(from conv, pool\) "
                                         r"and comes back in through relu"):
        group(g, [g.by_name("conv").id, g.by_name("pool").id])
    assert g.signature() == before
