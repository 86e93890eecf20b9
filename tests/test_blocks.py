"""Blocks at the API level: group/ungroup, edits inside a definition reaching every
instance, inverse operations, repeat, nesting, recursion, files, compiled keys, summary."""
from pathlib import Path

import pytest
import torch

from netbuilder.api import compile, example, summary, validate
from netbuilder.cli import main
from netbuilder.core.analysis import errors
from netbuilder.core.block_library import add_classic
from netbuilder.core.graph import Graph, GraphError
from netbuilder.core.grouping import group, regroup, ungroup
from netbuilder.core.project import (VERSION, Project, ProjectError, load_project,
                                     parse_project)
from netbuilder.core.shapes import ShapeInference

DATA = Path(__file__).parent / "data"


def conv_block(g: Graph, name="Unit", channels=8) -> Graph:
    d = g.blocks.define(name)
    d.chain(d.add_node("BlockInput", "in"),
            d.add_node("Conv2d", "conv1", {"out_channels": channels, "padding": 1}),
            d.add_node("ReLU", "relu"), d.add_node("BlockOutput", "out"))
    return d


def net(block="Unit", repeat=1, second=True) -> Graph:
    g = Graph()
    conv_block(g, block)
    chain = [g.add_node("Input", "x", {"shape": [3, 8, 8]}),
             g.add_node("Block", "layer1", {"block": block, "repeat": repeat})]
    if second:
        chain.append(g.add_node("Block", "layer2", {"block": block}))
    g.chain(*chain, "Flatten", ("Linear", {"out_features": 4}), "Output")
    return g


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_group_finds_ports_from_cut_wires_and_ungroup_restores_exactly():
    p = example("residual_cnn")
    g = p.graph
    before = g.signature()
    names = ["Conv2d 1", "BatchNorm2d 1", "ReLU 1", "Conv2d 2", "BatchNorm2d 2", "skip add"]
    ref = compile(g, seed=0)
    b = group(g, [g.by_name(n).id for n in names], "Residual", "layer1")
    d = g.blocks["Residual"]
    # one value enters (the stem's ReLU feeds the conv and the skip) -> one port
    assert b.input_ports() == ("in",) and len(g.in_edges(b.id)) == 1
    assert sorted(n.type for n in d.nodes.values() if n.type.startswith("Block")) == \
        ["BlockInput", "BlockOutput"]
    assert not errors(validate(p))
    x = torch.randn(2, 1, 8, 8)
    model = compile(g, seed=0)
    assert n_params(model) == n_params(ref)
    assert "layer1.conv2d_1.weight" in model.state_dict()
    ungroup(g, b.id)
    assert g.signature() == before and len(g.blocks) == 0
    torch.testing.assert_close(compile(g, seed=0)(x), ref(x))


def test_group_refuses_two_outputs_and_io_nodes():
    g = example("residual_cnn").graph
    with pytest.raises(GraphError, match="2 values leave the selection"):
        group(g, [g.by_name("Conv2d 1").id, g.by_name("Conv2d").id])
    with pytest.raises(GraphError, match="inputs and outputs stay outside"):
        group(g, [g.by_name("image").id])


def test_edit_inside_definition_changes_every_instance_incrementally():
    g = net()
    si = ShapeInference(g)
    infos = si.update()
    assert str(infos[g.by_name("layer2").id].output) == "N×8×8×8"
    d = g.blocks["Unit"]
    versions = []
    g.blocks.events.changed.connect(versions.append)
    d.set_param(d.by_name("conv1").id, "out_channels", 5)
    assert versions == ["Unit"]
    infos = si.update()
    assert str(infos[g.by_name("layer1").id].output) == "N×5×8×8"
    assert str(infos[g.by_name("layer2").id].output) == "N×5×8×8"
    # only the two instances and what follows them were re-evaluated, not the Input
    assert si.recomputed == len(g.nodes) - 1 == 5
    assert [i for _, i in g.blocks.instances("Unit")] == [g.by_name("layer1"),
                                                           g.by_name("layer2")]
    # the inverse edit restores the shapes
    d.set_param(d.by_name("conv1").id, "out_channels", 8)
    assert str(si.update()[g.by_name("layer2").id].output) == "N×8×8×8"
    si.close()


def test_inverse_operations_restore_definitions():
    g = net()
    before = g.signature()
    d = g.blocks["Unit"]
    tanh = d.add_node("Tanh", "tanh")
    edge = d.edge_into(d.by_name("out").id, "in")
    d.disconnect(edge)
    d.connect(d.by_name("relu").id, tanh.id)
    d.connect(tanh.id, d.by_name("out").id)
    assert g.signature() != before
    d.remove_node(tanh.id)
    d.connect(edge.src, edge.dst, edge.src_port, edge.dst_port)
    assert g.signature() == before
    removed = g.blocks.remove("Unit")
    assert any("not defined" in p.message for p in validate(g))
    g.blocks.define("Unit", removed)
    assert g.signature() == before and not errors(validate(g))
    g.blocks.rename("Unit", "Conv Unit")
    assert g.by_name("layer1").params["block"] == "Conv Unit"
    g.blocks.rename("Conv Unit", "Unit")
    assert g.signature() == before


def test_repeat_gives_n_copies_with_n_times_the_parameters():
    one, three = compile(net(repeat=1, second=False)), compile(net(repeat=3, second=False))
    block = n_params(one.layer1)
    assert isinstance(three.layer1, torch.nn.Sequential) and len(three.layer1) == 3
    # copy 0 maps 3->8 channels, copies 1 and 2 map 8->8
    assert n_params(three.layer1) == block + 2 * (8 * 8 * 9 + 8)
    assert not torch.equal(three.layer1[1].conv1.weight, three.layer1[2].conv1.weight)
    g = net(repeat=3, second=False)
    rows = summary(g)
    assert [r.params for r in rows if r.name == "layer1"] == [n_params(three.layer1)]


def test_repeat_needs_chaining_ports():
    g = Graph()
    d = g.blocks.define("Pair")
    a, b = d.add_node("BlockInput", "in"), d.add_node("BlockInput", "in2")
    add = d.add_node("Add", "add")
    d.connect(a.id, add.id, dst_port="in1")
    d.connect(b.id, add.id, dst_port="in2")
    d.connect(add.id, d.add_node("BlockOutput", "out").id)
    x = g.add_node("Input", "x", {"shape": [4]})
    blk = g.add_node("Block", "pair", {"block": "Pair", "repeat": 2})
    g.connect(x.id, blk.id, dst_port="in")
    g.connect(x.id, blk.id, dst_port="in2")
    g.connect(blk.id, g.add_node("Output", "y").id)
    msgs = [p.message for p in errors(validate(g))]
    assert any(m.startswith("pair: repeat 2 feeds each copy's output into the next") and
               "block 'Pair' needs exactly one BlockInput and one BlockOutput, but it has 2 "
               "inputs (in, in2) and 1 output (out)" in m for m in msgs), msgs
    g.set_param(blk.id, "repeat", 1)
    assert not errors(validate(g))


def test_nested_blocks_and_paths_in_messages():
    g = Graph()
    conv_block(g, "Inner")
    outer = g.blocks.define("Outer")
    outer.chain(outer.add_node("BlockInput", "in"),
                outer.add_node("Block", "unit", {"block": "Inner", "repeat": 2}),
                outer.add_node("BlockOutput", "out"))
    g.chain(g.add_node("Input", "x", {"shape": [3, 8, 8]}),
            g.add_node("Block", "layer2", {"block": "Outer"}), "Output")
    model = compile(g)
    assert "layer2.unit.1.conv1.weight" in model.state_dict()
    inner = g.blocks["Inner"]
    inner.set_param(inner.by_name("conv1").id, "kernel_size", 20)
    msgs = [p.message for p in errors(validate(g))]
    assert any(m.startswith("layer2 › unit › 0 › conv1: Conv2d cannot take N×3×8×8")
               for m in msgs), msgs
    (problem,) = [p for p in errors(validate(g)) if p.code == "shape"]
    # the place, level by level: instance, copy 0 of Outer, unit, copy 0 of Inner, conv1
    assert problem.path == (g.by_name("layer2").id, 0, g.blocks["Outer"].by_name("unit").id,
                            0, inner.by_name("conv1").id)
    assert [r.name for r in summary(g, depth=None)][1:3] == ["layer2 › unit › 0 › conv1",
                                                             "layer2 › unit › 0 › relu"]


def test_recursion_is_refused_naming_the_cycle():
    g = net()
    conv_block(g, "Other")
    g.blocks["Other"].add_node("Block", "u", {"block": "Unit"})
    with pytest.raises(GraphError, match=r"nest recursively \(Unit › Other › Unit\)"):
        g.blocks["Unit"].add_node("Block", "again", {"block": "Other"})
    with pytest.raises(GraphError, match=r"\(Unit › Unit\)"):
        g.blocks["Unit"].add_node("Block", "self", {"block": "Unit"})
    data = g.to_dict()
    data["blocks"]["Unit"]["nodes"].append({"id": "z", "type": "Block", "name": "loop",
                                            "params": {"block": "Other"}})
    text = Project(graph=Graph()).to_dict()
    text["graph"] = data
    with pytest.raises(ProjectError, match=r"contains itself \(Other › Unit › Other\)|"
                                           r"contains itself \(Unit › Other › Unit\)"):
        parse_project(__import__("json").dumps(text))


def test_save_load_round_trip(tmp_path):
    p = example("small_resnet")
    path = tmp_path / "p.json"
    from netbuilder.core.project import save_project
    save_project(p, path)
    q = load_project(path)
    assert q.graph.signature() == p.graph.signature()
    assert '"version": %d' % VERSION in path.read_text() and VERSION >= 2
    x = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(compile(q, seed=1)(x), compile(p, seed=1)(x))


def test_old_version_file_still_opens():
    p = load_project(DATA / "residual_cnn_v1.json")
    assert '"version": 1' in (DATA / "residual_cnn_v1.json").read_text()
    assert len(p.graph.blocks) == 0 and not errors(validate(p))
    assert p.graph.signature() == example("residual_cnn").graph.signature()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["graph"]["nodes"][1]["params"].update(block="Nope"),
     "graph.nodes[1] (node 'n2' 'layer1'): uses block 'Nope', which is not defined"),
    (lambda d: d["graph"]["blocks"]["Unit"]["nodes"][1].update(type="Conv9d"),
     "graph.blocks['Unit'].nodes[1] (node 'n2' 'conv1'): unknown layer type 'Conv9d'"),
    (lambda d: d["graph"]["edges"][0].update(dst_port="in7"),
     "Block has no input port 'in7' (it has: in)"),
    (lambda d: d["graph"]["blocks"].update({"9 bad": {"nodes": []}}),
     "graph.blocks['9 bad']: a block name must start with a letter"),
    (lambda d: d["graph"]["blocks"]["Unit"]["nodes"].append(
        {"id": "q", "type": "Input", "name": "x", "params": {"shape": [2]}}),
     "a block definition takes values through BlockInput/BlockOutput ports"),
])
def test_invalid_blocks_are_refused_naming_the_place(change, message):
    data = Project(graph=net()).to_dict()
    change(data)
    with pytest.raises(ProjectError) as e:
        parse_project(__import__("json").dumps(data), "f.json")
    assert message in str(e.value)


def test_compiled_state_dict_keys_are_nested():
    model = compile(example("small_resnet"))
    keys = list(model.state_dict())
    assert "layer1.0.conv1.weight" in keys and "layer1.1.bn2.running_mean" in keys
    assert "layer2.downsample_conv.weight" in keys and "fc.weight" in keys
    assert type(model.layer1[0]).__name__ == "BasicBlock"


def test_summary_depth_rows_always_add_up(capsys):
    g = example("small_resnet").graph
    top, full = summary(g), summary(g, depth=None)
    assert [r.name for r in top][:6] == ["image", "conv1", "bn1", "relu", "layer1", "layer2"]
    assert all(r.type != "Block" and not r.type.startswith("block") for r in full)
    assert len([r for r in full if r.name.startswith("layer1 › 1 › ")]) == 7
    model = compile(g)
    assert sum(r.params for r in top) == sum(r.params for r in full) == n_params(model)
    assert main(["summary", "small_resnet"]) == 0
    out = capsys.readouterr().out
    assert "layer1 " in out and "layer1 › 0" not in out and f"parameters: {n_params(model)}" in out
    assert main(["summary", "small_resnet", "--depth", "all"]) == 0
    out = capsys.readouterr().out
    assert "layer1 › 0 › conv1" in out and f"parameters: {n_params(model)}" in out
    assert main(["summary", "small_densenet", "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "denseblock1 › layers" in out and "denseblock1 › layers › 0" not in out


def test_classic_library_blocks_compile():
    shapes = {"vgg": [3, 16, 16], "basic": [64, 8, 8], "bottleneck": [64, 8, 8],
              "dense": [16, 8, 8], "transition": [16, 8, 8], "inception": [16, 8, 8],
              "transformer": [10, 64], "lstm": [10, 8]}
    for kind, shape in shapes.items():
        g = Graph()
        opts = {"downsample": True} if kind == "bottleneck" else {}
        name = add_classic(g.blocks, kind, **opts)
        g.chain(g.add_node("Input", "x", {"shape": shape}),
                g.add_node("Block", "b", {"block": name}), "Output")
        assert not errors(validate(g)), (kind, validate(g))
        y = compile(g)(torch.randn(2, *shape))
        assert y.shape[0] == 2 and torch.isfinite(y).all()
    with pytest.raises(ValueError, match="no option 'size'"):
        add_classic(Graph().blocks, "vgg", size=3)


def test_ungroup_a_shared_repeated_instance_and_regroup_restores_it():
    g = net(repeat=3)
    before = g.signature()
    layer1 = g.by_name("layer1")
    done = ungroup(g, layer1.id)
    assert "Unit" in g.blocks  # layer2 still uses it
    assert sorted(n.name for n in done.nodes) == ["conv1", "conv1 1", "conv1 2", "relu",
                                                   "relu 1", "relu 2"]
    assert not errors(validate(g))
    assert str(summary(g)[-3].output) == "N×512"
    regroup(g, done)
    assert g.signature() == before
    # the last instance: ungroup drops the definition, regroup brings it back
    done = ungroup(g, g.by_name("layer2").id)
    done2 = ungroup(g, g.by_name("layer1").id)
    assert "Unit" not in g.blocks and done2.dropped is not None
    regroup(g, done2)
    regroup(g, done)
    assert g.signature() == before


def test_renaming_an_input_port_rewires_every_instance_and_back():
    g = net()
    d = g.blocks["Unit"]
    port = d.by_name("in")
    d.rename(port.id, "x")
    assert g.by_name("layer1").input_ports() == ("x",)
    assert [e.dst_port for e in g.in_edges(g.by_name("layer2").id)] == ["x"]
    assert not errors(validate(g))
    d.rename(port.id, "in")
    assert [e.dst_port for e in g.in_edges(g.by_name("layer1").id)] == ["in"]


def test_group_inside_an_opened_definition_nests_a_block():
    g = example("small_resnet").graph
    before = g.signature()
    d = g.blocks["Basic Block"]
    x = torch.randn(2, 1, 8, 8)
    ref = compile(g, seed=0)(x)
    inner = group(d, [d.by_name(n).id for n in ("conv1", "bn1", "relu")], "ConvBnRelu",
                  "stem")
    assert g.blocks.uses("Basic Block") == ["ConvBnRelu"]
    keys = compile(g).state_dict()
    assert "layer1.1.stem.conv1.weight" in keys  # every instance of Basic Block follows
    ungroup(d, inner.id)
    assert g.signature() == before
    torch.testing.assert_close(compile(g, seed=0)(x), ref)
