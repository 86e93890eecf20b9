"""Training inside blocks: probes and health badges reach the layers inside block instances
(so an opened block shows them), a NaN inside a block names its layer, and pause-edit-resume
keeps the weights of blocks that did not change."""
import threading

import torch

from netbuilder.api import compile, example
from netbuilder.core.project import parse_project
from netbuilder.training import Trainer
from netbuilder.training.events import Failed, Finished, Paused, ProbeSnapshot
from netbuilder.training.health import HealthMonitor, assess, badges_at
from netbuilder.training.probes import Prober, first_nonfinite
from training_util import small_example


def places(project):
    """name -> place id for the small ResNet's layers used below."""
    g = project.graph
    layer1, layer2 = g.by_name("layer1").id, g.by_name("layer2").id
    basic, down = g.blocks["Basic Block"], g.blocks["Basic Block Down"]
    return {"layer1": layer1, "layer2": layer2,
            "layer1.1.conv1": f"{layer1}/1/{basic.by_name('conv1').id}",
            "layer1.1.relu": f"{layer1}/1/{basic.by_name('relu').id}",
            "layer2.conv2": f"{layer2}/0/{down.by_name('conv2').id}"}


def test_probes_measure_the_layers_inside_block_instances():
    p = example("small_resnet")
    model = compile(p, seed=0)
    x = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    seen = {}
    model.get_submodule("layer1.1.conv1").register_forward_hook(
        lambda m, a, out: seen.__setitem__("conv", out.detach()))
    prober = Prober(model, p.graph, x, every=1)
    model(x).sum().backward()
    prober.before_step()
    with torch.no_grad():
        for q in model.parameters():
            q -= 0.01 * q.grad
    snap = prober.snapshot(0, 0, 1)
    by_id = {lp.node_id: lp for lp in snap.layers}
    at = places(p)
    conv = by_id[at["layer1.1.conv1"]]
    assert conv.name == "layer1 › 1 › conv1" and conv.type == "Conv2d"
    a = seen["conv"]
    assert float(a.min()) <= conv.min <= conv.max <= float(a.max())
    assert conv.feature_maps.shape == tuple(a.shape[1:])
    grad = model.get_submodule("layer1.1.conv1").weight.grad
    assert abs(conv.grad_norm - float(grad.norm())) <= 1e-4 * float(grad.norm())
    assert 0 < conv.update_ratio < 1
    assert by_id[at["layer2.conv2"]].name == "layer2 › conv2"  # no copy number: no repeat
    # a block instance is a layer too: its output, and the norm of all its weights
    layer1 = by_id[at["layer1"]]
    assert layer1.type == "Block" and layer1.name == "layer1"
    weights = [q.detach() for q in model.get_submodule("layer1").parameters()]
    assert abs(layer1.weight_norm - float(torch.sqrt(sum((q ** 2).sum() for q in weights)))) \
        < 1e-3
    # inner layers come before the instance that holds them (forward-hook order)
    order = [lp.node_id for lp in snap.layers]
    assert order.index(at["layer1.1.conv1"]) < order.index(at["layer1"])


def test_health_badges_inside_a_block_and_on_the_closed_block():
    p = example("small_resnet")
    model = compile(p, seed=0)
    at = places(p)
    with torch.no_grad():  # the ReLU after layer1.1's first conv never fires
        model.get_submodule("layer1.1.bn1").bias.fill_(-100.0)
    snap = Prober(model, p.graph, torch.randn(16, 1, 8, 8)).snapshot(0, 0, 0)
    badges, _ = assess(snap)
    ((kind, msg),) = badges[at["layer1.1.relu"]]
    assert kind == "dead_relu" and "layer1 › 1 › relu" in msg
    # the closed block carries it; the other block does not
    assert [k for k, _ in badges[at["layer1"]]] == ["dead_relu"]
    assert "inside this block" in badges[at["layer1"]][0][1]
    assert at["layer2"] not in badges
    # what an editor shows: the top graph, then layer1's copy 1 opened (the definition's ids)
    top = badges_at(badges, [])
    assert set(top) == {at["layer1"]}
    basic = p.graph.blocks["Basic Block"]
    inside = badges_at(badges, [(at["layer1"], 1)])
    assert set(inside) == {basic.by_name("relu").id}
    assert badges_at(badges, [(at["layer1"], 0)]) == {}  # copy 0 is healthy


def test_a_nan_inside_a_block_names_that_layer():
    p = example("small_resnet")
    model = compile(p, seed=0)
    at = places(p)
    with torch.no_grad():
        model.get_submodule("layer2.conv2").weight[0, 0, 0, 0] = float("nan")
    place, where, reason = first_nonfinite(model, p.graph, torch.randn(4, 1, 8, 8))
    assert place == at["layer2.conv2"]
    assert where.startswith("'layer2 › conv2' (Conv2d") and "not finite" in reason
    # a Failed event naming it marks the layer and, closed, its block
    monitor = HealthMonitor()
    monitor.failed(Failed("the loss became NaN at epoch 1. Lower it", 0, 0, place))
    assert [k for k, _ in monitor.badges[at["layer2.conv2"]]] == ["nan"]
    assert [k for k, _ in badges_at(monitor.badges, [])[at["layer2"]]] == ["nan"]


def test_pause_edit_resume_keeps_an_unchanged_blocks_weights():
    p = small_example("small_resnet", epochs=2, batch_size=64)
    parked, snaps, done, asked = threading.Event(), [], [], []

    def on(e):
        if isinstance(e, Paused):
            parked.set()
        elif isinstance(e, ProbeSnapshot):
            snaps.append(e)
        elif isinstance(e, Finished):
            done.append(e)
        elif getattr(e, "step", 0) == 6 and not asked:
            asked.append(trainer.pause())
    trainer = Trainer(parse_project(p.to_json()), callbacks=[on], tensorboard=False,
                      probe_every=5)
    th = threading.Thread(target=trainer.run, daemon=True)
    th.start()
    assert parked.wait(120) and trainer.parked
    model = trainer.model
    layer1 = {k: v.clone() for k, v in model.get_submodule("layer1").state_dict().items()}
    moment = trainer.optimizer.state[model.get_submodule("layer1.1.conv2").weight]["exp_avg"]
    moment = moment.clone()
    edited = parse_project(trainer.project.to_json())
    down = edited.graph.blocks["Basic Block Down"]  # layer2 changes: one more channel group
    down.set_param(down.by_name("conv1").id, "out_channels", 24)
    report = trainer.replace_project(edited)
    at = places(edited)
    assert sum(k.startswith(at["layer1"] + "/") for k in report.kept) == 2 * 4
    assert f"{at['layer2']}/0/{down.by_name('conv1').id}" in report.reinitialised
    new = trainer.model
    assert new is not model and new.get_submodule("layer2.conv1").out_channels == 24
    for k, v in new.get_submodule("layer1").state_dict().items():
        assert torch.equal(v, layer1[k]), k
    weight = new.get_submodule("layer1.1.conv2").weight
    assert torch.equal(trainer.optimizer.state[weight]["exp_avg"], moment)
    trainer.resume()
    th.join(120)
    assert done and done[0].status == "completed"
    # after the swap the probes still reach inside the blocks of the new model
    last = {lp.node_id: lp for lp in snaps[-1].layers}
    assert last[f"{at['layer2']}/0/{down.by_name('conv1').id}"].feature_maps.shape[0] == 24


def test_analysis_messages_inside_blocks_name_the_path():
    """A shape error names the instance path down to the layer, with the copy of a repeat
    where it happens; a wiring problem inside a definition names the definition (it is the
    same in every instance) and says which definition it belongs to."""
    from netbuilder.api import validate
    from netbuilder.core.analysis import errors
    from netbuilder.core.graph import Graph

    g = Graph()
    inner = g.blocks.define("Shrink")
    inner.chain(inner.add_node("BlockInput", "in"),
                inner.add_node("Conv2d", "conv1", {"out_channels": 4, "stride": 2}),
                inner.add_node("BlockOutput", "out"))
    outer = g.blocks.define("Stage")
    outer.chain(outer.add_node("BlockInput", "in"),
                outer.add_node("Block", "unit", {"block": "Shrink", "repeat": 3}),
                outer.add_node("BlockOutput", "out"))
    g.chain(g.add_node("Input", "x", {"shape": [3, 8, 8]}),
            g.add_node("Block", "layer2", {"block": "Stage"}), "Flatten", "Output")
    # 8×8 -> 3×3 -> 1×1: the third copy has nothing left for a 3×3 kernel
    (shape,) = [p for p in errors(validate(g)) if p.code == "shape"]
    assert shape.message.startswith("layer2 › unit › 2 › conv1: Conv2d cannot take N×4×1×1")
    assert shape.path == (g.by_name("layer2").id, 0, outer.by_name("unit").id, 2,
                          inner.by_name("conv1").id)
    relu = inner.add_node("ReLU", "relu")
    inner.connect(inner.by_name("in").id, relu.id)  # its output goes nowhere
    ((warning,),) = [[p for p in validate(g) if p.node_id == relu.id]]
    assert warning.message.startswith("Shrink › relu (ReLU): its output is not used")
    assert warning.block == "Shrink"
